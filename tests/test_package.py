"""The public surface: names, version, docstring examples, the code of the README and docs pages."""

import dataclasses
import importlib
import importlib.metadata
import inspect
import re
from pathlib import Path

import pytest
import torch

import audiomix

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PUBLIC_MODULES = ["audiomix", "audiomix.functional", "audiomix.transforms", "audiomix.losses"]


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


def _public_objects():
    for module in PUBLIC_MODULES + ["audiomix.data"]:
        mod = importlib.import_module(module)
        for name in mod.__all__:
            yield f"{module}.{name}", getattr(mod, name)


def _is_record(obj) -> bool:
    """Parameter records (dataclasses, named tuples) document fields, not a usage example."""
    return dataclasses.is_dataclass(obj) or (issubclass(obj, tuple) and hasattr(obj, "_fields"))


@pytest.mark.parametrize(
    "name, obj",
    [(n, o) for n, o in _public_objects() if inspect.isclass(o) and not _is_record(o)],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_public_classes_have_a_runnable_example(name, obj):
    # pytest --doctest-modules (pyproject.toml) runs every example in audiomix/; this checks
    # that each public class has one to run.
    assert ">>>" in (inspect.getdoc(obj) or ""), f"{name} has no Example in its docstring"


def test_doctests_are_discovered_over_the_package(pytestconfig):
    assert "--doctest-modules" in pytestconfig.getini("addopts")
    assert "audiomix" in pytestconfig.getini("testpaths")


def _markdown_python_blocks():
    """Python blocks of the README and the documentation's Markdown pages."""
    pages = [README, *sorted((ROOT / "docs").rglob("*.md"))]
    for page in pages:
        if "_build" in page.parts:
            continue
        text = page.read_text(encoding="utf-8")
        blocks = re.findall(r"^```python[^\n]*\n(.*?)^```", text, flags=re.S | re.M)
        for i, code in enumerate(blocks):
            yield pytest.param(code, id=f"{page.relative_to(ROOT)}[{i}]")


@pytest.mark.parametrize("code", list(_markdown_python_blocks()))
def test_markdown_python_examples_run(code):
    if re.match(r"# examples/\S+\.py", code):
        pytest.skip("an excerpt of an example: tests/test_framework_examples.py checks it")
    with torch.random.fork_rng(devices=[]):  # the examples use torch's global RNG
        torch.manual_seed(0)
        exec(compile(code, "<markdown python block>", "exec"), {"__name__": "markdown"})


def test_readme_has_the_commands_on_top_and_a_quick_start():
    text = README.read_text(encoding="utf-8")
    first_block = re.search(r"```bash\n(.*?)```", text, flags=re.S).group(1).splitlines()
    assert [line.split()[:2] for line in first_block] == [["make", "kws"], ["make", "test"]]
    quick = text.split("\n## Quick start\n", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", quick, flags=re.S).group(1)
    assert len([line for line in code.splitlines() if line.strip()]) <= 10
