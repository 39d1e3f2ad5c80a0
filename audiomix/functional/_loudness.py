"""Per-clip loudness normalisation, so that a mix at λ is not dominated by the louder clip."""

from __future__ import annotations

import torch
from torch import Tensor

from .._validation import check_audio, check_lengths
from ._alignment import lengths_to_mask


def rms_db(waveform: Tensor, *, lengths: Tensor | None = None, eps: float = 1e-10) -> Tensor:
    """Root-mean-square level of each clip in dB (re 1.0), over its valid samples.

    Args:
        waveform (Tensor): (batch, ..., time).
        lengths (Tensor or None, optional): (batch,) valid lengths. (Default: all valid)
        eps (float, optional): power floor, so silence gives ``10 * log10(eps)``.

    Returns:
        Tensor: (batch,) float32 levels in dB.
    """
    check_audio(waveform, "waveform", min_ndim=1, layout="(batch, ..., time)", check_finite=False)
    b, t = waveform.shape[0], waveform.shape[-1]
    power = waveform.float().square().reshape(b, -1, t).mean(dim=1)  # (b, t)
    if lengths is None:
        mean_power = power.mean(dim=1)
    else:
        check_lengths(lengths, b, t)
        mask = lengths_to_mask(lengths.to(power.device), t)
        mean_power = (power * mask).sum(dim=1) / lengths.to(power.device, power.dtype)
    return 10.0 * torch.log10(mean_power.clamp_min(eps))


def normalize_rms(
    waveform: Tensor,
    *,
    target_db: float = -20.0,
    lengths: Tensor | None = None,
    max_gain_db: float = 40.0,
    eps: float = 1e-10,
) -> Tensor:
    """Scales each clip to the same RMS level.

    Mixup's label says λ, but the ear (and a model) hears the energy ratio: mixing a clip 20 dB
    louder than its partner at λ = 0.5 yields mostly the loud clip. Normalising each clip first
    makes the audible share follow λ.

    Args:
        waveform (Tensor): (batch, ..., time).
        target_db (float, optional): RMS level to reach, dB re 1.0. (Default: ``-20.0``)
        lengths (Tensor or None, optional): (batch,) valid lengths; the level is measured on
            valid samples only.
        max_gain_db (float, optional): largest boost, so near-silent clips are not blown up
            into noise. (Default: ``40.0``)
        eps (float, optional): power floor. (Default: ``1e-10``)

    Returns:
        Tensor: (batch, ..., time), same dtype; a new tensor.

    Example:
        >>> x = torch.randn(4, 16000) * torch.tensor([[0.01], [0.1], [1.0], [3.0]])
        >>> rms_db(normalize_rms(x, target_db=-20.0)).round()
        tensor([-20., -20., -20., -20.])
    """
    if max_gain_db < 0:
        raise ValueError(f"`max_gain_db` must be >= 0, but got {max_gain_db}.")
    level = rms_db(waveform, lengths=lengths, eps=eps)
    gain_db = (target_db - level).clamp_max(max_gain_db)
    gain = torch.pow(10.0, gain_db / 20.0).view(-1, *[1] * (waveform.ndim - 1))
    if waveform.dtype in (torch.float16, torch.bfloat16):
        # A gain beyond 65504 (96 dB) is Inf in float16, although its product may not be.
        return (waveform.float() * gain).to(waveform.dtype)
    return waveform * gain.to(waveform.dtype)
