"""Chain: torchaudio transforms and audiomix mixing in one pipeline, labels and lengths follow."""

import pytest
import torch
import torchaudio.transforms as T
from torch import nn

from audiomix import (
    Chain,
    LogMelSpectrogram,
    RandomChoiceMix,
    SNRMix,
    SpectrogramCutMix,
    SpectrogramMixup,
    TrainingOnly,
    WaveformMixup,
    WithLengths,
)
from audiomix.functional import mix_targets, pad_batch
from tests._helpers import generator as _gen
from tests._helpers import harmonics

C = 3


def _clips(lengths, seed=0):
    g = _gen(seed)
    return [0.3 * torch.randn(n, generator=g) for n in lengths]


def _pipeline(mixer):
    return Chain(
        T.Resample(16000, 8000),
        T.MelSpectrogram(sample_rate=8000, n_fft=256, hop_length=80, n_mels=32),
        T.AmplitudeToDB(top_db=80.0),
        mixer,
        T.FrequencyMasking(freq_mask_param=6),
        T.TimeMasking(time_mask_param=10),
    )


def test_torchaudio_chain_matches_step_by_step():
    clips = _clips([16000, 9001, 4333, 12000])
    x, lengths = pad_batch(clips)
    labels = torch.tensor([0, 1, 2, 1])
    x_before = x.clone()
    chain = _pipeline(SpectrogramMixup(alpha=0.4, num_classes=C, generator=0))
    torch.manual_seed(11)  # torchaudio's masks draw from the global RNG
    out, targets, out_lengths = chain(x, labels, lengths)
    assert torch.equal(x, x_before)

    ref_mixer = SpectrogramMixup(alpha=0.4, num_classes=C, generator=0)
    h = chain[2](chain[1](chain[0](x)))
    # Valid frames: what each clip alone would give after resampling and the STFT.
    frames = torch.tensor([chain[1](chain[0](c)).shape[-1] for c in clips])
    h, ref_targets, ref_lengths = ref_mixer(h, labels, frames)
    torch.manual_seed(11)
    h = chain[5](chain[4](h))
    torch.testing.assert_close(out, h)
    torch.testing.assert_close(targets, ref_targets)
    assert torch.equal(out_lengths, ref_lengths)
    p = chain[3].last_params
    torch.testing.assert_close(targets, mix_targets(labels, p.lam, p.perm, num_classes=C))
    assert out.shape == (4, 32, 101)


def test_resample_lengths_match_torchaudio():
    clips = _clips([16000, 9001, 4333, 1])
    x, lengths = pad_batch(clips)
    for new in (8000, 22050, 44100):
        resample = T.Resample(16000, new)
        _, _, out_lengths = Chain(resample)(x, None, lengths)
        assert out_lengths.tolist() == [resample(c).shape[-1] for c in clips]


@pytest.mark.parametrize("center", [True, False])
def test_spectrogram_lengths_match_per_clip_frames(center):
    clips = _clips([4000, 2500, 999, 512])
    x, lengths = pad_batch(clips)
    for module in (
        T.Spectrogram(n_fft=512, hop_length=128, center=center),
        T.MelSpectrogram(sample_rate=16000, n_fft=512, hop_length=128, n_mels=20, center=center),
        T.MFCC(
            sample_rate=16000,
            n_mfcc=13,
            melkwargs=dict(n_fft=512, hop_length=128, n_mels=20, center=center),
        ),
        LogMelSpectrogram(n_fft=512, hop_length=128, n_mels=20, center=center),
    ):
        _, _, out_lengths = Chain(module)(x, None, lengths)
        assert out_lengths.tolist() == [module(c).shape[-1] for c in clips], module


