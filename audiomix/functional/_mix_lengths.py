"""The length-aware mix: clips of different lengths, placed and silenced, block by block.

Private to :func:`audiomix.functional.mix`, which validates the arguments and calls
:func:`mix_lengths_blocks` (or :func:`mix_lengths_autograd` when gradients are needed).
"""

from __future__ import annotations

import math

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
    together), masked to each clip's valid samples by an AND with an int8 mask window: ``q``
    holds, per sample, t zeros then its valid mask, so its window at ``t - s`` is the mask
    shifted by s. Sizes come from the shapes only. CPU works block by block in cache, by whole
    samples, or by channel rows and column chunks when a sample is bigger than a block.
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

    def starts(sample: Tensor, shift: Tensor | None) -> Tensor:  # flat start of each window
        first = sample * (c * t) - (0 if shift is None else shift)
        if whole:
            return first
        return (first.view(b, 1) + torch.arange(c, device=dev) * t).reshape(items)

    own_shift, partner_shift = _shifts(lengths, perm, offsets)
    own_start = starts(torch.arange(b, device=dev), own_shift)
    partner_start = starts(perm, partner_shift)
    # A clip's mask: valid from its shift on, up to shift + length; indices clamped so that
    # offsets out of range (validate=False) give wrong masks, not an indexing error.
    own_mask = _mask_index(own_shift, lengths, t, per_item)
    partner_mask = _mask_index(partner_shift, lengths[perm], t, per_item)
    src = xf
    if not _host(dev):  # a margin instead of fixing the first window by value: no sync
        src = x.new_empty(t + xf.numel())
        src[t:] = xf
        own_start, partner_start = own_start + t, partner_start + t
    windows = src.unfold(0, span, 1)
    before = {"own": _before_first(own_start), "partner": _before_first(partner_start)}
    own_start, partner_start = own_start.clamp_min(0), partner_start.clamp_min(0)
    steps = torch.zeros(2 * t, dtype=torch.int8, device=dev)
    steps[t:] = -1
    steps = steps.unfold(0, t, 1)  # row t - s: -1 from position s on
    bits = _BITS[x.dtype]
    fills = None
    if not zero_fill:
        fills = (per_item(fill.contiguous().view(bits)), per_item(fill[perm].contiguous().view(bits)))
    wr = w if isinstance(w, float) else per_item(w).view(items, 1, 1)
    own_items = xf.view(items, span) if offsets is None else None
    out_items = out.view(items, span)
    blocks = list(_blocks(items, t, span, x.element_size(), dev))
    # One set of block buffers, reused: a fresh MiB per block would page-fault every time.
    rows, cols = blocks[0][1] - blocks[0][0], blocks[0][3] - blocks[0][2]
    own_buf = x.new_empty(rows, span if whole else cols)
    mask8 = torch.empty(2, rows, cols, dtype=torch.int8, device=dev)
    mask = torch.empty(rows, 1, cols, dtype=bits, device=dev)
    spare = None if zero_fill else torch.empty_like(mask)
    finite = True
    for i0, i1, c0, c1 in blocks:
        r, k = i1 - i0, c1 - c0
        d0, d1 = (0, span) if whole else (c0, c1)
        o, own, m = out_items[i0:i1, d0:d1], own_buf[:r, : d1 - d0], mask[:r, :, :k]
        sp = None if spare is None else spare[:r, :, :k]
        o3, own3 = o.view(r, chans, k), own.view(r, chans, k)
        _masked_windows(windows, src, partner_start[i0:i1], d0, d1, o, _in(before['partner'], i0, i1))
        _gather_mask(steps, partner_mask, i0, i1, c0, c1, mask8[:, :r, :k], m)
        _apply_mask(o3.view(bits), m, None if fills is None else (sp, fills[1][i0:i1]))
        _gather_mask(steps, own_mask, i0, i1, c0, c1, mask8[:, :r, :k], m)
        own_fill = None if fills is None else (sp, fills[0][i0:i1])
        if own_items is not None:  # unshifted: copy and mask in one pass
            rows_bits = own_items[i0:i1, d0:d1].view(r, chans, k).view(bits)
            torch.bitwise_and(rows_bits, m, out=own3.view(bits))
            _put_fill(own3.view(bits), m, own_fill)
        else:
            _masked_windows(windows, src, own_start[i0:i1], d0, d1, own, _in(before['own'], i0, i1))
            _apply_mask(own3.view(bits), m, own_fill)
        o3.lerp_(own3, wr if isinstance(wr, float) else wr[i0:i1])
        if check and finite:
            finite = sum_is_finite(o)
    return out, finite


