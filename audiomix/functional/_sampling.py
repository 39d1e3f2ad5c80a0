"""Random draws: mixing weights, partners, offsets. Pure torch RNG with explicit generators."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypedDict, TypeVar

import torch
from torch import Tensor

from .._validation import (
    check_alpha,
    check_choice,
    check_lengths,
    check_perm,
    check_probability,
)

PLACEMENTS = ("start", "center", "random")
_P = TypeVar("_P", bound="MixParams")
PARTNER_RULES = ("any", "other_class", "same_class")


class PairingOptions(TypedDict, total=False):
    """Keywords of :func:`sample_mix_params` that every ``sample_*_params`` function shares:
    whether, with whom and where each sample is mixed.

    Example:
        >>> pairing: PairingOptions = {"p": 0.5, "partner": "other_class",
        ...                            "labels": torch.tensor([0, 1, 0, 1])}
        >>> params = sample_mix_params(4, alpha=0.4, **pairing)
        >>> params.unmet.tolist()
        [False, False, False, False]
    """

    p: float
    per_sample: bool
    lengths: Tensor | None
    placement: str
    partner: str
    labels: Tensor | None
    multilabel: bool
    perm: Tensor | None
    generator: torch.Generator | None


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
        unmet (Tensor or None): (batch,) bool, samples that the partner rule could not pair
            (no other sample of the batch satisfies it); they are left unmixed. ``None`` when
            the rule is ``"any"``.
    """

    lam: Tensor
    perm: Tensor
    applied: Tensor
    offsets: Tensor | None = None
    unmet: Tensor | None = None

    def to(self: _P, device: torch.device | str) -> _P:
        """Returns the parameters on ``device`` (copies are asynchronous where possible).

        Every tensor field is moved, those of subclasses (``CutMixParams``, ...) too, as are
        nested parameters; the copy has the same class.
        """
        moved: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Tensor):
                moved[f.name] = value.to(device, non_blocking=True)
            elif isinstance(value, MixParams):
                moved[f.name] = value.to(device)
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


def shared_classes(labels: Tensor, *, multilabel: bool = False) -> Tensor:
    """(batch, batch) bool: do samples ``i`` and ``j`` share a class?

    Class indices (batch,) share a class when equal; single-label targets (batch, num_classes)
    when their largest entries are in the same class; multi-hot targets (``multilabel=True``)
    when their label sets intersect; frame targets (batch, frames, classes) when a class is
    active (> 0) in both clips, at any frame.

    Args:
        labels (Tensor): class indices (batch,), targets (batch, num_classes) or frame
            targets (batch, frames, classes).
        multilabel (bool, optional): 2-D targets are multi-hot. (Default: ``False``)

    Returns:
        Tensor: (batch, batch) bool, symmetric, ``True`` on the diagonal for labelled rows.

    Example:
        >>> shared_classes(torch.tensor([0, 1, 0])).int()
        tensor([[1, 0, 1],
                [0, 1, 0],
                [1, 0, 1]], dtype=torch.int32)
    """
    if not isinstance(labels, Tensor):
        raise TypeError(f"`labels` must be a torch.Tensor, but got {type(labels).__name__}.")
    labels = labels.detach().cpu()
    if labels.ndim == 1:
        return labels.unsqueeze(0) == labels.unsqueeze(1)
    if labels.ndim == 2 and not multilabel:
        ids = labels.argmax(dim=1)
        return ids.unsqueeze(0) == ids.unsqueeze(1)
    if labels.ndim in (2, 3):
        present = (labels.amax(dim=1) if labels.ndim == 3 else labels) > 0
        sets = present.double()
        return (sets @ sets.T) > 0
    raise ValueError(
        "`labels` must be class indices (batch,), targets (batch, num_classes) or frame "
        f"targets (batch, frames, classes), but got shape {tuple(labels.shape)}."
    )


def sample_partners(
    batch_size: int,
    *,
    rule: str = "any",
    labels: Tensor | None = None,
    multilabel: bool = False,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor | None]:
    """Draws each sample's partner under a rule.

    ``"any"``: a uniformly random permutation of the batch. ``"other_class"``: a partner
    that shares no class with the sample (for multi-label targets, disjoint label sets);
    ``"same_class"``: another sample that shares a class with it. A partner of the random
    permutation that breaks the rule is re-drawn uniformly among the samples that satisfy it,
    one draw per row whatever the labels (so the stream does not depend on their pattern); a
    sample that no other sample of the batch satisfies is its own partner and is reported in
    ``unmet``.

    Args:
        batch_size (int): number of samples.
        rule (str, optional): ``"any"``, ``"other_class"`` or ``"same_class"``.
            (Default: ``"any"``)
        labels (Tensor or None, optional): needed for the class rules, as in
            :func:`shared_classes`; read on the CPU.
        multilabel (bool, optional): 2-D ``labels`` are multi-hot. (Default: ``False``)
        generator (torch.Generator or None, optional): CPU generator.

    Returns:
        ``(perm, unmet)``: (batch,) int64 partners on the CPU, and (batch,) bool rows left
        without a partner (``None`` for ``"any"``).

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> perm, unmet = sample_partners(4, rule="other_class",
        ...                               labels=torch.tensor([0, 0, 1, 1]), generator=g)
        >>> bool((torch.tensor([0, 0, 1, 1])[perm] != torch.tensor([0, 0, 1, 1])).all())
        True
    """
    rule = check_choice(rule, "partner", PARTNER_RULES)
    if batch_size < 0:
        raise ValueError(f"`batch_size` must be >= 0, but got {batch_size}.")
    perm = torch.randperm(batch_size, generator=generator)
    if rule == "any":
        return perm, None
    if labels is None:
        raise ValueError(f"`partner`={rule!r} needs `labels` to tell the classes apart.")
    if labels.ndim == 0 or labels.shape[0] != batch_size:
        got = "a scalar" if labels.ndim == 0 else str(labels.shape[0])
        raise ValueError(f"`labels` and the batch have different sizes: {got} != {batch_size}.")
    shared = shared_classes(labels, multilabel=multilabel)
    identity = torch.arange(batch_size)
    others = identity[:, None] != identity
    allowed = (~shared if rule == "other_class" else shared) & others
    bad = ~allowed[identity, perm]
    has_partner = allowed.any(dim=1)
    # Rows without any allowed partner draw from a dummy uniform row and are reset below.
    weights = torch.where(has_partner.unsqueeze(1), allowed, torch.ones_like(allowed))
    if batch_size:
        redrawn = torch.multinomial(weights.double(), 1, generator=generator).squeeze(1)
        perm = torch.where(bad, redrawn, perm)
    unmet = ~has_partner
    return torch.where(unmet, identity, perm), unmet


