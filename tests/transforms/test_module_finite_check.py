"""WaveformMixup checks finiteness inside the mix (functional.mix's fused check), not by a
separate scan: it must still reject exactly the inputs the scan rejected."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from audiomix import SpectrogramMixup, WaveformMixup


@given(
    b=st.integers(1, 6),
    row=st.integers(0, 5),
    pos=st.integers(0, 99),
    bad=st.sampled_from([float("nan"), float("inf"), -float("inf"), None]),
    p=st.sampled_from([0.0, 0.5, 1.0]),
    per_sample=st.booleans(),
    seed=st.integers(0, 2**16),
    with_lengths=st.booleans(),
)
def test_module_rejects_non_finite_valid_values_whatever_is_mixed(
    b, row, pos, bad, p, per_sample, seed, with_lengths
):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, 100, generator=g)
    labels = torch.randint(3, (b,), generator=g)
    lengths = torch.randint(1, 101, (b,), generator=g) if with_lengths else None
    row = row % b
    if bad is not None:
        x[row, pos] = bad
    in_valid = bad is not None and (lengths is None or pos < int(lengths[row]))
    mixer = WaveformMixup(alpha=1.0, num_classes=3, p=p, per_sample=per_sample, generator=seed)
    args = (x, labels) if lengths is None else (x, labels, lengths)
    if in_valid:
        with pytest.raises(ValueError, match="`waveform` contains NaN or Inf values"):
            mixer(*args)
    else:
        out = mixer(*args)[0]
        valid = torch.ones_like(out, dtype=torch.bool)
        if lengths is not None:
            valid = torch.arange(100) < mixer.output_lengths(lengths, mixer.last_params)[:, None]
        assert bool(torch.isfinite(out[valid]).all())


def test_check_finite_false_lets_nan_through():
    x = torch.randn(4, 50)
    x[1, 3] = float("nan")
    out, _ = WaveformMixup(num_classes=3, check_finite=False, generator=0)(x, torch.arange(4) % 3)
    assert torch.isnan(out).any()


@pytest.mark.parametrize("scale,domain", [("db", "input"), ("power", "power"), ("db", "power")])
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("with_lengths", [False, True])
def test_spectrogram_mixup_rejects_non_finite_on_every_path(scale, domain, bad, with_lengths):
    x = torch.randn(4, 8, 30)
    x[2, 3, 5] = bad
    mixer = SpectrogramMixup(alpha=1.0, num_classes=3, scale=scale, domain=domain, generator=0)
    args = (x, torch.arange(4) % 3) + ((torch.tensor([30, 20, 25, 10]),) if with_lengths else ())
    with pytest.raises(ValueError, match="`specgram` contains NaN or Inf values"):
        mixer(*args)
