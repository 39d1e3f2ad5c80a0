"""audiomix: mixup for audio in PyTorch.

Mix waveforms or log-mel spectrograms of different lengths with Beta(α, α) weights and
correct targets. Modules hold configuration and randomness; :mod:`audiomix.functional` holds
the pure functions they call.
"""

from . import functional
from .functional import MixParams
from .losses import SoftTargetCrossEntropy
from .transforms import LogMelSpectrogram, SpectrogramMixup, WaveformMixup

__version__ = "0.1.0"

__all__ = [
    "LogMelSpectrogram",
    "MixParams",
    "SoftTargetCrossEntropy",
    "SpectrogramMixup",
    "WaveformMixup",
    "functional",
]
