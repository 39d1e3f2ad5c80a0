"""Figures of the comparison: learning curves, reliability diagrams, confusion matrices and
mixed log-mel examples. Every function writes one PNG and returns its path.

A *run* here is a dict with ``label`` (method name as in the table), ``noise`` (label-noise
rate), ``seed``, ``history`` (rows of ``epochs.csv``) and ``metrics`` (``metrics.json``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import Tensor  # noqa: E402

import audiomix  # noqa: E402

__all__ = [
    "plot_confusion",
    "plot_learning_curves",
    "plot_mixed_examples",
    "plot_reliability",
    "plot_robustness",
    "dynamic_range_db",
    "trim_silence",
]

_DPI = 90


def _save(fig: Any, path: str | Path) -> Path:
    """Writes a small PNG: rendered, then reduced to a 256-colour palette."""
    from PIL import Image

    path = Path(path)
    fig.savefig(path, dpi=_DPI)
    plt.close(fig)
    with Image.open(path) as img:
        small = img.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)
    return path


def _colors(labels: Sequence[str]) -> dict[str, Any]:
    cmap = plt.get_cmap("tab10")
    return {label: cmap(i % 10) for i, label in enumerate(labels)}


def _ordered(values: Sequence[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if v not in out:
            out.append(v)
    return out


def _series(runs: Sequence[dict[str, Any]], key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Epochs, mean and std over runs of one history column (runs of equal length)."""
    curves = [np.array([float(row[key]) for row in r["history"]]) for r in runs if r["history"]]
    n = min(len(c) for c in curves)
    stack = np.stack([c[:n] for c in curves])
    return np.arange(1, n + 1), stack.mean(0), stack.std(0)


