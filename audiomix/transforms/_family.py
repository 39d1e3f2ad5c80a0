"""The mixup family as modules: CutMix, SNR mixing, between-class mixing, and a per-batch switch.

Every module here shares the core shell (:class:`~audiomix.transforms._mixup._Mixup`):
configuration checks, the RNG stream (per DataLoader worker, per rank, saved in
``state_dict()``), input checks and the call convention ``x, targets = m(x, labels)`` /
``x, targets, lengths = m(x, labels, lengths)``. What each adds is its own draw and its own
target weight: after a call, ``m.last_params.lam`` is the weight each sample's own targets got,
so ``targets == mix_targets(labels, last_params.lam, last_params.perm, ...)``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from .._rng import RandomStream
from .._validation import check_choice
from ..functional._family import (
    CUT_MODES,
    BCMixParams,
    CutMixParams,
    SNRMixParams,
    _a_weights,
    _bc_mix,
    _cutmix,
    _gain_db,
    _snr_mix,
    check_fade,
    check_snr_range,
    default_gain_n_fft,
    sample_bc_params,
    sample_cutmix_params,
    sample_snr_params,
)
from ..functional._sampling import MixParams
from ._mixup import _Mixup

__all__ = [
    "BCMix",
    "RandomChoiceMix",
    "SNRMix",
    "SpectrogramCutMix",
    "WaveformCutMix",
]


class _FamilyMixup(_Mixup):
    """Core shell plus a method-specific draw (:meth:`sample_params`) and target weight
    (:meth:`_mix_with` returns the params as applied)."""

    def sample_params(  # type: ignore[override]
        self, batch_size: int, lengths: Tensor | None = None, labels: Tensor | None = None
    ) -> MixParams:
        raise NotImplementedError


class _CutMix(_FamilyMixup):
    _params_type = CutMixParams
    mode = "time"
    fade = 0

    def __init__(self, *, alpha: float = 1.0, **kwargs: Any) -> None:
        super().__init__(alpha=alpha, **kwargs)

    def sample_params(  # type: ignore[override]
        self, batch_size: int, lengths: Tensor | None = None, labels: Tensor | None = None
    ) -> CutMixParams:
        """Draws λ, partners, offsets (with ``lengths``) and box centres; ``labels`` unused.

        Returns:
            CutMixParams: on the CPU; ``lam`` is the Beta draw.
        """
        return sample_cutmix_params(
            batch_size,
            alpha=self.alpha,
            p=self.p,
            per_sample=self.per_sample,
            lengths=lengths,
            placement=self.placement,
            generator=self._stream.get(),
        )

    def _mix_with(self, x: Tensor, params: CutMixParams, lengths: Tensor | None):
        drawn = params.lam if params.lam_drawn is None else params.lam_drawn
        out, boxes = _cutmix(
            x,
            drawn,
            params.perm,
            params.time_center,
            params.freq_center,
            mode=self.mode,
            lengths=lengths,
            offsets=params.offsets,
            validate=False,
            fade=self.fade,
        )
        kept = torch.where(params.applied, boxes.kept, torch.ones_like(boxes.kept))
        resolved = CutMixParams(
            lam=kept,
            perm=params.perm,
            applied=params.applied,
            offsets=params.offsets,
            time_center=params.time_center,
            freq_center=params.freq_center,
            lam_drawn=drawn,
            time_start=boxes.time_start,
            time_end=boxes.time_end,
            freq_start=boxes.freq_start,
            freq_end=boxes.freq_end,
        )
        return out, resolved

    def _output_lengths(self, lengths: Tensor, perm: Tensor) -> Tensor:
        return lengths  # the partner is pasted inside the sample's own valid region


class SpectrogramCutMix(_CutMix):
    r"""CutMix on spectrograms: paste a time band, a frequency band or a box of the partner.

    λ ~ Beta(α, α) sets the cut: ``1 − λ`` of the frames (``mode="time"``) or of the bins
    (``mode="freq"``), or ``sqrt(1 − λ)`` of each side of a time-frequency box
    (``mode="box"``), centred at a uniformly drawn position. The cut is clipped to where both
    clips have content: with ``lengths`` (in frames) the shorter clip of each pair is placed
    by ``placement`` inside the longer one as in :class:`WaveformMixup`, and only the overlap
    of the two valid regions can be pasted, so padding never is. Each output keeps the
    sample's own length.

    The targets are weighted by the area actually pasted, not by the drawn λ:
    ``lam_i = 1 − box_area_i / (n_mels · lengths_i)``. ``last_params`` (a
    :class:`~audiomix.functional.CutMixParams`) holds that weight in ``lam``, the draw in
    ``lam_drawn`` and the boxes. Values are copied, never combined, so the spectrogram's scale
    (dB, power) does not matter. Masks are built by broadcasting; nothing loops over the batch.

    Args:
        mode (str, optional): ``"time"``, ``"freq"`` or ``"box"``. (Default: ``"box"``)
        alpha (float, optional): Beta concentration, > 0. (Default: ``1.0``, as in CutMix)
        **kwargs: ``num_classes, p, per_sample, label_smoothing, multilabel, union, placement,
            generator, per_rank, check_finite, validate`` as in :class:`WaveformMixup`.

    Example:
        >>> cutmix = SpectrogramCutMix(mode="box", num_classes=10, generator=0)
        >>> specgram, targets = cutmix(torch.randn(8, 64, 101), torch.randint(10, (8,)))
        >>> specgram.shape, targets.shape
        (torch.Size([8, 64, 101]), torch.Size([8, 10]))
    """

    _name = "specgram"
    _layout = "(batch, n_mels, frames) or (batch, channels, n_mels, frames)"
    _min_ndim = 3
    _max_ndim = 4

    def __init__(self, *, mode: str = "box", alpha: float = 1.0, **kwargs: Any) -> None:
        super().__init__(alpha=alpha, **kwargs)
        self.mode = check_choice(mode, "mode", CUT_MODES)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}, {super().extra_repr()}"


class WaveformCutMix(_CutMix):
    r"""CutMix on waveforms: replace a time segment with the partner's.

    The segment covers ``1 − λ`` of the sample's valid length (a 1-D cut uses λ, not √λ),
    λ ~ Beta(α, α), centred uniformly and clipped to where the partner has content (see
    :class:`SpectrogramCutMix` for lengths and placement). Targets are weighted by the fraction
    of valid samples actually kept. A hard cut puts a step into the waveform where the partner
    starts and ends, which can click; ``fade`` cross-fades over that many samples inside each
    edge instead, and the target weight then counts blended samples by their weights.

    Args:
        alpha (float, optional): Beta concentration, > 0. (Default: ``1.0``)
        fade (int, optional): linear cross-fade length in samples at each edge of the cut,
            e.g. 80 = 5 ms at 16 kHz. (Default: ``0``, a hard cut)
        **kwargs: as in :class:`WaveformMixup`.

    Example:
        >>> cutmix = WaveformCutMix(fade=80, num_classes=10, generator=0)
        >>> x, targets, lengths = cutmix(torch.randn(4, 16000), torch.arange(4),
        ...                              torch.tensor([16000, 8000, 12000, 16000]))
        >>> lengths.tolist()
        [16000, 8000, 12000, 16000]
    """

    _name = "waveform"
    _layout = "(batch, time) or (batch, channels, time)"
    _min_ndim = 2
    _max_ndim = 3
    mode = "time"

    def __init__(self, *, alpha: float = 1.0, fade: int = 0, **kwargs: Any) -> None:
        super().__init__(alpha=alpha, **kwargs)
        self.fade = check_fade(fade)

    def extra_repr(self) -> str:
        return f"fade={self.fade}, {super().extra_repr()}"


class SNRMix(_FamilyMixup):
    r"""Add each sample's partner at an SNR drawn uniformly in dB.

    ``x̃_i = x_i + g_i·x_j`` with ``g_i`` chosen so that the sample's mean power over its valid
    samples is ``snr_i`` dB above the scaled partner's (exact, not approximate). The sample
    keeps its own level; the output is valid over the longer clip of the pair, aligned by
    ``placement`` as in :class:`WaveformMixup`.

    Target weight of the sample itself: its share of the energy,
    ``lam_i = P_i / (P_i + g_i²·P_j) = 1 / (1 + 10^(−snr_i/10))`` (0.5 at 0 dB, 0.91 at
    10 dB), or, for multi-hot targets with ``union=True``, the union of both label sets (as
    torch-audiomentations' ``Mix`` does). A silent sample or partner gets nothing added and
    keeps its label. Works on waveforms and on power spectrograms (anything additive in
    amplitude), not on dB values.

    Args:
        snr_db (tuple of float or float, optional): ``(low, high)`` range in dB, or one fixed
            value. (Default: ``(0.0, 5.0)``)
        **kwargs: ``num_classes, p, per_sample, label_smoothing, multilabel, union, placement,
            generator, per_rank, check_finite, validate`` as in :class:`WaveformMixup`
            (``per_sample`` draws one SNR per sample).

    Example:
        >>> snrmix = SNRMix(snr_db=(0.0, 10.0), num_classes=10, generator=0)
        >>> x, targets = snrmix(torch.randn(8, 16000), torch.randint(10, (8,)))
        >>> snrmix.last_params.snr_db.shape
        torch.Size([8])
    """

    _name = "x"
    _layout = "(batch, [channels,] time) or (batch, [channels,] freq, frames)"
    _min_ndim = 2
    _max_ndim = 4
    _params_type = SNRMixParams

    def __init__(self, *, snr_db: tuple[float, float] | float = (0.0, 5.0), **kwargs: Any) -> None:
        if "alpha" in kwargs:
            raise TypeError("SNRMix draws SNRs, not λ: use `snr_db` instead of `alpha`.")
        super().__init__(alpha=1.0, **kwargs)
        self.snr_db = check_snr_range(snr_db)

    def sample_params(  # type: ignore[override]
        self, batch_size: int, lengths: Tensor | None = None, labels: Tensor | None = None
    ) -> SNRMixParams:
        """Draws partners, offsets (with ``lengths``) and SNRs; ``labels`` unused.

        Returns:
            SNRMixParams: on the CPU.
        """
        return sample_snr_params(
            batch_size,
            snr_db=self.snr_db,
            p=self.p,
            per_sample=self.per_sample,
            lengths=lengths,
            placement=self.placement,
            generator=self._stream.get(),
        )

    def _mix_with(self, x: Tensor, params: SNRMixParams, lengths: Tensor | None):
        out, kept, gain = _snr_mix(
            x, params.snr_db, params.perm, lengths=lengths, offsets=params.offsets, validate=False
        )
        kept = torch.where(params.applied, kept, torch.ones_like(kept))
        resolved = SNRMixParams(
            lam=kept,
            perm=params.perm,
            applied=params.applied,
            offsets=params.offsets,
            snr_db=params.snr_db,
            gain=gain,
        )
        return out, resolved

    def extra_repr(self) -> str:
        return (
            f"snr_db={self.snr_db}, num_classes={self.num_classes}, p={self.p}, "
            f"per_sample={self.per_sample}, multilabel={self.multilabel}, union={self.union}"
        )


class BCMix(_FamilyMixup):
    r"""Between-class (BC) mixing of waveforms (Tokozume, Ushiku and Harada, ICLR 2018).

    ``r ~ U(0, 1)`` (Beta(α, α) with the default α = 1), one per sample. The clips are mixed
    with a gain-aware weight

    ``p = 1 / (1 + 10^((G1 − G2)/20) · (1 − r)/r)``,
    ``x̃ = (p·x1 + (1 − p)·x2) / sqrt(p² + (1 − p)²)``

    where ``G`` is a clip's A-weighted gain (the loudest frame's A-weighted power in dB, see
    :func:`~audiomix.functional.a_weighted_gain`), so that the two components' perceived
    levels stand in the ratio ``r : (1 − r)``; the label is mixed by ``r``. ``r = 0`` and
    ``r = 1`` give one clip exactly; silent clips are floored at ``min_db``. With
    ``lengths``, the pair is aligned by ``placement`` as in :class:`WaveformMixup`.

    ``last_params`` (a :class:`~audiomix.functional.BCMixParams`) holds ``r`` in ``lam``, ``p``
    in ``mix_weight`` and the gains.

    Args:
        sample_rate (int): in Hz, for the A-weighting.
        alpha (float, optional): Beta concentration of ``r``. (Default: ``1.0``, uniform)
        reject_same_class (bool, optional): re-draw partners of the same class (the paper
            mixes two different classes); needs labels, which are read on the host. Samples
            with no other class in the batch stay unmixed. (Default: ``False``)
        per_sample (bool, optional): one ``r`` per sample. (Default: ``True``)
        n_fft (int or None, optional): gain frame length. (Default: the power of two nearest
            100 ms: 2048 at 16 kHz)
        min_db (float, optional): gain floor in dB. (Default: ``-80.0``)
        **kwargs: ``num_classes, p, label_smoothing, multilabel, union, placement, generator,
            per_rank, check_finite, validate`` as in :class:`WaveformMixup`.

    Example:
        >>> bc = BCMix(sample_rate=16000, num_classes=10, reject_same_class=True, generator=0)
        >>> x, targets = bc(torch.randn(8, 16000), torch.arange(8) % 10)
        >>> bc.last_params.mix_weight.shape
        torch.Size([8])
    """

    _name = "waveform"
    _layout = "(batch, time) or (batch, channels, time)"
    _min_ndim = 2
    _max_ndim = 3
    _params_type = BCMixParams

    def __init__(
        self,
        *,
        sample_rate: int,
        alpha: float = 1.0,
        reject_same_class: bool = False,
        per_sample: bool = True,
        n_fft: int | None = None,
        min_db: float = -80.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(alpha=alpha, per_sample=per_sample, **kwargs)
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, numbers.Real):
            raise TypeError(f"`sample_rate` must be a number, but got {type(sample_rate).__name__}.")
        if not (math.isfinite(sample_rate) and sample_rate > 0):
            raise ValueError(f"`sample_rate` must be > 0, but got {sample_rate}.")
        n_fft = default_gain_n_fft(sample_rate) if n_fft is None else n_fft
        if isinstance(n_fft, bool) or not isinstance(n_fft, int) or n_fft < 2:
            raise ValueError(f"`n_fft` must be an int >= 2, but got {n_fft!r}.")
        if not math.isfinite(min_db):
            raise ValueError(f"`min_db` must be finite, but got {min_db}.")
        self.sample_rate = sample_rate
        self.n_fft = n_fft
        self.min_db = float(min_db)
        self.reject_same_class = bool(reject_same_class)
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        self.register_buffer("a_weights", _a_weights(sample_rate, n_fft), persistent=False)

    def sample_params(  # type: ignore[override]
        self, batch_size: int, lengths: Tensor | None = None, labels: Tensor | None = None
    ) -> BCMixParams:
        """Draws ``r``, partners (re-drawn across classes if asked) and offsets.

        Returns:
            BCMixParams: on the CPU.
        """
        if self.reject_same_class and labels is None:
            raise ValueError(
                "`reject_same_class=True` needs `labels` to tell the classes apart."
            )
        return sample_bc_params(
            batch_size,
            alpha=self.alpha,
            p=self.p,
            per_sample=self.per_sample,
            lengths=lengths,
            placement=self.placement,
            labels=labels if self.reject_same_class else None,
            multilabel=self.multilabel,
            generator=self._stream.get(),
        )

    def gain_db(self, waveform: Tensor, lengths: Tensor | None = None) -> Tensor:
        """A-weighted gains (batch,) in dB with this module's settings."""
        return _gain_db(
            waveform, lengths, window=self.window, weights=self.a_weights, min_db=self.min_db
        )

    def _mix_with(self, x: Tensor, params: BCMixParams, lengths: Tensor | None):
        gains = self.gain_db(x, lengths)
        out, p = _bc_mix(
            x,
            params.lam,
            params.perm,
            gain_db=gains,
            lengths=lengths,
            offsets=params.offsets,
            validate=False,
        )
        resolved = BCMixParams(
            lam=params.lam,
            perm=params.perm,
            applied=params.applied,
            offsets=params.offsets,
            mix_weight=p,
            gain_db=gains,
        )
        return out, resolved

    def extra_repr(self) -> str:
        return (
            f"sample_rate={self.sample_rate}, {super().extra_repr()}, n_fft={self.n_fft}, "
            f"reject_same_class={self.reject_same_class}"
        )


