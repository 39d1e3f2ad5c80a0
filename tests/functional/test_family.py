"""functional CutMix, SNR and BC mixing: invariants, batch consistency, errors."""

import dataclasses
import math

import librosa
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from audiomix.functional import (
    BCMixParams,
    CutBoxes,
    CutMixParams,
    SNRMixParams,
    a_weighted_gain,
    a_weighting,
    a_weighting_bins,
    bc_mix,
    bc_weight,
    cutmix,
    lengths_to_mask,
    mix,
    sample_bc_params,
    sample_cutmix_params,
    sample_offsets,
    sample_snr_params,
    snr_mix,
)
from tests._helpers import generator as _gen


def _distinct(b, f, t, channels=None):
    """Spectrogram-like batch whose every value is unique, so a replaced cell is detectable."""
    shape = (b, f, t) if channels is None else (b, channels, f, t)
    return torch.arange(math.prod(shape), dtype=torch.float64).view(shape) + 1.0


def _pair_params(lengths, perm, placement, seed):
    if lengths is None:
        return None
    return sample_offsets(lengths, perm, placement=placement, generator=_gen(seed))


# --------------------------------------------------------------------------- CutMix

cut_cases = st.fixed_dictionaries(
    {
        "lengths": st.lists(st.integers(1, 23), min_size=1, max_size=6),
        "lam": st.floats(0.0, 1.0),
        "mode": st.sampled_from(["time", "freq", "box"]),
        "placement": st.sampled_from(["start", "center", "random"]),
        "seed": st.integers(0, 2**16),
        "padded": st.booleans(),
    }
)


@given(case=cut_cases)
def test_cutmix_weight_is_replaced_valid_area_fraction(case):
    lengths = torch.tensor(case["lengths"])
    b, f, t = len(case["lengths"]), 7, int(lengths.max()) + 2
    x = _distinct(b, f, t)
    g = _gen(case["seed"])
    perm = torch.randperm(b, generator=g)
    centers = torch.rand(2, b, generator=g, dtype=torch.float64)
    if not case["padded"]:
        lengths = None
    offsets = _pair_params(lengths, perm, case["placement"], case["seed"])
    out, kept = cutmix(
        x,
        case["lam"],
        perm,
        time_center=centers[0],
        freq_center=centers[1],
        mode=case["mode"],
        lengths=lengths,
        offsets=offsets,
    )
    valid_len = torch.full((b,), t) if lengths is None else lengths
    valid = lengths_to_mask(valid_len, t).unsqueeze(1).expand_as(x)
    changed = out != x
    # Only valid cells change; their share of the valid area is exactly 1 - kept.
    assert not bool((changed & ~valid).any())
    frac = changed.flatten(1).sum(1).double() / (valid_len.double() * f)
    self_pair = perm == torch.arange(b)
    expected = torch.where(self_pair, 0.0, frac)
    torch.testing.assert_close(1.0 - kept.double(), expected, atol=1e-6, rtol=0)
    # Every replaced cell holds a valid cell of the partner, never its padding.
    partner_vals = x[perm]
    pvalid = lengths_to_mask(valid_len[perm], t).unsqueeze(1).expand_as(x)
    for i in range(b):
        got = out[i][changed[i]]
        allowed = partner_vals[i][pvalid[i]]
        assert bool(torch.isin(got, allowed).all())
    assert ((kept >= 0) & (kept <= 1)).all()


@pytest.mark.parametrize(
    "mode, lam, expected",
    [("time", 0.3, 0.3), ("freq", 0.75, 0.75), ("box", 0.36, 0.36), ("box", 0.75, 0.75)],
)
def test_cutmix_band_uses_lambda_and_box_uses_square_root(mode, lam, expected):
    # Centred boxes are not clipped: the kept fraction is the drawn λ (1-D: width 1 - λ,
    # box: sides sqrt(1 - λ)).
    x = _distinct(2, 20, 100)
    half = torch.full((2,), 0.5, dtype=torch.float64)
    _, boxes = cutmix(
        x,
        lam,
        torch.tensor([1, 0]),
        time_center=half,
        freq_center=half,
        mode=mode,
        return_boxes=True,
    )
    torch.testing.assert_close(boxes.kept, torch.full((2,), expected), atol=1e-6, rtol=0)
    width = (boxes.time_end - boxes.time_start)[0].item()
    if mode == "time":
        assert boxes.freq_start is None and width == round(100 * (1 - lam))
        return
    height = (boxes.freq_end - boxes.freq_start)[0].item()
    if mode == "freq":
        assert (width, height) == (100, round(20 * (1 - lam)))
    elif mode == "box":
        assert width == round(100 * math.sqrt(1 - lam))
        assert height == round(20 * math.sqrt(1 - lam))


