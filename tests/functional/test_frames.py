"""Frame targets and time-aligned views: shifts, spans, hops, weights, checks."""

from __future__ import annotations

import math
import re
from fractions import Fraction

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from audiomix.functional import (
    mix_frames,
    mix_strong_flags,
    mix_targets,
    mixup_time_map,
    prepare_frame_targets,
    shift_frames,
    span_cover,
    span_time_map,
    target_lengths,
)
from audiomix.functional._cutmix import _fade_weights
from audiomix.functional._frames import TimeMap, check_frame_count, check_hop, expected_frames
from tests._helpers import generator


def _brute_cover(t0, t1, num_frames, hop, length, fade):
    """Share of each frame's valid positions inside the span, by integrating the fade weights
    (the ones cutmix uses) position by position."""
    w = _fade_weights(torch.tensor([t0]), torch.tensor([t1]), length, fade)[0].tolist()
    out = []
    for f in range(num_frames):
        lo, hi = f * hop, min((f + 1) * hop, length)
        if hi <= lo:
            out.append(0.0)
            continue
        total, k = 0.0, math.floor(lo)
        while k < hi:
            total += (min(hi, k + 1) - max(lo, k)) * w[k]
            k += 1
        out.append(total / (hi - lo))
    return out


@pytest.mark.parametrize("hop", [1, 4, 160, Fraction(5, 2), 0.5])
@pytest.mark.parametrize("fade", [0, 3])
def test_span_cover_integrates_the_cut(hop, fade):
    g = generator(1)
    for _ in range(20):
        length = int(torch.randint(20, 400, (), generator=g))
        t0 = int(torch.randint(0, length, (), generator=g))
        t1 = int(torch.randint(t0, length + 1, (), generator=g))
        frames = math.ceil(length / float(hop))
        got = span_cover(
            torch.tensor([t0]),
            torch.tensor([t1]),
            frames,
            hop,
            lengths=torch.tensor([length]),
            fade=fade,
        )[0]
        want = torch.tensor(_brute_cover(t0, t1, frames, float(hop), length, fade))
        torch.testing.assert_close(got, want, atol=1e-6, rtol=0)


def test_span_cover_hand_computed():
    # Span [6, 14) over frames of 4: frame 1 = [4, 8) half covered, frame 2 whole, frame 3 half.
    got = span_cover(torch.tensor([6]), torch.tensor([14]), 4, hop=4)
    assert got.tolist() == [[0.0, 0.5, 1.0, 0.5]]
    # A clip of 10 positions: frame 2 has 2 valid positions [8, 10), both in the span.
    got = span_cover(torch.tensor([6]), torch.tensor([10]), 4, hop=4, lengths=torch.tensor([10]))
    assert got.tolist() == [[0.0, 0.5, 1.0, 0.0]]


def test_shift_frames_hand_computed():
    y = torch.tensor([[1.0, 0.0, 0.0, 0.0]])
    assert shift_frames(y, torch.tensor([8]), hop=4).tolist() == [[0.0, 0.0, 1.0, 0.0]]
    # 6 positions at a hop of 4: half of frame 0 lands in frame 1, half in frame 2.
    assert shift_frames(y, torch.tensor([6]), hop=4).tolist() == [[0.0, 0.5, 0.5, 0.0]]
    back = shift_frames(torch.tensor([[0.0, 0.0, 1.0, 0.0]]), torch.tensor([-4]), hop=4)
    assert back.tolist() == [[0.0, 1.0, 0.0, 0.0]]
    # Hop 1/2 (two frames per position): a shift of 1 position is 2 frames.
    assert shift_frames(y, torch.tensor([1]), hop=0.5).tolist() == [[0.0, 0.0, 1.0, 0.0]]


@given(
    shift=st.integers(0, 40),
    hop=st.sampled_from([1, 2, 3, 4, 5]),
    frames=st.integers(1, 12),
)
def test_shift_frames_keeps_the_mass_inside(shift, hop, frames):
    # Frames are constant over their hop: a shift moves mass, never creates it; what stays
    # inside the axis is the mass of the positions that stay inside.
    y = torch.rand(1, frames, 2, generator=generator(shift))
    out = shift_frames(y, torch.tensor([shift]), hop=hop)
    positions = y.repeat_interleave(hop, dim=1)
    kept = positions[:, : max(0, frames * hop - shift)].sum(dim=1) / hop
    torch.testing.assert_close(out.sum(dim=1), kept, atol=1e-5, rtol=1e-5)


def test_target_lengths_and_expected_frames():
    assert target_lengths(torch.tensor([16000, 15999, 161, 160]), 160).tolist() == [100, 100, 2, 1]
    assert target_lengths(torch.tensor([101]), 4, num_frames=25).tolist() == [25]
    assert expected_frames(16000, Fraction(160)) == (99, 100)
    assert expected_frames(101, Fraction(4)) == (25, 26)
    assert expected_frames(101, None) == (100, 101)


