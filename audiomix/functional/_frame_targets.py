"""Frame targets as labels: their layout, dtype, values and smoothing checked once, and which
rows of a mix keep valid frame labels.

:func:`prepare_frame_targets` turns (batch, frames, classes) targets (or (batch, classes,
frames) ones) into the float tensor the mixers mix; :func:`mix_strong_flags` tells which
mixed rows still have frame labels when weakly labelled clips (events without times) are in
the batch.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .._validation import check_label_smoothing, check_num_classes


def prepare_frame_targets(
    labels: Tensor,
    *,
    num_classes: int | None = None,
    label_smoothing: float = 0.0,
    multilabel: bool = False,
    frames_last: bool = False,
    dtype: torch.dtype = torch.float32,
    validate: bool = True,
) -> Tensor:
    """Frame targets as float (batch, frames, classes), smoothed if asked.

    Args:
        labels (Tensor): (batch, frames, classes) 0/1 or soft values in [0, 1]; with
            ``frames_last=True``, (batch, classes, frames).
        num_classes (int or None, optional): checked against the classes if given.
        label_smoothing (float, optional): in [0, 1); multi-label entries become
            ``(1 - eps)·y + eps/2``, single-label frames ``(1 - eps)·y + eps/classes``.
            (Default: ``0``)
        multilabel (bool, optional): classes may overlap in a frame (sound event detection);
            otherwise each frame sums to 1, or to 0 where nothing is labelled.
            (Default: ``False``)
        frames_last (bool, optional): ``labels`` are (batch, classes, frames).
            (Default: ``False``)
        dtype (torch.dtype, optional): for integer or bool labels. (Default: float32)
        validate (bool, optional): check the values. (Default: ``True``)

    Returns:
        Tensor: (batch, frames, classes); ``labels`` itself when nothing needs changing.
    """
    num_classes = check_num_classes(num_classes)
    eps = check_label_smoothing(label_smoothing)
    if not isinstance(labels, Tensor) or labels.ndim != 3:
        got = f"shape {tuple(labels.shape)}" if isinstance(labels, Tensor) else type(labels)
        raise ValueError(f"frame targets must be (batch, frames, classes), but got {got}.")
    y = labels.transpose(1, 2) if frames_last else labels
    c = y.shape[2]
    if num_classes is not None and c != num_classes:
        layout = "(batch, classes, frames)" if frames_last else "(batch, frames, classes)"
        raise ValueError(
            f"frame targets {layout} of shape {tuple(labels.shape)} have {c} classes, but "
            f"`num_classes` is {num_classes}."
            + ("" if frames_last else " For (batch, classes, frames), pass `frames_last=True`.")
        )
    if not y.is_floating_point():
        y = y.to(dtype)
    if validate and y.numel():
        lo_t, hi_t = torch.aminmax(y)  # NaN and ±Inf show in the extremes: one pass
        lo, hi = float(lo_t), float(hi_t)
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise ValueError("frame targets contain NaN or Inf values.")
        if lo < 0.0 or hi > 1.0:
            raise ValueError(f"frame targets must lie in [0, 1], but got values in [{lo}, {hi}].")
        if not multilabel:
            sums = y.double().sum(dim=2)
            tol = 1e-2 if y.dtype in (torch.float16, torch.bfloat16) else 1e-4
            bad = ((sums - 1.0).abs() > tol) & (sums.abs() > tol)
            if bool(bad.any()):
                raise ValueError(
                    "single-label frame targets must have frames that sum to 1 (or 0 where "
                    f"nothing is labelled), but a frame sums to {float(sums[bad][0]):.4g}; pass "
                    "`multilabel=True` for overlapping events."
                )
    if eps:
        off = eps / 2.0 if multilabel else eps / c
        y = y * (1.0 - eps) + off
    return y


def mix_strong_flags(strong: Tensor, lam: Tensor, perm: Tensor) -> Tensor:
    """Which mixed rows still have valid frame labels: every clip with a weight in the mix
    has them (a weak clip's events have no times, so a mix that contains one has none either).

    Args:
        strong (Tensor): (batch,) bool, rows whose frame labels are valid.
        lam (Tensor): (batch,) weight each row's own clip got (``last_params.lam``).
        perm (Tensor): (batch,) partners.

    Returns:
        Tensor: (batch,) bool.

    Example:
        >>> mix_strong_flags(torch.tensor([True, False, True, True]),
        ...                  torch.tensor([0.6, 0.6, 1.0, 0.0]), torch.tensor([2, 0, 0, 1]))
        tensor([ True, False,  True, False])
    """
    strong = strong.to(torch.bool)
    dev = strong.device
    lam, perm = lam.to(dev), perm.to(device=dev, dtype=torch.int64)
    own_ok = strong | (lam == 0)
    partner_ok = strong.index_select(0, perm) | (lam == 1)
    return own_ok & partner_ok
