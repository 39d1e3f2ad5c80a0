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

import dataclasses
import math
from collections.abc import Callable, Iterator, Mapping
from fractions import Fraction
from typing import Any

import torch
import torchaudio
from torch import Tensor, nn

from ._arrays import as_tensor
from ._settings import ForwardsSchedule
from ._validation import check_lengths
from ._views import View, as_views, frames_at, split_views
from .functional import frame_lengths
from .functional._frames import check_hop, target_lengths
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


def _stft_frames(lengths: Tensor, spec: Any) -> Tensor:
    """Valid frames of torchaudio's ``Spectrogram`` for valid lengths in samples."""
    return frame_lengths(
        lengths,
        n_fft=int(spec.n_fft),
        hop_length=int(spec.hop_length),
        center=bool(getattr(spec, "center", True)),
        pad=int(getattr(spec, "pad", 0)),
    )


def _hop_factor(module: nn.Module) -> Fraction | None:
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


def _converted(view: View, factor: Fraction) -> View:
    """``view`` with its hop in positions after steps that made ``factor`` positions into
    one; a view without a hop (the input's resolution) gets ``1 / factor``, except frame
    targets, whose hop is then the chain's or the mixer's."""
    if view.kind in ("frames", "mask") or (view.kind == "frame_targets" and view.hop is not None):
        return dataclasses.replace(view, hop=(view.hop or Fraction(1)) / factor)
    return view


