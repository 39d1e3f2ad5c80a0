"""functional CutMix: pasted spans and boxes, the kept-area weight, fades, batch consistency,
errors."""

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from audiomix.functional import (
    CutBoxes,
    cutmix,
    lengths_to_mask,
    sample_cutmix_params,
    sample_offsets,
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
