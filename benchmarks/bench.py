"""audiomix against its peers and against the memory limit, measured side by side in one run.

Everything is timed in this one process on the same tensors: cases are run round-robin (in a
fresh random order every repetition), after a warm-up, with ``torch.set_num_threads`` fixed.
Figures are medians with the min–max range; every speed claim is a ratio of two medians from
the same run, so the load of a shared machine hits both sides alike.

Sections, one case each (``benchmarks/cases/``, registered in ``cases.CASES``):

1. ``mixing``: mixing a batch (waveforms 256 × 1 s and 64 × 10 s, log-mel 256 × 40 × 101, and
   1024 × 1 s, bigger than the L3): audiomix (functional and modules) against a ``clone()``
   (the memory-bound floor), hand-written PyTorch, torchvision ``v2.MixUp``, timm ``Mixup``
   and torch-audiomentations ``Mix``; the calls users make (``lengths`` with each placement,
   CutMix, the dB spectrogram path) with their peak memory; correctness checks against
   references and the peers' pairings with identical λ.
2. ``logmel``: ``LogMelSpectrogram`` against torchaudio's chain and librosa, outputs compared.
3. ``step``: mixing + front end against forward+backward+SGD of the recipe's CNN.
4. ``scaling``: time against batch size and clip length; peak memory against input size.

The report is ``report_template.md`` filled by ``report.py`` with this run's figures only.

Usage, from the repository's root::

    python -m benchmarks.bench                    # full run: benchmarks/results.md + scaling.png
    python -m benchmarks.bench --quick --out DIR  # tiny sizes, 1-2 repetitions (the test suite)

Peers that are not installed are skipped with a note (``make bench`` installs them). A
correctness check that fails makes the exit status 1.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys
import time
from pathlib import Path
from typing import Any

import torch

from . import harness, report
from .cases import CASES
from .plan import FULL, QUICK, Plan

HERE = Path(__file__).resolve().parent
#: Import name -> the name the report gives.
PEERS = {
    "torchvision": "torchvision",
    "timm": "timm",
    "torch_audiomentations": "torch-audiomentations",
    "librosa": "librosa",
}


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench", description=__doc__.split("\n\n")[0]
    )
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
    """The peers' modules by import name (``None`` if missing or skipped), and their versions
    (or why they are missing) by the report's name."""
    peers: dict[str, Any] = {}
    versions: dict[str, str] = {}
    for mod, label in PEERS.items():
        if mod in skip:
            peers[mod], versions[label] = None, "skipped (--skip)"
        else:
            peers[mod], versions[label] = harness.optional_import(mod)
    return peers, versions


def make_plan(args: argparse.Namespace, peers: dict[str, Any]) -> Plan:
    base = QUICK if args.quick else FULL
    return dataclasses.replace(
        base,
        reps=args.reps or base.reps,
        compile=base.compile and not args.no_compile,
        peers=peers,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    started = time.perf_counter()
    torch.set_num_threads(args.threads)
    blas = harness.limit_blas(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    load_before = harness.loadavg()
    peers, versions = load_peers(args.skip)
    plan = make_plan(args, peers)
    print(
        f"audiomix benchmark ({'quick' if plan.quick else 'full'}), "
        f"threads={torch.get_num_threads()}, reps={plan.reps}",
        flush=True,
    )
    sections = [case(plan) for case in CASES]
    figures = [s.figure.save(args.out) for s in sections if s.figure is not None]
    command = (
        "python -m benchmarks.bench"
        + (" --quick" if plan.quick else "")
        + (f" --threads {args.threads}" if args.threads != 1 else "")
    )
    text = report.render(
        sections,
        figures,
        command=command,
        machine="\n".join(harness.machine_lines(args.threads, versions, blas)),
        reps=str(plan.reps),
        warmup=str(plan.warmup),
        heap_note=harness.HEAP_NOTE,
        load_before=load_before,
        load_after=harness.loadavg(),
        threads=str(args.threads),
        wall=f"{time.perf_counter() - started:.0f}",
    )
    (args.out / "results.md").write_text(text)
    print("\n".join(t.row() for s in sections for t in s.targets))
    print(f"written {args.out / 'results.md'} in {time.perf_counter() - started:.1f} s")
    failed = [line for s in sections for line in s.failed]
    for line in failed:
        print(line, file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
