"""Google Speech Commands (v0.01 and v0.02) for keyword spotting.

Reads any folder in the layout of the official archives::

    root/<word>/<speaker>_nohash_<n>.wav    one utterance, about 1 s, 16 kHz
    root/_background_noise_/*.wav           long noise recordings
    root/validation_list.txt                relative paths ``word/file.wav``, one a line
    root/testing_list.txt

and serves ``(waveform, label)`` pairs for the two tasks of Warden (2018), "Speech Commands:
A Dataset for Limited-Vocabulary Speech Recognition":

* ``task="12"``: the keywords (by default the ten of the paper), ``_silence_`` (clips cut from
  the background noise) and ``_unknown_`` (every other word). Class order, fixed (the
  TensorFlow reference's, so label indices match its models): ``_silence_, _unknown_, yes, no,
  up, down, left, right, on, off, stop, go``. With your own ``keywords`` the task is the same
  on another vocabulary; ``_silence_`` exists only where ``_background_noise_`` does and
  ``_unknown_`` only where other word folders do.
* ``task="35"``: every word folder found in ``root`` (35 in v0.02, 30 in v0.01), in
  alphabetical order.

Besides the dataset, the module holds what the training loop needs around it:
:class:`BackgroundNoise` and :class:`RandomTimeShift` augmentations (vectorised over the batch,
explicit ``torch.Generator``), :func:`corrupt_labels` for symmetric label noise, and
:func:`find_bad_files` to check a folder before training.
"""

from __future__ import annotations

import hashlib
import math
import os
import posixpath
import re
import struct
import warnings
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF
from torch import Tensor, nn
from torch.utils.data import Dataset

from .common import BACKGROUND_NOISE_DIR, KEYWORDS

__all__ = [
    "BACKGROUND_NOISE_DIR",
    "KEYWORDS",
    "MAX_NUM_WAVS_PER_CLASS",
    "SILENCE",
    "SPLITS",
    "UNKNOWN",
    "BackgroundNoise",
    "BadAudioError",
    "BadFile",
    "RandomTimeShift",
    "SpeechCommands",
    "corrupt_labels",
    "find_bad_files",
    "hash_percentage",
    "load_background_noise",
    "shift_time",
    "speaker_id",
    "which_set",
]

SILENCE = "_silence_"
UNKNOWN = "_unknown_"
SPLITS: tuple[str, ...] = ("training", "validation", "testing")
MAX_NUM_WAVS_PER_CLASS = 2**27 - 1
"""Constant of the official split rule (the dataset README's ``which_set``)."""

_LIST_FILES = {"validation": "validation_list.txt", "testing": "testing_list.txt"}
# Each background recording is cut in time into disjoint regions, one per split, so that the
# `_silence_` clips (and the noise added in training) of one split never reuse the audio of
# another: with shared regions the test silence would be clips the model trained on.
_NOISE_REGIONS = {"training": (0.0, 0.8), "validation": (0.8, 0.9), "testing": (0.9, 1.0)}
_NOHASH = re.compile(r"_nohash_.*$")
_MAX_LISTED = 30  # bad files named in one warning or error message


# --------------------------------------------------------------------------------------------
# Official split rule
# --------------------------------------------------------------------------------------------


def speaker_id(filename: str | os.PathLike) -> str:
    """Speaker part of a Speech Commands filename: the basename up to ``_nohash_``.

    Args:
        filename (str or PathLike): ``word/<speaker>_nohash_<n>.wav`` or just the basename.

    Returns:
        str: e.g. ``"bb05582b"``; the whole basename when it has no ``_nohash_``.
    """
    return _NOHASH.sub("", os.path.basename(os.fspath(filename)))


def hash_percentage(filename: str | os.PathLike) -> float:
    """Stable position of a file's speaker in [0, 100], as the official split rule computes it.

    The sha1 of :func:`speaker_id` (UTF-8), read as a hexadecimal integer, modulo
    ``MAX_NUM_WAVS_PER_CLASS + 1``, scaled by ``100 / MAX_NUM_WAVS_PER_CLASS``. It depends on
    the speaker only, so every clip of a speaker gets the same value.

    Args:
        filename (str or PathLike): a Speech Commands filename (directories are ignored).

    Returns:
        float: in [0, 100].
    """
    digest = hashlib.sha1(speaker_id(filename).encode("utf-8")).hexdigest()
    return (int(digest, 16) % (MAX_NUM_WAVS_PER_CLASS + 1)) * (100.0 / MAX_NUM_WAVS_PER_CLASS)


