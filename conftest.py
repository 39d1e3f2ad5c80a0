"""Doctest set-up for ``pytest --doctest-modules`` over ``audiomix/`` (configured in
pyproject.toml): every docstring example in the package runs, found by pytest, not listed.

Examples are written as a user reads them: ``torch``, ``nn`` and the public names of
``audiomix`` and ``audiomix.functional`` are in scope, and each example starts from torch's
global RNG seeded with 0, restored afterwards.
"""

from __future__ import annotations

import importlib.util

import pytest
import torch
from _pytest.doctest import DoctestItem

import audiomix

# Modules that import an optional extra when imported; their examples run when it is installed.
collect_ignore = []
if importlib.util.find_spec("transformers") is None:
    collect_ignore.append("audiomix/integrations/huggingface.py")


@pytest.fixture(autouse=True)
def _doctest_scope(request: pytest.FixtureRequest):
    if not isinstance(request.node, DoctestItem):
        yield
        return
    namespace = request.getfixturevalue("doctest_namespace")
    namespace.update(torch=torch, nn=torch.nn)
    namespace.update({n: getattr(audiomix, n) for n in audiomix.__all__})
    namespace.update({n: getattr(audiomix.functional, n) for n in audiomix.functional.__all__})
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        yield
