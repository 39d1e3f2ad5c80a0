"""The pure half of mixup on audio: ``lam * x + (1 - lam) * x[perm]``, length-aware."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .._validation import check_audio, check_lam, check_lengths, check_perm
from ._alignment import lengths_to_mask
from ._kernels import (
    broadcast_weights,
    lerp_rows,
    masked_mix_autograd,
    masked_mix_blocks,
    sum_is_finite,
)


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
            result = torch.lerp(x.index_select(0, perm), x, broadcast_weights(lam, b, x.ndim, x))
            finite = (not check_finite) or sum_is_finite(result.detach())
        else:
            result, finite = lerp_rows(x, lam, perm, out, check_finite)
    else:
        lengths, offsets = _check_placement(x, perm, lengths, offsets, validate)
        fill_t = torch.as_tensor(fill, dtype=x.dtype, device=x.device).expand(b)
        w = broadcast_weights(lam, b, 1, x)
        if grad:
            result = masked_mix_autograd(x, w, perm, lengths, offsets, fill_t)
            finite = (not check_finite) or sum_is_finite(result.detach())
        else:
            zero_fill = not isinstance(fill, Tensor) and fill == 0 and math.copysign(1, fill) > 0
            result, finite = masked_mix_blocks(
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
