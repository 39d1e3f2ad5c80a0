"""``python -m benchmarks.bench`` runs end to end in --quick mode and writes its report; the
report renders any case's section.

No timing is asserted: the machine is shared and tiny sizes say nothing about speed. What is
checked is that every section runs, the correctness checks done in the same run pass, the
report and plot are written where ``--out`` says, and a section is rendered from what its case
returns alone.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import bench, report
from benchmarks.cases import CASES
from benchmarks.plan import FULL, QUICK
from benchmarks.section import Figure, Section, Target, at_least, at_most

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_bench_quick_runs_and_writes_its_report(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench", "--quick", "--threads", "1", "--out", tmp_path],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=230,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = (tmp_path / "results.md").read_text()
    for section in (
        "## Machine",
        "## Targets",
        "## 1. Mixing",
        "## 2. Log-mel front end",
        "## 3. Share of a training step",
        "## 4. Scaling",
    ):
        assert section in report
    assert "torch.set_num_threads(1)" in report
    assert "FAIL" not in report, report
    assert "PASS: audiomix per-batch λ == fused `torch.lerp` reference: bit-identical" in report
    assert "PASS: audiomix `mix` with `lengths` (random) == clips placed by hand" in report
    assert "PASS: audiomix `check_finite=True` == audiomix: bit-identical" in report
    # Filled from the template: no placeholder left, every target row says whether it is met.
    assert re.search(r"\$[a-z_{]", report) is None
    targets = report.split("## Targets")[1].split("## Reading the figures")[0]
    rows = [line for line in targets.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) > 20 and rows[0].startswith("| target |")
    assert all(line.rstrip(" |").endswith(("yes", "**no**")) for line in rows[1:]), rows
    # The target rows: the module, every placement with lengths, CutMix, the dB path.
    for needle in (
        "module (default checks, labels) / bare `mix`",
        "'start' / plain `mix`",
        "'center' / plain `mix`",
        "'random' / plain `mix`",
        "WaveformCutMix",
        "SpectrogramCutMix",
        "hand-written power chain",
    ):
        assert needle in targets, needle
    # Peak memory of audiomix's mix is its output: no hidden copies.
    mix_row = next(line for line in report.splitlines() if line.startswith("| audiomix mix |"))
    assert all(cell.strip() == "1.00×" for cell in mix_row.strip("|").split("|")[1:]), mix_row
    png = tmp_path / "scaling.png"
    if "plot skipped" not in report:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _section(title: str, value: float, figure: Figure | None = None) -> Section:
    target = at_most(f"{title} / floor", value, 1.5)
    return Section(
        title=title,
        body=[f"| {title} | {value:.2f} |", ""],
        targets=[target],
        readings=[f"- **{title}**: {value:.2f}×."],
        checks=[f"PASS: {title} == reference"],
        figure=figure,
    )


def test_report_renders_sections_in_order_with_their_targets_and_figure(tmp_path):
    def draw(path: Path) -> None:
        path.write_bytes(b"figure")

    sections = [
        _section("First", 1.2),
        _section("Second", 2.0, Figure(name="second.png", alt="second", draw=draw)),
    ]
    figures = [s.figure.save(tmp_path) for s in sections if s.figure is not None]
    text = report.render(
        sections,
        figures,
        command="cmd",
        machine="- machine",
        reps="2",
        warmup="1",
        heap_note="heap",
        load_before="0",
        load_after="0",
        threads="1",
        wall="3",
    )
    assert (tmp_path / "second.png").read_bytes() == b"figure"
    assert figures == ["plot written to second.png"]
    assert "- plot written to second.png" in text.split("## Run")[1]
    first, second = text.index("## 1. First"), text.index("## 2. Second")
    assert first < text.index("| First | 1.20 |") < second
    assert text.index("## 2. Second\n\n![second](second.png)\n\n| Second | 2.00 |") == second
    assert "| First / floor | ≤ 1.5× | 1.20× | yes |" in text
    assert "| Second / floor | ≤ 1.5× | 2.00× | **no** |" in text
    assert "- **First**: 1.20×.\n- **Second**: 2.00×." in text
    assert re.search(r"\$[a-z_{]", text) is None


def test_report_names_a_missing_placeholder():
    with pytest.raises(KeyError, match="command"):
        report.render([], [], machine="m")


@pytest.mark.parametrize(
    ("target", "ok", "row"),
    [
        (at_most("a", 1.0, 1.0), True, "| a | ≤ 1× | 1.00× | yes |"),
        (at_most("a", 1.01, 1.0), False, "| a | ≤ 1× | 1.01× | **no** |"),
        (at_least("b", 2.0, 2.0), True, "| b | ≥ 2× | 2.00× | yes |"),
        (at_least("b", 1.99, 2.0), False, "| b | ≥ 2× | 1.99× | **no** |"),
        (Target("c", "≤ 5 %", 5.5, False, unit="%"), False, "| c | ≤ 5 % | 5.5 % | **no** |"),
    ],
)
def test_target_rows(target, ok, row):
    assert target.ok is ok
    assert target.row() == row


def test_failed_checks_are_the_fail_lines():
    section = Section(title="t", body=[], checks=["PASS: a", "FAIL: b: 1e-3", "PASS: c"])
    assert section.failed == ["FAIL: b: 1e-3"]


@pytest.mark.parametrize("quick", [True, False])
def test_plan_from_the_command_line(quick):
    args = bench.parse((["--quick"] if quick else []) + ["--reps", "7", "--no-compile"])
    peers = {"timm": None}
    plan = bench.make_plan(args, peers)
    base = QUICK if quick else FULL
    assert plan.quick is quick
    assert plan.tables == base.tables and plan.tables[0] is plan.reference
    assert (plan.reps, plan.compile, plan.peers) == (7, False, peers)
    assert (plan.logmel_reps, plan.step_reps, plan.scaling_reps) == (3, 2, 2)
    assert bench.make_plan(bench.parse([]), {}).reps == FULL.reps


def test_every_case_is_registered_once():
    assert len(CASES) == len(set(CASES)) >= 4
    assert all(callable(case) and case.__name__ == "run" for case in CASES)
