"""Every mixer of the family (CutMix, SNR, BC): call convention, target weights, reproducibility,
errors, compile."""

import copy
import dataclasses
import math
import warnings

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import audiomix
from audiomix import (
    BCMix,
    RandomChoiceMix,
    SNRMix,
    SpectrogramCutMix,
    WaveformCutMix,
    WaveformMixup,
)
from audiomix.functional import (
    a_weighted_gain,
    lengths_to_mask,
    mix_lengths,
    mix_targets,
    prepare_targets,
)
from tests._helpers import generator as _gen

C = 5  # classes


# name -> (factory(**kwargs), input shape without batch)
METHODS = {
    "spec-time": (lambda **k: SpectrogramCutMix(mode="time", num_classes=C, **k), (12, 40)),
    "spec-freq": (lambda **k: SpectrogramCutMix(mode="freq", num_classes=C, **k), (12, 40)),
    "spec-box": (lambda **k: SpectrogramCutMix(mode="box", num_classes=C, **k), (2, 12, 40)),
    "wave-cut": (lambda **k: WaveformCutMix(num_classes=C, **k), (600,)),
    "wave-cut-fade": (lambda **k: WaveformCutMix(fade=24, num_classes=C, **k), (2, 600)),
    "snr": (lambda **k: SNRMix(snr_db=(-5.0, 10.0), num_classes=C, **k), (2, 600)),
    "bc": (lambda **k: BCMix(sample_rate=8000, num_classes=C, **k), (600,)),
}


NAMES = list(METHODS)


def _batch(shape, b=6, seed=0, dtype=torch.float32):
    x = torch.randn(b, *shape, generator=_gen(seed), dtype=torch.float64)
    levels = torch.logspace(-1.5, 0, b, dtype=torch.float64).view(b, *[1] * len(shape))
    return (x * levels).to(dtype)


