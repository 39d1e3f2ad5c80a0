"""Training-time steps of the recipe, vectorised over the batch: :class:`BackgroundNoise`
(segments of long recordings at a random SNR) and :class:`RandomTimeShift` (:func:`shift_time`
by a random number of samples, zero-filled), each with an explicit ``torch.Generator``;
:class:`RMSNormalization` (every clip to one loudness before mixing) and :class:`SpecAugment`
(torchaudio's masks, one draw per clip).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

import torch
import torchaudio
from torch import Tensor, nn

import audiomix

from .common import BACKGROUND_NOISE_DIR
from .layout import load_background_noise

__all__ = ["BackgroundNoise", "RMSNormalization", "RandomTimeShift", "SpecAugment", "shift_time"]


def _uniform(low: float, high: float, n: int, generator: torch.Generator | None) -> Tensor:
    device = generator.device if generator is not None else "cpu"
    return low + (high - low) * torch.rand(n, generator=generator, device=device)


def _gather_segments(
    buffer: Tensor,
    offsets: Tensor,
    lengths: Tensor,
    file_index: Tensor,
    start_fraction: Tensor,
    num_samples: int,
) -> Tensor:
    """Segments of concatenated recordings, one per row, without a Python loop.

    Args:
        buffer (Tensor): ``(total,)`` all recordings end to end.
        offsets (Tensor): ``(files,)`` int64 start of each recording in ``buffer``.
        lengths (Tensor): ``(files,)`` int64 length of each recording.
        file_index (Tensor): ``(n,)`` int64 recording of each segment.
        start_fraction (Tensor): ``(n,)`` in [0, 1), where in the allowed range it starts.
        num_samples (int): segment length.

    Returns:
        Tensor: ``(n, num_samples)``. A recording shorter than ``num_samples`` is looped.
    """
    length = lengths[file_index]
    max_start = (length - num_samples).clamp_min(0)
    start = (start_fraction * (max_start + 1)).long().minimum(max_start)
    if bool((length >= num_samples).all()):
        # Rows of a sliding-window view: one copy, no (n, num_samples) index tensor.
        return buffer.unfold(0, num_samples, 1)[offsets[file_index] + start]
    steps = torch.arange(num_samples, device=buffer.device)
    position = (start[:, None] + steps) % length[:, None]
    return buffer[offsets[file_index][:, None] + position]


def _concatenate(recordings: Sequence[Tensor]) -> tuple[Tensor, Tensor, Tensor]:
    lengths = torch.tensor([r.shape[0] for r in recordings], dtype=torch.long)
    offsets = torch.cumsum(lengths, 0) - lengths
    buffer = torch.cat([r.to(torch.float32) for r in recordings])
    return buffer, offsets, lengths


class BackgroundNoise(nn.Module):
    """Adds random segments of background recordings at a random SNR, with probability ``p``.

    For each row of the batch (all leading dimensions flattened): with probability ``p``, a
    recording is picked uniformly, a segment of the waveform's length starts at a uniform
    position in it (short recordings are looped), an SNR is drawn uniformly in ``snr_db`` and
    the segment is scaled so that ``10 * log10(signal energy / added noise energy)`` equals it
    (:func:`torchaudio.functional.add_noise`; with ``lengths``, both energies count only the
    first ``lengths`` samples of the row, and the noise still covers all of it). All-zero rows
    (no SNR is defined) and all-zero segments are left unchanged. Every draw comes from
    ``generator``; the input is not modified.

    Args:
        noise (sequence of Tensor): recordings, each ``(time,)``, e.g. from
            :func:`load_background_noise`.
        snr_db (tuple[float, float]): SNR range in dB. (Default: ``(0.0, 20.0)``)
        p (float): probability to add noise to a row. (Default: ``0.8``)
        generator (torch.Generator or None): source of randomness; None uses torch's default.
            (Default: ``None``)

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> noise = [torch.randn(48000, generator=g), torch.randn(20000, generator=g)]
        >>> augment = BackgroundNoise(noise, snr_db=(5.0, 15.0), p=1.0, generator=g)
        >>> augment(torch.randn(8, 1, 16000, generator=g)).shape
        torch.Size([8, 1, 16000])
    """

    def __init__(
        self,
        noise: Sequence[Tensor],
        *,
        snr_db: tuple[float, float] = (0.0, 20.0),
        p: float = 0.8,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if isinstance(noise, Tensor) or not isinstance(noise, Iterable):
            raise TypeError("`noise` must be a sequence of 1-D tensors (time,).")
        noise = list(noise)
        if not noise:
            raise ValueError("`noise` must hold at least one recording, but got none.")
        for i, recording in enumerate(noise):
            if not isinstance(recording, Tensor) or recording.ndim != 1 or recording.numel() == 0:
                shape = (
                    tuple(recording.shape)
                    if isinstance(recording, Tensor)
                    else type(recording).__name__
                )
                raise ValueError(
                    f"`noise[{i}]` must be a non-empty 1-D tensor (time,), but got {shape}."
                )
        low, high = (float(v) for v in snr_db)
        if low > high:
            raise ValueError(f"`snr_db` must be (low, high) with low <= high, but got {snr_db}.")
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"`p` must be in [0, 1], but got {p}.")
        self.snr_db = (low, high)
        self.p = float(p)
        self.generator = generator
        buffer, offsets, lengths = _concatenate(noise)
        # Not persistent: the recordings are data, not state, and would bloat checkpoints.
        self.register_buffer("buffer", buffer, persistent=False)
        self.register_buffer("offsets", offsets, persistent=False)
        self.register_buffer("lengths", lengths, persistent=False)

    @classmethod
    def from_folder(
        cls,
        root: str | os.PathLike,
        *,
        sample_rate: int = 16000,
        split: str | None = "training",
        **kwargs,
    ) -> BackgroundNoise:
        """Builds it from the ``_background_noise_`` recordings of a Speech Commands folder.

        Args:
            root (str or PathLike): the dataset folder.
            sample_rate (int): rate of the waveforms it will be applied to. (Default: ``16000``)
            split (str or None): region of the recordings, see :func:`load_background_noise`.
                (Default: ``"training"``)
            **kwargs: ``snr_db``, ``p``, ``generator``.
        """
        recordings = load_background_noise(root, sample_rate=sample_rate, split=split)
        if not recordings:
            raise ValueError(f"`root` has no readable {BACKGROUND_NOISE_DIR}/*.wav: {str(root)!r}.")
        return cls(recordings, **kwargs)

    def forward(self, waveform: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Adds noise.

        Args:
            waveform (Tensor): ``(..., time)``.
            lengths (Tensor or None): ``(...)`` valid samples of each row, over which the SNR holds.
                (Default: ``None``, all samples)

        Returns:
            Tensor: ``(..., time)``, a new tensor.
        """
        if not waveform.is_floating_point():
            raise TypeError(
                f"`waveform` must be a floating-point tensor, but got {waveform.dtype}."
            )
        if waveform.ndim == 0 or waveform.shape[-1] == 0:
            raise ValueError(
                f"`waveform` must be (..., time) with time > 0, but got {tuple(waveform.shape)}."
            )
        leading, time = waveform.shape[:-1], waveform.shape[-1]
        rows = waveform.reshape(-1, time)
        n = rows.shape[0]
        if lengths is not None:
            if lengths.shape != leading:
                raise ValueError(
                    f"`lengths` must have shape {tuple(leading)} (the leading dimensions of "
                    f"waveform), but got {tuple(lengths.shape)}."
                )
            lengths = lengths.reshape(n).to(waveform.device)

        apply = _uniform(0.0, 1.0, n, self.generator) < self.p
        device = self.generator.device if self.generator is not None else "cpu"
        file_index = torch.randint(
            0, self.lengths.shape[0], (n,), generator=self.generator, device=device
        )
        start = _uniform(0.0, 1.0, n, self.generator)
        snr = _uniform(*self.snr_db, n, self.generator)

        here = self.buffer.device
        segment = _gather_segments(
            self.buffer, self.offsets, self.lengths, file_index.to(here), start.to(here), time
        ).to(device=waveform.device, dtype=waveform.dtype)
        # The formula of torchaudio.functional.add_noise, written out so that rows left alone
        # get a zero scale (one multiply-add for the batch, no masking pass afterwards) and an
        # all-zero segment gives no NaN. Energies in float32 at least: float16 squares overflow.
        if lengths is None:
            signal, noise = rows, segment
        else:
            valid = torch.arange(time, device=waveform.device) < lengths[:, None]
            signal, noise = rows * valid, segment * valid
        dtype = torch.promote_types(waveform.dtype, torch.float32)
        signal_energy = torch.linalg.vector_norm(signal, dim=-1, dtype=dtype).square()
        noise_energy = torch.linalg.vector_norm(noise, dim=-1, dtype=dtype).square()
        snr = snr.to(device=waveform.device, dtype=dtype)
        scale = torch.sqrt(signal_energy / noise_energy * 10.0 ** (-snr / 10.0))
        scale = torch.where(apply.to(waveform.device) & (noise_energy > 0), scale, 0.0)
        return (rows + scale.to(waveform.dtype)[:, None] * segment).reshape(waveform.shape)

    def extra_repr(self) -> str:
        return f"recordings={self.lengths.shape[0]}, snr_db={self.snr_db}, p={self.p}"


