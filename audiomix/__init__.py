"""audiomix: mixup for audio in PyTorch.

Mix waveforms or log-mel spectrograms of different lengths with Beta(α, α) weights and
correct targets. Modules hold configuration and randomness; :mod:`audiomix.functional` holds
the pure functions they call.
"""

from . import data, functional
from ._views import View
from .chain import Chain, TrainingOnly, WithLengths
from .functional import MixParams
from .losses import SoftTargetCrossEntropy
from .manifold import ManifoldMixup
from .transforms import (
    BCMix,
    LogMelSpectrogram,
    RandomChoiceMix,
    SNRMix,
    SpectrogramCutMix,
    SpectrogramMixup,
    WaveformCutMix,
    WaveformMixup,
)

__version__ = "0.1.0"

__all__ = [
    "BCMix",
    "Chain",
    "LogMelSpectrogram",
    "ManifoldMixup",
    "MixParams",
    "RandomChoiceMix",
    "SNRMix",
    "SoftTargetCrossEntropy",
    "SpectrogramCutMix",
    "SpectrogramMixup",
    "TrainingOnly",
    "View",
    "WaveformCutMix",
    "WaveformMixup",
    "WithLengths",
    "data",
    "functional",
]