def _lengths(b, t, seed=0):
    return (
        torch.randint(t // 4, t + 1, (b,), generator=_gen(seed))
        .clamp_max(t)
        .index_fill(0, torch.tensor([0]), t)
    )


def _labels(b, seed=0):
    return torch.randint(C, (b,), generator=_gen(seed + 100))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("with_lengths", [False, True])
def test_targets_follow_last_params(name, with_lengths):
    factory, shape = METHODS[name]
    m = factory(generator=1, per_sample=True)
    x, y = _batch(shape), _labels(6)
    x_before, y_before = x.clone(), y.clone()
    if with_lengths:
        lengths = _lengths(6, shape[-1])
        lengths_before = lengths.clone()
        out, targets, out_lengths = m(x, y, lengths)
        assert torch.equal(lengths, lengths_before)
        if "cut" in name or name.startswith("spec"):
            assert torch.equal(out_lengths, lengths)  # pasted inside the own valid region
        else:
            assert torch.equal(out_lengths, mix_lengths(lengths, m.last_params.perm))
    else:
        out, targets = m(x, y)
    assert torch.equal(x, x_before) and torch.equal(y, y_before)  # nothing mutated
    assert out.shape == x.shape and out.dtype == x.dtype
    p = m.last_params
    assert targets.shape == (6, C)
    torch.testing.assert_close(targets.sum(1), torch.ones(6))
    torch.testing.assert_close(targets, mix_targets(y, p.lam, p.perm, num_classes=C))
    assert ((p.lam >= 0) & (p.lam <= 1)).all()
    assert ((targets > 0).sum(1) <= 2).all()


@pytest.mark.parametrize("name", NAMES)
def test_reproducible_from_generator_and_params_replay(name):
    factory, shape = METHODS[name]
    x, y, lengths = _batch(shape), _labels(6), _lengths(6, shape[-1])
    a, b = factory(generator=7), factory(generator=torch.Generator().manual_seed(7))
    for _ in range(2):
        out_a = a(x, y, lengths)
        out_b = b(x, y, lengths)
        for u, v in zip(out_a, out_b, strict=True):
            assert torch.equal(u, v)
    # Replaying the applied parameters gives the same batch.
    replay = factory(generator=99)(x, y, lengths, params=a.last_params)
    for u, v in zip(out_a, replay, strict=True):
        assert torch.equal(u, v)
    # The stream is in state_dict: a restored copy continues identically.
    c = factory(generator=123)
    c.load_state_dict(a.state_dict())
    for u, v in zip(a(x, y), c(x, y), strict=True):
        assert torch.equal(u, v)


@pytest.mark.parametrize("name", NAMES)
def test_unmixed_samples_are_exact(name):
    factory, shape = METHODS[name]
    x, y = _batch(shape), _labels(6)
    with pytest.warns(UserWarning, match="never mixes"):
        m = factory(p=0.0, generator=0)
    out, targets = m(x, y)
    assert out is x
    assert torch.equal(targets, prepare_targets(y, num_classes=C))
    m = factory(p=0.5, per_sample=True, generator=3)
    lengths = _lengths(6, shape[-1])
    xp = x.clone()
    pad = ~lengths_to_mask(lengths, shape[-1]).view(6, *[1] * (len(shape) - 1), shape[-1])
    xp = xp.masked_fill(pad, 7.0)  # padding holds garbage
    for _ in range(3):
        out, targets, _ = m(xp, y, lengths)
        p = m.last_params
        unmixed = ~p.applied | (p.perm == torch.arange(6))
        assert torch.equal(out[unmixed], xp[unmixed])
        assert torch.equal(targets[unmixed], prepare_targets(y, num_classes=C)[unmixed])
    # A batch of one has no partner: returned as it is.
    one = x[:1]
    out, targets = factory(generator=0)(one, y[:1])
    assert torch.equal(out, one)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_dtypes(name, dtype):
    factory, shape = METHODS[name]
    x = _batch(shape, dtype=dtype)
    out, targets = factory(generator=0)(x, _labels(6))
    assert out.dtype == dtype and torch.isfinite(out).all()
    assert targets.dtype == torch.float32


@pytest.mark.parametrize("name", ["spec-box", "snr", "bc"])  # wave-cut shares spec-time's code
def test_compile(name):
    # Host-side checks are graph breaks; what dynamo traces must give the eager result.
    factory, shape = METHODS[name]
    m = factory(generator=0)
    x, y = _batch(shape), _labels(6)
    params = m.sample_params(6)
    eager = m(x, y, params=params)
    torch._dynamo.reset()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            compiled = torch.compile(m, backend="eager")
            out = compiled(x, y, params=params)
        except Exception as err:  # pragma: no cover - depends on the torch build
            pytest.skip(f"torch.compile unsupported here: {type(err).__name__}: {err}")
    for u, v in zip(eager, out, strict=True):
        torch.testing.assert_close(u, v, atol=1e-6, rtol=1e-6)


@pytest.mark.slow
def test_compile_inductor_cutmix_kernel():
    from audiomix.functional import cutmix, sample_cutmix_params

    x = torch.randn(4, 16, 50, generator=_gen())
    p = sample_cutmix_params(4, alpha=1.0, generator=_gen(1))
    ref = cutmix(x, p.lam, p.perm, time_center=p.time_center, freq_center=p.freq_center, mode="box")
    torch._dynamo.reset()
    try:
        fn = torch.compile(cutmix, backend="inductor", dynamic=False)
        out = fn(
            x,
            p.lam,
            p.perm,
            time_center=p.time_center,
            freq_center=p.freq_center,
            mode="box",
            validate=False,
        )
    except Exception as err:  # pragma: no cover - needs a working C++ toolchain
        pytest.skip(f"inductor unavailable: {type(err).__name__}: {err}")
    assert torch.equal(out[0], ref[0]) and torch.equal(out[1], ref[1])


@given(
    lengths=st.lists(st.integers(3, 40), min_size=2, max_size=6),
    mode=st.sampled_from(["time", "freq", "box"]),
    seed=st.integers(0, 2**16),
)
def test_spectrogram_cutmix_weight_is_pasted_area(lengths, mode, seed):
    b, t = len(lengths), max(lengths)
    x = torch.arange(b * 8 * t, dtype=torch.float32).view(b, 8, t) + 1
    lengths_t = torch.tensor(lengths)
    m = SpectrogramCutMix(
        mode=mode, num_classes=C, per_sample=True, placement="random", generator=seed
    )
    out, targets, _ = m(x, _labels(b), lengths_t)
    p = m.last_params
    changed = (out != x).flatten(1).sum(1).double()
    frac = changed / (8 * lengths_t.double())
    torch.testing.assert_close(p.lam.double(), 1 - frac, atol=1e-6, rtol=0)
    if p.time_start is None:  # every sample drew itself: nothing pasted
        assert not changed.any()
        return
    if mode != "time":
        area = (p.time_end - p.time_start) * (p.freq_end - p.freq_start)
    else:
        area = (p.time_end - p.time_start) * 8
    self_pair = p.perm == torch.arange(b)
    assert torch.equal(torch.where(self_pair, 0, area), changed.long())


def test_cutmix_last_params_keep_the_draw():
    m = SpectrogramCutMix(mode="box", alpha=1.0, num_classes=C, generator=0)
    drawn = m.sample_params(6)
    m(_batch((12, 40)), _labels(6), params=drawn)
    assert torch.equal(m.last_params.lam_drawn, drawn.lam)
    assert m.last_params.time_start is not None and m.last_params.freq_end is not None


def test_waveform_cutmix_cuts_every_channel_alike():
    m = WaveformCutMix(num_classes=C, generator=0)
    x = _batch((3, 500))
    out, _ = m(x, _labels(6))
    changed = out != x
    assert torch.equal(changed[:, 0], changed[:, 1]) and torch.equal(changed[:, 1], changed[:, 2])


def test_snr_module_achieves_snr_and_union_targets():
    m = SNRMix(
        snr_db=(-10.0, 20.0),
        per_sample=True,
        num_classes=4,
        multilabel=True,
        union=True,
        generator=0,
    )
    x = _batch((800,), b=8)
    lengths = _lengths(8, 800)
    y = (torch.rand(8, 4, generator=_gen(5)) < 0.4).float()
    out, targets, _ = m(x, y, lengths)
    p = m.last_params
    assert torch.equal(targets, torch.maximum(y, y[p.perm]))
    mask = lengths_to_mask(lengths, 800)
    power = (x.double().square() * mask).sum(1) / lengths
    mixed = ~(p.perm == torch.arange(8))
    achieved = 10 * torch.log10(power / (p.gain.square() * power[p.perm]))
    assert (achieved[mixed] - p.snr_db[mixed]).abs().max() < 0.1
    torch.testing.assert_close(
        p.lam[mixed].double(), 1 / (1 + 10 ** (-p.snr_db[mixed] / 10)), atol=1e-6, rtol=0
    )


def test_snr_module_per_batch_snr_is_shared():
    m = SNRMix(snr_db=(0.0, 30.0), num_classes=C, generator=2)
    m(_batch((300,)), _labels(6))
    assert m.last_params.snr_db.unique().numel() == 1


def test_bc_module_gain_ratio_and_rejection():
    m = BCMix(sample_rate=8000, num_classes=C, partner="other_class", generator=0)
    x = _batch((1200,), b=8)
    y = torch.tensor([0, 0, 1, 1, 2, 2, 3, 4])
    out, targets = m(x, y)
    p = m.last_params
    assert (y[p.perm] != y).all()
    gains = a_weighted_gain(x, sample_rate=8000)
    torch.testing.assert_close(p.gain_db, gains)
    w = p.mix_weight
    # Perceived ratio: the weighted gains differ by 20·log10(r / (1 - r)).
    lhs = (
        p.gain_db.double()
        + 20 * torch.log10(w)
        - (p.gain_db[p.perm].double() + 20 * torch.log10(1 - w))
    )
    rhs = 20 * torch.log10(p.lam.double() / (1 - p.lam.double()))
    torch.testing.assert_close(lhs, rhs, atol=1e-4, rtol=0)
    norm = torch.sqrt(w.square() + (1 - w).square()).float().unsqueeze(1)
    expected = (w.float().unsqueeze(1) * x + (1 - w.float().unsqueeze(1)) * x[p.perm]) / norm
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=1e-5)


