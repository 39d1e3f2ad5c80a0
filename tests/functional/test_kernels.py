"""functional.mix: the finiteness check on the output blocks, and the length-aware block paths.

``check_finite=True`` does not scan the input: it checks each output block while it is in
cache. That is only right if a non-finite value in a sample's valid region always reaches the
output, and nothing else does; the hypothesis tests below check that equivalence directly.
"""

from unittest import mock

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from audiomix.functional import (
    _kernels,
    lengths_to_mask,
    mix,
    mix_lengths,
    sample_mix_params,
    sample_offsets,
)
from tests._helpers import CUDA, generator, padded_batch

BAD = [float("nan"), float("inf"), float("-inf")]


def _valid(x, lengths):
    """(batch, ..., time) mask of the valid region (everything without lengths)."""
    if lengths is None:
        return torch.ones_like(x, dtype=torch.bool)
    mask = lengths_to_mask(lengths, x.shape[-1])
    return mask.view(x.shape[0], *[1] * (x.ndim - 2), x.shape[-1]).expand_as(x)


@st.composite
def batches(draw):
    """A batch with non-finite values planted (or not), weights including 0 and 1, partners
    with self-partners and repeats, and maybe lengths with a placement."""
    b = draw(st.integers(1, 6))
    t = draw(st.integers(1, 24))
    channels = draw(st.sampled_from([None, 2]))
    seed = draw(st.integers(0, 2**16))
    g = generator(seed)
    shape = (b, t) if channels is None else (b, channels, t)
    dtype = draw(st.sampled_from([torch.float32, torch.float64, torch.float16]))
    x = torch.randn(shape, generator=g).to(dtype)
    for _ in range(draw(st.integers(0, 3))):
        flat = draw(st.integers(0, x.numel() - 1))
        x.view(-1)[flat] = draw(st.sampled_from(BAD))
    lam = torch.tensor(
        draw(st.lists(st.sampled_from([0.0, 1.0, 0.5, 0.3, 0.999]), min_size=b, max_size=b))
    )
    kind = draw(st.sampled_from(["identity", "permutation", "repeats"]))
    if kind == "identity":
        perm = torch.arange(b)
    elif kind == "permutation":
        perm = torch.randperm(b, generator=g)
    else:
        perm = torch.randint(b, (b,), generator=g)
    lengths = offsets = None
    if draw(st.booleans()):
        lengths = torch.randint(1, t + 1, (b,), generator=g)
        placement = draw(st.sampled_from(["start", "center", "random"]))
        offsets = sample_offsets(lengths, perm, placement=placement, generator=g)
    return x, lam, perm, lengths, offsets


@given(batches())
def test_output_is_non_finite_iff_the_valid_input_is(batch):
    # The property the fused check rests on: lerp keeps NaN and ±Inf for every weight in
    # [0, 1] (0 and 1 included), every sample's own row reaches its own output, and padding
    # is replaced by the (finite) fill before anything reads it.
    x, lam, perm, lengths, offsets = batch
    out = mix(x, lam, perm, lengths=lengths, offsets=offsets)
    bad_in = bool((~torch.isfinite(x) & _valid(x, lengths)).any())
    assert bool((~torch.isfinite(out)).any()) == bad_in


@given(batches())
def test_check_finite_raises_iff_the_valid_input_is_not_finite(batch):
    x, lam, perm, lengths, offsets = batch
    bad_in = bool((~torch.isfinite(x) & _valid(x, lengths)).any())
    plain = mix(x, lam, perm, lengths=lengths, offsets=offsets)
    if bad_in:
        with pytest.raises(ValueError, match="`x` contains NaN or Inf values"):
            mix(x, lam, perm, lengths=lengths, offsets=offsets, check_finite=True)
    else:
        checked = mix(x, lam, perm, lengths=lengths, offsets=offsets, check_finite=True)
        assert torch.equal(checked, plain)


def test_check_finite_message_names_the_argument_and_the_way_out():
    x = torch.zeros(3, 50)
    x[1, 7] = float("nan")
    with pytest.raises(
        ValueError,
        match=r"^`waveform` contains NaN or Inf values\. Clean the "
        r"input, or pass `check_finite=False` to mix it anyway",
    ):
        mix(x, 0.5, torch.tensor([2, 0, 1]), check_finite=True, name="waveform")
    lengths = torch.tensor([50, 50, 20])
    x[1, 7] = 0.0
    x[2, 30] = float("inf")  # padding: never read
    mix(x, 0.5, torch.tensor([2, 0, 1]), lengths=lengths, check_finite=True)
    x[2, 3] = float("-inf")
    with pytest.raises(
        ValueError,
        match=r"^`specgram` contains NaN or Inf values in its valid "
        r"region\. Clean the input, or pass `check_finite=False`",
    ):
        mix(x, 0.5, torch.tensor([2, 0, 1]), lengths=lengths, check_finite=True, name="specgram")


