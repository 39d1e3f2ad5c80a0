"""The comparison's report: the tables of ``results.md`` (mean ± std over seeds, the paired
change against no mixup, accuracy under shift), ``results.json``, and the figures with their
captions."""

from __future__ import annotations

import json
import math
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from .common import log

__all__ = [
    "aggregate",
    "delta_table",
    "results_table",
    "robustness_tables",
    "write_results",
]


def _flipped_fit(r: dict[str, Any]) -> float | None:
    share = r["metrics"]["train"].get("flipped_accuracy_noisy")
    return None if share is None else 100 * share


def _val_drop(r: dict[str, Any]) -> float | None:
    """Last-epoch validation accuracy minus the best epoch's, in points (0: converged there)."""
    curve = [row["val_accuracy"] for row in r.get("history") or [] if "val_accuracy" in row]
    return 100 * (curve[-1] - max(curve)) if curve else None


# Column header, value of a run (None: not measured, e.g. flipped labels without label noise),
# decimals.
_COLUMNS: tuple[tuple[str, Callable[[dict[str, Any]], float | None], int], ...] = (
    ("test accuracy (%)", lambda r: 100 * r["metrics"]["test"]["accuracy"], 1),
    ("test NLL", lambda r: r["metrics"]["test"]["nll"], 3),
    ("test ECE", lambda r: r["metrics"]["test"]["ece"], 3),
    ("NLL, T-scaled", lambda r: r["metrics"]["test"]["nll_ts"], 3),
    ("ECE, T-scaled", lambda r: r["metrics"]["test"]["ece_ts"], 3),
    ("T", lambda r: r["metrics"]["test"]["temperature"], 2),
    ("train acc, noisy labels (%)", lambda r: 100 * r["metrics"]["train"]["accuracy_noisy"], 1),
    ("train acc, clean labels (%)", lambda r: 100 * r["metrics"]["train"]["accuracy_clean"], 1),
    ("flipped labels fitted (%)", _flipped_fit, 1),
    ("val acc, last − best epoch (points)", _val_drop, 1),
)


def _mean_std(values: list[float]) -> tuple[float, float | None]:
    """Mean and sample std; the std is None for one value (a spread needs two seeds)."""
    mean = statistics.fmean(values)
    std = statistics.stdev(values) if len(values) > 1 else None
    return mean, std