class RandomChoiceMix(nn.Module):
    r"""Applies one of several mixing modules per batch, chosen at random (like timm's
    mixup/CutMix switch).

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
            raise TypeError(f"`weights` must be a sequence of numbers, but got {weights!r}.") from None
        if w.shape != (len(modules),):
            raise ValueError(
                f"`weights` must have one entry per transform ({len(modules)}), but got "
                f"{w.numel()}."
            )
        if not bool(torch.isfinite(w).all()) or bool((w < 0).any()) or float(w.sum()) <= 0:
            raise ValueError(
                f"`weights` must be finite, >= 0 and not all 0, but got {w.tolist()}."
            )
        self.transforms = nn.ModuleList(modules)
        self.names = names
        # Plain floats, not a buffer: the choice is drawn on the CPU without touching a device.
        self.weights = tuple((w / w.sum()).tolist())
        self._stream = RandomStream(generator, per_rank=per_rank)
        self.last_index: int | None = None

    @property
    def generator(self) -> torch.Generator:
        """The CPU generator of the choice."""
        return self._stream.get()

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

    def get_extra_state(self) -> dict[str, Any]:
        return self._stream.state()

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self._stream.load_state(state)

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
        """Calls one member: ``(x, targets)`` or ``(x, targets, lengths)``."""
        index = self.choose()
        self.last_index = index
        chosen = self.transforms[index]
        if lengths is None:
            return chosen(x, labels)
        return chosen(x, labels, lengths)

    def extra_repr(self) -> str:
        pairs = ", ".join(
            f"{n}: {w:.3g}" for n, w in zip(self.names, self.weights, strict=True)
        )
        return f"weights={{{pairs}}}"