def which_set(
    filename: str | os.PathLike,
    validation_percentage: float = 10.0,
    testing_percentage: float = 10.0,
) -> str:
    """Split of a file by the official hash rule of the Speech Commands README.

    ``"validation"`` when :func:`hash_percentage` < ``validation_percentage``, else
    ``"testing"`` when it is < ``validation_percentage + testing_percentage``, else
    ``"training"``. Deterministic, and all clips of one speaker land in the same split.

    Args:
        filename (str or PathLike): a Speech Commands filename.
        validation_percentage (float): share of speakers for validation. (Default: ``10.0``)
        testing_percentage (float): share of speakers for testing. (Default: ``10.0``)

    Returns:
        str: one of ``"training"``, ``"validation"``, ``"testing"``.
    """
    for name, value in (
        ("validation_percentage", validation_percentage),
        ("testing_percentage", testing_percentage),
    ):
        if not 0.0 <= value <= 100.0:
            raise ValueError(f"`{name}` must be in [0, 100], but got {value}.")
    if validation_percentage + testing_percentage > 100.0:
        raise ValueError(
            "`validation_percentage` + `testing_percentage` must be <= 100, but got "
            f"{validation_percentage} + {testing_percentage}."
        )
    percentage = hash_percentage(filename)
    if percentage < validation_percentage:
        return "validation"
    if percentage < validation_percentage + testing_percentage:
        return "testing"
    return "training"


# --------------------------------------------------------------------------------------------
# Reading and checking audio
# --------------------------------------------------------------------------------------------


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


class _Unusable(Exception):
    """Internal: a file failed a check; the message is the reason."""


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


def _decode(path: Path) -> tuple[Tensor, int]:
    """Decodes and checks one file: mono float32 ``(time,)`` and its sample rate.

    Raises:
        _Unusable: with the reason when the file is empty, truncated, undecodable, holds no
            frames or holds non-finite samples.
    """
    try:
        size = path.stat().st_size
    except OSError as err:
        raise _Unusable(f"cannot be opened ({err.strerror or err})") from None
    if size == 0:
        raise _Unusable("empty file (0 bytes)")
    try:
        shortfall = _wav_shortfall(path, size)
        if shortfall is not None:
            raise _Unusable(shortfall)
        data, file_rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.SoundFileError, RuntimeError, OSError, struct.error) as err:
        reason = getattr(err, "error_string", None) or str(err)
        raise _Unusable(f"not a readable audio file ({reason})") from None
    if data.shape[0] == 0:
        raise _Unusable("no audio frames")
    # Stereo and multichannel recordings become mono by averaging the channels.
    mono = data.mean(axis=1, dtype=np.float32)
    if not np.isfinite(mono).all():
        raise _Unusable("NaN or infinite samples")
    return torch.from_numpy(mono), int(file_rate)


