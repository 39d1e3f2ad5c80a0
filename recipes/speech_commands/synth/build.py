"""Orchestration: find, resume or generate a dataset folder, with a lock and a worker pool."""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import time
from pathlib import Path
from typing import Any

from ..common import BACKGROUND_NOISE_DIR, atomic_write_json, atomic_write_text
from ..common import progress as common_progress
from . import espeak
from .checks import check_int
from .config import SynthConfig
from .noise import NOISE_KINDS
from .speakers import clip_relpath, plan_speakers
from .workers import noise_task, speaker_task, worker_init

__all__ = ["default_cache_dir", "generate_dataset"]

_MARKER = ".complete"
_CONFIG_FILE = "synth_config.json"


def default_cache_dir() -> Path:
    """Where audiomix keeps generated data.

    Returns:
        Path: ``$AUDIOMIX_CACHE`` if set, else ``$XDG_CACHE_HOME/audiomix``, else
        ``~/.cache/audiomix``. Not created.
    """
    env = os.environ.get("AUDIOMIX_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "audiomix"


class _DatasetLock:
    """An exclusive advisory lock on ``<dataset>/.lock`` (released when the process dies)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / ".lock"
        self.fd: int | None = None

    def __enter__(self) -> _DatasetLock:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no locking
            return self
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"Waiting for another process generating {self.path.parent} ...", file=sys.stderr)
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _check_existing(folder: Path, config: SynthConfig) -> bool:
    """True if ``folder`` is complete for ``config``; raise ValueError if it holds something
    else."""
    config_path = folder / _CONFIG_FILE
    if config_path.exists():
        found = json.loads(config_path.read_text(encoding="utf-8"))
        expected = config.to_dict()
        if found != expected:
            diff = sorted(k for k in set(found) | set(expected) if found.get(k) != expected.get(k))
            detail = ", ".join(f"{k}: {found.get(k)!r} != {expected.get(k)!r}" for k in diff[:5])
            raise ValueError(
                f"{folder} was generated with a different config ({detail}). Use another "
                f"`root` or `name`, or delete the folder."
            )
        return (folder / _MARKER).exists()
    if folder.exists() and any(p.name != ".lock" for p in folder.iterdir()):
        raise ValueError(
            f"{folder} exists and is not an audiomix synthetic dataset (no {_CONFIG_FILE}); "
            f"use another `root` or `name`."
        )
    return False


def _readme(config: SynthConfig, speakers: list[dict[str, Any]], espeak_version: str) -> str:
    n_train, n_val, n_test = config.split_sizes()
    return (
        "# Synthetic Speech Commands (audiomix)\n\n"
        "Spoken words synthesised with eSpeak NG, laid out like Google Speech Commands v0.02:\n"
        "one folder per word, `<speaker>_nohash_<n>.wav` (16 kHz, 1 s, mono, int16 PCM),\n"
        "`validation_list.txt` and `testing_list.txt` (speakers disjoint across splits) and\n"
        "`_background_noise_/` for cutting `_silence_` clips. No real person's voice is "
        "included.\n\n"
        f"- generator: `{config.version}`, config hash `{config.config_hash}` (`{_CONFIG_FILE}`)\n"
        f"- synthesiser: eSpeak NG {espeak_version} (GPL-3.0-or-later), via `espeakng-loader`\n"
        f"- keywords: {', '.join(config.words)}\n"
        f"- auxiliary words (`_unknown_`): {', '.join(config.unknown_words) or '(none)'}\n"
        f"- speakers: {len(speakers)} ({n_train} training, {n_val} validation, {n_test} testing); "
        "see `speakers.tsv`\n"
        f"- clips: {config.num_clips}\n\n"
        "Regenerate with `python -m recipes.speech_commands.synth` and the same config.\n"
    )


def _speakers_tsv(speakers: list[dict[str, Any]]) -> str:
    columns = list(speakers[0]["profile"])
    lines = ["\t".join(["speaker_id", "split", *columns])]
    for s in speakers:
        lines.append("\t".join([s["id"], s["split"], *(str(s["profile"][c]) for c in columns)]))
    return "\n".join(lines) + "\n"


def _default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)


def generate_dataset(
    root: str | os.PathLike[str] | None = None,
    config: SynthConfig | None = None,
    *,
    name: str | None = None,
    num_workers: int | None = None,
    progress: bool = True,
) -> Path:
    """Generate (or finish, or just find) the synthetic Speech Commands dataset.

    The dataset goes to ``root/<name>`` with ``name = config.folder_name``
    (``<version>-<config hash>``) by default. A folder that is already complete for the same
    config is returned at once, without loading eSpeak NG. An interrupted generation resumes:
    stray temp files are removed, existing clips are kept, missing ones written; the result is
    byte-identical to an uninterrupted run. Two processes asking for the same folder take
    turns (file lock).

    Args:
        root (str or PathLike, optional): Parent folder. (Default:
            ``default_cache_dir() / "speech_commands_synth"``)
        config (SynthConfig, optional): What to generate. (Default: ``SynthConfig()``)
        name (str, optional): Folder name under ``root``. (Default: ``config.folder_name``)
        num_workers (int, optional): Worker processes; ``0`` works in this process.
            (Default: the number of usable CPU cores)
        progress (bool): Show a tqdm progress bar on stderr. (Default: ``True``)

    Returns:
        Path: The dataset folder (contains ``.complete``).

    Raises:
        ValueError: A bad argument, an unknown voice variant or accent, or a folder that holds
            a dataset made with another config.
        ImportError: The dataset must be synthesised but ``espeakng-loader`` is missing.

    Example:
        >>> folder = generate_dataset("data", SynthConfig.quick(), progress=False)
        >>> (folder / "yes").is_dir(), (folder / "testing_list.txt").is_file()
        (True, True)
    """
    if config is None:
        config = SynthConfig()
    if not isinstance(config, SynthConfig):
        raise TypeError(f"`config` must be a SynthConfig, but got {type(config).__name__}.")
    if num_workers is None:
        num_workers = _default_workers()
    check_int("num_workers", num_workers, minimum=0)
    if name is None:
        name = config.folder_name
    if (
        not isinstance(name, str)
        or not name
        or name in {".", ".."}
        or "/" in name
        or os.sep in name
    ):
        raise ValueError(f"`name` must be a plain folder name, but got {name!r}.")
    root_path = (
        default_cache_dir() / "speech_commands_synth" if root is None else Path(root).expanduser()
    )
    if root_path.exists() and not root_path.is_dir():
        raise ValueError(f"`root` must be a folder, but {root_path} is a file.")
    folder = root_path / name
    if _check_existing(folder, config):
        return folder

    espeak.validate_voices(
        config.variants, config.accents
    )  # loads eSpeak NG (ImportError if absent)
    folder.mkdir(parents=True, exist_ok=True)
    with _DatasetLock(folder) as lock:
        if _check_existing(folder, config):  # someone else finished while we waited
            return folder
        _generate(folder, config, num_workers=num_workers, progress=progress, lock_fd=lock.fd)
    return folder


def _generate(
    folder: Path, config: SynthConfig, *, num_workers: int, progress: bool, lock_fd: int | None
) -> None:
    started = time.perf_counter()
    for stray in folder.rglob(".*.tmp"):  # left by a killed run; we hold the lock
        stray.unlink(missing_ok=True)
    atomic_write_json(folder / _CONFIG_FILE, config.to_dict(), indent=2, sort_keys=True)
    speakers = plan_speakers(config)
    for word in (*config.words, *config.unknown_words, BACKGROUND_NOISE_DIR):
        (folder / word).mkdir(exist_ok=True)

    config_dict = config.to_dict()
    noise_jobs = [(str(folder), config_dict, kind) for kind in NOISE_KINDS]
    speaker_jobs = [(str(folder), config_dict, s) for s in speakers]
    bar = common_progress(
        config.num_clips + len(noise_jobs),
        "synthesising speech commands",
        disable=not progress,
        leave=True,
        unit="clip",
    )
    try:
        _run_jobs(noise_jobs, speaker_jobs, num_workers=num_workers, lock_fd=lock_fd, bar=bar)
    finally:
        bar.close()
    _write_index(folder, config, speakers)
    if progress:
        elapsed = time.perf_counter() - started
        print(
            f"Generated {config.num_clips} clips in {folder} in {elapsed:.1f} s.", file=sys.stderr
        )


def _run_jobs(
    noise_jobs: list[tuple[str, dict[str, Any], str]],
    speaker_jobs: list[tuple[str, dict[str, Any], dict[str, Any]]],
    *,
    num_workers: int,
    lock_fd: int | None,
    bar: Any,
) -> None:
    """Run the tasks in this process (``num_workers=0``) or in a pool; noise recordings first."""
    if num_workers == 0:
        for job in noise_jobs:
            bar.update(noise_task(job))
        for job in speaker_jobs:
            bar.update(speaker_task(job))
        return
    ctx = multiprocessing.get_context()
    method = ctx.get_start_method()
    inherited = lock_fd if method == "fork" else None
    parent = os.getpid() if method in ("fork", "spawn") else None
    with ctx.Pool(
        min(num_workers, len(speaker_jobs)),
        initializer=worker_init,
        initargs=(parent, inherited),
    ) as pool:
        # Noise first: the clips cut their noise beds from these recordings.
        for done in pool.imap_unordered(noise_task, noise_jobs):
            bar.update(done)
        for done in pool.imap_unordered(speaker_task, speaker_jobs):
            bar.update(done)


def _write_index(folder: Path, config: SynthConfig, speakers: list[dict[str, Any]]) -> None:
    """The split lists, ``speakers.tsv``, the READMEs and, last, the ``.complete`` marker."""
    lists = {"validation": [], "testing": []}
    for s in speakers:
        if s["split"] in lists:
            lists[s["split"]].extend(clip_relpath(s["id"], w, k) for w, k in s["clips"])
    missing = [
        rel
        for s in speakers
        for rel in (clip_relpath(s["id"], w, k) for w, k in s["clips"])
        if not (folder / rel).exists()
    ]
    if missing:  # pragma: no cover - a worker would have raised
        raise RuntimeError(
            f"{len(missing)} clips are missing after generation, e.g. {missing[:3]}."
        )
    atomic_write_text(
        folder / "validation_list.txt", "".join(p + "\n" for p in sorted(lists["validation"]))
    )
    atomic_write_text(
        folder / "testing_list.txt", "".join(p + "\n" for p in sorted(lists["testing"]))
    )
    atomic_write_text(folder / "speakers.tsv", _speakers_tsv(speakers))
    espeak_version = espeak.get_engine().version
    atomic_write_text(folder / "README.md", _readme(config, speakers, espeak_version))
    atomic_write_text(
        folder / BACKGROUND_NOISE_DIR / "README.md",
        "Long synthetic noise recordings (16 kHz, int16): "
        + ", ".join(f"{k}.wav" for k in NOISE_KINDS)
        + ". Cut 1 s windows from them for the `_silence_` class.\n",
    )
    marker = {
        "config": config.to_dict(),
        "espeak_ng_version": espeak_version,
        "num_clips": config.num_clips,
        "num_speakers": len(speakers),
        "splits": {
            split: sum(s["split"] == split for s in speakers)
            for split in ("training", "validation", "testing")
        },
    }
    atomic_write_json(folder / _MARKER, marker, indent=2, sort_keys=True)