def aggregate(runs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (method, noise): mean and std over seeds of every column."""
    rows = []
    keys = []
    for r in runs:
        if (r["label"], r["noise"]) not in keys:
            keys.append((r["label"], r["noise"]))
    for label, noise in sorted(keys, key=lambda k: (k[1], [x for x, _ in keys].index(k[0]))):
        sel = [r for r in runs if r["label"] == label and r["noise"] == noise]
        row: dict[str, Any] = {"method": label, "noise": noise, "seeds": [r["seed"] for r in sel]}
        for name, get, _ in _COLUMNS:
            values = [get(r) for r in sel]
            row[name] = None if None in values else _mean_std(values)
        row["seconds"] = statistics.fmean([r["info"].get("wall_seconds", math.nan) for r in sel])
        rows.append(row)
    return rows


def _fmt(ms: tuple[float, float | None] | None, digits: int, *, sign: bool = False) -> str:
    if ms is None:
        return "—"
    mean = f"{ms[0]:+.{digits}f}" if sign else f"{ms[0]:.{digits}f}"
    return mean if ms[1] is None else f"{mean} ± {ms[1]:.{digits}f}"


def results_table(rows: Sequence[dict[str, Any]]) -> str:
    header = ["label noise", "method", *[c[0] for c in _COLUMNS]]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [f"{row['noise']:.0%}", row["method"]]
        cells += [_fmt(row[name], digits) for name, _, digits in _COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _conditions(runs: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
    """``(name, label)`` of the shift conditions every run was evaluated under, in order."""
    if not runs:
        return []
    first = runs[0]["metrics"].get("robustness") or {}
    return [
        (name, entry["label"])
        for name, entry in first.items()
        if all(name in (r["metrics"].get("robustness") or {}) for r in runs)
    ]


def _test_set(m: dict[str, Any], condition: str | None) -> dict[str, Any]:
    return m["test"] if condition is None else m["robustness"][condition]


def robustness_tables(runs: Sequence[dict[str, Any]]) -> str:
    """Accuracy and ECE on the clean and the shifted test copies, mean ± std over seeds."""
    conds = _conditions(runs)
    if not conds:
        return ""
    out = []
    for title, key, scale, digits in (
        ("accuracy (%)", "accuracy", 100.0, 1),
        ("ECE", "ece", 1.0, 3),
    ):
        header = ["label noise", "method", "clean", *[label for _, label in conds]]
        lines = [f"Test {title}:", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for row in aggregate(runs):
            sel = [r for r in runs if r["label"] == row["method"] and r["noise"] == row["noise"]]
            cells = [f"{row['noise']:.0%}", row["method"]]
            for name in [None, *[n for n, _ in conds]]:
                values = [scale * _test_set(r["metrics"], name)[key] for r in sel]
                cells.append(_fmt(_mean_std(values), digits))
            lines.append("| " + " | ".join(cells) + " |")
        out.append("\n".join(lines))
    return "\n\n".join(out)


def delta_table(runs: Sequence[dict[str, Any]]) -> str:
    """Change of each method against ``none`` at the same noise rate, paired by seed (the same
    seed means the same initialisation, data order and noisy labels, and every run sees the
    same test clips and the same shifted copies), as mean ± std over seeds of the per-seed
    differences: one line for the clean test split and one per shift condition."""
    lines = [
        "| label noise | method | test set | Δ accuracy (points) | Δ NLL | Δ ECE | Δ NLL, "
        "T-scaled | Δ ECE, T-scaled | seeds better in accuracy |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    conds: list[tuple[str | None, str]] = [(None, "clean"), *_conditions(runs)]
    base = {(r["noise"], r["seed"]): r["metrics"] for r in runs if r["label"] == "none"}
    seen: list[tuple[float, str]] = []
    for r in sorted(runs, key=lambda r: r["noise"]):
        if r["label"] != "none" and (r["noise"], r["label"]) not in seen:
            seen.append((r["noise"], r["label"]))
    for noise, label in seen:
        pairs = [
            (r["metrics"], base[(noise, r["seed"])])
            for r in runs
            if r["label"] == label and r["noise"] == noise and (noise, r["seed"]) in base
        ]
        if not pairs:
            continue
        for name, test_set in conds:
            cells = []
            for key, scale, digits in (
                ("accuracy", 100.0, 1),
                ("nll", 1.0, 3),
                ("ece", 1.0, 3),
                ("nll_ts", 1.0, 3),
                ("ece_ts", 1.0, 3),
            ):
                diffs = [
                    scale * (_test_set(m, name)[key] - _test_set(b, name)[key]) for m, b in pairs
                ]
                cells.append(_fmt(_mean_std(diffs), digits, sign=True))
            better = sum(
                _test_set(m, name)["accuracy"] > _test_set(b, name)["accuracy"] for m, b in pairs
            )
            lines.append(
                f"| {noise:.0%} | {label} | {test_set} | "
                + " | ".join(cells)
                + f" | {better} of {len(pairs)} |"
            )
    return "\n".join(lines) if len(lines) > 2 else ""


def write_results(
    out: Path,
    runs: Sequence[dict[str, Any]],
    base: dict[str, Any],
    timing: dict[str, Any] | None,
    command: str,
    *,
    root: Path | None = None,
) -> Path:
    """``results.md``, ``results.json`` and the figures in ``out``.

    ``timing`` (from ``compare.run_comparison``) gains ``report_seconds``, the time this
    function took up to writing ``results.md``, unless it holds it already.
    """
    from . import plots

    started = time.perf_counter()
    rows = aggregate(runs)
    figures: list[tuple[str, str]] = []
    if runs:
        plots.plot_learning_curves(runs, out / "learning_curves.png")
        subset = base.get("eval", {}).get("train_subset", "the")
        subset = f"{subset:,}" if isinstance(subset, int) else subset
        figures.append(
            (
                "learning_curves.png",
                f"Learning curves: validation accuracy; accuracy on {subset} training clips "
                "against their (noisy) training labels and their true labels, mean ± std over "
                "seeds",
            )
        )
        plots.plot_reliability(runs, out / "reliability.png")
        figures.append(
            (
                "reliability.png",
                "Reliability diagrams on the test split (seeds pooled): bars before, black steps "
                "after temperature scaling",
            )
        )
        plots.plot_confusion(runs, out / "confusion.png")
        figures.append(
            (
                "confusion.png",
                "Test confusion matrices at 0 % label noise (seeds summed, rows normalised, %)",
            )
        )
        if _conditions(runs):
            plots.plot_robustness(runs, out / "robustness.png")
            figures.append(
                (
                    "robustness.png",
                    "Accuracy and ECE on the test split with test-only noise added, against the "
                    "SNR, per method (mean ± std over seeds where there are several)",
                )
            )
    if root is not None:
        try:
            _mixed_examples(root, base, out / "mixed_examples.png")
            figures.append(
                (
                    "mixed_examples.png",
                    "Two test clips of different lengths mixed at several λ: waveform mixup (top) "
                    "vs spectrogram mixup in the power domain (bottom); silence padding and "
                    "centred placement visible",
                )
            )
        except Exception as err:  # a figure must not lose the table
            log(f"warning: mixed-examples figure failed: {err}")
    m0 = runs[0]["metrics"] if runs else {}
    seeds = sorted({r["seed"] for r in runs})
    applied = _applied(runs)
    lines = [
        "# Keyword spotting with and without mixup",
        "",
        f"Command: `{command}`",
        "",
    ]
    if m0:
        lines += _setup_lines(runs, base, applied, seeds)
    if timing:
        timing.setdefault("report_seconds", time.perf_counter() - started)
        lines += _timing_lines(runs, rows, timing)
    spread = "mean ± std over seeds" if len(seeds) > 1 else "one seed: no spread"
    lines += ["", f"## Results ({spread})", "", results_table(rows), ""]
    delta = delta_table(runs)
    if delta:
        how = ": mean ± std of the differences" if len(seeds) > 1 else "; one seed: no spread"
        lines += [f"## Change against no mixup (paired by seed{how})", "", delta, ""]
    robust = robustness_tables(runs)
    if robust:
        noise = (applied.get("robustness") or {}).get("noise")
        lines += [
            f"## Accuracy under shift ({spread})",
            "",
            "The test split evaluated again after training, shifted (evaluation only; the same "
            "shifted clips for every run)" + (f"; added noise: {noise}" if noise else "") + ".",
            "",
            robust,
            "",
        ]
    if figures:
        lines += ["## Figures", ""]
        for name, caption in figures:
            lines += [f"![{caption}]({name})", "", f"*{caption}.*", ""]
    path = out / "results.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    summary = {
        "command": command,
        "timing": timing,
        "applied": applied,
        "rows": [{**r, **{k: list(v) for k, v in r.items() if isinstance(v, tuple)}} for r in rows],
        "robustness": _robustness_rows(runs),
    }
    (out / "results.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    return path


def _applied(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """What the runs applied (``run_info.json``), without the per-method parts."""
    for r in runs:
        applied = r["info"].get("applied")
        if applied:
            return {k: v for k, v in applied.items() if k not in ("mixup", "label_noise")}
    return {}


def _setup_lines(
    runs: Sequence[dict[str, Any]], base: dict[str, Any], applied: dict[str, Any], seeds: list[int]
) -> list[str]:
    """The report's description of the runs: data, splits and augmentations as applied."""
    m0 = runs[0]["metrics"]
    sizes = m0["sizes"]
    data = applied.get("data", {})
    augment = applied.get("augment", {})
    source = (
        "built-in synthetic"
        if base["data"]["dir"] is None and not base["data"]["download"]
        else "Speech Commands layout"
    )
    classes = data.get("classes", m0["class_names"])
    missing = data.get("keywords_missing") or []
    split_rule = (applied.get("splits") or {}).get("rule", "?")
    lines = [
        f"- data: `{Path(str(runs[0]['info'].get('dataset', '?'))).name}` ({source}), task "
        f"{base['data']['task']}, {len(classes)} classes ({', '.join(classes)})"
        + (f"; keywords without a word folder, left out: {', '.join(missing)}" if missing else ""),
        f"- `_silence_`: {data.get('silence', '?')}; `_unknown_`: {data.get('unknown', '?')}",
        f"- splits by {split_rule}: train {sizes['train']}, validation {sizes['validation']}, "
        f"test {sizes['test']} clips",
        f"- model: `{base['model']['arch']}` width {base['model']['width']} "
        f"({m0['num_parameters']:,} parameters), {base['train']['epochs']} epochs, batch "
        f"{base['train']['batch_size']}, {base['train']['optimizer']} lr {base['train']['lr']}, "
        f"{base['train']['scheduler']}",
        f"- mixup: α = {base['mixup']['alpha']}, p = {base['mixup']['p']}, "
        f"{'per-sample' if base['mixup']['per_sample'] else 'per-batch'} λ; spectrogram "
        f"mixing in the {base['mixup']['spec_domain']} domain (`spectrogram-db`: linear in "
        f"dB); `+rms`: every clip scaled to {base['mixup']['target_db']} dB RMS before mixing",
        f"- augmentation for all methods, as applied: time shift {augment.get('time_shift', '?')}; "
        f"background noise: {augment.get('background_noise', '?')}"
        + ("; SpecAugment" if augment.get("specaugment") else ""),
        "- label noise: symmetric (a share of training labels moved to another class), fixed "
        f"seed; validation and test labels are clean; seeds {seeds}",
        "- metrics on the test split: ECE with 15 bins (torchmetrics); T-scaled: after "
        "temperature scaling fitted on the validation split; train acc: all training clips "
        "without augmentation, against the labels used in training (noisy) and the true ones",
    ]
    return lines


def _timing_lines(
    runs: Sequence[dict[str, Any]], rows: Sequence[dict[str, Any]], timing: dict[str, Any]
) -> list[str]:
    """The machine, the wall time of the invocation and the load it ran under."""
    infos = [r["info"] for r in runs if r["info"]]
    machine = timing.get("machine") or (infos[0] if infos else {})
    gpus = machine.get("gpus") or []
    memory = machine.get("memory_gib")
    layout = f"{timing['jobs']} job(s) x {timing['threads']} thread(s)" + (
        ", one GPU each" if timing.get("gpus") else ""
    )
    total = timing["wall_seconds"] + timing.get("report_seconds", 0.0)
    per_run = statistics.fmean([r["seconds"] for r in rows]) if rows else 0.0
    lines = [
        f"- machine: {machine.get('cpu_model', '?')}, {machine.get('cpu_count', '?')} CPU cores "
        f"({machine.get('cpus_available', '?')} usable)"
        + (f", {memory:.0f} GiB" if memory else "")
        + (f", GPUs: {', '.join(gpus)}" if gpus else ", no GPU")
        + f"; torch {machine.get('torch', '?')}; {layout}",
        f"- wall time of this invocation: **{total / 60:.1f} min**, measured by the command from "
        f"its start to `results.md` ({timing['ran']} of {timing['total_runs']} runs trained; "
        f"data preparation {timing['data_seconds']:.0f} s, report and figures "
        f"{timing.get('report_seconds', 0.0):.0f} s); mean wall time per run {per_run:.0f} s",
    ]
    if timing.get("load_mean") is not None:
        lines.append(
            f"- 1-minute load average: {timing['load_start']:.1f} at the start, "
            f"{timing['load_mean']:.1f} on average while the runs ran (at most "
            f"{timing['load_max']:.1f}; sampled every 10 s, the comparison's own "
            f"{timing['jobs']} job(s) included)"
        )
    shares = [
        i["robustness_seconds"] / i["wall_seconds"]
        for i in infos
        if "robustness_seconds" in i and i.get("wall_seconds")
    ]
    if shares:
        lines.append(
            f"- the evaluation under shift took {100 * statistics.fmean(shares):.1f} % of a run's "
            f"wall time on average (at most {100 * max(shares):.1f} %)"
        )
    return lines


def _robustness_rows(runs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for row in aggregate(runs):
        sel = [r for r in runs if r["label"] == row["method"] and r["noise"] == row["noise"]]
        entry: dict[str, Any] = {"method": row["method"], "noise": row["noise"]}
        for name, label in _conditions(runs):
            entry[name] = {
                "label": label,
                **{
                    key: list(_mean_std([r["metrics"]["robustness"][name][key] for r in sel]))
                    for key in ("accuracy", "nll", "ece", "nll_ts", "ece_ts")
                },
            }
        out.append(entry)
    return out


def _mixed_examples(root: Path, cfg: dict[str, Any], path: Path) -> Path:
    from . import plots
    from .common import KEYWORDS
    from .dataset import SpeechCommands
    from .model import FrontEnd

    d = cfg["data"]
    ds = SpeechCommands(
        root, "testing", task="35", sample_rate=d["sample_rate"], clip_seconds=d["clip_seconds"]
    )
    names = ds.class_names
    words = [w for w in KEYWORDS if w in names] or names
    # For each word, its cleanest recordings (largest range between loud and quiet frames, so
    # the word and not the noise bed shows), trimmed to the word. Then the longest of them and
    # the shortest of another word: the padding and the alignment show in the figure.
    clean: list[tuple[str, torch.Tensor]] = []
    for word in words:
        idx = (ds.labels == names.index(word)).nonzero().squeeze(1)[:40]
        clips = sorted((ds[int(i)][0][0] for i in idx), key=plots.dynamic_range_db, reverse=True)
        clean += [(word, plots.trim_silence(c)) for c in clips[:5]]
    if len(clean) < 2:
        raise ValueError("the test split has fewer than two keyword clips")
    longest = max(clean, key=lambda wc: wc[1].shape[0])
    others = [
        wc for wc in clean if wc[0] != longest[0] and wc[1].shape[0] >= 0.15 * d["sample_rate"]
    ]
    shortest = min(
        others or [wc for wc in clean if wc is not longest], key=lambda wc: wc[1].shape[0]
    )
    picks = [longest, shortest]
    (na, a), (nb, b) = picks
    frontend = FrontEnd.from_config(cfg)
    return plots.plot_mixed_examples(
        a,
        b,
        path,
        names=(na, nb),
        frontend=frontend,
        placement="center",
        sample_rate=d["sample_rate"],
    )
