"""Decibel conversions with per-example dynamic range."""

from __future__ import annotations

import math

import torch
from torch import Tensor


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
