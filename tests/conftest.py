"""Shared test configuration: the hypothesis profile and the fixtures.

The helpers themselves live in ``tests/_helpers.py`` (a module: ``from tests._helpers import
generator``); the seeded signal makers are also the ``signals`` fixture (session-scoped, so
hypothesis tests may use it too).
"""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest
import torch
from hypothesis import HealthCheck, settings

from tests._helpers import (
    DEVICES,
    FLOAT_DTYPES,
    chirp,
    generator,
    harmonics,
    labels,
    noise,
    padded_batch,
    waveform_batch,
)

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
settings.register_profile(
    "audiomix-thorough",
    parent=settings.get_profile("audiomix"),
    max_examples=500,
    derandomize=False,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "audiomix"))


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
