"""Settings every mixer shares: λ's concentration, the mixing probability, the target format.

One object holds them for the modules, :class:`~audiomix.ManifoldMixup` and
:class:`~audiomix.data.MixupDataset` alike (composition instead of a deep class tree).
``alpha`` and ``p`` live in a small shared-memory tensor, so that a schedule which changes them
in the training loop reaches DataLoader workers that are already running (persistent workers,
fork, spawn or forkserver): the workers' copies read the same memory.
"""

from __future__ import annotations

import os
import sys
import warnings
from types import FrameType
from typing import Any

import torch
from torch import Tensor

from ._rng import RandomStream
from ._validation import check_alpha, check_label_smoothing, check_num_classes, check_probability
from .functional._targets import mix_targets, prepare_targets

_ALPHA, _P = 0, 1


def user_stacklevel() -> int:
    """``stacklevel`` of the first frame outside audiomix, for warnings about the caller's
    arguments (constructors reach this through a varying number of audiomix frames)."""
    package = os.path.dirname(os.path.abspath(__file__))
    frame: FrameType | None = sys._getframe(1)
    level = 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame, level = frame.f_back, level + 1
    return level


class MixSettings:
    """Validated mixing settings; ``alpha`` and ``p`` are shared with worker processes.

    Args:
        owner (str): the public class name, for messages.
        alpha (float or None): Beta concentration, > 0; ``None`` for a method that draws no λ
            (SNR mixing draws SNRs), which then has no ``alpha`` to set.
        p (float): probability of mixing, in [0, 1].
        num_classes, label_smoothing, multilabel, union: the target format, as in
            :func:`~audiomix.functional.mix_targets`.
    """

    def __init__(
        self,
        owner: str,
        *,
        alpha: float | None,
        p: float,
        num_classes: int | None,
        label_smoothing: float,
        multilabel: bool,
        union: bool,
    ) -> None:
        self.owner = owner
        self.num_classes = check_num_classes(num_classes)
        self.label_smoothing = check_label_smoothing(label_smoothing)
        self.multilabel = bool(multilabel)
        if union and not multilabel:
            raise ValueError(
                f"{owner}: `union=True` is for multi-label targets; pass `multilabel=True`."
            )
        self.union = bool(union)
        self.draws_lambda = alpha is not None
        self._shared = torch.zeros(2, dtype=torch.float64).share_memory_()
        if alpha is not None:
            self.alpha = alpha
        self.p = p
        if self.p == 0.0:
            warnings.warn(
                f"{owner} with p=0 never mixes.", UserWarning, stacklevel=user_stacklevel()
            )
        if alpha is not None and float(self._shared[_ALPHA]) > 1e3:
            warnings.warn(
                f"{owner}: `alpha`={self.alpha} puts every weight at about 0.5.",
                UserWarning,
                stacklevel=user_stacklevel(),
            )

    @property
    def alpha(self) -> float | None:
        return float(self._shared[_ALPHA]) if self.draws_lambda else None

    @alpha.setter
    def alpha(self, value: float) -> None:
        if not self.draws_lambda:
            raise AttributeError(
                f"{self.owner} draws no λ ~ Beta(alpha, alpha), so it has no `alpha` to set."
            )
        self._shared[_ALPHA] = check_alpha(value)

    @property
    def p(self) -> float:
        return float(self._shared[_P])

    @p.setter
    def p(self, value: float) -> None:
        self._shared[_P] = check_probability(value)

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Unpickled by torch's pickler (spawn/forkserver DataLoader workers) the tensor arrives
        # by its shared-memory handle and the worker reads the live values; a plain pickle or
        # copy.deepcopy gives an independent copy, shared again for its own workers.
        self.__dict__.update(state)
        self._shared.share_memory_()

    def unmixed_targets(self, labels: Tensor, *, validate: bool = True) -> Tensor:
        """(batch, num_classes) targets of unmixed samples: one-hot, smoothed or multi-hot."""
        return prepare_targets(
            labels,
            num_classes=self.num_classes,
            label_smoothing=self.label_smoothing,
            multilabel=self.multilabel,
            validate=validate,
        )

    def mixed_targets(
        self, labels: Tensor, lam: Tensor, perm: Tensor, *, validate: bool = True
    ) -> Tensor:
        """(batch, num_classes) targets mixed by ``lam`` with the partners ``perm``."""
        return mix_targets(
            labels,
            lam,
            perm,
            num_classes=self.num_classes,
            label_smoothing=self.label_smoothing,
            multilabel=self.multilabel,
            union=self.union,
            validate=validate,
        )


