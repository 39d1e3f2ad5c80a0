"""Random draws: mixing weights, partners, offsets. Pure torch RNG with explicit generators."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from .._validation import (
    check_alpha,
    check_choice,
    check_lengths,
    check_probability,
)

PLACEMENTS = ("start", "center", "random")


@dataclass(frozen=True)
class MixParams:
    """The random part of one mixing call, drawn before anything is mixed.

    Attributes:
        lam (Tensor): (batch,) float32, weight of each sample itself; ``1 - lam`` goes to its
            partner. Unmixed samples have ``lam == 1``.
        perm (Tensor): (batch,) int64, partner index of each sample. Unmixed samples are their
            own partner.
        applied (Tensor): (batch,) bool, which samples were mixed.
        offsets (Tensor or None): (batch,) int64, where the shorter clip of each pair starts
            inside the longer one (in samples or frames); ``None`` when no lengths were given.
    """

    lam: Tensor
    perm: Tensor
    applied: Tensor
    offsets: Tensor | None = None

    def to(self, device: torch.device | str) -> MixParams:
        """Returns the parameters on ``device`` (copies are asynchronous where possible).

        Every tensor field is moved, those of subclasses (``CutMixParams``, ...) too, and the
        copy has the same class.
        """
        import dataclasses  # here, so this edit stays inside the method

        moved = {
            f.name: getattr(self, f.name).to(device, non_blocking=True)
            for f in dataclasses.fields(self)
            if isinstance(getattr(self, f.name), Tensor)
        }
        return dataclasses.replace(self, **moved)


def _log_gamma(alpha: float, n: int, generator: torch.Generator | None) -> Tensor:
    """log of ``n`` Gamma(alpha, 1) samples in float64, on the CPU.

    Marsaglia and Tsang's squeeze method on Gamma(alpha + 1), boosted by U**(1/alpha) to reach
    Gamma(alpha); done in log space so that tiny alphas (whose samples underflow to 0) keep
    their ratio information.
    """
    a = alpha + 1.0
    d = a - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    out = torch.empty(n, dtype=torch.float64)
    filled = 0
    while filled < n:
        # Acceptance is above 95 %: one round almost always suffices.
        m = max(16, int((n - filled) * 1.1) + 1)
        z = torch.randn(m, generator=generator, dtype=torch.float64)
        u = torch.rand(m, generator=generator, dtype=torch.float64)
        v = (1.0 + c * z) ** 3
        pos = v > 0
        log_v = torch.log(torch.where(pos, v, torch.ones_like(v)))
        accept = pos & (torch.log1p(-u) < 0.5 * z * z + d - d * v + d * log_v)
        got = (math.log(d) + log_v)[accept][: n - filled]
        out[filled : filled + got.numel()] = got
        filled += got.numel()
    boost = torch.log1p(-torch.rand(n, generator=generator, dtype=torch.float64)) / alpha
    return out + boost


def sample_lambda(
    alpha: float,
    size: int | tuple[int, ...] = (),
    *,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> Tensor:
    r"""Draws mixing weights :math:`\lambda \sim \mathrm{Beta}(\alpha, \alpha)`.

    Sampled on the CPU in float64 from ``generator`` (so results do not depend on the target
    device), then moved.

    Args:
        alpha (float): concentration, > 0. Small values give weights near 0 or 1, ``alpha = 1``
            is uniform, large values concentrate at 0.5.
        size (int or tuple of int, optional): output shape. (Default: ``()``, a scalar)
        generator (torch.Generator or None, optional): CPU generator. (Default: ``None``, the
            global generator)
        dtype (torch.dtype, optional): output dtype. (Default: ``torch.float32``)
        device (torch.device, str or None, optional): output device. (Default: CPU)

    Returns:
        Tensor: ``size``, values in [0, 1].

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> lam = sample_lambda(0.4, 8, generator=g)
        >>> lam.shape
        torch.Size([8])
    """
    alpha = check_alpha(alpha)
    shape = (size,) if isinstance(size, int) else tuple(size)
    if any(s < 0 for s in shape):
        raise ValueError(f"`size` must be non-negative, but got {shape}.")
    n = math.prod(shape)
    if n == 0:
        return torch.empty(shape, dtype=dtype, device=device)
    # Beta(a, a) = G1 / (G1 + G2) = sigmoid(log G1 - log G2).
    log_g = _log_gamma(alpha, 2 * n, generator)
    lam = torch.sigmoid(log_g[:n] - log_g[n:])
    return lam.reshape(shape).to(dtype=dtype, device=device)


def sample_permutation(batch_size: int, *, generator: torch.Generator | None = None) -> Tensor:
    """Draws partner indices: a uniformly random permutation of the batch.

    Any batch size works (odd sizes too); a sample may be its own partner, in which case the
    mix leaves it unchanged.

    Returns:
        Tensor: (batch,) int64 on the CPU.
    """
    if batch_size < 0:
        raise ValueError(f"`batch_size` must be >= 0, but got {batch_size}.")
    return torch.randperm(batch_size, generator=generator)


def sample_offsets(
    lengths: Tensor,
    perm: Tensor,
    *,
    placement: str = "start",
    generator: torch.Generator | None = None,
) -> Tensor:
    """Draws where the shorter clip of each pair is placed inside the longer one.

    For sample ``i`` with valid length ``a`` and partner ``perm[i]`` of valid length ``b``,
    the offset is in ``[0, |a - b|]``: 0 for ``"start"``, ``|a - b| // 2`` for ``"center"``,
    uniform for ``"random"``.

    Args:
        lengths (Tensor): (batch,) valid lengths.
        perm (Tensor): (batch,) partner indices.
        placement (str, optional): ``"start"``, ``"center"`` or ``"random"``.
            (Default: ``"start"``)
        generator (torch.Generator or None, optional): CPU generator for ``"random"``.

    Returns:
        Tensor: (batch,) int64 offsets, on the device of ``lengths``.
    """
    check_choice(placement, "placement", PLACEMENTS)
    lengths = lengths.to(torch.int64)
    gap = (lengths - lengths[perm.to(lengths.device)]).abs()
    if placement == "start":
        return torch.zeros_like(gap)
    if placement == "center":
        return gap // 2
    u = torch.rand(gap.shape, generator=generator, dtype=torch.float64)
    return torch.floor(u.to(gap.device) * (gap + 1).double()).to(torch.int64).clamp_max(gap)


def sample_mix_params(
    batch_size: int,
    *,
    alpha: float,
    p: float = 1.0,
    per_sample: bool = False,
    lengths: Tensor | None = None,
    placement: str = "start",
    generator: torch.Generator | None = None,
) -> MixParams:
    """Draws everything one mixup call needs, on the CPU.

    Args:
        batch_size (int): number of samples.
        alpha (float): Beta(alpha, alpha) concentration, > 0.
        p (float, optional): probability of mixing, per batch or (with ``per_sample``) per
            sample. (Default: ``1.0``)
        per_sample (bool, optional): one weight and one coin per sample instead of one for
            the whole batch. (Default: ``False``)
        lengths (Tensor or None, optional): (batch,) valid lengths; when given, offsets for
            ``placement`` are drawn too.
        placement (str, optional): see :func:`sample_offsets`. (Default: ``"start"``)
        generator (torch.Generator or None, optional): CPU generator.

    Returns:
        MixParams: unmixed samples have ``lam = 1`` and are their own partner.
    """
    alpha = check_alpha(alpha)
    p = check_probability(p)
    check_choice(placement, "placement", PLACEMENTS)
    if lengths is not None:
        check_lengths(lengths, batch_size, max_length=torch.iinfo(torch.int64).max)
    # A fixed order of draws (coin, weight, partners, offsets) keeps streams reproducible.
    n = batch_size if per_sample else 1
    coin = torch.rand(n, generator=generator, dtype=torch.float64) < p
    lam = sample_lambda(alpha, n, generator=generator, dtype=torch.float32)
    perm = sample_permutation(batch_size, generator=generator)
    applied = coin.expand(batch_size).clone() if not per_sample else coin
    lam = lam.expand(batch_size).clone() if not per_sample else lam
    identity = torch.arange(batch_size)
    lam = torch.where(applied, lam, torch.ones_like(lam))
    perm = torch.where(applied, perm, identity)
    offsets = None
    if lengths is not None:
        offsets = sample_offsets(lengths.cpu(), perm, placement=placement, generator=generator)
    return MixParams(lam=lam, perm=perm, applied=applied, offsets=offsets)
