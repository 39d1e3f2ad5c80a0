"""The sound event detection example runs end to end in its quick mode (``make test``); the
full comparison is ``make sed``."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("sed_eval", reason="the `sed` extra (sed_eval) scores the example")
pytest.importorskip("sed_scores_eval", reason="the `sed` extra (sed_scores_eval) gives PSDS")

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
        for key in ("event_f1", "frame_f1", "psds1", "psds2"):
            assert 0.0 <= r[key] <= 1.0, (key, r[key])
    assert (tmp_path / "sed.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "wall time" in (tmp_path / "results.md").read_text()


def test_psds_of_the_labels_themselves_is_perfect_and_of_noise_is_not():
    # The scoring's wiring (frame times, classes, clip ids, durations): frame labels used as
    # scores detect every event exactly, so PSDS1 is 1; scores that ignore the clips are
    # far from it.
    sys.path.insert(0, str(EXAMPLE.parent))
    from _sed import make_split, psd_scores

    data = make_split(24, seed=7)
    perfect = psd_scores(data.labels.numpy(), data.events)
    assert perfect["psds1"] == pytest.approx(1.0)
    noise = torch.rand(data.labels.shape, generator=torch.Generator().manual_seed(0))
    assert psd_scores(noise.numpy(), data.events)["psds1"] < 0.5