def shift_time(waveform: Tensor, shifts: Tensor) -> Tensor:
    """Shifts each row in time by its own number of samples, filling with zeros.

    Args:
        waveform (Tensor): ``(..., time)``.
        shifts (Tensor): ``(...)`` integers; a positive shift delays (moves right), a negative
            one advances. Shifts beyond ``time`` give zeros.

    Returns:
        Tensor: ``(..., time)``, a new tensor.
    """
    if waveform.ndim == 0:
        raise ValueError("`waveform` must be (..., time), but got a 0-d tensor.")
    if shifts.shape != waveform.shape[:-1]:
        raise ValueError(
            f"`shifts` must have shape {tuple(waveform.shape[:-1])} (the leading dimensions of "
            f"waveform), but got {tuple(shifts.shape)}."
        )
    if shifts.is_floating_point():
        raise TypeError(f"`shifts` must hold integers, but got dtype {shifts.dtype}.")
    time = waveform.shape[-1]
    rows = waveform.reshape(-1, time)
    shifts = shifts.reshape(-1).to(device=waveform.device, dtype=torch.long).clamp(-time, time)
    # Zero-pad by the largest shift, then take for each row the window starting at
    # `margin - shift`: out[t] = rows[t - shift], a single copy without an index per sample.
    margin = int(shifts.abs().max()) if shifts.numel() else 0
    windows = nn.functional.pad(rows, (margin, margin)).unfold(1, time, 1)
    rows_index = torch.arange(rows.shape[0], device=waveform.device)
    return windows[rows_index, margin - shifts].reshape(waveform.shape)


