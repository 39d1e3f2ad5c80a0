"""WaveformMixup and SpectrogramMixup: shapes, dtypes, targets, p, lengths, scales."""

import warnings

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from audiomix import LogMelSpectrogram, MixParams, SpectrogramMixup, WaveformMixup
from audiomix.functional import mix, mix_lengths, mix_targets, prepare_targets
from tests._helpers import generator as _gen

WAVE_SHAPES = [(4, 800), (5, 2, 300), (3, 1000), (7, 3, 64)]
SPEC_SHAPES = [(4, 40, 101), (5, 2, 16, 33), (3, 8, 9), (7, 1, 4, 5)]


def _db(*shape, seed=0, dtype=torch.float32):
    """Log-mel-like dB values in [-100, 0]."""
    return (torch.rand(*shape, generator=_gen(seed), dtype=torch.float64) * -100).to(dtype)


def _params(lam, perm, offsets=None):
    lam = torch.as_tensor(lam, dtype=torch.float32)
    return MixParams(
        lam=lam,
        perm=torch.as_tensor(perm),
        applied=torch.ones(len(lam), dtype=bool),
        offsets=offsets,
    )


# --- WaveformMixup -----------------------------------------------------------------------------


@pytest.mark.parametrize("shape", WAVE_SHAPES, ids=str)
def test_waveform_shapes_dtypes_devices(shape, float_dtype, device, signals):
    b = shape[0]
    x = signals.waveform_batch(
        b, shape[-1], channels=shape[1] if len(shape) == 3 else None, dtype=float_dtype
    ).to(device)
    labels = signals.labels(b, 10).to(device)
    before = x.clone(), labels.clone()
    mixup = WaveformMixup(alpha=1.0, num_classes=10, per_sample=True, generator=0)
    out, targets = mixup(x, labels)
    assert torch.equal(x, before[0]) and torch.equal(labels, before[1])  # never mutated
    assert out.shape == x.shape and out.dtype == float_dtype and out.device == x.device
    assert targets.shape == (b, 10) and targets.dtype == torch.float32
    assert targets.device == x.device
    p = mixup.last_params
    assert p.lam.shape == (b,) and p.lam.device.type == "cpu"
    # The module is the functional mix with its drawn parameters, nothing else.
    expected = mix(x, p.lam.to(device), p.perm.to(device))
    unmixed = (p.perm == torch.arange(b)).to(device)
    expected[unmixed] = x[unmixed]
    assert torch.equal(out, expected)
    assert torch.equal(
        targets, mix_targets(labels, p.lam.to(device), p.perm.to(device), num_classes=10)
    )


