"""What a case hands to the report: a :class:`Section` with its targets and an optional figure.

Every case is a function ``run(plan) -> Section``; ``report.py`` renders sections without
knowing what they measured.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Target:
    """One row of the targets table: what, the bound, the measured value, met or not."""

    what: str
    wanted: str
    value: float
    ok: bool
    unit: str = "×"

    def row(self) -> str:
        shown = f"{self.value:.1f} %" if self.unit == "%" else f"{self.value:.2f}×"
        return f"| {self.what} | {self.wanted} | {shown} | {'yes' if self.ok else '**no**'} |"


def at_most(what: str, value: float, bound: float) -> Target:
    return Target(what, f"≤ {bound:g}×", value, value <= bound)


def at_least(what: str, value: float, bound: float) -> Target:
    return Target(what, f"≥ {bound:g}×", value, value >= bound)


def met(targets: list[Target]) -> str:
    """How many of ``targets`` hold, as a reading says it: "met" or "3 of 7 met"."""
    count = sum(t.ok for t in targets)
    return "met" if count == len(targets) else f"{count} of {len(targets)} met"


@dataclass(frozen=True)
class Figure:
    """A plot shown at the top of its section; ``draw(path)`` writes it as PNG."""

    name: str
    alt: str
    draw: Callable[[Path], None]

    def save(self, directory: Path) -> str:
        """Writes the figure into ``directory``; returns the line the report's "Run" list shows."""
        try:
            import matplotlib

            matplotlib.use("Agg")
        except Exception as exc:  # matplotlib is optional
            return f"plot skipped: matplotlib unavailable ({exc})"
        self.draw(directory / self.name)
        return f"plot written to {self.name}"


@dataclass
class Section:
    """One numbered section of the report.

    Args:
        title: its heading, without the number.
        body: Markdown lines under the heading (tables, notes, correctness lines).
        targets: rows of the report's targets table, in the order they are listed.
        readings: lines of "Reading the figures", written from this run's values.
        checks: correctness lines of this run ("PASS: ..." / "FAIL: ..."); a FAIL makes
            ``bench.py`` exit with status 1.
        figure: a plot shown under the heading.
    """

    title: str
    body: list[str]
    targets: list[Target] = field(default_factory=list)
    readings: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    figure: Figure | None = None

    @property
    def failed(self) -> list[str]:
        return [c for c in self.checks if c.startswith("FAIL")]

    def markdown(self, number: int) -> str:
        lines = [f"## {number}. {self.title}", ""]
        if self.figure is not None:
            lines += [f"![{self.figure.alt}]({self.figure.name})", ""]
        return "\n".join(lines + self.body).rstrip()
