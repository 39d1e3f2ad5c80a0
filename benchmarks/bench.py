#!/usr/bin/env python
"""audiomix against its peers and against the memory limit, measured side by side in one run.

Everything is timed in this one process on the same tensors: cases are run round-robin (in a
fresh random order every repetition), after a warm-up, with ``torch.set_num_threads`` fixed.
Figures are medians with the min–max range; every speed claim is a ratio of two medians from
the same run, so the load of a shared machine hits both sides alike.

Sections (one module each in ``benchmarks/cases/``):

1. ``mixing`` (+ ``users``): mixing a batch (waveforms 256 × 1 s and 64 × 10 s, log-mel
   256 × 40 × 101, and 1024 × 1 s, bigger than the L3): audiomix (functional and modules)
   against a ``clone()`` (the memory-bound floor), hand-written PyTorch, torchvision
   ``v2.MixUp``, timm ``Mixup`` and torch-audiomentations ``Mix``; the calls users make
   (``lengths`` with each placement, CutMix, the dB spectrogram path) with their peak memory;
   correctness checks against references and the peers' pairings with identical λ.
2. ``logmel``: ``LogMelSpectrogram`` against torchaudio's chain and librosa, outputs compared.
3. ``step``: mixing + front end against forward+backward+SGD of the recipe's CNN.
4. ``scaling``: time against batch size and clip length; peak memory against input size.

The report is ``report_template.md`` filled by ``report.py`` with this run's figures only.

Usage::

    python benchmarks/bench.py                   # full run: benchmarks/results.md + scaling.png
    python benchmarks/bench.py --quick --out DIR # tiny sizes, 1-2 repetitions (the test suite)

Peers that are not installed are skipped with a note (``make bench`` installs them).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

HERE = Path(__file__).resolve().parent
for path in (HERE, HERE.parent):  # the cases and harness, and audiomix from this checkout
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import harness  # noqa: E402
import report  # noqa: E402
from cases import logmel, mixing, scaling, step, users  # noqa: E402

PEERS = {
    "torchvision": "torchvision",
    "timm": "timm",
    "torch_audiomentations": "torch-audiomentations",
    "librosa": "librosa",
}
#: Tables of section 1: title, shape, spectrogram.
FULL_TABLES = [
    ("waveforms 256 × 1 s (16 MiB: fits the 32 MiB L3)", (256, 16000), False),
    ("waveforms 64 × 10 s (39 MiB)", (64, 160000), False),
    ("log-mel spectrograms 256 × 40 × 101", (256, 40, 101), True),
    ("waveforms 1024 × 1 s (62.5 MiB: bigger than the L3)", (1024, 16000), False),
]
QUICK_TABLES = [
    ("waveforms 16 × 0.1 s", (16, 1600), False),
    ("log-mel 8 × 40 × 21", (8, 40, 21), True),
]


@dataclass
class Plan:
    """Sizes and repetitions of one run."""

    quick: bool
    reps: int
    warmup: int
    tables: list = field(default_factory=list)
    logmel_batch: int = 256
    step_batch: int = 256
    batches: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    fixed_batch: int = 64
    long_minutes: float = 10.0


def make_plan(args: argparse.Namespace) -> Plan:
    if args.quick:
        return Plan(True, args.reps or 2, 1, QUICK_TABLES, 4, 8, [4, 16], [0.1, 0.2], 4, 0.01)
    return Plan(
        False,
        args.reps or 25,
        3,
        FULL_TABLES,
        256,
        256,
        [16, 32, 64, 128, 256, 512, 1024],
        [1, 2, 5, 10, 20, 30],
        64,
        10.0,
    )


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes, 1-2 repetitions: proves the script runs"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=HERE,
        help="directory for results.md and scaling.png (default: benchmarks/)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch.set_num_threads for every section (default: 1)",
    )
    parser.add_argument("--reps", type=int, default=None, help="repetitions per case")
    parser.add_argument(
        "--no-compile", action="store_true", help="skip the torch.compile'd reference kernel"
    )
    parser.add_argument(
        "--skip",
        nargs="*",
        default=[],
        metavar="PEER",
        help="treat these peers as not installed (torchvision timm torch_audiomentations librosa)",
    )
    return parser.parse_args(argv)


def load_peers(skip: list[str]) -> tuple[dict[str, Any], dict[str, str]]:
    peers: dict[str, Any] = {}
    versions: dict[str, str] = {}
    for mod, label in PEERS.items():
        if mod in skip:
            peers[mod], versions[label] = None, "skipped (--skip)"
        else:
            peers[mod], versions[label] = harness.optional_import(mod)
    return peers, versions


def run_mixing(plan: Plan, peers: dict[str, Any], compiled: Any) -> tuple[list, list[str]]:
    results, body = [], []
    for title, shape, spectrogram in plan.tables:
        print(f"mixing: {title} ...", flush=True)
        res = mixing.bench_mixing(
            title,
            shape,
            peers,
            reps=plan.reps,
            warmup=plan.warmup,
            compiled=compiled,
            spectrogram=spectrogram,
        )
        results.append(res)
        body += mixing.mixing_table(res)
        for c in res.checks:
            print("  " + c, flush=True)
    body += _other_threads(plan, peers, compiled)
    return results, body


def _other_threads(plan: Plan, peers: dict[str, Any], compiled: Any) -> list[str]:
    """The first table again with the other thread count: what intra-op parallelism changes
    on a shared machine (every parallel region waits for a descheduled thread)."""
    threads = torch.get_num_threads()
    other = 2 if threads == 1 else 1
    title, shape, spectrogram = plan.tables[0]
    print(f"mixing with {other} threads: {title} ...", flush=True)
    torch.set_num_threads(other)
    try:
        res = mixing.bench_mixing(
            f"{title}, torch.set_num_threads({other})",
            shape,
            peers,
            reps=plan.reps,
            warmup=plan.warmup,
            compiled=compiled,
            spectrogram=spectrogram,
            users_too=False,
            only={
                mixing.COPY,
                mixing.COPY_OUT,
                mixing.LERP,
                mixing.COMPILED,
                mixing.AM_BATCH,
                mixing.AM_OUT,
                mixing.AM_MODULE,
                mixing.TV,
                mixing.TIMM,
                mixing.TAM,
            },
        )
    finally:
        torch.set_num_threads(threads)
    res.notes = [n for n in res.notes if "torch.compile" not in n]
    return mixing.mixing_table(res)


def target_groups(
    results: list, lm: dict, st: dict, long_mem: dict, long_label: str
) -> dict[str, list]:
    first = results[0]
    label = "×".join(map(str, first.shape))
    spec = next((r for r in results if r.spectrogram), None)
    big = next((r for r in results if r.shape == (1024, 16000)), None)
    groups = {
        "kernel": report.kernel_targets(first, label)
        + (report.kernel_targets(big, "1024×16000") if big is not None else []),
        "module": report.module_targets(first),
        "lengths": report.lengths_targets(first, label),
        "cutmix": report.cutmix_targets(first, label)
        + report.long_clip_targets(long_mem, long_label),
        "spectrogram": [],
        "logmel": report.logmel_targets(lm),
        "step": [report.step_target(st)],
    }
    if spec is not None:
        spec_label = "×".join(map(str, spec.shape))
        groups["lengths"] += report.lengths_targets(spec, spec_label)
        groups["cutmix"] += report.cutmix_targets(spec, spec_label)
        groups["spectrogram"] = report.spectrogram_targets(spec, spec_label)
    return groups


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    plan = make_plan(args)
    started = time.perf_counter()
    torch.set_num_threads(args.threads)
    blas = harness.limit_blas(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    load_before = harness.loadavg()
    peers, versions = load_peers(args.skip)
    compiled, compile_note = (
        (None, "skipped") if plan.quick or args.no_compile else (mixing.compile_mix())
    )
    print(
        f"audiomix benchmark ({'quick' if plan.quick else 'full'}), "
        f"threads={torch.get_num_threads()}, reps={plan.reps}",
        flush=True,
    )
    results, mixing_body = run_mixing(plan, peers, compiled)
    if compile_note:
        mixing_body = [f"- `torch.compile` reference: {compile_note}", ""] + mixing_body
    print("long clips (peak memory) ...", flush=True)
    long_mem = users.long_clip_memory(plan.long_minutes)
    print("log-mel ...", flush=True)
    lm_lines, lm = logmel.bench_logmel(
        plan.logmel_batch, plan.reps if plan.quick else max(2, plan.reps // 2), plan.warmup, peers
    )
    print("training step ...", flush=True)
    st_lines, st = step.bench_step(
        plan.step_batch, plan.reps if plan.quick else max(2, plan.reps // 3), plan.warmup
    )
    print("scaling ...", flush=True)
    sc = scaling.bench_scaling(
        plan.batches,
        plan.seconds,
        plan.fixed_batch,
        1 if plan.quick else max(2, plan.reps // 3),
        1,
        peers,
    )
    plot_note = scaling.plot_scaling(sc, args.out / "scaling.png")
    groups = target_groups(results, lm, st, long_mem, f"2 × {plan.long_minutes:g} min")
    command = (
        "python benchmarks/bench.py"
        + (" --quick" if plan.quick else "")
        + (f" --threads {args.threads}" if args.threads != 1 else "")
    )
    rows = [t.row() for g in groups.values() for t in g]
    text = report.fill(
        dict(
            command=command,
            machine="\n".join(harness.machine_lines(args.threads, versions, blas)),
            reps=str(plan.reps),
            warmup=str(plan.warmup),
            heap_note=harness.HEAP_NOTE,
            load_before=load_before,
            load_after=harness.loadavg(),
            threads=str(args.threads),
            targets="\n".join(rows),
            readings="\n".join(report.readings(results, lm, st, groups)),
            mixing="\n".join(mixing_body).rstrip(),
            long_memory=_long_memory_lines(long_mem, plan),
            logmel="\n".join(lm_lines).rstrip(),
            step="\n".join(st_lines).rstrip(),
            scaling="\n".join(scaling.scaling_lines(sc)).rstrip(),
            wall=f"{time.perf_counter() - started:.0f}",
            plot=plot_note,
        )
    )
    (args.out / "results.md").write_text(text)
    print("\n".join(rows))
    print(f"written {args.out / 'results.md'} in {time.perf_counter() - started:.1f} s")
    failed = [line for res in results for line in res.checks if line.startswith("FAIL")]
    return 1 if failed else 0


def _long_memory_lines(long_mem: dict[str, float], plan: Plan) -> str:
    samples = int(plan.long_minutes * 60 * 16000)
    lines = [
        f"Batch of 2 clips × {samples} samples ({plan.long_minutes:g} min at 16 kHz), "
        "lengths uniform in [t/2, t]; peak bytes allocated during one call / output.",
        "",
        "| method | peak / output |",
        "| --- | ---: |",
    ]
    return "\n".join(lines + [f"| {name} | {ratio:.2f}× |" for name, ratio in long_mem.items()])


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
