"""The measuring harness: interleaved timing in two heap states, peak memory, output
comparison, the machine.

Every figure of the report is a median of interleaved repetitions (cases run round-robin in a
fresh random order each repetition) or a peak of allocation events; nothing here knows what is
measured.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import os
import platform
import random
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

# --- timing ------------------------------------------------------------------------------------


@dataclass
class Case:
    """One timed callable. ``setup`` runs untimed before every call (e.g. a fresh input for an
    in-place peer); ``max_reps`` caps slow cases (librosa) without dropping them."""

    name: str
    fn: Callable[[], Any]
    setup: Callable[[], Any] | None = None
    max_reps: int | None = None
    note: str = ""


@dataclass
class Stat:
    times: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def lo(self) -> float:
        return min(self.times)

    @property
    def hi(self) -> float:
        return max(self.times)

    def fmt(self) -> str:
        return f"{fmt_ms(self.median)} [{fmt_ms(self.lo)}–{fmt_ms(self.hi)}]"


def fmt_ms(seconds: float) -> str:
    ms = seconds * 1e3
    if ms >= 100:
        return f"{ms:.0f}"
    if ms >= 10:
        return f"{ms:.1f}"
    if ms >= 1:
        return f"{ms:.2f}"
    return f"{ms:.3f}"


def measure(
    cases: list[Case], reps: int, warmup: int, heap: str = "warm", seed: int = 0
) -> dict[str, Stat]:
    """Interleaved timing: every repetition runs each case once, in a fresh random order.

    ``heap="warm"``: each timed call directly follows an untimed call of the same case, so its
    allocations reuse pages the process already holds (the steady state of a training loop).
    ``heap="cold"``: the heap is handed back to the OS (``malloc_trim``) before each timed
    call, so every large allocation page-faults its memory in, as a first call does.
    """
    return measure_heaps(cases, reps, warmup, (heap,), seed)[heap]


def measure_heaps(
    cases: list[Case], reps: int, warmup: int, heaps: tuple[str, ...], seed: int = 0
) -> dict[str, dict[str, Stat]]:
    """:func:`measure` for several heap states at once, all interleaved in one loop."""
    for case in cases:
        for _ in range(warmup if case.max_reps is None else min(warmup, 1)):
            _call(case)
    stats = {h: {case.name: Stat() for case in cases} for h in heaps}
    order = [(h, case) for h in heaps for case in cases]
    rng = random.Random(seed)
    for _ in range(reps):
        rng.shuffle(order)
        for h, case in order:
            stat = stats[h][case.name]
            if case.max_reps is not None and len(stat.times) >= case.max_reps:
                continue
            if h == "warm":
                _call(case)
            if case.setup is not None:
                case.setup()
            if h == "cold":
                _trim_heap()
            t0 = time.perf_counter()
            result = case.fn()
            t1 = time.perf_counter()
            del result  # free the output before the next case allocates its own
            stat.times.append(t1 - t0)
    return stats


def _call(case: Case) -> None:
    if case.setup is not None:
        case.setup()
    result = case.fn()
    del result


try:  # glibc: keep freed memory in the process (warm), or hand it back on demand (cold)
    _LIBC = ctypes.CDLL("libc.so.6")
    _LIBC.mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD at its maximum: heap up to 32 MiB
    _LIBC.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD: never give memory back by itself
    HEAP_NOTE = (
        "glibc malloc: blocks up to 32 MiB come from the heap, which is never trimmed "
        "by itself (warm) or is trimmed with `malloc_trim(0)` before a call (cold); "
        "bigger blocks are always fresh `mmap`s, so warm and cold then coincide."
    )
except (OSError, AttributeError):
    _LIBC = None
    HEAP_NOTE = "no glibc: the cold heap state is the same as warm here."


def _trim_heap() -> None:
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


# --- correctness -------------------------------------------------------------------------------


def check(what: str, got: torch.Tensor, want: torch.Tensor, *, exact: bool = False) -> str:
    """A report line "PASS: ..." or "FAIL: ...": ``got`` bit-identical to ``want`` (``exact``) or
    within a few float32 ulps of the data's largest magnitude."""
    got = got.detach().double()
    want = want.detach().double()
    diff = float((got - want).abs().max()) if got.numel() else 0.0
    scale = float(want.abs().max()) or 1.0
    if exact:
        ok = torch.equal(got, want)
        verdict = "bit-identical" if ok else f"NOT identical (max |diff| {diff:.2e})"
    else:
        ok = diff <= 4 * torch.finfo(torch.float32).eps * scale
        verdict = f"max |diff| {diff:.2e} (data max {scale:.3g}): " + ("OK" if ok else "MISMATCH")
    return f"{'PASS' if ok else 'FAIL'}: {what}: {verdict}"


