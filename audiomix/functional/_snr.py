"""SNR mixing: the partner added at a drawn signal-to-noise ratio; the weight is the energy
fraction of the sample itself."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from .._validation import check_audio, check_max_gain_db, check_snr_range
from ._loudness import mean_power
from ._mix import mix
from ._pairs import as_batch, check_pairs, is_self
from ._params import SNRMixParams, extend_params
from ._sampling import PairingOptions, draw_pairs

if TYPE_CHECKING:
    from typing_extensions import Unpack

_LN10 = math.log(10.0)


def sample_snr_params(
    batch_size: int,
    *,
    snr_db: tuple[float, float] | float = (0.0, 5.0),
    **pairing: Unpack[PairingOptions],
) -> SNRMixParams:
    """Draws SNRs uniform in dB, partners and offsets (the draw of :func:`sample_mix_params`,
    with SNRs where mixup draws λ).

    Args:
        batch_size (int): number of samples.
        snr_db (tuple of float or float, optional): ``(low, high)`` SNR range in dB; a single
            number is a fixed SNR. (Default: ``(0.0, 5.0)``)
        **pairing: ``p``, ``per_sample`` (one SNR per sample instead of one per batch),
            ``lengths``, ``placement``, ``partner``, ``labels``, ``multilabel``, ``perm`` and
            ``generator``, as in :func:`sample_mix_params`.

    Returns:
        SNRMixParams: on the CPU, ``lam`` set to the nominal target weight.

    Example:
        >>> params = sample_snr_params(4, snr_db=(0.0, 10.0), generator=torch.Generator())
        >>> bool(((params.snr_db >= 0) & (params.snr_db <= 10)).all())
        True
    """
    lo, hi = check_snr_range(snr_db)
    generator = pairing.get("generator")

    def draw_snrs(n: int) -> Tensor:
        return lo + (hi - lo) * torch.rand(n, generator=generator, dtype=torch.float64)

    snr, base = draw_pairs(batch_size, draw_snrs, **pairing)
    lam = torch.where(base.applied, _energy_fraction(snr).float(), 1.0)
    return extend_params(base, SNRMixParams, lam=lam, snr_db=snr)


def _energy_fraction(snr_db: Tensor) -> Tensor:
    """Share of the mix's energy from the sample at ``snr_db``: 1 / (1 + 10^(-snr/10))."""
    return torch.sigmoid(snr_db * (_LN10 / 10.0))


def _snr_mix(
    x: Tensor,
    snr_db: Tensor | float,
    perm: Tensor,
    *,
    lengths: Tensor | None,
    offsets: Tensor | None,
    validate: bool,
    max_gain_db: float | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    check_audio(x, "x", min_ndim=2, layout="(batch, ..., time)", check_finite=False)
    check_max_gain_db(max_gain_db)
    b = x.shape[0]
    perm = check_pairs(x, perm, lengths, validate)
    snr = as_batch(snr_db, b, x.device, torch.float64)
    if validate and not bool(torch.isfinite(snr).all()):
        raise ValueError("`snr_db` must be finite.")
    power = mean_power(x, lengths).double()
    other = power[perm]
    usable = (power > 0) & (other > 0) & ~is_self(perm)
    ratio = torch.pow(10.0, snr / 10.0)
    gain = torch.where(usable, (power / torch.where(usable, other * ratio, 1.0)).sqrt(), 0.0)
    if max_gain_db is not None:
        gain = gain.clamp_max(10.0 ** (max_gain_db / 20.0))
    # A near-silent partner needs a large gain (1e5 for -100 dB), beyond float16's range
    # (65504): half input is mixed in float32 and rounded once at the end.
    work = torch.float32 if x.dtype in (torch.float16, torch.bfloat16) else x.dtype
    # x_i + g * x_j = (1 + g) * lerp(x_j, x_i, 1 / (1 + g)): the core mix does the alignment.
    w = 1.0 / (1.0 + gain)
    mixed = mix(x.to(work), w.to(work), perm, lengths=lengths, offsets=offsets, validate=False)
    scale = (1.0 + gain).to(work).view(b, *[1] * (x.ndim - 1))
    mixed = (mixed * scale).to(x.dtype)
    # The energy fraction actually achieved (the requested one unless the gain was capped).
    kept = torch.where(usable, power / (power + gain.square() * other), 1.0)
    return mixed, kept.to(torch.float32), gain


def snr_mix(
    x: Tensor,
    snr_db: Tensor | float,
    perm: Tensor,
    *,
    lengths: Tensor | None = None,
    offsets: Tensor | None = None,
    max_gain_db: float | None = None,
    validate: bool = True,
    return_gain: bool = False,
) -> tuple[Tensor, Tensor] | tuple[Tensor, Tensor, Tensor]:
    r"""Adds each sample's partner at a given signal-to-noise ratio.

    ``x̃_i = x_i + g_i · x_j`` with ``g_i = sqrt(P_i / (P_j · 10^(snr_i / 10)))``, where ``P``
    is the mean power over a clip's valid samples (all channels), so that
    ``10·log10(P_i / P(g_i·x_j)) = snr_i`` exactly. The sample keeps its level. With
    ``lengths``, the pair is aligned as in :func:`mix` (the shorter clip placed at
    ``offsets[i]``; padding is silence) and the output is valid over the longer clip.

    The target weight of the sample itself is its share of the added energies,
    ``P_i / (P_i + g_i²·P_j) = 1 / (1 + 10^(-snr_i / 10))``. A silent sample or a silent
    partner gets nothing added and weight 1; so does a sample that is its own partner.

    A near-silent partner is boosted to the requested SNR however large the gain (1e5 for a
    partner 100 dB below the sample): powers and gains are computed in float64 and half
    precision input (float16, bfloat16) is mixed in float32 and rounded once, so the result
    stays finite. To avoid boosting a partner's noise floor, cap the gain with
    ``max_gain_db``; the weight returned is then the energy fraction actually achieved.

    Args:
        x (Tensor): (batch, ..., time) waveforms.
        snr_db (Tensor or float): scalar or (batch,) SNR in dB of each sample over its partner.
        perm (Tensor): (batch,) partner indices.
        lengths (Tensor or None, optional): (batch,) valid lengths.
        offsets (Tensor or None, optional): (batch,) placement of the shorter clip.
        max_gain_db (float or None, optional): largest gain applied to a partner, in dB;
            ``None`` reaches every requested SNR. (Default: ``None``)
        validate (bool, optional): check ``perm``, ``lengths`` and ``snr_db``.
            (Default: ``True``)
        return_gain (bool, optional): also return the gain applied to each partner.
            (Default: ``False``)

    Returns:
        (Tensor, Tensor): the mixed batch (batch, ..., time) and the target weight of each
        sample itself (batch,) float32; with ``return_gain``, a third tensor: the amplitude
        gain ``g_i`` (batch,) float64 (0 where nothing was added).

    Example:
        >>> x = torch.randn(4, 16000)
        >>> mixed, lam = snr_mix(x, 10.0, torch.tensor([1, 0, 3, 2]))
        >>> round(float(lam[0]), 4)
        0.9091
    """
    mixed, kept, gain = _snr_mix(
        x,
        snr_db,
        perm,
        lengths=lengths,
        offsets=offsets,
        validate=validate,
        max_gain_db=max_gain_db,
    )
    return (mixed, kept, gain) if return_gain else (mixed, kept)
