"""The comparison: no mixup vs waveform vs spectrogram mixup, clean and noisy labels, seeds.

    python -m recipes.speech_commands.compare                    # the default comparison (make kws)
    python -m recipes.speech_commands.compare --quick            # tiny, < 1 min (the test suite)
    python -m recipes.speech_commands.compare --methods none spectrogram --noise 0.4 --seeds 0 1
    python -m recipes.speech_commands.compare --help

Trains every (method, label-noise rate, seed) with ``train.py``'s defaults (``config.yaml``)
and writes, in ``--out``: ``runs/<method>_noise<rate>_seed<seed>/`` (each run's outputs),
``results.md`` (mean ± std over seeds of test accuracy, NLL and ECE, raw and after temperature
scaling; train accuracy against noisy and clean labels), ``results.json`` and the figures
``learning_curves.png``, ``reliability.png``, ``confusion.png`` and ``mixed_examples.png``.

Resumable at run granularity: a run whose ``metrics.json`` matches its config is skipped, an
interrupted one continues from its last checkpoint. Runs go to worker processes chosen from the
machine (:func:`choose_layout`: one per GPU, else one single-threaded job per core, spare cores
as threads), or ``--jobs`` × ``--threads``. The command measures its own wall time and samples
the machine's load average while it runs; both go to ``results.md``.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import multiprocessing
import os
import statistics
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .common import log, parse_set, progress
from .config import (
    CHECKPOINT,
    EPOCHS_CSV,
    METRICS,
    RUN_INFO,
    apply_overrides,
    config_digest,
    load_config,
)
from .mixers import MIXERS
from .report import write_results
from .splits import prepare_data
from .train import machine_info, run

__all__ = [
    "METHOD_PRESETS",
    "Layout",
    "available_cores",
    "choose_layout",
    "load_runs",
    "main",
    "method_overrides",
    "run_comparison",
    "run_name",
]

# Method name in the table -> config overrides. Any other name is taken as a mixer of the
# registry (mixers.MIXERS), with "+rms" for loudness normalisation before mixing.
METHOD_PRESETS: dict[str, dict[str, Any]] = {
    "none": {"mixup.method": "none"},
    "waveform": {"mixup.method": "waveform", "mixup.normalize_rms": False},
    "waveform+rms": {"mixup.method": "waveform", "mixup.normalize_rms": True},
    "spectrogram": {"mixup.method": "spectrogram", "mixup.normalize_rms": False},
    "spectrogram+rms": {"mixup.method": "spectrogram", "mixup.normalize_rms": True},
    # Linear in dB (as PANNs and PaSST mix log-mels), against the library's power-domain default.
    "spectrogram-db": {"mixup.method": "spectrogram", "mixup.spec_domain": "input"},
}
DEFAULT_METHODS = ("none", "waveform+rms", "spectrogram+rms")
DEFAULT_NOISE = (0.0, 0.4)
DEFAULT_SEEDS = (0, 1, 2)
QUICK_METHODS = ("none", "waveform", "spectrogram")
QUICK_NOISE = (0.0, 0.4)
QUICK_SEEDS = (0,)


def method_overrides(name: str) -> dict[str, Any]:
    """Config overrides of a method name (a preset, or ``<registry name>[+rms]``)."""
    if name in METHOD_PRESETS:
        return dict(METHOD_PRESETS[name])
    base, _, extra = name.partition("+")
    if base in MIXERS and extra in ("", "rms"):
        return {"mixup.method": base, "mixup.normalize_rms": extra == "rms"}
    allowed = sorted({*METHOD_PRESETS, *MIXERS})
    raise ValueError(f"unknown method {name!r}; allowed: {allowed} (optionally with '+rms').")


def run_name(method: str, noise: float, seed: int) -> str:
    return f"{method}_noise{round(100 * noise):02d}_seed{seed}"


def _task_configs(
    base: dict[str, Any],
    out: Path,
    methods: Sequence[str],
    noises: Sequence[float],
    seeds: Sequence[int],
    threads: int,
) -> list[tuple[str, str, float, int, dict[str, Any]]]:
    tasks = []
    # Seeds outermost: an interrupted comparison already holds whole seeds of every method.
    for seed in seeds:
        for noise in noises:
            for method in methods:
                name = run_name(method, noise, seed)
                overrides = [
                    *method_overrides(method).items(),
                    ("train.label_noise", float(noise)),
                    ("seed", int(seed)),
                    ("run_dir", str(out / "runs" / name)),
                    ("quiet", True),
                    ("train.threads", int(threads)),
                ]
                tasks.append(
                    (name, method, float(noise), int(seed), apply_overrides(base, overrides))
                )
    return tasks


def _is_done(cfg: dict[str, Any]) -> bool:
    path = Path(cfg["run_dir"]) / METRICS
    if not path.exists():
        return False
    try:
        return json.loads(path.read_text())["config_digest"] == config_digest(cfg)
    except (ValueError, KeyError):
        return False


def _run_one(cfg: dict[str, Any]) -> dict[str, Any]:
    """One run (in a worker process): continues its checkpoint or starts afresh if stale."""
    run_dir = Path(cfg["run_dir"])
    ckpt = run_dir / CHECKPOINT
    overwrite = False
    if ckpt.exists():
        digest = torch.load(ckpt, map_location="cpu", weights_only=False)["config_digest"]
        overwrite = digest != config_digest(cfg)
    elif (run_dir / METRICS).exists():
        overwrite = True  # stale metrics of another config
    started = time.perf_counter()
    metrics = run(cfg, resume=not overwrite, overwrite=overwrite)
    if metrics is None:  # only under torch.distributed, which compare.py does not use
        raise RuntimeError(f"{run_dir}: the run returned no metrics")
    return {"metrics": metrics, "seconds": time.perf_counter() - started}


@dataclass(frozen=True)
class Layout:
    """How a comparison spreads over the machine: ``jobs`` worker processes with ``threads``
    torch threads each, and the GPU of each job (empty on a CPU-only machine)."""

    jobs: int
    threads: int
    gpus: tuple[int, ...] = ()

    def describe(self) -> str:
        where = f", one GPU each ({len(self.gpus)} GPUs)" if self.gpus else ""
        return f"{self.jobs} job(s) x {self.threads} thread(s){where}"


def available_cores() -> int:
    """CPU cores this process may use (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def choose_layout(
    runs: int,
    *,
    cores: int | None = None,
    gpus: int | None = None,
    jobs: int | None = None,
    threads: int | None = None,
) -> Layout:
    """Jobs × threads for ``runs`` runs on this machine, unless given.

    With GPUs: one job per GPU (at most one per run), the cores shared out as threads. On CPUs
    only: one single-threaded job per core (at most one per run), then the spare cores as
    threads: separate processes scale better than threads for networks this small
    (``model_speed.py`` measures both layouts).

    Args:
        runs (int): runs to train (>= 1).
        cores (int or None): usable cores (default: :func:`available_cores`).
        gpus (int or None): GPUs (default: ``torch.cuda.device_count()``).
        jobs (int or None): a fixed number of jobs.
        threads (int or None): a fixed number of threads per job.

    Returns:
        Layout: the jobs, threads and GPUs.

    Example:
        >>> choose_layout(18, cores=2, gpus=0)
        Layout(jobs=2, threads=1, gpus=())
        >>> choose_layout(18, cores=64, gpus=0)
        Layout(jobs=18, threads=3, gpus=())
        >>> choose_layout(18, cores=32, gpus=4)
        Layout(jobs=4, threads=8, gpus=(0, 1, 2, 3))
    """
    for name, value in (("runs", runs), ("jobs", jobs), ("threads", threads)):
        if value is not None and value < 1:
            raise ValueError(f"`{name}` must be >= 1, but got {value}.")
    cores = available_cores() if cores is None else cores
    gpus = torch.cuda.device_count() if gpus is None else gpus
    if jobs is None:
        jobs = min(runs, gpus) if gpus > 0 else min(runs, cores)
    devices = tuple(i % gpus for i in range(jobs)) if gpus > 0 else ()
    return Layout(jobs, threads or max(1, cores // jobs), devices)


def _worker_init(threads: int, gpus: Any) -> None:
    torch.set_num_threads(threads)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    if gpus is not None:  # each job takes the next GPU; before CUDA starts, so it is cuda:0
        os.environ["CUDA_VISIBLE_DEVICES"] = str(gpus.get())


class _LoadSampler(threading.Thread):
    """Samples the 1-minute load average every ``every`` seconds until stopped."""

    def __init__(self, every: float = 10.0) -> None:
        super().__init__(daemon=True)
        self.every = every
        self.samples: list[float] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.every):
            self.samples.append(os.getloadavg()[0])

    def stop(self) -> list[float]:
        self._stop_event.set()
        self.join()
        return self.samples


def run_comparison(
    base: dict[str, Any],
    out: Path,
    *,
    methods: Sequence[str],
    noises: Sequence[float],
    seeds: Sequence[int],
    layout: Layout | None = None,
    quiet: bool = False,
) -> dict[str, Any]:
    """Prepares the data, runs every missing run (in ``layout``'s worker processes, chosen
    from the machine when None), returns timing information."""
    started = time.perf_counter()
    load_start = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    out.mkdir(parents=True, exist_ok=True)
    prepare_data(base, progress=not quiet)
    data_seconds = time.perf_counter() - started
    runs = len(methods) * len(noises) * len(seeds)
    # From the whole comparison, not from what is left of it: the threads are part of each
    # run's config, so a resumed comparison on the same machine finds its finished runs.
    layout = layout or choose_layout(max(1, runs))
    tasks = _task_configs(base, out, methods, noises, seeds, layout.threads)
    pending = [t for t in tasks if not _is_done(t[4])]
    if not quiet:
        done = len(tasks) - len(pending)
        log(f"{len(tasks)} runs ({done} already done), {layout.describe()} -> {out}")
    bar = progress(len(pending), "runs", disable=quiet)
    failures: list[str] = []
    sampler = _LoadSampler()
    if load_start is not None:
        sampler.start()

    def report(name: str, result: dict[str, Any]) -> None:
        bar.update(1)
        if not quiet:
            t = result["metrics"]["test"]
            bar.write(
                f"{name:<32} test acc {100 * t['accuracy']:5.1f}%  nll {t['nll']:.3f}  "
                f"ece {t['ece']:.3f}  ({result['seconds']:.0f} s)",
                file=sys.stderr,
            )

    if (layout.jobs <= 1 or len(pending) <= 1) and not layout.gpus:
        _worker_init(layout.threads, None)
        for name, *_, cfg in pending:
            report(name, _run_one(cfg))
    elif pending:
        ctx = multiprocessing.get_context("spawn")
        gpus = None
        if layout.gpus:
            gpus = ctx.Manager().Queue()
            for device in layout.gpus:
                gpus.put(device)
        with cf.ProcessPoolExecutor(
            min(layout.jobs, len(pending)),
            mp_context=ctx,
            initializer=_worker_init,
            initargs=(layout.threads, gpus),
        ) as pool:
            futures = {pool.submit(_run_one, cfg): name for name, *_, cfg in pending}
            for future in cf.as_completed(futures):
                name = futures[future]
                try:
                    report(name, future.result())
                except Exception as err:  # keep the other runs going; reported at the end
                    failures.append(f"{name}: {type(err).__name__}: {err}")
                    bar.write(f"{name} FAILED: {err}", file=sys.stderr)
    bar.close()
    samples = sampler.stop() if load_start is not None else []
    if failures:
        raise RuntimeError("some runs failed:\n" + "\n".join(failures))
    return {
        "total_runs": len(tasks),
        "ran": len(pending),
        "jobs": layout.jobs,
        "threads": layout.threads,
        "gpus": len(set(layout.gpus)),
        "data_seconds": data_seconds,
        "wall_seconds": time.perf_counter() - started,
        "load_start": load_start,
        "load_mean": statistics.fmean(samples) if samples else None,
        "load_max": max(samples) if samples else None,
        "machine": machine_info(),
    }


def _read_csv(path: Path) -> list[dict[str, Any]]:
    import csv

    if not path.exists():
        return []
    with open(path, encoding="utf-8") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def load_runs(
    out: Path, methods: Sequence[str], noises: Sequence[float], seeds: Sequence[int]
) -> list[dict[str, Any]]:
    runs = []
    for method in methods:
        for noise in noises:
            for seed in seeds:
                d = out / "runs" / run_name(method, noise, seed)
                if not (d / METRICS).exists():
                    continue
                info = json.loads((d / RUN_INFO).read_text()) if (d / RUN_INFO).exists() else {}
                runs.append(
                    {
                        "label": method,
                        "noise": float(noise),
                        "seed": int(seed),
                        "metrics": json.loads((d / METRICS).read_text()),
                        "history": _read_csv(d / EPOCHS_CSV),
                        "info": info,
                    }
                )
    return runs


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m recipes.speech_commands.compare",
        description="Train none / waveform / spectrogram mixup at several label-noise rates and "
        "seeds; write results.md and figures.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output folder (default: runs/kws/compare, or runs/kws/compare-quick with --quick)",
    )
    p.add_argument(
        "--methods",
        nargs="+",
        default=None,
        help=f"methods (default {' '.join(DEFAULT_METHODS)}); "
        f"presets: {', '.join(METHOD_PRESETS)}; or any mixer name of train.py, optionally +rms",
    )
    p.add_argument(
        "--noise",
        nargs="+",
        type=float,
        default=None,
        help=f"label-noise rates (default {DEFAULT_NOISE})",
    )
    p.add_argument(
        "--seeds", nargs="+", type=int, default=None, help=f"seeds (default {DEFAULT_SEEDS})"
    )
    p.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="parallel runs (default: one per GPU, else one per core, at most one per run; "
        "1 with --quick)",
    )
    p.add_argument(
        "--threads", type=int, default=None, help="torch threads per run (default: cores // jobs)"
    )
    p.add_argument("--quick", action="store_true", help="tiny data, 1 seed, 2 epochs: for tests")
    p.add_argument(
        "--config", type=Path, default=None, help="base config (default: the recipe's config.yaml)"
    )
    p.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key of every run (repeatable)",
    )
    p.add_argument(
        "--data-dir",
        dest="data_dir",
        default=None,
        help="Speech Commands folder instead of the built-in data",
    )
    p.add_argument(
        "--report-only",
        action="store_true",
        help="only rebuild results.md and figures from finished runs",
    )
    p.add_argument("--quiet", action="store_true", help="no progress output")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    overrides = []
    for item in args.sets:
        try:
            overrides.append(parse_set(item))
        except ValueError as err:
            build_parser().error(str(err))
    if args.data_dir is not None:
        overrides.append(("data.dir", args.data_dir))
    try:
        base = load_config(args.config, overrides, quick=args.quick)
    except ValueError as err:
        build_parser().error(str(err))
    methods = args.methods or list(QUICK_METHODS if args.quick else DEFAULT_METHODS)
    for m in methods:
        try:
            method_overrides(m)
        except ValueError as err:
            build_parser().error(str(err))
    noises = args.noise or list(QUICK_NOISE if args.quick else DEFAULT_NOISE)
    seeds = args.seeds or list(QUICK_SEEDS if args.quick else DEFAULT_SEEDS)
    # --quick: one process (spawning workers costs more than the tiny runs).
    jobs = 1 if args.quick and args.jobs is None else args.jobs
    try:
        layout = choose_layout(
            len(methods) * len(noises) * len(seeds), jobs=jobs, threads=args.threads
        )
    except ValueError as err:
        build_parser().error(str(err))
    out = args.out or Path("runs/kws/compare-quick" if args.quick else "runs/kws/compare")
    command = "python -m recipes.speech_commands.compare " + " ".join(
        sys.argv[1:] if argv is None else list(argv)
    )
    timing = None
    if not args.report_only:
        timing = run_comparison(
            base,
            out,
            methods=methods,
            noises=noises,
            seeds=seeds,
            layout=layout,
            quiet=args.quiet,
        )
    root = prepare_data(base, progress=False)
    runs = load_runs(out, methods, noises, seeds)
    if timing is not None:
        timing["command"] = command.strip()
    elif (out / "timing.json").exists():
        # --report-only: the report describes the invocation that trained the runs.
        timing = json.loads((out / "timing.json").read_text())
        command = timing.get("command", command)
    path = write_results(out, runs, base, timing, command.strip(), root=root)
    if timing is not None and not args.report_only:
        (out / "timing.json").write_text(json.dumps(timing, indent=1) + "\n")
    if not args.quiet:
        total = timing["wall_seconds"] + timing["report_seconds"] if timing else None
        log(f"wrote {path}" + (f" ({total / 60:.1f} min)" if total else ""))
        print(
            path.read_text().split("## Results")[1].split("##")[0]
            if "## Results" in path.read_text()
            else ""
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
