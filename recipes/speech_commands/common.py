"""What the speech_commands recipe's modules share: names, atomic files, progress, seeds, ``--set``.

One home for helpers that ``synth``, ``data``, ``train`` and ``compare`` used to write each for
themselves. Nothing here is specific to one step of the recipe, and importing it needs only
numpy: torch, yaml and tqdm are imported when a helper that needs them is called.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

__all__ = [
    "BACKGROUND_NOISE_DIR",
    "KEYWORDS",
    "NullProgress",
    "atomic_torch_save",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "derive_rng",
    "derive_seed",
    "log",
    "parse_set",
    "parse_value",
    "progress",
]

KEYWORDS: tuple[str, ...] = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
"""The ten keywords of the 12-class task, in the TensorFlow reference's order."""
BACKGROUND_NOISE_DIR = "_background_noise_"
"""Folder of the long noise recordings in a Speech Commands root (``_silence_`` is cut from it)."""


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------


def atomic_write(
    path: str | os.PathLike[str], write: Callable[[IO[bytes]], Any], *, fsync: bool = True
) -> None:
    """Write a file so that readers see the old file or the whole new one, never a part.

    ``write`` fills a temp file in the same folder, which then replaces ``path``
    (``os.replace``). The temp name is hidden and ends in ``.tmp`` (``.<name>.<pid>.tmp``), so
    globs such as ``*.wav`` never see it and a cleanup can find what a killed run left behind.

    Args:
        path (str or PathLike): The file to write; its folder must exist.
        write (callable): Called with the temp file opened for binary writing.
        fsync (bool): Flush the data to disk before the rename (survives a power cut, costs
            a few milliseconds a file). (Default: ``True``)
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            write(fh)
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, fsync: bool = True) -> None:
    """:func:`atomic_write` of ``data``."""
    atomic_write(path, lambda fh: fh.write(data), fsync=fsync)


def atomic_write_text(path: str | os.PathLike[str], text: str, *, fsync: bool = True) -> None:
    """:func:`atomic_write` of ``text`` encoded as UTF-8."""
    atomic_write_bytes(path, text.encode("utf-8"), fsync=fsync)


def atomic_write_json(
    path: str | os.PathLike[str], obj: Any, *, fsync: bool = True, **dumps_kwargs: Any
) -> None:
    """:func:`atomic_write` of ``json.dumps(obj, **dumps_kwargs)`` and a final newline."""
    atomic_write_text(path, json.dumps(obj, **dumps_kwargs) + "\n", fsync=fsync)


def atomic_torch_save(obj: Any, path: str | os.PathLike[str]) -> None:
    """:func:`atomic_write` of ``torch.save(obj)`` (argument order as ``torch.save``)."""
    import torch

    atomic_write(path, lambda fh: torch.save(obj, fh))


# --------------------------------------------------------------------------------------------
# Messages and progress bars
# --------------------------------------------------------------------------------------------


def log(message: str) -> None:
    """Print ``message`` on stderr at once (stdout is kept for results)."""
    print(message, file=sys.stderr, flush=True)


class NullProgress:
    """A progress bar that shows nothing: what :func:`progress` returns when disabled."""

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix(self, *args: Any, **kwargs: Any) -> None:
        pass

    def close(self) -> None:
        pass


def progress(
    total: int, desc: str, *, disable: bool = False, leave: bool = False, **kwargs: Any
) -> Any:
    """A tqdm bar on stderr, or a :class:`NullProgress` if disabled or tqdm is not installed.

    Args:
        total (int): Number of steps.
        desc (str): Label in front of the bar.
        disable (bool): Show nothing. (Default: ``False``)
        leave (bool): Keep the finished bar on screen. (Default: ``False``)
        **kwargs: Other ``tqdm`` arguments (e.g. ``unit="clip"``).

    Returns:
        An object with ``update(n)``, ``set_postfix(...)`` and ``close()``.
    """
    if not disable:
        try:
            from tqdm.auto import tqdm
        except ImportError:  # tqdm comes with the `recipe` extra
            pass
        else:
            return tqdm(
                total=total, desc=desc, leave=leave, dynamic_ncols=True, file=sys.stderr, **kwargs
            )
    return NullProgress()


# --------------------------------------------------------------------------------------------
# Seeds
# --------------------------------------------------------------------------------------------
# Two hashes of keys into seeds, kept apart on purpose: they encode the keys differently
# (repr vs JSON) and keep different widths, so merging them would change every seed, and with
# them the committed results (derive_seed: training) and the synthetic dataset's bytes
# (derive_rng: synthesis). Both are stable across processes, platforms and worker counts.


def derive_seed(*keys: Any) -> int:
    """A 63-bit seed from any keys (a hash, so related keys give unrelated streams).

    Args:
        *keys: Values with a stable ``repr`` (ints, strings, tuples of them).

    Returns:
        int: In ``[0, 2**63)``; the first 8 bytes of SHA-256 of ``repr(keys)``, little-endian.

    Example:
        >>> derive_seed(0, "mixer") == derive_seed(0, "mixer") != derive_seed(1, "mixer")
        True
    """
    digest = hashlib.sha256(repr(keys).encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def derive_rng(seed: int, *key: Any) -> np.random.Generator:
    """A numpy generator seeded by a stable hash of ``(seed, *key)``.

    The stream depends on the keys only, not on the order in which streams are made nor on the
    process that makes them, so work split over worker processes gives the same result.

    Args:
        seed (int): The base seed.
        *key: JSON-serialisable values naming the stream, e.g. ``("clip", speaker, word, 0)``.

    Returns:
        np.random.Generator: Seeded with the first 16 bytes of SHA-256 of
        ``json.dumps([seed, *key])``, little-endian.

    Example:
        >>> a = derive_rng(0, "clip", "yes", 1).random()
        >>> b = derive_rng(0, "clip", "yes", 2).random()
        >>> a == derive_rng(0, "clip", "yes", 1).random() != b
        True
    """
    digest = hashlib.sha256(json.dumps([seed, *key]).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "little"))


# --------------------------------------------------------------------------------------------
# Command-line overrides
# --------------------------------------------------------------------------------------------


def parse_value(text: str) -> Any:
    """A command-line value as YAML (``3`` -> int, ``[1, 2]`` -> list, ``null`` -> None).

    Args:
        text (str): The value as typed.

    Returns:
        The parsed value, or ``text`` itself if it is not valid YAML.
    """
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def parse_set(item: str) -> tuple[str, Any]:
    """Split a ``--set KEY=VALUE`` argument and parse the value with :func:`parse_value`.

    Args:
        item (str): e.g. ``"mixup.alpha=0.4"``.

    Returns:
        tuple[str, Any]: ``(key, value)``, e.g. ``("mixup.alpha", 0.4)``.

    Raises:
        ValueError: ``item`` has no ``=``.

    Example:
        >>> parse_set("train.epochs=3")
        ('train.epochs', 3)
    """
    if "=" not in item:
        raise ValueError(f"--set expects KEY=VALUE, but got {item!r}")
    key, value = item.split("=", 1)
    return key, parse_value(value)
