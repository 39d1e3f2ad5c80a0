"""The Speech Commands folder layout: the official split rule, word folders, list files and
the ``_background_noise_`` recordings (cut into one time region per split).

    root/<word>/<speaker>_nohash_<n>.wav    one utterance, about 1 s, 16 kHz
    root/_background_noise_/*.wav           long noise recordings
    root/validation_list.txt                relative paths ``word/file.wav``, one a line
    root/testing_list.txt
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import warnings
from collections.abc import Sequence
from pathlib import Path

from torch import Tensor

from .audio import BadFile, UnusableAudio, decode, describe_bad_files, scan, to_rate
from .common import BACKGROUND_NOISE_DIR

__all__ = [
    "LIST_FILES",
    "MAX_NUM_WAVS_PER_CLASS",
    "SPLITS",
    "check_positive_int",
    "check_root",
    "check_split",
    "find_bad_files",
    "hash_percentage",
    "load_background_noise",
    "load_noise",
    "noise_paths",
    "speaker_id",
    "split_files",
    "which_set",
    "word_folders",
]

SPLITS: tuple[str, ...] = ("training", "validation", "testing")
MAX_NUM_WAVS_PER_CLASS = 2**27 - 1
"""Constant of the official split rule (the dataset README's ``which_set``)."""

LIST_FILES = {"validation": "validation_list.txt", "testing": "testing_list.txt"}
# Each background recording is cut in time into disjoint regions, one per split, so that the
# `_silence_` clips (and the noise added in training) of one split never reuse the audio of
# another: with shared regions the test silence would be clips the model trained on.
_NOISE_REGIONS = {"training": (0.0, 0.8), "validation": (0.8, 0.9), "testing": (0.9, 1.0)}
_NOHASH = re.compile(r"_nohash_.*$")


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
# Folder layout
# --------------------------------------------------------------------------------------------


def check_root(root: str | os.PathLike) -> Path:
    path = Path(root)
    if not path.is_dir():
        raise ValueError(
            f"`root` must be a Speech Commands folder, but {str(path)!r} is not a directory."
        )
    return path


def word_folders(root: Path) -> list[str]:
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


def split_files(
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
    present = {name: (root / name).is_file() for name in LIST_FILES.values()}
    if not any(present.values()):
        splits: dict[str, list[str]] = {s: [] for s in SPLITS}
        for rel in on_disk:
            splits[which_set(rel)].append(rel)
        return splits, {s: [] for s in SPLITS}
    if not all(present.values()):
        found = [name for name, ok in present.items() if ok]
        raise ValueError(
            f"`root` holds {found[0]} but not the other list file: provide both "
            f"{' and '.join(LIST_FILES.values())} (official split), or neither (then the "
            f"official hash rule splits the data), in {str(root)!r}."
        )
    listed = {split: _read_list(root / name) for split, name in LIST_FILES.items()}
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
                reason = f"listed in {LIST_FILES[split]} but missing"
                missing[split].append(BadFile(root / rel, reason))
    held_out = set(listed["validation"]) | set(listed["testing"])
    splits["training"] = [rel for rel in on_disk if rel not in held_out]
    for split in LIST_FILES:
        splits[split].sort()
    return splits, missing


def noise_paths(root: Path) -> list[Path]:
    folder = root / BACKGROUND_NOISE_DIR
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix == ".wav" and p.is_file())


def check_split(split: str | None, *, allow_none: bool = False) -> None:
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


def load_noise(
    root: Path, sample_rate: int, split: str | None
) -> tuple[list[Tensor], list[BadFile]]:
    paths = noise_paths(root)
    recordings = []
    bad = []
    for path in paths:
        try:
            mono, file_rate = decode(path)
        except UnusableAudio as err:
            bad.append(BadFile(path, str(err)))
            continue
        region = _region(to_rate(mono, file_rate, sample_rate), split)
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
    root = check_root(root)
    check_split(split, allow_none=True)
    check_positive_int("sample_rate", sample_rate)
    recordings, bad = load_noise(root, sample_rate, split)
    if bad and warn:
        warnings.warn(
            f"Skipping {len(bad)} unreadable background recording(s):\n{describe_bad_files(bad)}",
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
    root = check_root(root)
    words = word_folders(root)
    splits, missing = split_files(root, words)
    clips = [root / rel for split in SPLITS for rel in splits[split]]
    bad = [b for split in SPLITS for b in missing[split]]
    bad += scan(clips, 16000, None, num_workers)[2]
    bad += scan(noise_paths(root), 16000, None, num_workers)[2]
    return bad


def check_positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"`{name}` must be an int, but got {type(value).__name__}.")
    if value <= 0:
        raise ValueError(f"`{name}` must be > 0, but got {value}.")
