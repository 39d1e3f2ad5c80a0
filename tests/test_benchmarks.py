"""benchmarks/bench.py runs end to end in --quick mode and writes its report.

No timing is asserted: the machine is shared and tiny sizes say nothing about speed. What is
checked is that every section runs, the correctness checks done in the same run pass, and the
report and plot are written where ``--out`` says.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks" / "bench.py"


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_bench_quick_runs_and_writes_its_report(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--threads", "1", "--out", str(tmp_path)],
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
    # The rows: the module, every placement with lengths, CutMix, the dB path.
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