def test_cutmix_clipped_box_reports_actual_fraction():
    # A box centred on the first frame is half outside: the weight is what was pasted.
    x = _distinct(2, 4, 100)
    zero = torch.zeros(2, dtype=torch.float64)
    out, kept = cutmix(x, 0.5, torch.tensor([1, 0]), time_center=zero, mode="time")
    assert kept.tolist() == [0.75, 0.75]
    assert int((out != x)[0, 0].sum()) == 25


def test_cutmix_waveform_multichannel_and_leading_dims():
    x = torch.randn(3, 2, 50, generator=_gen())
    c = torch.rand(3, generator=_gen(1), dtype=torch.float64)
    out, kept = cutmix(x, 0.6, torch.tensor([2, 0, 1]), time_center=c)
    changed = out != x
    # Every channel is cut at the same times.
    assert torch.equal(changed[:, 0], changed[:, 1])
    torch.testing.assert_close(1 - kept.double(), changed[:, 0].double().mean(1))


def test_cutmix_lam_one_and_self_pairs_are_identity():
    x = torch.randn(3, 8, 30, generator=_gen())
    c = torch.rand(3, generator=_gen(1), dtype=torch.float64)
    out, kept = cutmix(x, 1.0, torch.tensor([1, 2, 0]), time_center=c, freq_center=c, mode="box")
    assert torch.equal(out, x) and kept.tolist() == [1.0, 1.0, 1.0]
    out, kept = cutmix(x, 0.2, torch.arange(3), time_center=c, freq_center=c, mode="box")
    assert torch.equal(out, x) and kept.tolist() == [1.0, 1.0, 1.0]


def test_cutmix_batch_consistency_and_no_mutation(signals):
    x, lengths = signals.padded_batch([30, 12, 25, 7], garbage=5.0)
    x = x.unsqueeze(1).expand(4, 6, 30).contiguous()  # (batch, freq, time)
    before = x.clone()
    p = sample_cutmix_params(
        4, alpha=1.0, lengths=lengths, placement="random", per_sample=True, generator=_gen(3)
    )
    out, kept = cutmix(
        x,
        p.lam,
        p.perm,
        time_center=p.time_center,
        freq_center=p.freq_center,
        mode="box",
        lengths=lengths,
        offsets=p.offsets,
    )
    assert torch.equal(x, before)
    for i in range(4):
        j = int(p.perm[i])
        pair = torch.stack([x[i], x[j]])
        o, k = cutmix(
            pair,
            p.lam[i].expand(2),
            torch.tensor([1, 0]) if j != i else torch.tensor([0, 1]),
            time_center=p.time_center[[i, j]],
            freq_center=p.freq_center[[i, j]],
            mode="box",
            lengths=lengths[[i, j]],
            offsets=p.offsets[[i, j]],
        )
        assert torch.equal(o[0], out[i])
        assert float(k[0]) == float(kept[i])


@given(case=cut_cases, fade=st.integers(1, 12))
def test_cutmix_fade_weight_counts_blended_samples(case, fade):
    # Row i holds the constant i + 1, so each output sample reveals the partner's weight w.
    lengths = torch.tensor(case["lengths"])
    b, t = len(case["lengths"]), int(lengths.max()) + 2
    x = torch.arange(1, b + 1, dtype=torch.float64).view(b, 1).expand(b, t).contiguous()
    g = _gen(case["seed"])
    perm = torch.randperm(b, generator=g)
    centers = torch.rand(b, generator=g, dtype=torch.float64)
    if not case["padded"]:
        lengths = None
    offsets = _pair_params(lengths, perm, case["placement"], case["seed"])
    out, kept = cutmix(
        x, case["lam"], perm, time_center=centers, lengths=lengths, offsets=offsets, fade=fade
    )
    _, hard = cutmix(x, case["lam"], perm, time_center=centers, lengths=lengths, offsets=offsets)
    valid_len = torch.full((b,), t) if lengths is None else lengths
    for i in range(b):
        j = int(perm[i])
        if j == i:
            assert torch.equal(out[i], x[i]) and float(kept[i]) == 1.0
            continue
        w = (out[i] - x[i]) / (x[j] - x[i])
        assert bool(((w > -1e-12) & (w < 1 + 1e-12)).all())
        assert bool((w[int(valid_len[i]) :] == 0).all())  # padding untouched
        # The weight returned is what was taken, ramps included ...
        taken = float(w.sum() / valid_len[i])
        assert abs((1.0 - float(kept[i])) - taken) < 1e-6
        # ... never more than the hard cut, and no step bigger than one ramp increment.
        assert float(kept[i]) >= float(hard[i]) - 1e-6
        assert float(w.diff().abs().max()) <= 1.0 / (fade + 1) + 1e-9


