"""Spectrogram helpers: decibel conversions with per-example dynamic range, frame counts."""

from __future__ import annotations

import math
import numbers

import torch
from torch import Tensor


def frame_lengths(
    lengths: Tensor, *, n_fft: int, hop_length: int, center: bool = True, pad: int = 0
) -> Tensor:
    r"""Number of STFT frames that ``torch.stft`` (and torchaudio's ``Spectrogram``) gives a clip.

    A clip of ``L`` samples is first padded by ``pad`` zeros on each side (torchaudio's
    ``pad``), ``n = L + 2 * pad``. With ``center=True``, ``torch.stft`` pads ``n_fft // 2``
    samples on each side, so ``1 + (n + 2 * (n_fft // 2) - n_fft) // hop_length`` frames: for an
    odd ``n_fft`` that is one less than ``1 + n // hop_length`` whenever ``n`` is a multiple of
    the hop. With ``center=False``, ``1 + (n - n_fft) // hop_length``.

    Applied to the valid lengths of a padded batch, this is the number of frames of each clip
    whose first sample is one of its own. A clip shorter than ``n_fft`` with ``center=False``
    has no frame made of its samples only; it still gets 1 frame (the first, which holds all
    of it), so that every clip keeps a valid length >= 1.

    Args:
        lengths (Tensor): (batch,) (or any shape) integer lengths in samples, >= 0.
        n_fft (int): FFT size, >= 1.
        hop_length (int): hop between frames, >= 1.
        center (bool, optional): frames centred as ``torch.stft(center=True)``.
            (Default: ``True``)
        pad (int, optional): zeros added on each side before the STFT. (Default: ``0``)

    Returns:
        Tensor: (batch,) int64 frame counts, >= 1, on the device of ``lengths``.

    Example:
        >>> frame_lengths(torch.tensor([4000, 3999]), n_fft=401, hop_length=160)
        tensor([25, 25])
    """
    for name, value, low in (("n_fft", n_fft, 1), ("hop_length", hop_length, 1), ("pad", pad, 0)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
            raise ValueError(f"`{name}` must be an integer >= {low}, but got {value!r}.")
    if not isinstance(lengths, Tensor):
        raise TypeError(f"`lengths` must be a torch.Tensor, but got {type(lengths).__name__}.")
    if lengths.is_floating_point() or lengths.is_complex() or lengths.dtype == torch.bool:
        raise TypeError(f"`lengths` must have an integer dtype, but got {lengths.dtype}.")
    if lengths.numel() and int(lengths.min()) < 0:
        raise ValueError(f"`lengths` must be >= 0, but got {int(lengths.min())}.")
    n = lengths.to(torch.int64) + 2 * int(pad)
    if center:
        n = n + 2 * (int(n_fft) // 2)
    frames = torch.div(n - int(n_fft), int(hop_length), rounding_mode="floor") + 1
    return frames.clamp_min(1)


def power_to_db(
    specgram: Tensor,
    *,
    amin: float = 1e-10,
    ref: float = 1.0,
    top_db: float | None = 80.0,
) -> Tensor:
    """Power spectrogram to decibels, ``10 * log10(max(S, amin) / ref)``.

    Unlike ``torchaudio.transforms.AmplitudeToDB``, whose ``top_db`` floor is taken over a
    whole 3-D input (so one loud clip raises the floor of every other clip in a batch), the
    floor here is per spectrogram: ``max - top_db`` over the last two dimensions of each
    example. A batched call therefore equals the per-clip calls.

    Args:
        specgram (Tensor): (..., freq, time) power values, >= 0.
        amin (float, optional): smallest power before the log. (Default: ``1e-10``)
        ref (float, optional): reference power for 0 dB. (Default: ``1.0``)
        top_db (float or None, optional): dynamic range kept below each example's peak;
            ``None`` keeps everything. (Default: ``80.0``)

    Returns:
        Tensor: (..., freq, time) in dB.
    """
    if amin <= 0:
        raise ValueError(f"`amin` must be > 0, but got {amin}.")
    if ref <= 0:
        raise ValueError(f"`ref` must be > 0, but got {ref}.")
    if top_db is not None and top_db < 0:
        raise ValueError(f"`top_db` must be >= 0 or None, but got {top_db}.")
    db = torch.clamp(specgram, min=amin).log10_().mul_(10.0)
    offset = 10.0 * math.log10(max(amin, ref))
    if offset != 0.0:
        db.sub_(offset)
    if top_db is not None:
        if specgram.ndim < 2:
            raise ValueError(
                f"`specgram` must have shape (..., freq, time) for `top_db`, but got "
                f"{tuple(specgram.shape)}."
            )
        floor = db.amax(dim=(-2, -1), keepdim=True) - top_db
        db = torch.maximum(db, floor)
    return db


def db_to_power(specgram_db: Tensor, *, ref: float = 1.0) -> Tensor:
    """Decibels back to power: ``ref * 10 ** (dB / 10)``.

    Args:
        specgram_db (Tensor): (..., freq, time) in dB.
        ref (float, optional): the reference used for the dB values. (Default: ``1.0``)

    Returns:
        Tensor: (..., freq, time) power.
    """
    power = torch.pow(10.0, specgram_db * 0.1)
    return power.mul_(ref) if ref != 1.0 else power
