"""Reading and checking audio files of a Speech Commands folder.

Every clip is decoded once (in threads: libsndfile releases the GIL) and checked: an empty,
truncated, undecodable or frameless file, or one with non-finite samples, is a
:class:`BadFile` with the reason, reported together (or raised as :class:`BadAudioError`).
"""

from __future__ import annotations

import math
import os
import struct
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF
from torch import Tensor, nn

__all__ = [
    "BadAudioError",
    "BadFile",
    "UnusableAudio",
    "decode",
    "describe_bad_files",
    "fit_length",
    "report_bad_files",
    "scan",
    "to_rate",
]

_MAX_LISTED = 30  # bad files named in one warning or error message


@dataclass(frozen=True)
class BadFile:
    """An audio file that cannot be used, and why.

    Attributes:
        path (Path): the file.
        reason (str): what is wrong, e.g. ``"empty file (0 bytes)"``.
    """

    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


class BadAudioError(ValueError):
    """Raised with ``strict=True`` when files are unreadable; ``bad_files`` lists them."""

    def __init__(self, message: str, bad_files: Sequence[BadFile]):
        super().__init__(message)
        self.bad_files = list(bad_files)


class UnusableAudio(Exception):
    """A file failed a check; the message is the reason."""


def _wav_shortfall(path: Path, file_size: int) -> str | None:
    """Reason when a RIFF/WAVE header declares more audio data than the file holds.

    libsndfile silently clamps a truncated data chunk to what is there, so a cut download or an
    interrupted copy would pass as a short clip; the header's own size field tells them apart.
    Other containers (and RF64, whose sizes live elsewhere) are left to the decoder.
    """
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] not in (b"RIFF", b"RIFX") or head[8:12] != b"WAVE":
            return None
        endian = "<" if head[:4] == b"RIFF" else ">"
        pos = 12
        while pos + 8 <= file_size:
            f.seek(pos)
            chunk_id, size = struct.unpack(endian + "4sI", f.read(8))
            if chunk_id == b"data":
                available = file_size - pos - 8
                if size != 0xFFFFFFFF and size > available:
                    return (
                        f"truncated: the header declares {size} bytes of audio data, "
                        f"the file holds {available}"
                    )
                return None
            pos += 8 + size + (size & 1)  # chunks are padded to an even size
    return None


def decode(path: Path) -> tuple[Tensor, int]:
    """Decodes and checks one file: mono float32 ``(time,)`` and its sample rate.

    Raises:
        UnusableAudio: with the reason when the file is empty, truncated, undecodable, holds no
            frames or holds non-finite samples.
    """
    try:
        size = path.stat().st_size
    except OSError as err:
        raise UnusableAudio(f"cannot be opened ({err.strerror or err})") from None
    if size == 0:
        raise UnusableAudio("empty file (0 bytes)")
    try:
        shortfall = _wav_shortfall(path, size)
        if shortfall is not None:
            raise UnusableAudio(shortfall)
        data, file_rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.SoundFileError, RuntimeError, OSError, struct.error) as err:
        reason = getattr(err, "error_string", None) or str(err)
        raise UnusableAudio(f"not a readable audio file ({reason})") from None
    if data.shape[0] == 0:
        raise UnusableAudio("no audio frames")
    # Stereo and multichannel recordings become mono by averaging the channels.
    mono = data.mean(axis=1, dtype=np.float32)
    if not np.isfinite(mono).all():
        raise UnusableAudio("NaN or infinite samples")
    return torch.from_numpy(mono), int(file_rate)


def _resampled_length(frames: int, orig_freq: int, new_freq: int) -> int:
    """Length torchaudio.functional.resample gives ``frames`` samples, without resampling."""
    g = math.gcd(orig_freq, new_freq)
    return -(-frames * (new_freq // g) // (orig_freq // g))


def to_rate(mono: Tensor, file_rate: int, sample_rate: int) -> Tensor:
    if file_rate == sample_rate:
        return mono
    return AF.resample(mono, file_rate, sample_rate)


def fit_length(waveform: Tensor, num_samples: int) -> Tensor:
    """Zero-pads at the end or keeps the first ``num_samples`` (as TensorFlow's decode_wav)."""
    if waveform.shape[-1] >= num_samples:
        return waveform[..., :num_samples]
    return nn.functional.pad(waveform, (0, num_samples - waveform.shape[-1]))


def scan(
    paths: Sequence[Path],
    sample_rate: int,
    keep_samples: int | None,
    num_workers: int | None,
) -> tuple[list[int | None], Tensor | None, list[BadFile]]:
    """Decodes every file once, in threads (libsndfile releases the GIL).

    Returns:
        per file its length in samples at ``sample_rate`` (None when bad); when
        ``keep_samples`` is given, a ``(len(paths), keep_samples)`` tensor of the clips fitted
        to that length (rows of bad files are zero), else None; and the bad files.
    """
    workers = num_workers if num_workers is not None else min(8, os.cpu_count() or 1)
    if workers < 1:
        raise ValueError(f"`num_workers` must be >= 1, but got {num_workers}.")
    # Filled in place by the threads: the cache is built without a second copy.
    clips = None if keep_samples is None else torch.zeros(len(paths), keep_samples)

    def check(i: int) -> int | BadFile:
        try:
            mono, file_rate = decode(paths[i])
        except UnusableAudio as err:
            return BadFile(paths[i], str(err))
        if clips is None:
            return _resampled_length(mono.shape[0], file_rate, sample_rate)
        mono = to_rate(mono, file_rate, sample_rate)
        clips[i] = fit_length(mono, keep_samples)
        return mono.shape[0]

    if workers == 1 or len(paths) < 2:
        results = [check(i) for i in range(len(paths))]
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(check, range(len(paths))))
    bad = [r for r in results if isinstance(r, BadFile)]
    lengths = [None if isinstance(r, BadFile) else r for r in results]
    return lengths, clips, bad


def describe_bad_files(bad_files: Sequence[BadFile]) -> str:
    lines = [f"  {b}" for b in bad_files[:_MAX_LISTED]]
    if len(bad_files) > _MAX_LISTED:
        lines.append(f"  ... and {len(bad_files) - _MAX_LISTED} more")
    return "\n".join(lines)


def report_bad_files(bad: Sequence[BadFile], strict: bool, where: str) -> None:
    if not bad:
        return
    if strict:
        raise BadAudioError(
            f"{len(bad)} audio file(s) in {where} cannot be used "
            f"(strict=True):\n{describe_bad_files(bad)}",
            bad,
        )
    warnings.warn(
        f"Skipping {len(bad)} unusable audio file(s) in {where}:\n{describe_bad_files(bad)}",
        UserWarning,
        stacklevel=3,
    )
