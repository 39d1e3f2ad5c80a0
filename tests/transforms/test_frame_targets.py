"""Frame targets through every mixer: they land where the audio lands, with its weights."""

from __future__ import annotations

import re

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from audiomix import (
    BCMix,
    Chain,
    LogMelSpectrogram,
    RandomChoiceMix,
    SNRMix,
    SpectrogramCutMix,
    SpectrogramMixup,
    View,
    WaveformCutMix,
    WaveformMixup,
)
from tests._helpers import generator

T = 64  # positions: a multiple of every hop below
LENGTHS = torch.tensor([64, 48, 32, 56, 16, 40])
B = LENGTHS.numel()
BINS = 3


def _linear_mixers(hop, placement):
    """Mixers whose output is a per-position blend of the two clips (or a paste), so the
    audio's mass per frame is what the frame targets must be."""
    kw = dict(alpha=1.0, multilabel=True, placement=placement, target_hop=hop, generator=7)
    return {
        "WaveformMixup": (WaveformMixup(**kw), False),
        "SpectrogramMixup(power)": (SpectrogramMixup(scale="power", **kw), True),
        "SpectrogramMixup(input)": (
            SpectrogramMixup(scale="amplitude", domain="input", **kw),
            True,
        ),
        "WaveformCutMix": (WaveformCutMix(**kw), False),
        "WaveformCutMix(fade)": (WaveformCutMix(fade=3, **kw), False),
        "SpectrogramCutMix(time)": (SpectrogramCutMix(mode="time", **kw), True),
        "SpectrogramCutMix(freq)": (SpectrogramCutMix(mode="freq", **kw), True),
        "SpectrogramCutMix(box)": (SpectrogramCutMix(mode="box", **kw), True),
    }


def _events(hop, seed, spectral):
    """Each clip holds one event, a block of ones over whole frames of ``hop`` inside its
    valid length, and its target is 1 on those frames."""
    g = generator(seed)
    frames = T // hop
    x = torch.zeros(B, BINS, T) if spectral else torch.zeros(B, T)
    y = torch.zeros(B, frames, 2)
    for i, n in enumerate(LENGTHS.tolist()):
        valid = n // hop
        k = int(torch.randint(valid, (), generator=g))
        m = int(torch.randint(1, valid - k + 1, (), generator=g))
        x[i, ..., k * hop : (k + m) * hop] = 1.0
        y[i, k : k + m, 0] = 1.0
    return x, y


def _mass(x, hop):
    """(batch, frames) mean of the audio over each frame's positions (and bins)."""
    x = x if x.ndim == 3 else x.unsqueeze(1)
    return x.reshape(x.shape[0], x.shape[1], -1, hop).mean(dim=(1, 3))


