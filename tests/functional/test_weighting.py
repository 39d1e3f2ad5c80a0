"""A-weighting: against librosa, gains of known signals, errors."""

import math

import librosa
import numpy as np
import torch

from audiomix.functional import (
    a_weighted_gain,
    a_weighting,
    a_weighting_bins,
)


def test_a_weighting_matches_librosa():
    f = np.concatenate(
        [[10.0, 20.0, 31.5, 100.0, 1000.0, 4000.0, 12500.0], np.linspace(50, 22050, 97)]
    )
    ours = a_weighting(torch.from_numpy(f), min_db=None).numpy()
    ref = librosa.A_weighting(f, min_db=None)
    # Same closed form in float64: agreement to round-off.
    np.testing.assert_allclose(ours, ref, atol=1e-9, rtol=0)
    # IEC 61672 table values (0.1 dB) at the exact base-10 frequencies behind the nominal
    # 31.5 Hz, 100 Hz, 1 kHz, 4 kHz and 12.5 kHz.
    table = {-15: -39.4, -10: -19.1, 0: 0.0, 6: 1.0, 11: -4.3}
    for k, db in table.items():
        freq = torch.tensor(1000.0 * 10 ** (k / 10), dtype=torch.float64)
        assert abs(float(a_weighting(freq)) - db) < 0.051
    assert float(a_weighting(torch.tensor(0.0))) == -80.0


def test_a_weighted_gain_scale_and_sine_level(signals):
    t = torch.arange(16000, dtype=torch.float64) / 16000
    sine = torch.sin(2 * math.pi * 1000 * t).unsqueeze(0)
    assert abs(float(a_weighted_gain(sine, sample_rate=16000)) - (-3.0103)) < 0.02
    x = signals.waveform_batch(3, 8000, dtype=torch.float64)
    g = a_weighted_gain(x, sample_rate=16000)
    g2 = a_weighted_gain(x * 0.1, sample_rate=16000)
    torch.testing.assert_close(g2, g - 20.0, atol=1e-9, rtol=0)
    # Silence is floored; padding (whatever it holds) is ignored.
    assert float(a_weighted_gain(torch.zeros(1, 4000), sample_rate=16000)) == -80.0
    xp, lengths = signals.padded_batch([8000, 3000, 500], dtype=torch.float64)
    gp = a_weighted_gain(xp, sample_rate=16000, lengths=lengths)
    for i, n in enumerate(lengths.tolist()):
        alone = a_weighted_gain(xp[i : i + 1, :n], sample_rate=16000)
        torch.testing.assert_close(gp[i : i + 1], alone, atol=1e-9, rtol=0)


def test_a_weighting_bins_are_the_a_weighting_in_power():
    bins = a_weighting_bins(16000, 256, dtype=torch.float64)
    f = torch.fft.rfftfreq(256, d=1 / 16000, dtype=torch.float64)
    expected = 10.0 ** (a_weighting(f[1:], min_db=None) / 10.0)
    assert bins.shape == (129,) and bins[0] == 0
    torch.testing.assert_close(bins[1:], expected, rtol=1e-12, atol=0)
