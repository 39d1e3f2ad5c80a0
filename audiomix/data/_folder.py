"""A folder of audio files read lazily, as a bank of noise, music or labelled sounds.

:class:`AudioFolder` lists the files once with their headers (length, rate, channels) and
decodes, with soundfile, only the segment asked for, resampling it when the file is at another
rate. Files that fail when read are counted across DataLoader workers in shared memory.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
import torchaudio
from torch import Tensor
from torch.utils.data import Dataset

from .._settings import user_stacklevel
from .._validation import check_choice

__all__ = ["AudioFolder"]

EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")
ON_ERROR = ("raise", "skip")


def _soundfile() -> Any:
    try:
        import soundfile
    except ImportError as err:
        raise ImportError(
            "AudioFolder reads audio files with soundfile, which is not installed: "
            "pip install 'audiomix[audio]' (or pip install soundfile)."
        ) from err
    return soundfile


class _Counter:
    """An int in shared memory: counts made in DataLoader workers reach the main process."""

    def __init__(self) -> None:
        self._value = torch.zeros(1, dtype=torch.int64).share_memory_()

    def add(self, n: int = 1) -> None:
        self._value += n

    @property
    def value(self) -> int:
        return int(self._value)

    def __setstate__(self, state: dict[str, Any]) -> None:
        # As MixSettings: a DataLoader's pickler passes the shared tensor by handle; a plain
        # pickle or deepcopy gives a copy, shared again for its own workers.
        self.__dict__.update(state)
        self._value.share_memory_()


class AudioFolder(Dataset):
    """A folder of audio files, read lazily: a bank of noise, music or labelled sounds.

    The files (searched recursively for ``extensions``) are listed once, with their headers
    (length, rate, channels); audio is decoded only when asked, and :meth:`read` decodes only
    the segment asked for. Files at another rate than ``sample_rate`` are resampled segment
    by segment (``resample=True``) or refused when the folder is opened. Unreadable files
    either stop the construction (``on_error="raise"``, naming the file) or are skipped and
    counted (``"skip"``: listed in :attr:`skipped` with the reason, a warning gives their
    number); a file that fails later, when read, is counted in :attr:`read_errors` (across
    DataLoader workers) and another is drawn. Needs soundfile (``pip install
    'audiomix[audio]'``).

    Items are ``(waveform, label)``: the whole file (channels, time) float32 at
    ``sample_rate``, and the index of its category.

    Args:
        root (str or Path): the folder.
        sample_rate (int): the rate segments come at, that of the training clips.
        resample (bool, optional): resample files at another rate (``True``) or refuse them
            (``False``). (Default: ``False``)
        categories (str, callable or None, optional): how files are grouped, for balanced
            sampling and labels: ``"folder"``, the first sub-folder under ``root``
            (``root/babble/a.wav`` is in ``"babble"``; files directly in ``root`` in ``""``);
            a function of the path (relative to ``root``) returning a name; ``None``, one
            category. (Default: ``"folder"``)
        classes (sequence of str or None, optional): the training task's class names, for a
            labelled bank: a file's label is then ``classes.index(category)`` (every category
            must be one). (Default: ``None``: the index of the category in
            :attr:`category_names`)
        on_error (str, optional): ``"raise"`` or ``"skip"``, for unreadable files.
            (Default: ``"raise"``)
        extensions (sequence of str, optional): file suffixes to list, any case.
            (Default: ``.wav .flac .ogg .mp3 .aiff .aif``)

    Attributes:
        files (list of Path): the readable files, sorted.
        frames (Tensor): (n,) int64 length of each file at ``sample_rate``.
        categories (Tensor): (n,) int64 category of each file, an index in
            :attr:`category_names`.
        category_names (list of str): sorted.
        skipped (list of (Path, str)): files skipped when listing, with the reason.

    Example:
        >>> import tempfile, soundfile
        >>> root = Path(tempfile.mkdtemp())
        >>> for kind in ("babble", "music"):
        ...     (root / kind).mkdir()
        ...     soundfile.write(root / kind / "a.wav", 0.1 * torch.randn(16000).numpy(), 16000)
        >>> bank = AudioFolder(root, sample_rate=16000)
        >>> bank.category_names, bank.read(1, start=4000, frames=8000).shape
        (['babble', 'music'], torch.Size([1, 8000]))
    """

    root: Path
    sample_rate: int
    resample: bool
    on_error: str
    files: list[Path]
    skipped: list[tuple[Path, str]]
    rates: Tensor
    frames: Tensor
    categories: Tensor
    category_names: list[str]
    labels: Tensor
    _read_errors: _Counter

    def __init__(
        self,
        root: str | Path,
        sample_rate: int,
        *,
        resample: bool = False,
        categories: str | Callable[[Path], str] | None = "folder",
        classes: Sequence[str] | None = None,
        on_error: str = "raise",
        extensions: Sequence[str] = EXTENSIONS,
    ) -> None:
        sf = _soundfile()
        self.root = Path(root)
        if not self.root.is_dir():
            raise ValueError(f"`root` must be a folder, but {str(self.root)!r} is not one.")
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, numbers.Integral):
            raise TypeError(f"`sample_rate` must be an int, but got {type(sample_rate).__name__}.")
        if sample_rate <= 0:
            raise ValueError(f"`sample_rate` must be > 0, but got {sample_rate}.")
        if not (categories is None or categories == "folder" or callable(categories)):
            raise ValueError(
                f"`categories` must be 'folder', a function of the path or None, but got "
                f"{categories!r}."
            )
        self.sample_rate = int(sample_rate)
        self.resample = bool(resample)
        self.on_error = check_choice(on_error, "on_error", ON_ERROR)
        suffixes = {e.lower() for e in extensions}
        found = sorted(p for p in self.root.rglob("*") if p.suffix.lower() in suffixes)
        if not found:
            raise ValueError(
                f"the bank is empty: `root` {str(self.root)!r} holds no file ending in "
                f"{sorted(suffixes)}."
            )
        self.files: list[Path] = []
        self.skipped: list[tuple[Path, str]] = []
        frames, rates, names = [], [], []
        for path in found:
            try:
                info = sf.info(str(path))
                if info.frames <= 0:
                    raise ValueError("no audio frames")
            except Exception as err:  # soundfile raises its own error classes
                if self.on_error == "raise":
                    raise ValueError(
                        f"cannot read {str(path)!r}: {err}. Pass `on_error='skip'` to skip "
                        "unreadable files (they are counted in `skipped`)."
                    ) from err
                self.skipped.append((path, str(err)))
                continue
            if info.samplerate != self.sample_rate and not self.resample:
                raise ValueError(
                    f"{str(path)!r} is at {info.samplerate} Hz, but the bank delivers "
                    f"`sample_rate`={self.sample_rate} Hz: pass `resample=True` to resample it, "
                    "or convert the files."
                )
            self.files.append(path)
            rates.append(info.samplerate)
            frames.append(info.frames * self.sample_rate // info.samplerate)
            names.append(self._category(path, categories))
        if self.skipped:
            warnings.warn(
                f"AudioFolder skipped {len(self.skipped)} unreadable file(s) of {len(found)} "
                f"under {str(self.root)!r}; see `.skipped`.",
                UserWarning,
                stacklevel=user_stacklevel(),
            )
        if not self.files:
            raise ValueError(
                f"the bank is empty: all {len(found)} file(s) under {str(self.root)!r} were "
                "unreadable (see the warning above)."
            )
        self.rates = torch.tensor(rates, dtype=torch.int64)
        self.frames = torch.tensor(frames, dtype=torch.int64).clamp_min(1)
        self.category_names = sorted(set(names))
        self.categories = torch.tensor([self.category_names.index(n) for n in names])
        if classes is None:
            self.labels = self.categories.clone()
        else:
            classes = list(classes)
            missing = sorted(set(self.category_names) - set(classes))
            if missing:
                raise ValueError(
                    f"`classes` must name every category of the bank, but {missing} are not "
                    f"among them ({classes})."
                )
            self.labels = torch.tensor([classes.index(n) for n in names])
        self._read_errors = _Counter()

    def _category(self, path: Path, categories: Any) -> str:
        rel = path.relative_to(self.root)
        if categories is None:
            return ""
        if categories == "folder":
            return rel.parts[0] if len(rel.parts) > 1 else ""
        return str(categories(rel))

    @property
    def read_errors(self) -> int:
        """Files that failed when read (after listing), counted across DataLoader workers."""
        return self._read_errors.value

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        return self.read(index, 0, int(self.frames[index])), int(self.labels[index])

    def read(self, index: int, start: int, frames: int) -> Tensor:
        """Decodes ``frames`` samples (at :attr:`sample_rate`) of file ``index`` from ``start``.

        Args:
            index (int): the file.
            start (int): first sample, at :attr:`sample_rate`.
            frames (int): how many; fewer come back at the end of the file.

        Returns:
            Tensor: (channels, frames) float32.
        """
        sf = _soundfile()
        path, rate = self.files[index], int(self.rates[index])
        if rate == self.sample_rate:
            src_start, src_frames = start, frames
        else:
            src_start = start * rate // self.sample_rate
            src_frames = math.ceil(frames * rate / self.sample_rate) + 1
        with sf.SoundFile(str(path)) as f:
            f.seek(src_start)
            data = f.read(src_frames, dtype="float32", always_2d=True)
        waveform = torch.from_numpy(data.T.copy())
        if rate != self.sample_rate:
            waveform = torchaudio.functional.resample(waveform, rate, self.sample_rate)
        return waveform[:, :frames]

    def __repr__(self) -> str:
        return (
            f"AudioFolder({str(self.root)!r}, sample_rate={self.sample_rate}, files={len(self)}, "
            f"categories={len(self.category_names)}, skipped={len(self.skipped)})"
        )
