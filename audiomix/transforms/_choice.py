"""One mixing method per batch, chosen at random (like timm's mixup/CutMix switch)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import cast

import torch
from torch import Tensor, nn

from .._settings import ForwardsSchedule
from ..functional._frames import TimeMap
from ..functional._params import ChoiceParams, extend_params
from ..functional._sampling import MixParams
from ._base import Mixer
from ._inputs import ANY_AUDIO

__all__ = ["RandomChoiceMix"]

# The target format every member must share, so that one batch's targets do not depend on
# which member ran.
_TARGET_FORMAT = (
    "num_classes",
    "label_smoothing",
    "multilabel",
    "union",
    "target_hop",
    "frames_last",
)


class RandomChoiceMix(ForwardsSchedule, Mixer[ChoiceParams]):
    r"""Applies one of several mixers per batch, chosen at random (like timm's mixup/CutMix
    switch).

    Each call draws one member with probability proportional to ``weights`` from this module's
    own generator and lets it mix the batch; the members keep their own configuration and
    streams. It follows the :class:`~audiomix.transforms.Mixer` protocol: ``sample_params``
    draws the member and its parameters (a :class:`~audiomix.functional.ChoiceParams`),
    ``mix`` replays them, ``last_params`` holds them (``lam`` and ``perm`` are the target
    weights and partners whatever the member; ``last_params.member`` has the member's own
    fields). ``last_name`` and ``last_index`` say which member ran.

    Setting ``alpha`` or ``p`` sets it on every member (on every member that draws λ, for
    ``alpha``): ``switch.p = 0.0`` turns mixing off, in running DataLoader workers too; reading
    them gives the members' common value. Training-time only, like its members: after
    ``.eval()`` it returns the input with unmixed targets and draws nothing.

    Args:
        transforms (sequence or mapping of Mixer): the members, e.g.
            ``[SpectrogramMixup(...), SpectrogramCutMix(...)]`` or
            ``{"mixup": ..., "cutmix": ...}``. They must agree on the targets' format
            (``num_classes``, ``label_smoothing``, ``multilabel``, ``union``).
        weights (sequence of float or None, optional): relative probabilities, >= 0 with a
            positive sum. (Default: equal)
        generator (torch.Generator, int or None, optional): CPU generator or seed for the
            choice. (Default: ``None``: seeded from torch's global RNG)
        per_rank (bool, optional): a distinct choice stream per distributed rank.

    Example:
        >>> from audiomix import SpectrogramMixup
        >>> switch = RandomChoiceMix(
        ...     {"mixup": SpectrogramMixup(alpha=0.8, num_classes=10, generator=0),
        ...      "cutmix": SpectrogramCutMix(alpha=1.0, num_classes=10, generator=1)},
        ...     weights=[0.5, 0.5], generator=2)
        >>> specgram, targets = switch(torch.randn(8, 64, 101), torch.randint(10, (8,)))
        >>> switch.last_name in ("mixup", "cutmix")
        True
        >>> switch.p = 0.0  # every member stops mixing
    """

    layout = ANY_AUDIO
    params_type = ChoiceParams
    draws_lambda = False  # the members draw; this module draws the choice only

    def __init__(
        self,
        transforms: Sequence[Mixer] | Mapping[str, Mixer],
        weights: Sequence[float] | None = None,
        *,
        generator: torch.Generator | int | None = None,
        per_rank: bool = False,
    ) -> None:
        names, modules = _members(transforms)
        first = modules[0]
        for i, m in enumerate(modules[1:], start=1):
            for field in _TARGET_FORMAT:
                if getattr(m, field) != getattr(first, field):
                    raise ValueError(
                        f"the members must agree on the targets' format, but `{field}` is "
                        f"{getattr(first, field)!r} for {names[0]!r} and "
                        f"{getattr(m, field)!r} for {names[i]!r}."
                    )
        super().__init__(
            None,
            first.num_classes,
            label_smoothing=first.label_smoothing,
            multilabel=first.multilabel,
            union=first.union,
            target_hop=first.target_hop,
            frames_last=first.frames_last,
            generator=generator,
            per_rank=per_rank,
        )
        self.transforms = nn.ModuleList(modules)
        self.names = names
        # Plain floats, not a buffer: the choice is drawn on the CPU without touching a device.
        self.weights = _normalised(weights, len(modules))

    def _scheduled_members(self) -> list[Mixer]:
        return [self.member(i) for i in range(len(self.transforms))]

    def member(self, index: int) -> Mixer:
        """The member at ``index``."""
        return cast(Mixer, self.transforms[index])

    @property
    def last_index(self) -> int | None:
        """Position of the member the last training call ran."""
        return None if self.last_params is None else self.last_params.index

    @property
    def last_name(self) -> str | None:
        """Name of the member the last training call ran (dict key, or class name)."""
        return None if self.last_index is None else self.names[self.last_index]

    def choose(self) -> int:
        """Draws the index of the next member, advancing the choice stream."""
        u = float(torch.rand((), generator=self._stream.get(), dtype=torch.float64))
        total = 0.0
        for i, w in enumerate(self.weights):
            total += w
            if u < total:
                return i
        return max(i for i, w in enumerate(self.weights) if w > 0)  # rounding at the top

    def sample_params(
        self,
        batch_size: int,
        lengths: Tensor | None = None,
        labels: Tensor | None = None,
        *,
        perm: Tensor | None = None,
    ) -> ChoiceParams:
        """Draws the member, then the member's parameters (arguments as in
        :meth:`Mixer.sample_params`)."""
        index = self.choose()
        member = self.member(index).sample_params(batch_size, lengths, labels, perm=perm)
        return _wrap(index, member)

    def mix(
        self, x: Tensor, params: ChoiceParams, lengths: Tensor | None = None
    ) -> tuple[Tensor, ChoiceParams]:
        choice, member = self._checked(params)
        out, applied = self.member(choice.index).mix(x, member, lengths)
        return out, _wrap(choice.index, applied)

    def output_lengths(self, lengths: Tensor, params: ChoiceParams) -> Tensor:
        choice, member = self._checked(params)
        return self.member(choice.index).output_lengths(lengths, member)

    def time_map(self, params: ChoiceParams, lengths: Tensor | None, shape: torch.Size) -> TimeMap:
        choice, member = self._checked(params)
        # The member's own fields (spans), with the weights as this call applied them.
        member = dataclasses.replace(member, lam=params.lam)
        return self.member(choice.index).time_map(member, lengths, shape)

    def forward(
        self,
        x: Tensor,
        labels: Tensor | None = None,
        lengths: Tensor | None = None,
        *,
        params: ChoiceParams | None = None,
        target_hop: int | float | Fraction | None = None,
    ):
        """Lets one member mix: ``(x, targets)`` or ``(x, targets, lengths)``.

        ``params`` (from :meth:`sample_params` or a previous ``last_params``) replays a draw.
        In eval mode nothing is drawn: the first member (in eval mode too) returns the input
        with unmixed targets.
        """
        if not self.training:
            return self.member(0)(x, labels, lengths, target_hop=target_hop)
        if params is None:
            cpu_lengths = lengths.cpu() if isinstance(lengths, Tensor) else lengths
            params = self.sample_params(len(x), cpu_lengths, labels)
        choice, drawn = self._checked(params)
        member = self.member(choice.index)
        result = member(x, labels, lengths, params=drawn, target_hop=target_hop)
        if member.last_params is not None:
            self.last_params = _wrap(choice.index, member.last_params)
        return result

    def _checked(self, params: MixParams) -> tuple[ChoiceParams, MixParams]:
        """``params`` and the member's own parameters, checked."""
        if not isinstance(params, ChoiceParams) or params.member is None:
            raise TypeError(
                "`params` must be ChoiceParams (from `sample_params`), but got "
                f"{type(params).__name__}."
            )
        if not 0 <= params.index < len(self.transforms):
            raise ValueError(
                f"`params.index` must be in [0, {len(self.transforms) - 1}], but got "
                f"{params.index}."
            )
        return params, params.member

    def extra_repr(self) -> str:
        pairs = ", ".join(f"{n}: {w:.3g}" for n, w in zip(self.names, self.weights, strict=True))
        return f"weights={{{pairs}}}"


