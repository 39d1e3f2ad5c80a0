"""Clips of different lengths: padding, cropping, repeating, masks."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from .._arrays import as_tensor
from .._validation import check_choice
from ._sampling import PLACEMENTS

FILLS = ("pad", "repeat")


def _clip_list(clips: Sequence[Tensor | np.ndarray], name: str = "clips") -> list[Tensor]:
    """The clips as tensors (NumPy arrays converted), checked to stack along a new batch axis."""
    if isinstance(clips, (Tensor, np.ndarray)) or not isinstance(clips, Sequence):
        raise TypeError(
            f"`{name}` must be a list of tensors or NumPy arrays, but got {type(clips).__name__}."
        )
    if len(clips) == 0:
        raise ValueError(f"`{name}` is empty: nothing to batch.")
    tensors: list[Tensor] = [as_tensor(c, f"{name}[{i}]") for i, c in enumerate(clips)]
    lead = None
    for i, c in enumerate(tensors):
        if not isinstance(c, Tensor):
            raise TypeError(
                f"`{name}[{i}]` must be a torch.Tensor or a NumPy array, but got "
                f"{type(c).__name__}."
            )
        if c.ndim < 1:
            raise ValueError(f"`{name}[{i}]` must have shape (..., time), but is a scalar.")
        if c.shape[-1] == 0:
            raise ValueError(f"`{name}[{i}]` is empty along time: shape {tuple(c.shape)}.")
        if lead is None:
            lead = c.shape[:-1]
        elif c.shape[:-1] != lead:
            raise ValueError(
                f"`{name}` must share every dimension but time: `{name}[0]` has leading shape "
                f"{tuple(lead)}, `{name}[{i}]` has {tuple(c.shape[:-1])}."
            )
        if c.dtype != tensors[0].dtype or c.device != tensors[0].device:
            raise ValueError(
                f"`{name}` must share dtype and device: `{name}[0]` is {tensors[0].dtype} on "
                f"{tensors[0].device}, `{name}[{i}]` is {c.dtype} on {c.device}."
            )
    return tensors


def lengths_to_mask(lengths: Tensor, max_length: int | None = None) -> Tensor:
    """Boolean mask of the valid (unpadded) positions.

    Args:
        lengths (Tensor): (batch,) integer valid lengths.
        max_length (int or None, optional): mask length. (Default: ``lengths.max()``)

    Returns:
        Tensor: (batch, max_length) bool, ``True`` where ``t < lengths[i]``.

    Example:
        >>> lengths_to_mask(torch.tensor([1, 3]))
        tensor([[ True, False, False],
                [ True,  True,  True]])
    """
    if not isinstance(lengths, Tensor) or lengths.ndim != 1:
        raise ValueError("`lengths` must be a 1-D tensor of shape (batch,).")
    if lengths.is_floating_point() or lengths.dtype == torch.bool:
        raise TypeError(f"`lengths` must have an integer dtype, but got {lengths.dtype}.")
    if max_length is None:
        max_length = int(lengths.max()) if lengths.numel() else 0
    if max_length < 0:
        raise ValueError(f"`max_length` must be >= 0, but got {max_length}.")
    t = torch.arange(max_length, device=lengths.device)
    return t.unsqueeze(0) < lengths.unsqueeze(1)


def mix_lengths(lengths: Tensor, perm: Tensor) -> Tensor:
    """Valid length of each mix: the longer of the sample and its partner.

    Args:
        lengths (Tensor): (batch,) valid lengths.
        perm (Tensor): (batch,) partner indices.

    Returns:
        Tensor: (batch,) ``max(lengths, lengths[perm])``.
    """
    return torch.maximum(lengths, lengths[perm.to(lengths.device)])


def pad_batch(
    clips: Sequence[Tensor | np.ndarray],
    *,
    pad_value: float = 0.0,
    length: int | None = None,
    multiple_of: int | None = None,
) -> tuple[Tensor, Tensor]:
    """Stacks clips of different lengths into one right-padded batch.

    Args:
        clips (list of Tensor or NumPy array): each (..., time_i), same leading shape, dtype
            and device. NumPy arrays are converted (read, never written to).
        pad_value (float, optional): value of the padding. (Default: ``0.0``, silence)
        length (int or None, optional): padded length; must be >= every clip's length (use
            :func:`align` to crop). (Default: the longest clip)
        multiple_of (int or None, optional): round the padded length up to a multiple of this.

    Returns:
        (Tensor, Tensor): the batch (batch, ..., time) and the valid lengths (batch,) int64.

    Example:
        >>> batch, lengths = pad_batch([torch.ones(3), torch.ones(5)])
        >>> batch.shape, lengths.tolist()
        (torch.Size([2, 5]), [3, 5])
    """
    clips = _clip_list(clips)
    lengths = torch.tensor([c.shape[-1] for c in clips], dtype=torch.int64)
    longest = int(lengths.max())
    if length is None:
        length = longest
    elif length < longest:
        raise ValueError(
            f"`length` ({length}) is shorter than the longest clip ({longest}); use "
            "`align(..., length)` to crop."
        )
    if multiple_of is not None:
        if multiple_of < 1:
            raise ValueError(f"`multiple_of` must be >= 1, but got {multiple_of}.")
        length = -(-length // multiple_of) * multiple_of
    first = clips[0]
    out = first.new_full((len(clips), *first.shape[:-1], length), pad_value)
    for i, c in enumerate(clips):
        out[i, ..., : c.shape[-1]] = c
    return out, lengths.to(first.device)


def _start(gap: int, position: str, generator: torch.Generator | None) -> int:
    if position == "start" or gap == 0:
        return 0
    if position == "center":
        return gap // 2
    return int(torch.randint(gap + 1, (), generator=generator))


def align(
    clips: Sequence[Tensor | np.ndarray] | Tensor | np.ndarray,
    length: int,
    *,
    mode: str = "pad",
    placement: str = "start",
    pad_value: float = 0.0,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """Brings clips to exactly ``length`` samples (or frames) and stacks them.

    A longer clip is cropped to a window at ``placement``; a shorter one is placed at
    ``placement`` and the rest is padded with ``pad_value`` (``mode="pad"``) or filled by
    repeating the clip cyclically (``mode="repeat"``). Samples are copied, never resampled.

    Args:
        clips (list of Tensor or NumPy array, or one of them): each (..., time_i); one tensor
            or array is one clip. NumPy arrays are converted (read, never written to).
        length (int): target length, >= 1.
        mode (str, optional): ``"pad"`` or ``"repeat"``. (Default: ``"pad"``)
        placement (str, optional): ``"start"``, ``"center"`` or ``"random"``: where the crop
            window starts, or where a short clip is placed, as everywhere in audiomix.
            (Default: ``"start"``)
        pad_value (float, optional): padding value for ``mode="pad"``. (Default: ``0.0``)
        generator (torch.Generator or None, optional): for ``placement="random"``.

    Returns:
        (Tensor, Tensor): the batch (batch, ..., length) and lengths (batch,) int64: the number
        of original samples each row holds (``min(time_i, length)``, or ``length`` when a
        short clip is repeated).

    Example:
        >>> batch, lengths = align([torch.ones(3), torch.ones(9)], 6, placement="center")
        >>> batch.shape, lengths.tolist()
        (torch.Size([2, 6]), [3, 6])
    """
    if isinstance(clips, (Tensor, np.ndarray)):
        clips = [clips]
    clips = _clip_list(clips)
    if isinstance(length, bool) or not isinstance(length, int) or length < 1:
        raise ValueError(f"`length` must be an int >= 1, but got {length!r}.")
    check_choice(mode, "mode", FILLS)
    check_choice(placement, "placement", PLACEMENTS)
    first = clips[0]
    out = first.new_full((len(clips), *first.shape[:-1], length), pad_value)
    lengths = torch.empty(len(clips), dtype=torch.int64)
    for i, c in enumerate(clips):
        n = c.shape[-1]
        if n >= length:
            s = _start(n - length, placement, generator)
            out[i] = c[..., s : s + length]
            lengths[i] = length
        elif mode == "pad":
            s = _start(length - n, placement, generator)
            out[i, ..., s : s + n] = c
            lengths[i] = n
        else:
            s = _start(length - n, placement, generator)
            # The clip starts at s; the cycle continues to the right and wraps to the left.
            idx = (torch.arange(length, device=c.device) - s) % n
            out[i] = c[..., idx]
            lengths[i] = length
    return out, lengths.to(first.device)
