"""Transform chains where labels (and lengths) follow the audio through mixing.

``nn.Sequential`` passes one tensor from module to module, so a mixing module in it has no way
to receive the labels, and its mixed targets have no way out. :class:`Chain` is a
``Sequential`` that carries ``(x, labels, lengths)``: plain transforms (torchaudio's
``MelSpectrogram``, ``AmplitudeToDB``, ``FrequencyMasking``, ...) get ``x`` only, mixing modules
get all three, and the valid lengths are converted whenever a transform changes the time axis
(samples to frames, or a new sample rate). In eval mode the chain skips its training-only steps
(random augmentations), so the same chain is the clean front end for validation.
"""

from ._chain import Chain
from ._steps import TrainingOnly, WithLengths

__all__ = ["Chain", "TrainingOnly", "WithLengths"]