class RandomTimeShift(nn.Module):
    """Shifts each row by a uniform integer in ``[-max_shift, max_shift]`` samples, zero-filled.

    The TensorFlow reference shifts by up to 100 ms (``max_shift=1600`` at 16 kHz).

    Args:
        max_shift (int): largest shift in samples, >= 0.
        generator (torch.Generator or None): source of randomness; None uses torch's default.
            (Default: ``None``)

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> shift = RandomTimeShift(1600, generator=g)
        >>> shift(torch.randn(8, 1, 16000, generator=g)).shape
        torch.Size([8, 1, 16000])
    """

    def __init__(self, max_shift: int, *, generator: torch.Generator | None = None) -> None:
        super().__init__()
        if isinstance(max_shift, bool) or not isinstance(max_shift, int):
            raise TypeError(f"`max_shift` must be an int, but got {type(max_shift).__name__}.")
        if max_shift < 0:
            raise ValueError(f"`max_shift` must be >= 0, but got {max_shift}.")
        self.max_shift = max_shift
        self.generator = generator

    def forward(self, waveform: Tensor) -> Tensor:
        """Args: waveform (Tensor): ``(..., time)``. Returns: Tensor ``(..., time)``."""
        if waveform.ndim == 0:
            raise ValueError("`waveform` must be (..., time), but got a 0-d tensor.")
        device = self.generator.device if self.generator is not None else "cpu"
        shifts = torch.randint(
            -self.max_shift,
            self.max_shift + 1,
            waveform.shape[:-1],
            generator=self.generator,
            device=device,
        )
        return shift_time(waveform, shifts)

    def extra_repr(self) -> str:
        return f"max_shift={self.max_shift}"


class RMSNormalization(nn.Module):
    """Scales every clip to ``target_db`` RMS over its valid samples
    (:func:`audiomix.functional.normalize_rms`), so that a mixing weight is a loudness share.

    Called as ``m(waveform, lengths)`` and returns ``(waveform, lengths)``
    (``carries_lengths``), so that in an :class:`audiomix.Chain` it sees the clips' lengths.

    Args:
        target_db (float): RMS level in dB re full scale.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> x, lengths = RMSNormalization(-20.0)(torch.randn(2, 8000, generator=g), None)
        >>> audiomix.functional.rms_db(x).round().tolist()
        [-20.0, -20.0]
    """

    carries_lengths = True

    def __init__(self, target_db: float) -> None:
        super().__init__()
        self.target_db = float(target_db)

    def forward(
        self, waveform: Tensor, lengths: Tensor | None = None
    ) -> tuple[Tensor, Tensor | None]:
        """
        Args:
            waveform (Tensor): (batch, time).
            lengths (Tensor or None): (batch,) valid samples. (Default: ``None``, all)

        Returns:
            tuple: the scaled ``(batch, time)`` waveforms and ``lengths`` unchanged.
        """
        scaled = audiomix.functional.normalize_rms(
            waveform, target_db=self.target_db, lengths=lengths
        )
        return scaled, lengths

    def extra_repr(self) -> str:
        return f"target_db={self.target_db}"


class SpecAugment(nn.Module):
    """torchaudio's frequency and time masking of log-mels, a separate draw for every clip.

    The draws come from torch's global generator (torchaudio's masks take no generator).

    Args:
        freq_mask (int): largest number of masked mel bins.
        time_mask (int): largest number of masked frames.

    Example:
        >>> SpecAugment(7, 20)(torch.zeros(4, 40, 101)).shape
        torch.Size([4, 40, 101])
    """

    def __init__(self, freq_mask: int, time_mask: int) -> None:
        super().__init__()
        self.masks = nn.Sequential(
            torchaudio.transforms.FrequencyMasking(freq_mask, iid_masks=True),
            torchaudio.transforms.TimeMasking(time_mask, iid_masks=True),
        )

    def forward(self, specgram: Tensor) -> Tensor:
        """Args: specgram (Tensor): (batch, n_mels, frames). Returns: Tensor, the same shape."""
        return self.masks(specgram.unsqueeze(1)).squeeze(1)
