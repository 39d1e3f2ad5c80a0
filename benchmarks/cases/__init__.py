"""The benchmark's cases, one per section of the report, in report order.

A case is a public module here with a function ``run(plan: Plan) -> Section``: it takes its
sizes from the plan (``benchmarks/plan.py``), times what it compares with ``benchmarks/harness.py``
and returns its Markdown, its targets (bound, measured value, met or not), its readings, its
correctness lines and an optional figure (``benchmarks/section.py``). ``bench.py`` runs every case
of :data:`CASES` and ``report.py`` renders what they return, so a new case (frame targets
against clip targets on ``plan.reference``, say) is a new module and one line in :data:`CASES`.
Private modules (``_name.py``) are helpers of the cases.
"""

from __future__ import annotations

from collections.abc import Callable

from ..plan import Plan
from ..section import Section
from . import frame_targets, logmel, mixing, scaling, step

#: The report's numbered sections, in order.
CASES: list[Callable[[Plan], Section]] = [
    mixing.run,
    logmel.run,
    step.run,
    scaling.run,
    frame_targets.run,
]
