"""What the collate functions and the dataset wrapper share: clips read from items, the
train/eval switch of objects that live in DataLoaders, and eval mode for a block."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from .._arrays import as_tensor

__all__ = ["TrainEvalSwitch", "as_clip", "eval_mode", "mixed_item"]


def as_clip(item: Any, where: str) -> Tensor:
    """A clip as a tensor: tensors as they are, NumPy arrays and sequences converted."""
    if isinstance(item, (Tensor, np.ndarray)):
        return as_tensor(item, where.strip("`"))
    try:
        return torch.as_tensor(item)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(
            f"{where} must be a waveform tensor (time,) or (channels, time), but got "
            f"{type(item).__name__}."
        ) from None


class TrainEvalSwitch:
    """``train()``/``eval()`` as on a module, for objects that live in DataLoaders."""

    training = True

    def train(self, mode: bool = True):
        """Mixing on (``True``) or off; returns ``self``."""
        if not isinstance(mode, bool):
            raise TypeError(f"`mode` must be a bool, but got {type(mode).__name__}.")
        self.training = mode
        return self

    def eval(self):
        """Mixing off (targets still built, unmixed); returns ``self``."""
        return self.train(False)


@contextlib.contextmanager
def eval_mode(module: nn.Module) -> Iterator[None]:
    """Puts ``module`` (and its children) in eval mode for the block, then restores each."""
    modes = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        yield
    finally:
        for m, mode in modes:
            m.training = mode


def mixed_item(
    item: Any,
    x: Tensor,
    targets: Tensor,
    info: dict[str, Any],
    *,
    input_key: str,
    label_key: str,
    return_info: bool,
) -> Any:
    """A mixed item laid out as it came: a mapping with the audio and label keys replaced (and
    ``"mix_info"`` if asked), else ``(x, targets)`` or ``(x, targets, info)``."""
    if isinstance(item, Mapping):
        out = dict(item)
        out[input_key], out[label_key] = x, targets
        if return_info:
            out["mix_info"] = info
        return out
    return (x, targets, info) if return_info else (x, targets)
