"""Argument checks shared by the functional and module APIs.

Every check raises ``ValueError`` or ``TypeError`` with a message that names the argument, the
value found and what is allowed. Checks that need the tensor's values (finiteness, label range)
read them once; they are the only host synchronisations in a call and can be switched off with
``validate=False`` where offered.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

_FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def check_alpha(alpha: float, name: str = "alpha") -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
        raise TypeError(f"`{name}` must be a real number, but got {type(alpha).__name__}.")
    alpha = float(alpha)
    if not math.isfinite(alpha) or alpha <= 0:
        raise ValueError(f"`{name}` must be a finite number > 0, but got {alpha}.")
    return alpha


def check_probability(p: float, name: str = "p") -> float:
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise TypeError(f"`{name}` must be a real number, but got {type(p).__name__}.")
    p = float(p)
    if not 0.0 <= p <= 1.0:  # also rejects NaN
        raise ValueError(f"`{name}` must be in [0, 1], but got {p}.")
    return p


def check_label_smoothing(eps: float) -> float:
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real):
        raise TypeError(f"`label_smoothing` must be a real number, but got {type(eps).__name__}.")
    eps = float(eps)
    if not 0.0 <= eps < 1.0:
        raise ValueError(f"`label_smoothing` must be in [0, 1), but got {eps}.")
    return eps


def check_choice(value: str, name: str, allowed: Sequence[str]) -> str:
    if value not in allowed:
        options = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"`{name}` must be one of {options}, but got {value!r}.")
    return value


def check_num_classes(num_classes: int | None) -> int | None:
    if num_classes is None:
        return None
    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral):
        raise TypeError(f"`num_classes` must be an int, but got {type(num_classes).__name__}.")
    if num_classes < 1:
        raise ValueError(f"`num_classes` must be >= 1, but got {num_classes}.")
    return int(num_classes)


def check_audio(
    x: Tensor,
    name: str,
    *,
    min_ndim: int,
    max_ndim: int | None = None,
    layout: str,
    check_finite: bool = True,
) -> None:
    """Checks a batch of audio (waveforms or spectrograms): type, dtype, rank, size, values."""
    if not isinstance(x, Tensor):
        raise TypeError(f"`{name}` must be a torch.Tensor, but got {type(x).__name__}.")
    if x.dtype not in _FLOAT_DTYPES:
        raise TypeError(
            f"`{name}` must have a floating dtype (float16, bfloat16, float32, float64), but "
            f"got {x.dtype}. Convert integer PCM first, e.g. `x.float() / 32768`."
        )
    if x.ndim < min_ndim or (max_ndim is not None and x.ndim > max_ndim):
        expected = (
            f"{min_ndim}"
            if max_ndim == min_ndim
            else (f"{min_ndim} to {max_ndim}" if max_ndim is not None else f">= {min_ndim}")
        )
        raise ValueError(
            f"`{name}` must have shape {layout} ({expected} dims), but got shape {tuple(x.shape)}."
        )
    if x.shape[-1] == 0:
        raise ValueError(f"`{name}` is empty along time: shape {tuple(x.shape)}.")
    if x.numel() == 0:
        raise ValueError(f"`{name}` is empty: shape {tuple(x.shape)}.")
    if check_finite and not _all_finite(x):
        raise ValueError(
            f"`{name}` contains NaN or Inf values. Clean the input, or pass "
            "`check_finite=False` to mix it anyway."
        )


def _all_finite(x: Tensor) -> bool:
    # min and max propagate NaN and expose ±Inf: one reduction, no boolean temporary, far
    # cheaper than isfinite(x).all() on a large batch.
    lo, hi = torch.aminmax(x.detach())
    return math.isfinite(float(lo)) and math.isfinite(float(hi))


def check_lam(lam: Tensor | float, batch_size: int) -> None:
    if isinstance(lam, Tensor):
        if lam.ndim > 1 or (lam.ndim == 1 and lam.shape[0] != batch_size):
            raise ValueError(
                f"`lam` must be a scalar or have shape (batch,) = ({batch_size},), but got "
                f"shape {tuple(lam.shape)}."
            )
        if not lam.is_floating_point():
            raise TypeError(f"`lam` must have a floating dtype, but got {lam.dtype}.")
        lo, hi = torch.aminmax(lam.detach())
        if not (0.0 <= float(lo) and float(hi) <= 1.0):
            raise ValueError(
                f"`lam` must lie in [0, 1], but got values in [{float(lo)}, {float(hi)}]."
            )
    else:
        if isinstance(lam, bool) or not isinstance(lam, numbers.Real):
            raise TypeError(f"`lam` must be a float or a Tensor, but got {type(lam).__name__}.")
        if not 0.0 <= float(lam) <= 1.0:
            raise ValueError(f"`lam` must lie in [0, 1], but got {lam}.")


def check_perm(perm: Tensor, batch_size: int) -> None:
    if not isinstance(perm, Tensor):
        raise TypeError(f"`perm` must be a torch.Tensor, but got {type(perm).__name__}.")
    if perm.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"`perm` must be an int64 or int32 tensor, but got {perm.dtype}.")
    if perm.shape != (batch_size,):
        raise ValueError(
            f"`perm` must have shape (batch,) = ({batch_size},), but got {tuple(perm.shape)}."
        )
    if batch_size and (int(perm.min()) < 0 or int(perm.max()) >= batch_size):
        raise ValueError(
            f"`perm` holds partner indices, which must be in [0, {batch_size - 1}], but got "
            f"values in [{int(perm.min())}, {int(perm.max())}]."
        )


def check_lengths(lengths: Tensor, batch_size: int, max_length: int, name: str = "lengths"):
    if not isinstance(lengths, Tensor):
        raise TypeError(f"`{name}` must be a torch.Tensor, but got {type(lengths).__name__}.")
    if lengths.is_floating_point() or lengths.is_complex() or lengths.dtype == torch.bool:
        raise TypeError(f"`{name}` must have an integer dtype, but got {lengths.dtype}.")
    if lengths.shape != (batch_size,):
        raise ValueError(
            f"`{name}` and the audio have different batch sizes: `{name}` has shape "
            f"{tuple(lengths.shape)}, expected ({batch_size},)."
        )
    if batch_size:
        lo, hi = int(lengths.min()), int(lengths.max())
        if lo <= 0 or hi > max_length:
            raise ValueError(
                f"`{name}` must be in [1, {max_length}] (the padded length), but got values "
                f"in [{lo}, {hi}]."
            )


def check_same_device(a: Tensor, b: Tensor, name_a: str, name_b: str) -> None:
    if a.device != b.device:
        raise ValueError(
            f"`{name_a}` and `{name_b}` are on different devices: {a.device} != {b.device}."
        )


def check_labels_batch(labels: Tensor, batch_size: int, name: str = "x") -> None:
    """``labels`` is a tensor with one row per sample of a batch of ``batch_size``."""
    if not isinstance(labels, Tensor):
        raise TypeError(f"`labels` must be a torch.Tensor, but got {type(labels).__name__}.")
    if labels.ndim == 0 or labels.shape[0] != batch_size:
        got = "a scalar" if labels.ndim == 0 else str(labels.shape[0])
        raise ValueError(f"{name} and labels have different batch sizes: {batch_size} != {got}.")


def check_fade(fade: object, mode: str = "time") -> int:
    """Checks a cross-fade length in samples (an int >= 0, for time cuts only)."""
    if isinstance(fade, bool) or not isinstance(fade, numbers.Integral) or fade < 0:
        raise ValueError(f"`fade` must be an integer number of samples >= 0, but got {fade!r}.")
    if fade and mode != "time":
        raise ValueError(f"`fade` applies to time cuts only (mode='time'), but mode={mode!r}.")
    return int(fade)


def check_snr_range(snr_db: object) -> tuple[float, float]:
    """``snr_db`` as a ``(low, high)`` pair of finite floats with ``low <= high``."""
    pair: Any = snr_db
    if isinstance(snr_db, numbers.Real) and not isinstance(snr_db, bool):
        pair = (snr_db, snr_db)
    try:
        lo, hi = (float(v) for v in pair)
    except (TypeError, ValueError):
        raise TypeError(
            f"`snr_db` must be a number or a (low, high) pair of numbers in dB, but got {snr_db!r}."
        ) from None
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
        raise ValueError(
            f"`snr_db` must be a (low, high) pair of finite numbers with low <= high, but got "
            f"({lo}, {hi})."
        )
    return lo, hi


def check_max_gain_db(max_gain_db: object) -> float | None:
    """``max_gain_db`` as a float (any finite number of dB) or ``None`` (no cap)."""
    if max_gain_db is None:
        return None
    if isinstance(max_gain_db, bool) or not isinstance(max_gain_db, numbers.Real):
        raise TypeError(
            f"`max_gain_db` must be a number or None, but got {type(max_gain_db).__name__}."
        )
    if not math.isfinite(max_gain_db):
        raise ValueError(f"`max_gain_db` must be finite or None, but got {max_gain_db}.")
    return float(max_gain_db)
