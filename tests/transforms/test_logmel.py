"""LogMelSpectrogram: librosa golden values, batch consistency, shapes, dtypes, frame lengths."""

import contextlib

import librosa
import numpy as np
import pytest
import torch
import torchaudio

from audiomix import LogMelSpectrogram

# Configurations: (sample_rate, n_fft, win_length, hop_length, n_mels, f_min, f_max).
CONFIGS = {
    "kws16k": (16000, 480, None, 160, 40, 0.0, None),  # the keyword-spotting front end
    "librosa22k": (22050, 2048, None, 512, 128, 0.0, None),  # librosa's defaults
    "win400": (16000, 512, 400, 160, 64, 20.0, 7600.0),  # win_length < n_fft, band-limited
}
# Our (mel_scale, norm) and librosa's (htk, norm) for the same filterbank.
SCALES = {"htk": (("htk", None), (True, None)), "slaney": (("slaney", "slaney"), (False, "slaney"))}
SIGNALS = ["chirp", "noise", "harmonics", "gapped"]


def _signal(name, sr, signals):
    n = sr  # one second
    if name == "chirp":
        return signals.chirp(n, sr, f0=50.0)
    if name == "noise":
        return signals.noise(n, seed=3, scale=0.1, dtype=torch.float64)
    if name == "harmonics":
        return signals.harmonics(n, sr, f0=196.0, seed=4)
    # A harmonic tone over quiet noise, with a digital-silence gap: exercises amin (-100 dB)
    # and the top_db floor, which clips the gap to max - 80 dB.
    y = signals.harmonics(n, sr, f0=330.0, seed=5) + signals.noise(
        n, seed=6, scale=1e-3, dtype=torch.float64
    )
    y[n // 3 : n // 2] = 0.0
    return y


@contextlib.contextmanager
def _default_dtype(dtype):
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(old)


def _modules(config, scale):
    sr, n_fft, win, hop, n_mels, fmin, fmax = CONFIGS[config]
    (mel_scale, norm), (htk, lnorm) = SCALES[scale]
    kwargs = dict(
        sample_rate=sr,
        n_fft=n_fft,
        win_length=win,
        hop_length=hop,
        n_mels=n_mels,
        f_min=fmin,
        f_max=fmax,
        mel_scale=mel_scale,
        norm=norm,
        top_db=80.0,
        amin=1e-10,
        ref=1.0,
    )
    librosa_kwargs = dict(
        sr=sr,
        n_fft=n_fft,
        hop_length=hop,
        win_length=win,
        window="hann",
        center=True,
        pad_mode="reflect",
        power=2.0,
        n_mels=n_mels,
        fmin=fmin,
        fmax=fmax,
        htk=htk,
        norm=lnorm,
    )
    return kwargs, librosa_kwargs


def _librosa_db(y, librosa_kwargs):
    power = librosa.feature.melspectrogram(y=y.numpy(), **librosa_kwargs)
    return power, librosa.power_to_db(power, ref=1.0, amin=1e-10, top_db=80.0)


@pytest.mark.parametrize("signal", SIGNALS)
@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("config", CONFIGS)
def test_matches_librosa_float64(config, scale, signal, signals):
    """float64 throughout, window and filterbank built in float64.

    Mel power at torchaudio's own librosa tolerance (atol=5e-4, rtol=1e-5). dB at atol=1e-5 dB:
    librosa builds its mel filterbank in float32 (``librosa.filters.mel(dtype=np.float32)``), a
    relative error of ~1e-7 per weight, i.e. 10·log10(1 + 1e-7) ≈ 4e-7 dB; 1e-5 dB leaves a
    20x margin. The top_db floor agrees exactly in kind: librosa takes max - 80 over the whole
    (n_mels, frames) array of one clip, ours over each example.
    """
    kwargs, librosa_kwargs = _modules(config, scale)
    with _default_dtype(torch.float64):  # torchaudio builds the buffers in the default dtype
        logmel = LogMelSpectrogram(**kwargs)
    assert logmel.mel.mel_scale.fb.dtype == torch.float64
    y = _signal(signal, kwargs["sample_rate"], signals)
    power, db = _librosa_db(y, librosa_kwargs)
    ours_db = logmel(y)
    assert ours_db.dtype == torch.float64 and ours_db.shape == db.shape
    np.testing.assert_allclose(logmel.mel(y).numpy(), power, atol=5e-4, rtol=1e-5)
    np.testing.assert_allclose(ours_db.numpy(), db, atol=1e-5, rtol=0)


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("config", CONFIGS)
def test_matches_librosa_module_cast_to_double(config, scale, signals):
    """The module as users build it (float32 buffers), then ``.double()``.

    torchaudio builds the mel filterbank in float32. Its triangle weights are ratios of
    differences of nearly equal frequencies, so float32 rounding (~1e-7 × f / bandwidth)
    reaches ~1e-4 relative in the narrow low bands: 10·log10(1 + 1e-4) ≈ 4e-4 dB. Measured on
    these signals and configurations: at most 8e-4 dB. The test allows 2e-3 dB.
    """
    kwargs, librosa_kwargs = _modules(config, scale)
    logmel = LogMelSpectrogram(**kwargs).double()
    for signal in SIGNALS:
        y = _signal(signal, kwargs["sample_rate"], signals)
        _, db = _librosa_db(y, librosa_kwargs)
        np.testing.assert_allclose(logmel(y).numpy(), db, atol=2e-3, rtol=0, err_msg=signal)


@pytest.mark.parametrize("config", ["kws16k", "librosa22k"])
def test_matches_librosa_float32(config, signals):
    """float32 module and input against the float64 golden value.

    The float32 filterbank error above dominates; the float32 STFT adds rounding of ~1e-7 of
    each frame's energy, which within the 80 dB kept by top_db stays below the filterbank
    error. Measured: at most 1.1e-3 dB over all bins. The test allows 3e-3 dB.
    """
    kwargs, librosa_kwargs = _modules(config, "slaney")
    logmel = LogMelSpectrogram(**kwargs)
    for signal in SIGNALS:
        y = _signal(signal, kwargs["sample_rate"], signals)
        _, db = _librosa_db(y, librosa_kwargs)
        ours = logmel(y.float()).double().numpy()
        np.testing.assert_allclose(ours, db, atol=3e-3, rtol=0, err_msg=signal)


# --- batch consistency -------------------------------------------------------------------------


def _batch_with_one_loud_clip(signals):
    # Four quiet clips and one 60 dB louder: with a batch-wide floor the loud clip lifts the
    # floor of every other clip by 60 dB.
    clips = [
        signals.harmonics(16000, 16000, f0=f, seed=s) * 1e-2
        for s, f in enumerate([150.0, 220.0, 330.0, 440.0])
    ]
    clips.insert(2, signals.chirp(16000, 16000) * 10.0)
    return torch.stack(clips).float()


def test_batch_consistent_where_torchaudio_is_not(signals):
    x = _batch_with_one_loud_clip(signals)
    logmel = LogMelSpectrogram(n_fft=480, hop_length=160, n_mels=40)
    batched = logmel(x)
    per_item = torch.stack([logmel(x[i]) for i in range(len(x))])
    torch.testing.assert_close(batched, per_item, atol=1e-4, rtol=0)

    # torchaudio's AmplitudeToDB takes one top_db floor over the whole (batch, n_mels, frames).
    mel = torchaudio.transforms.MelSpectrogram(16000, n_fft=480, hop_length=160, n_mels=40)
    to_db = torchaudio.transforms.AmplitudeToDB(stype="power", top_db=80.0)
    ta_batched = to_db(mel(x))
    ta_per_item = torch.stack([to_db(mel(x[i])) for i in range(len(x))])
    quiet = [0, 1, 3, 4]
    assert (ta_batched[quiet] - ta_per_item[quiet]).abs().max() > 30.0  # dB
    # Per item, torchaudio and ours agree: the difference is only the floor.
    torch.testing.assert_close(ta_per_item, per_item, atol=1e-3, rtol=0)


def test_batch_consistency_leading_dims(signals):
    x = _batch_with_one_loud_clip(signals).reshape(5, 1, 16000).expand(5, 2, 16000).clone()
    x[:, 1] *= 0.5
    logmel = LogMelSpectrogram(n_fft=400, hop_length=160, n_mels=40)
    out = logmel(x)
    assert out.shape == (5, 2, 40, 101)
    for i in range(5):
        for c in range(2):
            torch.testing.assert_close(out[i, c], logmel(x[i, c]), atol=1e-4, rtol=0)


# --- shapes, dtypes, devices, lengths ----------------------------------------------------------


@pytest.mark.parametrize("shape", [(16000,), (3, 16000), (2, 3, 8000), (2, 1, 2, 4000)], ids=str)
def test_output_shape(shape, signals):
    logmel = LogMelSpectrogram(n_fft=480, hop_length=160, n_mels=40)
    x = signals.noise(*shape)
    before = x.clone()
    out = logmel(x)
    assert out.shape == (*shape[:-1], 40, shape[-1] // 160 + 1)
    assert torch.equal(x, before)  # never mutated


def test_defaults_shape_and_readme_example():
    logmel = LogMelSpectrogram(sample_rate=16000, n_fft=480, hop_length=160, n_mels=40)
    assert logmel(torch.zeros(8, 16000)).shape == (8, 40, 101)
    assert logmel.n_mels == 40
    assert LogMelSpectrogram(n_mels=40)(torch.zeros(2, 16000)).shape == (2, 40, 81)


def test_dtypes(float_dtype, signals):
    x = signals.waveform_batch(2, 8000, dtype=float_dtype)
    logmel = LogMelSpectrogram(n_fft=400, hop_length=160, n_mels=40)
    if float_dtype == torch.float64:
        logmel = logmel.double()
    out = logmel(x)
    assert out.dtype == float_dtype
    # Half precision is computed in float32 and only rounded on the way out.
    ref = LogMelSpectrogram(n_fft=400, hop_length=160, n_mels=40)(x.float())
    tol = {torch.float16: 0.1, torch.bfloat16: 0.5}.get(float_dtype, 1e-3)  # dB, output rounding
    torch.testing.assert_close(out.float(), ref, atol=tol, rtol=0)


def test_device(device, signals):
    x = signals.waveform_batch(2, 8000).to(device)
    logmel = LogMelSpectrogram(n_fft=400, hop_length=160, n_mels=40).to(device)
    out = logmel(x)
    assert out.device.type == device
    ref = LogMelSpectrogram(n_fft=400, hop_length=160, n_mels=40)(x.cpu())
    torch.testing.assert_close(out.cpu(), ref, atol=1e-3, rtol=0)


def test_top_db_none_and_ref(signals):
    x = signals.waveform_batch(2, 8000)
    base = LogMelSpectrogram(n_mels=40, top_db=None)
    assert base(torch.zeros(1, 8000)).min() == pytest.approx(-100.0)  # amin = 1e-10
    out_ref = LogMelSpectrogram(n_mels=40, top_db=None, ref=10.0)(x)
    torch.testing.assert_close(out_ref, base(x) - 10.0)
    floored = LogMelSpectrogram(n_mels=40, top_db=20.0)(x)
    span = floored.amax(dim=(-2, -1)) - floored.amin(dim=(-2, -1))
    torch.testing.assert_close(span, torch.full((2,), 20.0))


@pytest.mark.parametrize("center", [True, False])
def test_frame_lengths_match_the_frames_of_each_clip(center, signals):
    logmel = LogMelSpectrogram(n_fft=400, hop_length=160, n_mels=40, center=center)
    lengths = torch.tensor([400, 401, 559, 560, 1000, 16000])
    frames = logmel.frame_lengths(lengths)
    for n, f in zip(lengths.tolist(), frames.tolist(), strict=True):
        assert logmel(signals.noise(n)).shape[-1] == f
    if center:
        assert logmel.frame_lengths(torch.tensor([1, 159, 160])).tolist() == [1, 1, 2]


def test_is_differentiable(signals):
    x = signals.waveform_batch(2, 4000).requires_grad_()
    LogMelSpectrogram(n_fft=400, hop_length=160, n_mels=40)(x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_check_finite_off_lets_nan_through(signals):
    x = signals.waveform_batch(2, 4000)
    x[0, 100] = float("nan")
    out = LogMelSpectrogram(n_mels=40, check_finite=False)(x)
    assert out[0].isnan().any() and torch.isfinite(out[1]).all()


@pytest.mark.parametrize("shape", [(16000,), (3, 16000), (2, 1, 8000)], ids=str)
@pytest.mark.parametrize("layout", ["writeable", "read-only", "reversed"])
def test_numpy_input_equals_tensor_input(shape, layout, signals):
    x = signals.noise(*shape, seed=2)
    array = x.numpy().copy()
    if layout == "read-only":  # as Hugging Face datasets hands out audio
        array.setflags(write=False)
    elif layout == "reversed":  # a view a tensor cannot hold
        array = np.ascontiguousarray(array[..., ::-1])[..., ::-1]
    logmel = LogMelSpectrogram(n_fft=400, hop_length=160, n_mels=40)
    out = logmel(array)
    assert isinstance(out, torch.Tensor)
    torch.testing.assert_close(out, logmel(x), rtol=0, atol=0)
    if layout == "read-only":
        assert not array.flags.writeable  # left as it came


def test_numpy_input_is_checked_as_tensors_are():
    logmel = LogMelSpectrogram(n_mels=40)
    with pytest.raises(TypeError, match="`waveform` must have a floating dtype"):
        logmel(np.zeros((2, 16000), dtype=np.int16))
    with pytest.raises(TypeError, match=r"`waveform` is torch.float64 but the transform"):
        logmel(np.zeros((2, 16000)))  # soundfile.read's default dtype: pass dtype="float32"
    bad = np.zeros((2, 16000), dtype=np.float32)
    bad[1, 5] = np.nan
    with pytest.raises(ValueError, match="`waveform` contains NaN or Inf"):
        logmel(bad)
