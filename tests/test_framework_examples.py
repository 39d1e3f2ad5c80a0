"""The training-framework examples run end to end, each in a fresh interpreter as a user runs it.

``examples/lightning_kws.py`` (PyTorch Lightning) and ``examples/hf_kws.py`` (Hugging Face
``datasets`` + ``transformers.Trainer``) mix in DataLoader workers and evaluate clean. Their
tests skip when the ``frameworks`` extra is not installed; ``make test`` installs it. They run
with the platform's worker start method: spawn and forkserver workers (``--context``) start by
re-importing the example and its framework, 10-20 s per DataLoader here, so those start
methods are tested on plain DataLoaders in tests/test_training_loops.py.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
CHANCE = 100 / 4  # the examples' data has 4 balanced classes


def _run(name: str, *args: str, timeout: float = 300) -> str:
    # No network: nothing in the examples downloads, and the hub must not be asked either.
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def _check_outcomes(out: str, *, epochs: int, off_epochs: int, accuracy_line: str) -> None:
    per_epoch = [
        (int(e), int(m), int(n))
        for e, m, n in re.findall(r"epoch (\d+): (\d+)/(\d+) training batches mixed", out)
    ]
    assert [e for e, _, _ in per_epoch] == list(range(epochs)), out
    for epoch, mixed, total in per_epoch:
        assert total > 0
        if epoch < epochs - off_epochs:
            assert mixed == total, f"epoch {epoch}: mixing on, but {mixed}/{total} batches mixed"
        else:
            # The schedule turned mixing off in the main process; the persistent workers saw it.
            assert mixed == 0, f"epoch {epoch}: mixing off, but {mixed}/{total} batches mixed"

    distinct, mixed = map(int, re.search(r"distinct mixing weights: (\d+) of (\d+)", out).groups())
    # Two workers drawing one stream would repeat each other's λ (at most half distinct), and so
    # would epochs repeating the first one.
    assert mixed > 0 and distinct > (mixed + 1) // 2, out

    accuracy = float(re.search(accuracy_line + r": ([\d.]+) %", out).group(1))
    assert accuracy > 2 * CHANCE, out


@pytest.mark.slow
def test_lightning_example():
    pytest.importorskip("lightning")
    out = _run("lightning_kws.py", "--quick", "--mixup-off-epochs", "1")
    _check_outcomes(out, epochs=6, off_epochs=1, accuracy_line="clean validation accuracy")
    assert "validation targets one-hot (unmixed): True" in out


@pytest.mark.slow
def test_hugging_face_example():
    pytest.importorskip("transformers")
    pytest.importorskip("datasets")
    pytest.importorskip("accelerate")
    out = _run("hf_kws.py", "--quick", "--mixup-off-epochs", "1")
    _check_outcomes(out, epochs=6, off_epochs=1, accuracy_line="clean evaluation accuracy")
    assert "evaluation labels are the dataset's class indices: True" in out


def test_docs_show_the_examples_code():
    section = (ROOT / "docs" / "guide" / "frameworks.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    shown = set()
    for block in blocks:
        first, *lines = block.splitlines()
        match = re.fullmatch(r"# (examples/\w+\.py)\b.*", first)
        assert match, f"a snippet must start with '# examples/<name>.py', not {first!r}"
        shown.add(match.group(1))
        source = {line.strip() for line in (ROOT / match.group(1)).read_text().splitlines()}
        # Every code line is a line of the example; comment-only lines are the page's own.
        code = [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
        missing = [line for line in code if line not in source]
        assert not missing, f"docs lines not in {match.group(1)}: {missing}"
    assert shown == {"examples/lightning_kws.py", "examples/hf_kws.py"}