def test_cutmix_fade_zero_is_the_hard_cut_and_ramps_are_linear():
    x = torch.stack([torch.zeros(100), torch.ones(100)]).double()
    half = torch.full((2,), 0.5, dtype=torch.float64)
    perm = torch.tensor([1, 0])
    hard, kept_hard = cutmix(x, 0.5, perm, time_center=half)
    same, kept_same = cutmix(x, 0.5, perm, time_center=half, fade=0)
    assert torch.equal(hard, same) and torch.equal(kept_hard, kept_same)
    out, kept = cutmix(x, 0.5, perm, time_center=half, fade=4)
    # The cut is [25, 75): weights 0.2, 0.4, 0.6, 0.8 in from each edge, 1 inside.
    torch.testing.assert_close(out[0, 24:31], torch.tensor([0, 0.2, 0.4, 0.6, 0.8, 1, 1]).double())
    torch.testing.assert_close(out[0, 69:76], torch.tensor([1, 1, 0.8, 0.6, 0.4, 0.2, 0]).double())
    assert kept.tolist() == pytest.approx([1 - (50 - 4) / 100] * 2)


def test_cutmix_errors():
    x = torch.randn(2, 4, 10)
    c = torch.rand(2, dtype=torch.float64)
    perm = torch.tensor([1, 0])
    with pytest.raises(ValueError, match="`mode` must be one of"):
        cutmix(x, 0.5, perm, time_center=c, mode="diagonal")
    with pytest.raises(
        ValueError, match="needs `time_center` and, for 'freq' or 'box', `freq_center`"
    ):
        cutmix(x, 0.5, perm, time_center=c, mode="box")
    with pytest.raises(ValueError, match=r"`time_center` must be a tensor of shape \(2,\)"):
        cutmix(x, 0.5, perm, time_center=torch.rand(3))
    with pytest.raises(ValueError, match=r"`lam` must lie in \[0, 1\]"):
        cutmix(x, 1.5, perm, time_center=c)
    with pytest.raises(ValueError, match="`perm` holds partner indices"):
        cutmix(x, 0.5, torch.tensor([0, 5]), time_center=c)
    with pytest.raises(ValueError, match=r"`x` must have shape \(batch, ..., freq, time\)"):
        cutmix(torch.randn(2, 10), 0.5, perm, time_center=c, freq_center=c, mode="freq")
    with pytest.raises(ValueError, match=r"`lengths` must be in \[1, 10\]"):
        cutmix(x, 0.5, perm, time_center=c, lengths=torch.tensor([11, 3]))
    with pytest.raises(ValueError, match="`fade` must be an integer number of samples >= 0"):
        cutmix(x, 0.5, perm, time_center=c, fade=-1)
    with pytest.raises(ValueError, match="`fade` must be an integer number of samples >= 0"):
        cutmix(x, 0.5, perm, time_center=c, fade=2.5)
    with pytest.raises(ValueError, match="`fade` applies to time cuts only"):
        cutmix(x, 0.5, perm, time_center=c, freq_center=c, mode="box", fade=3)


# --------------------------------------------------------------------------- SNR mixing


