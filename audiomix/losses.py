"""Losses for mixed targets."""

from __future__ import annotations

from torch import Tensor, nn

from .functional._losses import soft_target_cross_entropy

__all__ = ["SoftTargetCrossEntropy"]


class SoftTargetCrossEntropy(nn.Module):
    """Cross-entropy against soft targets (batch, num_classes), as produced by mixup.

    Equals ``λ·CE(logits, y_a) + (1−λ)·CE(logits, y_b)`` on mixed targets. For multi-label
    targets use ``torch.nn.BCEWithLogitsLoss``, which takes soft targets as they are.

    Args:
        reduction (str, optional): ``"mean"``, ``"sum"`` or ``"none"``. (Default: ``"mean"``)

    Example:
        >>> loss = SoftTargetCrossEntropy()
        >>> loss(torch.zeros(2, 4), torch.full((2, 4), 0.25))
        tensor(1.3863)
    """

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(
                f"`reduction` must be one of 'mean', 'sum', 'none', but got {reduction!r}."
            )
        self.reduction = reduction

    def forward(self, logits: Tensor, targets: Tensor) -> Tensor:
        """
        Args:
            logits (Tensor): (batch, num_classes).
            targets (Tensor): (batch, num_classes).

        Returns:
            Tensor: scalar, or (batch,) with ``reduction="none"``.
        """
        return soft_target_cross_entropy(logits, targets, reduction=self.reduction)
