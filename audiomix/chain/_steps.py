"""The steps of a :class:`~audiomix.Chain`: the wrappers that tell it about a step, and what it
reads from a step.

:class:`WithLengths` states how a transform changes the lengths (and the hop of frame targets);
:class:`TrainingOnly` marks an augmentation that eval mode skips. The functions say whether a
step is training-only (torchaudio's random augmentations are known), whether it takes and
returns lengths (torchaudio's ``Speed``), how many input positions make one output position
(a spectrogram's hop, a resampling ratio) and how valid lengths follow it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import torch
import torchaudio
from torch import Tensor, nn

from ..functional import frame_lengths
from ..functional._frames import check_hop

__all__ = [
    "TrainingOnly",
    "WithLengths",
    "carries_lengths",
    "hop_factor",
    "is_training_only",
    "known_lengths_rule",
]

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
        hop_length (int, float or None, optional): positions before the transform per
            position after it (2 for a pooling by 2), so that a chain's ``target_hop``
            follows. (Default: ``None``: unknown; frame targets cannot pass a step that
            changes the time axis)

    Example:
        >>> pool = WithLengths(nn.AvgPool1d(2), lambda n: torch.div(n, 2, rounding_mode="floor"))
        >>> x, _, lengths = Chain(pool)(torch.randn(2, 1, 8), None, torch.tensor([8, 5]))
        >>> lengths.tolist()
        [4, 2]
    """

    def __init__(
        self,
        module: nn.Module,
        lengths_fn: Callable[[Tensor], Tensor],
        *,
        hop_length: int | float | None = None,
    ) -> None:
        super().__init__()
        if not callable(lengths_fn):
            raise TypeError(f"`lengths_fn` must be callable, but got {type(lengths_fn).__name__}.")
        self.module = module
        self.lengths_fn = lengths_fn
        self.hop_length = check_hop(hop_length, "hop_length")

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
        return carries_lengths(self.module)

    def forward(self, x: Tensor, *args: Any, **kwargs: Any) -> Any:
        if self.training:
            return self.module(x, *args, **kwargs)
        if self.carries_lengths:
            return x, args[0] if args else kwargs.get("lengths")
        return x


def is_training_only(module: nn.Module) -> bool:
    if getattr(module, "training_only", False) or isinstance(module, _TORCHAUDIO_TRAINING_ONLY):
        return True
    return isinstance(module, WithLengths) and is_training_only(module.module)


def carries_lengths(module: nn.Module) -> bool:
    return bool(getattr(module, "carries_lengths", False)) or isinstance(
        module, _TORCHAUDIO_CARRYING_LENGTHS
    )


def _stft_frames(lengths: Tensor, spec: Any) -> Tensor:
    """Valid frames of torchaudio's ``Spectrogram`` for valid lengths in samples."""
    return frame_lengths(
        lengths,
        n_fft=int(spec.n_fft),
        hop_length=int(spec.hop_length),
        center=bool(getattr(spec, "center", True)),
        pad=int(getattr(spec, "pad", 0)),
    )


def hop_factor(module: nn.Module) -> Fraction | None:
    """Positions before ``module`` per position after it (a spectrogram's hop), if known."""
    if isinstance(module, WithLengths):
        return module.hop_length
    spec = None
    if isinstance(module, _T.Spectrogram):
        spec = module
    elif isinstance(module, _T.MelSpectrogram):
        spec = module.spectrogram
    elif isinstance(module, _T.MFCC):
        spec = module.MelSpectrogram.spectrogram
    elif hasattr(module, "frame_lengths") and hasattr(module, "hop_length"):
        spec = module  # audiomix.LogMelSpectrogram
    if spec is not None:
        return Fraction(int(spec.hop_length))
    if isinstance(module, _T.Resample):
        return Fraction(int(module.orig_freq), int(module.new_freq))
    return None


def known_lengths_rule(module: nn.Module) -> Callable[[Tensor], Tensor] | None:
    for name in ("output_lengths", "frame_lengths"):  # frame_lengths: LogMelSpectrogram
        rule = getattr(module, name, None)
        if callable(rule):
            return rule
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
