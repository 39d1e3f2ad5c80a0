"""NumPy arrays at the library's edges: converted to tensors, never written to."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def as_tensor(value: Any, name: str) -> Any:
    """A NumPy array (or NumPy scalar) as a tensor; anything else unchanged, for the caller's
    own checks.

    A writable array is shared, not copied (the callers never write to their inputs). A
    read-only array (what Hugging Face datasets hand out), one with negative strides or a
    non-native byte order is copied, because torch cannot wrap it without a warning or at all.

    Args:
        value: the argument.
        name (str): its name, for the error message.

    Returns:
        ``value`` as a tensor if it is a NumPy array, else ``value`` itself.
    """
    if isinstance(value, np.generic):
        value = np.asarray(value)
    if not isinstance(value, np.ndarray):
        return value
    if not value.flags.writeable or any(s < 0 for s in value.strides) or not value.dtype.isnative:
        value = np.array(value, dtype=value.dtype.newbyteorder("="))
    try:
        return torch.from_numpy(value)
    except TypeError:
        raise TypeError(
            f"`{name}` is a NumPy array of dtype {value.dtype}, which torch cannot hold; give "
            "numbers (float32 or float64 for audio)."
        ) from None
