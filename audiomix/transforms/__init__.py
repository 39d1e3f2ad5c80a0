"""nn.Module front ends and mixing transforms."""

from ._base import Mixer, MixerOptions
from ._bc import BCMix
from ._choice import RandomChoiceMix
from ._cutmix import SpectrogramCutMix, WaveformCutMix
from ._logmel import LogMelSpectrogram
from ._mixup import SpectrogramMixup, WaveformMixup
from ._snr import SNRMix

__all__ = [
    "BCMix",
    "LogMelSpectrogram",
    "Mixer",
    "MixerOptions",
    "RandomChoiceMix",
    "SNRMix",
    "SpectrogramCutMix",
    "SpectrogramMixup",
    "WaveformCutMix",
    "WaveformMixup",
]
