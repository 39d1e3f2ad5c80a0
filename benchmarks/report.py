"""The report: ``report_template.md`` filled with the sections of one run.

Every number in the report comes from the run that writes it. The template holds what never
changes between runs (the method, what each method does); the sections bring their tables,
targets and readings, and are numbered in the order of ``cases.CASES``.
"""

from __future__ import annotations

import string
from pathlib import Path

from .section import Section

TEMPLATE = Path(__file__).resolve().parent / "report_template.md"


def render(sections: list[Section], figures: list[str], **run: str) -> str:
    """The filled template.

    Args:
        sections: the run's sections, in report order.
        figures: one line per figure (written, or skipped and why), for the "Run" list.
        **run: the template's other ``$name`` placeholders (command, machine, load, wall
            time...); a missing one fails.
    """
    return string.Template(TEMPLATE.read_text()).substitute(
        run,
        targets="\n".join(t.row() for s in sections for t in s.targets),
        readings="\n".join(line for s in sections for line in s.readings),
        sections="\n\n".join(s.markdown(i) for i, s in enumerate(sections, start=1)),
        figures="\n".join(f"- {line}" for line in figures),
    )
