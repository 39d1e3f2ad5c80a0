"""The public surface: names, version, docstring examples and the README's code."""

import doctest
import importlib
import importlib.metadata
import re
from pathlib import Path

import pytest
import torch

import audiomix

README = Path(__file__).resolve().parent.parent / "README.md"
PUBLIC_MODULES = ["audiomix", "audiomix.functional", "audiomix.transforms", "audiomix.losses"]
# Core modules whose docstring examples must run as written.
DOCTEST_MODULES = [
    "audiomix.functional._sampling",
    "audiomix.functional._mixing",
    "audiomix.functional._alignment",
    "audiomix.functional._spectral",
    "audiomix.transforms._logmel",
    "audiomix.transforms._mixup",
    "audiomix.functional._loudness",
    "audiomix.functional._cutmix",
    "audiomix.functional._snr",
    "audiomix.functional._bc",
    "audiomix.functional._weighting",
    "audiomix.transforms._base",
    "audiomix.transforms._bc",
    "audiomix.transforms._choice",
    "audiomix.transforms._cutmix",
    "audiomix.transforms._snr",
    "audiomix.manifold",
    "audiomix.chain",
    "audiomix.data._collate",
    "audiomix.data._dataset",
    "audiomix.integrations.huggingface",
    "audiomix.losses",
]


@pytest.mark.parametrize("module", PUBLIC_MODULES)
def test_all_names_importable(module):
    mod = importlib.import_module(module)
    assert mod.__all__, f"{module} has an empty __all__"
    assert len(set(mod.__all__)) == len(mod.__all__), f"{module}.__all__ has duplicates"
    for name in mod.__all__:
        assert getattr(mod, name, None) is not None, f"{module}.{name} is in __all__ but missing"
    namespace = {}
    exec(f"from {module} import *", namespace)
    assert set(mod.__all__) <= set(namespace)


def test_core_names_are_public():
    core = {
        "LogMelSpectrogram",
        "WaveformMixup",
        "SpectrogramMixup",
        "SoftTargetCrossEntropy",
        "MixParams",
        "functional",
    }
    assert core <= set(audiomix.__all__)
    assert audiomix.MixParams is audiomix.functional.MixParams


def test_version():
    assert isinstance(audiomix.__version__, str)
    assert re.fullmatch(r"\d+\.\d+\.\d+([.-]?\w+)?", audiomix.__version__)
    try:
        installed = importlib.metadata.version("audiomix")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("audiomix is not installed, only importable")
    assert installed == audiomix.__version__


@pytest.mark.parametrize("module", DOCTEST_MODULES)
def test_docstring_examples(module):
    if module.startswith("audiomix.integrations."):
        pytest.importorskip("transformers")  # the optional extra
    mod = importlib.import_module(module)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        # Examples are written as a user would: torch and the public names in scope.
        names = {n: getattr(audiomix, n) for n in audiomix.__all__}
        names.update({n: getattr(audiomix.functional, n) for n in audiomix.functional.__all__})
        result = doctest.testmod(
            mod,
            extraglobs={"torch": torch, "nn": torch.nn, **names},
            optionflags=doctest.NORMALIZE_WHITESPACE,
        )
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {module}"


def _readme_python_blocks():
    if not README.exists():
        return []
    text = README.read_text(encoding="utf-8")
    return re.findall(r"^```python[^\n]*\n(.*?)^```", text, flags=re.S | re.M)


def test_readme_python_examples_run():
    blocks = _readme_python_blocks()
    if not blocks:
        pytest.skip("README.md has no python code blocks yet")
    for i, code in enumerate(blocks):
        if re.match(r"# examples/\S+\.py", code):
            continue  # an excerpt of an example: tests/test_framework_examples.py checks it
        with torch.random.fork_rng(devices=[]):  # the examples use torch's global RNG
            torch.manual_seed(0)
            try:
                exec(compile(code, f"README.md[python block {i}]", "exec"), {"__name__": "readme"})
            except Exception as exc:  # pragma: no cover - the message is the point
                raise AssertionError(f"README python block {i} failed: {exc!r}\n{code}") from exc