def _achieved_snr(x, out, perm, lengths, offsets):
    """SNR of the sample over what was added, each power over its own valid samples."""
    b, t = x.shape[0], x.shape[-1]
    lengths_ = torch.full((b,), t) if lengths is None else lengths
    own = mix(
        x.double(), torch.ones(b, dtype=torch.float64), perm, lengths=lengths, offsets=offsets
    )
    added = out.double() - own
    c = x[0].numel() // t
    p_own = (own.reshape(b, -1) ** 2).sum(1) / (lengths_ * c)
    p_add = (added.reshape(b, -1) ** 2).sum(1) / (lengths_[perm] * c)
    return 10 * torch.log10(p_own / p_add)


@given(
    snr=st.floats(-20.0, 30.0),
    lengths=st.lists(st.integers(40, 400), min_size=2, max_size=6),
    placement=st.sampled_from(["start", "center", "random"]),
    seed=st.integers(0, 2**16),
    channels=st.sampled_from([None, 2]),
)
def test_snr_mix_achieves_requested_snr(signals, snr, lengths, placement, seed, channels):
    x, lengths_t = signals.padded_batch(lengths, channels=channels, seed=seed)
    b = len(lengths)
    perm = torch.roll(torch.arange(b), 1)  # no self pairs
    offsets = sample_offsets(lengths_t, perm, placement=placement, generator=_gen(seed))
    out, lam = snr_mix(x, snr, perm, lengths=lengths_t, offsets=offsets)
    assert torch.isfinite(out).all()  # NaN padding never leaks
    achieved = _achieved_snr(x.nan_to_num(0.0), out, perm, lengths_t, offsets)
    assert (achieved - snr).abs().max() < 0.1
    expected = torch.full((b,), 1 / (1 + 10 ** (-snr / 10)), dtype=torch.float64)
    torch.testing.assert_close(lam.double(), expected, atol=1e-6, rtol=0)


def test_snr_mix_without_lengths_is_x_plus_scaled_partner(signals):
    x = signals.waveform_batch(4, 1000)
    perm = torch.tensor([1, 2, 3, 0])
    snr = torch.tensor([0.0, 5.0, 10.0, -3.0])
    out, lam = snr_mix(x, snr, perm)
    p = x.double().pow(2).mean(1)
    g = torch.sqrt(p / (p[perm] * 10 ** (snr.double() / 10)))
    torch.testing.assert_close(
        out.double(), x.double() + g[:, None] * x.double()[perm], atol=1e-5, rtol=1e-5
    )
    assert (_achieved_snr(x, out, perm, None, None) - snr).abs().max() < 0.1


def test_snr_mix_silent_clips_and_self_pairs():
    x = torch.randn(4, 100, generator=_gen())
    x[1] = 0.0  # silent sample
    x[2] = 0.0  # silent partner of sample 3
    out, lam = snr_mix(x, 0.0, torch.tensor([0, 0, 3, 2]))
    assert torch.isfinite(out).all()
    assert torch.equal(out[0], x[0])  # its own partner
    assert torch.equal(out[1], x[1])  # nothing can reach an SNR over silence
    assert torch.equal(out[3], x[3])  # a silent partner adds nothing
    assert torch.equal(out[2], x[2])  # a silent sample has no level to set an SNR against
    assert lam.tolist() == [1.0, 1.0, 1.0, 1.0]


def test_snr_mix_errors():
    x = torch.randn(2, 10)
    with pytest.raises(ValueError, match="`snr_db` must be finite"):
        snr_mix(x, float("nan"), torch.tensor([1, 0]))
    with pytest.raises(ValueError, match=r"`x` must have shape \(batch, ..., time\)"):
        snr_mix(torch.randn(10), 0.0, torch.tensor([0]))
    with pytest.raises(ValueError, match="low <= high"):
        sample_snr_params(2, snr_db=(5.0, 0.0))
    with pytest.raises(TypeError, match="`snr_db` must be a number or a"):
        sample_snr_params(2, snr_db="loud")


def test_sample_snr_params_range_and_reproducibility():
    a = sample_snr_params(64, snr_db=(-5.0, 5.0), per_sample=True, generator=_gen(4))
    b = sample_snr_params(64, snr_db=(-5.0, 5.0), per_sample=True, generator=_gen(4))
    assert torch.equal(a.snr_db, b.snr_db) and torch.equal(a.perm, b.perm)
    assert float(a.snr_db.min()) >= -5.0 and float(a.snr_db.max()) <= 5.0
    assert a.snr_db.unique().numel() == 64
    shared = sample_snr_params(8, snr_db=3.0, generator=_gen(4))
    assert shared.snr_db.tolist() == [3.0] * 8


