"""power_to_db / db_to_power against librosa, and the per-example top_db floor."""

import librosa
import numpy as np
import pytest
import torch

from audiomix.functional import db_to_power, power_to_db


def _power(*shape, seed=0):
    # Power over ~14 decades (1e-12 .. 1e2), so amin and the top_db floor both matter.
    g = torch.Generator().manual_seed(seed)
    return 10.0 ** (torch.rand(*shape, generator=g, dtype=torch.float64) * 14 - 12)


@pytest.mark.parametrize("top_db", [80.0, 40.0, None])
@pytest.mark.parametrize("ref, amin", [(1.0, 1e-10), (3.5, 1e-10), (1.0, 1e-5), (1e-12, 1e-10)])
def test_power_to_db_matches_librosa(top_db, ref, amin):
    # float64 in and out: agreement to 1e-10 dB (both compute 10 * log10(max(S, amin)) -
    # 10 * log10(max(amin, ref)) and clip at max - top_db; only rounding differs).
    specgram = _power(40, 30)
    ours = power_to_db(specgram, ref=ref, amin=amin, top_db=top_db)
    theirs = librosa.power_to_db(specgram.numpy(), ref=ref, amin=amin, top_db=top_db)
    np.testing.assert_allclose(ours.numpy(), theirs, atol=1e-10, rtol=0)


def test_power_to_db_floor_is_per_example():
    loud = _power(8, 10, seed=1) * 1e6
    quiet = _power(8, 10, seed=2) * 1e-2
    batch = torch.stack([loud, quiet])
    out = power_to_db(batch, top_db=80.0)
    assert torch.equal(out[0], power_to_db(loud, top_db=80.0))
    assert torch.equal(out[1], power_to_db(quiet, top_db=80.0))
    # Each example keeps exactly 80 dB below its own peak.
    for k in range(2):
        assert out[k].max() - out[k].min() == pytest.approx(80.0)


@pytest.mark.parametrize("shape", [(6, 5), (3, 6, 5), (2, 3, 6, 5)])
def test_power_to_db_leading_dims(shape):
    specgram = _power(*shape)
    out = power_to_db(specgram)
    flat = specgram.reshape(-1, *shape[-2:])
    for k, s in enumerate(flat):
        assert torch.equal(out.reshape(-1, *shape[-2:])[k], power_to_db(s))


def test_db_to_power_inverts_power_to_db():
    specgram = _power(5, 7) + 1e-9  # above amin, so no clipping
    for ref in (1.0, 2.0):
        db = power_to_db(specgram, ref=ref, top_db=None)
        torch.testing.assert_close(db_to_power(db, ref=ref), specgram, rtol=1e-12, atol=0)
        np.testing.assert_allclose(
            db_to_power(db, ref=ref).numpy(), librosa.db_to_power(db.numpy(), ref=ref), rtol=1e-12
        )


def test_spectral_dtypes_and_no_mutation(float_dtype, device):
    specgram = _power(2, 6, 5).to(float_dtype).to(device)
    before = specgram.clone()
    db = power_to_db(specgram)
    assert db.dtype == float_dtype and db.device.type == device
    assert torch.equal(specgram, before)
    db_before = db.clone()
    power = db_to_power(db, ref=2.0)
    assert power.dtype == float_dtype and torch.equal(db, db_before)


def test_power_to_db_is_differentiable():
    specgram = (_power(3, 4) + 1e-3).requires_grad_()
    power_to_db(specgram).sum().backward()
    torch.testing.assert_close(specgram.grad, 10 / (np.log(10) * specgram.detach()))