def test_bc_module_to_moves_buffers_and_one_r_per_sample():
    m = BCMix(sample_rate=16000, generator=0)
    assert m.n_fft == 2048 and m.window.shape == (2048,)
    assert "window" not in m.state_dict()
    assert m.sample_params(6).lam.unique().numel() == 6
    m64 = copy.deepcopy(m).double()
    assert m64.a_weights.dtype == torch.float64


@pytest.mark.parametrize("name", NAMES)
def test_call_errors(name):
    factory, shape = METHODS[name]
    m = factory(generator=0)
    x = _batch(shape)
    with pytest.raises(ValueError, match="and labels have different batch sizes: 6 != 5"):
        m(x, _labels(5))
    with pytest.raises(ValueError, match=r"must have shape"):
        m(x.flatten()[:50], _labels(50))
    with pytest.raises(TypeError, match="must have a floating dtype"):
        m(x.long(), _labels(6))
    with pytest.raises(ValueError, match=r"`lengths` must be in \[1, "):
        m(x, _labels(6), torch.full((6,), shape[-1] + 1))
    with pytest.raises(TypeError, match="`params` must be "):
        m(x, _labels(6), params=WaveformMixup(generator=0).sample_params(6))
    with pytest.raises(ValueError, match="`params` were drawn for a batch of"):
        m(x, _labels(6), params=m.sample_params(4))
    with pytest.raises(ValueError, match="contains NaN or Inf"):
        m(x.clone().fill_(float("nan")), _labels(6))
    bare = type(m)(sample_rate=8000, generator=0) if name == "bc" else type(m)(generator=0)
    with pytest.raises(ValueError, match="labels are class indices, so `num_classes`"):
        bare(x, _labels(6))


