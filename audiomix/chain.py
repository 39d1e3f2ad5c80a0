"""Transform chains where labels (and lengths) follow the audio through mixing.

``nn.Sequential`` passes one tensor from module to module, so a mixing module in it has no way
to receive the labels, and its mixed targets have no way out. :class:`Chain` is a
``Sequential`` that carries ``(x, labels, lengths)``: plain transforms (torchaudio's
``MelSpectrogram``, ``AmplitudeToDB``, ``FrequencyMasking``, ...) get ``x`` only, mixing modules
get all three, and the valid lengths are converted whenever a transform changes the time axis
(samples to frames, or a new sample rate). In eval mode the chain skips its training-only steps
(random augmentations), so the same chain is the clean front end for validation.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torchaudio
from torch import Tensor, nn

from ._arrays import as_tensor
from ._settings import ForwardsSchedule
from ._validation import check_lengths
from .functional import frame_lengths
from .transforms import Mixer

__all__ = ["Chain", "TrainingOnly", "WithLengths"]

_T = torchaudio.transforms
#: torchaudio's random augmentations: none of them looks at ``.training``.
_TORCHAUDIO_TRAINING_ONLY = (
    _T.FrequencyMasking,
    _T.TimeMasking,
    _T.SpecAugment,
    _T.SpeedPerturbation,
)
#: torchaudio's transforms called as ``m(x, lengths)`` that return ``(x, lengths)``.
_TORCHAUDIO_CARRYING_LENGTHS = (_T.Speed, _T.SpeedPerturbation)


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


class TrainingOnly(nn.Module):
    """Marks a transform as a training-time augmentation: in eval mode it is skipped.

    In a :class:`Chain` in eval mode (``chain.eval()``) the step is not run at all, so it draws
    nothing and the lengths stay as they are; called on its own in eval mode it returns its
    input. In training mode it is the wrapped module. A module class of yours can say the same
    with a class attribute ``training_only = True`` (and skip itself in eval mode if it is used
    outside a chain). torchaudio's random augmentations (``FrequencyMasking``,
    ``TimeMasking``, ``SpecAugment``, ``SpeedPerturbation``) are known to :class:`Chain`
    without the wrapper.

    Args:
        module (nn.Module): the augmentation (not a mixing module: those already mix only in
            training mode and return unmixed targets in eval mode).

    Example:
        >>> class Hiss(nn.Module):  # an augmentation of yours
        ...     def forward(self, x):
        ...         return x + 1e-3 * torch.randn_like(x)
        >>> chain = Chain(TrainingOnly(Hiss()), WaveformMixup(num_classes=2, generator=0))
        >>> x = torch.randn(2, 100)
        >>> y, targets = chain.eval()(x, torch.tensor([0, 1]))
        >>> torch.equal(y, x), targets.tolist()
        (True, [[1.0, 0.0], [0.0, 1.0]])
    """

    training_only = True

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        if not isinstance(module, nn.Module):
            raise TypeError(f"`module` must be an nn.Module, but got {type(module).__name__}.")
        if getattr(module, "mixes_labels", False):
            raise TypeError(
                f"`module` ({type(module).__name__}) mixes labels; mixing modules already mix "
                "only in training mode (in eval mode they return unmixed targets): put it in "
                "the Chain as it is."
            )
        self.module = module

    @property
    def carries_lengths(self) -> bool:
        return _carries_lengths(self.module)

    def forward(self, x: Tensor, *args: Any, **kwargs: Any) -> Any:
        if self.training:
            return self.module(x, *args, **kwargs)
        if self.carries_lengths:
            return x, args[0] if args else kwargs.get("lengths")
        return x


def _training_only(module: nn.Module) -> bool:
    if getattr(module, "training_only", False) or isinstance(module, _TORCHAUDIO_TRAINING_ONLY):
        return True
    return isinstance(module, WithLengths) and _training_only(module.module)


def _carries_lengths(module: nn.Module) -> bool:
    return bool(getattr(module, "carries_lengths", False)) or isinstance(
        module, _TORCHAUDIO_CARRYING_LENGTHS
    )


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
    if isinstance(module, _T.Spectrogram):
        return lambda n: _stft_frames(n, module)
    if isinstance(module, _T.MelSpectrogram):
        return lambda n: _stft_frames(n, module.spectrogram)
    if isinstance(module, _T.MFCC):
        return lambda n: _stft_frames(n, module.MelSpectrogram.spectrogram)
    if isinstance(module, _T.Resample):
        orig, new = int(module.orig_freq), int(module.new_freq)
        g = math.gcd(orig, new)
        orig, new = orig // g, new // g
        # ceil(n * new / orig) in integers, as torchaudio sizes its output.
        return lambda n: torch.div(n * new + orig - 1, orig, rounding_mode="floor")
    return None


class Chain(ForwardsSchedule, nn.Sequential):
    r"""``nn.Sequential`` for augmentation pipelines with mixing: labels follow the mix.

    Call as ``x, targets = chain(x, labels)`` or
    ``x, targets, lengths = chain(x, labels, lengths)``. Each module in turn:

    * modules with ``mixes_labels = True`` (every :class:`~audiomix.transforms.Mixer`:
      :class:`WaveformMixup`, :class:`SpectrogramMixup`, the CutMix, SNR and BC modules;
      :class:`RandomChoiceMix`, a nested :class:`Chain`, or a module of yours) are called as
      ``m(x, labels[, lengths])`` and their targets and lengths replace the labels and
      lengths;
    * modules that take and return lengths, torchaudio's ``Speed`` and ``SpeedPerturbation``
      or any module with ``carries_lengths = True``, are called as ``m(x, lengths)`` (``m(x)``
      without lengths) and return ``(x, lengths)``; the lengths they return go on;
    * every other module is called as ``m(x)`` and must return one tensor. If it changes the
      length of the last axis, the lengths are converted: torchaudio's ``Spectrogram``,
      ``MelSpectrogram``, ``MFCC`` (samples to frames) and ``Resample`` are known, as is any
      module with an ``output_lengths(lengths)`` or ``frame_lengths(lengths)`` method (e.g.
      :class:`LogMelSpectrogram`); wrap others in :class:`WithLengths`. An unknown module that
      keeps the time axis keeps the lengths.

    Without a mixing module the labels come out as they went in. Nothing is done in place; a
    chain is an ``nn.Module`` (buffers move with ``.to()``, RNG states are in ``state_dict()``).
    Setting ``chain.alpha`` or ``chain.p`` sets it on every mixer in the chain (``chain.p =
    0.0`` stops all mixing, in running DataLoader workers too); reading gives their common
    value.

    **Training and evaluation.** After ``chain.eval()`` mixing modules pass the audio through
    and return unmixed targets, and training-only steps are skipped (not run, nothing drawn,
    lengths unchanged): torchaudio's random augmentations, which ignore ``.eval()``
    (``FrequencyMasking``, ``TimeMasking``, ``SpecAugment``, ``SpeedPerturbation``), and any
    step wrapped in :class:`TrainingOnly` or with ``training_only = True``. Every other step
    runs in both modes, so one chain gives the same front end (features and lengths) for
    training and validation. A step counts as in eval mode when its own ``training`` flag is
    off, as ``chain.eval()`` leaves it.

    On dB input torchaudio's masks fill with ``mask_value=0``, i.e. 0 dB, louder than speech
    at −60 dB: mask power spectrograms (before ``AmplitudeToDB``), where 0 is silence, as in
    the example.

    Example:
        >>> import torchaudio.transforms as T
        >>> from audiomix import SpectrogramMixup
        >>> chain = Chain(
        ...     T.MelSpectrogram(sample_rate=16000, n_fft=400, hop_length=160, n_mels=40),
        ...     SpectrogramMixup(alpha=0.4, num_classes=10, scale="power", generator=0),
        ...     T.FrequencyMasking(freq_mask_param=8),  # on power: masked bins are silent
        ...     T.AmplitudeToDB(stype="power", top_db=80.0),
        ... )
        >>> x, targets, lengths = chain(torch.randn(4, 16000), torch.arange(4),
        ...                             torch.tensor([16000, 8000, 12000, 4000]))
        >>> x.shape, targets.shape, lengths.tolist()
        (torch.Size([4, 40, 101]), torch.Size([4, 10]), [101, 51, 76, 101])
        >>> clean, labels, _ = chain.eval()(torch.randn(4, 16000), torch.arange(4),
        ...                                 torch.tensor([16000, 8000, 12000, 4000]))
        >>> labels.argmax(1).tolist()  # unmixed, unmasked
        [0, 1, 2, 3]
    """

    mixes_labels = True

    def _scheduled_members(self) -> list[nn.Module]:
        # Setting chain.p or chain.alpha reaches every mixer in it (nested chains included), so
        # that a schedule written for one mixer works on the chain.
        return [m for m in self if isinstance(m, (Mixer, ForwardsSchedule))]

    def forward(  # type: ignore[override]
        self, x: Tensor, labels: Tensor | None = None, lengths: Tensor | None = None
    ) -> tuple[Any, ...]:
        """
        Args:
            x (Tensor or NumPy array): (batch, ..., time) input of the first module.
            labels (Tensor or None, optional): class indices (batch,) or targets
                (batch, num_classes).
            lengths (Tensor, NumPy array or None, optional): (batch,) valid lengths of
                ``x``'s last axis.

        Returns:
            ``(x, targets)``, or ``(x, targets, lengths)`` when ``lengths`` is given.
        """
        x = as_tensor(x, "x")
        lengths = as_tensor(lengths, "lengths")
        if lengths is not None:
            if not isinstance(x, Tensor):
                raise TypeError(f"`x` must be a torch.Tensor, but got {type(x).__name__}.")
            check_lengths(lengths, x.shape[0], x.shape[-1])
        for i, module in enumerate(self):
            if _training_only(module):
                if not module.training:
                    continue
                if isinstance(module, TrainingOnly):
                    module = module.module
            if getattr(module, "mixes_labels", False):
                if lengths is None:
                    x, labels = module(x, labels)
                else:
                    x, labels, lengths = module(x, labels, lengths)
            elif _carries_lengths(module):
                x, lengths = self._carry(i, module, x, lengths)
            else:
                x, lengths = self._plain(i, module, x, lengths)
        if lengths is None:
            return x, labels
        return x, labels, lengths

    @staticmethod
    def _carry(
        i: int, module: nn.Module, x: Tensor, lengths: Tensor | None
    ) -> tuple[Tensor, Tensor | None]:
        out = module(x) if lengths is None else module(x, lengths)
        name = f"Chain[{i}] ({type(module).__name__})"
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise TypeError(
                f"{name} carries lengths, so it must return (x, lengths), but returned "
                f"{type(out).__name__}"
                + (f" of length {len(out)}." if isinstance(out, (tuple, list)) else ".")
            )
        x, new = out
        if lengths is None:
            return x, None
        if not isinstance(new, Tensor) or new.shape != lengths.shape:
            got = f"shape {tuple(new.shape)}" if isinstance(new, Tensor) else type(new).__name__
            raise ValueError(
                f"{name} must return lengths of shape {tuple(lengths.shape)} for the lengths it "
                f"was given, but returned {got}."
            )
        return x, new.clamp(1, x.shape[-1])

    @staticmethod
    def _plain(
        i: int, module: nn.Module, x: Tensor, lengths: Tensor | None
    ) -> tuple[Tensor, Tensor | None]:
        before = x.shape[-1] if isinstance(x, Tensor) and x.ndim else None
        x = module(x)
        if isinstance(x, (tuple, list)):
            raise TypeError(
                f"Chain[{i}] ({type(module).__name__}) returned a {type(x).__name__} of "
                f"{len(x)} elements, but Chain passes one tensor from step to step. If it is "
                "called as `m(x, lengths)` and returns `(x, lengths)`, as torchaudio's Speed, "
                "set `carries_lengths = True` on it; otherwise wrap it so that it returns the "
                "tensor."
            )
        if lengths is None:
            return x, None
        rule = _known_lengths_rule(module)
        if rule is not None:
            return x, rule(lengths).clamp(1, x.shape[-1])
        if x.shape[-1] != before:
            raise ValueError(
                f"Chain[{i}] ({type(module).__name__}) changed the time axis from {before} "
                f"to {x.shape[-1]}, and Chain does not know how the lengths follow; wrap it "
                "as `WithLengths(module, lengths_fn)`."
            )
        return x, lengths
