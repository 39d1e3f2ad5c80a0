"""The keyword-spotting recipe's committed results, in the documentation.

At every build, each ``recipes/speech_commands/results/**/results.md`` becomes a page under
``docs/recipe/`` that includes it (so a re-run of the recipe shows up without an edit here),
and the ``recipe-figure`` directive shows one of the recipe's figures by file name, wherever
the recipe keeps it (``recipe-figure:: memorise/learning_curves.png`` or just a file name).
"""

from __future__ import annotations

import os
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst.directives.images import Figure
from sphinx.util import logging

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "recipes" / "speech_commands" / "results"
logger = logging.getLogger(__name__)


def result_pages() -> dict[str, Path]:
    """Page name -> results.md, for every results folder of the recipe (sorted)."""
    pages = {}
    for path in sorted(RESULTS.rglob("results.md")):
        folder = path.parent.relative_to(RESULTS).as_posix()
        pages["main" if folder == "." else folder.replace("/", "-")] = path
    return pages


def _title(name: str, path: Path) -> str:
    command = next(
        (
            line.split("`")[1]
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.startswith("Command: `")
        ),
        None,
    )
    folder = path.parent.relative_to(RESULTS).as_posix()
    where = "results/" if folder == "." else f"results/{folder}/"
    return f"{where}: `{command}`" if command else where


def write_pages(out_dir: Path) -> list[str]:
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*.md"):
        old.unlink()
    pages = result_pages()
    for name, path in pages.items():
        include = os.path.relpath(path, out_dir)
        text = (
            f"# {_title(name, path)}\n\n"
            f"```{{include}} {include}\n:relative-images:\n:heading-offset: 1\n```\n"
        )
        (out_dir / f"{name}.md").write_text(text, encoding="utf-8")
    index = [
        "# The keyword-spotting recipe's results",
        "",
        "Each page is a `results.md` the recipe wrote (`recipes/speech_commands/results/`),",
        "with the command, the machine, the wall time and the figures; the recipe's README",
        "(`recipes/speech_commands/README.md`) reads them.",
        "",
        "```{toctree}",
        ":maxdepth: 1",
        "",
        *pages,
        "```",
    ]
    (out_dir / "index.md").write_text("\n".join(index) + "\n", encoding="utf-8")
    return list(pages)


class RecipeFigure(Figure):
    """A figure of the recipe's results, found by its path under results/ or its file name."""

    def run(self):
        wanted = self.arguments[0]
        candidates = [RESULTS / wanted] if (RESULTS / wanted).is_file() else []
        candidates += sorted(RESULTS.rglob(Path(wanted).name), key=lambda p: len(p.parts))
        source = Path(self.state.document.current_source).parent
        if not candidates:
            # The recipe's results are re-run by their own command; a figure that moved away
            # leaves a note, not a broken build.
            logger.info("recipe-figure: %s is not in the recipe's results", wanted)
            return [nodes.paragraph(text=f"(The recipe's figure {wanted} is not committed.)")]
        self.arguments[0] = os.path.relpath(candidates[0], source)
        return super().run()


def _generate(app) -> None:
    write_pages(Path(app.srcdir) / "recipe")


def setup(app):
    app.connect("builder-inited", _generate)
    app.add_directive("recipe-figure", RecipeFigure)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
