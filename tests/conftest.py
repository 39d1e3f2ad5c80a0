"""Shared test configuration: the hypothesis profile, devices, and seeded signal makers.

Every signal is drawn from a ``torch.Generator`` seeded here, never from global RNG state, so a
test sees the same data whatever ran before it. Helpers are exposed through the ``signals``
fixture (session-scoped, so hypothesis tests may use it too).
"""

from __future__ import annotations

import math
import os
from types import SimpleNamespace

import pytest
import torch
from hypothesis import HealthCheck, settings

# deadline=None: the first call of a torch op can take longer than hypothesis' default 200 ms.
# derandomize: the examples are a function of the test, so CI runs are reproducible.
settings.register_profile(
    "audiomix",
    deadline=None,
    max_examples=25,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("audiomix-thorough", parent=settings.get_profile("audiomix"),
                          max_examples=500, derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "audiomix"))

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
    n: int, sample_rate: int, *, f0: float = 100.0, f1: float | None = None, amp: float = 0.5,
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
    lengths: list[int], *, channels: int | None = None, garbage: float = float("nan"),
    seed: int = 0, dtype=torch.float32,
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


@pytest.fixture(scope="session")
def signals() -> SimpleNamespace:
    """The seeded signal makers above, for tests (hypothesis tests included)."""
    return SimpleNamespace(
        generator=generator,
        noise=noise,
        chirp=chirp,
        harmonics=harmonics,
        waveform_batch=waveform_batch,
        labels=labels,
        padded_batch=padded_batch,
    )


@pytest.fixture(params=DEVICES)
def device(request) -> str:
    """Each available device: "cpu", and "cuda" where present."""
    return request.param


@pytest.fixture(params=FLOAT_DTYPES, ids=lambda d: str(d).removeprefix("torch."))
def float_dtype(request) -> torch.dtype:
    """Each floating dtype audio may have."""
    return request.param
