"""functional SNR mixing: the requested SNR reached, silent clips, the partner gain, errors."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from audiomix.functional import (
    mix,
    sample_offsets,
    sample_snr_params,
    snr_mix,
)
from tests._helpers import generator as _gen


def _achieved_snr(x, out, perm, lengths, offsets):
    """SNR of the sample over what was added, each power over its own valid samples."""
    b, t = x.shape[0], x.shape[-1]
    lengths_ = torch.full((b,), t) if lengths is None else lengths
    own = mix(
        x.double(), torch.ones(b, dtype=torch.float64), perm, lengths=lengths, offsets=offsets
    )
    added = out.double() - own
    c = x[0].numel() // t
    p_own = (own.reshape(b, -1) ** 2).sum(1) / (lengths_ * c)
    p_add = (added.reshape(b, -1) ** 2).sum(1) / (lengths_[perm] * c)
    return 10 * torch.log10(p_own / p_add)


@given(
    snr=st.floats(-20.0, 30.0),
    lengths=st.lists(st.integers(40, 400), min_size=2, max_size=6),
    placement=st.sampled_from(["start", "center", "random"]),
    seed=st.integers(0, 2**16),
    channels=st.sampled_from([None, 2]),
)
def test_snr_mix_achieves_requested_snr(signals, snr, lengths, placement, seed, channels):
    x, lengths_t = signals.padded_batch(lengths, channels=channels, seed=seed)
    b = len(lengths)
    perm = torch.roll(torch.arange(b), 1)  # no self pairs
    offsets = sample_offsets(lengths_t, perm, placement=placement, generator=_gen(seed))
    out, lam = snr_mix(x, snr, perm, lengths=lengths_t, offsets=offsets)
    assert torch.isfinite(out).all()  # NaN padding never leaks
    achieved = _achieved_snr(x.nan_to_num(0.0), out, perm, lengths_t, offsets)
    assert (achieved - snr).abs().max() < 0.1
    expected = torch.full((b,), 1 / (1 + 10 ** (-snr / 10)), dtype=torch.float64)
    torch.testing.assert_close(lam.double(), expected, atol=1e-6, rtol=0)


def test_snr_mix_without_lengths_is_x_plus_scaled_partner(signals):
    x = signals.waveform_batch(4, 1000)
    perm = torch.tensor([1, 2, 3, 0])
    snr = torch.tensor([0.0, 5.0, 10.0, -3.0])
    out, lam = snr_mix(x, snr, perm)
    p = x.double().pow(2).mean(1)
    g = torch.sqrt(p / (p[perm] * 10 ** (snr.double() / 10)))
    torch.testing.assert_close(
        out.double(), x.double() + g[:, None] * x.double()[perm], atol=1e-5, rtol=1e-5
    )
    assert (_achieved_snr(x, out, perm, None, None) - snr).abs().max() < 0.1


def test_snr_mix_silent_clips_and_self_pairs():
    x = torch.randn(4, 100, generator=_gen())
    x[1] = 0.0  # silent sample
    x[2] = 0.0  # silent partner of sample 3
    out, lam = snr_mix(x, 0.0, torch.tensor([0, 0, 3, 2]))
    assert torch.isfinite(out).all()
    assert torch.equal(out[0], x[0])  # its own partner
    assert torch.equal(out[1], x[1])  # nothing can reach an SNR over silence
    assert torch.equal(out[3], x[3])  # a silent partner adds nothing
    assert torch.equal(out[2], x[2])  # a silent sample has no level to set an SNR against
    assert lam.tolist() == [1.0, 1.0, 1.0, 1.0]


def test_snr_mix_errors():
    x = torch.randn(2, 10)
    with pytest.raises(ValueError, match="`snr_db` must be finite"):
        snr_mix(x, float("nan"), torch.tensor([1, 0]))
    with pytest.raises(ValueError, match=r"`x` must have shape \(batch, ..., time\)"):
        snr_mix(torch.randn(10), 0.0, torch.tensor([0]))
    with pytest.raises(ValueError, match="low <= high"):
        sample_snr_params(2, snr_db=(5.0, 0.0))
    with pytest.raises(TypeError, match="`snr_db` must be a number or a"):
        sample_snr_params(2, snr_db="loud")


def test_sample_snr_params_range_and_reproducibility():
    a = sample_snr_params(64, snr_db=(-5.0, 5.0), per_sample=True, generator=_gen(4))
    b = sample_snr_params(64, snr_db=(-5.0, 5.0), per_sample=True, generator=_gen(4))
    assert torch.equal(a.snr_db, b.snr_db) and torch.equal(a.perm, b.perm)
    assert float(a.snr_db.min()) >= -5.0 and float(a.snr_db.max()) <= 5.0
    assert a.snr_db.unique().numel() == 64
    shared = sample_snr_params(8, snr_db=3.0, generator=_gen(4))
    assert shared.snr_db.tolist() == [3.0] * 8


def test_snr_mix_return_gain_is_the_partner_gain():
    x = torch.randn(4, 800, generator=_gen(2))
    perm = torch.tensor([1, 0, 2, 2])
    mixed, kept, gain = snr_mix(x, 6.0, perm, return_gain=True)
    assert gain.dtype == torch.float64 and gain[2] == 0  # its own partner: nothing added
    expected = x.double() + gain.unsqueeze(1) * x[perm].double()
    torch.testing.assert_close(mixed.double(), expected, rtol=1e-5, atol=1e-5)
    assert torch.equal(snr_mix(x, 6.0, perm)[1], kept)
