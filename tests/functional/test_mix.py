"""functional.mix: lam * x + (1 - lam) * x[perm], equal-length and length-aware."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from audiomix.functional import mix, mix_lengths, sample_mix_params, sample_permutation
from audiomix.functional._kernels import _BLOCK_BYTES
from tests._helpers import generator as _gen

# Tolerance of a float64 reference against a mix computed in each dtype: a few ulps of the
# inputs' magnitude (≤ 1 here).
TOL = {
    torch.float16: dict(atol=2e-3, rtol=2e-3),
    torch.bfloat16: dict(atol=1.6e-2, rtol=1.6e-2),
    torch.float32: dict(atol=1e-6, rtol=1e-6),
    torch.float64: dict(atol=1e-12, rtol=1e-12),
}

# Waveforms (B, T), (B, C, T) and spectrograms (B, M, F), (B, C, M, F): mix treats them alike.
SHAPES = [(4, 1000), (5, 2, 300), (3, 40, 101), (7, 2, 16, 33), (1, 50)]


def _reference(x, lam, perm):
    x64 = x.double()
    lam = torch.as_tensor(lam, dtype=torch.float64).expand(x.shape[0])
    w = lam.view(-1, *[1] * (x.ndim - 1))
    return w * x64 + (1 - w) * x64[perm]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_mix_matches_reference(shape, float_dtype, device):
    g = _gen(1)
    x = torch.randn(shape, generator=g).to(float_dtype).to(device)
    b = shape[0]
    lam = torch.rand(b, generator=g)
    perm = sample_permutation(b, generator=g)
    before = x.clone()
    out = mix(x, lam.to(device), perm.to(device))
    assert out.shape == x.shape and out.dtype == float_dtype and out.device == x.device
    assert torch.equal(x, before)  # never mutated
    ref = _reference(x.cpu(), lam.to(float_dtype), perm)
    torch.testing.assert_close(out.cpu().double(), ref, **TOL[float_dtype])


@pytest.mark.parametrize(
    "lam", [0.3, torch.tensor(0.3), torch.full((6,), 0.3)], ids=["float", "0d", "B"]
)
def test_lam_forms_broadcast_alike(lam):
    x = torch.randn(6, 2, 50, generator=_gen())
    perm = sample_permutation(6, generator=_gen(1))
    assert torch.equal(mix(x, lam, perm), mix(x, torch.full((6,), 0.3), perm))


@pytest.mark.parametrize("batch_size", [1, 3, 5, 9])
def test_odd_batch_sizes(batch_size):
    x = torch.randn(batch_size, 64, generator=_gen())
    params = sample_mix_params(batch_size, alpha=1.0, per_sample=True, generator=_gen(2))
    out = mix(x, params.lam, params.perm)
    torch.testing.assert_close(out.double(), _reference(x, params.lam, params.perm))


def test_batch_of_one_is_identity():
    x = torch.randn(1, 2, 300, generator=_gen())
    assert torch.equal(mix(x, torch.tensor([0.37]), torch.tensor([0])), x)


def test_self_partner_is_identity():
    x = torch.randn(4, 100, generator=_gen())
    assert torch.equal(mix(x, torch.rand(4, generator=_gen(1)), torch.arange(4)), x)


@given(
    shape=st.sampled_from(SHAPES),
    dtype=st.sampled_from([torch.float16, torch.bfloat16, torch.float32, torch.float64]),
    seed=st.integers(0, 2**16),
)
def test_lam_one_and_zero_are_exact(shape, dtype, seed):
    g = _gen(seed)
    x = (torch.randn(shape, generator=g) * 10).to(dtype)
    b = shape[0]
    perm = sample_permutation(b, generator=g)
    assert torch.equal(mix(x, torch.ones(b), perm), x)
    assert torch.equal(mix(x, 1.0, perm), x)
    assert torch.equal(mix(x, torch.zeros(b), perm), x[perm])
    assert torch.equal(mix(x, 0.0, perm), x[perm])
    # Mixed per sample: rows with lam 1 are themselves, rows with lam 0 their partner.
    lam = (torch.rand(b, generator=g) < 0.5).float()
    out = mix(x, lam, perm)
    for i in range(b):
        assert torch.equal(out[i], x[i] if lam[i] == 1 else x[perm[i]])


@given(seed=st.integers(0, 2**16), b=st.integers(1, 9))
def test_mix_batch_consistency_per_sample_lambda(seed, b):
    # Row i of a batched call equals the mix of the pair (x[i], x[perm[i]]) alone.
    g = _gen(seed)
    x = torch.randn(b, 2, 37, generator=g)
    lam = torch.rand(b, generator=g)
    perm = sample_permutation(b, generator=g)
    out = mix(x, lam, perm)
    for i in range(b):
        pair = torch.stack([x[i], x[perm[i]]])
        alone = mix(pair, lam[i].expand(2), torch.tensor([1, 0]))[0]
        assert torch.equal(out[i], alone)


def test_block_path_equals_direct_path():
    # Inputs larger than _BLOCK_BYTES take the blockwise CPU path: same values as the one-shot
    # lerp, for rows smaller and larger than a block.
    g = _gen(0)
    for b, t in [(9, _BLOCK_BYTES // 4 // 8 + 3), (3, _BLOCK_BYTES // 4 + 11)]:
        x = torch.randn(b, t, generator=g)
        assert x.numel() * 4 > _BLOCK_BYTES
        lam = torch.rand(b, generator=g)
        perm = sample_permutation(b, generator=g)
        direct = torch.lerp(x[perm], x, lam.view(-1, 1))
        torch.testing.assert_close(mix(x, lam, perm), direct, atol=1e-6, rtol=1e-6)
        assert torch.equal(mix(x, torch.ones(b), perm), x)
        assert torch.equal(mix(x, torch.zeros(b), perm), x[perm])


def test_out_argument():
    x = torch.randn(4, 100, generator=_gen())
    lam = torch.rand(4, generator=_gen(1))
    perm = torch.tensor([2, 3, 0, 1])
    out = torch.empty_like(x)
    res = mix(x, lam, perm, out=out)
    assert res is out and torch.equal(out, mix(x, lam, perm))
    lengths = torch.tensor([100, 50, 30, 70])
    res = mix(x, lam, perm, lengths=lengths, out=out)
    assert res is out and torch.equal(out, mix(x, lam, perm, lengths=lengths))


def test_non_contiguous_input():
    x = torch.randn(50, 6, generator=_gen()).t()  # (6, 50), non-contiguous
    lam = torch.rand(6, generator=_gen(1))
    perm = sample_permutation(6, generator=_gen(2))
    out = mix(x, lam, perm)
    torch.testing.assert_close(out.double(), _reference(x, lam, perm))


def test_mix_is_differentiable():
    x = torch.randn(3, 20, generator=_gen(), requires_grad=True)
    lam = torch.tensor([0.2, 0.5, 0.9])
    mix(x, lam, torch.tensor([1, 2, 0])).sum().backward()
    # d/dx_i of sum over outputs = lam_i (own) + (1 - lam_j) where perm[j] = i.
    expected = lam + (1 - lam[torch.tensor([2, 0, 1])])
    torch.testing.assert_close(x.grad[:, 0], expected)
    # Gradients reach lam too, and flow through the length-aware path.
    lam_g = lam.clone().requires_grad_()
    mix(x.detach(), lam_g, torch.tensor([1, 2, 0])).sum().backward()
    xd = x.detach()
    torch.testing.assert_close(lam_g.grad, (xd - xd[torch.tensor([1, 2, 0])]).sum(1))
    x.grad = None
    mix(x, lam, torch.tensor([1, 2, 0]), lengths=torch.tensor([20, 5, 9])).sum().backward()
    assert x.grad[1, 5:].abs().sum() == 0  # padding gets no gradient
    with torch.no_grad():  # the fast path without autograd gives the same values
        assert torch.equal(
            mix(x, lam, torch.tensor([1, 2, 0])), mix(x.detach(), lam, torch.tensor([1, 2, 0]))
        )


# --- variable lengths --------------------------------------------------------------------------


def _reference_lengths(x, lam, perm, lengths, offsets, fill):
    """Per-row reference in float64: each clip placed in silence, then weighted."""
    b, t = x.shape[0], x.shape[-1]
    x64 = x.double().reshape(b, -1, t)
    fill = torch.as_tensor(fill, dtype=torch.float64).expand(b)
    out = torch.empty_like(x64)
    for i in range(b):
        j = int(perm[i])
        a, c, off = int(lengths[i]), int(lengths[j]), int(offsets[i])
        s_own, s_par = (off, 0) if a < c else (0, off)
        own = torch.full_like(x64[i], float(fill[i]))
        own[:, s_own : s_own + a] = x64[i, :, :a]
        par = torch.full_like(x64[j], float(fill[j]))
        par[:, s_par : s_par + c] = x64[j, :, :c]
        out[i] = float(lam[i]) * own + (1 - float(lam[i])) * par
    return out.reshape(x.shape)


length_lists = st.lists(st.integers(1, 40), min_size=1, max_size=7)


@given(
    lengths=length_lists,
    channels=st.sampled_from([None, 2]),
    placement=st.sampled_from(["start", "center", "random"]),
    garbage=st.sampled_from([float("nan"), 1e6, float("inf"), -7.0]),
    seed=st.integers(0, 2**16),
)
def test_variable_length_mix(lengths, channels, placement, garbage, seed, signals):
    x, lengths_t = signals.padded_batch(lengths, channels=channels, garbage=garbage, seed=seed)
    b, t = x.shape[0], x.shape[-1]
    # Extra padding beyond the longest clip too.
    x = torch.cat([x, torch.full((*x.shape[:-1], 3), garbage)], dim=-1)
    before = x.clone()
    params = sample_mix_params(
        b, alpha=1.0, per_sample=True, lengths=lengths_t, placement=placement, generator=_gen(seed)
    )
    out = mix(x, params.lam, params.perm, lengths=lengths_t, offsets=params.offsets)
    torch.testing.assert_close(x, before, rtol=0, atol=0, equal_nan=True)  # never mutated
    assert torch.isfinite(out).all() and out.abs().max() < 100  # garbage never leaks
    new_lengths = mix_lengths(lengths_t, params.perm)
    assert torch.equal(new_lengths, torch.maximum(lengths_t, lengths_t[params.perm]))
    # Beyond each mix's valid length: silence.
    pad = torch.arange(t + 3) >= new_lengths.unsqueeze(1)
    if channels is not None:
        pad = pad.unsqueeze(1).expand_as(out)
    assert (out[pad] == 0).all()
    ref = _reference_lengths(x, params.lam, params.perm, lengths_t, params.offsets, 0.0)
    torch.testing.assert_close(out.double(), ref, atol=1e-6, rtol=1e-6)


@given(
    lengths=length_lists,
    placement=st.sampled_from(["start", "center", "random"]),
    seed=st.integers(0, 2**16),
)
def test_variable_length_placement_is_exact(lengths, placement, seed, signals):
    # lam = 1 shows where each clip itself lands, lam = 0 where its partner lands: exactly at
    # the drawn offset when it is the shorter of the pair, at 0 otherwise.
    x, lengths_t = signals.padded_batch(lengths, garbage=float("nan"), seed=seed)
    b = x.shape[0]
    params = sample_mix_params(
        b, alpha=1.0, lengths=lengths_t, placement=placement, generator=_gen(seed)
    )
    perm, offsets = params.perm, params.offsets
    own = mix(x, torch.ones(b), perm, lengths=lengths_t, offsets=offsets)
    partner = mix(x, torch.zeros(b), perm, lengths=lengths_t, offsets=offsets)
    for i in range(b):
        j = int(perm[i])
        a, c, off = int(lengths_t[i]), int(lengths_t[j]), int(offsets[i])
        gap = abs(a - c)
        expected_off = {"start": 0, "center": gap // 2}.get(placement, off)
        assert off == expected_off and 0 <= off <= gap
        s_own, s_par = (off, 0) if a < c else (0, off)
        assert torch.equal(own[i, s_own : s_own + a], x[i, :a])
        assert (own[i, :s_own] == 0).all() and (own[i, s_own + a :] == 0).all()
        assert torch.equal(partner[i, s_par : s_par + c], x[j, :c])
        assert (partner[i, :s_par] == 0).all() and (partner[i, s_par + c :] == 0).all()


def test_variable_length_center_example():
    # A clip of 2 mixed with one of 6 at the centre: offset 2.
    x = torch.tensor(
        [
            [1.0, 1.0, float("nan"), float("nan"), float("nan"), float("nan")],
            [2.0, 2.0, 2.0, 2.0, 2.0, 2.0],
        ]
    )
    lengths = torch.tensor([2, 6])
    out = mix(x, 0.5, torch.tensor([1, 0]), lengths=lengths, offsets=torch.tensor([2, 2]))
    expected = torch.tensor([[1.0, 1.0, 1.5, 1.5, 1.0, 1.0], [1.0, 1.0, 1.5, 1.5, 1.0, 1.0]])
    assert torch.equal(out, expected)


def test_variable_length_fill_per_clip():
    # dB silence differs per clip: fill (B,) is what each clip contributes where it has no data.
    x = torch.tensor([[5.0, 5.0, 9.0, 9.0], [7.0, 7.0, 7.0, 7.0]])
    lengths = torch.tensor([2, 4])
    fill = torch.tensor([-80.0, -60.0])
    out = mix(x, 0.25, torch.tensor([1, 0]), lengths=lengths, fill=fill)
    expected = torch.tensor(
        [
            [
                0.25 * 5 + 0.75 * 7,
                0.25 * 5 + 0.75 * 7,
                0.25 * -80 + 0.75 * 7,
                0.25 * -80 + 0.75 * 7,
            ],
            [
                0.25 * 7 + 0.75 * 5,
                0.25 * 7 + 0.75 * 5,
                0.25 * 7 + 0.75 * -80,
                0.25 * 7 + 0.75 * -80,
            ],
        ]
    )
    torch.testing.assert_close(out, expected)
    ref = _reference_lengths(
        x,
        torch.full((2,), 0.25),
        torch.tensor([1, 0]),
        lengths,
        torch.zeros(2, dtype=torch.int64),
        fill,
    )
    torch.testing.assert_close(out.double(), ref)


def test_variable_length_full_lengths_equal_plain_mix():
    x = torch.randn(5, 2, 30, generator=_gen())
    lam = torch.rand(5, generator=_gen(1))
    perm = sample_permutation(5, generator=_gen(2))
    out = mix(x, lam, perm, lengths=torch.full((5,), 30))
    torch.testing.assert_close(out, mix(x, lam, perm), atol=1e-6, rtol=0)


def test_variable_length_dtypes(float_dtype, device, signals):
    x, lengths = signals.padded_batch(
        [30, 12, 7, 30, 21], channels=2, garbage=1e4, dtype=float_dtype
    )
    x, lengths = x.to(device), lengths.to(device)
    params = sample_mix_params(
        5, alpha=1.0, per_sample=True, lengths=lengths.cpu(), placement="random", generator=_gen()
    ).to(device)
    out = mix(x, params.lam, params.perm, lengths=lengths, offsets=params.offsets)
    assert out.dtype == float_dtype and out.device.type == device
    ref = _reference_lengths(
        x.cpu(),
        params.lam.to(float_dtype).cpu(),
        params.perm.cpu(),
        lengths.cpu(),
        params.offsets.cpu(),
        0.0,
    )
    torch.testing.assert_close(out.cpu().double(), ref, **TOL[float_dtype])
