"""One mixing method per batch, chosen at random (like timm's mixup/CutMix switch)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from .._rng import RandomStream
from .._settings import StreamMixin

__all__ = ["RandomChoiceMix"]


class RandomChoiceMix(StreamMixin, nn.Module):
    r"""Applies one of several mixing modules per batch, chosen at random (like timm's
    mixup/CutMix switch).

    Training-time only, like its members: after ``.eval()`` it returns the input with unmixed
    targets and draws nothing.

    Each call draws one member with probability proportional to ``weights`` from this module's
    own generator and calls it with the same arguments; the members keep their own
    configuration and streams. ``last_name``, ``last_index`` and ``last_params`` say which
    method ran and with which parameters (``last_params.lam`` and ``.perm`` are the target
    weights and partners whatever the method).

    Args:
        transforms (sequence or mapping of nn.Module): mixing modules with the audiomix call
            convention, e.g. ``[SpectrogramMixup(...), SpectrogramCutMix(...)]`` or
            ``{"mixup": ..., "cutmix": ...}``. They must agree on the targets' format
            (``num_classes``, ``multilabel``).
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
    """

    mixes_labels = True

    def __init__(
        self,
        transforms: Sequence[nn.Module] | Mapping[str, nn.Module],
        weights: Sequence[float] | None = None,
        *,
        generator: torch.Generator | int | None = None,
        per_rank: bool = False,
    ) -> None:
        super().__init__()
        if isinstance(transforms, Mapping):
            names = [str(k) for k in transforms]
            modules = list(transforms.values())
        elif isinstance(transforms, Sequence) and not isinstance(transforms, (str, nn.Module)):
            modules = list(transforms)
            names = [type(m).__name__ for m in modules]
        else:
            raise TypeError(
                "`transforms` must be a list or a dict of mixing modules, but got "
                f"{type(transforms).__name__}."
            )
        if not modules:
            raise ValueError("`transforms` is empty: give at least one mixing module.")
        for i, m in enumerate(modules):
            if not isinstance(m, nn.Module):
                raise TypeError(
                    f"`transforms[{i}]` must be an nn.Module, but got {type(m).__name__}."
                )
        if weights is None:
            weights = [1.0] * len(modules)
        try:
            w = torch.tensor([float(v) for v in weights], dtype=torch.float64)
        except (TypeError, ValueError):
            raise TypeError(
                f"`weights` must be a sequence of numbers, but got {weights!r}."
            ) from None
        if w.shape != (len(modules),):
            raise ValueError(
                f"`weights` must have one entry per transform ({len(modules)}), but got "
                f"{w.numel()}."
            )
        if not bool(torch.isfinite(w).all()) or bool((w < 0).any()) or float(w.sum()) <= 0:
            raise ValueError(f"`weights` must be finite, >= 0 and not all 0, but got {w.tolist()}.")
        self.transforms = nn.ModuleList(modules)
        self.names = names
        # Plain floats, not a buffer: the choice is drawn on the CPU without touching a device.
        self.weights = tuple((w / w.sum()).tolist())
        self._stream = RandomStream(generator, per_rank=per_rank, owner=type(self).__name__)
        self.last_index: int | None = None

    @property
    def last_name(self) -> str | None:
        """Name of the method the last call ran (dict key, or class name)."""
        return None if self.last_index is None else self.names[self.last_index]

    @property
    def last_params(self) -> Any:
        """``last_params`` of the method the last call ran."""
        if self.last_index is None:
            return None
        return getattr(self.transforms[self.last_index], "last_params", None)

    def choose(self) -> int:
        """Draws the index of the next method, advancing the choice stream."""
        u = float(torch.rand((), generator=self._stream.get(), dtype=torch.float64))
        total = 0.0
        for i, w in enumerate(self.weights):
            total += w
            if u < total:
                return i
        return max(i for i, w in enumerate(self.weights) if w > 0)  # rounding at the top

    def forward(self, x: Tensor, labels: Tensor | None = None, lengths: Tensor | None = None):
        """Calls one member: ``(x, targets)`` or ``(x, targets, lengths)``.

        In eval mode nothing is drawn: the first member (in eval mode too) returns the input
        with unmixed targets.
        """
        if not self.training:
            chosen = self.transforms[0]
            return chosen(x, labels) if lengths is None else chosen(x, labels, lengths)
        index = self.choose()
        self.last_index = index
        chosen = self.transforms[index]
        if lengths is None:
            return chosen(x, labels)
        return chosen(x, labels, lengths)

    def extra_repr(self) -> str:
        pairs = ", ".join(f"{n}: {w:.3g}" for n, w in zip(self.names, self.weights, strict=True))
        return f"weights={{{pairs}}}"
