"""Clips of different lengths: pad_batch, align, lengths_to_mask, mix_lengths."""

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from audiomix.functional import align, lengths_to_mask, mix_lengths, pad_batch
from tests._helpers import generator as _gen


def _clips(lengths, lead=(), seed=0, dtype=torch.float32):
    g = _gen(seed)
    return [torch.randn(*lead, n, generator=g).to(dtype) for n in lengths]


lengths_st = st.lists(st.integers(1, 60), min_size=1, max_size=6)
lead_st = st.sampled_from([(), (2,), (3, 4)])


@given(
    lengths=lengths_st,
    lead=lead_st,
    extra=st.integers(0, 5),
    multiple_of=st.sampled_from([None, 1, 8]),
    pad_value=st.sampled_from([0.0, -1.5]),
)
def test_pad_batch(lengths, lead, extra, multiple_of, pad_value):
    clips = _clips(lengths, lead)
    before = [c.clone() for c in clips]
    length = max(lengths) + extra if extra else None
    batch, lens = pad_batch(clips, pad_value=pad_value, length=length, multiple_of=multiple_of)
    expected = length or max(lengths)
    if multiple_of:
        expected = -(-expected // multiple_of) * multiple_of
    assert batch.shape == (len(clips), *lead, expected)
    assert lens.dtype == torch.int64 and lens.tolist() == lengths
    for i, c in enumerate(clips):
        assert torch.equal(batch[i, ..., : lengths[i]], c)  # original samples kept
        assert (batch[i, ..., lengths[i] :] == pad_value).all()
        assert torch.equal(c, before[i])


def test_pad_batch_dtype_device(float_dtype, device):
    clips = [c.to(device) for c in _clips([5, 9, 2], dtype=float_dtype)]
    batch, lens = pad_batch(clips)
    assert batch.dtype == float_dtype and batch.device.type == device
    assert lens.device.type == device


@given(
    lengths=lengths_st,
    lead=lead_st,
    target=st.integers(1, 70),
    fill=st.sampled_from(["pad", "repeat"]),
    position=st.sampled_from(["start", "center", "random"]),
    seed=st.integers(0, 1000),
)
def test_align_exact_length_keeps_samples(lengths, lead, target, fill, position, seed):
    clips = _clips(lengths, lead, seed=seed)
    before = [c.clone() for c in clips]
    batch, lens = align(
        clips, target, mode=fill, placement=position, pad_value=-3.0, generator=_gen(seed)
    )
    assert batch.shape == (len(clips), *lead, target)
    for i, c in enumerate(clips):
        n = c.shape[-1]
        row = batch[i]
        assert torch.equal(c, before[i])
        if n >= target:
            assert lens[i] == target
            # A window of the clip, copied exactly; start/center at their offsets.
            starts = [s for s in range(n - target + 1) if torch.equal(row, c[..., s : s + target])]
            assert starts, "cropped row is not a window of the clip"
            if position == "start":
                assert 0 in starts
            elif position == "center":
                assert (n - target) // 2 in starts
        else:
            gap = target - n
            s = {"start": 0, "center": gap // 2}.get(position)
            if s is None:  # random: find where the clip was put
                s = next(k for k in range(gap + 1) if torch.equal(row[..., k : k + n], c))
            assert torch.equal(row[..., s : s + n], c)
            if fill == "pad":
                assert lens[i] == n
                assert (row[..., :s] == -3.0).all() and (row[..., s + n :] == -3.0).all()
            else:
                assert lens[i] == target
                idx = (torch.arange(target) - s) % n
                assert torch.equal(row, c[..., idx])


def test_align_examples():
    ramp = torch.arange(1.0, 4.0)  # [1, 2, 3]
    batch, lens = align([ramp], 7, mode="repeat", placement="center")
    # Clip starts at (7 - 3) // 2 = 2, cycles right and wraps left.
    assert batch[0].tolist() == [2.0, 3.0, 1.0, 2.0, 3.0, 1.0, 2.0] and lens.tolist() == [7]
    batch, lens = align(ramp, 2, placement="center")  # a single tensor is one clip
    assert batch.tolist() == [[1.0, 2.0]] and lens.tolist() == [2]
    batch, lens = align([ramp, torch.arange(10.0)], 5, placement="center")
    assert batch.tolist() == [[0.0, 1.0, 2.0, 3.0, 0.0], [2.0, 3.0, 4.0, 5.0, 6.0]]
    assert lens.tolist() == [3, 5]


def test_align_random_is_reproducible_and_uses_the_generator():
    clips = _clips([50, 3, 20])
    state = torch.get_rng_state()
    a, _ = align(clips, 10, placement="random", generator=_gen(5))
    b, _ = align(clips, 10, placement="random", generator=_gen(5))
    assert torch.equal(a, b)
    assert torch.equal(state, torch.get_rng_state())
    outs = {
        align(clips, 10, placement="random", generator=_gen(s))[0][0, 0].item() for s in range(20)
    }
    assert len(outs) > 5  # the crop window moves


def test_align_dtype_device(float_dtype, device):
    clips = [c.to(device) for c in _clips([5, 12], dtype=float_dtype)]
    for fill in ("pad", "repeat"):
        batch, lens = align(clips, 8, mode=fill)
        assert batch.dtype == float_dtype and batch.device.type == device
        assert lens.device.type == device


def test_lengths_to_mask():
    mask = lengths_to_mask(torch.tensor([1, 3, 2]))
    assert mask.dtype == torch.bool
    assert mask.tolist() == [[True, False, False], [True, True, True], [True, True, False]]
    assert lengths_to_mask(torch.tensor([2]), max_length=4).tolist() == [[True, True, False, False]]
    assert lengths_to_mask(torch.tensor([], dtype=torch.int64)).shape == (0, 0)


def test_mix_lengths():
    lengths = torch.tensor([5, 9, 2, 7])
    perm = torch.tensor([2, 0, 3, 1])
    assert mix_lengths(lengths, perm).tolist() == [5, 9, 7, 9]
    assert torch.equal(mix_lengths(lengths, torch.arange(4)), lengths)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("writeable", [True, False])
def test_numpy_clips_give_the_tensor_results_and_stay_unchanged(dtype, writeable):
    arrays = [c.numpy().astype(dtype) for c in _clips([7, 3, 11], lead=(2,))]
    arrays[2] = arrays[2][..., ::-1]  # negative strides, which torch cannot wrap
    for a in arrays:
        a.flags.writeable = writeable
    before = [a.copy() for a in arrays]
    tensors = [torch.from_numpy(a.copy()) for a in arrays]
    with warnings.catch_warnings():
        # torch warns (once per process) when it wraps a read-only array: none is wrapped.
        warnings.simplefilter("error")
        batch, lengths = pad_batch(arrays, pad_value=-1.0)
        aligned, aligned_lengths = align(arrays, 5, mode="repeat", placement="center")
        one, _ = align(arrays[0], 4)  # one array is one clip
    ref = pad_batch(tensors, pad_value=-1.0)
    assert batch.dtype == ref[0].dtype == tensors[0].dtype
    assert torch.equal(batch, ref[0]) and torch.equal(lengths, ref[1])
    ref = align(tensors, 5, mode="repeat", placement="center")
    assert torch.equal(aligned, ref[0]) and torch.equal(aligned_lengths, ref[1])
    assert torch.equal(one, align(tensors[0], 4)[0])
    batch += 1.0  # the output owns its memory
    for a, b in zip(arrays, before, strict=True):
        np.testing.assert_array_equal(a, b)


def test_numpy_clip_errors():
    with pytest.raises(
        TypeError, match=r"`clips\[1\]` must be a torch.Tensor or a NumPy array, but got list"
    ):
        pad_batch([np.zeros(3), [0.0, 1.0]])
    with pytest.raises(
        TypeError, match=r"`clips\[0\]` is a NumPy array of dtype object, which torch cannot hold"
    ):
        align([np.array([None, 1.0])], 3)
    with pytest.raises(
        ValueError, match=r"`clips` must share dtype and device: `clips\[0\]` is torch.float64"
    ):
        pad_batch([np.zeros(3), np.zeros(3, dtype=np.float32)])