@pytest.mark.parametrize(
    "frames, positions, hop, pattern",
    [
        (
            100,
            16000,
            None,
            "`labels` have 100 frames, but the audio has 16000 positions: frame targets at the "
            "audio's resolution need 16000 (or 15999) frames. For targets at another resolution, "
            "pass `target_hop` (audio positions per target frame) to the mixer.",
        ),
        (
            24,
            101,
            Fraction(4),
            "`labels` have 24 frames, but the audio has 101 positions and `target_hop` is 4: "
            "expected 26 (or 25) frames.",
        ),
        (
            101,
            16000,
            Fraction(160),
            "`labels` have 101 frames, but the audio has 16000 positions and `target_hop` is "
            "160: expected 100 (or 99) frames.",
        ),
    ],
)
def test_frame_count_errors(frames, positions, hop, pattern):
    with pytest.raises(ValueError, match=f"^{re.escape(pattern)}$"):
        check_frame_count(frames, positions, hop)


@pytest.mark.parametrize(
    "hop, exc, pattern",
    [
        (0, ValueError, "`target_hop` must be > 0, but got 0."),
        (-2.5, ValueError, "`target_hop` must be > 0, but got -2.5."),
        (float("inf"), ValueError, "`target_hop` must be > 0, but got inf."),
        ("160", TypeError, "`target_hop` must be a number of input positions per frame, but "),
        (True, TypeError, "`target_hop` must be a number of input positions per frame, but "),
    ],
)
def test_bad_hops(hop, exc, pattern):
    with pytest.raises(exc, match=re.escape(pattern)):
        check_hop(hop)


def test_check_hop_keeps_fractions_exact():
    assert check_hop(160) == 160 and check_hop(0.625) == Fraction(5, 8)
    assert check_hop(Fraction(1024, 256)) == 4


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int64, torch.bool])
def test_prepare_frame_targets_layouts_and_dtypes(dtype):
    y = torch.rand(3, 7, 4, generator=generator(2)) > 0.5
    y = y.to(dtype)
    out = prepare_frame_targets(y, num_classes=4, multilabel=True)
    assert out.shape == (3, 7, 4) and out.is_floating_point()
    last = prepare_frame_targets(
        y.transpose(1, 2), num_classes=4, multilabel=True, frames_last=True
    )
    torch.testing.assert_close(last, out)
    smoothed = prepare_frame_targets(y, multilabel=True, label_smoothing=0.2)
    torch.testing.assert_close(smoothed, out.to(smoothed.dtype) * 0.8 + 0.1)


@pytest.mark.parametrize(
    "labels, kw, pattern",
    [
        (
            torch.zeros(2, 5, 3),
            dict(num_classes=4),
            "frame targets (batch, frames, classes) of shape (2, 5, 3) have 3 classes, but "
            "`num_classes` is 4. For (batch, classes, frames), pass `frames_last=True`.",
        ),
        (
            torch.full((2, 5, 3), 2.0),
            dict(multilabel=True),
            "frame targets must lie in [0, 1], but got values in [2.0, 2.0].",
        ),
        (
            torch.full((2, 5, 3), float("nan")),
            dict(multilabel=True),
            "frame targets contain NaN or Inf values.",
        ),
        (
            torch.ones(2, 5, 3),
            dict(),
            "single-label frame targets must have frames that sum to 1 (or 0 where nothing is "
            "labelled), but a frame sums to 3; pass `multilabel=True` for overlapping events.",
        ),
        (
            torch.ones(2, 5),
            dict(),
            "frame targets must be (batch, frames, classes), but got shape (2, 5).",
        ),
    ],
)
def test_prepare_frame_targets_errors(labels, kw, pattern):
    with pytest.raises(ValueError, match=f"^{re.escape(pattern)}$"):
        prepare_frame_targets(labels, **kw)


def test_mixup_frames_sum_like_clip_weights():
    # Own events in class 0, partners' in class 1, every frame active: per frame the two
    # weights are the clip weights, λ and 1 - λ.
    b, f = 6, 9
    y = torch.zeros(b, f, 2)
    y[:3, :, 0] = 1.0
    y[3:, :, 1] = 1.0
    lam = torch.rand(b, generator=generator(3))
    perm = torch.tensor([3, 4, 5, 0, 1, 2])
    out = mix_frames(y, mixup_time_map(lam, perm, None, None))
    torch.testing.assert_close(out.sum(dim=2), torch.ones(b, f))
    torch.testing.assert_close(out[:3, :, 0], lam[:3, None].expand(3, f))
    # Without a placement, frame targets mix exactly as mix_targets mixes them.
    torch.testing.assert_close(out, mix_targets(y, lam, perm, multilabel=True))


