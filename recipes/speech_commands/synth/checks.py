"""Argument checks of the synthesiser: each error names the argument, the value and what is
allowed."""

from __future__ import annotations

import math
import re
from typing import Any

__all__ = [
    "check_fraction",
    "check_int",
    "check_names",
    "check_number",
    "check_range",
    "check_words",
]

_WORD_RE = re.compile(r"^[a-z]+$")


def check_int(name: str, value: Any, *, minimum: int) -> None:
    """Raise unless ``value`` is an int (not a bool) ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"`{name}` must be an int, but got {value!r}.")
    if value < minimum:
        raise ValueError(f"`{name}` must be >= {minimum}, but got {value}.")


def check_number(name: str, value: Any, *, low: float, high: float) -> None:
    """Raise unless ``value`` is a number (not NaN, not a bool) in ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise TypeError(f"`{name}` must be a number, but got {value!r}.")
    if not low <= value <= high:
        raise ValueError(f"`{name}` must be in [{low}, {high}], but got {value}.")


def check_fraction(name: str, value: Any, *, inclusive: bool = False) -> None:
    """Raise unless ``value`` is in ``[0, 1)`` (``[0, 1]`` if ``inclusive``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise TypeError(f"`{name}` must be a number, but got {value!r}.")
    if not (0.0 <= value <= 1.0 if inclusive else 0.0 <= value < 1.0):
        bracket = "1]" if inclusive else "1)"
        raise ValueError(f"`{name}` must be in [0, {bracket}, but got {value}.")


def check_range(name: str, value: Any, *, low: float = -math.inf, high: float = math.inf) -> None:
    """Raise unless ``value`` is a pair ``(low, high)`` of numbers, ordered, within the bounds."""
    ok = (
        isinstance(value, tuple)
        and len(value) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    )
    if not ok or any(math.isnan(v) for v in value):
        raise TypeError(f"`{name}` must be a pair of numbers (low, high), but got {value!r}.")
    if value[0] > value[1]:
        raise ValueError(f"`{name}` must be (low, high) with low <= high, but got {value}.")
    if value[0] < low or value[1] > high:
        raise ValueError(f"`{name}` must lie within [{low}, {high}], but got {value}.")


def check_words(name: str, words: Any, *, allow_empty: bool) -> None:
    """Raise unless ``words`` is a tuple of distinct lower-case a-z words (they name folders)."""
    if not isinstance(words, tuple) or not all(isinstance(w, str) for w in words):
        raise TypeError(f"`{name}` must be a sequence of strings, but got {words!r}.")
    if not words and not allow_empty:
        raise ValueError(f"`{name}` must not be empty.")
    bad = [w for w in words if not _WORD_RE.match(w)]
    if bad:
        raise ValueError(
            f"`{name}` must be lower-case English words (a-z only; they name folders), but got "
            f"{bad}."
        )
    dupes = sorted({w for w in words if words.count(w) > 1})
    if dupes:
        raise ValueError(f"`{name}` has duplicates: {dupes}.")


def check_names(name: str, names: Any) -> None:
    """Raise unless ``names`` is a non-empty tuple of distinct bare eSpeak NG names."""
    if not isinstance(names, tuple) or not all(isinstance(n, str) and n for n in names):
        raise TypeError(f"`{name}` must be a sequence of non-empty strings, but got {names!r}.")
    if not names:
        raise ValueError(f"`{name}` must not be empty.")
    bad = [n for n in names if "+" in n or "/" in n]
    if bad:
        raise ValueError(f"`{name}` takes bare eSpeak NG names without '+' or '/', but got {bad}.")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"`{name}` has duplicates: {dupes}.")