def test_labels_pass_through_without_mixing_and_two_mixers_compose():
    x, lengths = pad_batch(_clips([8000, 6000, 7000, 3000]))
    labels = torch.tensor([0, 2, 1, 1])
    out, same = Chain(T.MelSpectrogram(sample_rate=16000, n_mels=20))(x, labels)
    assert same is labels and out.ndim == 3
    chain = Chain(
        SNRMix(snr_db=(0.0, 10.0), num_classes=C, generator=1),
        T.MelSpectrogram(sample_rate=16000, n_fft=400, hop_length=160, n_mels=20),
        T.AmplitudeToDB(),
        RandomChoiceMix(
            [
                SpectrogramMixup(alpha=0.4, num_classes=C, generator=2),
                SpectrogramCutMix(num_classes=C, generator=3),
            ],
            generator=4,
        ),
    )
    out, targets, out_lengths = chain(x, labels, lengths)
    torch.testing.assert_close(targets.sum(1), torch.ones(4))
    first = chain[0].last_params
    soft = mix_targets(labels, first.lam, first.perm, num_classes=C)
    second = chain[3].last_params
    torch.testing.assert_close(targets, mix_targets(soft, second.lam, second.perm))
    assert out_lengths.max() <= out.shape[-1]
    # Without lengths: (x, targets). Nested chains carry labels too.
    out2, targets2 = Chain(Chain(WaveformMixup(num_classes=C, generator=0)), nn.Identity())(
        x, labels
    )
    assert out2.shape == x.shape and targets2.shape == (4, C)


def test_unknown_time_change_needs_with_lengths():
    x, lengths = pad_batch(_clips([800, 500]))
    pool = nn.AvgPool1d(2)
    with pytest.raises(
        ValueError,
        match=r"Chain\[0\] \(AvgPool1d\) changed the time axis from 800 "
        r"to 400.*WithLengths",
    ):
        Chain(pool)(x.unsqueeze(1), None, lengths)
    halve = WithLengths(pool, lambda n: torch.div(n, 2, rounding_mode="floor"))
    _, _, out_lengths = Chain(halve)(x.unsqueeze(1), None, lengths)
    assert out_lengths.tolist() == [400, 250]
    with pytest.raises(TypeError, match="`lengths_fn` must be callable"):
        WithLengths(pool, 2)
    with pytest.raises(ValueError, match=r"`lengths` must be in \[1, 800\]"):
        Chain(pool)(x, None, torch.tensor([900, 10]))


def test_chain_state_dict_carries_rng_and_is_a_sequential():
    chain = _pipeline(SpectrogramMixup(num_classes=C, generator=0))
    assert isinstance(chain, nn.Sequential) and len(chain) == 6
    other = _pipeline(SpectrogramMixup(num_classes=C, generator=9))
    other.load_state_dict(chain.state_dict())
    x, lengths = pad_batch(_clips([16000, 8000]))
    labels = torch.tensor([0, 1])
    torch.manual_seed(0)
    a = chain(x, labels, lengths)
    torch.manual_seed(0)
    b = other(x, labels, lengths)
    for u, v in zip(a, b, strict=True):
        assert torch.equal(u, v)


def test_chain_input_errors():
    with pytest.raises(TypeError, match="`x` must be a torch.Tensor, but got list"):
        Chain(nn.Identity())([1.0, 2.0], None, torch.tensor([2]))
    with pytest.raises(ValueError, match="specgram and labels have different batch sizes: 2 != 3"):
        Chain(SpectrogramMixup(num_classes=C))(torch.randn(2, 8, 10), torch.arange(3))


# --------------------------------------------------------------------------- eval mode


def _speech_like(lengths, *, level_db=-60.0, seed=0):
    """Voiced clips at ``level_db`` dBFS RMS: harmonic tones (110-220 Hz) with a syllable-rate
    (4 Hz) envelope over a noise floor 30 dB below, padded into a batch."""
    clips = []
    for k, n in enumerate(lengths):
        voice = harmonics(n, 16000, f0=110.0 + 25.0 * k, k=20, seed=seed + k)
        t = torch.arange(n, dtype=torch.float64) / 16000
        voice = voice * (0.55 + 0.45 * torch.sin(2 * torch.pi * 4.0 * t))
        voice = voice / voice.square().mean().sqrt() * 10 ** (level_db / 20)
        floor = torch.randn(n, generator=_gen(100 + seed + k), dtype=torch.float64)
        clips.append((voice + floor * 10 ** ((level_db - 30) / 20)).float())
    return pad_batch(clips)


def _masked_chain(mixer):
    # torchaudio's masks on dB values, after the mixer: training-only steps in a front end.
    return Chain(
        T.MelSpectrogram(sample_rate=16000, n_fft=400, hop_length=160, n_mels=40),
        T.AmplitudeToDB(top_db=80.0),
        mixer,
        T.FrequencyMasking(freq_mask_param=8),
        T.TimeMasking(time_mask_param=20),
    )


