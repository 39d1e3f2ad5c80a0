"""The :class:`Chain`: an ``nn.Sequential`` that carries ``(x, labels, lengths)``, and its
mixing of several aligned views of a batch.

Each step is called as what it is (a mixer, a step that carries lengths, a plain transform;
see ``_steps.py``); the lengths and the hop of frame targets are converted through every step
that changes the time axis.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from fractions import Fraction
from typing import Any

from torch import Tensor, nn

from .._arrays import as_tensor
from .._settings import ForwardsSchedule
from .._validation import check_lengths
from .._views import View, as_views, frames_at, split_views
from ..functional._frames import check_hop, target_lengths
from ..transforms import Mixer
from ._steps import TrainingOnly, carries_lengths, hop_factor, is_training_only, known_lengths_rule

__all__ = ["Chain"]


def _converted(view: View, factor: Fraction) -> View:
    """``view`` with its hop in positions after steps that made ``factor`` positions into
    one; a view without a hop (the input's resolution) gets ``1 / factor``, except frame
    targets, whose hop is then the chain's or the mixer's."""
    if view.kind in ("frames", "mask") or (view.kind == "frame_targets" and view.hop is not None):
        return dataclasses.replace(view, hop=(view.hop or Fraction(1)) / factor)
    return view


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
            if is_training_only(module):
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
            elif carries_lengths(module):
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
        factor = hop_factor(module)
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
            if carries_lengths(module):
                x, lengths = self._carry(i, module, x, lengths)
            else:
                x, lengths = self._plain(i, module, x, lengths)
            step = hop_factor(module)
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
        rule = known_lengths_rule(module)
        if rule is not None:
            return x, rule(lengths).clamp(1, x.shape[-1])
        if x.shape[-1] != before:
            raise ValueError(
                f"Chain[{i}] ({type(module).__name__}) changed the time axis from {before} "
                f"to {x.shape[-1]}, and Chain does not know how the lengths follow; wrap it "
                "as `WithLengths(module, lengths_fn)`."
            )
        return x, lengths
