"""CutMix for audio: paste a time segment (waveforms) or a time/frequency box (spectrograms)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, cast

import torch
from torch import Tensor

from .._validation import check_choice, check_fade
from ..functional._cutmix import CUT_MODES, CutBoxes, cutmix, sample_cutmix_params
from ..functional._frames import TimeMap, mixup_time_map, span_time_map
from ..functional._params import CutMixParams
from ..functional._sampling import PairingOptions
from ._base import Mixer, MixerOptions
from ._inputs import SPECGRAM, WAVEFORM

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["SpectrogramCutMix", "WaveformCutMix"]


class _CutMix(Mixer[CutMixParams]):
    """CutMix's shared steps: the draw (box centres), the paste, the kept-area weight."""

    params_type = CutMixParams
    mode = "time"
    fade = 0

    def draw(self, batch_size: int, pairing: PairingOptions) -> CutMixParams:
        """λ, partners, offsets and box centres (see :meth:`Mixer.draw`)."""
        return sample_cutmix_params(batch_size, alpha=self._alpha(), **pairing)

    def mix(
        self, x: Tensor, params: CutMixParams, lengths: Tensor | None = None
    ) -> tuple[Tensor, CutMixParams]:
        drawn = params.lam if params.lam_drawn is None else params.lam_drawn
        if params.time_center is None:
            raise ValueError("`params.time_center` is missing: draw them with sample_params.")
        out, boxes = cutmix(
            x,
            drawn,
            params.perm,
            time_center=params.time_center,
            freq_center=params.freq_center,
            mode=self.mode,
            lengths=lengths,
            offsets=params.offsets,
            validate=False,
            fade=self.fade,
            return_boxes=True,
        )
        boxes = cast(CutBoxes, boxes)
        kept = torch.where(params.applied, boxes.kept, torch.ones_like(boxes.kept))
        resolved = dataclasses.replace(
            params,
            lam=kept,
            lam_drawn=drawn,
            time_start=boxes.time_start,
            time_end=boxes.time_end,
            freq_start=boxes.freq_start,
            freq_end=boxes.freq_end,
        )
        return out, resolved

    def output_lengths(self, lengths: Tensor, params: CutMixParams) -> Tensor:
        return lengths  # the partner is pasted inside the sample's own valid region

    def time_map(self, params: CutMixParams, lengths: Tensor | None, shape: torch.Size) -> TimeMap:
        """The pasted span of each row, the partner aligned by the placement offset; a band
        or box of bins fills that share of each frame (see :meth:`Mixer.time_map`)."""
        if params.time_start is None or params.time_end is None:
            # Nothing was pasted (every row left unmixed): each row is its own clip.
            return mixup_time_map(torch.ones_like(params.lam), params.perm, lengths, None)
        share = None
        if params.freq_start is not None and params.freq_end is not None:
            share = (params.freq_end - params.freq_start).float() / shape[-2]
        return span_time_map(
            params.lam,
            params.perm,
            params.time_start,
            params.time_end,
            lengths=lengths,
            offsets=params.offsets,
            span_share=share,
            fade=self.fade,
        )


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

    Training-time only, like dropout: after ``.eval()`` the call returns its input itself,
    unmixed targets and the lengths unchanged. ``alpha`` and ``p`` are settable (schedules),
    also for running DataLoader workers.

    Args:
        mode (str, optional): ``"time"``, ``"freq"`` or ``"box"``. (Default: ``"box"``)
        alpha (float, optional): Beta concentration, > 0. (Default: ``1.0``, as in CutMix)
        num_classes (int or None, optional): needed when labels are class indices.
        **options: the arguments every mixer shares (:class:`~audiomix.transforms.Mixer`).

    Example:
        >>> cutmix = SpectrogramCutMix(mode="box", num_classes=10, generator=0)
        >>> specgram, targets = cutmix(torch.randn(8, 64, 101), torch.randint(10, (8,)))
        >>> specgram.shape, targets.shape
        (torch.Size([8, 64, 101]), torch.Size([8, 10]))
    """

    layout = SPECGRAM

    def __init__(
        self,
        alpha: float = 1.0,
        num_classes: int | None = None,
        *,
        mode: str = "box",
        **options: Unpack[MixerOptions],
    ) -> None:
        super().__init__(alpha, num_classes, **options)
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

    Training-time only, like dropout: after ``.eval()`` the call returns its input itself,
    unmixed targets and the lengths unchanged. ``alpha`` and ``p`` are settable (schedules),
    also for running DataLoader workers.

    Args:
        alpha (float, optional): Beta concentration, > 0. (Default: ``1.0``)
        fade (int, optional): linear cross-fade length in samples at each edge of the cut,
            e.g. 80 = 5 ms at 16 kHz. (Default: ``0``, a hard cut)
        num_classes (int or None, optional): needed when labels are class indices.
        **options: the arguments every mixer shares (:class:`~audiomix.transforms.Mixer`).

    Example:
        >>> cutmix = WaveformCutMix(fade=80, num_classes=10, generator=0)
        >>> x, targets, lengths = cutmix(torch.randn(4, 16000), torch.arange(4),
        ...                              torch.tensor([16000, 8000, 12000, 16000]))
        >>> lengths.tolist()
        [16000, 8000, 12000, 16000]
    """

    layout = WAVEFORM
    mode = "time"

    def __init__(
        self,
        alpha: float = 1.0,
        num_classes: int | None = None,
        *,
        fade: int = 0,
        **options: Unpack[MixerOptions],
    ) -> None:
        super().__init__(alpha, num_classes, **options)
        self.fade = check_fade(fade)

    def extra_repr(self) -> str:
        return f"fade={self.fade}, {super().extra_repr()}"