def test_eval_mode_skips_torchaudio_masks_and_gives_the_clean_front_end():
    x, lengths = _speech_like([16000, 11000, 8000, 13000])
    labels = torch.tensor([0, 1, 2, 1])
    chain = _masked_chain(SpectrogramMixup(alpha=0.4, num_classes=C, generator=0))
    clean = chain[1](chain[0](x))
    frames = torch.tensor([chain[0](c[:n]).shape[-1] for c, n in zip(x, lengths, strict=True)])

    chain.eval()
    rng = torch.get_rng_state()
    for _ in range(3):  # torchaudio's masks draw from the global RNG: nothing is drawn
        out, targets, out_lengths = chain(x, labels, lengths)
        assert torch.equal(out, clean) and torch.equal(out_lengths, frames)
        assert targets.argmax(1).tolist() == labels.tolist() and targets.max() == 1
    assert torch.equal(torch.get_rng_state(), rng)

    # Training mode: mixed and masked. The masks write 0 dB, above every cell of this speech.
    chain.train()
    torch.manual_seed(3)
    out, _, _ = chain(x, labels, lengths)
    masked = out == 0.0
    assert masked.any() and not torch.equal(out, clean) and clean.max() < 0.0
    # A step's own flag decides: the time mask alone off, the frequency mask still on.
    partly = _masked_chain(SpectrogramMixup(alpha=0.4, num_classes=C, generator=0))
    partly[4].eval()
    frequency_only = Chain(
        *_masked_chain(SpectrogramMixup(alpha=0.4, num_classes=C, generator=0))[:4]
    )
    torch.manual_seed(3)
    a = partly(x, labels, lengths)
    torch.manual_seed(3)
    b = frequency_only(x, labels, lengths)
    assert all(torch.equal(u, v) for u, v in zip(a, b, strict=True))


def test_masks_on_power_before_the_db_conversion_are_silent():
    x, lengths = _speech_like([16000, 12000])
    chain = Chain(
        T.MelSpectrogram(sample_rate=16000, n_fft=400, hop_length=160, n_mels=40),
        T.FrequencyMasking(freq_mask_param=8),
        T.TimeMasking(time_mask_param=20),
        T.AmplitudeToDB(stype="power", top_db=80.0),
    )
    clean = chain[3](chain[0](x))
    torch.manual_seed(5)
    out, _, _ = chain(x, torch.tensor([0, 1]), lengths)
    changed = out != clean
    assert changed.any()
    assert out[changed].max() <= clean.min()  # masked cells sit at the floor, not at 0 dB
    assert torch.equal(chain.eval()(x, None, lengths)[0], clean)


class _Hiss(nn.Module):
    """Random noise of its own generator: a user's augmentation."""

    def __init__(self):
        super().__init__()
        self.generator = torch.Generator().manual_seed(0)

    def forward(self, x):
        return x + 0.01 * torch.randn(x.shape, generator=self.generator)


class _MarkedHiss(_Hiss):
    training_only = True


@pytest.mark.parametrize("make", [lambda: TrainingOnly(_Hiss()), _MarkedHiss])
def test_users_mark_their_own_training_only_steps(make):
    x, lengths = pad_batch(_clips([800, 500, 640]))
    labels = torch.tensor([0, 1, 2])
    chain = Chain(make(), WaveformMixup(alpha=1.0, num_classes=C, generator=0))
    out, _, out_lengths = chain(x, labels, lengths)
    assert not torch.equal(out, x)
    chain.eval()
    out, targets, out_lengths = chain(x, labels, lengths)
    assert torch.equal(out, x) and torch.equal(out_lengths, lengths)
    assert targets.argmax(1).tolist() == [0, 1, 2]
    # An unmarked random step runs in eval mode too: marking is what makes the difference.
    unmarked = Chain(_Hiss()).eval()
    assert not torch.equal(unmarked(x, labels)[0], x)


def test_training_only_wrapper_on_its_own_and_its_errors():
    x = torch.randn(2, 300, generator=_gen(2))
    step = TrainingOnly(_Hiss())
    assert not torch.equal(step(x), x)
    assert step.eval()(x) is x
    speed = TrainingOnly(T.SpeedPerturbation(16000, [0.9, 1.1]))
    lengths = torch.tensor([300, 200])
    assert speed.carries_lengths
    y, same = speed.eval()(x, lengths)
    assert y is x and same is lengths
    with pytest.raises(TypeError, match=r"`module` \(WaveformMixup\) mixes labels; mixing"):
        TrainingOnly(WaveformMixup(num_classes=C))
    with pytest.raises(TypeError, match="`module` must be an nn.Module, but got function"):
        TrainingOnly(lambda x: x)