def test_union_is_the_max():
    y = torch.rand(5, 8, 3, generator=generator(4))
    perm = torch.tensor([1, 2, 3, 4, 0])
    lam = torch.tensor([0.3, 0.5, 0.9, 1.0, 0.0])
    out = mix_frames(y, mixup_time_map(lam, perm, None, None), union=True)
    want = torch.maximum(y, y[perm])
    want[3] = y[3]  # weight 1: nothing of the partner
    want[4] = y[0]  # weight 0: nothing of its own
    torch.testing.assert_close(out, want)


def test_placement_moves_the_shorter_clip_and_zeroes_padding():
    # Clip 0: 12 positions, clip 1: 6 positions placed at offset 4 inside clip 0 (hop 2).
    y = torch.zeros(2, 6, 1)
    y[0, 0] = 1.0  # clip 0's event: positions [0, 2)
    y[1, 0] = 1.0  # clip 1's event: positions [0, 2), lands at [4, 6) in the mix
    y[1, 4] = 1.0  # past clip 1's valid length (3 frames): padding, must not count
    lengths, offsets = torch.tensor([12, 6]), torch.tensor([4, 4])
    lam = torch.tensor([0.75, 0.25])
    perm = torch.tensor([1, 0])
    out = mix_frames(y, mixup_time_map(lam, perm, lengths, offsets), hop=2, lengths=lengths)
    assert out[0, :, 0].tolist() == [0.75, 0.0, 0.25, 0.0, 0.0, 0.0]
    # Row 1 is the shorter clip: its own events move by the offset, the partner stays.
    assert out[1, :, 0].tolist() == [0.75, 0.0, 0.25, 0.0, 0.0, 0.0]


def test_cutmix_span_hand_computed():
    # Hop 4; span [6, 14) of the partner pasted into clip 0, no offsets.
    y = torch.zeros(2, 4, 2)
    y[0, :, 0] = 1.0
    y[1, :, 1] = 1.0
    tmap = span_time_map(
        torch.tensor([0.5, 1.0]),
        torch.tensor([1, 0]),
        torch.tensor([6, 0]),
        torch.tensor([14, 0]),
        lengths=None,
        offsets=None,
    )
    out = mix_frames(y, tmap, hop=4)
    assert out[0, :, 1].tolist() == [0.0, 0.5, 1.0, 0.5]
    assert out[0, :, 0].tolist() == [1.0, 0.5, 0.0, 0.5]
    assert out[1].tolist() == y[1].tolist()  # weight 1: nothing pasted
    # A box of a quarter of the bins: a quarter of the covered share.
    box = span_time_map(
        torch.tensor([0.5, 1.0]),
        torch.tensor([1, 0]),
        torch.tensor([6, 0]),
        torch.tensor([14, 0]),
        lengths=None,
        offsets=None,
        span_share=torch.tensor([0.25, 1.0]),
    )
    assert mix_frames(y, box, hop=4)[0, :, 1].tolist() == [0.0, 0.125, 0.25, 0.125]


def test_strong_flags():
    strong = torch.tensor([True, True, False, True, True])
    lam = torch.tensor([0.5, 0.5, 0.5, 1.0, 0.0])
    perm = torch.tensor([1, 2, 0, 2, 2])
    got = mix_strong_flags(strong, lam, perm)
    # 0 x 1 strong; 1 x 2 weak partner; 2 weak itself; 3 unmixed (λ = 1); 4 all partner, weak.
    assert got.tolist() == [True, False, False, True, False]


def test_inputs_are_not_modified():
    y = torch.rand(3, 5, 2, generator=generator(5))
    before = y.clone()
    mix_frames(y, mixup_time_map(torch.full((3,), 0.5), torch.tensor([2, 0, 1]), None, None))
    shift_frames(y, torch.tensor([1, 2, 3]), hop=2)
    assert torch.equal(y, before)


@pytest.mark.parametrize("union", [False, True])
@pytest.mark.parametrize("moved", ["neither", "partner", "both"])
def test_mixed_frames_hold_their_own_bytes_only(moved, union):
    # Whatever the sides' shifts, the result is a tensor of its own: a view into a larger
    # gather would carry the whole buffer along when pickled to a DataLoader's main process.
    y = torch.rand(4, 6, 3, generator=generator(6))
    zero, shift = torch.zeros(4, dtype=torch.int64), torch.tensor([0, 3, 2, 0])
    own_shift = shift.flip(0) if moved == "both" else zero
    partner_shift = zero if moved == "neither" else shift
    lam = torch.full((4,), 0.6)
    tmap = TimeMap(torch.tensor([1, 2, 3, 0]), own_shift, partner_shift, lam, 1 - lam, blend=True)
    out = mix_frames(y, tmap, hop=2, lengths=torch.tensor([12, 10, 12, 8]), union=union)
    assert out.untyped_storage().nbytes() == out.numel() * out.element_size()