def test_name_is_used_in_the_other_messages_too():
    with pytest.raises(TypeError, match="`waveform` must be a torch.Tensor"):
        mix([1.0, 2.0], 0.5, torch.tensor([0]), name="waveform")
    x = torch.zeros(2, 10)
    with pytest.raises(ValueError, match="`out` must not share memory with `waveform`"):
        mix(x, 0.5, torch.tensor([1, 0]), out=x, name="waveform")


@pytest.mark.parametrize(
    "dtype, big",
    [
        (torch.float32, 3e38),
        (torch.float64, 1.7e308),
        (torch.bfloat16, 3e38),
        (torch.float16, 60000.0),
    ],
)
def test_finite_input_whose_mix_overflows_is_not_reported(dtype, big):
    # Decision: the check is about the input. b - a overflows for values near the dtype's
    # maximum and opposite signs; the output then holds ±Inf exactly as without the check.
    # float16 is the exception: lerp computes it in float32, so its mix cannot overflow.
    x = torch.tensor([[big, -big, 1.0], [-big, big, 2.0]], dtype=dtype)
    plain = mix(x, 0.3, torch.tensor([1, 0]))
    assert bool(torch.isfinite(plain).all()) == (dtype == torch.float16)
    checked = mix(x, 0.3, torch.tensor([1, 0]), check_finite=True)
    torch.testing.assert_close(checked, plain, rtol=0, atol=0, equal_nan=True)


def test_float16_block_sum_overflow_is_confirmed_against_the_input():
    # The block check is a sum: finite float16 values near 65504 overflow it. The input scan
    # that confirms a non-finite sum finds nothing, so nothing is raised.
    x = torch.full((8, 1000), 60000.0, dtype=torch.float16)
    out = mix(x, 0.5, torch.arange(8).flip(0), check_finite=True)
    assert torch.isfinite(out).all() and torch.equal(out, x)


def test_non_finite_fill_is_not_the_input():
    # fill is the caller's silence, not input: a -inf floor makes the mix non-finite beyond
    # each pair's valid length (lerp of -inf and -inf is NaN), and that raises nothing.
    x = torch.randn(3, 20, generator=generator())
    lengths, perm = torch.tensor([20, 5, 12]), torch.tensor([1, 2, 0])
    out = mix(x, 0.5, perm, lengths=lengths, fill=float("-inf"), check_finite=True)
    valid = lengths_to_mask(mix_lengths(lengths, perm), 20)
    assert not torch.isfinite(out[~valid]).any()
    both = lengths_to_mask(torch.minimum(lengths, lengths[perm]), 20)
    assert torch.isfinite(out[both]).all()


