"""nn.Module front ends and mixing transforms."""

from ._family import BCMix, RandomChoiceMix, SNRMix, SpectrogramCutMix, WaveformCutMix
from ._logmel import LogMelSpectrogram
from ._mixup import SpectrogramMixup, WaveformMixup

__all__ = [
    "BCMix",
    "LogMelSpectrogram",
    "RandomChoiceMix",
    "SNRMix",
    "SpectrogramCutMix",
    "SpectrogramMixup",
    "WaveformCutMix",
    "WaveformMixup",
]
