"""The comparison driver: the quick preset end to end (results.md, figures, run-level resume),
method names and the aggregation behind the table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recipes.speech_commands import compare as C
from recipes.speech_commands import report
from tests._helpers import make_tiny_speech_commands

FIGURES = ("learning_curves.png", "reliability.png", "confusion.png", "mixed_examples.png")


def _check_outputs(out: Path, methods, noises) -> str:
    text = (out / "results.md").read_text()
    for name in FIGURES:
        assert (out / name).stat().st_size > 5000, name
        assert f"]({name})" in text
    table = text.split("## Results")[1].split("##")[0]
    for method in methods:
        for noise in noises:
            assert f"| {noise:.0%} | {method} |" in table
    assert "test accuracy (%)" in table and "ECE, T-scaled" in table
    assert "train acc, noisy labels (%)" in table
    return text


def test_quick_comparison_on_the_builtin_data(tmp_path):
    """`compare --quick` is the README's first command in miniature: synthetic data, three
    methods, two noise rates, table and figures; a second call trains nothing."""
    pytest.importorskip("espeakng_loader", reason="the built-in data needs the speech extra")
    out = tmp_path / "cmp"
    argv = [
        "--quick",
        "--out",
        str(out),
        "--quiet",
        "--set",
        f"data.cache_dir={tmp_path / 'cache'}",
    ]
    assert C.main(argv) == 0
    text = _check_outputs(out, C.QUICK_METHODS, C.QUICK_NOISE)
    assert "built-in synthetic" in text
    timing = json.loads((out / "timing.json").read_text())
    assert timing["ran"] == timing["total_runs"] == 6
    for method in C.QUICK_METHODS:
        assert (out / "runs" / C.run_name(method, 0.4, 0) / "metrics.json").exists()
    assert C.main(argv) == 0  # run-level resume: everything is done
    assert json.loads((out / "timing.json").read_text())["ran"] == 0


def test_comparison_on_a_folder_with_two_jobs_and_an_unfinished_run(tmp_path):
    data = make_tiny_speech_commands(tmp_path / "sc", speakers=5, clips=1)
    out = tmp_path / "cmp"
    argv = [
        "--data-dir",
        str(data),
        "--out",
        str(out),
        "--quiet",
        "--methods",
        "none",
        "waveform+rms",
        "--noise",
        "0",
        "--seeds",
        "0",
        "1",
        "--jobs",
        "2",
        "--threads",
        "1",
        "--set",
        "model.width=4",
        "--set",
        "train.epochs=1",
        "--set",
        "eval.train_subset=16",
        "--set",
        "train.batch_size=16",
    ]
    assert C.main(argv) == 0
    text = _check_outputs(out, ["none", "waveform+rms"], [0.0])
    assert "Speech Commands" in text
    assert "## Results (mean ± std over seeds)" in text  # two seeds: a spread
    assert "| 0% | none | clean |" not in text and "| 0% | waveform+rms | clean |" in text
    metrics = json.loads(
        (out / "runs" / C.run_name("waveform+rms", 0.0, 1) / "metrics.json").read_text()
    )
    assert metrics["method"] == "waveform" and metrics["normalize_rms"] is True
    # A run whose outputs went missing is trained again, the others are kept.
    (out / "runs" / C.run_name("none", 0.0, 1) / "metrics.json").unlink()
    assert C.main(argv) == 0
    assert json.loads((out / "timing.json").read_text())["ran"] == 1


def test_method_names():
    assert C.method_overrides("waveform+rms") == {
        "mixup.method": "waveform",
        "mixup.normalize_rms": True,
    }
    assert C.method_overrides("spectrogram_cutmix+rms")["mixup.normalize_rms"] is True
    with pytest.raises(ValueError, match="unknown method 'cutout'"):
        C.method_overrides("cutout")


def _fake_run(label: str, noise: float, seed: int, acc: float) -> dict:
    test = {
        "accuracy": acc,
        "nll": 1 - acc,
        "ece": 0.1,
        "nll_ts": 0.5,
        "ece_ts": 0.05,
        "temperature": 1.5,
    }
    return {
        "label": label,
        "noise": noise,
        "seed": seed,
        "history": [],
        "info": {"wall_seconds": 10.0},
        "metrics": {"test": test, "train": {"accuracy_noisy": 0.6, "accuracy_clean": 0.9}},
    }


def test_aggregate_mean_std_and_deltas():
    runs = [_fake_run("none", 0.0, s, a) for s, a in enumerate((0.70, 0.72, 0.74))]
    runs += [_fake_run("spectrogram", 0.0, s, a) for s, a in enumerate((0.80, 0.80, 0.80))]
    rows = report.aggregate(runs)
    assert [r["method"] for r in rows] == ["none", "spectrogram"]
    mean, std = rows[0]["test accuracy (%)"]
    assert mean == pytest.approx(72.0) and std == pytest.approx(2.0)  # sample std over seeds
    assert "| 0% | none | 72.0 ± 2.0 |" in report.results_table(rows)
    delta = report.delta_table(runs)  # paired by seed: +10, +8, +6 points
    assert "| 0% | spectrogram | clean | +8.0 ± 2.0 | -0.080 ± 0.020 | +0.000 ± 0.000 |" in delta
    assert delta.rstrip().endswith("| 3 of 3 |")


@pytest.mark.parametrize(
    "runs, cores, gpus, expected",
    [
        (18, 2, 0, (2, 1, ())),  # this machine: one single-threaded job per core
        (18, 1, 0, (1, 1, ())),
        (1, 8, 0, (1, 8, ())),  # one run: all cores as threads
        (18, 64, 0, (18, 3, ())),  # more cores than runs: spare cores as threads
        (18, 32, 4, (4, 8, (0, 1, 2, 3))),  # one job per GPU
        (2, 32, 4, (2, 16, (0, 1))),
    ],
)
def test_layout_follows_the_machine(runs, cores, gpus, expected):
    layout = C.choose_layout(runs, cores=cores, gpus=gpus)
    assert (layout.jobs, layout.threads, layout.gpus) == expected


def test_layout_takes_given_jobs_and_threads():
    assert C.choose_layout(18, cores=2, gpus=0, jobs=1) == C.Layout(1, 2)
    assert C.choose_layout(18, cores=2, gpus=0, jobs=1, threads=1) == C.Layout(1, 1)
    with pytest.raises(ValueError, match="`jobs` must be >= 1, but got 0"):
        C.choose_layout(18, jobs=0)
    with pytest.raises(ValueError, match="`threads` must be >= 1, but got -1"):
        C.choose_layout(18, threads=-1)
    with pytest.raises(ValueError, match="`runs` must be >= 1, but got 0"):
        C.choose_layout(0)