@pytest.mark.parametrize(
    "row_elems",
    [_kernels._BLOCK_BYTES // 4 // 8 + 3, _kernels._BLOCK_BYTES // 4 + 11],
    ids=["rows", "columns"],
)
def test_check_finite_in_every_block_path(row_elems):
    # Batches past _BLOCK_BYTES are mixed (and checked) block by block, or column by column.
    b = 9 if row_elems < _kernels._BLOCK_BYTES // 4 else 2
    x = torch.zeros(b, row_elems)
    perm = torch.arange(b).flip(0)
    mix(x, 0.5, perm, check_finite=True)
    x[-1, -1] = float("nan")  # in the last block
    with pytest.raises(ValueError, match="contains NaN or Inf values"):
        mix(x, 1.0, perm, check_finite=True)


def test_check_finite_with_autograd():
    x = torch.randn(3, 10, generator=generator())
    x[0, 0] = float("inf")
    x.requires_grad_()
    with pytest.raises(ValueError, match="`h` contains NaN or Inf values"):
        mix(x, torch.tensor([0.0, 1.0, 0.5]), torch.tensor([1, 2, 0]), check_finite=True, name="h")
    lengths = torch.tensor([10, 10, 4])
    with pytest.raises(ValueError, match="in its valid region"):
        mix(x, 0.5, torch.tensor([1, 2, 0]), lengths=lengths, check_finite=True)


# --- the length-aware path, block by block -----------------------------------------------------


def _placed_reference(x, lam, perm, lengths, offsets, fill):
    """Each clip and partner placed in silence by hand, then one torch.lerp: the arithmetic of
    the library, so the comparison is exact."""
    b, t = x.shape[0], x.shape[-1]
    x3 = x.reshape(b, -1, t)
    fill = torch.as_tensor(fill, dtype=x.dtype).expand(b)
    own, par = torch.empty_like(x3), torch.empty_like(x3)
    for i in range(b):
        j = int(perm[i])
        a, c, off = int(lengths[i]), int(lengths[j]), int(offsets[i])
        s_own, s_par = (off, 0) if a < c else (0, off)
        own[i] = fill[i]
        own[i, :, s_own : s_own + a] = x3[i, :, :a]
        par[i] = fill[j]
        par[i, :, s_par : s_par + c] = x3[j, :, :c]
    w = lam if isinstance(lam, float) else lam.to(x.dtype).view(b, 1, 1)
    return torch.lerp(par, own, w).view_as(x)


@pytest.mark.parametrize(
    "block, smallest",
    [(2 << 20, 256 << 10), (256, 64), (40, 8)],
    ids=["default", "small-blocks", "column-chunks"],
)
@given(
    lengths=st.lists(st.integers(1, 40), min_size=1, max_size=6),
    channels=st.sampled_from([None, 3]),
    placement=st.sampled_from(["start", "center", "random"]),
    fill=st.sampled_from([0.0, -0.0, -80.0, "per-clip"]),
    dtype=st.sampled_from([torch.float32, torch.float16, torch.bfloat16, torch.float64]),
    seed=st.integers(0, 2**16),
)
def test_length_aware_blocks_are_exact(
    block, smallest, lengths, channels, placement, fill, dtype, seed
):
    # Whole samples per block, channel rows per block, or column chunks of a row: every way
    # of cutting the batch gives the reference bit for bit, whatever garbage the padding holds.
    x, lengths_t = padded_batch(
        lengths, channels=channels, garbage=float("nan"), seed=seed, dtype=dtype
    )
    b = x.shape[0]
    g = generator(seed)
    fill_v = torch.randn(b, generator=g).to(dtype) * 10 if fill == "per-clip" else fill
    params = sample_mix_params(
        b, alpha=1.0, per_sample=True, lengths=lengths_t, placement=placement, generator=g
    )
    with (
        mock.patch.object(_kernels, "_LENGTHS_BLOCK_BYTES", block),
        mock.patch.object(_kernels, "_LENGTHS_MIN_BLOCK_BYTES", smallest),
    ):
        out = mix(
            x, params.lam, params.perm, lengths=lengths_t, offsets=params.offsets, fill=fill_v
        )
    ref = _placed_reference(x, params.lam, params.perm, lengths_t, params.offsets, fill_v)
    assert torch.equal(out, ref)
    if fill == -0.0:  # the sign of a zero fill is kept too
        assert torch.equal(torch.signbit(out), torch.signbit(ref))


def test_length_aware_shifted_first_clip():
    # The first clip shifted right reads before the start of the flattened batch: only what
    # exists is copied, the mask does the rest.
    x = torch.tensor([[1.0, 2.0, float("nan"), float("nan")], [3.0, 4.0, 5.0, 6.0]])
    lengths, perm = torch.tensor([2, 4]), torch.tensor([1, 0])
    out = mix(x, 1.0, perm, lengths=lengths, offsets=torch.tensor([2, 2]))
    assert torch.equal(out[0], torch.tensor([0.0, 0.0, 1.0, 2.0]))
    out = mix(x, 0.0, perm, lengths=lengths, offsets=torch.tensor([1, 1]))
    assert torch.equal(out[1], torch.tensor([0.0, 1.0, 2.0, 0.0]))


def test_length_aware_peak_memory_is_under_twice_the_output():
    from torch.profiler import ProfilerActivity, profile

    g = generator(3)
    x = torch.randn(64, 16000, generator=g)
    lengths = torch.randint(8000, 16001, (64,), generator=g)
    params = sample_mix_params(
        64, alpha=1.0, per_sample=True, lengths=lengths, placement="random", generator=g
    )
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        out = mix(
            x,
            params.lam,
            params.perm,
            lengths=lengths,
            offsets=params.offsets,
            fill=torch.full((64,), -1.0),
        )
        del out
    events = sorted(
        (e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"),
        key=lambda e: e.start_ns(),
    )
    level = peak = 0
    for e in events:
        level += e.nbytes()
        peak = max(peak, level)
    assert 1.0 <= peak / (x.numel() * x.element_size()) <= 2.0


@pytest.mark.skipif(not CUDA, reason="CUDA not available")
def test_length_aware_mix_does_not_synchronise_on_gpu():
    x = torch.randn(8, 1000, device="cuda")
    lengths = torch.randint(1, 1001, (8,), generator=generator()).cuda()
    params = sample_mix_params(
        8,
        alpha=1.0,
        per_sample=True,
        lengths=lengths.cpu(),
        placement="random",
        generator=generator(),
    ).to("cuda")
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        mix(x, params.lam, params.perm, lengths=lengths, offsets=params.offsets, validate=False)
    finally:
        torch.cuda.set_sync_debug_mode("default")


@given(
    lengths=st.lists(st.integers(1, 30), min_size=1, max_size=6),
    channels=st.sampled_from([None, 2]),
    placement=st.sampled_from(["start", "center", "random"]),
    seed=st.integers(0, 2**16),
)
def test_device_path_equals_host_path(lengths, channels, placement, seed):
    # The path a GPU takes (one block, a margin before the first window instead of fixing it
    # by value, nothing read back), run on the CPU: the same result bit for bit.
    x, lengths_t = padded_batch(lengths, channels=channels, garbage=float("inf"), seed=seed)
    b = x.shape[0]
    g = generator(seed)
    params = sample_mix_params(
        b, alpha=1.0, per_sample=True, lengths=lengths_t, placement=placement, generator=g
    )
    fill = torch.randn(b, generator=g)
    kw = dict(lengths=lengths_t, offsets=params.offsets, fill=fill, validate=False)
    host = mix(x, params.lam, params.perm, **kw)
    with mock.patch.object(_kernels, "_host", lambda device: False):
        device = mix(x, params.lam, params.perm, **kw)
    assert torch.equal(host, device)