def test_constructor_errors():
    with pytest.raises(ValueError, match="`mode` must be one of 'time', 'freq', 'box'"):
        SpectrogramCutMix(mode="patch")
    with pytest.raises(ValueError, match="`alpha` must be a finite number > 0"):
        WaveformCutMix(alpha=0.0)
    with pytest.raises(ValueError, match="`fade` must be an integer number of samples >= 0"):
        WaveformCutMix(fade=-80)
    with pytest.raises(ValueError, match="low <= high"):
        SNRMix(snr_db=(10.0, 0.0))
    with pytest.raises(TypeError, match=r"SNRMix draws SNRs, not λ: it takes no `alpha`"):
        SNRMix(alpha=0.4)
    with pytest.raises(TypeError, match=r"got an unexpected keyword argument 'snr'"):
        SNRMix(snr=3.0)
    with pytest.raises(AttributeError, match="SNRMix draws no λ ~ Beta"):
        SNRMix().alpha = 0.4
    assert SNRMix().alpha is None
    with pytest.raises(
        TypeError, match=r"BCMix.__init__\(\) missing 1 required positional argument: 'sample_rate'"
    ):
        BCMix()
    with pytest.raises(ValueError, match="`sample_rate` must be > 0, but got -1"):
        BCMix(sample_rate=-1)
    with pytest.raises(ValueError, match="`n_fft` must be an int >= 2"):
        BCMix(sample_rate=16000, n_fft=1)
    with pytest.raises(ValueError, match="`partner`='other_class' needs `labels`"):
        BCMix(sample_rate=8000, partner="other_class", generator=0)(_batch((600,)))
    with pytest.raises(ValueError, match="`union=True` is for multi-label targets"):
        SNRMix(union=True)


def test_public_names():
    for name in [
        "SpectrogramCutMix",
        "WaveformCutMix",
        "SNRMix",
        "BCMix",
        "RandomChoiceMix",
        "ManifoldMixup",
        "Chain",
        "WithLengths",
    ]:
        assert name in audiomix.__all__ and hasattr(audiomix, name)
    for name in [
        "cutmix",
        "snr_mix",
        "bc_mix",
        "bc_weight",
        "a_weighting",
        "a_weighted_gain",
        "sample_cutmix_params",
        "sample_snr_params",
        "sample_bc_params",
    ]:
        assert name in audiomix.functional.__all__
    assert math.isclose(
        audiomix.functional.a_weighting(torch.tensor(1000.0)).item(), 0.0, abs_tol=0.01
    )