def _resampled_length(frames: int, orig_freq: int, new_freq: int) -> int:
    """Length torchaudio.functional.resample gives ``frames`` samples, without resampling."""
    g = math.gcd(orig_freq, new_freq)
    return -(-frames * (new_freq // g) // (orig_freq // g))


def _to_rate(mono: Tensor, file_rate: int, sample_rate: int) -> Tensor:
    if file_rate == sample_rate:
        return mono
    return AF.resample(mono, file_rate, sample_rate)


def _fit_length(waveform: Tensor, num_samples: int) -> Tensor:
    """Zero-pads at the end or keeps the first ``num_samples`` (as TensorFlow's decode_wav)."""
    if waveform.shape[-1] >= num_samples:
        return waveform[..., :num_samples]
    return nn.functional.pad(waveform, (0, num_samples - waveform.shape[-1]))


def _scan(
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
            mono, file_rate = _decode(paths[i])
        except _Unusable as err:
            return BadFile(paths[i], str(err))
        if clips is None:
            return _resampled_length(mono.shape[0], file_rate, sample_rate)
        mono = _to_rate(mono, file_rate, sample_rate)
        clips[i] = _fit_length(mono, keep_samples)
        return mono.shape[0]

    if workers == 1 or len(paths) < 2:
        results = [check(i) for i in range(len(paths))]
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(check, range(len(paths))))
    bad = [r for r in results if isinstance(r, BadFile)]
    lengths = [None if isinstance(r, BadFile) else r for r in results]
    return lengths, clips, bad


def _describe(bad_files: Sequence[BadFile]) -> str:
    lines = [f"  {b}" for b in bad_files[:_MAX_LISTED]]
    if len(bad_files) > _MAX_LISTED:
        lines.append(f"  ... and {len(bad_files) - _MAX_LISTED} more")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Folder layout
# --------------------------------------------------------------------------------------------


def _check_root(root: str | os.PathLike) -> Path:
    path = Path(root)
    if not path.is_dir():
        raise ValueError(
            f"`root` must be a Speech Commands folder, but {str(path)!r} is not a directory."
        )
    return path


def _words(root: Path) -> list[str]:
    """Word folders (any folder holding .wav files, except ``_background_noise_``), sorted."""
    words = []
    for entry in os.scandir(root):
        if entry.is_dir() and not entry.name.startswith((".", "_")):
            if any(name.endswith(".wav") for name in os.listdir(entry.path)):
                words.append(entry.name)
    return sorted(words)


def _read_list(path: Path) -> list[str]:
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip().replace("\\", "/")
        if line:
            entries.append(posixpath.normpath(line))
    return entries


def _split_files(
    root: Path, words: Sequence[str]
) -> tuple[dict[str, list[str]], dict[str, list[BadFile]]]:
    """Relative paths ``word/file.wav`` of each split, and each split's list entries missing
    on disk.

    The shipped list files decide when both exist (the rest is training); without them the
    official hash rule does. Only one of them is an error: which rule to apply is unclear.
    """
    on_disk = [
        f"{word}/{name}"
        for word in words
        for name in sorted(os.listdir(root / word))
        if name.endswith(".wav")
    ]
    present = {name: (root / name).is_file() for name in _LIST_FILES.values()}
    if not any(present.values()):
        splits: dict[str, list[str]] = {s: [] for s in SPLITS}
        for rel in on_disk:
            splits[which_set(rel)].append(rel)
        return splits, {s: [] for s in SPLITS}
    if not all(present.values()):
        found = [name for name, ok in present.items() if ok]
        raise ValueError(
            f"`root` holds {found[0]} but not the other list file: provide both "
            f"{' and '.join(_LIST_FILES.values())} (official split), or neither (then the "
            f"official hash rule splits the data), in {str(root)!r}."
        )
    listed = {split: _read_list(root / name) for split, name in _LIST_FILES.items()}
    both = set(listed["validation"]) & set(listed["testing"])
    if both:
        raise ValueError(
            f"{len(both)} file(s) are in both validation_list.txt and testing_list.txt, e.g. "
            f"{sorted(both)[0]!r}; a clip can be in one split only."
        )
    disk = set(on_disk)
    splits = {s: [] for s in SPLITS}
    missing: dict[str, list[BadFile]] = {s: [] for s in SPLITS}
    for split, entries in listed.items():
        for rel in entries:
            if rel.startswith(BACKGROUND_NOISE_DIR + "/"):
                continue
            if rel in disk:
                splits[split].append(rel)
            else:
                reason = f"listed in {_LIST_FILES[split]} but missing"
                missing[split].append(BadFile(root / rel, reason))
    held_out = set(listed["validation"]) | set(listed["testing"])
    splits["training"] = [rel for rel in on_disk if rel not in held_out]
    for split in _LIST_FILES:
        splits[split].sort()
    return splits, missing


def _noise_paths(root: Path) -> list[Path]:
    folder = root / BACKGROUND_NOISE_DIR
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix == ".wav" and p.is_file())


def _check_split(split: str | None, *, allow_none: bool = False) -> None:
    if split is None and allow_none:
        return
    if split not in SPLITS:
        allowed = ", ".join(repr(s) for s in SPLITS) + (" or None" if allow_none else "")
        raise ValueError(f"`split` must be one of {allowed}, but got {split!r}.")


def _region(recording: Tensor, split: str | None) -> Tensor:
    if split is None:
        return recording
    low, high = _NOISE_REGIONS[split]
    n = recording.shape[0]
    return recording[int(low * n) : int(high * n)]


def _load_noise(
    root: Path, sample_rate: int, split: str | None
) -> tuple[list[Tensor], list[BadFile]]:
    paths = _noise_paths(root)
    recordings = []
    bad = []
    for path in paths:
        try:
            mono, file_rate = _decode(path)
        except _Unusable as err:
            bad.append(BadFile(path, str(err)))
            continue
        region = _region(_to_rate(mono, file_rate, sample_rate), split)
        if region.shape[0] > 0:
            recordings.append(region.clone())
    return recordings, bad


def load_background_noise(
    root: str | os.PathLike,
    *,
    sample_rate: int = 16000,
    split: str | None = "training",
    warn: bool = True,
) -> list[Tensor]:
    """Decodes the ``_background_noise_`` recordings of a Speech Commands folder.

    Each recording is cut in time into disjoint regions, one per split (the first 80 % for
    training, the next 10 % for validation, the last 10 % for testing), so that noise seen in
    training never reappears in the evaluation's ``_silence_`` clips.

    Args:
        root (str or PathLike): the dataset folder.
        sample_rate (int): target rate; other rates are resampled. (Default: ``16000``)
        split (str or None): ``"training"``, ``"validation"``, ``"testing"`` for that split's
            region, or None for whole recordings. (Default: ``"training"``)
        warn (bool): warn about unreadable recordings (they are skipped). (Default: ``True``)

    Returns:
        list[Tensor]: one mono float32 ``(time,)`` tensor per readable recording, sorted by name.
    """
    root = _check_root(root)
    _check_split(split, allow_none=True)
    _check_positive_int("sample_rate", sample_rate)
    recordings, bad = _load_noise(root, sample_rate, split)
    if bad and warn:
        warnings.warn(
            f"Skipping {len(bad)} unreadable background recording(s):\n{_describe(bad)}",
            UserWarning,
            stacklevel=2,
        )
    return recordings


def find_bad_files(root: str | os.PathLike, *, num_workers: int | None = None) -> list[BadFile]:
    """Checks every clip and background recording of a Speech Commands folder.

    Each file is decoded once (in ``num_workers`` threads); a file is bad when it is empty,
    truncated (its WAV header declares more data than it holds), undecodable, without frames or
    with non-finite samples. Entries of the list files missing on disk are reported too.

    Args:
        root (str or PathLike): the dataset folder.
        num_workers (int or None): threads; None uses up to 8. (Default: ``None``)

    Returns:
        list[BadFile]: empty when the folder is clean.
    """
    root = _check_root(root)
    words = _words(root)
    splits, missing = _split_files(root, words)
    clips = [root / rel for split in SPLITS for rel in splits[split]]
    bad = [b for split in SPLITS for b in missing[split]]
    bad += _scan(clips, 16000, None, num_workers)[2]
    bad += _scan(_noise_paths(root), 16000, None, num_workers)[2]
    return bad


# --------------------------------------------------------------------------------------------
# Dataset
# --------------------------------------------------------------------------------------------


def _check_positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"`{name}` must be an int, but got {type(value).__name__}.")
    if value <= 0:
        raise ValueError(f"`{name}` must be > 0, but got {value}.")


