"""Signal processing of the synthesiser (numpy only): resampling, microphone colouring, trimming."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .config import SAMPLE_RATE

__all__ = [
    "channel_response",
    "fade",
    "lowpass_noise",
    "normalize_rms",
    "resample_to_16k",
    "spectral_noise",
    "to_int16",
    "trim",
]


def resample_to_16k(raw: np.ndarray, rate: int, response: Any = None) -> np.ndarray:
    """FFT resampling of int16 audio to 16 kHz, optionally with a magnitude ``response(f)``.

    The input is zero-padded to a whole number of rate periods (so the output length is exact)
    with at least 20 ms of zeros, which keeps the circular FFT from wrapping the word around.
    """
    x = raw.astype(np.float64) / 32768.0
    g = math.gcd(rate, SAMPLE_RATE)
    up, down = SAMPLE_RATE // g, rate // g
    length = -(-(len(x) + rate // 50) // down) * down
    out_len = length * up // down
    spectrum = np.fft.rfft(x, n=length)
    n_bins = out_len // 2 + 1
    if n_bins <= len(spectrum):
        spectrum = spectrum[:n_bins]
    else:
        spectrum = np.concatenate([spectrum, np.zeros(n_bins - len(spectrum), complex)])
    freqs = np.arange(n_bins) * (SAMPLE_RATE / out_len)
    # Anti-aliasing: raised-cosine roll-off from 7.2 kHz to Nyquist.
    weight = np.clip((SAMPLE_RATE / 2 - freqs) / 800.0, 0.0, 1.0)
    weight = 0.5 - 0.5 * np.cos(np.pi * weight)
    if response is not None:
        weight = weight * response(freqs)
    y = np.fft.irfft(spectrum * weight, n=out_len) * (out_len / length)
    return y[: int(round(len(x) * up / down))]


def channel_response(profile: dict[str, float]) -> Any:
    """Magnitude response of a speaker's microphone: band limits, tilt and one resonance."""
    hp, lp = profile["highpass_hz"], profile["lowpass_hz"]
    tilt, peak_hz, peak_db = profile["tilt_db_per_octave"], profile["peak_hz"], profile["peak_db"]

    def response(freqs: np.ndarray) -> np.ndarray:
        f = np.maximum(freqs, 1.0)
        octaves = np.log2(np.maximum(f, 50.0) / 1000.0)
        gain_db = tilt * octaves + peak_db * np.exp(-0.5 * (np.log2(f / peak_hz) / 0.5) ** 2)
        r = 10.0 ** (gain_db / 20.0)
        if hp > 0:
            r = r * (f / hp) ** 2 / np.sqrt(1.0 + (f / hp) ** 4)
        r = r / np.sqrt(1.0 + (f / lp) ** 4)
        r[freqs == 0] = 0.0
        return r

    return response


def trim(y: np.ndarray, *, top_db: float = 45.0, frame: int = 160, margin: int = 3) -> np.ndarray:
    """Cut leading and trailing silence (frames more than ``top_db`` below the loudest)."""
    n = len(y) // frame
    if n == 0:
        return y
    energy = (y[: n * frame].reshape(n, frame) ** 2).mean(axis=1)
    peak = energy.max()
    if peak <= 0:
        return y[:0]
    active = np.nonzero(energy >= peak * 10.0 ** (-top_db / 10.0))[0]
    start = max(0, (active[0] - margin) * frame)
    stop = min(len(y), (active[-1] + 1 + margin) * frame)
    return y[start:stop]


def fade(y: np.ndarray, samples: int = 160) -> np.ndarray:
    """Linear fade-in and fade-out of ``samples`` each, in place; ``y`` is ``(time,)``."""
    n = min(samples, len(y) // 2)
    if n > 0:
        ramp = np.linspace(0.0, 1.0, n)
        y[:n] *= ramp
        y[-n:] *= ramp[::-1]
    return y


def spectral_noise(rng: np.random.Generator, n: int, exponent: float) -> np.ndarray:
    """Noise with power spectrum ``1 / f**exponent`` (0 white, 1 pink, 2 brown), 20 Hz
    high-passed."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / SAMPLE_RATE)
    shape = np.maximum(f, 20.0) ** (-exponent / 2.0)
    shape[f < 10.0] = 0.0
    return np.fft.irfft(spectrum * shape, n=n)


def lowpass_noise(rng: np.random.Generator, n: int, cutoff_hz: float) -> np.ndarray:
    """Gaussian noise ``(n,)`` band-limited to ``cutoff_hz``, unit standard deviation."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / SAMPLE_RATE)
    y = np.fft.irfft(spectrum * (f <= cutoff_hz), n=n)
    return y / (np.std(y) + 1e-12)


def normalize_rms(y: np.ndarray, dbfs: float = -20.0) -> np.ndarray:
    """``y`` ``(time,)`` without DC, scaled to ``dbfs`` RMS and clipped to +-0.99."""
    y = y - y.mean()
    y = y * (10.0 ** (dbfs / 20.0) / (np.sqrt(np.mean(y**2)) + 1e-12))
    return np.clip(y, -0.99, 0.99)


def to_int16(y: np.ndarray) -> np.ndarray:
    """float ``(time,)`` in [-1, 1] to int16 PCM (rounded, saturated)."""
    return np.clip(np.round(y * 32767.0), -32768, 32767).astype(np.int16)
