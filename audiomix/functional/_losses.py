"""Losses for mixed targets."""

from __future__ import annotations

import torch
from torch import Tensor

from .._validation import check_same_device


def soft_target_cross_entropy(
    logits: Tensor, targets: Tensor, *, reduction: str = "mean"
) -> Tensor:
    """Cross-entropy against soft targets: ``-(targets * log_softmax(logits)).sum(-1)``.

    On mixed targets this equals ``lam * CE(logits, y_a) + (1 - lam) * CE(logits, y_b)``.

    Args:
        logits (Tensor): (batch, num_classes).
        targets (Tensor): (batch, num_classes), rows summing to 1.
        reduction (str, optional): ``"mean"``, ``"sum"`` or ``"none"``. (Default: ``"mean"``)

    Returns:
        Tensor: scalar, or (batch,) with ``reduction="none"``.
    """
    if logits.shape != targets.shape or logits.ndim != 2:
        raise ValueError(
            "`logits` and `targets` must both have shape (batch, num_classes), but got "
            f"{tuple(logits.shape)} and {tuple(targets.shape)}."
        )
    check_same_device(logits, targets, "logits", "targets")
    loss = -(targets.to(logits.dtype) * torch.log_softmax(logits, dim=-1)).sum(dim=-1)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"`reduction` must be one of 'mean', 'sum', 'none', but got {reduction!r}.")
