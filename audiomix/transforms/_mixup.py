"""Mixup on waveforms and on spectrograms: x̃ = λ·x_i + (1−λ)·x_j, ỹ = λ·y_i + (1−λ)·y_j."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

from .._validation import check_choice
from ..functional._alignment import mix_lengths
from ..functional._mix import mix
from ..functional._sampling import MixParams
from ..functional._spectral import db_to_power
from ._base import Mixer, MixerOptions
from ._inputs import SPECGRAM, WAVEFORM, time_mask

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["SpectrogramMixup", "WaveformMixup"]

SCALES = ("db", "power", "amplitude")
DOMAINS = ("power", "input")


class WaveformMixup(Mixer[MixParams]):
    r"""Mixup on waveforms: ``x̃ = λ·x_i + (1−λ)·x_j`` and ``ỹ = λ·y_i + (1−λ)·y_j``.

    λ ~ Beta(α, α), one per batch or one per sample; partners are a random permutation of the
    batch from the module's own generator. With ``lengths`` (a right-padded batch), a clip of
    length ``a`` mixed with a partner of length ``b`` is valid over ``max(a, b)``; padding
    counts as silence and the shorter clip is placed at the start, centre or a random offset of
    the longer one (``placement``). The input is never modified.

    Training-time only, like dropout: after ``.eval()`` the call returns its input itself,
    unmixed targets and the lengths unchanged. ``alpha`` and ``p`` are settable (schedules),
    also for running DataLoader workers.

    Args:
        alpha (float, optional): Beta concentration, > 0. (Default: ``0.2``)
        num_classes (int or None, optional): needed when labels are class indices.
        **options: ``p``, ``per_sample``, ``label_smoothing``, ``multilabel``, ``union``,
            ``placement``, ``partner``, ``generator``, ``per_rank``, ``check_finite``,
            ``validate``: the arguments every mixer shares, described in
            :class:`~audiomix.transforms.Mixer`.

    Call as ``x, targets = mixup(x, labels)`` or
    ``x, targets, lengths = mixup(x, labels, lengths)``; ``mixup.last_params`` holds the λ and
    partners of the last call (for ``λ·CE(a) + (1−λ)·CE(b)`` losses and logging). A batch of 1
    comes back unchanged. When no sample is mixed (``p`` < 1), the input tensor itself is
    returned.

    Example:
        >>> mixup = WaveformMixup(alpha=0.4, num_classes=12, generator=0)
        >>> x, targets = mixup(torch.randn(8, 16000), torch.randint(12, (8,)))
        >>> x.shape, targets.shape
        (torch.Size([8, 16000]), torch.Size([8, 12]))
    """

    layout = WAVEFORM
    checks_finite_in_mix = True

    def mix(
        self, x: Tensor, params: MixParams, lengths: Tensor | None = None
    ) -> tuple[Tensor, MixParams]:
        out = mix(
            x,
            params.lam,
            params.perm,
            lengths=lengths,
            offsets=params.offsets,
            validate=False,
            check_finite=self.check_finite,
            name=self.layout.name,
        )
        return out, params


class SpectrogramMixup(Mixer[MixParams]):
    r"""Mixup on spectrograms, aware of their scale.

    Decibels do not add: for ``scale="db"`` (what :class:`LogMelSpectrogram` emits) the
    default mixes in the power domain, ``10·log10(λ·10^(a/10) + (1−λ)·10^(b/10))``;
    ``scale="amplitude"`` mixes squared magnitudes and takes the root; ``scale="power"`` mixes
    as it is. ``domain="input"`` mixes the values linearly whatever their scale (as PANNs and
    PaSST do with log-mel input).

    With ``lengths`` (in frames), padding is silence: zero power, which in dB becomes each mix's
    floor (the smallest valid value of that mix), also written to the padded frames of the
    output.

    Training-time only, like dropout: after ``.eval()`` the call returns its input itself,
    unmixed targets and the lengths unchanged. ``alpha`` and ``p`` are settable (schedules),
    also for running DataLoader workers.

    Args:
        alpha (float, optional): Beta concentration, > 0. (Default: ``0.2``)
        num_classes (int or None, optional): needed when labels are class indices.
        scale (str, optional): ``"db"``, ``"power"`` or ``"amplitude"``. (Default: ``"db"``)
        domain (str, optional): ``"power"`` or ``"input"``. (Default: ``"power"``)
        amin (float, optional): power floor when converting back to dB. (Default: ``1e-10``)
        **options: the arguments every mixer shares (:class:`~audiomix.transforms.Mixer`).

    Example:
        >>> logmel = LogMelSpectrogram(n_mels=40)
        >>> mixup = SpectrogramMixup(alpha=0.4, num_classes=12, generator=0)
        >>> specgram, targets = mixup(logmel(torch.randn(8, 16000)), torch.randint(12, (8,)))
        >>> specgram.shape
        torch.Size([8, 40, 81])
    """

    layout = SPECGRAM

    def __init__(
        self,
        alpha: float = 0.2,
        num_classes: int | None = None,
        *,
        scale: str = "db",
        domain: str = "power",
        amin: float = 1e-10,
        **options: Unpack[MixerOptions],
    ) -> None:
        super().__init__(alpha, num_classes, **options)
        self.scale = check_choice(scale, "scale", SCALES)
        self.domain = check_choice(domain, "domain", DOMAINS)
        if amin <= 0:
            raise ValueError(f"`amin` must be > 0, but got {amin}.")
        self.amin = amin

    def mix(
        self, x: Tensor, params: MixParams, lengths: Tensor | None = None
    ) -> tuple[Tensor, MixParams]:
        return self._mix_scaled(x, params, lengths), params

    @property
    def checks_finite_in_mix(self) -> bool:  # type: ignore[override]
        # A linear mix keeps NaN and ±Inf in the sample's own output (−Inf dB meets a finite
        # value as NaN): the mix's fused check sees them. Through the power domain −Inf dB
        # becomes 0 power and would pass, so that path keeps the separate scan.
        return self.domain == "input" or self.scale == "power"

    def _mix_scaled(self, x: Tensor, params: MixParams, lengths: Tensor | None) -> Tensor:
        lam, perm, offsets = params.lam, params.perm, params.offsets
        linear = self.domain == "input" or self.scale == "power"
        if linear:
            fill: Tensor | float = 0.0
            if lengths is not None and self.scale == "db":
                fill = _masked_min(x, time_mask(lengths, x))  # a dB clip's silence: its floor
            return mix(
                x,
                lam,
                perm,
                lengths=lengths,
                offsets=offsets,
                fill=fill,
                validate=False,
                check_finite=self.check_finite,
                name=self.layout.name,
            )

        work = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
        power = db_to_power(work) if self.scale == "db" else work.square()
        mixed = mix(power, lam, perm, lengths=lengths, offsets=offsets, validate=False)
        if self.scale == "amplitude":
            return mixed.sqrt_().to(x.dtype)
        out = mixed.clamp_min_(self.amin).log10_().mul_(10.0)
        if lengths is not None:
            valid = mix_lengths(lengths, perm)
            mask = time_mask(valid, out)
            out = torch.where(mask, out, _masked_min(out, mask).view(-1, *[1] * (out.ndim - 1)))
        return out.to(x.dtype)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, scale={self.scale!r}, domain={self.domain!r}"


def _masked_min(x: Tensor, mask: Tensor) -> Tensor:
    """(batch,) minimum of each example over its valid frames (``mask`` from ``time_mask``)."""
    big = torch.finfo(x.dtype).max
    return torch.where(mask, x, big).flatten(1).amin(dim=1)
