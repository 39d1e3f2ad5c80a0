"""CutMix for audio: a band (time or frequency) or a time-frequency box of the partner pasted.

The weight of the sample in the targets is the fraction of its valid area that is still its
own, computed from the box actually pasted (boxes are clipped to where the partner has
content, so padding is never pasted).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import torch
from torch import Tensor

from .._validation import check_audio, check_choice, check_fade, check_lam
from ._kernels import shifted_partners
from ._pairs import as_batch, check_pairs, is_self
from ._params import CutMixParams, extend_params
from ._sampling import PairingOptions, sample_mix_params

if TYPE_CHECKING:
    from typing_extensions import Unpack

CUT_MODES = ("time", "freq", "box")


class CutBoxes(NamedTuple):
    """What :func:`cutmix` pasted, per sample (``cutmix(..., return_boxes=True)``).

    The replaced region of output ``i`` is ``[time_start[i], time_end[i])`` along time times
    ``[freq_start[i], freq_end[i])`` along frequency, taken from its partner shifted by
    ``shift[i]``. All fields are (batch,) tensors on the input's device.

    Attributes:
        time_start, time_end (Tensor): int64 replaced frames (or samples).
        freq_start, freq_end (Tensor or None): int64 replaced bins; ``None`` for time bands,
            which span every bin.
        shift (Tensor): int64; the partner's sample at output position t is its t - shift.
        kept (Tensor): float32 fraction of the valid area still the sample's own (fades
            counted by their weights): the weight of the sample itself in the targets.
    """

    time_start: Tensor
    time_end: Tensor
    freq_start: Tensor | None  # None for time bands, which span every bin
    freq_end: Tensor | None
    shift: Tensor  # partner sample at output position t is partner[t - shift]
    kept: Tensor  # (batch,) fraction of the valid area still the sample's own


def sample_cutmix_params(
    batch_size: int, *, alpha: float, **pairing: Unpack[PairingOptions]
) -> CutMixParams:
    """Draws λ, partners and offsets (:func:`sample_mix_params`), then box centres.

    Args:
        batch_size (int): number of samples.
        alpha (float): Beta(alpha, alpha) concentration, > 0.
        **pairing: ``p``, ``per_sample``, ``lengths``, ``placement``, ``partner``, ``labels``,
            ``multilabel``, ``perm`` and ``generator``, as in :func:`sample_mix_params`.

    Returns:
        CutMixParams: on the CPU; one centre per sample even when λ is shared.
    """
    base = sample_mix_params(batch_size, alpha=alpha, **pairing)
    generator = pairing.get("generator")
    centers = torch.rand(2, batch_size, generator=generator, dtype=torch.float64)
    return extend_params(base, CutMixParams, time_center=centers[0], freq_center=centers[1])


def _cut_boxes(
    lam: Tensor,
    perm: Tensor,
    time_center: Tensor,
    freq_center: Tensor | None,
    *,
    mode: str,
    num_frames: int,
    num_freqs: int,
    lengths: Tensor | None,
    offsets: Tensor | None,
) -> CutBoxes:
    device = perm.device
    b = perm.shape[0]
    full = torch.full((b,), num_frames, dtype=torch.int64, device=device)
    own = full if lengths is None else lengths.to(device=device, dtype=torch.int64)
    other = own[perm]
    off = torch.zeros_like(own) if offsets is None else offsets.to(device=device, dtype=torch.int64)
    # Where partner content exists in the sample's own time frame: the partner placed at
    # `off` inside a longer sample, or the sample placed at `off` inside a longer partner.
    self_shorter = own < other
    ov_start = torch.where(self_shorter, 0, off)
    ov_len = torch.minimum(own, other)
    ov_end = ov_start + ov_len
    shift = torch.where(self_shorter, -off, off)

    lam64 = lam.to(device=device, dtype=torch.float64).expand(b)
    cut = 1.0 - lam64
    # A box cuts sqrt(1 - λ) of each side so that its area is 1 - λ; a band cuts 1 - λ.
    side = cut.sqrt() if mode == "box" else cut
    if mode in ("time", "box"):
        width = torch.round(side * own.double()).to(torch.int64)
        tc = time_center.to(device=device, dtype=torch.float64)
        center = ov_start + torch.floor(tc * ov_len.double()).to(torch.int64)
        t0 = center - width // 2
        t1 = t0 + width
        t0 = torch.minimum(torch.maximum(t0, ov_start), ov_end)
        t1 = torch.minimum(torch.maximum(t1, ov_start), ov_end)
    else:
        t0, t1 = ov_start, ov_end
    if mode in ("freq", "box") and freq_center is not None:
        height = torch.round(side * num_freqs).to(torch.int64)
        fc = freq_center.to(device=device, dtype=torch.float64)
        center = torch.floor(fc * num_freqs).to(torch.int64)
        f0 = center - height // 2
        f1 = (f0 + height).clamp(0, num_freqs)
        f0 = f0.clamp(0, num_freqs)
    else:
        f0 = torch.zeros_like(own)
        f1 = torch.full_like(own, num_freqs)
    area = (t1 - t0).double() * (f1 - f0).double()
    kept = 1.0 - area / (own.double() * num_freqs)
    # A sample pasted onto itself is unchanged, whatever the box.
    kept = torch.where(is_self(perm), 1.0, kept)
    if mode == "time":  # a time band spans every other axis
        return CutBoxes(t0, t1, None, None, shift, kept.to(torch.float32))
    return CutBoxes(t0, t1, f0, f1, shift, kept.to(torch.float32))


# Rows of at least _ROW_BYTES (on the CPU, _CPU_ROW_BYTES) are pasted by slicing, one row at a
# time: no temporary larger than a fade ramp, where the vectorised paste builds several
# batch-sized ones (a mask, the shifted partners, float64 fade weights: 12x the output for
# 2 x 10 min clips). Slicing is also faster on the CPU from rows of about 1 s of audio
# (256 x 16000 float32: 5 ms against 20 ms, measured); below that the per-row Python cost
# dominates, and on a GPU it adds kernel launches. Smaller rows take the vectorised paste in
# blocks of about _BLOCK_BYTES.
_ROW_BYTES = 1 << 20
_CPU_ROW_BYTES = 32 << 10
_BLOCK_BYTES = 8 << 20


def _paste(
    x: Tensor, perm: Tensor, boxes: CutBoxes, lengths: Tensor | None, freq: bool, fade: int = 0
) -> Tensor:
    b = x.shape[0]
    row_bytes = x[0].numel() * x.element_size()
    if row_bytes >= (_CPU_ROW_BYTES if x.device.type == "cpu" else _ROW_BYTES):
        return _paste_rows(x, perm, boxes, freq, fade)
    rows = max(1, _BLOCK_BYTES // row_bytes)
    if rows >= b:
        return _paste_block(x, perm, boxes, lengths, freq, fade, slice(None))
    out = torch.empty_like(x)
    for start in range(0, b, rows):
        block = slice(start, start + rows)
        out[block] = _paste_block(x, perm, boxes, lengths, freq, fade, block)
    return out


def _paste_block(
    x: Tensor,
    perm: Tensor,
    boxes: CutBoxes,
    lengths: Tensor | None,
    freq: bool,
    fade: int,
    block: slice,
) -> Tensor:
    """The rows ``block`` of the pasted batch, vectorised: masks and partners of the block."""
    b, t = x.shape[0], x.shape[-1]
    x3 = x.reshape(b, -1, t)
    whole = block == slice(None)
    own = x if whole else x[block]
    rows = perm[block]
    n = own.shape[0]
    if lengths is not None:
        lengths = lengths.to(device=x.device, dtype=torch.int64)
        zero = torch.zeros(n, dtype=x.dtype, device=x.device)
        shift = boxes.shift[block]
        if whole:
            partner = shifted_partners(x3, shift, lengths, zero, rows=rows)
        else:
            partner = shifted_partners(x3.index_select(0, rows), shift, lengths[rows], zero)
    else:
        partner = x3.index_select(0, rows)
    partner = partner.view_as(own)
    pos = torch.arange(t, device=x.device)
    t0, t1 = boxes.time_start[block].unsqueeze(1), boxes.time_end[block].unsqueeze(1)
    tmask = (pos >= t0) & (pos < t1)
    if freq and boxes.freq_start is not None and boxes.freq_end is not None:
        bins = torch.arange(x.shape[-2], device=x.device)
        f0, f1 = boxes.freq_start[block].unsqueeze(1), boxes.freq_end[block].unsqueeze(1)
        fmask = (bins >= f0) & (bins < f1)
        mask = fmask.unsqueeze(2) & tmask.unsqueeze(1)  # (block, freq, time)
        mask = mask.view(n, *[1] * (x.ndim - 3), *mask.shape[1:])
    elif fade:
        w = _fade_weights(boxes.time_start[block], boxes.time_end[block], t, fade)
        return torch.lerp(own, partner, w.to(x.dtype).view(n, *[1] * (x.ndim - 2), t))
    else:
        mask = tmask.view(n, *[1] * (x.ndim - 2), t)
    return torch.where(mask, partner, own)


def _paste_rows(x: Tensor, perm: Tensor, boxes: CutBoxes, freq: bool, fade: int) -> Tensor:
    """The pasted batch, one row at a time by slicing: the output is the only large tensor.

    Inside a box the partner always has content (boxes are clipped to the overlap), so each
    row copies one slice of its partner, at ``shift``; a fade blends only the ``fade`` samples
    at each edge, with the weights of :func:`_fade_weights` (1 in between, 0 outside).
    """
    out = x.clone()
    fields = [boxes.time_start, boxes.time_end, boxes.shift, perm]
    if freq and boxes.freq_start is not None and boxes.freq_end is not None:
        fields += [boxes.freq_start, boxes.freq_end]
    table = torch.stack([f.to(torch.int64) for f in fields], dim=1).tolist()
    # The ramps of every cut longer than 2 * fade: weights k / (fade + 1), k = 1..fade, rising
    # from the cut's start and falling to its end (as _fade_weights gives them).
    rise = (torch.arange(1, fade + 1, dtype=torch.float64, device=x.device) / (fade + 1)).to(
        x.dtype
    )
    fall = rise.flip(0)
    for i, (t0, t1, shift, j, *band) in enumerate(table):
        f0, f1 = band if freq else (0, 0)
        if t1 <= t0 or (freq and f1 <= f0) or (j == i and shift == 0):
            continue  # nothing pasted, or a row pasted onto itself
        if freq:
            out[i, ..., f0:f1, t0:t1] = x[j, ..., f0:f1, t0 - shift : t1 - shift]
            continue
        if not fade:
            out[i, ..., t0:t1] = x[j, ..., t0 - shift : t1 - shift]
            continue
        if t1 - t0 > 2 * fade:
            out[i, ..., t0 + fade : t1 - fade] = x[j, ..., t0 + fade - shift : t1 - fade - shift]
            ramps = [(t0, t0 + fade, rise), (t1 - fade, t1, fall)]
        else:
            w = _fade_weights(boxes.time_start[i : i + 1], boxes.time_end[i : i + 1], t1, fade, t0)
            ramps = [(t0, t1, w[0].to(x.dtype))]
        for a, e, w in ramps:
            out[i, ..., a:e] = torch.lerp(x[i, ..., a:e], x[j, ..., a - shift : e - shift], w)
    return out


def _fade_weights(
    time_start: Tensor, time_end: Tensor, num_frames: int, fade: int, first: int = 0
) -> Tensor:
    """(batch, time) float64 partner weight of a time cut with linear ramps of ``fade`` steps,
    at positions ``first, ..., num_frames - 1``.

    ``min(t + 1 - start, end - t) / (fade + 1)`` clamped to [0, 1]: 0 outside the cut, rising
    by ``1 / (fade + 1)`` per sample from its first sample, 1 from ``fade`` samples inside it
    (``fade=0`` is the hard cut). Ramps lie inside the cut, so nothing is taken from where the
    partner has no content.
    """
    pos = torch.arange(first, num_frames, device=time_start.device, dtype=torch.float64)
    rise = pos + 1 - time_start.unsqueeze(1).double()
    fall = time_end.unsqueeze(1).double() - pos
    return (torch.minimum(rise, fall) / (fade + 1)).clamp(0.0, 1.0)


def _fade_sum(width: Tensor, fade: int) -> Tensor:
    """(batch,) float64 sum over a cut of ``width`` samples of its :func:`_fade_weights`.

    The weights are ``min(k, width + 1 - k, c) / c`` for k = 1..width with ``c = fade + 1``: a
    triangle capped at ``c``, summed in integers without building the (batch, time) weights.
    """
    c = fade + 1
    width = width.to(torch.int64).clamp_min(0)
    half = width // 2

    def capped_ramp(m: Tensor) -> Tensor:  # sum of min(k, c) for k = 1..m
        return torch.where(m <= c, m * (m + 1) // 2, c * (c + 1) // 2 + (m - c) * c)

    middle = torch.where(width % 2 == 1, torch.clamp(half + 1, max=c), 0)
    return (2 * capped_ramp(half) + middle).double() / c


def _cutmix(
    x: Tensor,
    lam: Tensor | float,
    perm: Tensor,
    time_center: Tensor,
    freq_center: Tensor | None,
    *,
    mode: str,
    lengths: Tensor | None,
    offsets: Tensor | None,
    validate: bool,
    fade: int = 0,
) -> tuple[Tensor, CutBoxes]:
    check_choice(mode, "mode", CUT_MODES)
    check_fade(fade, mode)
    freq = mode != "time"
    check_audio(
        x,
        "x",
        min_ndim=3 if freq else 1,
        layout="(batch, ..., freq, time)" if freq else "(batch, ..., time)",
        check_finite=False,
    )
    b = x.shape[0]
    perm = check_pairs(x, perm, lengths, validate)
    if validate:
        check_lam(lam, b)
    lam_t = as_batch(lam, b, x.device, torch.float64)
    if time_center is None or (freq and freq_center is None):
        raise ValueError(
            f"mode={mode!r} needs `time_center` and, for 'freq' or 'box', `freq_center`."
        )
    for name, c in (("time_center", time_center), ("freq_center", freq_center)):
        if c is not None and (not isinstance(c, Tensor) or c.shape != (b,)):
            shape = tuple(c.shape) if isinstance(c, Tensor) else type(c).__name__
            raise ValueError(f"`{name}` must be a tensor of shape ({b},), but got {shape}.")
    boxes = _cut_boxes(
        lam_t,
        perm,
        time_center,
        freq_center,
        mode=mode,
        num_frames=x.shape[-1],
        num_freqs=x.shape[-2] if freq else 1,
        lengths=lengths,
        offsets=offsets,
    )
    if fade:
        # Ramps replace part of the cut by a blend: weigh the targets by what was taken.
        own = x.shape[-1] if lengths is None else lengths.to(device=x.device, dtype=torch.float64)
        taken = _fade_sum(boxes.time_end - boxes.time_start, fade) / own
        kept = torch.where(is_self(perm), 1.0, 1.0 - taken)
        boxes = boxes._replace(kept=kept.to(torch.float32))
    return _paste(x, perm, boxes, lengths, freq, fade), boxes


def cutmix(
    x: Tensor,
    lam: Tensor | float,
    perm: Tensor,
    *,
    time_center: Tensor,
    freq_center: Tensor | None = None,
    mode: str = "time",
    lengths: Tensor | None = None,
    offsets: Tensor | None = None,
    fade: int = 0,
    validate: bool = True,
    return_boxes: bool = False,
) -> tuple[Tensor, Tensor] | tuple[Tensor, CutBoxes]:
    r"""Pastes a band or box of each sample's partner into it; returns the kept fraction.

    The cut covers ``1 - lam`` of the sample's valid extent along one axis (``mode="time"``
    or ``"freq"``), or ``sqrt(1 - lam)`` of each side of a time-frequency box
    (``mode="box"``), centred at ``time_center``/``freq_center`` and clipped to where the
    partner has content. With ``lengths``, that is the overlap of the two valid regions after
    the core placement (the shorter clip starts ``offsets[i]`` into the longer one): padding is
    never pasted. The weight returned is computed from the box actually pasted, not from
    ``lam``: ``kept[i] = 1 - box_area / (num_freqs * lengths[i])``.

    Args:
        x (Tensor): (batch, ..., time) for ``mode="time"``; (batch, ..., freq, time) for
            ``"freq"`` and ``"box"``.
        lam (Tensor or float): scalar or (batch,) drawn weights in [0, 1].
        perm (Tensor): (batch,) partner indices.
        time_center (Tensor): (batch,) box centres in [0, 1), relative to the valid overlap.
        freq_center (Tensor or None, optional): (batch,) in [0, 1); needed for ``"freq"`` and
            ``"box"``.
        mode (str, optional): ``"time"``, ``"freq"`` or ``"box"``. (Default: ``"time"``)
        lengths (Tensor or None, optional): (batch,) valid lengths along time.
        offsets (Tensor or None, optional): (batch,) placement of the shorter clip of each
            pair (:func:`sample_offsets`). (Default: all 0)
        fade (int, optional): ``mode="time"`` only: cross-fade over this many samples at
            each edge of the cut, inside it (linear, the two weights sum to 1), so a waveform
            has no step where the partner starts and ends; e.g. 80 = 5 ms at 16 kHz. ``kept``
            then counts the blended samples by their weights:
            ``kept[i] = 1 - sum_t w_i(t) / lengths[i]``. (Default: ``0``, a hard cut)
        validate (bool, optional): check ``lam``, ``perm`` and ``lengths``. (Default: ``True``)
        return_boxes (bool, optional): return the :class:`CutBoxes` (which holds ``kept``)
            instead of ``kept``. (Default: ``False``)

    Returns:
        (Tensor, Tensor): the mixed batch, shaped like ``x`` (each sample keeps its own length
        and padding), and ``kept`` (batch,) float32, the weight of each sample itself in the
        targets (pass it to :func:`mix_targets`); with ``return_boxes``, (Tensor, CutBoxes).

    Example:
        >>> x = torch.randn(4, 2, 40, 100)
        >>> mixed, kept = cutmix(x, 0.7, torch.tensor([1, 0, 3, 2]), mode="box",
        ...                      time_center=torch.rand(4), freq_center=torch.rand(4))
        >>> mixed.shape, kept.shape
        (torch.Size([4, 2, 40, 100]), torch.Size([4]))
    """
    mixed, boxes = _cutmix(
        x,
        lam,
        perm,
        time_center,
        freq_center,
        mode=mode,
        lengths=lengths,
        offsets=offsets,
        validate=validate,
        fade=fade,
    )
    return (mixed, boxes) if return_boxes else (mixed, boxes.kept)