# --------------------------------------------------------------------------- steps with lengths


@pytest.mark.parametrize("factor", [0.9, 1.1, 1.5])
def test_speed_carries_its_lengths(factor):
    clips = _clips([16000, 9001, 4333, 1200])
    x, lengths = pad_batch(clips)
    speed = T.Speed(16000, factor)
    out, _, out_lengths = Chain(speed)(x, None, lengths)
    assert out_lengths.tolist() == [speed(c)[0].shape[-1] for c in clips]
    assert out.shape[-1] == speed(x)[0].shape[-1]
    out, labels = Chain(speed)(x, torch.arange(4))  # without lengths: (x, labels)
    assert out.shape[-1] == speed(x)[0].shape[-1] and labels.tolist() == [0, 1, 2, 3]


def test_speed_perturbation_in_a_chain_with_mixing_and_in_eval_mode():
    x, lengths = _speech_like([16000, 9000, 12000, 7000])
    labels = torch.tensor([0, 1, 2, 0])
    chain = Chain(
        T.SpeedPerturbation(16000, [0.9, 1.1]),
        T.MelSpectrogram(sample_rate=16000, n_fft=400, hop_length=160, n_mels=40),
        SpectrogramMixup(alpha=0.4, num_classes=C, scale="power", generator=0),
        T.AmplitudeToDB(stype="power"),
    )
    torch.manual_seed(0)
    out, targets, out_lengths = chain(x, labels, lengths)
    assert out.shape[-1] != chain[1](x).shape[-1]  # the speed changed the time axis
    assert int(out_lengths.max()) <= out.shape[-1] and targets.shape == (4, C)
    out, _, out_lengths = chain.eval()(x, labels, lengths)
    assert torch.equal(out, chain[3](chain[1](x)))  # no perturbation in eval mode
    frames = [chain[1](c[:n]).shape[-1] for c, n in zip(x, lengths, strict=True)]
    assert out_lengths.tolist() == frames


class _Pair(nn.Module):
    def forward(self, x, lengths=None):
        return x, lengths


class _Carrying(nn.Module):
    carries_lengths = True

    def __init__(self, returns):
        super().__init__()
        self.returns = returns

    def forward(self, x, lengths=None):
        return self.returns(x, lengths)


def test_steps_returning_tuples_without_the_protocol_get_a_clear_error():
    x, lengths = pad_batch(_clips([800, 500]))
    for with_lengths in (True, False):
        with pytest.raises(
            TypeError,
            match=r"Chain\[1\] \(_Pair\) returned a tuple of 2 elements, but Chain passes one "
            r"tensor from step to step.*set `carries_lengths = True` on it",
        ):
            Chain(nn.Identity(), _Pair())(x, None, lengths if with_lengths else None)
    _Pair.carries_lengths = True
    try:
        assert torch.equal(Chain(_Pair())(x, None, lengths)[2], lengths)
    finally:
        del _Pair.carries_lengths
    with pytest.raises(
        TypeError,
        match=r"Chain\[0\] \(_Carrying\) carries lengths, so it must return \(x, lengths\), "
        r"but returned Tensor\.",
    ):
        Chain(_Carrying(lambda x, n: x))(x, None, lengths)
    with pytest.raises(
        ValueError,
        match=r"Chain\[0\] \(_Carrying\) must return lengths of shape \(2,\) for the lengths it "
        r"was given, but returned NoneType\.",
    ):
        Chain(_Carrying(lambda x, n: (x, None)))(x, None, lengths)


def test_numpy_input():
    x, lengths = pad_batch(_clips([1600, 900]))
    array = x.numpy().copy()
    array.flags.writeable = False
    chain = Chain(T.MelSpectrogram(sample_rate=16000, n_fft=400, hop_length=160, n_mels=20))
    out, _, frames = chain(array, None, lengths.numpy())
    ref, _, ref_frames = chain(x, None, lengths)
    assert torch.equal(out, ref) and torch.equal(frames, ref_frames)
