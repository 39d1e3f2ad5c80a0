"""Hostile but legal inputs: frame counts, short clips, half precision, long clips."""

import pytest
import torch
import torchaudio
from hypothesis import given
from hypothesis import strategies as st

import audiomix.functional._cutmix as paste_paths
from audiomix import Chain, LogMelSpectrogram
from audiomix.functional import (
    a_weighted_gain,
    bc_mix,
    cutmix,
    frame_lengths,
    normalize_rms,
    rms_db,
    sample_offsets,
    snr_mix,
)
from tests._helpers import generator as _gen

SR = 16000


def _tone(n, freq=1000.0, amplitude=1.0):
    return amplitude * torch.sin(2 * torch.pi * freq * torch.arange(n) / SR + 0.3)


# --------------------------------------------------------------------------- frame counts


@pytest.mark.parametrize("n_fft", [400, 401, 64, 65, 7])
@pytest.mark.parametrize("hop", [160, 32, 1, 7])
@pytest.mark.parametrize("center", [True, False])
@pytest.mark.parametrize("pad", [0, 3])
def test_frame_lengths_match_torchaudio_spectrogram(n_fft, hop, center, pad):
    spec = torchaudio.transforms.Spectrogram(
        n_fft=n_fft, hop_length=hop, center=center, pad=pad, pad_mode="constant"
    )
    shortest = 1 if center else max(1, n_fft - 2 * pad)
    lengths = sorted({shortest, *range(max(shortest, 3 * hop - 2), 3 * hop + 3), n_fft, 4 * n_fft})
    lengths = [n for n in lengths if n >= shortest]
    expected = [spec(torch.zeros(n)).shape[-1] for n in lengths]
    got = frame_lengths(torch.tensor(lengths), n_fft=n_fft, hop_length=hop, center=center, pad=pad)
    assert got.dtype == torch.int64
    assert got.tolist() == expected


@given(
    length=st.integers(1, 3000),
    n_fft=st.integers(2, 512),
    hop=st.integers(1, 300),
    center=st.booleans(),
)
def test_frame_lengths_match_torch_stft(length, n_fft, hop, center):
    if not center and length < n_fft:
        length = n_fft + length % 7
    frames = torch.stft(
        torch.zeros(length),
        n_fft,
        hop_length=hop,
        center=center,
        pad_mode="constant",
        window=torch.ones(n_fft),
        return_complex=True,
    ).shape[-1]
    assert (
        int(frame_lengths(torch.tensor([length]), n_fft=n_fft, hop_length=hop, center=center))
        == frames
    )


def test_frame_lengths_of_odd_n_fft_and_short_clips_without_centre():
    # MelSpectrogram(n_fft=401, hop_length=160) on 4000 samples gives 25 frames, not 26.
    mel = torchaudio.transforms.MelSpectrogram(n_fft=401, hop_length=160, n_mels=16)
    assert mel(torch.zeros(4000)).shape[-1] == 25
    assert frame_lengths(torch.tensor([4000]), n_fft=401, hop_length=160).tolist() == [25]
    # A clip shorter than n_fft (center=False) keeps the one frame that holds it.
    short = frame_lengths(torch.tensor([0, 10, 399, 400]), n_fft=400, hop_length=160, center=False)
    assert short.tolist() == [1, 1, 1, 1]


@pytest.mark.parametrize("n_fft", [400, 401])
@pytest.mark.parametrize("center", [True, False])
def test_logmel_frame_lengths_are_its_output_frames(n_fft, center):
    logmel = LogMelSpectrogram(n_fft=n_fft, hop_length=160, n_mels=16, center=center)
    lengths = torch.tensor([n_fft, 4000, 4001, 4159, 4160, 4161, 8000])
    expected = [logmel(torch.zeros(1, int(n))).shape[-1] for n in lengths]
    assert logmel.frame_lengths(lengths).tolist() == expected


