"""The mixup family: CutMix, SNR mixing and between-class (BC) mixing, sampled then applied.

Each method reuses the core: partners, coins and λ come from :func:`sample_mix_params`,
clips of different lengths are aligned by the core's placement (``offsets``) and
:func:`mix`, and targets are mixed by :func:`mix_targets` with the weight each method reports.
What differs is the audio operation and that weight:

* CutMix pastes a box of the partner; the weight is the fraction of the valid area kept.
* SNR mixing adds the partner at a drawn SNR; the weight is the energy fraction of the sample.
* BC mixing adds the pair at a gain-aware ratio; the weight is the drawn ratio ``r``.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from torch import Tensor

from .._validation import check_audio, check_choice, check_lam, check_lengths, check_perm
from ._alignment import lengths_to_mask
from ._mixing import _shifted, mix
from ._sampling import MixParams, sample_mix_params, sample_offsets

CUT_MODES = ("time", "freq", "box")
_LN10 = math.log(10.0)


def _params_to(params: Any, device: torch.device | str) -> Any:
    """A copy of a parameter dataclass with every tensor field on ``device``."""
    moved = {
        f.name: getattr(params, f.name).to(device, non_blocking=True)
        for f in dataclasses.fields(params)
        if isinstance(getattr(params, f.name), Tensor)
    }
    return dataclasses.replace(params, **moved)


@dataclass(frozen=True)
class CutMixParams(MixParams):
    """Parameters of one CutMix call.

    As drawn (:func:`sample_cutmix_params`), ``lam`` is the Beta draw that sets the box size.
    After the call (a module's ``last_params``, or :func:`cutmix`'s result), ``lam`` is the
    fraction of each sample's valid area that is still its own, the weight its targets got, and
    the draw moves to ``lam_drawn``.

    Attributes:
        time_center (Tensor): (batch,) float64 in [0, 1), box centre along time, relative to
            the span where both clips of the pair have content.
        freq_center (Tensor): (batch,) float64 in [0, 1), box centre along frequency.
        lam_drawn (Tensor or None): (batch,) the Beta draw, once applied.
        time_start, time_end (Tensor or None): (batch,) int64 replaced frames (or samples)
            ``[time_start, time_end)`` of each output, once applied.
        freq_start, freq_end (Tensor or None): (batch,) int64 replaced bins, once applied
            (``None`` for time bands, which span every bin).
    """

    time_center: Tensor | None = None
    freq_center: Tensor | None = None
    lam_drawn: Tensor | None = None
    time_start: Tensor | None = None
    time_end: Tensor | None = None
    freq_start: Tensor | None = None
    freq_end: Tensor | None = None

    def to(self, device: torch.device | str) -> CutMixParams:
        """Returns the parameters on ``device``."""
        return _params_to(self, device)


@dataclass(frozen=True)
class SNRMixParams(MixParams):
    """Parameters of one SNR mixing call.

    ``lam`` is the weight of the sample itself in the targets: as drawn, the nominal energy
    fraction ``1 / (1 + 10^(-snr_db / 10))``; after the call, the fraction actually achieved
    (1 where the partner is silent, so nothing was added).

    Attributes:
        snr_db (Tensor): (batch,) float64, requested SNR of the sample over its partner.
        gain (Tensor or None): (batch,) amplitude gain applied to the partner, once applied.
    """

    snr_db: Tensor | None = None
    gain: Tensor | None = None

    def to(self, device: torch.device | str) -> SNRMixParams:
        """Returns the parameters on ``device``."""
        return _params_to(self, device)


@dataclass(frozen=True)
class BCMixParams(MixParams):
    """Parameters of one between-class mixing call.

    ``lam`` is the label ratio ``r`` (weight of the sample itself in the targets).

    Attributes:
        mix_weight (Tensor or None): (batch,) the gain-aware waveform weight ``p`` of the
            sample itself, once applied.
        gain_db (Tensor or None): (batch,) A-weighted gain of each input clip in dB, once
            applied.
    """

    mix_weight: Tensor | None = None
    gain_db: Tensor | None = None

    def to(self, device: torch.device | str) -> BCMixParams:
        """Returns the parameters on ``device``."""
        return _params_to(self, device)


# --------------------------------------------------------------------------- sampling


def sample_cutmix_params(
    batch_size: int,
    *,
    alpha: float,
    p: float = 1.0,
    per_sample: bool = False,
    lengths: Tensor | None = None,
    placement: str = "start",
    generator: torch.Generator | None = None,
) -> CutMixParams:
    """Draws λ, partners and offsets (:func:`sample_mix_params`), then box centres.

    Args:
        batch_size (int): number of samples.
        alpha (float): Beta(alpha, alpha) concentration, > 0.
        p, per_sample, lengths, placement, generator: as in :func:`sample_mix_params`.

    Returns:
        CutMixParams: on the CPU; one centre per sample even when λ is shared.
    """
    base = sample_mix_params(
        batch_size,
        alpha=alpha,
        p=p,
        per_sample=per_sample,
        lengths=lengths,
        placement=placement,
        generator=generator,
    )
    centers = torch.rand(2, batch_size, generator=generator, dtype=torch.float64)
    return CutMixParams(
        **_base_fields(base), time_center=centers[0], freq_center=centers[1]
    )


def check_snr_range(snr_db: Any) -> tuple[float, float]:
    """``snr_db`` as a ``(low, high)`` pair of finite floats with ``low <= high``."""
    if isinstance(snr_db, numbers.Real) and not isinstance(snr_db, bool):
        snr_db = (snr_db, snr_db)
    try:
        lo, hi = (float(v) for v in snr_db)
    except (TypeError, ValueError):
        raise TypeError(
            f"`snr_db` must be a number or a (low, high) pair of numbers in dB, but got "
            f"{snr_db!r}."
        ) from None
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
        raise ValueError(
            f"`snr_db` must be a (low, high) pair of finite numbers with low <= high, but got "
            f"({lo}, {hi})."
        )
    return lo, hi


def sample_snr_params(
    batch_size: int,
    *,
    snr_db: tuple[float, float] | float = (0.0, 5.0),
    p: float = 1.0,
    per_sample: bool = False,
    lengths: Tensor | None = None,
    placement: str = "start",
    generator: torch.Generator | None = None,
) -> SNRMixParams:
    """Draws partners and offsets (:func:`sample_mix_params`), then SNRs uniform in dB.

    Args:
        batch_size (int): number of samples.
        snr_db (tuple of float or float, optional): ``(low, high)`` SNR range in dB; a single
            number is a fixed SNR. (Default: ``(0.0, 5.0)``)
        p, per_sample, lengths, placement, generator: as in :func:`sample_mix_params`
            (``per_sample`` draws one SNR per sample instead of one per batch).

    Returns:
        SNRMixParams: on the CPU, ``lam`` set to the nominal target weight.
    """
    lo, hi = check_snr_range(snr_db)
    # alpha is irrelevant here: only the coin, partners and offsets of the draw are used.
    base = sample_mix_params(
        batch_size,
        alpha=1.0,
        p=p,
        per_sample=per_sample,
        lengths=lengths,
        placement=placement,
        generator=generator,
    )
    n = batch_size if per_sample else 1
    u = torch.rand(n, generator=generator, dtype=torch.float64)
    snr = (lo + (hi - lo) * u).expand(batch_size).clone()
    lam = torch.where(base.applied, _energy_fraction(snr).float(), torch.ones(batch_size))
    fields = _base_fields(base)
    fields["lam"] = lam
    return SNRMixParams(**fields, snr_db=snr)


def _class_ids_equal(labels: Tensor, multilabel: bool) -> Tensor:
    """(batch, batch) bool: do samples i and j share their class (multi-label: label set)?"""
    if labels.ndim == 1:
        return labels.unsqueeze(0) == labels.unsqueeze(1)
    if labels.ndim != 2:
        raise ValueError(
            "`labels` must be class indices (batch,) or targets (batch, num_classes), but got "
            f"shape {tuple(labels.shape)}."
        )
    if multilabel:
        return (labels.unsqueeze(0) == labels.unsqueeze(1)).all(dim=-1)
    ids = labels.argmax(dim=1)
    return ids.unsqueeze(0) == ids.unsqueeze(1)


def sample_bc_params(
    batch_size: int,
    *,
    alpha: float = 1.0,
    p: float = 1.0,
    per_sample: bool = True,
    lengths: Tensor | None = None,
    placement: str = "start",
    labels: Tensor | None = None,
    multilabel: bool = False,
    generator: torch.Generator | None = None,
) -> BCMixParams:
    """Draws ratios ``r``, partners and offsets for between-class mixing.

    ``r`` is ``lam`` of :func:`sample_mix_params`; with ``alpha = 1`` (the default) it is
    U(0, 1) as in Tokozume et al. (2018). With ``labels``, partners of the same class (equal
    index, equal argmax for soft targets, equal label set for multi-label) are re-drawn
    uniformly among the samples of another class, in one vectorised draw; a sample with no
    such partner in the batch is left unmixed.

    Args:
        batch_size (int): number of samples.
        alpha (float, optional): Beta(alpha, alpha) for ``r``. (Default: ``1.0``, uniform)
        p, lengths, placement, generator: as in :func:`sample_mix_params`.
        per_sample (bool, optional): one ``r`` per sample. (Default: ``True``, as in the paper)
        labels (Tensor or None, optional): class indices (batch,) or targets
            (batch, num_classes); when given, same-class pairs are rejected. Read on the CPU.
        multilabel (bool, optional): ``labels`` are multi-hot. (Default: ``False``)

    Returns:
        BCMixParams: on the CPU.
    """
    base = sample_mix_params(
        batch_size, alpha=alpha, p=p, per_sample=per_sample, generator=generator
    )
    lam, perm, applied = base.lam, base.perm, base.applied
    if labels is not None:
        if not isinstance(labels, Tensor):
            raise TypeError(f"`labels` must be a torch.Tensor, but got {type(labels).__name__}.")
        if labels.ndim == 0 or labels.shape[0] != batch_size:
            got = "a scalar" if labels.ndim == 0 else str(labels.shape[0])
            raise ValueError(f"`labels` and the batch have different sizes: {got} != {batch_size}.")
        same = _class_ids_equal(labels.detach().cpu(), multilabel)
        identity = torch.arange(batch_size)
        bad = applied & same[identity, perm]
        allowed = ~same
        has_other = allowed.any(dim=1)
        # One draw per row whatever is rejected, so the stream does not depend on the labels'
        # pattern; rows without any other class draw from a dummy uniform row and stay unmixed.
        weights = torch.where(has_other.unsqueeze(1), allowed, torch.ones_like(allowed))
        if batch_size:
            redrawn = torch.multinomial(weights.double(), 1, generator=generator).squeeze(1)
            perm = torch.where(bad, redrawn, perm)
        stuck = bad & ~has_other
        applied = applied & ~stuck
        perm = torch.where(stuck, identity, perm)
        lam = torch.where(stuck, torch.ones_like(lam), lam)
    offsets = None
    if lengths is not None:
        check_lengths(lengths, batch_size, max_length=torch.iinfo(torch.int64).max)
        offsets = sample_offsets(lengths.cpu(), perm, placement=placement, generator=generator)
    return BCMixParams(lam=lam, perm=perm, applied=applied, offsets=offsets)


def _base_fields(params: MixParams) -> dict[str, Tensor | None]:
    return {
        "lam": params.lam,
        "perm": params.perm,
        "applied": params.applied,
        "offsets": params.offsets,
    }


# --------------------------------------------------------------------------- shared helpers


def _check_pairs(x: Tensor, perm: Tensor, lengths: Tensor | None, validate: bool) -> Tensor:
    b = x.shape[0]
    if validate:
        check_perm(perm, b, x.device)
        if lengths is not None:
            check_lengths(lengths, b, x.shape[-1])
    return perm.to(device=x.device, dtype=torch.int64)


def _is_self(perm: Tensor) -> Tensor:
    """(batch,) bool: samples that are their own partner (unmixed)."""
    return perm == torch.arange(perm.shape[0], device=perm.device)


def _as_batch(v: Tensor | float, b: int, device: torch.device, dtype: torch.dtype) -> Tensor:
    return torch.as_tensor(v, dtype=dtype, device=device).expand(b)


def _mean_power(x: Tensor, lengths: Tensor | None) -> Tensor:
    """(batch,) mean square over each clip's valid samples (all channels), float32 or more."""
    work = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
    b, t = x.shape[0], x.shape[-1]
    sq = work.reshape(b, -1, t).square()
    if lengths is None:
        return sq.mean(dim=(1, 2))
    mask = lengths_to_mask(lengths.to(x.device), t).unsqueeze(1)
    total = torch.where(mask, sq, 0.0).sum(dim=(1, 2))
    return total / (lengths.to(total.dtype) * sq.shape[1])