def _check_keywords(keywords: Sequence[str] | None) -> tuple[str, ...]:
    if keywords is None:
        return KEYWORDS
    if isinstance(keywords, str) or not isinstance(keywords, Iterable):
        raise TypeError(
            f"`keywords` must be a list of word-folder names, but got {type(keywords).__name__}."
        )
    keywords = tuple(keywords)
    for word in keywords:
        if not isinstance(word, str) or not word or word.startswith(("_", ".")) or "/" in word:
            raise ValueError(
                f"`keywords` must hold word-folder names (not starting with '_' or '.'), but "
                f"got {word!r}."
            )
    if len(set(keywords)) != len(keywords):
        raise ValueError(f"`keywords` must not repeat a word, but got {list(keywords)}.")
    return keywords


def _keyword_classes(
    root: Path, words: Sequence[str], keywords: tuple[str, ...], silence_ratio: float | None
) -> tuple[list[str], list[str]]:
    """Class names of the keyword task on ``root``, and the keywords without a folder.

    Raises:
        ValueError: fewer than two keywords have a word folder (the task would degenerate to
            one or two classes of ``_unknown_``/``_silence_``).
    """
    present = [k for k in keywords if k in words]
    if len(present) < 2:
        shown = ", ".join(words[:20]) + (f", ... ({len(words)} in all)" if len(words) > 20 else "")
        raise ValueError(
            f"task='12' needs at least two of its keywords as word folders, but {str(root)!r} "
            f"has {len(present)} of {list(keywords)}"
            + (f" ({', '.join(present)})" if present else "")
            + f"; its word folders are: {shown or 'none'}. Choose keywords among them with "
            "`--set \"data.keywords=[word1, word2]\"`, or train on every word folder with "
            "`--set data.task=35`."
        )
    has_noise = bool(_noise_paths(root))
    silence = silence_ratio != 0 and (has_noise or silence_ratio is not None)
    unknown = any(w not in keywords for w in words)
    names = [SILENCE] * silence + [UNKNOWN] * unknown + present
    return names, [k for k in keywords if k not in words]


