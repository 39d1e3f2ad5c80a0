"""Log-mels computed once per process: of the evaluation sets, of the shifted test copies, and of
the training clips when no random step comes before the front end.

A comparison runs many runs in one worker process on the same data and front end; their
evaluation sets, the shifted test copies (drawn from generators of their own, the same in every
run) and, without waveform augmentation or waveform mixing, the training log-mels are the same
in every run. The front end gives every clip the same log-mel whatever else is in its batch, so
a stored log-mel equals a recomputed one, bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["stored"]

_T = TypeVar("_T")
_STORE: dict[str, Any] = {}
_STORE_KEY: list[str] = [""]  # the data and front end the stored values belong to


def stored(key: str, name: str, compute: Callable[[], _T]) -> _T:
    """The value ``name`` for the data and front end ``key``, computed on the first call.

    Values of another ``key`` are dropped (one dataset's log-mels are kept at a time).

    Args:
        key (str): identifies the dataset, its splits and the front end.
        name (str): which value, e.g. ``"validation"`` or ``"test/noise_10db"``.
        compute (callable): makes the value when it is not stored.

    Returns:
        The stored or computed value.
    """
    if _STORE_KEY[0] != key:
        _STORE.clear()
        _STORE_KEY[0] = key
    if name not in _STORE:
        _STORE[name] = compute()
    return _STORE[name]
