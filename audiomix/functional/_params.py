"""Parameter classes of the mixup family: one dataclass per method, on top of MixParams.

Each is a frozen dataclass: ``MixParams.to`` moves every tensor field and keeps the class, and
a module resolves the parameters it applied with ``dataclasses.replace``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, TypeVar

from torch import Tensor

from ._sampling import MixParams

P = TypeVar("P", bound=MixParams)


def extend_params(base: MixParams, cls: type[P], **fields: Any) -> P:
    """``base``'s fields (lam, perm, applied, offsets, unmet) in a ``cls``, with ``fields``
    added."""
    shared = {f.name: getattr(base, f.name) for f in dataclasses.fields(MixParams)}
    return cls(**{**shared, **fields})


@dataclass(frozen=True)
class CutMixParams(MixParams):
    """Parameters of one CutMix call.

    As drawn (:func:`sample_cutmix_params`), ``lam`` is the Beta draw that sets the box size.
    After the call (a module's ``last_params``, or :func:`cutmix`'s result), ``lam`` is the
    fraction of each sample's valid area that is still its own, the weight its targets got, and
    the draw moves to ``lam_drawn``.

    Attributes:
        time_center (Tensor): (batch,) float64 in [0, 1), box centre along time, relative to
            the span where both clips of the pair have content.
        freq_center (Tensor): (batch,) float64 in [0, 1), box centre along frequency.
        lam_drawn (Tensor or None): (batch,) the Beta draw, once applied.
        time_start, time_end (Tensor or None): (batch,) int64 replaced frames (or samples)
            ``[time_start, time_end)`` of each output, once applied.
        freq_start, freq_end (Tensor or None): (batch,) int64 replaced bins, once applied
            (``None`` for time bands, which span every bin).
    """

    time_center: Tensor | None = None
    freq_center: Tensor | None = None
    lam_drawn: Tensor | None = None
    time_start: Tensor | None = None
    time_end: Tensor | None = None
    freq_start: Tensor | None = None
    freq_end: Tensor | None = None


@dataclass(frozen=True)
class SNRMixParams(MixParams):
    """Parameters of one SNR mixing call.

    ``lam`` is the weight of the sample itself in the targets: as drawn, the nominal energy
    fraction ``1 / (1 + 10^(-snr_db / 10))``; after the call, the fraction actually achieved
    (1 where the partner is silent, so nothing was added).

    Attributes:
        snr_db (Tensor): (batch,) float64, requested SNR of the sample over its partner.
        gain (Tensor or None): (batch,) amplitude gain applied to the partner, once applied.
    """

    snr_db: Tensor | None = None
    gain: Tensor | None = None


@dataclass(frozen=True)
class BCMixParams(MixParams):
    """Parameters of one between-class mixing call.

    ``lam`` is the label ratio ``r`` (weight of the sample itself in the targets).

    Attributes:
        mix_weight (Tensor or None): (batch,) the gain-aware waveform weight ``p`` of the
            sample itself, once applied.
        gain_db (Tensor or None): (batch,) A-weighted gain of each input clip in dB, once
            applied.
    """

    mix_weight: Tensor | None = None
    gain_db: Tensor | None = None


@dataclass(frozen=True)
class ChoiceParams(MixParams):
    """Parameters of one :class:`~audiomix.RandomChoiceMix` call: which member ran, with what.

    ``lam``, ``perm``, ``applied``, ``offsets`` and ``unmet`` are the member's, so that code
    reading the target weights and partners works whatever the member.

    Attributes:
        index (int): position of the member that ran.
        member (MixParams or None): that member's own parameters (``CutMixParams``, ...).
    """

    index: int = 0
    member: MixParams | None = None