def _check_ratio(name: str, value: float | None) -> None:
    if value is not None and not (isinstance(value, (int, float)) and value >= 0):
        raise ValueError(f"`{name}` must be a number >= 0 or None, but got {value!r}.")


class SpeechCommands(Dataset):
    """One split of a Speech Commands folder (v0.01 or v0.02 layout) as ``(waveform, label)``.

    Items are ``(waveform, label)``: ``waveform`` a float32 ``(1, num_samples)`` tensor, mono
    (channels averaged), resampled to ``sample_rate`` when the file's rate differs, zero-padded
    at the end or cut after ``num_samples`` (as TensorFlow's ``decode_wav``); ``label`` an int
    index into :attr:`class_names`. The split's clips come first, sorted by ``word/file.wav``,
    then its ``_silence_`` clips.

    **Splits.** ``validation_list.txt`` and ``testing_list.txt`` decide when present, every
    other clip is training; without them, the official hash rule (:func:`which_set`, 10 % /
    10 % of speakers). Either way every speaker is in one split only.

    **Tasks.** ``task="12"``: ``_silence_, _unknown_, yes, no, up, down, left, right, on, off,
    stop, go`` (:data:`KEYWORDS`, or ``keywords``; every other word is ``_unknown_``). Keywords
    without a word folder are left out (:attr:`missing_keywords`, with a ``UserWarning``);
    ``_silence_`` is a class only when ``_background_noise_`` holds recordings (or
    ``silence_ratio`` asks for it, which then needs them) and ``silence_ratio`` is not 0;
    ``_unknown_`` only when some word folder is not a keyword. ``task="35"``: all word
    folders of ``root`` in alphabetical order, no silence.

    **Silence and unknown (12-class task).** Let *m* be the mean number of clips per keyword
    class in the split (over the keywords present). The split gets ``round(silence_ratio * m)``
    ``_silence_`` clips, each a segment of a ``_background_noise_`` recording (from the split's
    own time region, see :func:`load_background_noise`) at a gain drawn uniformly in
    ``silence_gain_db`` dB, so some are almost zero. With ``unknown_ratio`` set, the
    ``_unknown_`` clips are subsampled to ``round(unknown_ratio * m)``. Both draws come from a
    numpy Generator seeded with ``(seed, split)``: the same arguments give the same items.

    **Bad files.** Construction decodes every selected file once (``num_workers`` threads) and
    checks it; empty, truncated, undecodable or frameless files, and list entries missing on
    disk, are skipped with one ``UserWarning`` naming each path and reason (kept in
    :attr:`bad_files`), or, with ``strict=True``, raise :class:`BadAudioError` listing them.
    ``__getitem__`` therefore only meets files that decoded before.

    **Cache.** With ``cache=True`` the decoded clips of that scan are kept in memory
    (``4 * num_samples`` bytes a clip: 64 kB at 16 kHz, 1 s) and items are copies of them.

    Args:
        root (str or PathLike): the dataset folder.
        split (str): ``"training"``, ``"validation"`` or ``"testing"``. (Default: ``"training"``)
        task (str): ``"12"`` or ``"35"``. (Default: ``"12"``)
        keywords (sequence of str or None): the keyword classes of ``task="12"``, in label
            order; None takes :data:`KEYWORDS`. (Default: ``None``)
        sample_rate (int): rate of the returned waveforms. (Default: ``16000``)
        clip_seconds (float): clip duration; ``num_samples = round(clip_seconds * sample_rate)``.
            (Default: ``1.0``)
        silence_ratio (float or None): ``_silence_`` clips per split, in units of an average
            keyword class; 12-class task only, None means ``1.0``. (Default: ``None``)
        unknown_ratio (float or None): ``_unknown_`` clips kept, in the same unit; None keeps
            all; 12-class task only. (Default: ``None``)
        silence_gain_db (tuple[float, float]): range of the silence gain in dB.
            (Default: ``(-60.0, 0.0)``)
        seed (int): seed of the silence and unknown draws. (Default: ``0``)
        cache (bool): keep the decoded clips in memory. (Default: ``False``)
        strict (bool): raise instead of skipping bad files. (Default: ``False``)
        num_workers (int or None): threads of the scan; None uses up to 8. (Default: ``None``)

    Attributes:
        class_names (list[str]): names of the label indices.
        missing_keywords (list[str]): keywords asked for that have no word folder (task "12").
        split_rule (str): how the splits were made: ``"list files"`` or ``"hash rule"``.
        num_classes (int): ``len(class_names)``.
        num_samples (int): samples per returned waveform.
        labels (Tensor): ``(len,)`` int64 label of every item. Assigning a new tensor of the same
            length (e.g. from :func:`corrupt_labels`) changes the labels items carry.
        speakers (list[str]): speaker of every item (``""`` for ``_silence_``).
        paths (list[Path or None]): file of every item (None for ``_silence_``).
        lengths (Tensor): ``(len,)`` int64 length of every clip at ``sample_rate`` before
            padding or cutting (``num_samples`` for ``_silence_``).
        bad_files (list[BadFile]): files skipped.

    Example:
        >>> from recipes.speech_commands.download import download_speech_commands
        >>> root = download_speech_commands("~/.cache/audiomix")  # doctest: +SKIP
        >>> train = SpeechCommands(root, "training", task="12", cache=True)  # doctest: +SKIP
        >>> waveform, label = train[0]  # doctest: +SKIP
        >>> waveform.shape, train.class_names[label]  # doctest: +SKIP
        (torch.Size([1, 16000]), 'down')
    """

    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "training",
        *,
        task: str = "12",
        keywords: Sequence[str] | None = None,
        sample_rate: int = 16000,
        clip_seconds: float = 1.0,
        silence_ratio: float | None = None,
        unknown_ratio: float | None = None,
        silence_gain_db: tuple[float, float] = (-60.0, 0.0),
        seed: int = 0,
        cache: bool = False,
        strict: bool = False,
        num_workers: int | None = None,
    ) -> None:
        self.root = _check_root(root)
        _check_split(split)
        task = str(task)
        if task not in ("12", "35"):
            raise ValueError(f"`task` must be '12' or '35', but got {task!r}.")
        _check_positive_int("sample_rate", sample_rate)
        if not (isinstance(clip_seconds, (int, float)) and clip_seconds > 0):
            raise ValueError(f"`clip_seconds` must be > 0, but got {clip_seconds!r}.")
        num_samples = round(clip_seconds * sample_rate)
        if num_samples < 1:
            raise ValueError(
                f"`clip_seconds` * `sample_rate` must be >= 1 sample, but got {clip_seconds} s."
            )
        _check_ratio("silence_ratio", silence_ratio)
        _check_ratio("unknown_ratio", unknown_ratio)
        if task == "35" and (silence_ratio is not None or unknown_ratio is not None):
            raise ValueError(
                "`silence_ratio` and `unknown_ratio` apply to task='12' only; the 35-word task "
                "has neither _silence_ nor _unknown_."
            )
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"`seed` must be an int >= 0, but got {seed!r}.")
        low_db, high_db = (float(v) for v in silence_gain_db)
        if low_db > high_db:
            raise ValueError(
                f"`silence_gain_db` must be (low, high) with low <= high, but got {silence_gain_db}."
            )

        self.split = split
        self.task = task
        self.sample_rate = sample_rate
        self.num_samples = num_samples
        words = _words(self.root)
        self.missing_keywords: list[str] = []
        if task == "12":
            keywords = _check_keywords(keywords)
            self.class_names, self.missing_keywords = _keyword_classes(
                self.root, words, keywords, silence_ratio
            )
            if self.missing_keywords:
                warnings.warn(
                    f"{len(self.missing_keywords)} keyword(s) have no word folder in "
                    f"{str(self.root)!r} and are left out of the classes: "
                    f"{', '.join(self.missing_keywords)}.",
                    UserWarning,
                    stacklevel=2,
                )
        elif keywords is not None:
            raise ValueError("`keywords` applies to task='12' only; task='35' uses every word.")
        else:
            self.class_names = list(words)
        self.num_classes = len(self.class_names)
        self.split_rule = (
            "list files"
            if all((self.root / name).is_file() for name in _LIST_FILES.values())
            else "hash rule"
        )
        split_index = SPLITS.index(split)

        splits, missing = _split_files(self.root, words)
        files = splits[split]
        index_of = {name: i for i, name in enumerate(self.class_names)}
        if task == "12":
            unknown = index_of.get(UNKNOWN, -1)
            file_labels = [index_of.get(rel.split("/", 1)[0], unknown) for rel in files]
            keyword_labels = [index_of[k] for k in self.class_names if k not in (SILENCE, UNKNOWN)]
            mean_class = _mean_class_count(file_labels, keyword_labels)
            if unknown_ratio is not None and unknown >= 0:
                rng = np.random.default_rng([seed, split_index, 1])
                files, file_labels = _subsample_unknown(
                    files, file_labels, round(unknown_ratio * mean_class), rng, unknown
                )
            num_silence = 0
            if SILENCE in index_of:
                num_silence = round((1.0 if silence_ratio is None else silence_ratio) * mean_class)
        else:
            file_labels = [index_of[rel.split("/", 1)[0]] for rel in files]
            num_silence = 0

        paths = [self.root / rel for rel in files]
        lengths, clips, bad = _scan(paths, sample_rate, num_samples if cache else None, num_workers)
        bad = missing[split] + bad
        noise: list[Tensor] = []
        if num_silence > 0:
            noise, bad_noise = _load_noise(self.root, sample_rate, split)
            bad += bad_noise
        _report(bad, strict, f"{self.root} ({split})")
        if num_silence > 0 and not noise:
            raise ValueError(
                f"task='12' makes _silence_ clips from {BACKGROUND_NOISE_DIR}/, but {self.root} "
                "has no readable recording there; add them, or pass silence_ratio=0 (or None: "
                "no _silence_ class where there is no background noise)."
            )

        keep = [i for i, n in enumerate(lengths) if n is not None]
        self.bad_files: list[BadFile] = bad
        self.paths: list[Path | None] = [paths[i] for i in keep] + [None] * num_silence
        self.speakers: list[str] = [speaker_id(files[i]) for i in keep] + [""] * num_silence
        self.lengths = torch.tensor(
            [lengths[i] for i in keep] + [num_samples] * num_silence, dtype=torch.long
        )
        self._labels = torch.tensor(
            [file_labels[i] for i in keep] + [index_of.get(SILENCE, 0)] * num_silence,
            dtype=torch.long,
        )
        self._num_files = len(keep)
        self._cache = clips if clips is None or len(keep) == len(paths) else clips[keep]

        if num_silence > 0:
            rng = np.random.default_rng([seed, split_index, 0])
            self._noise = noise
            file_index = rng.integers(0, len(noise), num_silence)
            room = np.array([r.shape[0] for r in noise])[file_index] - num_samples + 1
            start = (rng.random(num_silence) * np.maximum(room, 1)).astype(np.int64)
            gain = 10.0 ** (rng.uniform(low_db, high_db, num_silence) / 20.0)
            self._silence = list(
                zip(file_index.tolist(), start.tolist(), gain.tolist(), strict=True)
            )

    @property
    def labels(self) -> Tensor:
        return self._labels

    @labels.setter
    def labels(self, labels: Tensor | Sequence[int]) -> None:
        labels = torch.as_tensor(labels)
        if labels.shape != self._labels.shape:
            raise ValueError(
                f"`labels` must have shape {tuple(self._labels.shape)}, but got {tuple(labels.shape)}."
            )
        if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
            raise TypeError(f"`labels` must hold integers, but got dtype {labels.dtype}.")
        if labels.numel() and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise ValueError(
                f"`labels` must be in [0, {self.num_classes}), but got values in "
                f"[{int(labels.min())}, {int(labels.max())}]."
            )
        self._labels = labels.to(torch.long).clone()

    def __len__(self) -> int:
        return self._labels.shape[0]

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        """Returns ``(waveform (1, num_samples) float32, label int)``."""
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"index {index} is out of range for a dataset of {n} items.")
        index %= n
        label = int(self._labels[index])
        if index >= self._num_files:
            file_index, start, gain = self._silence[index - self._num_files]
            recording = self._noise[file_index]
            if start + self.num_samples <= recording.shape[0]:
                segment = recording[start : start + self.num_samples]
            else:  # a region shorter than a clip is looped
                steps = torch.arange(start, start + self.num_samples)
                segment = recording[steps % recording.shape[0]]
            return (segment * gain).unsqueeze(0), label
        if self._cache is not None:
            return self._cache[index].clone().unsqueeze(0), label
        try:
            mono, file_rate = _decode(self.paths[index])
        except _Unusable as err:  # it decoded at construction: changed on disk since
            raise RuntimeError(
                f"{self.paths[index]} changed since the dataset was built: {err}."
            ) from None
        waveform = _fit_length(_to_rate(mono, file_rate, self.sample_rate), self.num_samples)
        return waveform.unsqueeze(0), label

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(root={str(self.root)!r}, split={self.split!r}, "
            f"task={self.task!r}, items={len(self)}, classes={self.num_classes})"
        )