# --------------------------------------------------------------------------- BC mixing


def test_a_weighting_matches_librosa():
    f = np.concatenate(
        [[10.0, 20.0, 31.5, 100.0, 1000.0, 4000.0, 12500.0], np.linspace(50, 22050, 97)]
    )
    ours = a_weighting(torch.from_numpy(f), min_db=None).numpy()
    ref = librosa.A_weighting(f, min_db=None)
    # Same closed form in float64: agreement to round-off.
    np.testing.assert_allclose(ours, ref, atol=1e-9, rtol=0)
    # IEC 61672 table values (0.1 dB) at the exact base-10 frequencies behind the nominal
    # 31.5 Hz, 100 Hz, 1 kHz, 4 kHz and 12.5 kHz.
    table = {-15: -39.4, -10: -19.1, 0: 0.0, 6: 1.0, 11: -4.3}
    for k, db in table.items():
        freq = torch.tensor(1000.0 * 10 ** (k / 10), dtype=torch.float64)
        assert abs(float(a_weighting(freq)) - db) < 0.051
    assert float(a_weighting(torch.tensor(0.0))) == -80.0


def test_a_weighted_gain_scale_and_sine_level(signals):
    t = torch.arange(16000, dtype=torch.float64) / 16000
    sine = torch.sin(2 * math.pi * 1000 * t).unsqueeze(0)
    assert abs(float(a_weighted_gain(sine, sample_rate=16000)) - (-3.0103)) < 0.02
    x = signals.waveform_batch(3, 8000, dtype=torch.float64)
    g = a_weighted_gain(x, sample_rate=16000)
    g2 = a_weighted_gain(x * 0.1, sample_rate=16000)
    torch.testing.assert_close(g2, g - 20.0, atol=1e-9, rtol=0)
    # Silence is floored; padding (whatever it holds) is ignored.
    assert float(a_weighted_gain(torch.zeros(1, 4000), sample_rate=16000)) == -80.0
    xp, lengths = signals.padded_batch([8000, 3000, 500], dtype=torch.float64)
    gp = a_weighted_gain(xp, sample_rate=16000, lengths=lengths)
    for i, n in enumerate(lengths.tolist()):
        alone = a_weighted_gain(xp[i : i + 1, :n], sample_rate=16000)
        torch.testing.assert_close(gp[i : i + 1], alone, atol=1e-9, rtol=0)


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


def test_sample_bc_params_rejects_same_class_pairs():
    labels = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2])
    for seed in range(20):
        prm = sample_bc_params(8, labels=labels, generator=_gen(seed))
        assert prm.applied.all()
        assert (labels[prm.perm] != labels).all()
    # One-hot targets are compared by class; a single-class batch cannot mix.
    onehot = torch.nn.functional.one_hot(labels, 3).float()
    prm = sample_bc_params(8, labels=onehot, generator=_gen(1))
    assert (labels[prm.perm] != labels).all()
    same = sample_bc_params(4, labels=torch.zeros(4, dtype=torch.int64), generator=_gen(1))
    assert not same.applied.any()
    assert same.lam.tolist() == [1.0] * 4 and same.perm.tolist() == [0, 1, 2, 3]
    # Reproducible, uniform r by default, and offsets follow the final partners.
    a = sample_bc_params(
        8, labels=labels, lengths=torch.arange(1, 9), placement="random", generator=_gen(5)
    )
    b = sample_bc_params(
        8, labels=labels, lengths=torch.arange(1, 9), placement="random", generator=_gen(5)
    )
    assert torch.equal(a.perm, b.perm) and torch.equal(a.lam, b.lam)
    gap = (torch.arange(1, 9) - torch.arange(1, 9)[a.perm]).abs()
    assert ((a.offsets >= 0) & (a.offsets <= gap)).all()
    with pytest.raises(ValueError, match="`labels` and the batch have different sizes: 3 != 8"):
        sample_bc_params(8, labels=torch.zeros(3, dtype=torch.int64))