def check_max_gain_db(max_gain_db: float | None) -> float | None:
    """``max_gain_db`` as a float (any finite number of dB) or ``None`` (no cap)."""
    if max_gain_db is None:
        return None
    if isinstance(max_gain_db, bool) or not isinstance(max_gain_db, numbers.Real):
        raise TypeError(
            f"`max_gain_db` must be a number or None, but got {type(max_gain_db).__name__}."
        )
    if not math.isfinite(max_gain_db):
        raise ValueError(f"`max_gain_db` must be finite or None, but got {max_gain_db}.")
    return float(max_gain_db)


def _energy_fraction(snr_db: Tensor) -> Tensor:
    """Share of the mix's energy from the sample at ``snr_db``: 1 / (1 + 10^(-snr/10))."""
    return torch.sigmoid(snr_db * (_LN10 / 10.0))


# --------------------------------------------------------------------------- CutMix


class CutBoxes(NamedTuple):
    """Replaced region of each output: ``[time_start, time_end) x [freq_start, freq_end)``."""

    time_start: Tensor
    time_end: Tensor
    freq_start: Tensor | None  # None for time bands, which span every bin
    freq_end: Tensor | None
    shift: Tensor  # partner sample at output position t is partner[t - shift]
    kept: Tensor  # (batch,) fraction of the valid area still the sample's own


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
    off = (
        torch.zeros_like(own) if offsets is None else offsets.to(device=device, dtype=torch.int64)
    )
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
    if mode in ("freq", "box"):
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
    kept = torch.where(_is_self(perm), 1.0, kept)
    if mode == "time":
        f0 = f1 = None  # a time band spans every other axis
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
            partner = _shifted(x3, shift, lengths, zero, rows=rows)
        else:
            partner = _shifted(x3.index_select(0, rows), shift, lengths[rows], zero)
    else:
        partner = x3.index_select(0, rows)
    partner = partner.view_as(own)
    pos = torch.arange(t, device=x.device)
    t0, t1 = boxes.time_start[block].unsqueeze(1), boxes.time_end[block].unsqueeze(1)
    tmask = (pos >= t0) & (pos < t1)
    if freq:
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
    if freq:
        fields += [boxes.freq_start, boxes.freq_end]
    table = torch.stack([f.to(torch.int64) for f in fields], dim=1).tolist()
    # The ramps of every cut longer than 2 * fade: weights k / (fade + 1), k = 1..fade, rising
    # from the cut's start and falling to its end (as _fade_weights gives them).
    rise = (torch.arange(1, fade + 1, dtype=torch.float64, device=x.device) / (fade + 1)).to(x.dtype)
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
    perm = _check_pairs(x, perm, lengths, validate)
    if validate:
        check_lam(lam, b)
    lam_t = _as_batch(lam, b, x.device, torch.float64)
    if time_center is None or (freq and freq_center is None):
        raise ValueError(f"mode={mode!r} needs `time_center` and, for 'freq' or 'box', `freq_center`.")
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
        kept = torch.where(_is_self(perm), 1.0, 1.0 - taken)
        boxes = boxes._replace(kept=kept.to(torch.float32))
    return _paste(x, perm, boxes, lengths, freq, fade), boxes


