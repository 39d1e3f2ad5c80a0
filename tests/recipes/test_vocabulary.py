"""The recipe on a dataset of another vocabulary in the Speech Commands layout, without
``_background_noise_``: own keywords, the degenerate-task errors, reports that say what ran
(no spread with one seed, background noise reported as none) and the accuracy under shift.

The dataset is written here: tones, noise bursts and chirps per word, seconds to make.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from recipes.speech_commands import compare as C
from recipes.speech_commands import report, train
from recipes.speech_commands import robustness as R
from recipes.speech_commands.augment import shift_time
from recipes.speech_commands.config import load_config, parse_args

SR = 16000
VOCABULARY = ("alpha", "bravo", "charlie", "delta", "echo")
KEYWORDS = '["alpha", "bravo", "charlie", "delta"]'  # echo becomes _unknown_
CONDITIONS = {"noise_20db", "noise_10db", "noise_0db", "gain_m20db", "clip_30db", "shift_200ms"}


def _clip(word: int, rng: np.random.Generator) -> np.ndarray:
    n = int(SR * rng.uniform(0.5, 1.0))
    t = np.arange(n) / SR
    if word < 3:  # tones
        y = np.sin(2 * np.pi * 300 * 2 ** (word / 2) * t)
    elif word == 3:  # a noise burst
        y = rng.standard_normal(n) * (t < 0.3)
    else:  # a chirp
        y = np.sin(2 * np.pi * (200 + 1500 * t) * t)
    level = 10 ** (rng.uniform(-25, -6) / 20)
    return (level * y * np.hanning(n) + 0.002 * rng.standard_normal(n)).astype(np.float32)


def make_vocabulary_dataset(root: Path, *, speakers: int = 5, clips: int = 2) -> Path:
    """Speech Commands layout, no ``_background_noise_``: speakers 0..n-3 train, n-2
    validation, n-1 test (list files)."""
    rng = np.random.default_rng(0)
    lists: dict[str, list[str]] = {"validation": [], "testing": []}
    for s in range(speakers):
        for w, word in enumerate(VOCABULARY):
            (root / word).mkdir(parents=True, exist_ok=True)
            for k in range(clips):
                rel = f"{word}/{s:08x}_nohash_{k}.wav"
                sf.write(root / rel, _clip(w, rng), SR, subtype="PCM_16")
                if s == speakers - 2:
                    lists["validation"].append(rel)
                elif s == speakers - 1:
                    lists["testing"].append(rel)
    for split, entries in lists.items():
        (root / f"{split}_list.txt").write_text("\n".join(entries) + "\n")
    return root


@pytest.fixture(scope="module")
def vocabulary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_vocabulary_dataset(tmp_path_factory.mktemp("vocab") / "words")


def _args(data: Path, run_dir: Path, *extra: str) -> list[str]:
    return [
        "--data-dir", str(data), "--run-dir", str(run_dir), "--quiet",
        "--set", "model.width=4", "--set", "train.batch_size=8", "--set", "train.threads=1",
        "--set", "eval.train_subset=8", "--set", "train.epochs=1", *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def comparison(vocabulary: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One seed of none and waveform mixup on the own vocabulary, through compare.py, with the
    augmentations of ``make kws-augmented`` asked for (background noise cannot run here)."""
    out = tmp_path_factory.mktemp("cmp") / "out"
    argv = [
        "--data-dir", str(vocabulary), "--out", str(out), "--quiet", "--methods", "none",
        "waveform", "--noise", "0", "--seeds", "0", "--jobs", "1", "--threads", "1",
        "--set", f"data.keywords={KEYWORDS}", "--set", "model.width=4", "--set", "train.epochs=1",
        "--set", "eval.train_subset=8", "--set", "train.batch_size=8",
        "--set", "augment.noise_prob=0.8", "--set", "augment.time_shift_ms=100.0",
    ]  # fmt: skip
    with pytest.warns(UserWarning, match="no background-noise augmentation"):
        assert C.main(argv) == 0
    return out


# -- own keywords, and the tasks that cannot be learnt -----------------------------------------


