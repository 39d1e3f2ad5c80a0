"""Section 4: time against batch size and clip length, peak memory against input size."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import torch

import audiomix
from audiomix import functional as AF

from ..harness import Case, fmt_ms, l3_mib, measure, peak_bytes
from ..plan import ALPHA, NUM_CLASSES, SAMPLE_RATE, Plan
from ..section import Figure, Section


def run(plan: Plan) -> Section:
    print("scaling ...", flush=True)
    sc = _measure(plan)
    return Section(
        title="Scaling",
        body=_markdown(sc),
        figure=Figure(name="scaling.png", alt="scaling", draw=partial(_plot, sc)),
    )


def _measure(plan: Plan) -> dict:
    batches, fixed_batch = plan.scaling_batches, plan.length_batch
    g = torch.Generator().manual_seed(4)

    def point(b: int, t: int) -> dict[str, float]:
        x = torch.randn(b, t, generator=g)
        p = AF.sample_mix_params(b, alpha=ALPHA, per_sample=True, generator=g)
        buf = torch.empty_like(x)
        cases = [
            Case("clone", lambda: x.clone()),
            Case("mix", lambda: AF.mix(x, p.lam, p.perm, validate=False)),
            Case("mix out=", lambda: AF.mix(x, p.lam, p.perm, out=buf, validate=False)),
        ]
        st = measure(cases, plan.scaling_reps, 1)
        return {**{k: v.median for k, v in st.items()}, **{f"{k} min": v.lo for k, v in st.items()}}

    by_batch = {b: point(b, SAMPLE_RATE) for b in batches}
    by_length = {s: point(fixed_batch, int(s * SAMPLE_RATE)) for s in plan.scaling_seconds}

    # Peak memory per method, against the input size.
    mem: dict[str, dict[int, float]] = {}
    mem_batches = batches[:: max(1, len(batches) // 4)]
    for b in mem_batches:
        x = torch.randn(b, SAMPLE_RATE, generator=g)
        p = AF.sample_mix_params(b, alpha=ALPHA, per_sample=True, generator=g)
        w = p.lam.view(b, 1)
        labels = torch.randint(NUM_CLASSES, (b,), generator=g)
        size = x.numel() * x.element_size()
        module = audiomix.WaveformMixup(alpha=ALPHA, num_classes=NUM_CLASSES, generator=0)
        module_fast = audiomix.WaveformMixup(
            alpha=ALPHA, num_classes=NUM_CLASSES, check_finite=False, generator=0
        )
        fns = {
            "clone": lambda x=x: x.clone(),
            "audiomix mix": lambda x=x, p=p: AF.mix(x, p.lam, p.perm, validate=False),
            "audiomix module (labels)": lambda x=x, m=module, y=labels: m(x, y),
            "audiomix module, check_finite=False": lambda x=x, m=module_fast, y=labels: m(x, y),
            "lam*x + (1-lam)*x[perm]": lambda x=x, w=w, p=p: w * x + (1 - w) * x[p.perm],
        }
        if plan.peer("torchvision") is not None:
            from torchvision.transforms import v2

            tv = v2.MixUp(alpha=ALPHA, num_classes=NUM_CLASSES)
            fns["torchvision MixUp"] = lambda x=x, tv=tv, y=labels, b=b: tv(x.view(b, 1, 1, -1), y)
        if plan.peer("timm") is not None:
            from timm.data import Mixup

            tm = Mixup(
                mixup_alpha=ALPHA,
                cutmix_alpha=0.0,
                prob=1.0,
                label_smoothing=0.0,
                num_classes=NUM_CLASSES,
            )
            x4 = x.view(b, 1, 1, -1).clone()  # timm mixes in place: its own copy, made outside
            fns["timm Mixup (in place)"] = lambda x4=x4, tm=tm, y=labels: tm(x4, y)
        for name, fn in fns.items():
            mem.setdefault(name, {})[size] = peak_bytes(fn) / size
    return dict(by_batch=by_batch, by_length=by_length, mem=mem, fixed_batch=fixed_batch)


def _linearity(points: dict[float, dict[str, float]], sizes: dict[float, float], key: str) -> str:
    """Time per MiB of the fastest repetition, within and past the L3: flat means linear."""
    l3 = l3_mib()
    per = {k: points[k][f"{key} min"] / sizes[k] * 1e6 for k in points}
    text = ", ".join(f"{v:.0f}" for v in per.values()) + " µs/MiB"
    parts = []
    for label, keep in (
        (f"up to {l3 / 4:g} MiB (in cache)", lambda m: 1 <= m <= l3 / 4),
        (f"from {l3 / 2:g} MiB (past the L3)", lambda m: m >= l3 / 2),
    ):
        vals = [v for k, v in per.items() if keep(sizes[k])]
        if len(vals) >= 2:
            parts.append(f"{min(vals):.0f}–{max(vals):.0f} {label}")
    return text + (f"; {', '.join(parts)}" if parts else "")


def _markdown(sc: dict) -> list[str]:
    lines = ["Per-sample λ, validate=False; median (min) in ms, warm heap.", ""]
    head = "| MiB | clone | mix | mix out= | mix / clone (medians) |"
    rule = "| ---: | ---: | ---: | ---: | ---: |"

    def row(label: str, mib: float, r: dict[str, float]) -> str:
        cells = " | ".join(
            f"{fmt_ms(r[k])} ({fmt_ms(r[k + ' min'])})" for k in ("clone", "mix", "mix out=")
        )
        return f"| {label} | {mib:.1f} | {cells} | {r['mix'] / r['clone']:.2f} |"

    lines += ["| batch × 1 s " + head, "| ---: " + rule]
    sizes_b = {}
    for b, r in sc["by_batch"].items():
        sizes_b[b] = b * SAMPLE_RATE * 4 / 2**20
        lines.append(row(str(b), sizes_b[b], r))
    lines += [
        "",
        "Time per MiB of the fastest repetition: linear growth keeps it flat within a "
        "regime; it steps up once the working set leaves the L3.",
        "",
        f"- mix, against batch size: {_linearity(sc['by_batch'], sizes_b, 'mix')}",
        f"- mix out=, against batch size: {_linearity(sc['by_batch'], sizes_b, 'mix out=')}",
        f"- clone, against batch size: {_linearity(sc['by_batch'], sizes_b, 'clone')}",
        "",
    ]
    lines += [f"| {sc['fixed_batch']} × clip length " + head, "| ---: " + rule]
    sizes_l = {}
    for sec, r in sc["by_length"].items():
        sizes_l[sec] = sc["fixed_batch"] * sec * SAMPLE_RATE * 4 / 2**20
        lines.append(row(f"{sec:g} s", sizes_l[sec], r))
    lines += [
        "",
        f"- mix, against clip length: {_linearity(sc['by_length'], sizes_l, 'mix')}",
        f"- mix out=, against clip length: {_linearity(sc['by_length'], sizes_l, 'mix out=')}",
        "- Allocations past 32 MiB are fresh `mmap`s whose pages fault in on first touch, "
        "which shows as a step in `clone` and `mix` but not in `mix out=`.",
        "",
    ]
    lines += [
        "Peak memory allocated by torch during one call, as a multiple of the input size "
        "(profiler allocation events; the output counts):",
        "",
    ]
    sizes = sorted(next(iter(sc["mem"].values())).keys())
    lines.append("| method | " + " | ".join(f"{s / 2**20:.1f} MiB" for s in sizes) + " |")
    lines.append("| --- | " + " | ".join("---:" for _ in sizes) + " |")
    for name, r in sc["mem"].items():
        lines.append(f"| {name} | " + " | ".join(f"{r[s]:.2f}×" for s in sizes) + " |")
    lines.append("")
    return lines


def _plot(sc: dict, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for ax, xs_label, data in (
        (axes[0], "batch size (× 1 s clips)", sc["by_batch"]),
        (axes[1], f"clip length (s), batch {sc['fixed_batch']}", sc["by_length"]),
    ):
        xs = list(data)
        for name, style, color in (
            ("clone", "o-", "C0"),
            ("mix", "s-", "C1"),
            ("mix out=", "^-", "C2"),
        ):
            ax.plot(
                xs, [data[k][name] * 1e3 for k in xs], style, color=color, label=f"{name} (median)"
            )
            ax.plot(
                xs,
                [data[k][f"{name} min"] * 1e3 for k in xs],
                ":",
                color=color,
                alpha=0.6,
                label=f"{name} (min)",
            )
        ref = [data[xs[0]]["mix out= min"] * 1e3 * k / xs[0] for k in xs]
        ax.plot(xs, ref, "k--", linewidth=0.8, alpha=0.5, label="linear")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(xs_label)
        ax.set_ylabel("time (ms, median)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    ax = axes[2]
    for name, row in sc["mem"].items():
        sizes = sorted(row)
        ax.plot([s / 2**20 for s in sizes], [row[s] * s / 2**20 for s in sizes], "o-", label=name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("input size (MiB)")
    ax.set_ylabel("peak allocated during the call (MiB)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    axes[0].set_title("mixing time vs batch size")
    axes[1].set_title("mixing time vs clip length")
    axes[2].set_title("peak memory vs input size")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
