"""The API reference, generated from ``__all__`` at every build.

Every public module of audiomix (no ``_``-prefixed part in its name) gets a page listing the
names of its ``__all__``. An object is documented once, under its shortest public name: the
classes that ``audiomix`` exports are documented as ``audiomix.X`` (grouped by the public module
that defines them) and their submodule pages point there. When the build ends, every public
name must have an entry in the Python domain, or the build fails.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import types
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = "audiomix"


@dataclass
class Page:
    module: str
    #: name -> "autoclass" / "autofunction" / "autodata", documented here
    entries: dict[str, str] = field(default_factory=dict)
    #: name -> the full public name under which it is documented elsewhere
    elsewhere: dict[str, str] = field(default_factory=dict)
    #: public modules it re-exports (``audiomix.functional`` in ``audiomix.__all__``)
    submodules: list[str] = field(default_factory=list)


def public_modules() -> list[str]:
    """``audiomix`` and every importable submodule with no ``_``-prefixed part, in order."""
    package = importlib.import_module(PACKAGE)
    names = [PACKAGE]
    for info in pkgutil.walk_packages(package.__path__, PACKAGE + "."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        module = importlib.import_module(info.name)
        if getattr(module, "__all__", None):
            names.append(info.name)
    return names


def public_names() -> dict[str, object]:
    """Every full public name (``module.name`` for each name in a module's ``__all__``)."""
    names = {}
    for module_name in public_modules():
        module = importlib.import_module(module_name)
        for name in module.__all__:
            names[f"{module_name}.{name}"] = getattr(module, name)
    return names


def _kind(obj: object) -> str:
    if inspect.isclass(obj):
        return "autoclass"
    if callable(obj):
        return "autofunction"
    return "autodata"


def _home(obj: object, modules: list[str]) -> str:
    """The public module an object's definition belongs to (its ``__module__``'s public part)."""
    defined = getattr(obj, "__module__", None) or ""
    parts = defined.split(".")
    while parts and ".".join(parts) not in modules:
        parts.pop()
    return ".".join(parts) or PACKAGE


def plan() -> list[Page]:
    modules = public_modules()
    pages = {name: Page(name) for name in modules}
    documented: dict[int, str] = {}  # id(object) -> full name it is documented under
    top = importlib.import_module(PACKAGE)
    order = [PACKAGE] + [m for m in modules if m != PACKAGE]
    for module_name in order:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            if isinstance(obj, types.ModuleType):
                pages[module_name].submodules.append(obj.__name__)
                continue
            # Constants (strings, tuples) can be equal objects in two modules: key them by name.
            key = id(obj) if _kind(obj) != "autodata" else hash((module_name, name))
            if key in documented:
                pages[module_name].elsewhere[name] = documented[key]
                continue
            documented[key] = f"{module_name}.{name}"
            pages[module_name].entries[name] = _kind(obj)
    del top
    return [pages[m] for m in order]


def _title(module_name: str) -> str:
    doc = inspect.getdoc(importlib.import_module(module_name)) or module_name
    return doc.split("\n\n")[0].replace("\n", " ").rstrip(".")


def render(page: Page, modules: list[str]) -> str:
    lines = [f"``{page.module}``", "=" * (len(page.module) + 4), ""]
    lines += [f".. automodule:: {page.module}", "   :no-members:", ""]
    groups: dict[str, list[str]] = {}
    module = importlib.import_module(page.module)
    for name in page.entries:
        home = _home(getattr(module, name), modules) if page.module == PACKAGE else page.module
        groups.setdefault(home, []).append(name)
    for home, names in groups.items():
        if len(groups) > 1:
            heading = _title(home) if home != PACKAGE else "Top level"
            lines += [heading, "-" * len(heading), ""]
        for name in names:
            directive = page.entries[name]
            lines.append(f".. {directive}:: {page.module}.{name}")
            if directive == "autoclass":
                lines += ["   :members:", "   :show-inheritance:"]
            lines.append("")
    if page.elsewhere:
        heading = "Also importable from here"
        lines += [heading, "-" * len(heading), ""]
        for name, full in page.elsewhere.items():
            lines.append(f"- ``{page.module}.{name}``: :py:obj:`{full}`")
        lines.append("")
    if page.submodules:
        heading = "Submodules"
        lines += [heading, "-" * len(heading), ""]
        for sub in page.submodules:
            lines.append(f"- :doc:`{sub}`")
        lines.append("")
    return "\n".join(lines)


def write_reference(out_dir: Path) -> list[str]:
    """Writes one ``<module>.rst`` per public module and an ``index.rst``; returns the pages."""
    out_dir.mkdir(parents=True, exist_ok=True)
    modules = public_modules()
    pages = plan()
    for old in out_dir.glob("*.rst"):
        old.unlink()
    for page in pages:
        (out_dir / f"{page.module}.rst").write_text(render(page, modules), encoding="utf-8")
    index = ["API reference", "=============", ""]
    index += ["Generated from each public module's ``__all__`` at every build.", ""]
    index += [".. toctree::", "   :maxdepth: 1", ""]
    index += [f"   {page.module}" for page in pages]
    (out_dir / "index.rst").write_text("\n".join(index) + "\n", encoding="utf-8")
    return [page.module for page in pages]


def _generate(app) -> None:
    write_reference(Path(app.srcdir) / "api")


def _check_complete(app, exception) -> None:
    if exception is not None:
        return
    domain = app.env.get_domain("py")
    documented = {name for name, *_ in domain.get_objects()}
    pages = {page.module: page for page in plan()}
    missing = []
    for full in public_names():
        module_name, name = full.rsplit(".", 1)
        page = pages[module_name]
        target = full if name in page.entries else page.elsewhere.get(name)
        if name in page.submodules or f"{module_name}.{name}" in pages:
            target = f"{module_name}.{name}"  # a module: documented by its own page
        if target not in documented:
            missing.append(full)
    if missing:
        raise RuntimeError(f"public names missing from the API reference: {missing}")


def setup(app):
    app.connect("builder-inited", _generate)
    app.connect("build-finished", _check_complete)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