def _before_first(start: Tensor) -> list[tuple[int, int]]:
    """(item, start) of the windows that start before the first sample; on GPU a margin
    makes this empty without reading values."""
    if not _host(start.device):
        return []
    neg = (start < 0).nonzero().flatten().tolist()
    return [(k, int(start[k])) for k in neg]


def _in(found: list[tuple[int, int]], i0: int, i1: int) -> list[tuple[int, int]]:
    return [(k - i0, s) for k, s in found if i0 <= k < i1]


def _mask_index(
    shift: Tensor | None, lengths: Tensor, t: int, per_item
) -> tuple[Tensor | None, Tensor]:
    """Rows of the step pattern at the start and at the end of clips of ``lengths`` shifted
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


def _masked_windows(
    windows: Tensor, src: Tensor, start: Tensor, d0: int, d1: int, o: Tensor, before: list[int]
) -> None:
    """``o[k] = windows[start[k], d0:d1]`` with ``start`` clamped at 0; the items in
    ``before`` start before the first sample (only the first, shifted right, on CPU): they get
    what exists, the rest is left to the mask."""
    torch.index_select(windows[:, d0:d1], 0, start, out=o)
    for k, s in before:
        lo = max(0, -s - d0)  # first column of this block with a sample before it
        if d0 + lo < d1:
            o[k, lo:].copy_(src[s + d0 + lo : s + d1])


def _gather_mask(
    steps: Tensor,
    index: tuple[Tensor | None, Tensor],
    i0: int,
    i1: int,
    c0: int,
    c1: int,
    mask8: Tensor,
    mask: Tensor,
) -> None:
    """``mask[k, 0]`` of items ``i0:i1``, columns ``c0:c1``: before the end (NOT the step at
    the end) and, if shifted, from the start on (the step at the start), in int8, then widened
    to the data's width."""
    head_index, tail_index = index
    torch.index_select(steps[:, c0:c1], 0, tail_index[i0:i1], out=mask8[0])
    mask8[0].bitwise_not_()
    if head_index is not None:
        torch.index_select(steps[:, c0:c1], 0, head_index[i0:i1], out=mask8[1])
        mask8[0].bitwise_and_(mask8[1])
    mask.copy_(mask8[0].unsqueeze(1))


def _apply_mask(
    o_bits: Tensor, mask: Tensor, fill: tuple[Tensor, Tensor] | None
) -> None:
    """Keeps ``o`` where ``mask`` is -1 and makes it +0.0 elsewhere (then ``fill``, if given)."""
    o_bits.bitwise_and_(mask)
    _put_fill(o_bits, mask, fill)


def _put_fill(o_bits: Tensor, mask: Tensor, fill: tuple[Tensor, Tensor] | None) -> None:
    """Writes each row's fill bits where ``mask`` is 0 (those bits are all zero already);
    ``fill`` is a scratch buffer shaped like ``mask`` and the (rows,) fill bits."""
    if fill is not None:
        spare, bits = fill
        torch.bitwise_not(mask, out=spare)
        spare.bitwise_and_(bits.view(-1, 1, 1))
        o_bits.bitwise_or_(spare)


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