def test_own_keywords_without_background_noise(comparison):
    run = comparison / "runs" / C.run_name("waveform", 0.0, 0)
    metrics = json.loads((run / "metrics.json").read_text())
    # No _background_noise_: no _silence_ class; the word outside the keywords is _unknown_.
    assert metrics["class_names"] == ["_unknown_", "alpha", "bravo", "charlie", "delta"]
    applied = json.loads((run / "run_info.json").read_text())["applied"]
    assert applied["data"]["silence"] == "none, the dataset has no `_background_noise_`"
    assert applied["augment"]["background_noise"] == (
        "none, the dataset has no readable `_background_noise_`"
    )
    assert applied["augment"]["time_shift"] == "±100 ms"
    assert applied["splits"]["rule"] == "validation_list.txt and testing_list.txt"
    assert applied["mixup"]["class"] == "WaveformMixup"


def test_default_keywords_on_another_vocabulary_is_an_error(vocabulary, tmp_path):
    _, cfg = parse_args(_args(vocabulary, tmp_path / "run"))
    with pytest.raises(
        ValueError,
        match=r"task='12' needs at least two of its keywords as word folders, but .* has 0 of "
        r"\['yes', .*its word folders are: alpha, bravo, charlie, delta, echo\. Choose keywords "
        r"among them with `--set \"data.keywords=\[word1, word2\]\"`, or train on every word "
        r"folder with `--set data.task=35`",
    ):
        train.run(cfg)


def test_a_class_without_training_clips_is_an_error(vocabulary, tmp_path):
    data = Path(shutil.copytree(vocabulary, tmp_path / "words"))
    validation = set((data / "validation_list.txt").read_text().split())
    delta = {f"delta/{p.name}" for p in (data / "delta").glob("*.wav")} - validation
    listed = (data / "testing_list.txt").read_text().split()
    (data / "testing_list.txt").write_text("\n".join(sorted(set(listed) | delta)) + "\n")
    _, cfg = parse_args(_args(data, tmp_path / "run", "--set", f"data.keywords={KEYWORDS}"))
    with pytest.raises(
        ValueError,
        match=r"class\(es\) \['delta'\] have no clips in the training split of .* \(split by "
        r"list files\); a class without training clips cannot be learnt",
    ):
        train.run(cfg)


def test_unquoted_yes_in_keywords_is_refused(capsys):
    with pytest.raises(SystemExit):
        parse_args(["--set", "data.keywords=[yes, up]"])
    assert "`data.keywords` must hold words, but got True (YAML reads yes, no, on and off" in (
        capsys.readouterr().err
    )


# -- reports that say what ran -----------------------------------------------------------------


def test_report_says_what_ran_and_no_spread_from_one_seed(comparison):
    text = (comparison / "results.md").read_text()
    tables = text.split("## Results")[1].split("## Figures")[0]
    assert "| 0% | none |" in tables and not re.search(
        r"± \d", tables
    )  # "shift ±200 ms" is a label
    assert "## Results (one seed: no spread)" in text
    assert "background noise: none, the dataset has no readable `_background_noise_`" in text
    assert "`_silence_`: none, the dataset has no `_background_noise_`" in text
    assert "5 classes (_unknown_, alpha, bravo, charlie, delta)" in text
    assert "noise p = 0.8" not in text  # the configured value that did not run
    assert "white, pink and brown noise generated at run time" in text
    summary = json.loads((comparison / "results.json").read_text())
    assert summary["applied"]["augment"]["background_noise"].startswith("none")
    row = summary["rows"][0]
    assert row["test accuracy (%)"][1] is None  # no std from one seed


def test_spread_only_from_two_seeds():
    def fake(seed: int, acc: float) -> dict:
        test = {
            "accuracy": acc,
            "nll": 1.0,
            "ece": 0.1,
            "nll_ts": 0.9,
            "ece_ts": 0.05,
            "temperature": 1.0,
        }
        train = {"accuracy_noisy": 0.5, "accuracy_clean": 0.5}
        return {"label": "none", "noise": 0.0, "seed": seed, "history": [], "info": {},
                "metrics": {"test": test, "train": train}}  # fmt: skip

    one = report.results_table(report.aggregate([fake(0, 0.5)]))
    two = report.results_table(report.aggregate([fake(0, 0.5), fake(1, 0.7)]))
    assert "±" not in one and "| 0% | none | 50.0 | 1.000 |" in one
    assert "| 0% | none | 60.0 ± 14.1 | 1.000 ± 0.000 |" in two


# -- accuracy under shift ----------------------------------------------------------------------


