"""The docstring examples of the recipe's modules run (pytest collects doctests in audiomix/
only)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ("augment", "common", "compare", "model")


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"recipes.speech_commands.{name}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
