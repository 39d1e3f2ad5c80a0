"""Applying drawn parameters: audio mixing and target mixing. No randomness here."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .._validation import (
    check_audio,
    check_label_smoothing,
    check_lam,
    check_lengths,
    check_num_classes,
    check_perm,
    check_same_device,
)
from ._alignment import lengths_to_mask
from ._mix_lengths import mix_lengths_autograd, mix_lengths_blocks, sum_is_finite

# On CPU, partners are gathered straight into the output one block of about this many bytes at a
# time, and each block is interpolated in place while it is still in cache: no temporary. Measured
# with benchmarks/bench.py (2 cores, 1 MiB L2 each, 32 MiB L3): 1-16 MiB blocks cost the same
# for batches that fit the L3, 4-16 MiB beat one whole-batch pass for bigger ones, and every
# block is a parallel region whose barrier stalls when cores are shared, so blocks are large.
_BLOCK_BYTES = 8 << 20


def _weights(lam: Tensor | float, batch_size: int, ndim: int, like: Tensor) -> Tensor | float:
    """lam as a float or a (batch, 1, ..., 1) tensor in the dtype and device of ``like``."""
    if not isinstance(lam, Tensor):
        return float(lam)
    if lam.ndim == 0:
        lam = lam.expand(batch_size)
    return lam.to(device=like.device, dtype=like.dtype).view(batch_size, *([1] * (ndim - 1)))


def _lerp_rows(
    x: Tensor, lam: Tensor | float, perm: Tensor, out: Tensor | None, check: bool
) -> tuple[Tensor, bool]:
    """out[i] = lerp(x[perm[i]], x[i], lam[i]), one pass over memory per block on CPU.

    With ``check``, each output block is summed while it is still in cache; returns the output
    and whether every checked sum was finite.
    """
    b = x.shape[0]
    x2 = x.reshape(b, -1)
    if out is None:
        out = torch.empty_like(x, memory_format=torch.contiguous_format)
    out2 = out.view(b, -1)
    w = _weights(lam, b, 2, x2)
    n = x2.shape[1]
    row_bytes = n * x2.element_size()
    finite = True
    if x.device.type != "cpu" or b * row_bytes <= _BLOCK_BYTES:
        # lerp(start, end, w) = start + w * (end - start): w = 1 returns end (x) exactly.
        # In place on the gathered partners: the same arithmetic as torch.lerp(x[perm], x, w).
        torch.index_select(x2, 0, perm, out=out2)
        out2.lerp_(x2, w)
        return out, (not check) or sum_is_finite(out2)
    if row_bytes <= _BLOCK_BYTES:
        rows = _BLOCK_BYTES // row_bytes
        ws = [w] * ((b + rows - 1) // rows) if isinstance(w, float) else w.split(rows)
        blocks = zip(out2.split(rows), x2.split(rows), perm.split(rows), ws, strict=True)
        for o, xs, p, wr in blocks:
            torch.index_select(x2, 0, p, out=o)
            o.lerp_(xs, wr)
            if check and finite:
                finite = sum_is_finite(o)
        return out, finite
    # Rows longer than a block (minutes of audio): each row in column blocks.
    cols = max(1, _BLOCK_BYTES // x2.element_size())
    for i, j in enumerate(perm.tolist()):
        wr = w if isinstance(w, float) else w[i]
        for c0 in range(0, n, cols):
            o = out2[i, c0 : c0 + cols]
            o.copy_(x2[j, c0 : c0 + cols])
            o.lerp_(x2[i, c0 : c0 + cols], wr)
            if check and finite:
                finite = sum_is_finite(o)
    return out, finite


def shifted_partners(
    x3: Tensor, shift: Tensor, lengths: Tensor, fill: Tensor, rows: Tensor | None = None
) -> Tensor:
    """Row ``rows[i]`` of ``x3`` (default: row i) with its valid samples moved right by
    ``shift[i]`` (negative: left); ``fill[rows[i]]`` wherever no valid sample lands."""
    lo, hi = torch.stack(shift.aminmax()).tolist()
    left, right = max(int(hi), 0), max(-int(lo), 0)
    windows = _windows(x3, lengths, fill, left, right)
    if rows is None:
        rows = torch.arange(x3.shape[0], device=x3.device)
    return windows[rows, :, left - shift]


def _windows(x3: Tensor, lengths: Tensor, fill: Tensor, left: int, right: int) -> Tensor:
    """A (batch, channels, left + right + 1, time) view: ``[i, :, left - s]`` is row i shifted
    right by s (in [-right, left]), its padding and everything outside it ``fill[i]``.

    One padded copy of the batch serves every shift: rows shift by indexing a window of it,
    with no per-sample position index (a gather through one was 5-10x slower).
    """
    b, c, t = x3.shape
    f = fill.view(b, 1, 1).to(x3.dtype)
    buf = x3.new_empty(b, c, left + t + right)
    buf[..., :left] = f
    buf[..., left + t :] = f
    valid = lengths_to_mask(lengths, t).unsqueeze(1)
    buf[..., left : left + t] = torch.where(valid, x3, f)
    return buf.unfold(2, t, 1)


def mix(
    x: Tensor,
    lam: Tensor | float,
    perm: Tensor,
    *,
    lengths: Tensor | None = None,
    offsets: Tensor | None = None,
    fill: Tensor | float = 0.0,
    out: Tensor | None = None,
    validate: bool = True,
    check_finite: bool = False,
    name: str = "x",
) -> Tensor:
    r"""Mixes each sample with its partner: ``lam * x + (1 - lam) * x[perm]``.

    The pure half of mixup: all randomness (``lam``, ``perm``, ``offsets``) comes in as
    arguments. The input is never modified.

    Without ``lengths`` every position is mixed as it is. With ``lengths`` (the valid lengths
    of a right-padded batch), the mix of a clip of length ``a`` with a partner of length ``b``
    is valid over ``max(a, b)`` (see :func:`mix_lengths`): the shorter clip is placed
    ``offsets[i]`` positions into the longer one, and wherever a clip has no valid sample it
    contributes ``fill`` (silence) instead of whatever its padding held. Positions beyond
    ``max(a, b)`` are ``fill``. Sizes come from the shapes, never from the values of
    ``lengths`` or ``offsets``, so with ``validate=False`` a GPU call does not wait for the
    device.

    ``check_finite=True`` checks each output block while it is still in cache instead of
    scanning the input first: a NaN or ±Inf in a sample's valid region reaches that sample's
    own output whatever its weight (``lerp`` keeps it for every λ in [0, 1], 0 and 1
    included), and padding is replaced by ``fill`` before it is read. A non-finite output is
    confirmed against the input before raising, so a finite input whose mix overflows (values
    of opposite signs near the largest of the dtype, e.g. ±3e38 in float32 or bfloat16; float16
    is interpolated in float32 and cannot overflow) is not reported: the check is about the
    input, and such a result holds ±Inf exactly as with ``check_finite=False``.

    Args:
        x (Tensor): (batch, ..., time), floating point.
        lam (Tensor or float): weight of each sample itself, a scalar or (batch,), in [0, 1].
        perm (Tensor): (batch,) int64 partner indices.
        lengths (Tensor or None, optional): (batch,) valid lengths along the last dimension.
        offsets (Tensor or None, optional): (batch,) start of the shorter clip of each pair
            inside the longer one (see :func:`sample_offsets`). (Default: all 0)
        fill (Tensor or float, optional): silence value, a scalar or (batch,) per clip (e.g.
            the floor of a dB spectrogram). Used only with ``lengths``. (Default: ``0.0``)
        out (Tensor or None, optional): output tensor, contiguous, shaped like ``x``; must not
            be ``x`` itself.
        validate (bool, optional): check ``lam``, ``perm``, ``lengths`` and ``offsets`` values
            (costs a device synchronisation on GPU). (Default: ``True``)
        check_finite (bool, optional): raise ``ValueError`` if ``x`` holds NaN or Inf in its
            valid region. (Default: ``False``)
        name (str, optional): what ``x`` is called in error messages, e.g. ``"waveform"``.
            (Default: ``"x"``)

    Returns:
        Tensor: (batch, ..., time), the mixed batch, same dtype as ``x``.

    Example:
        >>> x = torch.randn(4, 16000)
        >>> y = mix(x, torch.tensor([1.0, 0.5, 0.5, 0.0]), torch.tensor([1, 0, 3, 2]))
        >>> torch.equal(y[0], x[0]) and torch.equal(y[3], x[2])
        True
    """
    layout = "(batch, ..., time)"
    check_audio(x, name, min_ndim=1, layout=layout, check_finite=False)
    b = x.shape[0]
    if validate:
        check_lam(lam, b)
        check_perm(perm, b)
    perm = perm.to(device=x.device, dtype=torch.int64)
    if out is not None:
        if out.shape != x.shape or out.dtype != x.dtype or not out.is_contiguous():
            raise ValueError(
                f"`out` must be a contiguous tensor of shape {tuple(x.shape)} and dtype "
                f"{x.dtype}, but got {tuple(out.shape)}, {out.dtype}."
            )
        if out.data_ptr() == x.data_ptr():
            raise ValueError(
                f"`out` must not share memory with `{name}`: partners would be overwritten."
            )
    grad = (
        out is None
        and torch.is_grad_enabled()
        and (x.requires_grad or (isinstance(lam, Tensor) and lam.requires_grad))
    )
    if lengths is None:
        if grad:
            # The fast path writes through out=, which autograd refuses; mixing hidden
            # features (manifold mixup) needs gradients, so take the out-of-place lerp.
            result = torch.lerp(x.index_select(0, perm), x, _weights(lam, b, x.ndim, x))
            finite = (not check_finite) or sum_is_finite(result.detach())
        else:
            result, finite = _lerp_rows(x, lam, perm, out, check_finite)
    else:
        lengths, offsets = _check_placement(x, perm, lengths, offsets, validate)
        fill_t = torch.as_tensor(fill, dtype=x.dtype, device=x.device).expand(b)
        w = _weights(lam, b, 1, x)
        if grad:
            result = mix_lengths_autograd(x, w, perm, lengths, offsets, fill_t)
            finite = (not check_finite) or sum_is_finite(result.detach())
        else:
            zero_fill = not isinstance(fill, Tensor) and fill == 0 and math.copysign(1, fill) > 0
            result, finite = mix_lengths_blocks(
                x, w, perm, lengths, offsets, fill_t, zero_fill, out, check_finite
            )
    if not finite:
        raise_if_not_finite(x, lengths, name)
    return result


def _check_placement(
    x: Tensor, perm: Tensor, lengths: Tensor, offsets: Tensor | None, validate: bool
) -> tuple[Tensor, Tensor | None]:
    """lengths and offsets on the device of ``x`` as int64, checked if asked; offsets that
    place every pair at the start become ``None`` when that is free to know (CPU)."""
    b, t = x.shape[0], x.shape[-1]
    if validate:
        check_lengths(lengths, b, t)
    lengths = lengths.to(device=x.device, dtype=torch.int64)
    if offsets is None:
        return lengths, None
    offsets = offsets.to(device=x.device, dtype=torch.int64)
    if offsets.shape != (b,):
        raise ValueError(f"`offsets` must have shape ({b},), but got {tuple(offsets.shape)}.")
    if validate:
        gap = (lengths - lengths[perm]).abs()
        if bool(((offsets < 0) | (offsets > gap)).any()):
            raise ValueError(
                "`offsets` must lie in [0, |lengths - lengths[perm]|]: the shorter clip must "
                "fit inside the longer one."
            )
    if x.device.type == "cpu" and not bool(offsets.any()):
        return lengths, None
    return lengths, offsets


def raise_if_not_finite(x: Tensor, lengths: Tensor | None, name: str) -> None:
    """Raises if ``x`` holds NaN or ±Inf (in its valid region with ``lengths``): the scan the
    fused check confirms with, and the modules' separate scan where the mix cannot see them."""
    x = x.detach()
    where = ""
    if lengths is not None:
        t = x.shape[-1]
        valid = lengths_to_mask(lengths, t).view(x.shape[0], *[1] * (x.ndim - 2), t)
        x = torch.where(valid, x, 0)
        where = " in its valid region"
    lo, hi = torch.aminmax(x)
    if not (math.isfinite(float(lo)) and math.isfinite(float(hi))):
        raise ValueError(
            f"`{name}` contains NaN or Inf values{where}. Clean the input, or pass "
            "`check_finite=False` to mix it anyway."
        )


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
    multi-hot 0/1 (or soft in [0, 1]) targets (batch, num_classes).

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
    if labels.ndim != 2:
        raise ValueError(
            "`labels` must be class indices (batch,) or targets (batch, num_classes), but got "
            f"shape {tuple(labels.shape)}."
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
        lo, hi = float(targets.min()), float(targets.max())
        if lo < 0.0 or hi > 1.0:
            raise ValueError(f"`labels` must lie in [0, 1], but got values in [{lo}, {hi}].")
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
        labels (Tensor): class indices (batch,), or targets (batch, num_classes).
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
    w = _weights(lam_t, b, 2, targets)
    return torch.lerp(partner, targets, w)


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
