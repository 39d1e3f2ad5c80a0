"""functional between-class mixing: the paper formula, gain ratios, partners of another
class, gains, errors."""

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from audiomix.functional import (
    a_weighted_gain,
    a_weighting_bins,
    bc_mix,
    bc_weight,
    sample_bc_params,
    sample_offsets,
)
from tests._helpers import generator as _gen


@given(r=st.floats(0.0, 1.0), g1=st.floats(-80, 20), g2=st.floats(-80, 20))
def test_bc_weight_is_the_paper_formula(r, g1, g2):
    f64 = dict(dtype=torch.float64)
    p = float(
        bc_weight(torch.tensor([r], **f64), torch.tensor([g1], **f64), torch.tensor([g2], **f64))
    )
    if r in (0.0, 1.0):
        assert p == r
    else:
        ref = 1.0 / (1.0 + 10 ** ((g1 - g2) / 20) * (1 - r) / r)
        assert math.isclose(p, ref, rel_tol=1e-9, abs_tol=1e-12)


@given(r=st.floats(0.02, 0.98), seed=st.integers(0, 2**16))
def test_bc_ratio_gives_intended_gain_ratio(signals, r, seed):
    # Two clips at different levels: after weighting, the A-weighted gains of the two
    # components stand in the ratio r : (1 - r), i.e. differ by 20·log10(r / (1 - r)) dB.
    x = signals.waveform_batch(2, 4000, seed=seed, dtype=torch.float64)
    x[1] = x[1] * 7.0
    perm = torch.tensor([1, 0])
    _, p = bc_mix(x, r, perm, sample_rate=16000)
    g_a = a_weighted_gain(p[0] * x[:1], sample_rate=16000)
    g_b = a_weighted_gain((1 - p[0]) * x[1:], sample_rate=16000)
    assert abs(float(g_a - g_b) - 20 * math.log10(r / (1 - r))) < 1e-6


def test_bc_mix_values_endpoints_and_silence(signals):
    x = signals.waveform_batch(3, 3000, dtype=torch.float64)
    perm = torch.tensor([1, 2, 0])
    out, p = bc_mix(x, torch.tensor([0.3, 0.0, 1.0]), perm, sample_rate=16000)
    norm = math.sqrt(p[0] ** 2 + (1 - p[0]) ** 2)
    torch.testing.assert_close(out[0], (p[0] * x[0] + (1 - p[0]) * x[1]) / norm)
    assert torch.equal(out[1], x[2]) and torch.equal(out[2], x[2])  # r = 0 and r = 1
    silent = torch.zeros(2, 3000)
    out, p = bc_mix(silent, 0.5, torch.tensor([1, 0]), sample_rate=16000)
    assert torch.equal(out, silent) and p.tolist() == [0.5, 0.5]
    # A silent partner sits at the floor: the formula still holds and nothing is NaN.
    half = torch.stack([x[0].float(), torch.zeros(3000)])
    out, p = bc_mix(half, 0.5, torch.tensor([1, 0]), sample_rate=16000)
    g = a_weighted_gain(half, sample_rate=16000)
    assert float(g[1]) == -80.0 and torch.isfinite(out).all()
    torch.testing.assert_close(p, bc_weight(torch.full((2,), 0.5), g, g.flip(0)))


def test_bc_mix_lengths_batch_consistency(signals):
    x, lengths = signals.padded_batch([3000, 1200, 2500, 700], garbage=3.0)
    before = x.clone()
    perm = torch.tensor([2, 3, 0, 1])
    r = torch.tensor([0.2, 0.5, 0.7, 0.9])
    offsets = sample_offsets(lengths, perm, placement="random", generator=_gen(2))
    out, p = bc_mix(x, r, perm, sample_rate=16000, lengths=lengths, offsets=offsets)
    assert torch.equal(x, before)
    for i in range(4):
        j = int(perm[i])
        o, q = bc_mix(
            x[[i, j]],
            r[[i, j]],
            torch.tensor([1, 0]),
            sample_rate=16000,
            lengths=lengths[[i, j]],
            offsets=offsets[[i, j]],
        )
        torch.testing.assert_close(o[0], out[i], atol=1e-6, rtol=1e-6)
        torch.testing.assert_close(q[0], p[i])


