"""The mixing kernels behind :func:`audiomix.functional.mix`: no checks, no randomness.

:func:`lerp_rows` mixes equal-length rows block by block; :func:`masked_mix_blocks` mixes clips
of different lengths, placed and silenced (:func:`masked_mix_autograd` when gradients are
needed); :func:`shifted_partners` gives each row its partner moved by a shift (CutMix's paste).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from ._alignment import lengths_to_mask

# On CPU, partners are gathered straight into the output one block of about this many bytes at a
# time, and each block is interpolated in place while it is still in cache: no temporary. Measured
# with benchmarks/bench.py (2 cores, 1 MiB L2 each, 32 MiB L3): 1-16 MiB blocks cost the same
# for batches that fit the L3, 4-16 MiB beat one whole-batch pass for bigger ones, and every
# block is a parallel region whose barrier stalls when cores are shared, so blocks are large.
_BLOCK_BYTES = 8 << 20
# The length-aware mix makes about six passes over each block (two gathers, two masks, the
# interpolation, the check) with a dozen small ops per block: blocks of a few MiB keep them in
# the L3 and the per-op overhead small. A block is also at most a quarter of the batch, so that
# its temporaries (the clip's own block and the masks) stay well under the output's size.
_LENGTHS_BLOCK_BYTES = 2 << 20
_LENGTHS_MIN_BLOCK_BYTES = 256 << 10
# Masking by bits: a float AND an all-ones/all-zeros integer of the same width keeps the value
# bit for bit or turns it into +0.0. On CPU this runs at copy speed, where torch.where and
# masked_fill take 2-6 times as long.
_BITS = {
    torch.float16: torch.int16,
    torch.bfloat16: torch.int16,
    torch.float32: torch.int32,
    torch.float64: torch.int64,
}


def _host(device: torch.device) -> bool:
    """True where reading a value costs nothing (CPU): blocks and small fixes by value. On
    other devices one block, and nothing is read back."""
    return device.type == "cpu"


def sum_is_finite(t: Tensor) -> bool:
    """False if ``t`` holds a NaN or ±Inf (a sum propagates both); also False, rarely, when a
    sum of finite values overflows, which the caller settles by scanning the input."""
    return math.isfinite(float(t.sum()))


def _shifts(
    lengths: Tensor, perm: Tensor, offsets: Tensor | None
) -> tuple[Tensor | None, Tensor | None]:
    """(batch,) shifts of each sample's own clip and of its partner: the shorter of the pair
    moves right by its offset, the longer stays. ``None``: every clip starts at 0."""
    if offsets is None:
        return None, None
    self_shorter = lengths < lengths[perm]
    return torch.where(self_shorter, offsets, 0), torch.where(self_shorter, 0, offsets)


@dataclass
class _Side:
    """One operand of the blocked mix: where its windows start (clamped at 0; the few that
    start earlier are listed in ``before`` with their true start), the step-pattern rows of its
    mask, its fill bits (``None`` for +0.0), and, when nothing is shifted, the rows it is."""

    start: Tensor
    before: list[tuple[int, int]]
    mask: tuple[Tensor | None, Tensor]
    fill: Tensor | None
    rows: Tensor | None = None


def masked_mix_blocks(
    x: Tensor,
    w: Tensor | float,
    perm: Tensor,
    lengths: Tensor,
    offsets: Tensor | None,
    fill: Tensor,
    zero_fill: bool,
    out: Tensor | None,
    check: bool,
) -> tuple[Tensor, bool]:
    """The length-aware mix without temporaries the size of the batch.

    Each output sample is ``lerp(partner, own, w)`` of two windows of the flattened batch (a
    clip shifted right by s is the window that starts s positions before it; channels shift
    together), masked to each clip's valid samples by an AND with int8 step patterns: row
    ``t - s`` of ``steps`` is -1 from position s on, row ``t - e`` of ``ends`` is -1 before e.
    Sizes come from the shapes only. CPU works block by block in cache, by whole samples, or
    by channel rows and column chunks when a sample is bigger than a block.
    """
    b, t = x.shape[0], x.shape[-1]
    c = x[0].numel() // t
    dev = x.device
    if out is None:
        out = torch.empty_like(x, memory_format=torch.contiguous_format)
    xf = x.reshape(-1)
    sample_bytes = c * t * x.element_size()
    whole = not _host(dev) or sample_bytes <= _block_bytes(b * sample_bytes)
    span, chans = (c * t, c) if whole else (t, 1)
    items = b if whole else b * c

    def per_item(v: Tensor) -> Tensor:
        return v if whole else v.repeat_interleave(c)

    margin = 0 if _host(dev) else t  # on a GPU a margin, instead of fixing windows by value

    def side(sample: Tensor, shift: Tensor | None, length: Tensor, fill_v: Tensor) -> _Side:
        start = sample * (c * t) - (0 if shift is None else shift) + margin
        if not whole:
            start = (start.view(b, 1) + torch.arange(c, device=dev) * t).reshape(items)
        # Indices clamped: offsets out of range (validate=False) give wrong masks, not errors.
        mask = _mask_index(shift, length, t, per_item)
        fill_bits = None if zero_fill else per_item(fill_v.contiguous().view(_BITS[x.dtype]))
        return _Side(start.clamp_min(0), _before_first(start), mask, fill_bits)

    own_shift, partner_shift = _shifts(lengths, perm, offsets)
    own = side(torch.arange(b, device=dev), own_shift, lengths, fill)
    partner = side(perm, partner_shift, lengths[perm], fill[perm])
    if offsets is None:  # nothing shifted: the own windows are the rows themselves
        own.rows = xf.view(items, span)
    src = xf
    if margin:
        src = x.new_empty(margin + xf.numel())
        src[margin:] = xf
    steps = torch.zeros(2 * t, dtype=torch.int8, device=dev)
    steps[t:] = -1
    patterns = (steps.unfold(0, t, 1), torch.bitwise_not(steps).unfold(0, t, 1))
    wr = w if isinstance(w, float) else per_item(w).view(items, 1, 1)
    blocks = list(_blocks(items, t, span, x.element_size(), dev))
    # One set of block buffers, reused: a fresh MiB per block would page-fault every time.
    rows, cols = blocks[0][1] - blocks[0][0], blocks[0][3] - blocks[0][2]
    own_buf = x.new_empty(rows, span if whole else cols)
    mask8 = torch.empty(3, rows, cols, dtype=torch.int8, device=dev)
    spare = None if zero_fill else torch.empty(rows, 1, cols, dtype=_BITS[x.dtype], device=dev)
    out_items, windows = out.view(items, span), src.unfold(0, span, 1)
    finite = True
    for i0, i1, c0, c1 in blocks:
        r, k = i1 - i0, c1 - c0
        d0, d1 = (0, span) if whole else (c0, c1)
        o, own_b = out_items[i0:i1, d0:d1], own_buf[:r, : d1 - d0]
        scratch = (mask8[:, :r, :k], None if spare is None else spare[:r, :, :k])
        block = (i0, i1, c0, c1, d0, d1, chans)
        _take(partner, windows, src, patterns, block, o, scratch)
        _take(own, windows, src, patterns, block, own_b, scratch)
        o.view(r, chans, k).lerp_(
            own_b.view(r, chans, k), wr if isinstance(wr, float) else wr[i0:i1]
        )
        if check and finite:
            finite = sum_is_finite(o)
    return out, finite


def _take(
    side: _Side,
    windows: Tensor,
    src: Tensor,
    patterns: tuple[Tensor, Tensor],
    block: tuple[int, ...],
    dst: Tensor,
    scratch: tuple[Tensor, Tensor | None],
) -> None:
    """``dst`` = the side's windows of items ``i0:i1`` (data columns ``d0:d1``, time columns
    ``c0:c1``), each masked to its clip: +0.0 outside, or the fill bits if any."""
    i0, i1, c0, c1, d0, d1, chans = block
    (steps, ends), (mask8, spare) = patterns, scratch
    head, tail = side.mask
    torch.index_select(ends[:, c0:c1], 0, tail[i0:i1], out=mask8[0])
    if head is not None:
        torch.index_select(steps[:, c0:c1], 0, head[i0:i1], out=mask8[1])
        mask8[0].bitwise_and_(mask8[1])
    m = mask8[0].unsqueeze(1)  # (rows, 1, time): the same for every channel
    bits = dst.view(i1 - i0, chans, c1 - c0).view(_BITS[dst.dtype])
    if side.rows is not None:  # unshifted: copy and mask in one pass
        rows = side.rows[i0:i1, d0:d1].view(i1 - i0, chans, c1 - c0).view(bits.dtype)
        torch.bitwise_and(rows, m, out=bits)
    else:
        torch.index_select(windows[:, d0:d1], 0, side.start[i0:i1], out=dst)
        for k, s in side.before:
            if i0 <= k < i1:  # starts before the first sample: copy what exists
                lo = max(0, -s - d0)
                if d0 + lo < d1:
                    dst[k - i0, lo:].copy_(src[s + d0 + lo : s + d1])
        bits.bitwise_and_(m)
    if side.fill is not None and spare is not None:  # mask 0 leaves bits 0: OR the fill in
        torch.bitwise_not(m, out=mask8[2].unsqueeze(1))
        torch.bitwise_and(mask8[2].unsqueeze(1), side.fill[i0:i1].view(-1, 1, 1), out=spare)
        bits.bitwise_or_(spare)


def _before_first(start: Tensor) -> list[tuple[int, int]]:
    """(item, start) of the windows that start before the first sample (on the host only:
    elsewhere a margin makes this empty without reading values)."""
    if not _host(start.device):
        return []
    neg = (start < 0).nonzero().flatten().tolist()
    return [(k, int(start[k])) for k in neg]


def _mask_index(
    shift: Tensor | None, lengths: Tensor, t: int, per_item
) -> tuple[Tensor | None, Tensor]:
    """Rows of the step patterns at the start and at the end of clips of ``lengths`` shifted
    by ``shift``; no start when nothing is shifted (all start at 0)."""
    if shift is None:
        return None, per_item(t - lengths)
    return per_item((t - shift).clamp(0, t)), per_item((t - shift - lengths).clamp(0, t))


def _block_bytes(total: int) -> int:
    return max(_LENGTHS_MIN_BLOCK_BYTES, min(_LENGTHS_BLOCK_BYTES, total // 4))


def _blocks(items: int, t: int, span: int, itemsize: int, device: torch.device):
    """(item0, item1, col0, col1) blocks, columns counted in time steps: about
    ``_LENGTHS_BLOCK_BYTES`` (at most a quarter of the batch) on CPU, column chunks of items
    longer than that, one block on GPU."""
    if not _host(device):
        yield 0, items, 0, t
        return
    size = _block_bytes(items * span * itemsize)
    if span * itemsize <= size:
        rows = max(1, size // (span * itemsize))
        for i0 in range(0, items, rows):
            yield i0, min(items, i0 + rows), 0, t
        return
    cols = max(1, size // itemsize)
    for i in range(items):
        for c0 in range(0, t, cols):
            yield i, i + 1, c0, min(t, c0 + cols)


def masked_mix_autograd(
    x: Tensor,
    w: Tensor | float,
    perm: Tensor,
    lengths: Tensor,
    offsets: Tensor | None,
    fill: Tensor,
) -> Tensor:
    """The length-aware mix through differentiable ops (gather and where), for inputs that
    need gradients: the same values as :func:`masked_mix_blocks`, slower."""
    b, t = x.shape[0], x.shape[-1]
    x3 = x.reshape(b, -1, t)
    own_shift, partner_shift = _shifts(lengths, perm, offsets)
    pos = torch.arange(t, device=x.device)

    def placed(rows: Tensor, shift: Tensor | None) -> Tensor:
        src = pos.expand(b, t) if shift is None else pos - shift.view(-1, 1)  # sample at pos
        valid = (src >= 0) & (src < lengths[rows].view(-1, 1))
        idx = src.clamp(0, t - 1).unsqueeze(1).expand(b, x3.shape[1], t)
        taken = x3.index_select(0, rows).gather(2, idx)
        return torch.where(valid.unsqueeze(1), taken, fill[rows].view(b, 1, 1))

    rows = torch.arange(b, device=x.device)
    weight = w if isinstance(w, float) else w.view(b, 1, 1)
    return torch.lerp(placed(perm, partner_shift), placed(rows, own_shift), weight).view_as(x)


def broadcast_weights(
    lam: Tensor | float, batch_size: int, ndim: int, like: Tensor
) -> Tensor | float:
    """lam as a float or a (batch, 1, ..., 1) tensor in the dtype and device of ``like``."""
    if not isinstance(lam, Tensor):
        return float(lam)
    if lam.ndim == 0:
        lam = lam.expand(batch_size)
    return lam.to(device=like.device, dtype=like.dtype).view(batch_size, *([1] * (ndim - 1)))


def lerp_rows(
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
    w = broadcast_weights(lam, b, 2, x2)
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
    view = padded_windows(x3, lengths, fill, left, right)
    if rows is None:
        rows = torch.arange(x3.shape[0], device=x3.device)
    return view[rows, :, left - shift]


def padded_windows(x3: Tensor, lengths: Tensor, fill: Tensor, left: int, right: int) -> Tensor:
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
