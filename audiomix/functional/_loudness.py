"""Per-clip loudness normalisation, so that a mix at λ is not dominated by the louder clip."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from .._arrays import as_tensor
from .._validation import check_audio, check_lengths
from ._alignment import lengths_to_mask


def rms_db(
    waveform: Tensor | np.ndarray,
    *,
    lengths: Tensor | np.ndarray | None = None,
    eps: float = 1e-10,
) -> Tensor:
    """Root-mean-square level of each clip in dB (re 1.0), over its valid samples.

    Args:
        waveform (Tensor or NumPy array): (batch, ..., time).
        lengths (Tensor, NumPy array or None, optional): (batch,) valid lengths.
            (Default: all valid)
        eps (float, optional): power floor, so silence gives ``10 * log10(eps)``.

    Returns:
        Tensor: (batch,) float32 levels in dB.

    Example:
        >>> import numpy as np
        >>> rms_db(np.full((1, 100), 0.1, dtype=np.float32))
        tensor([-20.])
    """
    wave: Tensor = as_tensor(waveform, "waveform")
    valid: Tensor | None = as_tensor(lengths, "lengths")
    check_audio(wave, "waveform", min_ndim=1, layout="(batch, ..., time)", check_finite=False)
    if valid is not None:
        check_lengths(valid, wave.shape[0], wave.shape[-1])
    power = mean_power(wave, valid).float()
    return 10.0 * torch.log10(power.clamp_min(eps))


def mean_power(waveform: Tensor, lengths: Tensor | None = None) -> Tensor:
    """(batch,) mean square over each clip's valid samples (all channels), unchecked.

    Computed in float32, or float64 for float64 input; padding is ignored whatever it holds.

    Args:
        waveform (Tensor): (batch, ..., time).
        lengths (Tensor or None, optional): (batch,) valid lengths. (Default: all valid)

    Returns:
        Tensor: (batch,) float32 (float64 for float64 input).
    """
    work = waveform if waveform.dtype == torch.float64 else waveform.float()
    b, t = waveform.shape[0], waveform.shape[-1]
    power = work.square().reshape(b, -1, t).mean(dim=1)  # (b, t)
    if lengths is None:
        return power.mean(dim=1)
    mask = lengths_to_mask(lengths.to(power.device), t)
    return torch.where(mask, power, 0.0).sum(dim=1) / lengths.to(power.device, power.dtype)


def normalize_rms(
    waveform: Tensor | np.ndarray,
    *,
    target_db: float = -20.0,
    lengths: Tensor | np.ndarray | None = None,
    max_gain_db: float = 40.0,
    eps: float = 1e-10,
) -> Tensor:
    """Scales each clip to the same RMS level.

    Mixup's label says λ, but the ear (and a model) hears the energy ratio: mixing a clip 20 dB
    louder than its partner at λ = 0.5 yields mostly the loud clip. Normalising each clip first
    makes the audible share follow λ.

    Args:
        waveform (Tensor or NumPy array): (batch, ..., time); an array is read, never written.
        target_db (float, optional): RMS level to reach, dB re 1.0. (Default: ``-20.0``)
        lengths (Tensor, NumPy array or None, optional): (batch,) valid lengths; the level is
            measured on valid samples only.
        max_gain_db (float, optional): largest boost, so near-silent clips are not blown up
            into noise. (Default: ``40.0``)
        eps (float, optional): power floor. (Default: ``1e-10``)

    Returns:
        Tensor: (batch, ..., time), same dtype; a new tensor (also for NumPy input).

    Example:
        >>> x = torch.randn(4, 16000) * torch.tensor([[0.01], [0.1], [1.0], [3.0]])
        >>> rms_db(normalize_rms(x, target_db=-20.0)).round()
        tensor([-20., -20., -20., -20.])
    """
    if max_gain_db < 0:
        raise ValueError(f"`max_gain_db` must be >= 0, but got {max_gain_db}.")
    wave: Tensor = as_tensor(waveform, "waveform")
    level = rms_db(wave, lengths=lengths, eps=eps)
    gain_db = (target_db - level).clamp_max(max_gain_db)
    gain = torch.pow(10.0, gain_db / 20.0).view(-1, *[1] * (wave.ndim - 1))
    if wave.dtype in (torch.float16, torch.bfloat16):
        # A gain beyond 65504 (96 dB) is Inf in float16, although its product may not be.
        return (wave.float() * gain).to(wave.dtype)
    return wave * gain.to(wave.dtype)
