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
    WaveformMixup,
    WithLengths,
)
from audiomix.functional import mix_targets, pad_batch
from tests._helpers import generator as _gen

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