@pytest.mark.parametrize("n_fft", [400, 401])
@pytest.mark.parametrize("make", ["spectrogram", "mel", "mfcc"])
def test_chain_converts_lengths_to_the_real_frames(n_fft, make):
    T = torchaudio.transforms
    module = {
        "spectrogram": lambda: T.Spectrogram(n_fft=n_fft, hop_length=160),
        "mel": lambda: T.MelSpectrogram(n_fft=n_fft, hop_length=160, n_mels=16),
        "mfcc": lambda: T.MFCC(
            n_mfcc=8, melkwargs={"n_fft": n_fft, "hop_length": 160, "n_mels": 16}
        ),
    }[make]()
    lengths = torch.tensor([4000, 3201, 4800])
    x = torch.randn(3, 4800, generator=_gen())
    _, _, frames = Chain(module)(x, torch.tensor([0, 1, 0]), lengths)
    expected = [module(x[i, : int(n)]).shape[-1] for i, n in enumerate(lengths)]
    assert frames.tolist() == expected


def test_frame_lengths_errors():
    lengths = torch.tensor([100])
    with pytest.raises(ValueError, match=r"`n_fft` must be an integer >= 1, but got 0"):
        frame_lengths(lengths, n_fft=0, hop_length=10)
    with pytest.raises(ValueError, match=r"`hop_length` must be an integer >= 1, but got 2.5"):
        frame_lengths(lengths, n_fft=16, hop_length=2.5)
    with pytest.raises(ValueError, match=r"`pad` must be an integer >= 0, but got -1"):
        frame_lengths(lengths, n_fft=16, hop_length=4, pad=-1)
    with pytest.raises(TypeError, match=r"`lengths` must be a torch.Tensor, but got list"):
        frame_lengths([100], n_fft=16, hop_length=4)
    with pytest.raises(
        TypeError,
        match=r"`lengths` must have an integer dtype, but got "
        r"torch.float32",
    ):
        frame_lengths(torch.tensor([100.0]), n_fft=16, hop_length=4)
    with pytest.raises(ValueError, match=r"`lengths` must be >= 0, but got -3"):
        frame_lengths(torch.tensor([5, -3]), n_fft=16, hop_length=4)


# --------------------------------------------------------------------------- BC gain


def test_a_weighted_gain_of_equal_level_clips_is_equal_whatever_their_length():
    # A 1 kHz tone: 200 and 500 samples are shorter than the 2048-sample analysis frame.
    full = float(a_weighted_gain(_tone(16000).unsqueeze(0), sample_rate=SR))
    for n in (200, 500, 2047, 2048, 5000):
        short = float(a_weighted_gain(_tone(n).unsqueeze(0), sample_rate=SR))
        assert short == pytest.approx(full, abs=0.05), n


def test_a_weighted_gain_of_short_clips_in_a_padded_batch():
    x = torch.full((3, 16000), 7.0)  # padding that must not count
    for i, n in enumerate((200, 500, 16000)):
        x[i, :n] = _tone(n, amplitude=0.1)
    gains = a_weighted_gain(x, sample_rate=SR, lengths=torch.tensor([200, 500, 16000]))
    assert torch.allclose(gains, gains[2].expand(3), atol=0.05)
    alone = [a_weighted_gain(x[i : i + 1, :n], sample_rate=SR) for i, n in enumerate((200, 500))]
    assert torch.allclose(torch.cat(alone), gains[:2], atol=1e-5)


def test_bc_mix_of_a_short_and_a_long_clip_at_equal_level_uses_r():
    x = torch.zeros(2, 16000)
    x[0, :300], x[1] = _tone(300, 1000.0), _tone(16000, 1000.0)
    lengths = torch.tensor([300, 16000])
    _, p = bc_mix(x, 0.3, torch.tensor([1, 0]), sample_rate=SR, lengths=lengths)
    # Equal gains: the waveform weight is the label ratio itself.
    assert p.tolist() == pytest.approx([0.3, 0.3], abs=0.01)


