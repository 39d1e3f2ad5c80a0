"""Transform chains where labels (and lengths) follow the audio through mixing.

``nn.Sequential`` passes one tensor from module to module, so a mixing module in it has no way
to receive the labels, and its mixed targets have no way out. :class:`Chain` is a
``Sequential`` that carries ``(x, labels, lengths)``: plain transforms (torchaudio's
``MelSpectrogram``, ``AmplitudeToDB``, ``FrequencyMasking``, ...) get ``x`` only, mixing modules
get all three, and the valid lengths are converted whenever a transform changes the time axis
(samples to frames, or a new sample rate).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torchaudio
from torch import Tensor, nn

from ._validation import check_lengths
from .functional import frame_lengths

__all__ = ["Chain", "WithLengths"]


class WithLengths(nn.Module):
    """Wraps a transform that changes the time axis and tells :class:`Chain` how lengths follow.

    Args:
        module (nn.Module): the transform; called on ``x`` only.
        lengths_fn (callable): maps (batch,) valid lengths before the transform to lengths
            after it.

    Example:
        >>> pool = WithLengths(nn.AvgPool1d(2), lambda n: torch.div(n, 2, rounding_mode="floor"))
        >>> x, _, lengths = Chain(pool)(torch.randn(2, 1, 8), None, torch.tensor([8, 5]))
        >>> lengths.tolist()
        [4, 2]
    """

    def __init__(self, module: nn.Module, lengths_fn: Callable[[Tensor], Tensor]) -> None:
        super().__init__()
        if not callable(lengths_fn):
            raise TypeError(f"`lengths_fn` must be callable, but got {type(lengths_fn).__name__}.")
        self.module = module
        self.lengths_fn = lengths_fn

    def output_lengths(self, lengths: Tensor) -> Tensor:
        return self.lengths_fn(lengths)

    def forward(self, x: Tensor) -> Tensor:
        return self.module(x)


def _stft_frames(lengths: Tensor, spec: nn.Module) -> Tensor:
    """Valid frames of torchaudio's ``Spectrogram`` for valid lengths in samples."""
    return frame_lengths(
        lengths,
        n_fft=int(spec.n_fft),
        hop_length=int(spec.hop_length),
        center=bool(getattr(spec, "center", True)),
        pad=int(getattr(spec, "pad", 0)),
    )


def _known_lengths_rule(module: nn.Module) -> Callable[[Tensor], Tensor] | None:
    if hasattr(module, "output_lengths"):
        return module.output_lengths
    if hasattr(module, "frame_lengths"):  # audiomix.LogMelSpectrogram
        return module.frame_lengths
    T = torchaudio.transforms
    if isinstance(module, T.Spectrogram):
        return lambda n: _stft_frames(n, module)
    if isinstance(module, T.MelSpectrogram):
        return lambda n: _stft_frames(n, module.spectrogram)
    if isinstance(module, T.MFCC):
        return lambda n: _stft_frames(n, module.MelSpectrogram.spectrogram)
    if isinstance(module, T.Resample):
        orig, new = int(module.orig_freq), int(module.new_freq)
        g = math.gcd(orig, new)
        orig, new = orig // g, new // g
        # ceil(n * new / orig) in integers, as torchaudio sizes its output.
        return lambda n: torch.div(n * new + orig - 1, orig, rounding_mode="floor")
    return None


class Chain(nn.Sequential):
    r"""``nn.Sequential`` for augmentation pipelines with mixing: labels follow the mix.

    Call as ``x, targets = chain(x, labels)`` or
    ``x, targets, lengths = chain(x, labels, lengths)``. Each module in turn:

    * modules with ``mixes_labels = True`` (every :class:`~audiomix.transforms.Mixer`:
      :class:`WaveformMixup`, :class:`SpectrogramMixup`, the CutMix, SNR and BC modules;
      :class:`RandomChoiceMix`, a nested :class:`Chain`, or a module of yours) are called as
      ``m(x, labels[, lengths])`` and their targets and lengths replace the labels and
      lengths;
    * every other module is called as ``m(x)``. If it changes the length of the last axis,
      the lengths are converted: torchaudio's ``Spectrogram``, ``MelSpectrogram``, ``MFCC``
      (samples to frames) and ``Resample`` are known, as is any module with an
      ``output_lengths(lengths)`` or ``frame_lengths(lengths)`` method (e.g.
      :class:`LogMelSpectrogram`); wrap others in :class:`WithLengths`. An unknown module that
      keeps the time axis keeps the lengths.

    Without a mixing module the labels come out as they went in. Nothing is done in place; a
    chain is an ``nn.Module`` (buffers move with ``.to()``, RNG states are in ``state_dict()``).
    Mixing modules mix only in training mode: after ``chain.eval()`` they pass the audio
    through and return unmixed targets, so one chain serves training and validation (other
    random transforms in it, e.g. torchaudio's masking, follow their own rules).

    Example:
        >>> import torchaudio.transforms as T
        >>> from audiomix import SpectrogramMixup
        >>> chain = Chain(
        ...     T.MelSpectrogram(sample_rate=16000, n_fft=400, hop_length=160, n_mels=40),
        ...     T.AmplitudeToDB(top_db=80.0),
        ...     SpectrogramMixup(alpha=0.4, num_classes=10, generator=0),
        ...     T.FrequencyMasking(freq_mask_param=8),
        ... )
        >>> x, targets, lengths = chain(torch.randn(4, 16000), torch.arange(4),
        ...                             torch.tensor([16000, 8000, 12000, 4000]))
        >>> x.shape, targets.shape, lengths.tolist()
        (torch.Size([4, 40, 101]), torch.Size([4, 10]), [101, 51, 76, 101])
    """

    mixes_labels = True

    def forward(  # type: ignore[override]
        self, x: Tensor, labels: Tensor | None = None, lengths: Tensor | None = None
    ) -> tuple[Any, ...]:
        """
        Args:
            x (Tensor): (batch, ..., time) input of the first module.
            labels (Tensor or None, optional): class indices (batch,) or targets
                (batch, num_classes).
            lengths (Tensor or None, optional): (batch,) valid lengths of ``x``'s last axis.

        Returns:
            ``(x, targets)``, or ``(x, targets, lengths)`` when ``lengths`` is given.
        """
        if lengths is not None:
            if not isinstance(x, Tensor):
                raise TypeError(f"`x` must be a torch.Tensor, but got {type(x).__name__}.")
            check_lengths(lengths, x.shape[0], x.shape[-1])
        for i, module in enumerate(self):
            if getattr(module, "mixes_labels", False):
                if lengths is None:
                    x, labels = module(x, labels)
                else:
                    x, labels, lengths = module(x, labels, lengths)
                continue
            before = x.shape[-1] if isinstance(x, Tensor) and x.ndim else None
            x = module(x)
            if lengths is None:
                continue
            rule = _known_lengths_rule(module)
            if rule is not None:
                lengths = rule(lengths).clamp(1, x.shape[-1])
            elif x.shape[-1] != before:
                raise ValueError(
                    f"Chain[{i}] ({type(module).__name__}) changed the time axis from {before} "
                    f"to {x.shape[-1]}, and Chain does not know how the lengths follow; wrap it "
                    "as `WithLengths(module, lengths_fn)`."
                )
        if lengths is None:
            return x, labels
        return x, labels, lengths