@pytest.mark.parametrize("shape", WAVE_SHAPES[:2], ids=str)
def test_waveform_batch_of_one_is_a_noop(shape, float_dtype):
    x = torch.randn(1, *shape[1:], generator=_gen()).to(float_dtype)
    mixup = WaveformMixup(alpha=0.4, num_classes=3, generator=0)
    out, targets = mixup(x, torch.tensor([2]))
    assert torch.equal(out, x)
    assert torch.equal(targets, torch.tensor([[0.0, 0.0, 1.0]]))
    # With lengths too, padding included.
    out, targets, lengths = mixup(x, torch.tensor([2]), torch.tensor([shape[-1] // 2]))
    assert torch.equal(out, x) and lengths.tolist() == [shape[-1] // 2]


@pytest.mark.parametrize("b", [2, 3, 5, 9])
def test_waveform_odd_batch_sizes(b, signals):
    x = signals.waveform_batch(b, 100)
    out, targets = WaveformMixup(alpha=1.0, num_classes=4, generator=1)(x, signals.labels(b, 4))
    assert out.shape == x.shape
    torch.testing.assert_close(targets.sum(1), torch.ones(b))


def test_waveform_lam_one_and_zero_via_params(signals):
    x = signals.waveform_batch(5, 100, channels=2)
    labels = signals.labels(5, 4)
    mixup = WaveformMixup(num_classes=4, generator=0)
    perm = torch.tensor([3, 0, 4, 1, 2])
    out, targets = mixup(x, labels, params=_params(torch.ones(5), perm))
    assert torch.equal(out, x) and torch.equal(targets, F.one_hot(labels, 4).float())
    out, targets = mixup(x, labels, params=_params(torch.zeros(5), perm))
    assert torch.equal(out, x[perm]) and torch.equal(targets, F.one_hot(labels[perm], 4).float())
    assert mixup.last_params.perm is perm


@pytest.mark.parametrize("per_sample", [False, True])
def test_unmixed_samples_keep_input_and_target_exactly(per_sample, signals):
    x, lengths = signals.padded_batch([300, 120, 300, 77, 250, 300, 10, 199], garbage=1e3)
    labels = signals.labels(8, 5)
    mixup = WaveformMixup(
        alpha=1.0, num_classes=5, p=0.5, per_sample=per_sample, label_smoothing=0.1, generator=3
    )
    seen = set()
    for _ in range(12):
        for with_lengths in (False, True):
            res = mixup(x, labels, lengths) if with_lengths else mixup(x, labels)
            out, targets = res[0], res[1]
            p = mixup.last_params
            smooth = prepare_targets(labels, num_classes=5, label_smoothing=0.1)
            for i in range(8):
                if not p.applied[i]:
                    assert torch.equal(out[i], x[i]) and torch.equal(targets[i], smooth[i])
                    if with_lengths:
                        assert res[2][i] == lengths[i]
            seen.add((int(p.applied.sum()), with_lengths))
    counts = {n for n, _ in seen}
    if per_sample:
        assert counts - {0, 8}  # partial batches
    else:
        assert counts == {0, 8}  # all or nothing, both seen


def test_p_zero_returns_input_itself_and_warns(signals):
    with pytest.warns(UserWarning, match="p=0 never mixes"):
        mixup = WaveformMixup(p=0.0, num_classes=3, generator=0)
    x = signals.waveform_batch(4, 50)
    out, targets = mixup(x, signals.labels(4, 3))
    assert out is x
    assert torch.equal(targets, F.one_hot(signals.labels(4, 3), 3).float())


def test_huge_alpha_warns():
    with pytest.warns(UserWarning, match="puts every weight at about 0.5"):
        WaveformMixup(alpha=1e4)


def test_targets_forms(signals):
    x = signals.waveform_batch(6, 64)
    idx = signals.labels(6, 4)
    mixup = WaveformMixup(alpha=1.0, num_classes=4, generator=0)
    _, from_idx = mixup(x, idx)
    params = mixup.last_params
    _, from_one_hot = mixup(x, F.one_hot(idx, 4).float(), params=params)
    assert torch.equal(from_idx, from_one_hot)
    soft = torch.softmax(torch.randn(6, 4, generator=_gen()), 1)
    _, from_soft = mixup(x, soft, params=params)
    torch.testing.assert_close(from_soft, mix_targets(soft, params.lam, params.perm))
    # No labels: audio only.
    out, none = mixup(x)
    assert none is None and out.shape == x.shape


def test_multilabel_mix_and_union(signals):
    x = signals.waveform_batch(4, 64)
    multi_hot = torch.tensor([[1.0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1], [1, 1, 0, 0]])
    mean = WaveformMixup(alpha=1.0, multilabel=True, generator=0)
    _, targets = mean(x, multi_hot)
    p = mean.last_params
    torch.testing.assert_close(
        targets, p.lam[:, None] * multi_hot + (1 - p.lam[:, None]) * multi_hot[p.perm]
    )
    union = WaveformMixup(alpha=1.0, multilabel=True, union=True, generator=0)
    _, targets = union(x, multi_hot)
    assert torch.equal(targets, torch.maximum(multi_hot, multi_hot[union.last_params.perm]))


def test_label_smoothing_before_mixing(signals):
    x = signals.waveform_batch(4, 64)
    labels = torch.tensor([0, 1, 2, 3])
    mixup = WaveformMixup(alpha=1.0, num_classes=4, label_smoothing=0.2, generator=0)
    _, targets = mixup(x, labels, params=_params([0.7, 0.7, 0.7, 0.7], [1, 0, 3, 2]))
    hi, lo = 0.8 + 0.05, 0.05
    expected = torch.tensor([[0.7 * hi + 0.3 * lo, 0.7 * lo + 0.3 * hi, lo, lo]])
    torch.testing.assert_close(targets[:1], expected)
    torch.testing.assert_close(targets.sum(1), torch.ones(4))


@given(
    lengths=st.lists(st.integers(1, 60), min_size=2, max_size=6),
    placement=st.sampled_from(["start", "center", "random"]),
    channels=st.sampled_from([None, 2]),
    seed=st.integers(0, 1000),
)
def test_waveform_variable_lengths(lengths, placement, channels, seed, signals):
    x, lengths_t = signals.padded_batch(lengths, channels=channels, garbage=1e6, seed=seed)
    mixup = WaveformMixup(
        alpha=1.0, num_classes=3, placement=placement, per_sample=True, generator=seed
    )
    labels = signals.labels(len(lengths), 3, seed=seed)
    out, targets, new_lengths = mixup(x, labels, lengths_t)
    p = mixup.last_params
    assert torch.equal(new_lengths, mix_lengths(lengths_t, p.perm))
    assert torch.equal(new_lengths, torch.maximum(lengths_t, lengths_t[p.perm]))
    unmixed = p.perm == torch.arange(len(lengths))
    # Garbage in the padding never reaches a mixed sample; its padding is silence.
    assert (out[~unmixed].abs() < 1e3).all()
    ref = mix(x, p.lam, p.perm, lengths=lengths_t, offsets=p.offsets)
    assert torch.equal(out[~unmixed], ref[~unmixed])
    assert torch.equal(out[unmixed], x[unmixed])


def test_nan_padding_is_accepted_and_never_read(signals):
    # With lengths, only the valid region has to be finite: padding is replaced by silence.
    x, lengths = signals.padded_batch([50, 20, 35, 50], garbage=float("nan"))
    for check_finite in (True, False):
        mixup = WaveformMixup(generator=0, check_finite=check_finite)
        params = _params([0.3, 0.5, 0.6, 0.9], [1, 2, 3, 0])
        out, _, _ = mixup(x, None, lengths, params=params)
        assert torch.isfinite(out).all()


def test_nan_in_valid_region_is_rejected_with_lengths(signals):
    x, lengths = signals.padded_batch([50, 20, 35, 50], garbage=0.0)
    x[1, 5] = float("nan")
    with pytest.raises(ValueError, match="NaN or Inf values in its valid region"):
        WaveformMixup(generator=0)(x, None, lengths)


# --- SpectrogramMixup --------------------------------------------------------------------------


def _power_mix_reference(x, lam, perm, amin=1e-10):
    x64 = x.double()
    w = lam.double().view(-1, *[1] * (x.ndim - 1))
    power = w * 10 ** (x64 / 10) + (1 - w) * 10 ** (x64[perm] / 10)
    return 10 * torch.log10(power.clamp_min(amin))


@pytest.mark.parametrize("shape", SPEC_SHAPES, ids=str)
def test_db_mixed_in_power_domain(shape, float_dtype, device):
    x = _db(*shape, dtype=float_dtype).to(device)
    before = x.clone()
    mixup = SpectrogramMixup(alpha=1.0, per_sample=True, generator=0)
    out, _ = mixup(x)
    assert torch.equal(x, before)
    assert out.shape == x.shape and out.dtype == float_dtype and out.device == x.device
    p = mixup.last_params
    # Half precision is mixed in float32, then rounded: half an ulp at 64-128 dB is 0.03 dB in
    # float16 and 0.25 dB in bfloat16.
    lam = p.lam.to(torch.float64 if float_dtype == torch.float64 else torch.float32)
    ref = _power_mix_reference(x.cpu(), lam, p.perm)
    unmixed = p.perm == torch.arange(shape[0])
    ref[unmixed] = x.cpu()[unmixed].double()
    tol = {torch.float16: 0.04, torch.bfloat16: 0.26, torch.float32: 1e-4, torch.float64: 1e-10}
    torch.testing.assert_close(out.cpu().double(), ref, atol=tol[float_dtype], rtol=0)


@given(lam=st.floats(0.0, 1.0), a=st.floats(-120.0, 40.0), b=st.floats(-120.0, 40.0))
def test_db_power_mix_hand_computation(lam, a, b):
    x = torch.tensor([[[a, b]], [[b, a]]], dtype=torch.float64)
    mixup = SpectrogramMixup(generator=0)
    out, _ = mixup(x, params=_params([lam, lam], [1, 0]))
    lam = float(torch.tensor(lam, dtype=torch.float32))  # MixParams holds float32 weights
    expected = 10 * torch.log10(
        torch.tensor(
            max(lam * 10 ** (a / 10) + (1 - lam) * 10 ** (b / 10), 1e-10), dtype=torch.float64
        )
    )
    assert float(out[0, 0, 0]) == pytest.approx(float(expected), abs=1e-9)
    # Mixing in dB would give the arithmetic mean instead: different unless a == b.
    if abs(a - b) > 1 and 0.1 < lam < 0.9:
        assert abs(float(out[0, 0, 0]) - (lam * a + (1 - lam) * b)) > 1e-3


def test_db_power_mix_equal_weights_of_equal_levels():
    # Two clips at -20 dB mixed at 0.5 give -20 dB in the power domain (not 3 dB more or less).
    x = torch.full((2, 3, 4), -20.0, dtype=torch.float64)
    out, _ = SpectrogramMixup(generator=0)(x, params=_params([0.5, 0.5], [1, 0]))
    torch.testing.assert_close(out, x)


def test_amplitude_and_power_scales():
    g = _gen()
    amp = torch.rand(4, 8, 5, generator=g, dtype=torch.float64)
    lam, perm = torch.tensor([0.2, 0.5, 0.7, 0.9]), torch.tensor([1, 2, 3, 0])
    out, _ = SpectrogramMixup(scale="amplitude", generator=0)(amp, params=_params(lam, perm))
    w = lam.double().view(-1, 1, 1)
    torch.testing.assert_close(out, torch.sqrt(w * amp**2 + (1 - w) * amp[perm] ** 2))
    power = amp**2
    out, _ = SpectrogramMixup(scale="power", generator=0)(power, params=_params(lam, perm))
    assert torch.equal(out, mix(power, lam, perm))


@pytest.mark.parametrize("scale", ["db", "power", "amplitude"])
def test_domain_input_mixes_linearly(scale):
    x = _db(4, 8, 5) if scale == "db" else -_db(4, 8, 5)
    lam, perm = torch.tensor([0.2, 0.5, 0.7, 0.9]), torch.tensor([1, 2, 3, 0])
    out, _ = SpectrogramMixup(scale=scale, domain="input", generator=0)(
        x, params=_params(lam, perm)
    )
    assert torch.equal(out, mix(x, lam, perm))


def _db_lengths_reference(x, lam, perm, lengths, offsets, amin=1e-10):
    """Power-domain mix of dB clips with silence (zero power) outside each clip."""
    b = x.shape[0]
    x64 = x.double()
    out = torch.empty_like(x64)
    for i in range(b):
        j = int(perm[i])
        a, c, off = int(lengths[i]), int(lengths[j]), int(offsets[i])
        s_own, s_par = (off, 0) if a < c else (0, off)
        own = torch.zeros_like(x64[i])
        own[..., s_own : s_own + a] = 10 ** (x64[i, ..., :a] / 10)
        par = torch.zeros_like(x64[j])
        par[..., s_par : s_par + c] = 10 ** (x64[j, ..., :c] / 10)
        db = 10 * torch.log10((float(lam[i]) * own + (1 - float(lam[i])) * par).clamp_min(amin))
        n = max(a, c)
        db[..., n:] = db[..., :n].min()  # padded frames: the mix's own floor
        out[i] = db
    return out


@given(
    lengths=st.lists(st.integers(1, 12), min_size=2, max_size=5),
    placement=st.sampled_from(["start", "center", "random"]),
    channels=st.booleans(),
    seed=st.integers(0, 1000),
)
def test_db_variable_lengths(lengths, placement, channels, seed):
    b, t = len(lengths), max(lengths) + 2
    shape = (b, 2, 3, t) if channels else (b, 3, t)
    x = _db(*shape, seed=seed, dtype=torch.float64)
    lengths_t = torch.tensor(lengths)
    pad = (torch.arange(t) >= lengths_t[:, None]).view(b, *[1] * (x.ndim - 2), t).expand_as(x)
    x = x.masked_fill(pad, 1e6)  # garbage: 10 ** 1e5 overflows to inf in the power domain
    mixup = SpectrogramMixup(alpha=1.0, per_sample=True, placement=placement, generator=seed)
    out, _, new_lengths = mixup(x, None, lengths_t)
    p = mixup.last_params
    assert torch.equal(new_lengths, torch.maximum(lengths_t, lengths_t[p.perm]))
    ref = _db_lengths_reference(x, p.lam, p.perm, lengths_t, p.offsets)
    unmixed = p.perm == torch.arange(b)
    ref[unmixed] = x[unmixed]
    torch.testing.assert_close(out, ref, atol=1e-9, rtol=1e-9)
    assert (out[~unmixed] <= 0.0).all()  # no garbage


def test_db_variable_lengths_domain_input_fills_with_clip_floor():
    x = torch.tensor([[[-10.0, -30.0, 99.0, 99.0]], [[-20.0, -40.0, -50.0, -60.0]]])
    lengths = torch.tensor([2, 4])
    mixup = SpectrogramMixup(domain="input", generator=0)
    out, _, new_lengths = mixup(x, None, lengths, params=_params([0.5, 0.5], [1, 0]))
    # Clip 0 is silent beyond frame 2: it contributes its own floor, -30 dB.
    expected = torch.tensor([[[-15.0, -35.0, -40.0, -45.0]], [[-15.0, -35.0, -40.0, -45.0]]])
    torch.testing.assert_close(out, expected)
    assert new_lengths.tolist() == [4, 4]


@pytest.mark.parametrize(
    "scale, domain", [("db", "power"), ("db", "input"), ("power", "power"), ("amplitude", "power")]
)
def test_spectrogram_unmixed_keep_input_exactly(scale, domain):
    x = _db(8, 2, 6, 20, dtype=torch.float32)
    if scale != "db":
        x = 10 ** (x / 20)
    lengths = torch.tensor([20, 5, 13, 20, 1, 9, 20, 17])
    mixup = SpectrogramMixup(
        scale=scale, domain=domain, alpha=1.0, p=0.5, per_sample=True, num_classes=3, generator=2
    )
    labels = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    for _ in range(3):
        out, targets, new_lengths = mixup(x, labels, lengths)
        p = mixup.last_params
        keep = ~p.applied
        assert keep.any() and (~keep).any()
        assert torch.equal(out[keep], x[keep])
        assert torch.equal(targets[keep], F.one_hot(labels[keep], 3).float())
        assert torch.equal(new_lengths[keep], lengths[keep])


def test_spectrogram_batch_of_one_is_a_noop(float_dtype):
    x = _db(1, 2, 8, 10, dtype=float_dtype)
    for scale, domain in [("db", "power"), ("db", "input"), ("amplitude", "power")]:
        mixup = SpectrogramMixup(scale=scale, domain=domain, num_classes=2, generator=0)
        out, targets = mixup(x, torch.tensor([1]))
        assert torch.equal(out, x) and torch.equal(targets, torch.tensor([[0.0, 1.0]]))
        out, _, lengths = mixup(x, torch.tensor([1]), torch.tensor([6]))
        assert torch.equal(out, x) and lengths.tolist() == [6]


def test_logmel_then_mixup_end_to_end(signals):
    logmel = LogMelSpectrogram(sample_rate=16000, n_fft=480, hop_length=160, n_mels=40)
    waves, lengths = signals.padded_batch([16000, 8000, 4000, 12000], garbage=0.0)
    specgram = logmel(waves)
    frames = logmel.frame_lengths(lengths)
    mixup = SpectrogramMixup(alpha=0.4, num_classes=12, generator=0)
    out, targets, new_frames = mixup(specgram, torch.tensor([0, 3, 5, 11]), frames)
    assert out.shape == specgram.shape == (4, 40, 101)
    assert torch.isfinite(out).all() and targets.shape == (4, 12)
    assert torch.equal(new_frames, mix_lengths(frames, mixup.last_params.perm))


def test_extra_repr_mentions_config():
    r = repr(SpectrogramMixup(alpha=0.3, num_classes=5, scale="amplitude", generator=0))
    assert "alpha=0.3" in r and "num_classes=5" in r and "scale='amplitude'" in r
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        WaveformMixup(alpha=0.2)  # the defaults do not warn


def test_db_variable_lengths_dtypes(float_dtype, device):
    x = _db(5, 2, 6, 12, seed=1, dtype=torch.float64)
    lengths = torch.tensor([12, 4, 9, 12, 1])
    mixup = SpectrogramMixup(alpha=1.0, per_sample=True, placement="random", generator=0)
    out, _, _ = mixup(x.to(float_dtype).to(device), None, lengths.to(device))
    assert out.dtype == float_dtype and out.device.type == device
    p = mixup.last_params
    ref = _db_lengths_reference(x.to(float_dtype).double(), p.lam, p.perm, lengths, p.offsets)
    unmixed = p.perm == torch.arange(5)
    ref[unmixed] = x.to(float_dtype).double()[unmixed]
    tol = {torch.float16: 0.04, torch.bfloat16: 0.26, torch.float32: 1e-4, torch.float64: 1e-9}
    torch.testing.assert_close(out.cpu().double(), ref, atol=tol[float_dtype], rtol=0)


@pytest.mark.parametrize(
    "cls, shape, kw",
    [
        (WaveformMixup, (4, 50), {}),
        (SpectrogramMixup, (4, 8, 10), {}),
        (SpectrogramMixup, (4, 8, 10), dict(scale="amplitude")),
    ],
)
def test_modules_pass_gradients(cls, shape, kw):
    # Mixing inside a model (features that require grad) must not break autograd.
    x = torch.rand(shape, generator=_gen(), dtype=torch.float64) * (-50 if not kw else 1)
    x.requires_grad_()
    mixup = cls(alpha=1.0, generator=0, **kw)
    for lengths in (None, torch.tensor([shape[-1], 3, 7, 5])):
        out = mixup(x)[0] if lengths is None else mixup(x, None, lengths)[0]
        out.sum().backward()
        assert torch.isfinite(x.grad).all()
        x.grad = None