class SettingsMixin:
    """Public views of a :class:`MixSettings` held as ``self.settings``."""

    settings: MixSettings

    @property
    def alpha(self) -> float | None:
        """Beta concentration (> 0); settable, shared with running DataLoader workers.
        ``None`` for methods that draw no λ (setting it is then an error)."""
        return self.settings.alpha

    @alpha.setter
    def alpha(self, value: float) -> None:
        self.settings.alpha = value

    @property
    def p(self) -> float:
        """Probability of mixing, in [0, 1]; settable, shared with running DataLoader workers."""
        return self.settings.p

    @p.setter
    def p(self, value: float) -> None:
        self.settings.p = value

    @property
    def num_classes(self) -> int | None:
        return self.settings.num_classes

    @property
    def label_smoothing(self) -> float:
        return self.settings.label_smoothing

    @property
    def multilabel(self) -> bool:
        return self.settings.multilabel

    @property
    def union(self) -> bool:
        return self.settings.union


class StreamMixin:
    """The random stream held as ``self._stream``: its generator, saved in ``state_dict()``."""

    _stream: RandomStream

    @property
    def generator(self) -> torch.Generator:
        """The CPU generator of this process (reseeded per DataLoader worker and, if asked,
        per rank)."""
        return self._stream.get()

    def get_extra_state(self) -> dict[str, Any]:
        # Saved with a module's state_dict(), so a checkpoint resumes the same stream of mixes.
        return self._stream.state()

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self._stream.load_state(state)


class ForwardsSchedule:
    """``alpha`` and ``p`` of a container (:class:`~audiomix.Chain`,
    :class:`~audiomix.RandomChoiceMix`): set on every mixing member, so that a schedule written
    for one mixer (``mixer.p = 0.0``) works on the container too, in running workers as well.

    Reading gives the members' common value; members that disagree make reading an error
    (read or set them one by one instead).
    """

    def _scheduled_members(self) -> list[Any]:
        """The members whose ``alpha`` and ``p`` the container forwards to."""
        raise NotImplementedError

    def _common(self, name: str, members: list[Any]) -> float:
        owner = type(self).__name__
        if not members:
            raise AttributeError(f"{owner} holds no mixer with `{name}`.")
        values = {getattr(m, name) for m in members}
        if len(values) > 1:
            listed = ", ".join(f"{type(m).__name__}: {getattr(m, name)}" for m in members)
            raise ValueError(
                f"the mixers of this {owner} have different `{name}` values ({listed}); read "
                "them one by one, or set one value for all."
            )
        return values.pop()

    def _with_alpha(self) -> list[Any]:
        return [m for m in self._scheduled_members() if m.alpha is not None]

    @property
    def alpha(self) -> float | None:
        """The members' common ``alpha``; setting it sets every member that draws λ."""
        return self._common("alpha", self._with_alpha())

    @alpha.setter
    def alpha(self, value: float) -> None:
        members = self._with_alpha()
        if not members:
            raise AttributeError(
                f"no mixer of this {type(self).__name__} draws λ, so it has no `alpha` to set."
            )
        check_alpha(value)
        for m in members:
            m.alpha = value

    @property
    def p(self) -> float:
        """The members' common ``p``; setting it sets every member (``0.0``: nothing mixes)."""
        return self._common("p", self._scheduled_members())

    @p.setter
    def p(self, value: float) -> None:
        members = self._scheduled_members()
        if not members:
            raise AttributeError(f"{type(self).__name__} holds no mixer with `p` to set.")
        check_probability(value)
        for m in members:
            m.p = value