# --------------------------------------------------------------------------- SNR in half


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_snr_mix_half_with_a_near_silent_partner_is_finite_and_exact(dtype):
    x = torch.randn(2, 16000, generator=_gen(1))
    x[1] *= 1e-5  # -100 dB below the sample: the gain it needs (1e5) overflows float16
    x = x.to(dtype)
    mixed, lam = snr_mix(x, 0.0, torch.tensor([1, 0]))
    assert mixed.dtype == dtype
    assert torch.isfinite(mixed).all()
    assert lam.tolist() == pytest.approx([0.5, 0.5], abs=1e-6)
    added = (mixed[0] - x[0]).double().square().mean()
    snr = 10 * torch.log10(x[0].double().square().mean() / added)
    assert float(snr) == pytest.approx(0.0, abs=0.1)


@pytest.mark.parametrize("dtype", [torch.float16, torch.float32])
def test_snr_mix_max_gain_db_caps_the_boost_and_reports_the_achieved_weight(dtype):
    x = torch.randn(2, 16000, generator=_gen(2))
    x[1] *= 1e-5
    x = x.to(dtype)
    mixed, lam = snr_mix(x, 0.0, torch.tensor([1, 0]), max_gain_db=60.0)
    gain = 10 ** (60.0 / 20.0)
    p0 = x[0].double().square().mean()
    p1 = x[1].double().square().mean()
    assert float(lam[0]) == pytest.approx(float(p0 / (p0 + gain**2 * p1)), rel=1e-5)
    assert float(lam[1]) == pytest.approx(0.5, abs=1e-6)  # needs 1e-5, well under the cap
    expected = x[0].double() + gain * x[1].double()
    assert torch.allclose(mixed[0].double(), expected, rtol=1e-2, atol=1e-3)


def test_snr_mix_max_gain_db_errors():
    x = torch.randn(2, 100, generator=_gen())
    with pytest.raises(ValueError, match=r"`max_gain_db` must be finite or None, but got inf"):
        snr_mix(x, 0.0, torch.tensor([1, 0]), max_gain_db=float("inf"))
    with pytest.raises(TypeError, match=r"`max_gain_db` must be a number or None, but got str"):
        snr_mix(x, 0.0, torch.tensor([1, 0]), max_gain_db="60")


def test_normalize_rms_half_with_a_large_gain_is_finite():
    # About -70 dB brought to +30 dB: a gain of 1e5, beyond float16's largest value.
    x = (torch.randn(2, 1000, generator=_gen(3)) * 3e-4).half()
    y = normalize_rms(x, target_db=30.0, max_gain_db=120.0)
    assert torch.isfinite(y).all()
    level = 10 * torch.log10(y.double().square().mean(dim=1))
    assert torch.allclose(level, torch.full((2,), 30.0, dtype=torch.float64), atol=0.05)


# --------------------------------------------------------------------------- LogMel


def test_logmel_short_clip_with_reflect_padding_says_what_to_do():
    logmel = LogMelSpectrogram(n_fft=400, n_mels=16)
    with pytest.raises(
        ValueError,
        match=r"`waveform` has 200 samples, too few for center=True "
        r"with pad_mode='reflect' and n_fft=400, which needs at "
        r"least 201: pad the clips .* pad_mode='constant'",
    ):
        logmel(torch.randn(2, 200))
    assert logmel(torch.randn(2, 201)).shape == (2, 16, 2)
    constant = LogMelSpectrogram(n_fft=400, n_mels=16, pad_mode="constant")
    assert constant(torch.randn(2, 5)).shape == (2, 16, 1)


def test_logmel_short_clip_without_centre_says_what_to_do():
    with pytest.raises(
        ValueError,
        match=r"`waveform` has 399 samples, fewer than n_fft=400 "
        r"\(with center=False\). Pad the clips",
    ):
        LogMelSpectrogram(n_fft=400, n_mels=16, center=False)(torch.randn(399))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_logmel_cast_to_half_computes_in_float32(dtype):
    x = torch.randn(2, 4000, generator=_gen(4)).to(dtype)
    reference = LogMelSpectrogram(n_fft=400, n_mels=16)
    logmel = LogMelSpectrogram(n_fft=400, n_mels=16).to(dtype)  # as model.half() does
    assert logmel.mel.mel_scale.fb.dtype == torch.float32
    assert logmel.mel.spectrogram.window.dtype == torch.float32
    out = logmel(x)
    assert out.dtype == dtype
    assert torch.equal(out, reference(x))
    assert torch.equal(logmel.float()(x.float()), reference(x.float()))
    # Casts other than half precision still apply.
    assert logmel.double().mel.mel_scale.fb.dtype == torch.float64


