"""Release metadata: one source of the version, runtime dependencies that are exactly what
the package imports, and optional frameworks that ``import audiomix`` never loads."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

import audiomix

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "audiomix"
# Import name -> distribution name, where they differ.
DISTRIBUTIONS = {"sklearn": "scikit-learn", "yaml": "pyyaml"}
# Modules that import an optional extra by design, and the extra that provides it.
OPTIONAL = {"integrations": "frameworks"}


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _name(requirement: str) -> str:
    return re.match(r"[A-Za-z0-9_.\-]+", requirement).group(0).lower().replace("_", "-")


def _guards_import(node: ast.AST) -> bool:
    """``try: import x`` / ``except ImportError:``: an optional import, with its own message."""
    names = {"ImportError", "ModuleNotFoundError"}
    return isinstance(node, ast.Try) and any(
        h.type is not None and names & {n.id for n in ast.walk(h.type) if isinstance(n, ast.Name)}
        for h in node.handlers
    )


def _runtime_nodes(tree: ast.AST, *, optional: bool = False):
    """Every node, except the bodies of ``if TYPE_CHECKING:`` (imported for type checkers only)
    and of ``try:`` blocks guarded by ``except ImportError`` (optional imports); with
    ``optional``, the nodes of those guarded blocks only."""
    stack = [(tree, False)]
    while stack:
        node, guarded = stack.pop()
        if guarded == optional:
            yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                stack.extend((c, guarded) for c in child.orelse)
                continue
            if _guards_import(child):
                stack.extend((c, True) for c in child.body)
                stack.extend(
                    (c, guarded) for c in [*child.handlers, *child.orelse, *child.finalbody]
                )
                continue
            stack.append((child, guarded))


def _third_party_imports(paths, *, optional: bool = False) -> set[str]:
    names = set()
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in _runtime_nodes(tree, optional=optional):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    names -= set(sys.stdlib_module_names) | {"audiomix", "__future__"}
    return {DISTRIBUTIONS.get(n, n).lower() for n in names}


def _core_files():
    return [p for p in PACKAGE.rglob("*.py") if p.relative_to(PACKAGE).parts[0] not in OPTIONAL]


def test_runtime_dependencies_are_what_the_package_imports():
    declared = {_name(r) for r in _project()["dependencies"]}
    imported = _third_party_imports(_core_files())
    assert imported == declared, (
        f"imported but not declared: {sorted(imported - declared)}; "
        f"declared but not imported: {sorted(declared - imported)}"
    )


def test_optional_modules_import_only_declared_extras():
    extras = {k: {_name(r) for r in v} for k, v in _project()["optional-dependencies"].items()}
    runtime = {_name(r) for r in _project()["dependencies"]}
    for folder, extra in OPTIONAL.items():
        imported = _third_party_imports((PACKAGE / folder).rglob("*.py"))
        assert imported - runtime <= extras[extra], f"audiomix/{folder} imports {imported}"


def test_optional_imports_of_the_package_are_declared_extras():
    # An import guarded by `except ImportError` (soundfile for AudioFolder) is optional: its
    # distribution is in an extra, not in the runtime dependencies.
    extras = {_name(r) for v in _project()["optional-dependencies"].values() for r in v}
    runtime = {_name(r) for r in _project()["dependencies"]}
    optional = _third_party_imports(_core_files(), optional=True)
    assert optional, "the guarded imports were not found"
    assert optional <= extras - runtime, f"undeclared optional imports: {optional - extras}"


def test_import_audiomix_loads_no_optional_package():
    optional = ["librosa", "soundfile", "transformers", "lightning", "datasets", "matplotlib"]
    code = f"import sys, audiomix; print(' '.join(m for m in {optional!r} if m in sys.modules))"
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert loaded == []


def test_one_source_of_the_version():
    project = _project()
    assert "version" not in project and "version" in project["dynamic"]
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert config["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "audiomix.__version__"}
    literals = re.findall(
        r"__version__\s*=\s*['\"]", (PACKAGE / "__init__.py").read_text(encoding="utf-8")
    )
    assert len(literals) == 1
    assert re.fullmatch(r"\d+\.\d+\.\d+([.-]?\w+)?", audiomix.__version__)
