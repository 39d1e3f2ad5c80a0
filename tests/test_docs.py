"""The documentation: an API reference that covers every public name, a gallery that picks up
every example, and screenshots of the built site that show a real page."""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import re
import sys
from pathlib import Path

import pytest

import audiomix

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def api():
    return _load("audiomix_api", DOCS / "_ext" / "audiomix_api.py")


def _every_public_name() -> set[str]:
    """Walked here independently of the generator: every name in a public module's __all__."""
    names = set()
    modules = [audiomix]
    for info in pkgutil.walk_packages(audiomix.__path__, "audiomix."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            try:
                modules.append(importlib.import_module(info.name))
            except ImportError:  # an optional extra (transformers) that is not installed
                continue
    for module in modules:
        names.update(f"{module.__name__}.{name}" for name in getattr(module, "__all__", []))
    return names


def test_the_reference_documents_every_public_name(api, tmp_path):
    api.write_reference(tmp_path)
    text = "\n".join(p.read_text(encoding="utf-8") for p in tmp_path.glob("*.rst"))
    directives = set(re.findall(r"^\.\. auto(?:class|function|data|module):: (\S+)", text, re.M))
    pointers = set(re.findall(r"^- ``(\S+)``: :py:obj:`(\S+)`", text, re.M))
    referred = {name for name, _ in pointers}
    missing = [name for name in sorted(_every_public_name()) if name not in directives | referred]
    assert not missing, f"public names missing from the API reference: {missing}"
    # every pointer leads to a documented entry
    assert {target for _, target in pointers} <= directives


def test_the_gallery_runs_every_plot_file():
    conf = (DOCS / "conf.py").read_text(encoding="utf-8")
    pattern = re.search(r'"filename_pattern": r"([^"]+)"', conf).group(1)
    examples = sorted((DOCS / "gallery").glob("plot_*.py"))
    assert examples
    assert all(re.search(pattern, f"/{p.name}") for p in examples)
    for example in examples:  # sphinx-gallery needs a title in the module docstring
        head = example.read_text(encoding="utf-8").lstrip()
        assert re.match(r'"""\n[^\n]+\n=+\n', head), f"{example.name} has no title"


@pytest.mark.parametrize("name", ["index.png", "api.png", "gallery.png"])
def test_committed_screenshots_show_a_page(name):
    screenshots = _load("audiomix_screenshots", DOCS / "screenshots.py")
    path = DOCS / "screenshots" / name
    width, height = screenshots.png_size(path)
    assert width >= 1000 and height >= 800
    image = pytest.importorskip("matplotlib.image").imread(path)
    # A blank or error page is one flat colour; a rendered page has text and figures.
    assert float(image[..., :3].std()) > 0.05
