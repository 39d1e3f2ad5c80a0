"""Seeded signal makers and data builders shared by the tests: ``from tests._helpers import ...``.

Every signal is drawn from a ``torch.Generator`` (or a numpy generator) seeded here, never from
global RNG state, so a test sees the same data whatever ran before it. ``conftest.py`` exposes
the signal makers as the ``signals`` fixture too (for hypothesis tests).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

__all__ = [
    "CUDA",
    "DEVICES",
    "FLOAT_DTYPES",
    "SPEECH_COMMANDS_WORDS",
    "chirp",
    "generator",
    "harmonics",
    "labels",
    "make_tiny_speech_commands",
    "noise",
    "padded_batch",
    "waveform_batch",
]

CUDA = torch.cuda.is_available()

#: Devices to parametrize over; CUDA runs only where present.
DEVICES = [
    "cpu",
    pytest.param("cuda", marks=pytest.mark.skipif(not CUDA, reason="CUDA not available")),
]

FLOAT_DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64]


def generator(seed: int = 0) -> torch.Generator:
    """A fresh CPU generator with a fixed seed."""
    return torch.Generator().manual_seed(seed)


def noise(*shape: int, seed: int = 0, scale: float = 0.1, dtype=torch.float32) -> torch.Tensor:
    """Gaussian noise of the given shape."""
    return (torch.randn(*shape, generator=generator(seed), dtype=torch.float64) * scale).to(dtype)


def chirp(
    n: int,
    sample_rate: int,
    *,
    f0: float = 100.0,
    f1: float | None = None,
    amp: float = 0.5,
    dtype=torch.float64,
) -> torch.Tensor:
    """A linear chirp from ``f0`` to ``f1`` Hz over ``n`` samples, shape (n,)."""
    f1 = 0.45 * sample_rate if f1 is None else f1
    t = torch.arange(n, dtype=torch.float64) / sample_rate
    dur = n / sample_rate
    phase = 2 * math.pi * (f0 * t + 0.5 * (f1 - f0) / dur * t * t)
    return (amp * torch.sin(phase)).to(dtype)


def harmonics(
    n: int, sample_rate: int, *, f0: float = 220.0, k: int = 8, seed: int = 0, dtype=torch.float64
) -> torch.Tensor:
    """A harmonic tone (``k`` partials with 1/h amplitudes and seeded phases), shape (n,)."""
    g = generator(seed)
    t = torch.arange(n, dtype=torch.float64) / sample_rate
    out = torch.zeros(n, dtype=torch.float64)
    for h in range(1, k + 1):
        if h * f0 >= sample_rate / 2:
            break
        phase = float(torch.rand((), generator=g, dtype=torch.float64)) * 2 * math.pi
        out += torch.sin(2 * math.pi * h * f0 * t + phase) / h
    # A slow amplitude envelope, so frames differ in level (exercises the top_db floor).
    env = 0.5 * (1 - torch.cos(2 * math.pi * torch.arange(n, dtype=torch.float64) / n))
    return (0.3 * out * env).to(dtype)


def waveform_batch(
    batch: int, time: int, *, channels: int | None = None, seed: int = 0, dtype=torch.float32
) -> torch.Tensor:
    """(batch, time) or (batch, channels, time) noise with a distinct level per clip."""
    shape = (batch, time) if channels is None else (batch, channels, time)
    x = noise(*shape, seed=seed, scale=1.0, dtype=torch.float64)
    levels = torch.logspace(-2, 0, batch, dtype=torch.float64).view(batch, *[1] * (x.ndim - 1))
    return (x * levels).to(dtype)


def labels(batch: int, num_classes: int, *, seed: int = 0) -> torch.Tensor:
    """(batch,) int64 class indices."""
    return torch.randint(num_classes, (batch,), generator=generator(seed))


def padded_batch(
    lengths: list[int],
    *,
    channels: int | None = None,
    garbage: float = float("nan"),
    seed: int = 0,
    dtype=torch.float32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A right-padded batch whose padding holds ``garbage`` (default NaN), and its lengths."""
    t = max(lengths)
    x = waveform_batch(len(lengths), t, channels=channels, seed=seed, dtype=dtype)
    lengths_t = torch.tensor(lengths, dtype=torch.int64)
    pad = torch.arange(t).unsqueeze(0) >= lengths_t.unsqueeze(1)
    if channels is not None:
        pad = pad.unsqueeze(1).expand_as(x)
    x = x.masked_fill(pad, garbage)
    return x, lengths_t


SPEECH_COMMANDS_WORDS = (
    "yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go", "bed", "cat",
)  # fmt: skip
"""The word folders of :func:`make_tiny_speech_commands`: the ten keywords and two others."""


def make_tiny_speech_commands(
    root: Path, *, speakers: int = 6, clips: int = 2, seed: int = 0
) -> Path:
    """A Speech Commands folder of tones: each word has its own pitch, each speaker a pitch
    offset and level; 0.4-1 s clips at 16 kHz; the last speaker is the test split, the one
    before it validation (list files); two background-noise recordings."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    sr = 16000
    val, test = [], []
    for s in range(speakers):
        spk = f"{s:08x}"
        offset = rng.uniform(-0.05, 0.05)
        level = 10 ** (rng.uniform(-30, -6) / 20)
        for w, word in enumerate(SPEECH_COMMANDS_WORDS):
            (root / word).mkdir(parents=True, exist_ok=True)
            for k in range(clips):
                n = int(sr * rng.uniform(0.4, 1.0))
                t = np.arange(n) / sr
                f0 = 200 * 2 ** (w / 4) * (1 + offset)
                y = np.sin(2 * np.pi * f0 * t) + 0.5 * np.sin(2 * np.pi * 2 * f0 * t)
                y = level * y * np.hanning(n) + 0.003 * rng.standard_normal(n)
                rel = f"{word}/{spk}_nohash_{k}.wav"
                sf.write(root / rel, y.astype(np.float32), sr, subtype="PCM_16")
                if s == speakers - 2:
                    val.append(rel)
                elif s == speakers - 1:
                    test.append(rel)
    (root / "validation_list.txt").write_text("\n".join(val) + "\n")
    (root / "testing_list.txt").write_text("\n".join(test) + "\n")
    noise = root / "_background_noise_"
    noise.mkdir(exist_ok=True)
    for i in range(2):
        sf.write(
            noise / f"noise{i}.wav", (0.1 * rng.standard_normal(3 * sr)).astype(np.float32), sr
        )
    return root