def test_a_weighted_gain_errors():
    with pytest.raises(ValueError, match="`sample_rate` must be > 0"):
        a_weighted_gain(torch.randn(1, 100), sample_rate=0)
    with pytest.raises(ValueError, match="`n_fft` must be >= 2"):
        a_weighted_gain(torch.randn(1, 100), sample_rate=8000, n_fft=1)
    with pytest.raises(ValueError, match=r"`waveform` must have shape \(batch, time\)"):
        a_weighted_gain(torch.randn(100), sample_rate=8000)


# --------------------------------------------------------------------------- public surface
# What the modules need comes from the public functions: boxes, gains, precomputed BC gains.


def test_cutmix_return_boxes_gives_what_was_pasted():
    x = _distinct(3, 6, 40)
    perm, lam = torch.tensor([2, 0, 1]), torch.tensor([0.4, 0.7, 0.9])
    centers = torch.rand(2, 3, generator=_gen(1))
    kwargs = dict(time_center=centers[0], freq_center=centers[1], mode="box")
    mixed, kept = cutmix(x, lam, perm, **kwargs)
    again, boxes = cutmix(x, lam, perm, **kwargs, return_boxes=True)
    assert isinstance(boxes, CutBoxes)
    assert torch.equal(again, mixed) and torch.equal(boxes.kept, kept)
    for i in range(3):
        f0, f1 = int(boxes.freq_start[i]), int(boxes.freq_end[i])
        t0, t1 = int(boxes.time_start[i]), int(boxes.time_end[i])
        assert torch.equal(mixed[i, f0:f1, t0:t1], x[int(perm[i]), f0:f1, t0:t1])
        outside = torch.ones(6, 40, dtype=torch.bool)
        outside[f0:f1, t0:t1] = False
        assert torch.equal(mixed[i][outside], x[i][outside])


def test_snr_mix_return_gain_is_the_partner_gain():
    x = torch.randn(4, 800, generator=_gen(2))
    perm = torch.tensor([1, 0, 2, 2])
    mixed, kept, gain = snr_mix(x, 6.0, perm, return_gain=True)
    assert gain.dtype == torch.float64 and gain[2] == 0  # its own partner: nothing added
    expected = x.double() + gain.unsqueeze(1) * x[perm].double()
    torch.testing.assert_close(mixed.double(), expected, rtol=1e-5, atol=1e-5)
    assert torch.equal(snr_mix(x, 6.0, perm)[1], kept)


def test_bc_mix_with_precomputed_gains_and_module_buffers():
    x = torch.randn(3, 3000, generator=_gen(3))
    perm, r = torch.tensor([1, 2, 0]), torch.tensor([0.2, 0.5, 0.9])
    window, weights = torch.hann_window(512), a_weighting_bins(16000, 512)
    gains = a_weighted_gain(x, sample_rate=16000, window=window, weights=weights)
    assert torch.equal(gains, a_weighted_gain(x, sample_rate=16000, n_fft=512))
    mixed, p = bc_mix(x, r, perm, sample_rate=16000, n_fft=512)
    again, p_again = bc_mix(x, r, perm, gain_db=gains)
    assert torch.equal(again, mixed) and torch.equal(p_again, p)


def test_a_weighting_bins_are_the_a_weighting_in_power():
    bins = a_weighting_bins(16000, 256, dtype=torch.float64)
    f = torch.fft.rfftfreq(256, d=1 / 16000, dtype=torch.float64)
    expected = 10.0 ** (a_weighting(f[1:], min_db=None) / 10.0)
    assert bins.shape == (129,) and bins[0] == 0
    torch.testing.assert_close(bins[1:], expected, rtol=1e-12, atol=0)


def test_params_to_keeps_the_class_and_every_field():
    p = sample_cutmix_params(3, alpha=1.0, lengths=torch.tensor([5, 9, 7]), generator=_gen(4))
    p = dataclasses.replace(p, time_start=torch.tensor([0, 1, 2]))
    moved = p.to("cpu")
    assert type(moved) is CutMixParams
    for f in dataclasses.fields(p):
        a, b = getattr(p, f.name), getattr(moved, f.name)
        assert (a is None and b is None) or torch.equal(a, b), f.name
    snr = sample_snr_params(2, generator=_gen(5)).to(torch.device("cpu"))
    assert type(snr) is SNRMixParams and snr.snr_db is not None
    assert type(sample_bc_params(2, generator=_gen(6)).to("cpu")) is BCMixParams


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