def test_sample_bc_params_pairs_other_classes():
    labels = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2])
    for seed in range(20):
        prm = sample_bc_params(8, partner="other_class", labels=labels, generator=_gen(seed))
        assert prm.applied.all()
        assert (labels[prm.perm] != labels).all()
    # One-hot targets are compared by class; a single-class batch cannot mix.
    onehot = torch.nn.functional.one_hot(labels, 3).float()
    prm = sample_bc_params(8, partner="other_class", labels=onehot, generator=_gen(1))
    assert (labels[prm.perm] != labels).all()
    same = sample_bc_params(
        4, partner="other_class", labels=torch.zeros(4, dtype=torch.int64), generator=_gen(1)
    )
    assert not same.applied.any()
    assert same.lam.tolist() == [1.0] * 4 and same.perm.tolist() == [0, 1, 2, 3]
    assert same.unmet.all()
    # Reproducible, uniform r by default, and offsets follow the final partners.
    a = sample_bc_params(
        8,
        partner="other_class",
        labels=labels,
        lengths=torch.arange(1, 9),
        placement="random",
        generator=_gen(5),
    )
    b = sample_bc_params(
        8,
        partner="other_class",
        labels=labels,
        lengths=torch.arange(1, 9),
        placement="random",
        generator=_gen(5),
    )
    assert torch.equal(a.perm, b.perm) and torch.equal(a.lam, b.lam)
    gap = (torch.arange(1, 9) - torch.arange(1, 9)[a.perm]).abs()
    assert ((a.offsets >= 0) & (a.offsets <= gap)).all()
    with pytest.raises(ValueError, match="`labels` and the batch have different sizes: 3 != 8"):
        sample_bc_params(8, partner="other_class", labels=torch.zeros(3, dtype=torch.int64))


def test_a_weighted_gain_errors():
    with pytest.raises(ValueError, match="`sample_rate` must be > 0"):
        a_weighted_gain(torch.randn(1, 100), sample_rate=0)
    with pytest.raises(ValueError, match="`n_fft` must be >= 2"):
        a_weighted_gain(torch.randn(1, 100), sample_rate=8000, n_fft=1)
    with pytest.raises(ValueError, match=r"`waveform` must have shape \(batch, time\)"):
        a_weighted_gain(torch.randn(100), sample_rate=8000)


def test_bc_mix_with_precomputed_gains_and_module_buffers():
    x = torch.randn(3, 3000, generator=_gen(3))
    perm, r = torch.tensor([1, 2, 0]), torch.tensor([0.2, 0.5, 0.9])
    window, weights = torch.hann_window(512), a_weighting_bins(16000, 512)
    gains = a_weighted_gain(x, sample_rate=16000, window=window, weights=weights)
    assert torch.equal(gains, a_weighted_gain(x, sample_rate=16000, n_fft=512))
    mixed, p = bc_mix(x, r, perm, sample_rate=16000, n_fft=512)
    again, p_again = bc_mix(x, r, perm, gain_db=gains)
    assert torch.equal(again, mixed) and torch.equal(p_again, p)


def test_public_surface_errors():
    x = torch.randn(2, 600, generator=_gen(7))
    perm = torch.tensor([1, 0])
    with pytest.raises(
        ValueError,
        match=r"bc_mix needs `sample_rate` to compute the gains, or "
        r"`gain_db`",
    ):
        bc_mix(x, 0.5, perm)
    with pytest.raises(
        ValueError,
        match=r"`gain_db` must be a tensor of shape \(batch,\) = "
        r"\(2,\), but got \(3,\)",
    ):
        bc_mix(x, 0.5, perm, gain_db=torch.zeros(3))
    with pytest.raises(
        ValueError,
        match=r"`window` must have shape \(n_fft,\) = \(256,\) and "
        r"`weights` \(n_fft // 2 \+ 1,\) = \(129,\), but got "
        r"\(256,\) and \(100,\)",
    ):
        a_weighted_gain(
            x, sample_rate=16000, window=torch.hann_window(256), weights=torch.ones(100)
        )
    with pytest.raises(ValueError, match=r"`window` must have shape \(n_fft,\) = \(128,\)"):
        a_weighted_gain(x, sample_rate=16000, n_fft=128, window=torch.hann_window(256))
