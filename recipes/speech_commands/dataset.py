"""One split of a Speech Commands folder as ``(waveform, label)``: :class:`SpeechCommands`.

Two tasks (Warden, 2018, "Speech Commands: A Dataset for Limited-Vocabulary Speech
Recognition"): ``task="12"``, the keywords (by default the paper's ten) with ``_silence_`` and
``_unknown_``, and ``task="35"``, every word folder.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from .audio import (
    BadFile,
    UnusableAudio,
    decode,
    fit_length,
    report_bad_files,
    scan,
    to_rate,
)
from .common import BACKGROUND_NOISE_DIR, KEYWORDS
from .layout import (
    LIST_FILES,
    SPLITS,
    check_positive_int,
    check_root,
    check_split,
    load_noise,
    noise_paths,
    speaker_id,
    split_files,
    word_folders,
)

__all__ = ["SILENCE", "UNKNOWN", "SpeechCommands"]

SILENCE = "_silence_"
UNKNOWN = "_unknown_"


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
            '`--set "data.keywords=[word1, word2]"`, or train on every word folder with '
            "`--set data.task=35`."
        )
    has_noise = bool(noise_paths(root))
    silence = silence_ratio != 0 and (has_noise or silence_ratio is not None)
    unknown = any(w not in keywords for w in words)
    names = [SILENCE] * silence + [UNKNOWN] * unknown + present
    return names, [k for k in keywords if k not in words]


def _check_ratio(name: str, value: float | None) -> None:
    if value is not None and not (isinstance(value, (int, float)) and value >= 0):
        raise ValueError(f"`{name}` must be a number >= 0 or None, but got {value!r}.")


def _check_arguments(
    split: str,
    task: str,
    sample_rate: int,
    clip_seconds: float,
    silence_ratio: float | None,
    unknown_ratio: float | None,
    seed: int,
    silence_gain_db: tuple[float, float],
) -> tuple[str, int, tuple[float, float]]:
    """Checks :class:`SpeechCommands`' arguments: the task as a string, samples per clip and
    the silence gain range."""
    check_split(split)
    task = str(task)
    if task not in ("12", "35"):
        raise ValueError(f"`task` must be '12' or '35', but got {task!r}.")
    check_positive_int("sample_rate", sample_rate)
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
    return task, num_samples, (low_db, high_db)


def _select_files(
    files: list[str],
    index_of: dict[str, int],
    silence_ratio: float | None,
    unknown_ratio: float | None,
    rng: np.random.Generator,
) -> tuple[list[str], list[int], int]:
    """The split's files, their labels and the number of ``_silence_`` clips to add.

    Every word folder that is no class is ``_unknown_`` (when that class exists); with
    ``unknown_ratio`` the ``_unknown_`` clips are subsampled with ``rng``. Without ``_unknown_``
    and ``_silence_`` among the classes (``task="35"``), every file's folder is its class.
    """
    if (
        UNKNOWN not in index_of
        and SILENCE not in index_of
        and all(rel.split("/", 1)[0] in index_of for rel in files)
    ):
        return files, [index_of[rel.split("/", 1)[0]] for rel in files], 0
    unknown = index_of.get(UNKNOWN, -1)
    file_labels = [index_of.get(rel.split("/", 1)[0], unknown) for rel in files]
    keyword_labels = [i for name, i in index_of.items() if name not in (SILENCE, UNKNOWN)]
    mean_class = _mean_class_count(file_labels, keyword_labels)
    if unknown_ratio is not None and unknown >= 0:
        files, file_labels = _subsample_unknown(
            files, file_labels, round(unknown_ratio * mean_class), rng, unknown
        )
    num_silence = 0
    if SILENCE in index_of:
        num_silence = round((1.0 if silence_ratio is None else silence_ratio) * mean_class)
    return files, file_labels, num_silence


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
        self.root = check_root(root)
        task, num_samples, (low_db, high_db) = _check_arguments(
            split, task, sample_rate, clip_seconds, silence_ratio, unknown_ratio, seed,
            silence_gain_db,
        )  # fmt: skip
        self.split = split
        self.task = task
        self.sample_rate = sample_rate
        self.num_samples = num_samples
        words = word_folders(self.root)
        self.missing_keywords: list[str] = []
        if task == "12":
            self.class_names, self.missing_keywords = _keyword_classes(
                self.root, words, _check_keywords(keywords), silence_ratio
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
            if all((self.root / name).is_file() for name in LIST_FILES.values())
            else "hash rule"
        )
        split_index = SPLITS.index(split)

        splits, missing = split_files(self.root, words)
        index_of = {name: i for i, name in enumerate(self.class_names)}
        files, file_labels, num_silence = _select_files(
            splits[split], index_of, silence_ratio, unknown_ratio,
            np.random.default_rng([seed, split_index, 1]),
        )  # fmt: skip

        paths = [self.root / rel for rel in files]
        lengths, clips, bad = scan(paths, sample_rate, num_samples if cache else None, num_workers)
        bad = missing[split] + bad
        noise: list[Tensor] = []
        if num_silence > 0:
            noise, bad_noise = load_noise(self.root, sample_rate, split)
            bad += bad_noise
        report_bad_files(bad, strict, f"{self.root} ({split})")
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
                f"`labels` must have shape {tuple(self._labels.shape)}, but got "
                f"{tuple(labels.shape)}."
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
            mono, file_rate = decode(self.paths[index])
        except UnusableAudio as err:  # it decoded at construction: changed on disk since
            raise RuntimeError(
                f"{self.paths[index]} changed since the dataset was built: {err}."
            ) from None
        waveform = fit_length(to_rate(mono, file_rate, self.sample_rate), self.num_samples)
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
