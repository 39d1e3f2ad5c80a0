"""The speech-commands training script: config and CLI, mixer registry, metrics, a tiny run,
resume after a kill (identical metrics), strict mode and a 2-process torchrun smoke run.

Runs use a tiny dataset written here in the Speech Commands layout (tones per word, seconds
to make), so these tests need neither eSpeak NG nor the network.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from recipes.speech_commands import train
from recipes.speech_commands.config import apply_overrides, config_digest, load_config, parse_args
from recipes.speech_commands.metrics import classification_metrics, fit_temperature
from recipes.speech_commands.mixers import MIXERS, build_mixer
from tests._helpers import make_tiny_speech_commands

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_speech_commands(tmp_path_factory.mktemp("sc") / "speech_commands")


def tiny_args(data: Path, run_dir: Path, *extra: str) -> list[str]:
    return [
        "--data-dir",
        str(data),
        "--run-dir",
        str(run_dir),
        "--quiet",
        "--set",
        "model.width=4",
        "--set",
        "train.batch_size=16",
        "--set",
        "train.threads=1",
        "--set",
        "eval.train_subset=32",
        "--set",
        "train.epochs=2",
        *extra,
    ]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["OMP_NUM_THREADS"] = "1"
    return env


def _train_cli(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "recipes.speech_commands.train", *args],
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
        **kwargs,
    )


# -- config and command line -------------------------------------------------------------------


def test_help_lists_keys_and_methods():
    out = _train_cli("--help")
    assert out.returncode == 0, out.stderr
    assert "--set KEY=VALUE" in out.stdout
    assert "--mixup.method 'none'" in out.stdout
    assert "--resume" in out.stdout and "--data-dir" in out.stdout
    for name in ("none", "waveform", "spectrogram"):
        assert name in out.stdout.split("mixup methods available:")[1].splitlines()[0]


def test_overrides_in_both_forms_and_quick():
    _, cfg = parse_args(
        [
            "--quick",
            "--set",
            "train.epochs=3",
            "--mixup.method",
            "spectrogram",
            "--train.lr=0.01",
            "--augment.noise_snr_db",
            "[5, 10]",
            "--seed",
            "7",
            "--set",
            "mixup.kwargs.mode=time",
        ]
    )
    assert cfg["train"]["epochs"] == 3
    assert cfg["mixup"]["method"] == "spectrogram"
    assert cfg["train"]["lr"] == 0.01
    assert cfg["augment"]["noise_snr_db"] == [5, 10]
    assert cfg["seed"] == 7
    assert cfg["mixup"]["kwargs"] == {"mode": "time"}
    assert cfg["data"]["synth"]["preset"] == "quick"  # from the quick: section
    assert cfg["model"]["width"] == 8
    assert "quick" not in cfg


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--set", "train.epoch=3"], "unknown config key `train.epoch`. Did you mean train.epochs"),
        (["--set", "train.epochs=many"], "`train.epochs` must be an integer"),
        (["--mixup.method", "cutout"], "`mixup.method` must be one of"),
        (["--set", "train.label_noise=1.5"], r"`train.label_noise` must be in \[0, 1\]"),
        (["--set", "mixup.alpha"], "--set expects KEY=VALUE"),
    ],
)
def test_bad_overrides_fail_with_a_clear_message(argv, message, capsys):
    with pytest.raises(SystemExit):
        parse_args(argv)
    assert pytest.importorskip("re").search(message, capsys.readouterr().err)


def test_config_digest_ignores_cosmetic_keys():
    cfg = load_config()
    same = apply_overrides(cfg, [("quiet", True), ("run_dir", "elsewhere")])
    other = apply_overrides(cfg, [("mixup.alpha", 0.3)])
    assert config_digest(cfg) == config_digest(same) != config_digest(other)


# -- mixers and metrics -------------------------------------------------------------------------


def test_registry_builds_every_mixer_of_audiomix():
    assert {"waveform", "spectrogram"} <= set(MIXERS)
    cfg = load_config()
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(8) % 4
    for name, spec in MIXERS.items():
        cfg = apply_overrides(cfg, [("mixup.method", name)])
        mixer, stage = build_mixer(cfg, num_classes=4)
        assert isinstance(mixer, spec.cls) and stage == spec.stage
        x = (
            torch.randn(8, 16000, generator=g)
            if stage == "waveform"
            else torch.randn(8, 40, 101, generator=g) - 40
        )
        out, targets = mixer(x, labels)
        assert out.shape == x.shape and targets.shape == (8, 4)
        torch.testing.assert_close(targets.sum(1), torch.ones(8))


def test_mixer_streams_are_seeded_by_the_run_seed():
    cfg = apply_overrides(load_config(), [("mixup.method", "waveform")])
    a, _ = build_mixer(cfg, 4)
    b, _ = build_mixer(cfg, 4)
    c, _ = build_mixer(apply_overrides(cfg, [("seed", 1)]), 4)
    pa, pb, pc = (m.sample_params(16) for m in (a, b, c))
    assert torch.equal(pa.lam, pb.lam) and torch.equal(pa.perm, pb.perm)
    assert not torch.equal(pa.perm, pc.perm)


@pytest.mark.parametrize(
    "arch, width, blocks, params",
    [
        ("small", 12, 1, 34_656),
        ("small", 16, 1, 61_180),
        ("tcresnet", 16, 1, 65_148),  # TC-ResNet8
        ("tcresnet", 16, 2, 135_836),  # TC-ResNet14
    ],
)
def test_models_and_front_end(arch, width, blocks, params):
    from recipes.speech_commands.model import FrontEnd, KWSNet, count_parameters

    front = FrontEnd()  # 40 mels, 30 ms window, 10 ms hop at 16 kHz
    spec = front(torch.randn(3, 16000, generator=torch.Generator().manual_seed(0)))
    assert spec.shape == (3, 40, 101)
    assert front.frame_lengths(torch.tensor([16000, 8000])).tolist() == [101, 51]
    net = KWSNet(12, arch=arch, width=width, blocks=blocks).eval()
    assert count_parameters(net) == params
    assert net(spec).shape == (3, 12)
    # Per-clip standardisation: a gain (a constant dB shift) does not change the prediction.
    torch.testing.assert_close(net(spec + 20.0), net(spec), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"arch": "huge"}, r"`arch` must be one of \('small', 'tcresnet'\), but got 'huge'"),
        ({"width": 0}, "`width` must be >= 1, but got 0"),
        ({"blocks": 0}, "`blocks` must be >= 1, but got 0"),
        ({"num_classes": 1}, "`num_classes` must be >= 2, but got 1"),
    ],
)
def test_model_arguments_are_checked(kwargs, message):
    from recipes.speech_commands.model import KWSNet

    with pytest.raises(ValueError, match=message):
        KWSNet(**{"num_classes": 12, **kwargs})


def test_metrics_match_definitions():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(500, 5, generator=g) * 3
    labels = torch.multinomial(logits.softmax(1), 1, generator=g).squeeze(1)
    m = classification_metrics(logits, labels, 5, detail=True)
    probs = logits.double().softmax(1)
    assert m["accuracy"] == pytest.approx(float((logits.argmax(1) == labels).double().mean()))
    assert m["nll"] == pytest.approx(float(-probs[torch.arange(500), labels].log().mean()))
    rel = m["reliability"]
    count = np.array(rel["count"])
    ece = np.sum(
        count / count.sum() * np.abs(np.array(rel["accuracy"]) - np.array(rel["confidence"]))
    )
    assert m["ece"] == pytest.approx(ece, abs=1e-6)  # torchmetrics' ECE from the same bins
    cm = np.array(m["confusion_matrix"])
    assert cm.sum() == 500 and np.trace(cm) == round(500 * m["accuracy"])
    per_class = [cm[c, c] / cm[c].sum() for c in range(5)]
    assert m["per_class_accuracy"] == pytest.approx(per_class)


def test_temperature_scaling_recovers_the_temperature():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(4000, 6, generator=g) * 2
    labels = torch.multinomial(logits.softmax(1), 1, generator=g).squeeze(1)
    # Calibrated logits made 3x over-confident: the fitted T undoes it.
    assert fit_temperature(3 * logits, labels) == pytest.approx(3.0, rel=0.08)
    before = classification_metrics(3 * logits, labels, 6)
    after = classification_metrics(3 * logits / 3.0, labels, 6)
    assert after["nll"] < before["nll"] and after["ece"] < before["ece"]


# -- runs ------------------------------------------------------------------------------------


def test_tiny_run_writes_all_outputs(tiny_data, tmp_path):
    run_dir = tmp_path / "run"
    _, cfg = parse_args(
        tiny_args(
            tiny_data,
            run_dir,
            "--set",
            "mixup.method=spectrogram",
            "--set",
            "train.label_noise=0.5",
            "--set",
            "augment.specaugment=true",
        )
    )
    metrics = train.run(cfg)
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "checkpoint.pt",
        "config.yaml",
        "epochs.csv",
        "metrics.json",
        "run_info.json",
    ]
    assert json.loads((run_dir / "metrics.json").read_text()) == json.loads(json.dumps(metrics))
    test = metrics["test"]
    for key in ("accuracy", "nll", "ece", "nll_ts", "ece_ts", "temperature"):
        assert math.isfinite(test[key])
    assert set(test["per_class_accuracy"]) == set(metrics["class_names"])
    assert len(test["confusion_matrix"]) == len(metrics["class_names"]) == 12
    assert sum(map(sum, test["confusion_matrix"])) == metrics["sizes"]["test"]
    fit = metrics["train"]
    assert fit["flipped_share"] == pytest.approx(0.5, abs=0.01)  # symmetric noise at 50 %
    assert {"accuracy_noisy", "accuracy_clean", "flipped_accuracy_noisy"} <= set(fit)
    rows = (run_dir / "epochs.csv").read_text().splitlines()
    assert len(rows) == 3 and rows[0].startswith("epoch,lr,train_loss,val_accuracy")
    # The resolved config is a valid config that reproduces the run's digest.
    import yaml

    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert config_digest(saved) == metrics["config_digest"]
    # A second run into the same folder refuses to clobber it.
    with pytest.raises(FileExistsError, match="--resume"):
        train.run(cfg)


def test_resume_after_kill_gives_identical_metrics(tiny_data, tmp_path):
    extra = (
        "--set",
        "train.epochs=6",
        "--set",
        "mixup.method=waveform",
        "--set",
        "train.label_noise=0.4",
        "--set",
        "augment.specaugment=true",
    )
    full_dir, killed_dir = tmp_path / "full", tmp_path / "killed"
    _, cfg = parse_args(tiny_args(tiny_data, full_dir, *extra))
    full = train.run(cfg)  # uninterrupted, in this process

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "recipes.speech_commands.train",
            *tiny_args(tiny_data, killed_dir, *extra),
        ],
        cwd=REPO,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    ckpt = killed_dir / "checkpoint.pt"
    deadline = time.monotonic() + 240
    while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (killed_dir / "metrics.json").exists(), "the run finished before it was killed"
    done = torch.load(ckpt, weights_only=False)["epoch"]
    assert 1 <= done < 6

    out = _train_cli(*tiny_args(tiny_data, killed_dir, *extra), "--resume")
    assert out.returncode == 0, out.stderr
    resumed = json.loads((killed_dir / "metrics.json").read_text())
    assert resumed == json.loads(json.dumps(full))
    assert json.loads((killed_dir / "run_info.json").read_text())["resumed_from_epoch"] == done

    def curve(path: Path) -> list[str]:  # epochs.csv without the wall-clock column
        return [line.rsplit(",", 1)[0] for line in path.read_text().splitlines()]

    assert curve(killed_dir / "epochs.csv") == curve(full_dir / "epochs.csv")


def test_resume_refuses_a_different_config(tiny_data, tmp_path):
    _, cfg = parse_args(tiny_args(tiny_data, tmp_path / "run", "--set", "train.epochs=1"))
    train.run(cfg)
    changed = apply_overrides(cfg, [("mixup.alpha", 0.3)])
    with pytest.raises(ValueError, match="different config"):
        train.run(changed, resume=True)


def test_strict_fails_before_training_and_lenient_skips(tiny_data, tmp_path):
    import shutil

    data = tmp_path / "sc"
    shutil.copytree(tiny_data, data)
    (data / "yes" / "ffffffff_nohash_0.wav").write_bytes(b"RIFF\x00\x00")  # truncated
    out = _train_cli(*tiny_args(data, tmp_path / "strict", "--set", "data.strict=true"))
    assert out.returncode == 2
    assert "ffffffff_nohash_0.wav" in out.stderr
    assert not (tmp_path / "strict" / "checkpoint.pt").exists()
    _, cfg = parse_args(tiny_args(data, tmp_path / "lenient", "--set", "train.epochs=1"))
    with pytest.warns(UserWarning, match="ffffffff_nohash_0.wav"):
        train.run(cfg)
    assert (tmp_path / "lenient" / "metrics.json").exists()


def test_download_path_trains_on_the_fetched_archive(tiny_data, tmp_path):
    """--download fetches and extracts an archive (here a file:// URL of the tiny folder in a
    wrapper directory, like a mirror might pack it) into the cache, then trains on it."""
    import tarfile

    archive = tmp_path / "speech_commands_v0.02.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tiny_data, arcname="speech_commands")
    run_dir = tmp_path / "run"
    args = [
        a
        for a in tiny_args(tiny_data, run_dir, "--set", "train.epochs=1")
        if a not in ("--data-dir", str(tiny_data))
    ]
    _, cfg = parse_args(
        [
            *args,
            "--download",
            "--set",
            f"data.cache_dir={tmp_path / 'cache'}",
            "--set",
            f"data.download_url={archive.as_uri()}",
        ]
    )
    metrics = train.run(cfg)
    assert (tmp_path / "cache" / "speech_commands_v0.02" / "yes").is_dir()
    info = json.loads((run_dir / "run_info.json").read_text())
    assert info["dataset"].startswith(str(tmp_path / "cache"))
    from recipes.speech_commands.dataset import SpeechCommands

    assert metrics["sizes"]["test"] == len(SpeechCommands(tiny_data, "testing"))  # the same data


@pytest.mark.slow
def test_torchrun_two_processes(tiny_data, tmp_path):
    run_dir = tmp_path / "ddp"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            "-m",
            "recipes.speech_commands.train",
            *tiny_args(
                tiny_data, run_dir, "--set", "mixup.method=waveform", "--set", "train.epochs=2"
            ),
        ],
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    info = json.loads((run_dir / "run_info.json").read_text())
    assert info["world_size"] == 2
    metrics = json.loads((run_dir / "metrics.json").read_text())
    # Metrics are reduced over ranks: every test clip counted once.
    assert sum(map(sum, metrics["test"]["confusion_matrix"])) == metrics["sizes"]["test"]
    ckpt = torch.load(run_dir / "checkpoint.pt", weights_only=False)
    assert ckpt["world_size"] == 2 and len(ckpt["rank_states"]) == 2
    # Per-rank mixing streams: the two ranks' mixers are in different states.
    s0, s1 = (s["mixer"] for s in ckpt["rank_states"])
    ((k0, v0),) = ((k, v) for k, v in s0.items() if k.endswith("_extra_state"))
    assert not torch.equal(v0["rng_state"], s1[k0]["rng_state"])
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "checkpoint.pt",
        "config.yaml",
        "epochs.csv",
        "metrics.json",
        "run_info.json",
    ]