# --- environment -------------------------------------------------------------------------------


def optional_import(module: str) -> tuple[Any, str]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mod = importlib.import_module(module)
        return mod, getattr(mod, "__version__", "?")
    except Exception as exc:  # any import failure means "skip this peer"
        return None, f"not available ({type(exc).__name__}: {exc})"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cache_sizes() -> str:
    sizes = []
    base = Path("/sys/devices/system/cpu/cpu0/cache")
    for index in sorted(base.glob("index*")):
        try:
            level = (index / "level").read_text().strip()
            kind = (index / "type").read_text().strip()
            size = (index / "size").read_text().strip()
        except OSError:
            continue
        if kind != "Instruction":
            sizes.append(f"L{level} {size}")
    return ", ".join(sizes) or "unknown"


def loadavg() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def limit_blas(threads: int) -> str:
    """numpy's BLAS (librosa's mel matmul) gets the same number of threads as torch."""
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
        return f"numpy/BLAS thread pools limited to {threads} (threadpoolctl)"
    except Exception as exc:  # threadpoolctl is optional
        return f"numpy/BLAS threads not limited ({type(exc).__name__})"


def machine_lines(threads: int, peers: dict[str, str], blas: str = "") -> list[str]:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{mem_kb / 2**20:.0f} GiB"
    except (OSError, ValueError, IndexError):
        mem = "unknown"
    lines = [
        f"- CPU: {_cpu_model()}, {cores} cores available ({os.cpu_count()} logical), "
        f"caches per core/shared: {_cache_sizes()}, RAM {mem}",
        f"- Python {platform.python_version()}, torch {torch.__version__}, "
        f"torchaudio {optional_import('torchaudio')[1]}, numpy {np.__version__}",
        "- peers: " + ", ".join(f"{k} {v}" for k, v in peers.items()),
        f"- torch.set_num_threads({threads}); torch.get_num_threads() = {torch.get_num_threads()}"
        + (f"; {blas}" if blas else ""),
    ]
    return lines


# --- memory --------------------------------------------------------------------------------------


@contextlib.contextmanager
def _quiet_stderr():
    """Silences the profiler back end's start/stop lines, which it writes to file descriptor 2."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def peak_bytes(fn: Callable[[], Any]) -> int:
    """Peak of the bytes allocated by torch during ``fn`` (net of its inputs), from the
    profiler's allocation events; tracemalloc does not see torch's allocator."""
    from torch.profiler import ProfilerActivity, profile

    with _quiet_stderr(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        out = fn()
        del out
    events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    events.sort(key=lambda e: e.start_ns())
    cur = peak = 0
    for e in events:
        cur += e.nbytes()
        peak = max(peak, cur)
    return peak


def l3_mib() -> float:
    for index in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*"):
        try:
            if (index / "level").read_text().strip() == "3":
                size = (index / "size").read_text().strip()
                return float(size.rstrip("KM")) / (1024 if size.endswith("K") else 1)
        except (OSError, ValueError):
            continue
    return 32.0