def _mean_class_count(file_labels: Sequence[int], classes: Sequence[int]) -> float:
    """Mean number of clips of the given classes, over those that have any."""
    counts = np.bincount(np.asarray(file_labels, dtype=np.int64), minlength=max(classes) + 1)
    counts = counts[list(classes)]
    present = counts[counts > 0]
    return float(present.mean()) if present.size else 0.0


def _subsample_unknown(
    files: list[str],
    file_labels: list[int],
    count: int,
    rng: np.random.Generator,
    unknown_label: int,
) -> tuple[list[str], list[int]]:
    unknown = [i for i, label in enumerate(file_labels) if label == unknown_label]
    if count >= len(unknown):
        return files, file_labels
    dropped = set(np.asarray(unknown)[rng.permutation(len(unknown))[count:]].tolist())
    kept = [i for i in range(len(files)) if i not in dropped]
    return [files[i] for i in kept], [file_labels[i] for i in kept]


def _report(bad: Sequence[BadFile], strict: bool, where: str) -> None:
    if not bad:
        return
    if strict:
        raise BadAudioError(
            f"{len(bad)} audio file(s) in {where} cannot be used (strict=True):\n{_describe(bad)}",
            bad,
        )
    warnings.warn(
        f"Skipping {len(bad)} unusable audio file(s) in {where}:\n{_describe(bad)}",
        UserWarning,
        stacklevel=3,
    )