# --------------------------------------------------------------------------- CutMix paths

paste_cases = st.fixed_dictionaries(
    {
        "batch": st.integers(1, 6),
        "time": st.integers(1, 60),
        "mode": st.sampled_from(["time", "freq", "box"]),
        "fade": st.integers(0, 9),
        "padded": st.booleans(),
        "dtype": st.sampled_from([torch.float32, torch.float16, torch.float64]),
        "seed": st.integers(0, 2**16),
    }
)


@given(case=paste_cases)
def test_cutmix_row_and_block_pastes_equal_the_batch_paste(case):
    """The per-row (large clips) and blocked pastes are bit-identical to the vectorised one."""
    g = _gen(case["seed"])
    b, t, mode = case["batch"], case["time"], case["mode"]
    fade = case["fade"] if mode == "time" else 0
    shape = (b, 2, t) if mode == "time" else (b, 3, 5, t)
    x = torch.randn(shape, generator=g).to(case["dtype"])
    perm = torch.randint(0, b, (b,), generator=g)
    lam = torch.rand(b, generator=g)
    centers = torch.rand(2, b, generator=g)
    lengths = offsets = None
    if case["padded"]:
        lengths = torch.randint(1, t + 1, (b,), generator=g)
        offsets = sample_offsets(lengths, perm, placement="random", generator=g)
    kwargs = dict(
        time_center=centers[0],
        freq_center=None if mode == "time" else centers[1],
        mode=mode,
        lengths=lengths,
        offsets=offsets,
        fade=fade,
    )
    saved = paste_paths._ROW_BYTES, paste_paths._CPU_ROW_BYTES, paste_paths._BLOCK_BYTES
    try:
        paste_paths._ROW_BYTES = paste_paths._CPU_ROW_BYTES = 1 << 40
        batch, kept = cutmix(x, lam, perm, **kwargs)
        paste_paths._BLOCK_BYTES = 1  # one row per block
        blocked, kept_blocked = cutmix(x, lam, perm, **kwargs)
        paste_paths._ROW_BYTES = paste_paths._CPU_ROW_BYTES = 0
        rows, kept_rows = cutmix(x, lam, perm, **kwargs)
    finally:
        paste_paths._ROW_BYTES, paste_paths._CPU_ROW_BYTES, paste_paths._BLOCK_BYTES = saved
    assert torch.equal(blocked, batch) and torch.equal(rows, batch)
    assert torch.equal(kept_blocked, kept) and torch.equal(kept_rows, kept)


@pytest.mark.parametrize("fade", [1, 80])
def test_cutmix_fade_weight_matches_the_blended_samples(fade):
    # kept comes from a closed-form sum of the ramps; check it on the output itself.
    x = torch.zeros(4, 1000)
    x[1] = x[3] = 1.0
    lam = torch.tensor([0.5, 0.99, 0.9, 0.3])
    mixed, kept = cutmix(
        x, lam, torch.tensor([1, 0, 3, 2]), time_center=torch.rand(4, generator=_gen(5)), fade=fade
    )
    taken = mixed[0::2].double().mean(dim=1)  # partner is 1, sample 0: the mean is what was taken
    assert torch.allclose(kept[0::2].double(), 1.0 - taken, atol=1e-6)


def test_rms_db_ignores_padding_whatever_it_holds():
    x = torch.randn(2, 100, generator=_gen(6))
    padded = x.clone()
    padded[0, 60:] = float("inf")
    padded[1, 80:] = float("nan")
    lengths = torch.tensor([60, 80])
    got = rms_db(padded, lengths=lengths)
    expected = torch.stack([rms_db(x[:1, :60])[0], rms_db(x[1:, :80])[0]])
    torch.testing.assert_close(got, expected)