def test_robustness_keys_in_metrics_and_report(comparison):
    for method in ("none", "waveform"):
        metrics = json.loads(
            (comparison / "runs" / C.run_name(method, 0.0, 0) / "metrics.json").read_text()
        )
        robust = metrics["robustness"]
        assert set(robust) == CONDITIONS
        for entry in robust.values():
            assert 0.0 <= entry["accuracy"] <= 1.0
            for key in ("nll", "ece", "nll_ts", "ece_ts"):
                assert math.isfinite(entry[key])
        assert 0.0 < robust["clip_30db"]["clipped_share"] <= 1.0
    text = (comparison / "results.md").read_text()
    assert "## Accuracy under shift (one seed: no spread)" in text
    delta = text.split("## Change against no mixup")[1].split("##")[0]
    for label in ("clean", "noise 20 dB SNR", "noise 0 dB SNR", "gain -20 dB",
                  "gain +30 dB, clipped", "shift ±200 ms"):  # fmt: skip
        assert f"| 0% | waveform | {label} |" in delta
    assert (comparison / "robustness.png").stat().st_size > 5000
    assert "](robustness.png)" in text
    info = json.loads(
        (comparison / "runs" / C.run_name("none", 0.0, 0) / "run_info.json").read_text()
    )
    assert info["robustness_seconds"] > 0 and info["cpu_model"] and info["cpus_available"] >= 1


def test_conditions_from_config_and_their_errors():
    names = [c.name for c in R.conditions(load_config()["robustness"])]
    assert names == [
        "noise_20db",
        "noise_10db",
        "noise_0db",
        "gain_m20db",
        "clip_30db",
        "shift_200ms",
    ]
    assert R.conditions({"enabled": False, "snr_db": [0.0]}) == []
    with pytest.raises(
        ValueError, match=r"`robustness.snr_db` must hold finite numbers \(dB\), but got 'x'"
    ):
        R.conditions({"snr_db": ["x"]})
    with pytest.raises(
        ValueError, match="`robustness.clip_gain_db` must hold finite numbers .dB., but got inf"
    ):
        R.conditions({"clip_gain_db": math.inf})
    with pytest.raises(ValueError, match="`robustness.time_shift_ms` must be >= 0, but got -5"):
        R.conditions({"time_shift_ms": -5})
    with pytest.raises(SystemExit):  # checked when the config is loaded, before any training
        parse_args(["--set", "robustness.gain_db=[.nan]"])


def _shifted(condition: R.Condition, x: torch.Tensor, noise, chunks: int) -> torch.Tensor:
    shift = R.Shift(condition, noise, sample_rate=SR, seed=0)
    return torch.cat([shift(part) for part in x.chunk(chunks)])


def test_shift_conditions_apply_what_they_say():
    g = torch.Generator().manual_seed(0)
    x = 0.1 * torch.randn(6, SR, generator=g)
    noise = R.coloured_noise(3 * SR, generator=g)
    snr = R.Condition("noise_10db", "noise 10 dB SNR", "noise", 10.0)
    out = _shifted(snr, x, noise, chunks=2)
    measured = 10 * torch.log10(x.pow(2).sum(1) / (out - x).pow(2).sum(1))
    torch.testing.assert_close(measured, torch.full((6,), 10.0), atol=1e-3, rtol=0)
    # The same seed and chunks give the same copy: every run sees the same shifted clips.
    assert torch.equal(out, _shifted(snr, x, noise, chunks=2))
    gain = R.Condition("gain_m20db", "gain -20 dB", "gain", -20.0)
    torch.testing.assert_close(_shifted(gain, x, noise, 1), x * 0.1)
    clip = R.Shift(R.Condition("clip_30db", "", "clip", 30.0), noise, sample_rate=SR, seed=0)
    loud = clip(x)
    assert loud.abs().max() == 1.0 and clip.clipped == 6
    move = _shifted(R.Condition("shift_200ms", "", "shift", 200.0), x, noise, 1)
    for row, shifted in zip(x, move, strict=True):
        options = [shift_time(row[None], torch.tensor([s]))[0] for s in (3200, -3200)]
        assert any(torch.equal(shifted, o) for o in options)


def test_coloured_noise_is_white_pink_and_brown():
    white, pink, brown = R.coloured_noise(SR, generator=torch.Generator().manual_seed(1))
    low_share = []
    for n in (white, pink, brown):
        assert n.shape == (SR,) and n.pow(2).mean().sqrt().item() == pytest.approx(1.0, rel=1e-4)
        power = torch.fft.rfft(n.double()).abs().pow(2)
        low_share.append(float(power[1:200].sum() / power.sum()))  # below 200 Hz
    assert low_share[0] < low_share[1] < low_share[2]
    with pytest.raises(ValueError, match="`num_samples` must be >= 2, but got 1"):
        R.coloured_noise(1, generator=torch.Generator())
