"""Train and evaluate one keyword-spotting run, with or without mixup.

    python -m recipes.speech_commands.train                         # built-in data, no mixup
    python -m recipes.speech_commands.train --mixup.method spectrogram --train.label_noise 0.4
    python -m recipes.speech_commands.train --data-dir ~/speech_commands_v0.02 --set data.task=35
    torchrun --standalone --nproc_per_node=2 -m recipes.speech_commands.train --quick
    python -m recipes.speech_commands.train --help

Per batch (training only), one ``audiomix.Chain``: [random time shift] → [background noise] →
[per-clip RMS normalisation] → [waveform mixer] → log-mel → [spectrogram mixer] →
[SpecAugment]; then the network and the cross-entropy against the (mixed) targets. Mixers come
from the registry in ``mixers.py`` (``none``, ``waveform``, ``spectrogram``, CutMix, SNR and BC
mixing).

Outputs in ``run_dir``: ``config.yaml`` (resolved), ``epochs.csv`` (one row per epoch),
``metrics.json`` (final: test accuracy / NLL / ECE, raw and after temperature scaling fitted on
the validation split, per-class accuracy, confusion matrix, reliability bins; train accuracy
against the noisy and the clean labels), ``run_info.json`` (wall time, threads, world size)
and ``checkpoint.pt`` (written atomically every epoch; ``--resume`` continues from it and ends
with the same metrics as an uninterrupted run).

The parts: ``config.py`` (config and command line), ``mixers.py`` (the registry),
``distributed.py`` (torchrun set-up), ``splits.py`` (the data of a run), ``trainer.py`` (the
loop and the evaluation); this module runs them and writes the outputs.
"""

from __future__ import annotations

import gc
import json
import os
import platform
import shutil
import socket
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import yaml

from .common import atomic_write_text, log
from .config import CHECKPOINT, METRICS, RESOLVED_CONFIG, RUN_INFO, parse_args
from .distributed import Dist, init_distributed
from .model import count_parameters
from .splits import load_splits, prepare_data
from .trainer import Trainer

__all__ = ["cpu_model", "machine_info", "main", "run"]


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else what ``platform`` knows)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def machine_info() -> dict[str, Any]:
    """Host, CPU model, cores (all, and available to this process), memory, GPUs, platform and
    torch."""
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (AttributeError, ValueError, OSError):  # not on every OS
        memory = None
    gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return {
        "host": socket.gethostname(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_available": available,
        "memory_gib": memory,
        "gpus": gpus,
        "platform": platform.platform(),
        "torch": torch.__version__,
    }


def _start_run_dir(cfg: dict[str, Any], run_dir: Path, *, resume: bool, overwrite: bool) -> None:
    """Refuses to clobber an earlier run (unless resuming or overwriting), writes the config."""
    existing = [p for p in (run_dir / CHECKPOINT, run_dir / METRICS) if p.exists()]
    if existing and overwrite:
        shutil.rmtree(run_dir)
    elif existing and not resume:
        raise FileExistsError(
            f"{run_dir} already holds a run ({existing[0].name}); pass --resume to "
            "continue it, --overwrite to start again, or choose another --run-dir."
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / RESOLVED_CONFIG, yaml.safe_dump(cfg, sort_keys=False))


def _set_threads(cfg: dict[str, Any], d: Dist) -> int:
    threads = cfg["train"]["threads"]
    if threads <= 0 and d.enabled:
        threads = max(1, (os.cpu_count() or 1) // d.local_world)
    if threads > 0:
        torch.set_num_threads(threads)
    return torch.get_num_threads()


def run(
    cfg: dict[str, Any], *, resume: bool = False, overwrite: bool = False
) -> dict[str, Any] | None:
    """Trains and evaluates one run; returns the final metrics (on rank 0; None elsewhere)."""
    started = time.perf_counter()
    cpu_started = time.process_time()
    d = init_distributed()
    try:
        threads = _set_threads(cfg, d)
        run_dir = Path(cfg["run_dir"])
        ckpt = run_dir / CHECKPOINT
        quiet = bool(cfg["quiet"]) or not d.main
        if d.main:
            _start_run_dir(cfg, run_dir, resume=resume, overwrite=overwrite)
        # Rank 0 prepares the data (generation or download) while the others wait.
        if d.main:
            root = prepare_data(cfg, progress=not quiet)
        if d.enabled:
            dist.barrier()
        if not d.main:
            root = prepare_data(cfg, progress=False)
        data_started = time.perf_counter()
        splits = load_splits(cfg, root)
        load_seconds = time.perf_counter() - data_started
        trainer = Trainer(cfg, d, root, splits)
        resumed_from = 0
        if resume and ckpt.exists():
            trainer.load_checkpoint(ckpt)
            resumed_from = trainer.epoch
            if not quiet:
                log(f"resumed {run_dir} after epoch {resumed_from}")
        if not quiet:
            log(
                f"data {root}: train {len(splits.train)}, val {len(splits.val)}, test "
                f"{len(splits.test)} clips, {splits.num_classes} classes; model "
                f"{cfg['model']['arch']} ({count_parameters(trainer.net):,} parameters); "
                f"mixup {cfg['mixup']['method']}; label noise {cfg['train']['label_noise']:.0%}; "
                f"{d.world} process(es) x {threads} thread(s)"
            )
        train_started = time.perf_counter()
        trainer.fit(run_dir)
        train_seconds = time.perf_counter() - train_started
        metrics = trainer.final_metrics()
        if d.main:
            atomic_write_text(run_dir / METRICS, json.dumps(metrics, indent=1) + "\n")
            info = {
                "wall_seconds": time.perf_counter() - started,
                "cpu_seconds": time.process_time() - cpu_started,  # this process (rank 0)
                "train_seconds": train_seconds,
                "data_load_seconds": load_seconds,
                "resumed_from_epoch": resumed_from,
                **trainer.timing,
                "world_size": d.world,
                "threads_per_process": threads,
                "device": str(trainer.device),
                **machine_info(),
                "dataset": str(root),
                "applied": trainer.applied(),
            }
            atomic_write_text(run_dir / RUN_INFO, json.dumps(info, indent=1) + "\n")
            if not quiet:
                t = metrics["test"]
                log(
                    f"test acc {100 * t['accuracy']:.2f}%  nll {t['nll']:.3f} "
                    f"(T-scaled {t['nll_ts']:.3f})  ece {t['ece']:.3f} (T-scaled {t['ece_ts']:.3f})"
                    f"  -> {run_dir / METRICS}  [{info['wall_seconds']:.0f} s]"
                )
        if d.enabled:
            dist.barrier()  # rank 0 may still be writing: no rank tears down gloo before the rest
        return metrics if d.main else None
    finally:
        if d.enabled and dist.is_initialized():
            trainer = None  # the DDP wrapper and its reducer go before the process group they use
            gc.collect()
            dist.destroy_process_group()


def main(argv: Sequence[str] | None = None) -> int:
    args, cfg = parse_args(argv)
    try:
        run(cfg, resume=args.resume, overwrite=args.overwrite)
    except (FileExistsError, ValueError) as err:
        log(f"error: {err}")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
