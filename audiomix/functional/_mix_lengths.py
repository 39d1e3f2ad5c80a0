"""The length-aware mix: clips of different lengths, placed and silenced, block by block.

Private to :func:`audiomix.functional.mix`, which validates the arguments and calls
:func:`mix_lengths_blocks` (or :func:`mix_lengths_autograd` when gradients are needed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

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


def mix_lengths_blocks(
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
    if side.fill is not None:  # where the mask is 0 the bits are 0: OR the fill in
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


def mix_lengths_autograd(
    x: Tensor,
    w: Tensor | float,
    perm: Tensor,
    lengths: Tensor,
    offsets: Tensor | None,
    fill: Tensor,
) -> Tensor:
    """The length-aware mix through differentiable ops (gather and where), for inputs that
    need gradients: the same values as :func:`mix_lengths_blocks`, slower."""
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