def plot_learning_curves(runs: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """Validation accuracy (top) and training accuracy on noisy vs clean labels (bottom) per
    epoch, mean ± std over seeds, one column per label-noise rate."""
    labels = _ordered([r["label"] for r in runs])
    noises = sorted(_ordered([r["noise"] for r in runs]))
    colors = _colors(labels)
    has_train = all("train_accuracy_noisy" in r["history"][0] for r in runs if r["history"])
    rows = 2 if has_train else 1
    fig, axes = plt.subplots(
        rows, len(noises), figsize=(4.6 * len(noises), 3.3 * rows), squeeze=False
    )
    for j, noise in enumerate(noises):
        ax = axes[0, j]
        for label in labels:
            sel = [r for r in runs if r["label"] == label and r["noise"] == noise and r["history"]]
            if not sel:
                continue
            x, m, s = _series(sel, "val_accuracy")
            ax.plot(x, 100 * m, color=colors[label], label=label)
            ax.fill_between(x, 100 * (m - s), 100 * (m + s), color=colors[label], alpha=0.15)
        ax.set_title(f"validation accuracy, {noise:.0%} label noise")
        ax.set_xlabel("epoch")
        ax.set_ylabel("accuracy (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        if not has_train:
            continue
        ax = axes[1, j]
        for label in labels:
            sel = [r for r in runs if r["label"] == label and r["noise"] == noise and r["history"]]
            if not sel:
                continue
            x, m, _ = _series(sel, "train_accuracy_clean")
            ax.plot(x, 100 * m, color=colors[label], label=f"{label}: clean labels")
            if noise > 0:
                x, m, _ = _series(sel, "train_accuracy_noisy")
                ax.plot(x, 100 * m, color=colors[label], ls="--", label=f"{label}: noisy labels")
        ax.set_title(
            "training clips (no augmentation)"
            + (": solid clean, dashed noisy labels" if noise > 0 else ""),
            fontsize=9,
        )
        ax.set_xlabel("epoch")
        ax.set_ylabel("accuracy (%)")
        ax.grid(alpha=0.3)
        if noise == 0:
            ax.legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, path)


def _pooled_bins(
    runs: Sequence[dict[str, Any]], key: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Reliability bins summed over runs: edges, count, mean confidence, accuracy."""
    rel = [r["metrics"]["test"][key] for r in runs]
    edges = np.array(rel[0]["edges"])
    count = np.sum([np.array(b["count"]) for b in rel], axis=0)
    conf = np.sum([np.array(b["confidence"]) * np.array(b["count"]) for b in rel], axis=0)
    acc = np.sum([np.array(b["accuracy"]) * np.array(b["count"]) for b in rel], axis=0)
    safe = np.maximum(count, 1)
    return edges, count, conf / safe, acc / safe


def plot_reliability(runs: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """Reliability diagrams on the test split (seeds pooled): one panel per method and
    label-noise rate; bars are the accuracy per confidence bin before temperature scaling,
    the black steps after it, the grey line perfect calibration."""
    labels = _ordered([r["label"] for r in runs])
    noises = sorted(_ordered([r["noise"] for r in runs]))
    fig, axes = plt.subplots(
        len(noises), len(labels), figsize=(2.9 * len(labels), 2.9 * len(noises)), squeeze=False
    )
    for i, noise in enumerate(noises):
        for j, label in enumerate(labels):
            ax = axes[i, j]
            sel = [r for r in runs if r["label"] == label and r["noise"] == noise]
            if not sel:
                ax.axis("off")
                continue
            edges, count, _, acc = _pooled_bins(sel, "reliability")
            centers = (edges[:-1] + edges[1:]) / 2
            width = edges[1] - edges[0]
            ax.bar(
                centers,
                np.where(count > 0, acc, 0),
                width=width * 0.9,
                color="tab:blue",
                alpha=0.7,
                label="raw",
            )
            e2, c2, _, a2 = _pooled_bins(sel, "reliability_ts")
            ax.stairs(np.where(c2 > 0, a2, np.nan), e2, color="k", lw=1.2, label="T-scaled")
            ax.plot([0, 1], [0, 1], color="grey", lw=1)
            ece = np.mean([r["metrics"]["test"]["ece"] for r in sel])
            ece_ts = np.mean([r["metrics"]["test"]["ece_ts"] for r in sel])
            ax.set_title(f"{label}, noise {noise:.0%}\nECE {ece:.3f} → {ece_ts:.3f}", fontsize=9)
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1)
            if i == len(noises) - 1:
                ax.set_xlabel("confidence")
            if j == 0:
                ax.set_ylabel("accuracy")
            if i == 0 and j == 0:
                ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return _save(fig, path)


def plot_confusion(
    runs: Sequence[dict[str, Any]], path: str | Path, *, noise: float | None = None
) -> Path:
    """Row-normalised test confusion matrices (seeds summed), one panel per method, at one
    label-noise rate (default: the lowest)."""
    noises = sorted(_ordered([r["noise"] for r in runs]))
    noise = noises[0] if noise is None else noise
    labels = _ordered([r["label"] for r in runs if r["noise"] == noise])
    names = runs[0]["metrics"]["class_names"]
    fig, axes = plt.subplots(1, len(labels), figsize=(4.2 * len(labels), 4.4), squeeze=False)
    for j, label in enumerate(labels):
        sel = [r for r in runs if r["label"] == label and r["noise"] == noise]
        cm = np.sum([np.array(r["metrics"]["test"]["confusion_matrix"]) for r in sel], axis=0)
        norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
        ax = axes[0, j]
        ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
        for a in range(len(names)):
            for b in range(len(names)):
                if norm[a, b] >= 0.05:
                    ax.text(
                        b,
                        a,
                        f"{100 * norm[a, b]:.0f}",
                        ha="center",
                        va="center",
                        fontsize=6,
                        color="white" if norm[a, b] > 0.5 else "black",
                    )
        ax.set_xticks(range(len(names)))
        ax.set_yticks(range(len(names)))
        ax.set_xticklabels([n.strip("_") for n in names], rotation=90, fontsize=7)
        ax.set_yticklabels([n.strip("_") for n in names], fontsize=7)
        acc = np.mean([r["metrics"]["test"]["accuracy"] for r in sel])
        ax.set_title(f"{label}, noise {noise:.0%} (acc {100 * acc:.1f}%)", fontsize=9)
        ax.set_xlabel("predicted")
        if j == 0:
            ax.set_ylabel("true")
    fig.tight_layout()
    return _save(fig, path)


def plot_robustness(runs: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """Test accuracy (top) and ECE (bottom) against the SNR of the test-only noise added, per
    method, one column per label-noise rate; the clean test split is the leftmost point. Mean
    over seeds, error bars ± std where there are at least two seeds."""
    labels = _ordered([r["label"] for r in runs])
    noises = sorted(_ordered([r["noise"] for r in runs]))
    colors = _colors(labels)
    first = runs[0]["metrics"].get("robustness") or {}
    snr = [name for name in first if name.startswith("noise_")]
    xticks = [
        "clean",
        *[first[name]["label"].replace(" SNR", "").replace("noise ", "") for name in snr],
    ]
    fig, axes = plt.subplots(2, len(noises), figsize=(4.6 * len(noises), 6.2), squeeze=False)
    for j, noise in enumerate(noises):
        for i, (key, scale, title) in enumerate(
            (("accuracy", 100.0, "accuracy (%)"), ("ece", 1.0, "ECE"))
        ):
            ax = axes[i, j]
            for label in labels:
                sel = [r for r in runs if r["label"] == label and r["noise"] == noise]
                if not sel:
                    continue
                values = np.array(
                    [
                        [scale * r["metrics"]["test"][key]]
                        + [scale * r["metrics"]["robustness"][name][key] for name in snr]
                        for r in sel
                    ]
                )
                err = values.std(axis=0, ddof=1) if len(sel) > 1 else None
                ax.errorbar(
                    range(len(xticks)),
                    values.mean(axis=0),
                    yerr=err,
                    color=colors[label],
                    marker="o",
                    ms=3,
                    capsize=2,
                    label=label,
                )
            ax.set_xticks(range(len(xticks)))
            ax.set_xticklabels(xticks, fontsize=8)
            ax.set_title(
                f"test {title} against the SNR of added noise, {noise:.0%} label noise", fontsize=9
            )
            ax.set_ylabel(title)
            ax.grid(alpha=0.3)
            if i == 0:
                ax.legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, path)


def _frame_db(waveform: Tensor, frame: int) -> Tensor:
    n = max(1, waveform.shape[-1] // frame)
    energy = waveform[: n * frame].reshape(n, -1).square().mean(dim=1)
    return 10 * torch.log10(energy.clamp_min(1e-12))


def dynamic_range_db(waveform: Tensor, *, frame: int = 160) -> float:
    """Loudest minus 20th-percentile frame level of a (time,) clip, in dB."""
    db = _frame_db(waveform, frame)
    return float(db.max() - db.quantile(0.2))


def trim_silence(
    waveform: Tensor, *, top_db: float = 40.0, frame: int = 160, margin: int = 3
) -> Tensor:
    """The part of a (time,) clip between the first and last frame within ``top_db`` of its
    loudest frame, and above 25 % of the way from its 20th-percentile level to its peak (so a
    word in a noise bed is trimmed too): two words get their own, different lengths."""
    if waveform.shape[-1] < frame:
        return waveform
    db = _frame_db(waveform, frame)
    floor = db.quantile(0.2)
    threshold = torch.maximum(db.max() - top_db, floor + 0.25 * (db.max() - floor))
    active = (db > threshold).nonzero().squeeze(1)
    first = max(0, int(active[0]) - margin)
    last = min(db.shape[0], int(active[-1]) + 1 + margin)
    return waveform[first * frame : last * frame]


def plot_mixed_examples(
    clip_a: Tensor,
    clip_b: Tensor,
    path: str | Path,
    *,
    names: tuple[str, str] = ("a", "b"),
    frontend: torch.nn.Module | None = None,
    lams: Sequence[float] = (1.0, 0.75, 0.5, 0.25, 0.0),
    placement: str = "center",
    sample_rate: int = 16000,
) -> Path:
    """Two clips of different lengths and their mixes at several λ, waveform vs spectrogram.

    The clips are right-padded into one batch with their true lengths; mixing uses those
    lengths with ``placement`` (the shorter clip centred in the longer one by default), so
    the padding (silence) and the alignment show in the figure: the dashed lines mark where
    the shorter clip sits. Top row: ``audiomix.functional.mix`` on waveforms, then log-mel.
    Bottom row: log-mel first, then ``audiomix.SpectrogramMixup`` (power domain) with the
    same λ and offsets in frames.

    Args:
        clip_a (Tensor): (time,) first clip (weight λ).
        clip_b (Tensor): (time,) second clip (weight 1 − λ).
        path (str or Path): PNG to write.
        names (tuple of str): labels of the two clips.
        frontend (Module or None): waveform → (batch, n_mels, frames) dB with a
            ``frame_lengths`` method; default: 40-mel, 30 ms / 10 ms log-mel at 16 kHz.
        lams (sequence of float): mixing weights to show.
        placement (str): ``"start"``, ``"center"`` or ``"random"``.
        sample_rate (int): of the clips, for the durations in the title.
    """
    if frontend is None:
        from .model import FrontEnd

        frontend = FrontEnd()
    F = audiomix.functional
    batch, lengths = F.pad_batch([clip_a, clip_b])
    perm = torch.tensor([1, 0])
    offsets = F.sample_offsets(lengths, perm, placement=placement)
    frames = frontend.frame_lengths(lengths)
    frame_offsets = F.sample_offsets(frames, perm, placement=placement)
    with torch.no_grad():
        spec = frontend(batch)
        rows = []
        for lam in lams:
            lam_t = torch.tensor([lam, 1.0 - lam])
            wave = F.mix(batch, lam_t, perm, lengths=lengths, offsets=offsets)
            spec_w = frontend(wave)[0]
            params = audiomix.MixParams(lam_t, perm, torch.ones(2, dtype=torch.bool), frame_offsets)
            mixer = audiomix.SpectrogramMixup(alpha=1.0, num_classes=2, generator=0)
            spec_s, _, _ = mixer(spec, torch.tensor([0, 1]), frames, params=params)
            rows.append((lam, spec_w, spec_s[0]))
    n_frames = int(frames.max())
    short = int(frames.argmin())
    start = int(frame_offsets[short])
    stop = start + int(frames[short])
    vmax = float(spec.max())
    vmin = vmax - 80
    fig, axes = plt.subplots(2, len(rows), figsize=(2.3 * len(rows), 4.6), squeeze=False)
    for j, (lam, sw, ss) in enumerate(rows):
        for i, (img, how) in enumerate(((sw, "waveform mix"), (ss, "spectrogram mix"))):
            ax = axes[i, j]
            ax.imshow(
                img[:, :n_frames].numpy(),
                origin="lower",
                aspect="auto",
                cmap="magma",
                interpolation="nearest",
                vmin=vmin,
                vmax=vmax,
            )
            if 0 < lam < 1:
                for x in (start - 0.5, stop - 0.5):
                    ax.axvline(x, color="cyan", ls="--", lw=0.8)
            if lam == 1:
                title = f"{names[0]} alone"
            elif lam == 0:
                title = f"{names[1]} alone"
            else:
                title = f"λ={lam:g} {names[0]} + {1 - lam:g} {names[1]}"
            ax.set_title(f"{how}\n{title}", fontsize=8)
            ax.set_xticks([])
            if j == 0:
                ax.set_ylabel("mel bin")
            else:
                ax.set_yticks([])
    fig.suptitle(
        f"{names[0]} ({int(lengths[0]) / sample_rate:.2f} s) and {names[1]} "
        f"({int(lengths[1]) / sample_rate:.2f} s), "
        f"padded with silence, shorter clip placed '{placement}' (dashed lines)",
        fontsize=9,
    )
    fig.tight_layout()
    return _save(fig, path)
