"""The examples run end to end (each in a fresh interpreter, as a user would run them)."""

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _run(name, *args, timeout=120):
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_torchaudio_chain():
    out = _run("torchaudio_chain.py", "--batches", "2")
    assert "batch 1: method" in out and "specgram (4, 40, 101)" in out
    assert "valid frames [101, 56, 81," in out
    assert "chain.eval(): the clean front end True" in out and "one-hot True" in out


def test_variable_length():
    out = _run("variable_length.py")
    assert out.count("silent beyond: True") == 5 and "False" not in out
    assert "padding untouched: True" in out


def test_plot_mixing(tmp_path):
    png = tmp_path / "mixing.png"
    _run("plot_mixing.py", "--out", str(png))
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000


def test_noisy_labels_quick():
    out = _run("noisy_labels.py", "--quick")
    assert "label noise | method" in out
    assert out.count("% ±") == 4  # none/mixup at 0 % and 40 % noise


@pytest.mark.slow
def test_noisy_labels_full():
    # The documented run (3 seeds): under a minute on one core.
    out = _run("noisy_labels.py", timeout=300)
    assert "3 seed(s)" in out and out.count("% ±") == 4
