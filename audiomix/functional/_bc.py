"""Between-class (BC) mixing (Tokozume et al., 2018): the pair added at a gain-aware ratio
from their A-weighted gains; the weight is the drawn ratio ``r``."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from .._validation import check_audio, check_lam
from ._mix import mix
from ._pairs import as_batch, check_pairs, is_self
from ._params import BCMixParams, extend_params
from ._sampling import PairingOptions, sample_mix_params

if TYPE_CHECKING:
    from typing_extensions import Unpack
from ._weighting import a_weighted_gain

_LN10 = math.log(10.0)


def sample_bc_params(
    batch_size: int,
    *,
    alpha: float = 1.0,
    **pairing: Unpack[PairingOptions],
) -> BCMixParams:
    """Draws ratios ``r``, partners and offsets for between-class mixing.

    ``r`` is ``lam`` of :func:`sample_mix_params`; with ``alpha = 1`` (the default) it is
    U(0, 1) as in Tokozume et al. (2018), who mix clips of two different classes: pass
    ``partner="other_class"`` with ``labels`` for that (a sample with no other class in the
    batch is then left unmixed and reported in ``unmet``).

    Args:
        batch_size (int): number of samples.
        alpha (float, optional): Beta(alpha, alpha) for ``r``. (Default: ``1.0``, uniform)
        **pairing: ``per_sample`` (one ``r`` per sample; here by default, as in the paper),
            ``p``, ``lengths``, ``placement``, ``partner``, ``labels``, ``multilabel``,
            ``perm`` and ``generator``, as in :func:`sample_mix_params`.

    Returns:
        BCMixParams: on the CPU.

    Example:
        >>> labels = torch.tensor([0, 0, 1, 1])
        >>> params = sample_bc_params(4, partner="other_class", labels=labels,
        ...                           generator=torch.Generator().manual_seed(0))
        >>> bool((labels[params.perm] != labels).all())
        True
    """
    pairing.setdefault("per_sample", True)
    base = sample_mix_params(batch_size, alpha=alpha, **pairing)
    return extend_params(base, BCMixParams)


def bc_weight(r: Tensor, gain_db: Tensor, partner_gain_db: Tensor) -> Tensor:
    r"""Gain-aware waveform weight ``p`` of between-class mixing.

    ``p = 1 / (1 + 10^((G1 - G2) / 20) · (1 - r) / r)``, computed as
    ``sigmoid(logit(r) - (G1 - G2)·ln(10)/20)`` so that ``r = 0`` and ``r = 1`` give exactly
    0 and 1 and no gain difference overflows. It makes the A-weighted gains of the two
    components of ``p·x1 + (1 - p)·x2`` stand in the ratio ``r : (1 - r)``.

    Args:
        r (Tensor): (batch,) label ratios in [0, 1].
        gain_db (Tensor): (batch,) gain G1 of each sample in dB.
        partner_gain_db (Tensor): (batch,) gain G2 of its partner in dB.

    Returns:
        Tensor: (batch,) ``p`` in [0, 1], float64.
    """
    r = r.double()
    logit = torch.log(r) - torch.log1p(-r)
    diff = (gain_db.double() - partner_gain_db.double()) * (_LN10 / 20.0)
    return torch.sigmoid(logit - diff)


def _bc_mix(
    x: Tensor,
    r: Tensor | float,
    perm: Tensor,
    *,
    gain_db: Tensor,
    lengths: Tensor | None,
    offsets: Tensor | None,
    validate: bool,
) -> tuple[Tensor, Tensor]:
    b = x.shape[0]
    if validate:
        check_lam(r, b)
    r_t = as_batch(r, b, x.device, torch.float64)
    p = bc_weight(r_t, gain_db, gain_db[perm])
    # A sample that is its own partner stays itself (no level change from the normaliser).
    norm = torch.where(is_self(perm), 1.0, torch.sqrt(p.square() + (1.0 - p).square()))
    mixed = mix(x, p.to(x.dtype), perm, lengths=lengths, offsets=offsets, validate=False)
    return mixed / norm.to(x.dtype).view(b, *[1] * (x.ndim - 1)), p


def bc_mix(
    x: Tensor,
    r: Tensor | float,
    perm: Tensor,
    *,
    sample_rate: float | None = None,
    lengths: Tensor | None = None,
    offsets: Tensor | None = None,
    n_fft: int | None = None,
    min_db: float = -80.0,
    gain_db: Tensor | None = None,
    validate: bool = True,
) -> tuple[Tensor, Tensor]:
    r"""Between-class mixing of waveforms (Tokozume et al., 2018).

    ``x̃ = (p·x1 + (1 - p)·x2) / sqrt(p² + (1 - p)²)`` with the gain-aware ``p`` of
    :func:`bc_weight` from the A-weighted gains of :func:`a_weighted_gain`; the label is mixed
    by ``r``. The normaliser keeps the energy of two uncorrelated clips. With ``lengths`` the
    pair is aligned as in :func:`mix` and the output is valid over the longer clip.

    Args:
        x (Tensor): (batch, time) or (batch, channels, time) waveforms.
        r (Tensor or float): scalar or (batch,) label ratios in [0, 1].
        perm (Tensor): (batch,) partner indices.
        sample_rate (float or None): in Hz, for the A-weighting; needed unless ``gain_db`` is
            given.
        lengths, offsets: as in :func:`mix`.
        n_fft (int or None, optional): gain frame length (see :func:`a_weighted_gain`).
        min_db (float, optional): gain floor for silent clips. (Default: ``-80.0``)
        gain_db (Tensor or None, optional): (batch,) gains of the clips in dB, computed
            beforehand (e.g. by :func:`a_weighted_gain` with a module's window); then
            ``sample_rate``, ``n_fft`` and ``min_db`` are unused. (Default: computed here)
        validate (bool, optional): check ``r``, ``perm`` and ``lengths``. (Default: ``True``)

    Returns:
        (Tensor, Tensor): the mixed batch and ``p`` (batch,) float64. Targets are
        ``mix_targets(labels, r, perm)``.

    Example:
        >>> x = torch.randn(4, 16000)
        >>> mixed, p = bc_mix(x, 0.5, torch.tensor([1, 0, 3, 2]), sample_rate=16000)
        >>> mixed.shape
        torch.Size([4, 16000])
    """
    check_audio(
        x,
        "x",
        min_ndim=2,
        max_ndim=3,
        layout="(batch, time) or (batch, channels, time)",
        check_finite=False,
    )
    perm = check_pairs(x, perm, lengths, validate)
    b = x.shape[0]
    if gain_db is None:
        if sample_rate is None:
            raise ValueError("bc_mix needs `sample_rate` to compute the gains, or `gain_db`.")
        gain_db = a_weighted_gain(
            x,
            sample_rate=sample_rate,
            lengths=lengths,
            n_fft=n_fft,
            min_db=min_db,
            validate=False,
        )
    elif not isinstance(gain_db, Tensor) or gain_db.shape != (b,):
        shape = tuple(gain_db.shape) if isinstance(gain_db, Tensor) else type(gain_db).__name__
        raise ValueError(f"`gain_db` must be a tensor of shape (batch,) = ({b},), but got {shape}.")
    return _bc_mix(x, r, perm, gain_db=gain_db, lengths=lengths, offsets=offsets, validate=validate)
