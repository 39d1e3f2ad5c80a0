"""The sound event detection example runs end to end in its quick mode (``make test``); the
full comparison is ``make sed``."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("sed_eval", reason="the `sed` extra (sed_eval) scores the example")

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sed_frames.py"


def test_sed_example_quick(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(EXAMPLE), "--quick", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| none |" in proc.stdout and "| mixup |" in proc.stdout
    runs = json.loads((tmp_path / "metrics.json").read_text())["runs"]
    assert {r["method"] for r in runs} == {"none", "mixup"}
    for r in runs:
        assert 0.0 <= r["event_f1"] <= 1.0 and 0.0 <= r["frame_f1"] <= 1.0
    assert (tmp_path / "sed.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "wall time" in (tmp_path / "results.md").read_text()
