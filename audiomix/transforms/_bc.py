"""Between-class (BC) mixing: an A-weighted, gain-aware mixing ratio."""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from ..functional._bc import bc_mix, sample_bc_params
from ..functional._params import BCMixParams
from ..functional._sampling import PairingOptions
from ..functional._weighting import a_weighted_gain, a_weighting_bins, default_gain_n_fft
from ._base import Mixer, MixerOptions
from ._inputs import WAVEFORM

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["BCMix"]


class BCMix(Mixer[BCMixParams]):
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

    Training-time only, like dropout: after ``.eval()`` the call returns its input itself,
    unmixed targets and the lengths unchanged. ``alpha`` and ``p`` are settable (schedules),
    also for running DataLoader workers.

    Args:
        sample_rate (int): in Hz, for the A-weighting.
        alpha (float, optional): Beta concentration of ``r``. (Default: ``1.0``, uniform)
        n_fft (int or None, optional): gain frame length. (Default: the power of two nearest
            100 ms: 2048 at 16 kHz)
        min_db (float, optional): gain floor in dB. (Default: ``-80.0``)
        num_classes (int or None, optional): needed when labels are class indices.
        **options: the arguments every mixer shares (:class:`~audiomix.transforms.Mixer`);
            here ``per_sample`` defaults to ``True`` (one ``r`` per sample, as in the paper).
            The paper mixes clips of two different classes: ``partner="other_class"`` (the
            labels are then read on the host; samples with no other class in the batch stay
            unmixed).

    Example:
        >>> bc = BCMix(sample_rate=16000, num_classes=10, partner="other_class",
        ...             generator=0)
        >>> x, targets = bc(torch.randn(8, 16000), torch.arange(8) % 10)
        >>> bc.last_params.mix_weight.shape
        torch.Size([8])
    """

    layout = WAVEFORM
    params_type = BCMixParams
    window: Tensor
    a_weights: Tensor

    def __init__(
        self,
        sample_rate: int,
        alpha: float = 1.0,
        num_classes: int | None = None,
        *,
        n_fft: int | None = None,
        min_db: float = -80.0,
        **options: Unpack[MixerOptions],
    ) -> None:
        options.setdefault("per_sample", True)  # one r per sample, as in the paper
        super().__init__(alpha, num_classes, **options)
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, numbers.Real):
            raise TypeError(
                f"`sample_rate` must be a number, but got {type(sample_rate).__name__}."
            )
        if not (math.isfinite(sample_rate) and sample_rate > 0):
            raise ValueError(f"`sample_rate` must be > 0, but got {sample_rate}.")
        n_fft = default_gain_n_fft(sample_rate) if n_fft is None else n_fft
        if isinstance(n_fft, bool) or not isinstance(n_fft, int) or n_fft < 2:
            raise ValueError(f"`n_fft` must be an int >= 2, but got {n_fft!r}.")
        if not math.isfinite(min_db):
            raise ValueError(f"`min_db` must be finite, but got {min_db}.")
        self.sample_rate: float = sample_rate
        self.n_fft: int = n_fft
        self.min_db: float = float(min_db)
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        self.register_buffer("a_weights", a_weighting_bins(sample_rate, n_fft), persistent=False)

    def draw(self, batch_size: int, pairing: PairingOptions) -> BCMixParams:
        """``r``, partners and offsets (see :meth:`Mixer.draw`)."""
        return sample_bc_params(batch_size, alpha=self._alpha(), **pairing)

    def gain_db(self, waveform: Tensor, lengths: Tensor | None = None) -> Tensor:
        """A-weighted gains (batch,) in dB with this module's settings."""
        return a_weighted_gain(
            waveform,
            sample_rate=self.sample_rate,
            lengths=lengths,
            window=self.window,
            weights=self.a_weights,
            min_db=self.min_db,
            validate=False,
        )

    def mix(
        self, x: Tensor, params: BCMixParams, lengths: Tensor | None = None
    ) -> tuple[Tensor, BCMixParams]:
        gains = self.gain_db(x, lengths)
        out, p = bc_mix(
            x,
            params.lam,
            params.perm,
            gain_db=gains,
            lengths=lengths,
            offsets=params.offsets,
            validate=False,
        )
        return out, dataclasses.replace(params, mix_weight=p, gain_db=gains)

    def extra_repr(self) -> str:
        return (
            f"sample_rate={self.sample_rate}, {super().extra_repr()}, n_fft={self.n_fft}, "
            f"partner={self.partner!r}"
        )
