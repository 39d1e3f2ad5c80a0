"""Symmetric label noise for the training split: :func:`corrupt_labels`."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from .layout import check_positive_int

__all__ = ["corrupt_labels"]


def corrupt_labels(
    labels: Tensor | Sequence[int],
    rate: float,
    num_classes: int,
    *,
    generator: torch.Generator | int | None = None,
) -> Tensor:
    """Symmetric label noise: a fixed share of labels moved to a different, uniform class.

    Exactly ``floor(rate * N + 0.5)`` of the ``N`` labels (chosen uniformly without replacement)
    are changed, each to one of the other ``num_classes - 1`` classes with equal probability; the
    rest are kept. So the measured flip rate is ``rate`` up to rounding, unlike the variant that
    redraws from all classes (which flips only ``rate * (num_classes - 1) / num_classes``).

    Args:
        labels (Tensor or sequence of int): ``(N,)`` class indices in ``[0, num_classes)``.
        rate (float): share of labels to change, in [0, 1].
        num_classes (int): number of classes, >= 2 when ``rate > 0``.
        generator (torch.Generator, int or None): source of randomness, or a seed for a fresh
            CPU generator; None uses torch's default. (Default: ``None``)

    Returns:
        Tensor: ``(N,)`` int64 noisy labels, a new tensor (``labels`` is not modified).

    Example:
        >>> noisy = corrupt_labels(torch.arange(10) % 3, 0.3, 3, generator=0)
        >>> int((noisy != torch.arange(10) % 3).sum())
        3
    """
    labels = torch.as_tensor(labels)
    if labels.numel() == 0:
        labels = labels.long()  # torch reads [] as float32
    if labels.ndim != 1:
        raise ValueError(f"`labels` must be 1-D (N,), but got shape {tuple(labels.shape)}.")
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise TypeError(
            f"`labels` must hold class indices (integers), but got dtype {labels.dtype}."
        )
    if not isinstance(rate, (int, float)) or not 0.0 <= rate <= 1.0:
        raise ValueError(f"`rate` must be in [0, 1], but got {rate!r}.")
    check_positive_int("num_classes", num_classes)
    if labels.numel() and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"`labels` must be in [0, num_classes) = [0, {num_classes}), but got values in "
            f"[{int(labels.min())}, {int(labels.max())}]."
        )
    count = math.floor(rate * labels.numel() + 0.5)
    if count and num_classes < 2:
        raise ValueError(f"`num_classes` must be >= 2 to change labels, but got {num_classes}.")
    if isinstance(generator, int) and not isinstance(generator, bool):
        generator = torch.Generator().manual_seed(generator)
    elif generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(
            "`generator` must be a torch.Generator, an int seed or None, but got "
            f"{type(generator).__name__}."
        )
    device = generator.device if generator is not None else "cpu"
    noisy = labels.to(torch.long).clone()
    chosen = torch.randperm(labels.numel(), generator=generator, device=device)[:count]
    # Adding 1..num_classes-1 modulo num_classes reaches every other class exactly once.
    step = torch.randint(1, max(num_classes, 2), (count,), generator=generator, device=device)
    chosen, step = chosen.to(noisy.device), step.to(noisy.device)
    noisy[chosen] = (noisy[chosen] + step) % num_classes
    return noisy