# --------------------------------------------------------------------------------------------
# Augmentations for the training loop
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Label noise
# --------------------------------------------------------------------------------------------


def corrupt_labels(
    labels: Tensor | Sequence[int],
    rate: float,
    num_classes: int,
    *,
    generator: torch.Generator | int | None = None,
) -> Tensor:
    """Symmetric label noise: a fixed share of labels moved to a different, uniform class.

    Exactly ``floor(rate * N + 0.5)`` of the ``N`` labels (chosen uniformly without replacement)
    are changed, each to one of the other ``num_classes - 1`` classes with equal probability; the
    rest are kept. So the measured flip rate is ``rate`` up to rounding, unlike the variant that
    redraws from all classes (which flips only ``rate * (num_classes - 1) / num_classes``).

    Args:
        labels (Tensor or sequence of int): ``(N,)`` class indices in ``[0, num_classes)``.
        rate (float): share of labels to change, in [0, 1].
        num_classes (int): number of classes, >= 2 when ``rate > 0``.
        generator (torch.Generator, int or None): source of randomness, or a seed for a fresh
            CPU generator; None uses torch's default. (Default: ``None``)

    Returns:
        Tensor: ``(N,)`` int64 noisy labels, a new tensor (``labels`` is not modified).

    Example:
        >>> noisy = corrupt_labels(torch.arange(10) % 3, 0.3, 3, generator=0)
        >>> int((noisy != torch.arange(10) % 3).sum())
        3
    """
    labels = torch.as_tensor(labels)
    if labels.numel() == 0:
        labels = labels.long()  # torch reads [] as float32
    if labels.ndim != 1:
        raise ValueError(f"`labels` must be 1-D (N,), but got shape {tuple(labels.shape)}.")
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise TypeError(
            f"`labels` must hold class indices (integers), but got dtype {labels.dtype}."
        )
    if not isinstance(rate, (int, float)) or not 0.0 <= rate <= 1.0:
        raise ValueError(f"`rate` must be in [0, 1], but got {rate!r}.")
    _check_positive_int("num_classes", num_classes)
    if labels.numel() and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"`labels` must be in [0, num_classes) = [0, {num_classes}), but got values in "
            f"[{int(labels.min())}, {int(labels.max())}]."
        )
    count = math.floor(rate * labels.numel() + 0.5)
    if count and num_classes < 2:
        raise ValueError(f"`num_classes` must be >= 2 to change labels, but got {num_classes}.")
    if isinstance(generator, int) and not isinstance(generator, bool):
        generator = torch.Generator().manual_seed(generator)
    elif generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(
            f"`generator` must be a torch.Generator, an int seed or None, but got {type(generator).__name__}."
        )
    device = generator.device if generator is not None else "cpu"
    noisy = labels.to(torch.long).clone()
    chosen = torch.randperm(labels.numel(), generator=generator, device=device)[:count]
    # Adding 1..num_classes-1 modulo num_classes reaches every other class exactly once.
    step = torch.randint(1, max(num_classes, 2), (count,), generator=generator, device=device)
    chosen, step = chosen.to(noisy.device), step.to(noisy.device)
    noisy[chosen] = (noisy[chosen] + step) % num_classes
    return noisy