def check_fade(fade: Any, mode: str = "time") -> int:
    """Checks a cross-fade length in samples (an int >= 0, for time cuts only)."""
    if isinstance(fade, bool) or not isinstance(fade, numbers.Integral) or fade < 0:
        raise ValueError(f"`fade` must be an integer number of samples >= 0, but got {fade!r}.")
    if fade and mode != "time":
        raise ValueError(f"`fade` applies to time cuts only (mode='time'), but mode={mode!r}.")
    return int(fade)


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
) -> tuple[Tensor, Tensor]:
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

    Returns:
        (Tensor, Tensor): the mixed batch, shaped like ``x`` (each sample keeps its own length
        and padding), and ``kept`` (batch,) float32, the weight of each sample itself in the
        targets (pass it to :func:`mix_targets`).

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
    return mixed, boxes.kept


# --------------------------------------------------------------------------- SNR mixing


def _snr_mix(
    x: Tensor,
    snr_db: Tensor | float,
    perm: Tensor,
    *,
    lengths: Tensor | None,
    offsets: Tensor | None,
    validate: bool,
    max_gain_db: float | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    check_audio(x, "x", min_ndim=2, layout="(batch, ..., time)", check_finite=False)
    check_max_gain_db(max_gain_db)
    b = x.shape[0]
    perm = _check_pairs(x, perm, lengths, validate)
    snr = _as_batch(snr_db, b, x.device, torch.float64)
    if validate and not bool(torch.isfinite(snr).all()):
        raise ValueError("`snr_db` must be finite.")
    power = _mean_power(x, lengths).double()
    other = power[perm]
    usable = (power > 0) & (other > 0) & ~_is_self(perm)
    ratio = torch.pow(10.0, snr / 10.0)
    gain = torch.where(usable, (power / torch.where(usable, other * ratio, 1.0)).sqrt(), 0.0)
    if max_gain_db is not None:
        gain = gain.clamp_max(10.0 ** (max_gain_db / 20.0))
    # A near-silent partner needs a large gain (1e5 for -100 dB), beyond float16's range
    # (65504): half input is mixed in float32 and rounded once at the end.
    work = torch.float32 if x.dtype in (torch.float16, torch.bfloat16) else x.dtype
    # x_i + g * x_j = (1 + g) * lerp(x_j, x_i, 1 / (1 + g)): the core mix does the alignment.
    w = 1.0 / (1.0 + gain)
    mixed = mix(x.to(work), w.to(work), perm, lengths=lengths, offsets=offsets, validate=False)
    scale = (1.0 + gain).to(work).view(b, *[1] * (x.ndim - 1))
    mixed = (mixed * scale).to(x.dtype)
    # The energy fraction actually achieved (the requested one unless the gain was capped).
    kept = torch.where(usable, power / (power + gain.square() * other), 1.0)
    return mixed, kept.to(torch.float32), gain


def snr_mix(
    x: Tensor,
    snr_db: Tensor | float,
    perm: Tensor,
    *,
    lengths: Tensor | None = None,
    offsets: Tensor | None = None,
    max_gain_db: float | None = None,
    validate: bool = True,
) -> tuple[Tensor, Tensor]:
    r"""Adds each sample's partner at a given signal-to-noise ratio.

    ``x̃_i = x_i + g_i · x_j`` with ``g_i = sqrt(P_i / (P_j · 10^(snr_i / 10)))``, where ``P``
    is the mean power over a clip's valid samples (all channels), so that
    ``10·log10(P_i / P(g_i·x_j)) = snr_i`` exactly. The sample keeps its level. With
    ``lengths``, the pair is aligned as in :func:`mix` (the shorter clip placed at
    ``offsets[i]``; padding is silence) and the output is valid over the longer clip.

    The target weight of the sample itself is its share of the added energies,
    ``P_i / (P_i + g_i²·P_j) = 1 / (1 + 10^(-snr_i / 10))``. A silent sample or a silent
    partner gets nothing added and weight 1; so does a sample that is its own partner.

    A near-silent partner is boosted to the requested SNR however large the gain (1e5 for a
    partner 100 dB below the sample): powers and gains are computed in float64 and half
    precision input (float16, bfloat16) is mixed in float32 and rounded once, so the result
    stays finite. To avoid boosting a partner's noise floor, cap the gain with
    ``max_gain_db``; the weight returned is then the energy fraction actually achieved.

    Args:
        x (Tensor): (batch, ..., time) waveforms.
        snr_db (Tensor or float): scalar or (batch,) SNR in dB of each sample over its partner.
        perm (Tensor): (batch,) partner indices.
        lengths (Tensor or None, optional): (batch,) valid lengths.
        offsets (Tensor or None, optional): (batch,) placement of the shorter clip.
        max_gain_db (float or None, optional): largest gain applied to a partner, in dB;
            ``None`` reaches every requested SNR. (Default: ``None``)
        validate (bool, optional): check ``perm``, ``lengths`` and ``snr_db``.
            (Default: ``True``)

    Returns:
        (Tensor, Tensor): the mixed batch (batch, ..., time) and the target weight of each
        sample itself (batch,) float32.

    Example:
        >>> x = torch.randn(4, 16000)
        >>> mixed, lam = snr_mix(x, 10.0, torch.tensor([1, 0, 3, 2]))
        >>> round(float(lam[0]), 4)
        0.9091
    """
    mixed, kept, _ = _snr_mix(
        x,
        snr_db,
        perm,
        lengths=lengths,
        offsets=offsets,
        validate=validate,
        max_gain_db=max_gain_db,
    )
    return mixed, kept


# --------------------------------------------------------------------------- BC mixing


def a_weighting(frequencies: Tensor, *, min_db: float | None = -80.0) -> Tensor:
    r"""A-weighting in dB (IEC 61672-1): about 0 dB at 1 kHz, -19.1 dB at 100 Hz.

    ``R_A(f) = f4² f⁴ / ((f² + f1²) · sqrt((f² + f2²)(f² + f3²)) · (f² + f4²))`` and
    ``A(f) = 20·log10(R_A(f)) + 2.00``, with the standard's pole frequencies
    f1 = 20.598997, f2 = 107.65265, f3 = 737.86223, f4 = 12194.217 Hz (often rounded to
    20.6, 107.7, 737.9 and 12194).

    Args:
        frequencies (Tensor): (...) frequencies in Hz, >= 0.
        min_db (float or None, optional): floor in dB (0 Hz is -inf). (Default: ``-80.0``)

    Returns:
        Tensor: (...) weights in dB, float64.
    """
    f2 = torch.as_tensor(frequencies, dtype=torch.float64).square()
    db = 20.0 * torch.log10(_a_response(f2)) + 2.0
    return db if min_db is None else db.clamp_min(min_db)


def _a_response(f2: Tensor) -> Tensor:
    c1, c2, c3, c4 = 20.598997**2, 107.65265**2, 737.86223**2, 12194.217**2
    return c4 * f2.square() / ((f2 + c1) * torch.sqrt((f2 + c2) * (f2 + c3)) * (f2 + c4))


def default_gain_n_fft(sample_rate: float) -> int:
    """Power of two nearest (in log scale) to 100 ms: 2048 at 16 kHz, 4096 at 44.1 kHz."""
    return 2 ** round(math.log2(0.1 * sample_rate))


def _a_weights(sample_rate: float, n_fft: int, dtype: torch.dtype = torch.float32) -> Tensor:
    """(n_fft // 2 + 1,) linear power weights 10^(A(f) / 10) of the rfft bins."""
    f = torch.fft.rfftfreq(n_fft, d=1.0 / sample_rate, dtype=torch.float64)
    r = _a_response(f.square()) * 10.0 ** (2.0 / 20.0)
    return r.square().to(dtype)


def _gain_db(
    x: Tensor,
    lengths: Tensor | None,
    *,
    window: Tensor,
    weights: Tensor,
    min_db: float,
) -> Tensor:
    b, t = x.shape[0], x.shape[-1]
    n_fft = window.shape[0]
    hop = n_fft // 2
    work = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
    x3 = work.reshape(b, -1, t)
    if lengths is not None:
        # Padding may hold anything: frames reaching into it must see silence.
        mask = lengths_to_mask(lengths.to(x.device), t).unsqueeze(1)
        x3 = torch.where(mask, x3, 0.0)
    if t < n_fft:
        x3 = torch.nn.functional.pad(x3, (0, n_fft - t))
    frames = x3.unfold(-1, n_fft, hop)  # (batch, channels, frames, n_fft)
    win = window.to(device=x3.device, dtype=x3.dtype)
    own = torch.full((b,), t, device=x.device) if lengths is None else lengths.to(x.device)
    # A clip shorter than n_fft is analysed in one frame of its own length: zero-padded into
    # an n_fft window it would sit on the window's low start (a 500-sample tone read 15 dB too
    # quiet at n_fft=2048). A Hann window of the clip's length, zero-padded to n_fft (so the
    # A-weights of the n_fft bins still apply), gives an equal-level clip an equal gain.
    first = _first_frame_window(own, win)  # (batch, n_fft); `win` itself for long clips
    windowed = frames * win
    windowed[:, :, 0] = frames[:, :, 0] * first.unsqueeze(1)
    spec = torch.fft.rfft(windowed, dim=-1)
    power = spec.real.square() + spec.imag.square()
    # Parseval: this normalisation makes g the frame's mean square (A-weighted), so a full
    # scale 1 kHz sine is about -3 dB whatever n_fft; the floor `min_db` is relative to it.
    energy = torch.full((b, power.shape[2]), float(window.double().square().sum()),
                        dtype=torch.float64, device=x.device)
    energy[:, 0] = first.double().square().sum(dim=1)
    norm = (2.0 / (n_fft * energy)).to(power.dtype)
    weights = weights.to(device=power.device, dtype=power.dtype)
    g = (power * weights).sum(dim=-1).mean(dim=1) * norm  # (batch, frames)
    if lengths is not None:
        # Frame k is valid while it starts inside the clip; frame 0 always counts.
        last = torch.div(
            (lengths.to(x.device) - n_fft).clamp_min(0), hop, rounding_mode="floor"
        )
        k = torch.arange(g.shape[1], device=x.device)
        g = torch.where(k.unsqueeze(0) <= last.unsqueeze(1), g, 0.0)
    floor = 10.0 ** (min_db / 10.0)
    return 10.0 * torch.log10(g.amax(dim=1).clamp_min(floor))


def _first_frame_window(lengths: Tensor, window: Tensor) -> Tensor:
    """(batch, n_fft) window of each clip's first frame: ``window`` for clips of at least
    n_fft samples, else a periodic Hann window of the clip's length followed by zeros."""
    n_fft = window.shape[0]
    pos = torch.arange(n_fft, device=window.device, dtype=torch.float64)
    size = lengths.to(device=window.device, dtype=torch.float64).unsqueeze(1)
    hann = 0.5 - 0.5 * torch.cos(2.0 * math.pi * pos / size)
    # A one-sample clip is its own window (as torch.hann_window(1) is [1.]).
    hann = torch.where(size == 1, 1.0, hann)
    short = torch.where(pos < size, hann, 0.0).to(window.dtype)
    return torch.where(lengths.to(window.device).unsqueeze(1) < n_fft, short, window)


def a_weighted_gain(
    waveform: Tensor,
    *,
    sample_rate: float,
    lengths: Tensor | None = None,
    n_fft: int | None = None,
    min_db: float = -80.0,
) -> Tensor:
    r"""Perceived loudness of each clip: the maximum A-weighted frame power, in dB.

    Frames of ``n_fft`` samples (Hann window, hop ``n_fft // 2``) are taken over each clip's
    valid samples; each frame's power spectrum is weighted by :func:`a_weighting` and summed,
    normalised to the frame's mean square (0 dB is a full-scale square wave; a full-scale sine
    at 1 kHz is about -3 dB). The gain is the loudest frame, floored at ``min_db``. A clip
    shorter than ``n_fft`` is one frame of its own length (a Hann window of that length,
    zero-padded to ``n_fft``), so equal-level clips get equal gains whatever their lengths.
    Scaling a clip by ``c`` adds ``20·log10|c|`` dB.

    Args:
        waveform (Tensor): (batch, time) or (batch, channels, time); channels are averaged in
            power.
        sample_rate (float): in Hz.
        lengths (Tensor or None, optional): (batch,) valid lengths.
        n_fft (int or None, optional): frame length. (Default: the power of two nearest
            100 ms, 2048 at 16 kHz)
        min_db (float, optional): floor for silent clips. (Default: ``-80.0``)

    Returns:
        Tensor: (batch,) gains in dB.

    Example:
        >>> t = torch.arange(16000) / 16000
        >>> sine = torch.sin(2 * torch.pi * 1000 * t).unsqueeze(0)
        >>> round(float(a_weighted_gain(sine, sample_rate=16000)), 1)
        -3.0
    """
    check_audio(
        waveform, "waveform", min_ndim=2, max_ndim=3, layout="(batch, time) or (batch, "
        "channels, time)", check_finite=False
    )
    if sample_rate <= 0:
        raise ValueError(f"`sample_rate` must be > 0, but got {sample_rate}.")
    n_fft = default_gain_n_fft(sample_rate) if n_fft is None else n_fft
    if n_fft < 2:
        raise ValueError(f"`n_fft` must be >= 2, but got {n_fft}.")
    if lengths is not None:
        check_lengths(lengths, waveform.shape[0], waveform.shape[-1])
    window = torch.hann_window(n_fft, dtype=torch.float32, device=waveform.device)
    weights = _a_weights(sample_rate, n_fft).to(waveform.device)
    return _gain_db(waveform, lengths, window=window, weights=weights, min_db=min_db)


def bc_weight(r: Tensor, gain_db: Tensor, partner_gain_db: Tensor) -> Tensor:
    r"""Gain-aware waveform weight ``p`` of between-class mixing.

    ``p = 1 / (1 + 10^((G1 - G2) / 20) · (1 - r) / r)``, computed as
    ``sigmoid(logit(r) - (G1 - G2)·ln(10)/20)`` so that ``r = 0`` and ``r = 1`` give exactly
    0 and 1 and no gain difference overflows. It makes the A-weighted gains of the two
    components of ``p·x1 + (1 - p)·x2`` stand in the ratio ``r : (1 - r)``.

    Args:
        r (Tensor): (batch,) label ratios in [0, 1].
        gain_db (Tensor): (batch,) gain G1 of each sample in dB.
        partner_gain_db (Tensor): (batch,) gain G2 of its partner in dB.

    Returns:
        Tensor: (batch,) ``p`` in [0, 1], float64.
    """
    r = r.double()
    logit = torch.log(r) - torch.log1p(-r)
    diff = (gain_db.double() - partner_gain_db.double()) * (_LN10 / 20.0)
    return torch.sigmoid(logit - diff)


def _bc_mix(
    x: Tensor,
    r: Tensor | float,
    perm: Tensor,
    *,
    gain_db: Tensor,
    lengths: Tensor | None,
    offsets: Tensor | None,
    validate: bool,
) -> tuple[Tensor, Tensor]:
    b = x.shape[0]
    if validate:
        check_lam(r, b)
    r_t = _as_batch(r, b, x.device, torch.float64)
    p = bc_weight(r_t, gain_db, gain_db[perm])
    # A sample that is its own partner stays itself (no level change from the normaliser).
    norm = torch.where(_is_self(perm), 1.0, torch.sqrt(p.square() + (1.0 - p).square()))
    mixed = mix(x, p.to(x.dtype), perm, lengths=lengths, offsets=offsets, validate=False)
    return mixed / norm.to(x.dtype).view(b, *[1] * (x.ndim - 1)), p


def bc_mix(
    x: Tensor,
    r: Tensor | float,
    perm: Tensor,
    *,
    sample_rate: float,
    lengths: Tensor | None = None,
    offsets: Tensor | None = None,
    n_fft: int | None = None,
    min_db: float = -80.0,
    validate: bool = True,
) -> tuple[Tensor, Tensor]:
    r"""Between-class mixing of waveforms (Tokozume et al., 2018).

    ``x̃ = (p·x1 + (1 - p)·x2) / sqrt(p² + (1 - p)²)`` with the gain-aware ``p`` of
    :func:`bc_weight` from the A-weighted gains of :func:`a_weighted_gain`; the label is mixed
    by ``r``. The normaliser keeps the energy of two uncorrelated clips. With ``lengths`` the
    pair is aligned as in :func:`mix` and the output is valid over the longer clip.

    Args:
        x (Tensor): (batch, time) or (batch, channels, time) waveforms.
        r (Tensor or float): scalar or (batch,) label ratios in [0, 1].
        perm (Tensor): (batch,) partner indices.
        sample_rate (float): in Hz, for the A-weighting.
        lengths, offsets: as in :func:`mix`.
        n_fft (int or None, optional): gain frame length (see :func:`a_weighted_gain`).
        min_db (float, optional): gain floor for silent clips. (Default: ``-80.0``)
        validate (bool, optional): check ``r``, ``perm`` and ``lengths``. (Default: ``True``)

    Returns:
        (Tensor, Tensor): the mixed batch and ``p`` (batch,) float64. Targets are
        ``mix_targets(labels, r, perm)``.

    Example:
        >>> x = torch.randn(4, 16000)
        >>> mixed, p = bc_mix(x, 0.5, torch.tensor([1, 0, 3, 2]), sample_rate=16000)
        >>> mixed.shape
        torch.Size([4, 16000])
    """
    check_audio(
        x, "x", min_ndim=2, max_ndim=3, layout="(batch, time) or (batch, channels, time)",
        check_finite=False,
    )
    perm = _check_pairs(x, perm, lengths, validate)
    gains = a_weighted_gain(x, sample_rate=sample_rate, lengths=lengths, n_fft=n_fft, min_db=min_db)
    mixed, p = _bc_mix(
        x, r, perm, gain_db=gains, lengths=lengths, offsets=offsets, validate=validate
    )
    return mixed, p