def test_bc_constructor_type_errors_and_snr_batch_consistency():
    with pytest.raises(TypeError, match="`sample_rate` must be a number, but got str"):
        BCMix(sample_rate="16k")
    with pytest.raises(TypeError, match="`sample_rate` must be a number, but got bool"):
        BCMix(sample_rate=True)
    with pytest.raises(ValueError, match="`min_db` must be finite"):
        BCMix(sample_rate=8000, min_db=float("-inf"))
    # SNR mixing, batched vs per pair, with lengths and random placement.
    from audiomix.functional import sample_snr_params, snr_mix

    x, lengths = _batch((700,)), _lengths(6, 700)
    p = sample_snr_params(
        6,
        snr_db=(-5.0, 15.0),
        per_sample=True,
        lengths=lengths,
        placement="random",
        generator=_gen(8),
    )
    out, lam = snr_mix(x, p.snr_db, p.perm, lengths=lengths, offsets=p.offsets)
    for i in range(6):
        j = int(p.perm[i])
        if j == i:
            continue
        o, k = snr_mix(
            x[[i, j]],
            p.snr_db[[i, j]],
            torch.tensor([1, 0]),
            lengths=lengths[[i, j]],
            offsets=p.offsets[[i, j]],
        )
        torch.testing.assert_close(o[0], out[i], atol=1e-6, rtol=1e-5)
        assert float(k[0]) == float(lam[i])


@pytest.mark.parametrize("name", NAMES)
def test_nan_padding_is_never_read_and_replayed_params_are_checked(name):
    factory, shape = METHODS[name]
    m = factory(generator=4, per_sample=True)
    x, y, lengths = _batch(shape), _labels(6), _lengths(6, shape[-1])
    valid = lengths_to_mask(lengths, shape[-1]).view(6, *[1] * (len(shape) - 1), shape[-1])
    x = x.masked_fill(~valid, float("nan"))
    out, targets, out_lengths = m(x, y, lengths)
    now_valid = lengths_to_mask(out_lengths, shape[-1]).view_as(valid).expand_as(out)
    assert torch.isfinite(out[now_valid]).all() and torch.isfinite(targets).all()
    p = m.last_params
    clean = x.nan_to_num(0.0)
    far = type(p)(**{**p.__dict__, "offsets": p.offsets + shape[-1]})
    with pytest.raises(ValueError, match="`params.offsets` must have shape"):
        m(clean, y, lengths, params=far)
    bad = type(p)(**{**p.__dict__, "perm": p.perm + 10})
    with pytest.raises(ValueError, match="`perm` holds partner indices"):
        m(clean, y, lengths, params=bad)


def test_snrmix_module_caps_the_gain_of_a_near_silent_partner_in_half():
    x = torch.randn(2, 4000, dtype=torch.float16)
    x[1] *= 1e-5  # about -100 dB
    labels = torch.tensor([0, 1])
    capped = SNRMix(snr_db=0.0, num_classes=2, max_gain_db=20.0, generator=0)
    params = dataclasses.replace(capped.sample_params(2), perm=torch.tensor([1, 0]))
    out, targets = capped(x, labels, params=params)
    assert bool(torch.isfinite(out).all())
    # Row 0's partner is the quiet clip: capped at +20 dB it stays far below 0 dB SNR, so row 0
    # keeps nearly all of its own weight.
    assert float(targets[0, 0]) > 0.99
    with pytest.raises(ValueError, match="max_gain_db"):
        SNRMix(num_classes=2, max_gain_db=float("nan"))


def test_module_apply_still_initialises_models_that_hold_a_mixer():
    # The pure step is Mixer.mix: nn.Module.apply(fn), which Hugging Face's post_init and most
    # weight initialisers call on every submodule, must reach a mixer as on any module.
    seen = []
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), WaveformMixup(num_classes=C), _switch_like())
    model.apply(lambda m: seen.append(type(m).__name__))
    assert {"Linear", "WaveformMixup", "RandomChoiceMix", "SNRMix"} <= set(seen)


def _switch_like():
    return RandomChoiceMix([SNRMix(num_classes=C, generator=0)], generator=0)