def draw_pairs(
    batch_size: int,
    draw_weights: Callable[[int], Tensor],
    *,
    p: float = 1.0,
    per_sample: bool = False,
    lengths: Tensor | None = None,
    placement: str = "start",
    partner: str = "any",
    labels: Tensor | None = None,
    multilabel: bool = False,
    perm: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, MixParams]:
    """The draw every method shares: coin, weights, partners, offsets, in that fixed order.

    ``draw_weights(n)`` draws the method's ``n`` weights (one per batch, or per sample with
    ``per_sample``) from ``generator``: λ for mixup, SNRs for SNR mixing. The arguments are
    those of :func:`sample_mix_params`.

    Returns:
        ``(weights, params)``: the (batch,) drawn weights and :class:`MixParams` with ``lam``
        all ones (the caller sets it from the weights);
        rows left unmixed (coin down, or no partner under the rule) are their own partner.
    """
    p = check_probability(p)
    check_choice(placement, "placement", PLACEMENTS)
    if lengths is not None:
        check_lengths(lengths, batch_size, max_length=torch.iinfo(torch.int64).max)
    if perm is not None:
        if partner != "any":
            raise ValueError(
                f"`perm` fixes the partners, so `partner` must be 'any', but got {partner!r}."
            )
        perm = torch.as_tensor(perm, dtype=torch.int64).cpu()
        check_perm(perm, batch_size)
    n = batch_size if per_sample else 1
    coin = torch.rand(n, generator=generator, dtype=torch.float64) < p
    weights = draw_weights(n)
    unmet = None
    if perm is None:
        perm, unmet = sample_partners(
            batch_size, rule=partner, labels=labels, multilabel=multilabel, generator=generator
        )
    coin = coin.expand(batch_size).clone()
    weights = weights.expand(batch_size).clone()
    identity = torch.arange(batch_size)
    applied = coin
    if unmet is not None:
        unmet = unmet & coin  # a row the coin left alone was not refused by the rule
        applied = coin & ~unmet
    perm = torch.where(applied, perm, identity)
    offsets = None
    if lengths is not None:
        offsets = sample_offsets(lengths.cpu(), perm, placement=placement, generator=generator)
    params = MixParams(
        lam=torch.ones(batch_size), perm=perm, applied=applied, offsets=offsets, unmet=unmet
    )
    return weights, params


def sample_mix_params(
    batch_size: int,
    *,
    alpha: float,
    p: float = 1.0,
    per_sample: bool = False,
    lengths: Tensor | None = None,
    placement: str = "start",
    partner: str = "any",
    labels: Tensor | None = None,
    multilabel: bool = False,
    perm: Tensor | None = None,
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
        partner (str, optional): who may be a partner, see :func:`sample_partners`.
            (Default: ``"any"``)
        labels (Tensor or None, optional): for the class rules of ``partner``.
        multilabel (bool, optional): 2-D ``labels`` are multi-hot. (Default: ``False``)
        perm (Tensor or None, optional): (batch,) partners chosen by the caller (e.g. a
            dataset-level rule) instead of drawn. (Default: ``None``)
        generator (torch.Generator or None, optional): CPU generator.

    Returns:
        MixParams: unmixed samples have ``lam = 1`` and are their own partner.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> params = sample_mix_params(4, alpha=0.4, generator=g)
        >>> params.lam.shape, params.perm.dtype
        (torch.Size([4]), torch.int64)
    """
    alpha = check_alpha(alpha)
    lam, params = draw_pairs(
        batch_size,
        lambda n: sample_lambda(alpha, n, generator=generator, dtype=torch.float32),
        p=p,
        per_sample=per_sample,
        lengths=lengths,
        placement=placement,
        partner=partner,
        labels=labels,
        multilabel=multilabel,
        perm=perm,
        generator=generator,
    )
    return dataclasses.replace(params, lam=torch.where(params.applied, lam, 1.0))
