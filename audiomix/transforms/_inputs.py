"""What a mixer accepts and how it checks a call: the batch layouts, and the checks of the
audio, labels, lengths, frame labels and replayed parameters a :class:`~audiomix.transforms.Mixer`
is given.

:class:`Layout` names a mixer's input in messages and bounds its rank (``WAVEFORM``,
``SPECGRAM``, ``ANY_AUDIO``); :class:`InputChecksMixin` holds the checks every mixer runs
before it mixes; :func:`time_mask` is the valid-time mask of a padded batch.
"""

from __future__ import annotations

from fractions import Fraction
from typing import NamedTuple

import torch
from torch import Tensor

from .._validation import (
    check_audio,
    check_labels_batch,
    check_lam,
    check_lengths,
    check_perm,
    check_same_device,
)
from ..functional._alignment import lengths_to_mask
from ..functional._frames import check_frame_count
from ..functional._mix import raise_if_not_finite
from ..functional._sampling import MixParams

__all__ = ["ANY_AUDIO", "SPECGRAM", "WAVEFORM", "InputChecksMixin", "Layout", "time_mask"]


class Layout(NamedTuple):
    """What a mixer accepts: the name used in messages, the shape in words, the ranks."""

    name: str
    shape: str
    min_ndim: int
    max_ndim: int
    spectral: bool = False


WAVEFORM = Layout("waveform", "(batch, time) or (batch, channels, time)", 2, 3)
SPECGRAM = Layout(
    "specgram", "(batch, n_mels, frames) or (batch, channels, n_mels, frames)", 3, 4, True
)
ANY_AUDIO = Layout("x", "(batch, [channels,] time) or (batch, [channels,] freq, frames)", 2, 4)

# A spectrogram with one bin and this many frames is almost surely a (batch, 1, time) waveform.
_WAVEFORM_LIKE_FRAMES = 1000


class InputChecksMixin:
    """The checks a :class:`~audiomix.transforms.Mixer` runs on what a call gives it: the
    audio in the mixer's :attr:`layout`, labels and lengths that match its batch, frame labels
    that fit the audio at the hop, and parameters drawn elsewhere (a replay)."""

    layout: Layout
    params_type: type
    checks_finite_in_mix: bool
    check_finite: bool
    validate: bool
    frames_last: bool
    training: bool

    def _check_inputs(self, x: Tensor, labels: Tensor | None, lengths: Tensor | None) -> None:
        layout = self.layout
        check_audio(
            x,
            layout.name,
            min_ndim=layout.min_ndim,
            max_ndim=layout.max_ndim,
            layout=layout.shape,
            check_finite=False,  # below, over the valid region only
        )
        if layout.spectral and x.shape[-2] == 1 and x.shape[-1] >= _WAVEFORM_LIKE_FRAMES:
            raise ValueError(
                f"{type(self).__name__} got `{layout.name}` of shape {tuple(x.shape)}: one "
                f"frequency bin and {x.shape[-1]} frames looks like a (batch, channels, time) "
                "waveform. Mix waveforms with WaveformMixup (or WaveformCutMix), or compute "
                "the spectrogram first."
            )
        b = x.shape[0]
        if labels is not None:
            check_labels_batch(labels, b, layout.name)
            check_same_device(x, labels, layout.name, "labels")
        if lengths is not None:
            if isinstance(lengths, Tensor):
                check_same_device(x, lengths, layout.name, "lengths")
            check_lengths(lengths, b, x.shape[-1])
        if self._scan_input:
            raise_if_not_finite(x, lengths, layout.name)

    @property
    def _scan_input(self) -> bool:
        # Padding is never read, so only the valid region must be finite. In eval mode nothing
        # is mixed, so nothing can spread: no scan.
        return self.check_finite and self.training and not self.checks_finite_in_mix

    def _check_params(self, params: MixParams, b: int, lengths: Tensor | None) -> None:
        if not isinstance(params, self.params_type):
            raise TypeError(
                f"`params` must be {self.params_type.__name__} (from `sample_params`), but got "
                f"{type(params).__name__}."
            )
        if params.lam.shape != (b,) or params.perm.shape != (b,):
            raise ValueError(
                f"`params` were drawn for a batch of {tuple(params.lam.shape)}, but the batch has "
                f"{b} samples."
            )
        if not self.validate:
            return
        # Parameters from outside (a replay, another module) get the checks mix() skips here.
        check_lam(params.lam, b)
        check_perm(params.perm, b)
        if lengths is not None and params.offsets is not None:
            lens = lengths.to(params.perm.device, torch.int64)
            gap = (lens - lens[params.perm]).abs()
            off = params.offsets.to(gap.device)
            if off.shape != (b,) or bool(((off < 0) | (off > gap)).any()):
                raise ValueError(
                    "`params.offsets` must have shape (batch,) and lie in "
                    "[0, |lengths - lengths[perm]|]: were the params drawn for other lengths?"
                )

    def _frame_labels(
        self, labels: Tensor, num_positions: int, hop: Fraction | None, *, name: str = "labels"
    ) -> Tensor:
        """Frame labels as (batch, frames, classes) (a view), their frame count checked."""
        if labels.ndim != 3:
            raise ValueError(
                f"`{name}` must be frame labels (batch, frames, classes), but got shape "
                f"{tuple(labels.shape)}."
            )
        labels = labels.transpose(1, 2) if self.frames_last else labels
        unit = {"waveform": "samples", "specgram": "frames"}.get(self.layout.name, "positions")
        check_frame_count(labels.shape[1], num_positions, hop, name=name, unit=unit)
        return labels

    def _layout_back(self, targets: Tensor) -> Tensor:
        return targets.transpose(1, 2) if self.frames_last else targets


def time_mask(lengths: Tensor, like: Tensor) -> Tensor:
    """(batch, 1, ..., time) mask of valid frames, broadcastable to ``like``."""
    mask = lengths_to_mask(lengths.to(like.device), like.shape[-1])
    return mask.view(like.shape[0], *[1] * (like.ndim - 2), like.shape[-1])
