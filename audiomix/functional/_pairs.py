"""Helpers shared by the methods that mix a sample with a partner (CutMix, SNR, BC)."""

from __future__ import annotations

import torch
from torch import Tensor

from .._validation import check_lengths, check_perm


def check_pairs(x: Tensor, perm: Tensor, lengths: Tensor | None, validate: bool) -> Tensor:
    """``perm`` as int64 on ``x``'s device, checked (with ``lengths``) if ``validate``."""
    b = x.shape[0]
    if validate:
        check_perm(perm, b)
        if lengths is not None:
            check_lengths(lengths, b, x.shape[-1])
    return perm.to(device=x.device, dtype=torch.int64)


def is_self(perm: Tensor) -> Tensor:
    """(batch,) bool: samples that are their own partner (unmixed)."""
    return perm == torch.arange(perm.shape[0], device=perm.device)


def as_batch(v: Tensor | float, b: int, device: torch.device, dtype: torch.dtype) -> Tensor:
    """A scalar or (batch,) value as a (batch,) tensor (expanded, not copied)."""
    return torch.as_tensor(v, dtype=dtype, device=device).expand(b)