@pytest.mark.parametrize("placement", ["start", "center", "random"])
@pytest.mark.parametrize("hop", [1, 4])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_impulses_land_in_the_same_frame_in_audio_and_targets(placement, hop, seed):
    for name, (mixer, spectral) in _linear_mixers(hop, placement).items():
        if "CutMix" in name and hop > 1 and placement == "random":
            # A paste of a partner shifted by a fraction of a frame splits the partner's frame
            # between two target frames while the cut splits it otherwise: exact only for
            # shifts by whole frames (hop 1, or the other placements with these lengths).
            continue
        x, y = _events(hop, seed, spectral)
        out, targets, lengths = mixer(x, y, LENGTHS)
        torch.testing.assert_close(
            targets[..., 0],
            _mass(out, hop),
            atol=1e-5,
            rtol=0,
            msg=lambda m, name=name: f"{name}: {m}",
        )
        assert torch.equal(targets[..., 1], torch.zeros_like(targets[..., 1])), name
        # Nothing past the mix's valid length.
        frames = torch.arange(T // hop)
        outside = frames >= torch.div(lengths + hop - 1, hop, rounding_mode="floor")[:, None]
        assert not bool(targets[..., 0][outside].any()), name


@pytest.mark.parametrize("make", [SNRMix, lambda **kw: BCMix(16000, **kw)])
def test_snr_and_bc_weight_each_row_by_its_applied_weight(make):
    mixer = make(multilabel=True, target_hop=4, generator=0)
    x, y = _events(4, 3, spectral=False)
    x = x * (1 + torch.rand(B, T, generator=generator(9)))  # events of some level
    out, targets, _ = mixer(x, y, LENGTHS)
    lam, perm = mixer.last_params.lam, mixer.last_params.perm
    # An event is in the targets exactly where it is in the audio.
    assert torch.equal(_mass(out.abs(), 4) > 0, targets[..., 0] > 0)
    for i, j in enumerate(perm.tolist()):
        if LENGTHS[i] < LENGTHS[j]:
            continue  # the shorter clip of a pair moves; the longer one stays where it is
        own = y[i, :, 0] > 0
        alone = own & ~(targets[i, :, 0] > lam[i] + 1e-6)
        # Frames with the own event and none of the partner's: the own weight.
        torch.testing.assert_close(targets[i, alone, 0], lam[i].expand(int(alone.sum())))


def test_frames_last_round_trip_and_eval():
    x, y = _events(4, 0, spectral=False)
    a = WaveformMixup(alpha=1.0, multilabel=True, target_hop=4, generator=3)
    b = WaveformMixup(alpha=1.0, multilabel=True, target_hop=4, frames_last=True, generator=3)
    _, ya, _ = a(x, y, LENGTHS)
    _, yb, _ = b(x, y.transpose(1, 2), LENGTHS)
    torch.testing.assert_close(yb, ya.transpose(1, 2))
    b.eval()
    xe, ye, le = b(x, y.transpose(1, 2), LENGTHS)
    assert xe is x and le is LENGTHS and torch.equal(ye, y.transpose(1, 2))


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_union_and_smoothing(smoothing):
    x, y = _events(4, 1, spectral=False)
    soft = WaveformMixup(alpha=1.0, multilabel=True, target_hop=4, generator=5)
    union = WaveformMixup(
        alpha=1.0, multilabel=True, union=True, label_smoothing=smoothing, target_hop=4, generator=5
    )
    _, ys = soft(x, y)
    _, yu = union(x, y)
    perm = union.last_params.perm
    smoothed = y * (1 - smoothing) + smoothing / 2
    torch.testing.assert_close(yu, torch.maximum(smoothed, smoothed[perm]))
    assert ys.shape == yu.shape


def test_mismatched_frame_counts_are_errors():
    mixer = WaveformMixup(multilabel=True, target_hop=160, generator=0)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "`labels` have 50 frames, but the audio has 16000 samples and `target_hop` is "
            "160: expected 100 (or 99) frames."
        ),
    ):
        mixer(torch.randn(2, 16000), torch.zeros(2, 50, 3))
    spec = SpectrogramMixup(multilabel=True, generator=0)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "`labels` have 25 frames, but the audio has 101 frames: frame targets "
            "at the audio's resolution need 101 (or 100) frames."
        ),
    ):
        spec(torch.randn(2, 40, 101), torch.zeros(2, 25, 3))


def test_random_choice_follows_its_member():
    x, y = _events(4, 2, spectral=True)
    kw = dict(alpha=1.0, multilabel=True, target_hop=4)
    switch = RandomChoiceMix(
        [SpectrogramMixup(scale="power", generator=1, **kw), SpectrogramCutMix(generator=2, **kw)],
        generator=0,
    )
    for _ in range(4):
        out, targets, _ = switch(x, y, LENGTHS)
        torch.testing.assert_close(targets[..., 0], _mass(out, 4), atol=1e-5, rtol=0)


def test_chain_converts_the_hop_through_the_spectrogram():
    g = generator(0)
    wave = torch.randn(4, 16000, generator=g)
    y = (torch.rand(4, 50, 3, generator=g) > 0.7).float()
    lengths = torch.tensor([16000, 9600, 12800, 6400])
    logmel = LogMelSpectrogram(n_fft=400, hop_length=160, n_mels=20)
    chain = Chain(logmel, SpectrogramMixup(alpha=1.0, multilabel=True, generator=4), target_hop=320)
    spec, targets, frames = chain(wave, y, lengths)
    direct = SpectrogramMixup(alpha=1.0, multilabel=True, target_hop=2, generator=4)
    spec2, targets2, frames2 = direct(logmel(wave), y, logmel.frame_lengths(lengths))
    torch.testing.assert_close(targets, targets2)
    assert torch.equal(frames, frames2)
    with pytest.raises(ValueError, match=re.escape("state the hop once, on the Chain")):
        Chain(logmel, SpectrogramMixup(target_hop=2), target_hop=320)


