"""nn.Module front ends and mixing transforms."""

from ._logmel import LogMelSpectrogram
from ._mixup import SpectrogramMixup, WaveformMixup

__all__ = ["LogMelSpectrogram", "SpectrogramMixup", "WaveformMixup"]