def _wrap(index: int, member: MixParams) -> ChoiceParams:
    fields = {f.name: getattr(member, f.name) for f in dataclasses.fields(MixParams)}
    return extend_params(MixParams(**fields), ChoiceParams, index=index, member=member)


def _members(
    transforms: Sequence[Mixer] | Mapping[str, Mixer],
) -> tuple[list[str], list[Mixer]]:
    if isinstance(transforms, Mapping):
        names = [str(k) for k in transforms]
        modules = list(transforms.values())
    elif isinstance(transforms, Sequence) and not isinstance(transforms, (str, nn.Module)):
        modules = list(transforms)
        names = [type(m).__name__ for m in modules]
    else:
        raise TypeError(
            f"`transforms` must be a list or a dict of mixers, but got {type(transforms).__name__}."
        )
    if not modules:
        raise ValueError("`transforms` is empty: give at least one mixer.")
    for i, m in enumerate(modules):
        if not isinstance(m, Mixer):
            raise TypeError(
                f"`transforms[{i}]` must be an audiomix mixer (a transforms.Mixer), but got "
                f"{type(m).__name__}."
            )
    return names, modules


def _normalised(weights: Sequence[float] | None, n: int) -> tuple[float, ...]:
    if weights is None:
        weights = [1.0] * n
    try:
        w = torch.tensor([float(v) for v in weights], dtype=torch.float64)
    except (TypeError, ValueError):
        raise TypeError(f"`weights` must be a sequence of numbers, but got {weights!r}.") from None
    if w.shape != (n,):
        raise ValueError(f"`weights` must have one entry per transform ({n}), but got {w.numel()}.")
    if not bool(torch.isfinite(w).all()) or bool((w < 0).any()) or float(w.sum()) <= 0:
        raise ValueError(f"`weights` must be finite, >= 0 and not all 0, but got {w.tolist()}.")
    return tuple((w / w.sum()).tolist())