def test_mix_views_is_one_draw():
    g = generator(1)
    logmel = torch.randn(6, 8, 40, generator=g)
    emb = torch.randn(6, 16, 10, generator=g)  # (batch, dim, frames) at a hop of 4 frames
    frames = (torch.rand(6, 10, 3, generator=g) > 0.6).float()
    clip = frames.amax(dim=1)
    mask = torch.rand(6, 40, generator=g) > 0.5
    strong = torch.tensor([True, True, False, True, False, True])
    lengths = torch.tensor([40, 32, 24, 40, 16, 36])
    batch = dict(x=logmel, emb=emb, y=frames, weak=clip, mask=mask, strong=strong, n=lengths)
    views = dict(
        x="audio",
        n="lengths",
        emb=View("frames", hop=4, time_dim=-1),
        y=View("frame_targets", hop=4),
        weak="clip_targets",
        mask="mask",
        strong="strong",
        n_frames=View("lengths", hop=4),
    )
    mixer = SpectrogramCutMix(mode="box", multilabel=True, placement="random", generator=3)
    out = mixer.mix_views(batch, views)
    params = mixer.last_params
    # The same draw replayed through forward gives the same audio, frame targets and lengths.
    x2, y2, n2 = mixer(logmel, frames, lengths, params=params, target_hop=4)
    assert torch.equal(out["x"], x2) and torch.equal(out["n"], n2)
    torch.testing.assert_close(out["y"], y2)
    assert out["emb"].shape == emb.shape and out["n_frames"].tolist() == [10, 8, 6, 10, 4, 9]
    # Clip targets by the applied (kept-area) weights; strong flags by who is in each mix.
    lam, perm = params.lam, params.perm
    torch.testing.assert_close(out["weak"], lam[:, None] * clip + (1 - lam[:, None]) * clip[perm])
    want = (strong | (lam == 0)) & (strong[perm] | (lam == 1))
    assert torch.equal(out["strong"], want)
    # Masks: a CutMix row keeps its own valid frames.
    assert out["mask"].dtype == torch.bool and out["mask"].shape == mask.shape
    mixer.eval()
    clean = mixer.mix_views(batch, views)
    assert clean["x"] is logmel and torch.equal(clean["y"], frames)


@given(lam=st.floats(0.0, 1.0), shift=st.integers(0, 20))
def test_soft_frame_targets_of_a_pair_sum_like_the_clip_weights(lam, shift):
    # Two clips active in every valid frame, one class each: in the frames where both are,
    # the weights sum to 1; where one is, it has its own clip weight.
    x = torch.ones(2, 40)
    y = torch.zeros(2, 10, 2)
    y[0, :, 0] = 1.0
    y[1, :, 1] = 1.0
    lengths = torch.tensor([40, 20])
    mixer = WaveformMixup(multilabel=True, target_hop=4, generator=0)
    params = mixer.sample_params(2, lengths)
    params = type(params)(
        lam=torch.tensor([lam, lam]),
        perm=torch.tensor([1, 0]),
        applied=torch.tensor([True, True]),
        offsets=torch.tensor([shift, shift]),
    )
    _, targets, _ = mixer(x, y, lengths, params=params)
    both = targets[0].sum(dim=1)
    frames = torch.arange(10)
    inside = (frames * 4 >= shift) & ((frames + 1) * 4 <= shift + 20)
    torch.testing.assert_close(both[inside], torch.ones(int(inside.sum())))
    outside = ((frames + 1) * 4 <= shift) | (frames * 4 >= shift + 20)
    torch.testing.assert_close(targets[0, outside, 0], torch.full((int(outside.sum()),), lam))


@pytest.mark.parametrize("cls", [WaveformCutMix, WaveformMixup])
def test_a_call_that_mixes_no_row_keeps_the_targets(cls):
    x, y = _events(4, 0, spectral=False)
    mixer = cls(multilabel=True, target_hop=4, generator=0)
    out, targets, _ = mixer(x[:1], y[:1], LENGTHS[:1])  # a batch of one is never mixed
    assert torch.equal(out, x[:1]) and torch.equal(targets, y[:1])
