"""Targets of mixed audio: class indices, soft or multi-hot targets, mixed as the audio was."""

from __future__ import annotations

import torch
from torch import Tensor

from .._validation import check_label_smoothing, check_lam, check_num_classes, check_perm
from ._frame_targets import prepare_frame_targets
from ._kernels import broadcast_weights


def _smooth(targets: Tensor, eps: float, num_classes: int, multilabel: bool) -> Tensor:
    if eps == 0.0:
        return targets
    off = eps / 2.0 if multilabel else eps / num_classes
    return targets * (1.0 - eps) + off


def prepare_targets(
    labels: Tensor,
    *,
    num_classes: int | None = None,
    label_smoothing: float = 0.0,
    multilabel: bool = False,
    dtype: torch.dtype = torch.float32,
    validate: bool = True,
) -> Tensor:
    """Turns labels into float targets of shape (batch, num_classes), smoothed if asked.

    Accepts class indices (batch,) of an integer dtype (``num_classes`` required), one-hot or
    soft targets (batch, num_classes) whose rows sum to 1, or, with ``multilabel=True``,
    multi-hot 0/1 (or soft in [0, 1]) targets (batch, num_classes). Frame targets
    (batch, frames, classes) go through :func:`prepare_frame_targets`.

    Label smoothing: single-label rows become ``(1 - eps) * y + eps / num_classes``;
    multi-label entries become ``(1 - eps) * y + eps / 2``.

    Returns:
        Tensor: (batch, num_classes), ``dtype`` for class indices, else the targets' own
        floating dtype.
    """
    num_classes = check_num_classes(num_classes)
    eps = check_label_smoothing(label_smoothing)
    if not isinstance(labels, Tensor):
        raise TypeError(f"`labels` must be a torch.Tensor, but got {type(labels).__name__}.")
    if labels.ndim in (1, 2) and labels.shape[0] == 0:
        raise ValueError(
            f"`labels` is empty: shape {tuple(labels.shape)}. A batch needs at least one sample."
        )
    if labels.ndim == 1:
        if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
            raise TypeError(
                f"`labels` of shape (batch,) are class indices and need an integer dtype, but "
                f"got {labels.dtype}. Pass soft targets as (batch, num_classes)."
            )
        if multilabel:
            raise ValueError(
                "`multilabel=True` needs multi-hot `labels` of shape (batch, num_classes), but "
                f"got class indices of shape {tuple(labels.shape)}."
            )
        if num_classes is None:
            raise ValueError("labels are class indices, so `num_classes` is required.")
        if validate and labels.numel():
            lo, hi = int(labels.min()), int(labels.max())
            if lo < 0 or hi >= num_classes:
                raise ValueError(
                    f"`labels` must be class indices in [0, {num_classes - 1}], but got values "
                    f"in [{lo}, {hi}]."
                )
        targets = torch.nn.functional.one_hot(labels.long(), num_classes).to(dtype)
        return _smooth(targets, eps, num_classes, multilabel=False)
    if labels.ndim == 3:
        return prepare_frame_targets(
            labels,
            num_classes=num_classes,
            label_smoothing=eps,
            multilabel=multilabel,
            dtype=dtype,
            validate=validate,
        )
    if labels.ndim != 2:
        raise ValueError(
            "`labels` must be class indices (batch,), targets (batch, num_classes) or frame "
            f"targets (batch, frames, classes), but got shape {tuple(labels.shape)}."
        )
    c = labels.shape[1]
    if num_classes is not None and c != num_classes:
        raise ValueError(
            f"`labels` have {c} classes but `num_classes` is {num_classes}: shape "
            f"{tuple(labels.shape)}."
        )
    targets = labels if labels.is_floating_point() else labels.to(dtype)
    if validate and targets.numel():
        if not bool(torch.isfinite(targets).all()):
            raise ValueError("`labels` contain NaN or Inf values.")
        low, high = float(targets.min()), float(targets.max())
        if low < 0.0 or high > 1.0:
            raise ValueError(f"`labels` must lie in [0, 1], but got values in [{low}, {high}].")
        if not multilabel:
            sums = targets.double().sum(dim=1)
            tol = 1e-2 if targets.dtype in (torch.float16, torch.bfloat16) else 1e-4
            if not bool(((sums - 1.0).abs() <= tol).all()):
                bad = float(sums[((sums - 1.0).abs() > tol).nonzero()[0, 0]])
                raise ValueError(
                    "single-label `labels` must have rows that sum to 1, but a row sums to "
                    f"{bad:.4g}; pass `multilabel=True` for multi-hot targets."
                )
    return _smooth(targets, eps, c, multilabel)


def mix_targets(
    labels: Tensor,
    lam: Tensor | float,
    perm: Tensor,
    *,
    num_classes: int | None = None,
    label_smoothing: float = 0.0,
    multilabel: bool = False,
    union: bool = False,
    dtype: torch.dtype = torch.float32,
    validate: bool = True,
) -> Tensor:
    """Mixes targets as the audio was mixed: ``lam * y + (1 - lam) * y[perm]``.

    Labels are first brought to (batch, num_classes) float targets by
    :func:`prepare_targets` (one-hot, then label smoothing), then mixed. For multi-label
    targets, ``union=True`` takes the element-wise maximum of the pair instead, so that a class
    present in either clip is present in the mix.

    Args:
        labels (Tensor): class indices (batch,), targets (batch, num_classes) or frame
            targets (batch, frames, classes), mixed frame by frame as they are (for frames
            moved by a placement or a cut, see :func:`mix_frames`).
        lam (Tensor or float): scalar or (batch,) weights in [0, 1].
        perm (Tensor): (batch,) partner indices.
        num_classes (int or None, optional): required for class indices.
        label_smoothing (float, optional): in [0, 1), applied before mixing. (Default: ``0``)
        multilabel (bool, optional): targets are multi-hot. (Default: ``False``)
        union (bool, optional): multi-label only: max instead of weighted mean.
        dtype (torch.dtype, optional): target dtype for class indices. (Default: float32)
        validate (bool, optional): check label values (a host sync on GPU). (Default: ``True``)

    Returns:
        Tensor: (batch, num_classes) mixed targets. Single-label rows sum to 1 and have at most
        two non-zero entries before smoothing.

    Example:
        >>> y = mix_targets(torch.tensor([0, 2]), 0.7, torch.tensor([1, 0]), num_classes=3)
        >>> y
        tensor([[0.7000, 0.0000, 0.3000],
                [0.3000, 0.0000, 0.7000]])
    """
    if union and not multilabel:
        raise ValueError("`union=True` is for multi-label targets; pass `multilabel=True` too.")
    targets = prepare_targets(
        labels,
        num_classes=num_classes,
        label_smoothing=label_smoothing,
        multilabel=multilabel,
        dtype=dtype,
        validate=validate,
    )
    b = targets.shape[0]
    if validate:
        check_lam(lam, b)
        check_perm(perm, b)
    perm = perm.to(device=targets.device, dtype=torch.int64)
    partner = targets.index_select(0, perm)
    if union:
        return torch.maximum(targets, partner)
    lam_t = lam.to(device=targets.device, dtype=targets.dtype) if isinstance(lam, Tensor) else lam
    w = broadcast_weights(lam_t, b, targets.ndim, targets)
    return torch.lerp(partner, targets, w)