def _known_lengths_rule(module: nn.Module) -> Callable[[Tensor], Tensor] | None:
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

    def __init__(self, *args: Any, target_hop: int | float | Fraction | None = None) -> None:
        super().__init__(*args)
        #: Samples of the chain's input per frame of frame targets (see the class docstring).
        self.target_hop = check_hop(target_hop)
        if self.target_hop is not None:
            for i, m in enumerate(self):
                if getattr(m, "target_hop", None) is not None:
                    raise ValueError(
                        f"the Chain has `target_hop`={self.target_hop} and Chain[{i}] "
                        f"({type(m).__name__}) has its own ({m.target_hop}); state the hop once, "
                        "on the Chain (in samples of its input)."
                    )

    def _steps(self) -> Iterator[tuple[int, nn.Module]]:
        """The steps that run, with their positions: training-only steps are skipped in eval
        mode (nothing runs, nothing is drawn), and a ``TrainingOnly`` is unwrapped."""
        for i, module in enumerate(self):
            if _training_only(module):
                if not module.training:
                    continue
                if isinstance(module, TrainingOnly):
                    module = module.module
            yield i, module

    def _scheduled_members(self) -> list[nn.Module]:
        # Setting chain.p or chain.alpha reaches every mixer in it (nested chains included), so
        # that a schedule written for one mixer works on the chain.
        return [m for m in self if isinstance(m, (Mixer, ForwardsSchedule))]

    def forward(
        self,
        x: Tensor,
        labels: Tensor | None = None,
        lengths: Tensor | None = None,
        *,
        target_hop: int | float | Fraction | None = None,
    ) -> tuple[Any, ...]:
        """
        Args:
            x (Tensor or NumPy array): (batch, ..., time) input of the first module.
            labels (Tensor or None, optional): class indices (batch,), targets
                (batch, num_classes) or frame targets (batch, frames, classes).
            lengths (Tensor, NumPy array or None, optional): (batch,) valid lengths of
                ``x``'s last axis.
            target_hop (int, float, Fraction or None, optional): this call's hop of the frame
                targets, in positions of ``x``, instead of the chain's.

        Returns:
            ``(x, targets)``, or ``(x, targets, lengths)`` when ``lengths`` is given.
        """
        x = as_tensor(x, "x")
        lengths = as_tensor(lengths, "lengths")
        if lengths is not None:
            if not isinstance(x, Tensor):
                raise TypeError(f"`x` must be a torch.Tensor, but got {type(x).__name__}.")
            check_lengths(lengths, x.shape[0], x.shape[-1])
        hop = self.target_hop if target_hop is None else check_hop(target_hop)
        if hop is not None and not (isinstance(labels, Tensor) and labels.ndim == 3):
            hop = None  # no frame targets to follow
        for i, module in self._steps():
            if getattr(module, "mixes_labels", False):
                kw = {} if hop is None else {"target_hop": hop}
                if lengths is None:
                    x, labels = module(x, labels, **kw)
                else:
                    x, labels, lengths = module(x, labels, lengths, **kw)
            elif _carries_lengths(module):
                size = x.shape[-1]
                x, lengths = self._carry(i, module, x, lengths)
                hop = self._follow(i, module, hop, size, x)
            else:
                before = x.shape[-1] if isinstance(x, Tensor) and x.ndim else None
                x, lengths = self._plain(i, module, x, lengths)
                hop = self._follow(i, module, hop, before, x)
        if lengths is None:
            return x, labels
        return x, labels, lengths

    @staticmethod
    def _follow(
        i: int, module: nn.Module, hop: Fraction | None, before: int | None, x: Tensor
    ) -> Fraction | None:
        """The hop of frame targets after step ``i``, in positions of its output."""
        if hop is None:
            return None
        factor = _hop_factor(module)
        if factor is not None:
            return hop / factor
        if before == x.shape[-1]:
            return hop
        raise ValueError(
            f"Chain[{i}] ({type(module).__name__}) changed the time axis from {before} to "
            f"{x.shape[-1]}, and Chain does not know how frame targets follow; wrap it as "
            "`WithLengths(module, lengths_fn, hop_length=...)`."
        )

    def mix_views(
        self,
        batch: Mapping[str, Any],
        views: Mapping[str, View | str],
        *,
        target_hop: int | float | Fraction | None = None,
    ) -> dict[str, Any]:
        """Runs the chain on the audio view of ``batch``; its mixers mix every view with one
        draw each (:meth:`~audiomix.transforms.Mixer.mix_views`).

        The hops of the views (and the chain's ``target_hop``) are in positions of the
        chain's input; they are converted through the steps as the lengths are. A view
        without a hop is at the input's resolution, except frame targets, which then take the
        chain's ``target_hop`` (or the mixer's own).

        Args:
            batch (mapping): the batch, e.g. ``{"input_values": waveforms, "lengths": ...,
                "labels": frame_labels}``.
            views (mapping): ``{key: View or kind}``, see :class:`~audiomix.View`.
            target_hop (int, float, Fraction or None, optional): instead of the chain's.

        Returns:
            dict: the batch with the audio view through the chain and the views mixed.

        Example:
            >>> chain = Chain(LogMelSpectrogram(n_mels=40),
            ...               SpectrogramMixup(alpha=0.5, num_classes=2, multilabel=True,
            ...                                generator=0),
            ...               target_hop=320)
            >>> out = chain.mix_views(
            ...     {"audio": torch.randn(4, 16000), "n": torch.tensor([16000, 9000, 16000, 4000]),
            ...      "events": torch.randint(2, (4, 50, 2)), "frames_valid": None},
            ...     {"audio": "audio", "n": "lengths", "events": "frame_targets",
            ...      "frames_valid": View("lengths", hop=320)})
            >>> out["audio"].shape, out["events"].shape, out["n"].tolist()
            (torch.Size([4, 40, 81]), torch.Size([4, 50, 2]), [81, 46, 81, 81])
            >>> out["frames_valid"].tolist()  # ceil(n / 1.6 frames), at most 50
            [50, 29, 50, 50]
        """
        spec = as_views(views)
        audio_key, lengths_key = split_views(spec)
        hop = self.target_hop if target_hop is None else check_hop(target_hop)
        derived = {k: v for k, v in spec.items() if v.kind == "lengths" and k != lengths_key}
        passing = {k: v for k, v in spec.items() if k not in derived}
        current = dict(batch)
        x = as_tensor(current[audio_key], audio_key)
        lengths = None if lengths_key is None else as_tensor(current[lengths_key], lengths_key)
        factor = Fraction(1)
        for i, module in self._steps():
            if getattr(module, "mixes_labels", False):
                mix_step = getattr(module, "mix_views", None)
                if not callable(mix_step):
                    raise TypeError(
                        f"Chain[{i}] ({type(module).__name__}) mixes labels but has no "
                        "`mix_views`; only audiomix mixers and chains mix several views."
                    )
                current[audio_key] = x
                if lengths_key is not None:
                    current[lengths_key] = lengths
                converted = {k: _converted(v, factor) for k, v in passing.items()}
                kw = {} if hop is None else {"target_hop": hop / factor}
                current = mix_step(current, converted, **kw)
                x = current[audio_key]
                lengths = None if lengths_key is None else current[lengths_key]
                continue
            before = x.shape[-1]
            if _carries_lengths(module):
                x, lengths = self._carry(i, module, x, lengths)
            else:
                x, lengths = self._plain(i, module, x, lengths)
            step = _hop_factor(module)
            if step is None and x.shape[-1] != before:
                raise ValueError(
                    f"Chain[{i}] ({type(module).__name__}) changed the time axis from {before} "
                    f"to {x.shape[-1]}, and Chain does not know how the views follow; wrap it "
                    "as `WithLengths(module, lengths_fn, hop_length=...)`."
                )
            factor *= step or 1
        current[audio_key] = x
        if lengths_key is not None:
            current[lengths_key] = lengths
        for key, view in derived.items():
            if lengths is not None:
                view_hop = Fraction(1) if view.hop is None else view.hop  # None: the input's
                frames = frames_at(current, spec, view_hop, hop)
                current[key] = target_lengths(lengths, view_hop / factor, frames)
        return current

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
