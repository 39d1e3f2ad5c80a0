"""Frame-level targets and other time-aligned views, moved and weighted as the audio was mixed.

A mix is described once, in the positions of the mixed audio (samples or frames), by a
:class:`TimeMap`: where each output's own clip and its partner come from (a shift each), with
what weight, and, for CutMix, the span the partner fills. Any tensor with a time axis at
another resolution (frame targets, embeddings, masks) follows the same map: target frame ``f``
covers the positions ``[f·hop, (f+1)·hop)`` of the audio, and a frame's value is taken as
constant over them, so shifts and spans convert exactly, also where the hop does not divide
them (a frame then gets each source frame by the share of it that it covers).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from fractions import Fraction

import torch
from torch import Tensor

#: Largest denominator kept when a float hop becomes a fraction (0.625 stays 5/8).
_MAX_DENOMINATOR = 1_000_000


def check_hop(hop: object, name: str = "target_hop") -> Fraction | None:
    """``hop`` (positions of the audio per target frame) as a positive fraction, or ``None``.

    Example:
        >>> check_hop(160), check_hop(0.625)
        (Fraction(160, 1), Fraction(5, 8))
    """
    if hop is None:
        return None
    if isinstance(hop, bool) or not isinstance(hop, (numbers.Real, Fraction)):
        raise TypeError(
            f"`{name}` must be a number of input positions per frame, but got {type(hop).__name__}."
        )
    if isinstance(hop, float) and not math.isfinite(hop):
        raise ValueError(f"`{name}` must be > 0, but got {hop}.")
    exact = hop if isinstance(hop, (int, Fraction)) else float(hop)
    value = Fraction(exact).limit_denominator(_MAX_DENOMINATOR)
    if value <= 0:
        raise ValueError(f"`{name}` must be > 0, but got {hop}.")
    return value


def _ratio(hop: Fraction | None) -> tuple[int, int]:
    h = Fraction(1) if hop is None else hop
    return h.numerator, h.denominator


def expected_frames(num_positions: int, hop: Fraction | None) -> tuple[int, int]:
    """The frame counts that fit ``num_positions`` positions at ``hop``: ``(low, high)``.

    ``high = ceil(T / hop)`` frames cover every position; ``low = floor((T - 1) / hop)`` leaves
    the last, partly covered frame out, as a centred spectrogram (one frame more than
    ``T / hop``) or a floor-rounding pooling does. Any count in between is accepted.
    """
    p, q = _ratio(hop)
    t = int(num_positions)
    return max(0, (t - 1) * q // p), -(-t * q // p)


def check_frame_count(
    frames: int,
    num_positions: int,
    hop: Fraction | None,
    *,
    name: str = "labels",
    unit: str = "positions",
) -> None:
    """Raises if ``frames`` does not fit ``num_positions`` at ``hop`` (see
    :func:`expected_frames`); the message names the expected number."""
    low, high = expected_frames(num_positions, hop)
    if low <= frames <= high:
        return
    want = f"{high}" if low == high else f"{high} (or {low})"
    where = f"{num_positions} {unit}"
    if hop is None:
        raise ValueError(
            f"`{name}` have {frames} frames, but the audio has {where}: frame "
            f"targets at the audio's resolution need {want} frames. For targets at another "
            "resolution, pass `target_hop` (audio positions per target frame) to the mixer."
        )
    raise ValueError(
        f"`{name}` have {frames} frames, but the audio has {where} and "
        f"`target_hop` is {hop}: expected {want} frames."
    )


def target_lengths(lengths: Tensor, hop: object, num_frames: int | None = None) -> Tensor:
    """Valid frames of clips of ``lengths`` positions: ``ceil(lengths / hop)``.

    Args:
        lengths (Tensor): (batch,) valid lengths in positions of the audio.
        hop (int, float, Fraction or None): positions per frame (``None``: 1).
        num_frames (int or None, optional): clamp to this many frames.

    Returns:
        Tensor: (batch,) int64.

    Example:
        >>> target_lengths(torch.tensor([16000, 15500, 100]), 160).tolist()
        [100, 97, 1]
    """
    p, q = _ratio(check_hop(hop))
    n = lengths.to(torch.int64)
    out = torch.div(n * q + p - 1, p, rounding_mode="floor")
    return out if num_frames is None else out.clamp_max(num_frames)


@dataclass(frozen=True)
class TimeMap:
    """Where the content of each output of a mix comes from, in positions of the audio.

    Output ``i`` holds its own clip shifted right by ``own_shift[i]`` with weight
    ``own_weight[i]``, and its partner ``perm[i]`` shifted by ``partner_shift[i]`` with weight
    ``partner_weight[i]``. With a span (CutMix), the partner fills only
    ``[span_start, span_end)`` (cross-faded over ``fade`` positions inside each edge), and
    there a share ``span_share`` of each frame's bins (1 for a time cut, the band's share of
    the bins for a frequency band or a box); the own clip keeps the rest.

    Attributes:
        perm (Tensor): (batch,) int64 partners.
        own_shift, partner_shift (Tensor): (batch,) int64; content at output position ``t``
            is ``clip[t - shift]``.
        own_weight, partner_weight (Tensor): (batch,) float weights (``lam`` and
            ``1 - lam`` for a mixup; 1 and 1 for a span, whose weights vary along time;
            a partner weight of 0 for rows left unmixed).
        span_start, span_end (Tensor or None): (batch,) int64, the pasted span.
        span_share (Tensor or None): (batch,) float, the share of a frame inside the span
            that is the partner's.
        fade (int): cross-fade length at the span's edges.
        blend (bool): the weights are ``lam`` and ``1 - lam`` (one interpolation mixes).
    """

    perm: Tensor
    own_shift: Tensor
    partner_shift: Tensor
    own_weight: Tensor
    partner_weight: Tensor
    span_start: Tensor | None = None
    span_end: Tensor | None = None
    span_share: Tensor | None = None
    fade: int = 0
    blend: bool = False

    def to(self, device: torch.device | str) -> TimeMap:
        """The map on ``device``."""

        def move(t: Tensor | None) -> Tensor | None:
            return None if t is None else t.to(device)

        return TimeMap(
            self.perm.to(device),
            self.own_shift.to(device),
            self.partner_shift.to(device),
            self.own_weight.to(device),
            self.partner_weight.to(device),
            move(self.span_start),
            move(self.span_end),
            move(self.span_share),
            self.fade,
            self.blend,
        )


def mixup_time_map(lam: Tensor, perm: Tensor, lengths: Tensor | None, offsets: Tensor | None):
    """The :class:`TimeMap` of a mix of whole clips (mixup, SNR and BC mixing): the shorter
    clip of each pair moved right by its offset, weights ``lam`` and ``1 - lam``.

    Example:
        >>> m = mixup_time_map(torch.tensor([0.7, 0.4]), torch.tensor([1, 0]),
        ...                    torch.tensor([100, 60]), torch.tensor([20, 20]))
        >>> m.own_shift.tolist(), m.partner_shift.tolist()
        ([0, 20], [20, 0])
    """
    perm = perm.to(torch.int64)
    zero = torch.zeros_like(perm)
    if lengths is None or offsets is None:
        own_shift = partner_shift = zero
    else:
        n = lengths.to(device=perm.device, dtype=torch.int64)
        off = offsets.to(device=perm.device, dtype=torch.int64)
        self_shorter = n < n[perm]
        own_shift = torch.where(self_shorter, off, 0)
        partner_shift = torch.where(self_shorter, 0, off)
    lam = lam.to(device=perm.device, dtype=torch.float32)
    return TimeMap(perm, own_shift, partner_shift, lam, 1.0 - lam, blend=True)


def span_time_map(
    lam: Tensor,
    perm: Tensor,
    span_start: Tensor,
    span_end: Tensor,
    *,
    lengths: Tensor | None,
    offsets: Tensor | None,
    span_share: Tensor | None = None,
    fade: int = 0,
) -> TimeMap:
    """The :class:`TimeMap` of a paste (CutMix): the own clip stays, the partner (aligned by
    the placement offset) fills ``[span_start, span_end)``; rows whose own weight ``lam`` is 1
    got nothing pasted."""
    perm = perm.to(torch.int64)
    dev = perm.device
    if lengths is None or offsets is None:
        shift = torch.zeros_like(perm)
    else:
        n = lengths.to(device=dev, dtype=torch.int64)
        off = offsets.to(device=dev, dtype=torch.int64)
        shift = torch.where(n < n[perm], -off, off)
    pasted = (lam.to(dev) < 1.0).to(torch.float32)
    share = torch.ones(perm.shape, device=dev) if span_share is None else span_share.to(dev)
    return TimeMap(
        perm,
        torch.zeros_like(perm),
        shift,
        torch.ones(perm.shape, device=dev),
        pasted,
        span_start.to(device=dev, dtype=torch.int64),
        span_end.to(device=dev, dtype=torch.int64),
        share.to(torch.float32),
        int(fade),
    )


def shift_frames(y: Tensor, shift: Tensor, hop: object = None) -> Tensor:
    """Moves each row of ``y`` right by ``shift`` positions of the audio, in frames of ``hop``.

    Frames are constant over their ``hop`` positions, so a shift that is not a multiple of the
    hop gives each output frame the two source frames it overlaps, weighted by the overlap;
    frames shifted in from outside are 0.

    Args:
        y (Tensor): (batch, frames, ...).
        shift (Tensor): (batch,) int64 shifts in positions (negative: to the left).
        hop (int, float, Fraction or None, optional): positions per frame. (Default: 1)

    Returns:
        Tensor: (batch, frames, ...), a new tensor.

    Example:
        >>> shift_frames(torch.tensor([[1.0, 0.0, 0.0, 0.0]]), torch.tensor([6]), hop=4)
        tensor([[0.0000, 0.5000, 0.5000, 0.0000]])
    """
    b = y.shape[0]
    rows = torch.arange(b, device=y.device)
    return _shifted(_with_zero_row(y), y.shape, rows, shift, check_hop(hop), None)


def _before(valid: Tensor, num_frames: int) -> Tensor:
    """(batch, frames) float mask: 1 for the frames before ``valid[i]``, 0 at and past it."""
    return (torch.arange(num_frames, device=valid.device) < valid.unsqueeze(1)).float()


def _with_zero_row(y: Tensor) -> Tensor:
    """``y`` as (batch · frames, rest) rows with a row of zeros appended: indices that point
    outside a clip (before it, past its valid frames) take that row, so one ``index_select``
    moves, masks and pads."""
    flat = y.reshape(y.shape[0] * y.shape[1], -1)
    return torch.cat([flat, flat.new_zeros(1, flat.shape[1])])


def _shifted(
    table: Tensor,
    shape: tuple[int, ...],
    rows: Tensor,
    shift: Tensor,
    hop: Fraction | None,
    valid: Tensor | None,
) -> Tensor:
    """Rows ``rows`` of the clips in ``table`` (:func:`_with_zero_row`), moved right by
    ``shift`` positions in frames of ``hop``; frames at or past ``valid[i]`` (and outside the
    axis) count as 0."""
    p, q = _ratio(hop)
    b, f = shape[0], shape[1]
    dev = table.device
    s = shift.to(device=dev, dtype=torch.int64) * q  # in units of 1/q positions
    whole = torch.div(s, p, rounding_mode="floor")  # frames
    rest = s - whole * p
    split = bool((rest != 0).any())
    first = -1 if split else 0  # a split shift also reads the frame before
    src = torch.arange(first, f, device=dev) - whole.unsqueeze(1)
    limit = torch.full((b,), f, device=dev) if valid is None else valid.to(dev).clamp_max(f)
    inside = (src >= 0) & (src < limit.unsqueeze(1))
    index = torch.where(inside, rows.to(dev).unsqueeze(1) * f + src, table.shape[0] - 1)
    taken = table.index_select(0, index.reshape(-1)).view(b, f - first, *shape[2:])
    if not split:
        return taken
    w = (rest.to(taken.dtype if taken.is_floating_point() else torch.float32) / p).view(
        b, *[1] * (len(shape) - 1)
    )
    return torch.lerp(taken[:, 1:], taken[:, :-1], w)


def _span_mass(x: Tensor, t0: Tensor, t1: Tensor, fade: int) -> Tensor:
    """Integral over positions ``[t0, x)`` of the span's partner weight (float64), for ``x``
    of any real value: 1 per position inside the span, ramps of ``fade`` positions inside each
    edge (as :func:`~audiomix.functional.cutmix` fades)."""
    width = (t1 - t0).clamp_min(0).unsqueeze(1).double()
    m = (x - t0.unsqueeze(1).double()).clamp(min=0.0)
    m = torch.minimum(m, width)
    if fade == 0:
        return m
    whole = torch.floor(m)
    c = float(fade + 1)

    def ramp(k: Tensor) -> Tensor:  # sum of min(j, c) for j = 1..k, in positions
        return torch.where(k <= c, k * (k + 1) / 2, c * (c + 1) / 2 + (k - c) * c)

    def cumulative(k: Tensor) -> Tensor:  # G(k): the first k positions of the span
        total = 2 * ramp(torch.floor(width / 2)) + torch.where(
            width % 2 == 1, torch.clamp(torch.floor(width / 2) + 1, max=c), 0.0
        )
        return torch.where(k <= (width + 1) / 2, ramp(k), total - ramp(width - k)) / c

    lower = cumulative(whole)
    upper = cumulative(torch.minimum(whole + 1, width))
    return lower + (m - whole) * (upper - lower)


def span_cover(
    span_start: Tensor,
    span_end: Tensor,
    num_frames: int,
    hop: object = None,
    *,
    lengths: Tensor | None = None,
    fade: int = 0,
) -> Tensor:
    """(batch, frames) share of each frame's valid positions that lies in the span.

    Frame ``f`` covers positions ``[f·hop, (f+1)·hop)`` cut at the clip's valid length; a
    frame partly covered by the span gets the covered share (fade ramps counted by their
    weights), frames past the valid length 0.

    Example:
        >>> span_cover(torch.tensor([6]), torch.tensor([14]), 4, hop=4)
        tensor([[0.0000, 0.5000, 1.0000, 0.5000]])
    """
    h = check_hop(hop) or Fraction(1)
    dev = span_start.device
    edges = torch.arange(num_frames + 1, device=dev, dtype=torch.float64) * float(h)
    edges = edges.unsqueeze(0).expand(span_start.shape[0], -1)
    if lengths is not None:
        edges = torch.minimum(edges, lengths.to(dev).double().unsqueeze(1))
    mass = _span_mass(edges, span_start, span_end, fade)
    size = edges[:, 1:] - edges[:, :-1]
    covered = mass[:, 1:] - mass[:, :-1]
    share = torch.where(size > 0, covered / size.clamp_min(1e-12), 0.0)
    return share.clamp(0.0, 1.0).float()


def frame_weights(
    tmap: TimeMap, num_frames: int, hop: object = None, *, lengths: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """(batch, frames) or (batch, 1) weights of the own clip and of the partner per frame."""
    b = tmap.perm.shape[0]
    if tmap.span_start is None or tmap.span_end is None or tmap.span_share is None:
        return tmap.own_weight.view(b, 1), tmap.partner_weight.view(b, 1)
    cover = span_cover(
        tmap.span_start, tmap.span_end, num_frames, hop, lengths=lengths, fade=tmap.fade
    )
    share = cover * tmap.span_share.view(b, 1) * tmap.partner_weight.view(b, 1)
    return tmap.own_weight.view(b, 1) * (1.0 - share), share


def mix_frames(
    y: Tensor,
    tmap: TimeMap,
    *,
    hop: object = None,
    lengths: Tensor | None = None,
    union: bool = False,
) -> Tensor:
    """Mixes a time-aligned view as the audio was mixed: the same partners, shifts, weights.

    ``out[i, f] = a[i, f]·own[i, f - own_shift] + b[i, f]·y[perm[i], f - partner_shift]``
    with the shifts converted to frames of ``hop`` and the weights of
    :func:`frame_weights` (``lam`` and ``1 - lam`` for a mixup; the covered share of each
    frame for CutMix). With ``union=True`` the element-wise maximum of the clips that have a
    non-zero weight in a frame instead. Frames past a clip's valid length count as 0.

    Args:
        y (Tensor): (batch, frames, ...) floating point, time on dim 1.
        tmap (TimeMap): the mix, in positions of the audio.
        hop (int, float, Fraction or None, optional): positions of the audio per frame of
            ``y``. (Default: ``None``, the audio's resolution)
        lengths (Tensor or None, optional): (batch,) valid lengths of the clips in positions
            of the audio (before mixing).
        union (bool, optional): element-wise max instead of the weighted sum.
            (Default: ``False``)

    Returns:
        Tensor: (batch, frames, ...), a new tensor.

    Example:
        >>> y = torch.tensor([[[1.0], [0.0]], [[0.0], [1.0]]])
        >>> mix_frames(y, mixup_time_map(torch.tensor([0.75, 0.5]), torch.tensor([1, 0]),
        ...                              None, None)).squeeze(-1)
        tensor([[0.7500, 0.2500],
                [0.5000, 0.5000]])
    """
    hop = check_hop(hop)
    if tmap.perm.device != y.device:
        tmap = tmap.to(y.device)
    b, f = y.shape[0], y.shape[1]
    valid = None if lengths is None else target_lengths(lengths.to(y.device), hop, f)
    if valid is not None and not bool((valid < f).any()):
        valid = None  # every clip fills the frames: nothing to clear
    partner_valid = None if valid is None else valid.index_select(0, tmap.perm)
    # A side that is not moved is not copied either: its frames past the valid length are
    # cleared through its weights instead (``own_valid``, ``partner_valid`` below).
    own_valid = valid
    # ``partner`` takes the result where it is a tensor of its own; a half of the two-sided
    # gather shares its storage with the own clips, so the result goes to a fresh tensor (the
    # targets returned, pickled to a DataLoader's main process, hold their own bytes only).
    in_place = True
    if bool(tmap.own_shift.any()):
        # Both sides in one gather: rows ``[0, b)`` are the own clips, ``[b, 2b)`` the partners.
        rows = torch.cat([torch.arange(b, device=y.device), tmap.perm])
        shifts = torch.cat([tmap.own_shift, tmap.partner_shift])
        limit = None
        if valid is not None and partner_valid is not None:
            limit = torch.cat([valid, partner_valid])
        both = _shifted(_with_zero_row(y), (2 * b, *y.shape[1:]), rows, shifts, hop, limit)
        own, partner = both[:b], both[b:]
        own_valid = partner_valid = None
        in_place = False
    elif bool(tmap.partner_shift.any()):
        own = y
        partner = _shifted(
            _with_zero_row(y), y.shape, tmap.perm, tmap.partner_shift, hop, partner_valid
        )
        partner_valid = None
    else:
        own, partner = y, y.index_select(0, tmap.perm)
    extra = [1] * (y.ndim - 2)
    if tmap.blend and not union and own_valid is None and partner_valid is None:
        weight = tmap.own_weight.to(y.dtype).view(b, 1, *extra)
        return partner.lerp_(own, weight) if in_place else torch.lerp(partner, own, weight)
    a, w = frame_weights(tmap, f, hop, lengths=lengths)
    if own_valid is not None:
        a = a * _before(own_valid, f)
    if partner_valid is not None:
        w = w * _before(partner_valid, f)
    a, w = a.view(*a.shape, *extra).to(y.dtype), w.view(*w.shape, *extra).to(y.dtype)
    scale = (w > 0).to(y.dtype) if union else w
    out = partner.mul_(scale) if in_place else partner * scale
    if union:
        return torch.maximum(own * (a > 0).to(y.dtype), out, out=out)
    return out.addcmul_(own, a)
