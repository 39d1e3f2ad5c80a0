"""SNR-aware mixing: add each sample's partner at an SNR drawn in dB."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, cast

import torch
from torch import Tensor

from .._validation import check_max_gain_db, check_snr_range
from ..functional._params import SNRMixParams
from ..functional._sampling import PairingOptions
from ..functional._snr import sample_snr_params, snr_mix
from ._base import Mixer, MixerOptions
from ._inputs import ANY_AUDIO

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["SNRMix"]


class SNRMix(Mixer[SNRMixParams]):
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

    Training-time only, like dropout: after ``.eval()`` the call returns its input itself,
    unmixed targets and the lengths unchanged. ``p`` is settable (schedules), also for
    running DataLoader workers. It draws SNRs, not λ: it has no ``alpha`` (``alpha`` reads
    ``None`` and setting it is an error).

    Args:
        snr_db (tuple of float or float, optional): ``(low, high)`` range in dB, or one fixed
            value. (Default: ``(0.0, 5.0)``)
        max_gain_db (float or None, optional): cap on the partner's gain in dB; a near-silent
            partner then stays below its SNR, and the target weight is the energy share
            actually reached. (Default: ``None``, exact SNRs; silent partners add nothing)
        num_classes (int or None, optional): needed when labels are class indices.
        **options: the arguments every mixer shares (:class:`~audiomix.transforms.Mixer`;
            ``per_sample`` draws one SNR per sample).

    Example:
        >>> snrmix = SNRMix(snr_db=(0.0, 10.0), num_classes=10, generator=0)
        >>> x, targets = snrmix(torch.randn(8, 16000), torch.randint(10, (8,)))
        >>> snrmix.last_params.snr_db.shape
        torch.Size([8])
    """

    layout = ANY_AUDIO
    params_type = SNRMixParams

    draws_lambda = False

    def __init__(
        self,
        snr_db: tuple[float, float] | float = (0.0, 5.0),
        num_classes: int | None = None,
        *,
        max_gain_db: float | None = None,
        **options: Unpack[MixerOptions],
    ) -> None:
        if "alpha" in options:
            raise TypeError("SNRMix draws SNRs, not λ: it takes no `alpha` (set `snr_db`).")
        super().__init__(None, num_classes, **options)
        self.snr_db = check_snr_range(snr_db)
        self.max_gain_db = check_max_gain_db(max_gain_db)

    def draw(self, batch_size: int, pairing: PairingOptions) -> SNRMixParams:
        """SNRs, partners and offsets (see :meth:`Mixer.draw`)."""
        return sample_snr_params(batch_size, snr_db=self.snr_db, **pairing)

    def mix(
        self, x: Tensor, params: SNRMixParams, lengths: Tensor | None = None
    ) -> tuple[Tensor, SNRMixParams]:
        if params.snr_db is None:
            raise ValueError("`params.snr_db` is missing: draw the parameters with sample_params.")
        out, kept, gain = cast(
            tuple[Tensor, Tensor, Tensor],
            snr_mix(
                x,
                params.snr_db,
                params.perm,
                lengths=lengths,
                offsets=params.offsets,
                max_gain_db=self.max_gain_db,
                validate=False,
                return_gain=True,
            ),
        )
        kept = torch.where(params.applied, kept, torch.ones_like(kept))
        return out, dataclasses.replace(params, lam=kept, gain=gain)

    def extra_repr(self) -> str:
        return (
            f"snr_db={self.snr_db}, num_classes={self.num_classes}, p={self.p}, "
            f"per_sample={self.per_sample}, multilabel={self.multilabel}, union={self.union}"
        )
