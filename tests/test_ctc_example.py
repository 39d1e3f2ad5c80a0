"""examples/ctc_mixup.py: its quick form runs end to end and resumes; its decoder and lengths."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("jiwer")
pytest.importorskip("espeakng_loader")  # the speech extra: the utterances are synthesised

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "ctc_mixup.py"


def _example():
    spec = importlib.util.spec_from_file_location("ctc_mixup", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["ctc_mixup"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _run(out, capsys):
    # In-process (the script's main, as `python examples/ctc_mixup.py --quick` runs it): the
    # imports are paid once.
    threads = torch.get_num_threads()
    try:
        with torch.random.fork_rng(devices=[]):  # the script seeds the model's initialisation
            _example().main(["--quick", "--threads", "1", "--out", str(out)])
    finally:
        torch.set_num_threads(threads)
    return capsys.readouterr().out


def test_the_quick_form_runs_and_resumes(tmp_path, capsys):
    out = _run(tmp_path, capsys)
    assert "32 training and 16 test utterances, 2 epochs" in out
    for method in ("none", "waveform", "spectrogram"):
        assert method in out
    metrics = json.loads((tmp_path / "quick" / "metrics.json").read_text())
    runs = metrics["runs"]
    assert [r["method"] for r in runs] == ["none", "waveform", "spectrogram"]
    for run in runs:
        assert len(run["wer"]) == 2 and all(w >= 0 for w in run["wer"])
    assert (tmp_path / "quick" / "wer.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # A second run finds every checkpoint complete: no training (the checkpoints are not
    # rewritten), the same numbers.
    checkpoints = sorted((tmp_path / "quick").glob("checkpoints-*/*.pt"))
    assert len(checkpoints) == 3
    written = [p.stat().st_mtime_ns for p in checkpoints]
    _run(tmp_path, capsys)
    assert [p.stat().st_mtime_ns for p in checkpoints] == written
    again = json.loads((tmp_path / "quick" / "metrics.json").read_text())["runs"]
    assert again == runs


def test_greedy_decoding_and_output_lengths():
    ex = _example()
    # Frames: yes yes blank yes no no blank (blank = 0, "yes" = 1, "no" = 2).
    path = torch.tensor([1, 1, 0, 1, 2, 2, 0, 5])
    log_probs = torch.nn.functional.one_hot(path, 11).float().log().unsqueeze(1)
    assert ex.greedy_decode(log_probs, torch.tensor([7])) == ["yes yes no"]
    assert ex.greedy_decode(log_probs, torch.tensor([8])) == ["yes yes no left"]
    model = ex.Recogniser(width=8)
    frames = torch.tensor([101, 64, 9])
    log_probs, lengths = model(torch.randn(3, 40, 101), frames)
    assert log_probs.shape == (26, 3, 11) and lengths.tolist() == [26, 16, 3]
    torch.testing.assert_close(log_probs.exp().sum(-1), torch.ones(26, 3))
