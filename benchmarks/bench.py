#!/usr/bin/env python
"""audiomix against its peers and against the memory limit, measured side by side in one run.

Everything is timed in this one process on the same tensors: cases are run round-robin (the
starting case rotates every repetition), after a warm-up, with ``torch.set_num_threads`` fixed.
Figures are medians with the min–max range; every speed claim is a ratio of two medians from the
same run, so the load of a shared machine hits both sides alike.

Sections:

1. Mixing a batch (waveforms 256 × 1 s and 64 × 10 s at 16 kHz, log-mel 256 × 40 × 101, and a
   64 MB batch bigger than the L3 cache): audiomix (functional and modules) against a plain
   ``clone()`` (the memory-bound floor), hand-written PyTorch, torchvision ``v2.MixUp``, timm
   ``Mixup`` and torch-audiomentations ``Mix``; plus correctness checks against the peers'
   pairings with identical λ.
2. Log-mel: audiomix ``LogMelSpectrogram`` against torchaudio ``MelSpectrogram`` +
   ``AmplitudeToDB`` and librosa, with the outputs compared.
3. Share of a training step: mixing + front end against forward+backward+SGD of the recipe's
   keyword-spotting CNN.
4. Scaling: time against batch size and clip length; peak memory against input size (from the
   PyTorch profiler's allocation events).

Usage::

    python benchmarks/bench.py                   # full run, writes benchmarks/results.md + scaling.png
    python benchmarks/bench.py --quick --out DIR # tiny sizes, 1-2 repetitions, < 30 s (the test suite)

Peers that are not installed are skipped with a note (``make bench`` installs them).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import importlib
import math
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

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import audiomix  # noqa: E402
from audiomix import functional as AF  # noqa: E402

SAMPLE_RATE = 16000
NUM_CLASSES = 12
ALPHA = 0.2
#: The recipe's front end: 30 ms windows, 10 ms hop, 40 mel bands from 20 Hz.
LOGMEL = dict(n_fft=480, win_length=480, hop_length=160, n_mels=40, f_min=20.0, top_db=80.0)


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
        return f"{_ms(self.median)} [{_ms(self.lo)}–{_ms(self.hi)}]"


def _ms(seconds: float) -> str:
    ms = seconds * 1e3
    if ms >= 100:
        return f"{ms:.0f}"
    if ms >= 10:
        return f"{ms:.1f}"
    if ms >= 1:
        return f"{ms:.2f}"
    return f"{ms:.3f}"


def measure(cases: list[Case], reps: int, warmup: int, heap: str = "warm",
            seed: int = 0) -> dict[str, Stat]:
    """Interleaved timing: every repetition runs each case once, in a fresh random order.

    ``heap="warm"``: each timed call directly follows an untimed call of the same case, so its
    allocations reuse pages the process already holds (the steady state of a training loop).
    ``heap="cold"``: the heap is handed back to the OS (``malloc_trim``) before each timed
    call, so every large allocation page-faults its memory in, as a first call does.
    """
    return measure_heaps(cases, reps, warmup, (heap,), seed)[heap]


def measure_heaps(cases: list[Case], reps: int, warmup: int, heaps: tuple[str, ...],
                  seed: int = 0) -> dict[str, dict[str, Stat]]:
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
    HEAP_NOTE = ("glibc malloc: blocks up to 32 MiB come from the heap, which is never trimmed "
                 "by itself (warm) or is trimmed with `malloc_trim(0)` before a call (cold); "
                 "bigger blocks are always fresh `mmap`s, so warm and cold then coincide.")
except (OSError, AttributeError):
    _LIBC = None
    HEAP_NOTE = "no glibc: the cold heap state is the same as warm here."


def _trim_heap() -> None:
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


# --- environment -------------------------------------------------------------------------------


def _optional(module: str) -> tuple[Any, str]:
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


def _loadavg() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def _limit_blas(threads: int) -> str:
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
        f"torchaudio {_optional('torchaudio')[1]}, numpy {np.__version__}",
        "- peers: " + ", ".join(f"{k} {v}" for k, v in peers.items()),
        f"- torch.set_num_threads({threads}); torch.get_num_threads() = {torch.get_num_threads()}"
        + (f"; {blas}" if blas else ""),
        "- `make bench` installs the peers into the project venv with the torch pins on the same "
        "pip command line (`timm torch-audiomentations torchvision==0.29.1 torch==2.14.1 "
        "torchaudio==2.11.0`); pip's resolver keeps torch and torchaudio as they are (checked "
        "with `--dry-run`: it adds timm, torchvision, torch-audiomentations, julius, "
        "torch-pitch-shift, primePy, huggingface-hub, safetensors), so no `--no-deps` is needed.",
    ]
    return lines


# --- mixing ------------------------------------------------------------------------------------


@dataclass
class MixResult:
    title: str
    shape: tuple[int, ...]
    heaps: dict[str, dict[str, Stat]]
    notes: list[str]
    checks: list[str]
    copy: str
    ref: str

    def ratio(self, a: str, b: str, heap: str = "warm") -> float:
        return self.heaps[heap][a].median / self.heaps[heap][b].median


COPY = "copy: `x.clone()` (floor)"
COPY_OUT = "copy into a buffer: `buf.copy_(x)`"
NAIVE = "hand-written: `lam*x + (1-lam)*x[perm]`"
LERP = "hand-written fused: `torch.lerp(x[perm], x, lam)`"
COMPILED = "hand-written, `torch.compile`d (one fused kernel)"
AM_BATCH = "audiomix `mix`, per-batch λ, validate=False"
AM_SAMPLE = "audiomix `mix`, per-sample λ, validate=False"
AM_OUT = "audiomix `mix(..., out=buf)`, per-batch λ"
AM_VALID = "audiomix `mix`, per-batch λ, validate=True"
AM_LENGTHS = "audiomix `mix` with `lengths` (random offsets)"
AM_MODULE = "audiomix module, default checks, with labels"
AM_MODULE_FAST = "audiomix module, check_finite=False, with labels"
AM_MODULE_DB = "audiomix SpectrogramMixup (dB mixed as power), default checks"
TV = "torchvision `v2.MixUp`"
TIMM = "timm `Mixup` (mode='batch')"
TIMM_ELEM = "timm `Mixup` (mode='elem', per-sample λ)"
TAM = "torch-audiomentations `Mix` (p=1)"


def _compile_mix() -> tuple[Callable | None, str]:
    try:

        def fused(x2: torch.Tensor, w: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
            return torch.lerp(x2[perm], x2, w)

        return torch.compile(fused, dynamic=True), ""
    except Exception as exc:  # no compiler, unsupported platform
        return None, f"torch.compile unavailable: {exc}"


def bench_mixing(
    title: str,
    shape: tuple[int, ...],
    peers: dict[str, Any],
    *,
    reps: int,
    warmup: int,
    compiled: Callable | None,
    spectrogram: bool,
    heaps_wanted: tuple[str, ...] = ("warm", "cold"),
    only: set[str] | None = None,
) -> MixResult:
    g = torch.Generator().manual_seed(0)
    b, t = shape[0], shape[-1]
    x = torch.randn(shape, generator=g)
    if spectrogram:  # a log-mel batch in dB: values around -40 with a 80 dB range
        x = x.mul_(12.0).sub_(40.0)
    labels = torch.randint(NUM_CLASSES, (b,), generator=g)
    lengths = torch.randint(t // 2, t + 1, (b,), generator=g)
    pb = AF.sample_mix_params(b, alpha=ALPHA, generator=g)
    ps = AF.sample_mix_params(b, alpha=ALPHA, per_sample=True, generator=g)
    pl = AF.sample_mix_params(
        b, alpha=ALPHA, per_sample=True, lengths=lengths, placement="random", generator=g
    )
    w = pb.lam.view(b, *[1] * (x.ndim - 1))
    buf = torch.empty_like(x)
    x2 = x.view(b, -1)
    w2 = pb.lam.view(b, 1)
    notes: list[str] = []
    checks: list[str] = []

    cases = [
        Case(COPY, lambda: x.clone()),
        Case(COPY_OUT, lambda: buf.copy_(x)),
        Case(NAIVE, lambda: w * x + (1 - w) * x[pb.perm]),
        Case(LERP, lambda: torch.lerp(x[pb.perm], x, w)),
    ]
    if compiled is not None:
        t0 = time.perf_counter()
        compiled(x2, w2, pb.perm)
        notes.append(f"`torch.compile` of the fused kernel took {time.perf_counter() - t0:.1f} s "
                     "for this shape (first call; dynamic shapes).")
        cases.append(Case(COMPILED, lambda: compiled(x2, w2, pb.perm)))
    cases += [
        Case(AM_BATCH, lambda: AF.mix(x, pb.lam, pb.perm, validate=False)),
        Case(AM_SAMPLE, lambda: AF.mix(x, ps.lam, ps.perm, validate=False)),
        Case(AM_OUT, lambda: AF.mix(x, pb.lam, pb.perm, out=buf, validate=False)),
        Case(AM_VALID, lambda: AF.mix(x, pb.lam, pb.perm)),
        Case(
            AM_LENGTHS,
            lambda: AF.mix(x, pl.lam, pl.perm, lengths=lengths, offsets=pl.offsets, validate=False),
        ),
    ]
    if spectrogram:
        module = audiomix.SpectrogramMixup(
            alpha=ALPHA, num_classes=NUM_CLASSES, domain="input", generator=1
        )
        module_fast = audiomix.SpectrogramMixup(
            alpha=ALPHA, num_classes=NUM_CLASSES, domain="input", check_finite=False, generator=1
        )
        module_db = audiomix.SpectrogramMixup(alpha=ALPHA, num_classes=NUM_CLASSES, generator=1)
        notes.append("Spectrogram modules: `SpectrogramMixup(domain='input')` mixes the dB values "
                     "linearly, like the peers; the default (`scale='db'`, `domain='power'`) "
                     "mixes powers, `10·log10(λ·10^(a/10) + (1−λ)·10^(b/10))`, which costs an "
                     "exp and a log per value.")
    else:
        module = audiomix.WaveformMixup(alpha=ALPHA, num_classes=NUM_CLASSES, generator=1)
        module_fast = audiomix.WaveformMixup(
            alpha=ALPHA, num_classes=NUM_CLASSES, check_finite=False, generator=1
        )
    cases.append(Case(AM_MODULE, lambda: module(x, labels)))
    cases.append(Case(AM_MODULE_FAST, lambda: module_fast(x, labels)))
    if spectrogram:
        cases.append(Case(AM_MODULE_DB, lambda: module_db(x, labels)))

    # Peers: timm and torchvision expect image batches (B, C, H, W).
    x4 = x.view(b, 1, *x.shape[1:]) if x.ndim == 3 else x.view(b, 1, 1, -1)
    shape4 = "×".join(map(str, x4.shape))
    tv_mod = peers.get("torchvision")
    if tv_mod is not None:
        from torchvision.transforms import v2

        tv = v2.MixUp(alpha=ALPHA, num_classes=NUM_CLASSES)
        cases.append(Case(TV, lambda: tv(x4, labels), note=f"input viewed as {shape4}"))
    else:
        notes.append("torchvision: skipped, not installed (`make bench` installs it).")
    timm_mod = peers.get("timm")
    if timm_mod is not None:
        from timm.data import Mixup

        def timm_mixup(mode: str) -> Any:
            return Mixup(mixup_alpha=ALPHA, cutmix_alpha=0.0, prob=1.0, mode=mode,
                         label_smoothing=0.0, num_classes=NUM_CLASSES)

        tm_batch, tm_elem = timm_mixup("batch"), timm_mixup("elem")
        scratch = torch.empty_like(x4)
        refill = lambda: scratch.copy_(x4)  # noqa: E731  timm mixes in place: fresh input, untimed
        cases.append(Case(TIMM, lambda: tm_batch(scratch, labels), setup=refill,
                          note=f"input viewed as {shape4}; mixes in place, so each call gets a "
                               "fresh copy of x (untimed)"))
        cases.append(Case(TIMM_ELEM, lambda: tm_elem(scratch, labels), setup=refill,
                          note="Python loop over the batch"))
    else:
        notes.append("timm: skipped, not installed (`make bench` installs it).")
    tam_mod = peers.get("torch_audiomentations")
    if tam_mod is not None and not spectrogram:
        from torch_audiomentations.augmentations.mix import Mix

        tam = Mix(p=1.0, output_type="dict", mix_target="union")
        x3 = x.view(b, 1, -1)
        targets4 = torch.nn.functional.one_hot(labels, NUM_CLASSES).float().view(b, 1, 1, -1)

        def tam_call() -> Any:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return tam(x3, sample_rate=SAMPLE_RATE, targets=targets4, target_rate=1)

        cases.append(Case(TAM, tam_call, note="input (B, 1, T); random SNR 0-5 dB and random "
                                               "partners (with replacement): a different mix"))
    elif tam_mod is None:
        notes.append("torch-audiomentations: skipped, not installed (`make bench` installs it).")

    if only is not None:
        cases = [c for c in cases if c.name in only]
    heaps = measure_heaps(cases, reps, warmup, heaps_wanted)
    for case in cases:
        if case.note:
            notes.append(f"{case.name}: {case.note}.")

    # --- correctness, on the same tensors ------------------------------------------------------
    ref = torch.lerp(x[pb.perm], x, w)
    mine = AF.mix(x, pb.lam, pb.perm, validate=False)
    checks.append(_check("audiomix per-batch λ == fused `torch.lerp` reference", mine, ref, exact=True))
    ws = ps.lam.view(b, *[1] * (x.ndim - 1))
    checks.append(_check("audiomix per-sample λ == fused reference",
                         AF.mix(x, ps.lam, ps.perm, validate=False),
                         torch.lerp(x[ps.perm], x, ws), exact=True))
    checks.append(_check("audiomix `out=` == audiomix", AF.mix(x, pb.lam, pb.perm, out=buf), mine,
                         exact=True))
    naive64 = w.double() * x.double() + (1 - w.double()) * x.double()[pb.perm]
    checks.append(_check("audiomix vs float64 `lam*x + (1-lam)*x[perm]`", mine.double(), naive64))
    if compiled is not None:
        checks.append(_check("torch.compile kernel vs audiomix", compiled(x2, w2, pb.perm).view_as(x),
                             mine))
    if tv_mod is not None:
        for seed in range(1234, 1334):  # a λ away from 0 and 1, so that the check means something
            torch.manual_seed(seed)
            lam_tv = float(tv._dist.sample(()))  # the λ torchvision draws after the same seed
            if 0.1 < lam_tv < 0.9:
                break
        torch.manual_seed(seed)
        y_tv, t_tv = tv(x4, labels)
        roll = (torch.arange(b) - 1) % b  # x.roll(1, 0)[i] == x[i - 1]
        checks.append(_check(f"torchvision MixUp == audiomix with its λ={lam_tv:.4f} and roll "
                             "pairing", y_tv.reshape(x.shape), AF.mix(x, lam_tv, roll)))
        checks.append(_check("  … and its targets", t_tv,
                             AF.mix_targets(labels, lam_tv, roll, num_classes=NUM_CLASSES)))
    if timm_mod is not None:
        flip = torch.arange(b - 1, -1, -1)
        differ = (labels != labels[flip]).nonzero().flatten()
        for _ in range(100):  # timm draws from numpy's global RNG: call until λ is informative
            y_tm, t_tm = tm_batch(x4.clone(), labels)
            i = int(differ[0]) if len(differ) else 0
            lam_tm = float(t_tm[i, labels[i]])  # λ read back from its own targets
            if 0.1 < lam_tm < 0.9:
                break
        if len(differ):
            checks.append(_check(f"timm Mixup == audiomix with its λ={lam_tm:.4f} and flip pairing",
                                 y_tm.reshape(x.shape), AF.mix(x, lam_tm, flip)))
            checks.append(_check("  … and its targets", t_tm,
                                 AF.mix_targets(labels, lam_tm, flip, num_classes=NUM_CLASSES)))
    return MixResult(title, tuple(shape), heaps, notes, checks, COPY, AM_BATCH)


def _check(what: str, got: torch.Tensor, want: torch.Tensor, *, exact: bool = False) -> str:
    got = got.detach().double()
    want = want.detach().double()
    diff = float((got - want).abs().max()) if got.numel() else 0.0
    scale = float(want.abs().max()) or 1.0
    if exact:
        ok = torch.equal(got, want)
        verdict = "bit-identical" if ok else f"NOT identical (max |diff| {diff:.2e})"
    else:
        ok = diff <= 4 * torch.finfo(torch.float32).eps * scale  # a few float32 ulps of the data
        verdict = f"max |diff| {diff:.2e} (data max {scale:.3g}): " + ("OK" if ok else "MISMATCH")
    return f"{'PASS' if ok else 'FAIL'}: {what}: {verdict}"


def mixing_table(res: MixResult) -> list[str]:
    heaps = list(res.heaps)
    first = res.heaps[heaps[0]]
    n = len(first[res.copy].times)
    head = "| method |"
    rule = "| --- |"
    for h in heaps:
        head += f" {h} heap: ms | × copy | × audiomix |"
        rule += " ---: | ---: | ---: |"
    lines = [
        f"### {res.title}",
        "",
        f"Input {tuple(res.shape)} float32, {math.prod(res.shape) * 4 / 2**20:.1f} MiB; median "
        f"[min–max] of {n} interleaved repetitions per heap state; × audiomix is against "
        f"{res.ref}.",
        "",
        head,
        rule,
    ]
    for name in first:
        row = f"| {name} |"
        for h in heaps:
            st = res.heaps[h][name]
            base = res.heaps[h][res.copy].median
            ours = res.heaps[h][res.ref].median
            row += f" {st.fmt()} | {st.median / base:.2f} | {st.median / ours:.2f} |"
        lines.append(row)
    lines.append("")
    lines += [f"- {n}" for n in res.notes]
    lines.append("")
    if res.checks:
        lines += ["Correctness in the same run:", ""] + [f"- {c}" for c in res.checks] + [""]
    return lines


# --- log-mel -----------------------------------------------------------------------------------


def bench_logmel(batch: int, reps: int, warmup: int, peers: dict[str, Any]) -> tuple[list[str], dict]:
    import torchaudio

    g = torch.Generator().manual_seed(1)
    gains = 10 ** (torch.rand(batch, 1, generator=g) * 3 - 2)  # 40 dB of level differences
    x = torch.randn(batch, SAMPLE_RATE, generator=g) * gains
    ours = audiomix.LogMelSpectrogram(sample_rate=SAMPLE_RATE, **LOGMEL)
    ours_fast = audiomix.LogMelSpectrogram(sample_rate=SAMPLE_RATE, check_finite=False, **LOGMEL)
    kw = {k: v for k, v in LOGMEL.items() if k != "top_db"}
    ta_mel = torchaudio.transforms.MelSpectrogram(sample_rate=SAMPLE_RATE, **kw)
    ta_db = torchaudio.transforms.AmplitudeToDB(stype="power", top_db=LOGMEL["top_db"])

    def ta_chain() -> torch.Tensor:
        return ta_db(ta_mel(x))

    def ta_power_path() -> torch.Tensor:  # audiomix 0.1's path: torchaudio's mel, our dB
        return AF.power_to_db(ours.mel(x), top_db=LOGMEL["top_db"])

    cases = [
        Case("audiomix `LogMelSpectrogram` (default checks)", lambda: ours(x)),
        Case("audiomix `LogMelSpectrogram`, check_finite=False", lambda: ours_fast(x)),
        Case("audiomix 0.1 path: torchaudio mel + `power_to_db`", ta_power_path),
        Case("torchaudio `MelSpectrogram` + `AmplitudeToDB`", ta_chain),
    ]
    librosa = peers.get("librosa")
    xn = x.numpy()
    lib_kw = dict(sr=SAMPLE_RATE, n_fft=LOGMEL["n_fft"], hop_length=LOGMEL["hop_length"],
                  win_length=LOGMEL["win_length"], window="hann", center=True, pad_mode="reflect",
                  power=2.0, n_mels=LOGMEL["n_mels"], fmin=LOGMEL["f_min"], fmax=SAMPLE_RATE / 2,
                  htk=True, norm=None)
    if librosa is not None:
        # Build the filterbank once, as a training loop would: librosa caches nothing itself.
        mel_basis = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=LOGMEL["n_fft"],
                                        n_mels=LOGMEL["n_mels"], fmin=LOGMEL["f_min"],
                                        fmax=SAMPLE_RATE / 2, htk=True, norm=None)

        def librosa_per_clip() -> np.ndarray:
            out = []
            for clip in xn:
                spec = np.abs(librosa.stft(clip, n_fft=LOGMEL["n_fft"],
                                           hop_length=LOGMEL["hop_length"], window="hann",
                                           center=True, pad_mode="reflect")) ** 2
                out.append(librosa.power_to_db(mel_basis @ spec, ref=1.0, amin=1e-10,
                                               top_db=LOGMEL["top_db"]))
            return np.stack(out)

        def librosa_feature_per_clip() -> np.ndarray:
            return np.stack([
                librosa.power_to_db(librosa.feature.melspectrogram(y=clip, **lib_kw), ref=1.0,
                                    amin=1e-10, top_db=LOGMEL["top_db"])
                for clip in xn
            ])

        cases.append(Case("librosa per clip: `stft` + cached mel basis + `power_to_db`",
                          librosa_per_clip, max_reps=max(2, reps // 2)))
        cases.append(Case("librosa per clip: `feature.melspectrogram` + `power_to_db`",
                          librosa_feature_per_clip, max_reps=max(2, reps // 4)))
    stats = measure(cases, reps, warmup)

    # Agreement. torchaudio's AmplitudeToDB takes one top_db floor over the whole batch; ours is
    # per clip, so compare above the batch floor (where both are the plain dB value).
    mine = ours(x).double()
    theirs = ta_chain().double()
    floor = theirs.amin()
    above = theirs > floor
    checks = [
        _check_db("audiomix vs torchaudio chain (dB, above its batch-wide floor)", mine[above],
                  theirs[above], 1e-3),
        "PASS: audiomix == audiomix 0.1 path (torchaudio's `abs().pow(2)`): bit-identical"
        if torch.equal(ours(x), ta_power_path()) else "FAIL: audiomix differs from the 0.1 path",
    ]
    if librosa is not None:
        lib = torch.from_numpy(librosa_per_clip()).double()
        checks.append(_check_db("audiomix vs librosa per clip (dB)", mine, lib, 2e-3))
    lines = [
        f"Batch of {batch} clips × 1 s at 16 kHz (levels spread over 40 dB), float32; recipe "
        f"front end: n_fft=win={LOGMEL['n_fft']}, hop={LOGMEL['hop_length']}, "
        f"n_mels={LOGMEL['n_mels']}, f_min={LOGMEL['f_min']:g}, HTK mel, top_db=80 → "
        f"({batch}, {LOGMEL['n_mels']}, 101).",
        "",
        "| method | time (ms) | × audiomix |",
        "| --- | ---: | ---: |",
    ]
    ref = stats[cases[0].name].median
    for name, st in stats.items():
        n = len(st.times)
        lines.append(f"| {name} | {st.fmt()} (n={n}) | {st.median / ref:.2f} |")
    lines += ["", "Outputs compared in the same run:", ""] + [f"- {c}" for c in checks] + [""]
    return lines, {k: v.median for k, v in stats.items()}


def _check_db(what: str, got: torch.Tensor, want: torch.Tensor, tol: float) -> str:
    diff = float((got - want).abs().max())
    ok = diff <= tol
    return f"{'PASS' if ok else 'FAIL'}: {what}: max |diff| {diff:.2e} dB (tolerance {tol:g} dB)"


# --- training-step share -----------------------------------------------------------------------


class StandInCNN(torch.nn.Module):
    """Four conv blocks on 40×101 log-mel (~100 k parameters), used if the recipe's is absent."""

    def __init__(self, num_classes: int = NUM_CLASSES, width: int = 24) -> None:
        super().__init__()
        chans = [1, width, 2 * width, 2 * width, 4 * width]
        layers: list[torch.nn.Module] = []
        for i in range(4):
            layers += [
                torch.nn.Conv2d(chans[i], chans[i + 1], 3, padding=1, bias=False),
                torch.nn.BatchNorm2d(chans[i + 1]),
                torch.nn.ReLU(inplace=True),
            ]
            if i < 3:
                layers.append(torch.nn.MaxPool2d(2))
        self.features = torch.nn.Sequential(*layers)
        self.classifier = torch.nn.Linear(chans[-1], num_classes)

    def forward(self, specgram: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(specgram.unsqueeze(1)).mean(dim=(2, 3)))


def _model() -> tuple[torch.nn.Module, str]:
    try:
        from recipes.speech_commands.model import KWSNet

        net = KWSNet(NUM_CLASSES)
        return net, "the recipe's `KWSNet` (`recipes/speech_commands/model.py`, arch='small')"
    except Exception as exc:  # the recipe is optional here
        return StandInCNN(), f"a stand-in 4-block CNN defined in bench.py (recipe model: {exc})"


def bench_step(batch: int, reps: int, warmup: int) -> tuple[list[str], dict]:
    g = torch.Generator().manual_seed(2)
    x = torch.randn(batch, SAMPLE_RATE, generator=g) * 0.1
    labels = torch.randint(NUM_CLASSES, (batch,), generator=g)
    mixup = audiomix.WaveformMixup(alpha=ALPHA, num_classes=NUM_CLASSES, generator=3)
    front = audiomix.LogMelSpectrogram(sample_rate=SAMPLE_RATE, **LOGMEL)
    net, which = _model()
    params = sum(p.numel() for p in net.parameters())
    net.train()
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    loss_fn = audiomix.SoftTargetCrossEntropy()
    with torch.no_grad():
        mixed, targets = mixup(x, labels)
        spec = front(mixed)

    def step() -> torch.Tensor:
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(spec), targets)
        loss.backward()
        opt.step()
        return loss.detach()

    def mix_only() -> Any:
        with torch.no_grad():
            return mixup(x, labels)

    def front_only() -> torch.Tensor:
        with torch.no_grad():
            return front(mixed)

    cases = [
        Case("mixing: `WaveformMixup` (default checks) with labels", mix_only),
        Case("front end: `LogMelSpectrogram`", front_only),
        Case("model: forward + backward + SGD step", step),
    ]
    stats = measure(cases, reps, warmup)
    t_mix, t_front, t_step = (stats[c.name].median for c in cases)
    share = (t_mix + t_front) / t_step
    share_total = (t_mix + t_front) / (t_mix + t_front + t_step)
    lines = [
        f"Batch {batch} × 1 s; model: {which}, {params / 1e3:.0f} k parameters, input "
        f"({batch}, 40, 101).",
        "",
        "| part | time (ms) |",
        "| --- | ---: |",
    ]
    lines += [f"| {name} | {st.fmt()} |" for name, st in stats.items()]
    lines += [
        "",
        f"Mixing + front end = **{100 * share:.1f} %** of the model's forward+backward+step "
        f"({100 * share_total:.1f} % of the whole step including them); mixing alone "
        f"{100 * t_mix / t_step:.2f} %.",
        "",
    ]
    return lines, dict(share=share, mix=t_mix, front=t_front, step=t_step, batch=batch,
                       params=params)


# --- scaling -----------------------------------------------------------------------------------


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


def bench_scaling(batches: list[int], seconds: list[float], fixed_batch: int, reps: int,
                  warmup: int, peers: dict[str, Any]) -> dict:
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
        st = measure(cases, reps, warmup)
        return {**{k: v.median for k, v in st.items()}, **{f"{k} min": v.lo for k, v in st.items()}}

    by_batch = {b: point(b, SAMPLE_RATE) for b in batches}
    by_length = {s: point(fixed_batch, int(s * SAMPLE_RATE)) for s in seconds}

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
        module_fast = audiomix.WaveformMixup(alpha=ALPHA, num_classes=NUM_CLASSES,
                                             check_finite=False, generator=0)
        fns = {
            "clone": lambda x=x: x.clone(),
            "audiomix mix": lambda x=x, p=p: AF.mix(x, p.lam, p.perm, validate=False),
            "audiomix module (labels)": lambda x=x, m=module, y=labels: m(x, y),
            "audiomix module, check_finite=False": lambda x=x, m=module_fast, y=labels: m(x, y),
            "lam*x + (1-lam)*x[perm]": lambda x=x, w=w, p=p: w * x + (1 - w) * x[p.perm],
        }
        if peers.get("torchvision") is not None:
            from torchvision.transforms import v2

            tv = v2.MixUp(alpha=ALPHA, num_classes=NUM_CLASSES)
            fns["torchvision MixUp"] = lambda x=x, tv=tv, y=labels, b=b: tv(x.view(b, 1, 1, -1), y)
        if peers.get("timm") is not None:
            from timm.data import Mixup

            tm = Mixup(mixup_alpha=ALPHA, cutmix_alpha=0.0, prob=1.0, label_smoothing=0.0,
                       num_classes=NUM_CLASSES)
            x4 = x.view(b, 1, 1, -1).clone()  # timm mixes in place: its own copy, made outside
            fns["timm Mixup (in place)"] = lambda x4=x4, tm=tm, y=labels: tm(x4, y)
        for name, fn in fns.items():
            mem.setdefault(name, {})[size] = peak_bytes(fn) / size
    return dict(by_batch=by_batch, by_length=by_length, mem=mem, fixed_batch=fixed_batch)


def _l3_mib() -> float:
    for index in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*"):
        try:
            if (index / "level").read_text().strip() == "3":
                size = (index / "size").read_text().strip()
                return float(size.rstrip("KM")) / (1024 if size.endswith("K") else 1)
        except (OSError, ValueError):
            continue
    return 32.0


def _linearity(points: dict[float, dict[str, float]], sizes: dict[float, float], key: str) -> str:
    """Time per MiB of the fastest repetition, within and past the L3: flat means linear."""
    l3 = _l3_mib()
    per = {k: points[k][f"{key} min"] / sizes[k] * 1e6 for k in points}
    text = ", ".join(f"{v:.0f}" for v in per.values()) + " µs/MiB"
    parts = []
    for label, keep in ((f"up to {l3 / 4:g} MiB (in cache)", lambda m: 1 <= m <= l3 / 4),
                        (f"from {l3 / 2:g} MiB (past the L3)", lambda m: m >= l3 / 2)):
        vals = [v for k, v in per.items() if keep(sizes[k])]
        if len(vals) >= 2:
            parts.append(f"{min(vals):.0f}–{max(vals):.0f} {label}")
    return text + (f"; {', '.join(parts)}" if parts else "")


def scaling_lines(sc: dict) -> list[str]:
    lines = ["Per-sample λ, validate=False; median (min) in ms, warm heap.", ""]
    head = "| MiB | clone | mix | mix out= | mix / clone (medians) |"
    rule = "| ---: | ---: | ---: | ---: | ---: |"

    def row(label: str, mib: float, r: dict[str, float]) -> str:
        cells = " | ".join(f"{_ms(r[k])} ({_ms(r[k + ' min'])})" for k in ("clone", "mix", "mix out="))
        return f"| {label} | {mib:.1f} | {cells} | {r['mix'] / r['clone']:.2f} |"

    lines += ["| batch × 1 s " + head, "| ---: " + rule]
    sizes_b = {}
    for b, r in sc["by_batch"].items():
        sizes_b[b] = b * SAMPLE_RATE * 4 / 2**20
        lines.append(row(str(b), sizes_b[b], r))
    lines += ["", "Time per MiB of the fastest repetition: linear growth keeps it flat within a "
              "regime; it steps up once the working set leaves the L3.", "",
              f"- mix, against batch size: {_linearity(sc['by_batch'], sizes_b, 'mix')}",
              f"- mix out=, against batch size: {_linearity(sc['by_batch'], sizes_b, 'mix out=')}",
              f"- clone, against batch size: {_linearity(sc['by_batch'], sizes_b, 'clone')}", ""]
    lines += [f"| {sc['fixed_batch']} × clip length " + head, "| ---: " + rule]
    sizes_l = {}
    for sec, r in sc["by_length"].items():
        sizes_l[sec] = sc["fixed_batch"] * sec * SAMPLE_RATE * 4 / 2**20
        lines.append(row(f"{sec:g} s", sizes_l[sec], r))
    lines += ["",
              f"- mix, against clip length: {_linearity(sc['by_length'], sizes_l, 'mix')}",
              f"- mix out=, against clip length: {_linearity(sc['by_length'], sizes_l, 'mix out=')}",
              "- Allocations past 32 MiB are fresh `mmap`s whose pages fault in on first touch, "
              "which shows as a step in `clone` and `mix` but not in `mix out=`.", ""]
    lines += ["Peak memory allocated by torch during one call, as a multiple of the input size "
              "(profiler allocation events; the output counts):", ""]
    sizes = sorted(next(iter(sc["mem"].values())).keys())
    lines.append("| method | " + " | ".join(f"{s / 2**20:.1f} MiB" for s in sizes) + " |")
    lines.append("| --- | " + " | ".join("---:" for _ in sizes) + " |")
    for name, r in sc["mem"].items():
        lines.append(f"| {name} | " + " | ".join(f"{r[s]:.2f}×" for s in sizes) + " |")
    lines.append("")
    return lines


def plot_scaling(sc: dict, path: Path) -> str:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception as exc:
        return f"plot skipped: matplotlib unavailable ({exc})"
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for ax, xs_label, data in (
        (axes[0], "batch size (× 1 s clips)", sc["by_batch"]),
        (axes[1], f"clip length (s), batch {sc['fixed_batch']}", sc["by_length"]),
    ):
        xs = list(data)
        for name, style, color in (("clone", "o-", "C0"), ("mix", "s-", "C1"),
                                   ("mix out=", "^-", "C2")):
            ax.plot(xs, [data[k][name] * 1e3 for k in xs], style, color=color,
                    label=f"{name} (median)")
            ax.plot(xs, [data[k][f"{name} min"] * 1e3 for k in xs], ":", color=color,
                    alpha=0.6, label=f"{name} (min)")
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
    return f"plot written to {path.name}"


def analysis_lines(results: list[MixResult], lm: dict[str, float], step: dict,
                   sc: dict) -> list[str]:
    """What the figures say, with the figures of this run, for each target that is missed."""
    res = results[0]
    warm, cold = res.heaps["warm"], res.heaps.get("cold", res.heaps["warm"])

    def r(a: str, b: str, h: dict[str, Stat] = warm) -> float:
        return h[a].median / h[b].median

    lines = ["## Reading the figures (and why a target is missed)", ""]
    kernel = r(AM_OUT, COPY_OUT)
    text = (f"- **`mix` vs `clone()`** (warm {r(AM_BATCH, COPY):.2f}×, cold "
            f"{r(AM_BATCH, COPY, cold):.2f}×, kernel alone `out=` vs `copy_` {kernel:.2f}×). "
            "A mix reads every row twice (as itself and as a partner) and writes one output: "
            "1.5× a copy's traffic. Eager PyTorch has no gather-and-interpolate kernel, so "
            "audiomix gathers the partners straight into the output, block by block, and "
            "interpolates in place while the block is in cache: two passes over the output "
            "instead of three arrays, no temporary (peak memory = the output).")
    if COMPILED in warm:
        c, a = r(COMPILED, COPY), r(AM_BATCH, COPY)
        speed = ("no faster" if c >= 0.9 * a else "somewhat faster")
        text += (f" A single fused kernel generated by `torch.compile` is {speed} here "
                 f"({c:.2f}× vs audiomix's {a:.2f}× warm; cold {r(COMPILED, COPY, cold):.2f}× vs "
                 f"{r(AM_BATCH, COPY, cold):.2f}×), but it costs seconds of compilation, needs a "
                 "C++ compiler at run time and rounds differently from `torch.lerp`, so the "
                 "library stays eager.")
    text += (" In cache, a second pass costs about as much as the first, so ~2× is the floor "
             "of this design; where memory or page faults dominate (cold heap, batches past the "
             "L3) the gap closes towards 1.")
    lines.append(text)
    if AM_MODULE_FAST in warm:
        check = warm[AM_MODULE].median - warm[AM_MODULE_FAST].median
        mem = sc["mem"].get("audiomix module (labels)", {})
        mem_fast = sc["mem"].get("audiomix module, check_finite=False", {})
        peak = max(mem.values()) if mem else float("nan")
        peak_fast = max(mem_fast.values()) if mem_fast else float("nan")
        lines.append(
            f"- **The module with default checks** ({r(AM_MODULE, AM_BATCH):.1f}× the "
            f"functional `mix`; {r(AM_MODULE_FAST, AM_BATCH):.1f}× with `check_finite=False`). "
            f"`check_finite=True` scans the batch once with `torch.aminmax` (NaN propagates, "
            f"±inf shows in min or max): about {_ms(check)} ms here, "
            f"{check / warm[AM_BATCH].median:.1f}× the mix itself; a trusted training loop can "
            "pass `check_finite=False`. The module also draws λ and partners, builds the targets "
            "and restores unmixed rows (a sample drawn as its own partner) in place. Peak "
            f"memory of the module is up to {peak:.2f}× the input ({peak_fast:.2f}× without the "
            "check) against 1.00× for `mix`.")
    peers = [(p, w) for p, w in ((TV, 4.0), (TIMM, 4.0)) if p in warm]
    if peers:
        lines.append(
            "- **≥ 4× faster than torchvision / timm** ("
            + ", ".join(f"{p.split()[0]} {r(p, AM_BATCH):.2f}× `mix`, "
                        f"{r(p, AM_MODULE):.2f}× module" for p, _ in peers)
            + "). torchvision's `MixUp` is `x.roll(1, 0).mul_(1 - lam).add_(x.mul(lam))`: two "
            "temporaries and four passes; timm's batch mode mixes in place (`flip`, then three "
            "in-place passes, one temporary). Both already run at 2-4 copies' worth of traffic, "
            "so beating them by 4× would need a mix faster than a copy: out of reach by "
            "construction. They also pair by a fixed roll or flip and draw λ from global RNG; "
            "audiomix pairs by a random permutation from its own generator, per-sample λ at the "
            "same cost.")
    if TAM in warm and r(TAM, AM_MODULE) < 10:
        lines.append(
            f"- **torch-audiomentations `Mix`**: {r(TAM, AM_BATCH):.1f}× the functional `mix`, "
            f"{r(TAM, AM_MODULE):.1f}× the module with default checks (which also checks, "
            "draws and builds targets). Its mix is a different operation (RMS-normalised partner at a random SNR, "
            "partners drawn with replacement), so it costs several passes more.")
    lengths = r(AM_LENGTHS, AM_BATCH)
    lines.append(
        f"- **`mix` with `lengths`** (random placement) is {lengths:.1f}× the plain mix. It "
        "writes one padded copy of the batch whose padding holds silence (a mask and a "
        "`torch.where`), then takes each clip and each partner as a window of that copy at "
        "its offset (one indexed copy each) and interpolates the clip into the partner's copy: "
        "about four passes over the batch where the plain mix makes two. Aligned at the start it needs "
        "no windows (the silenced batch goes straight into the plain mix). A kernel that "
        "copies only each pair's valid span would be cheaper still; not done.")
    ta = lm.get("torchaudio `MelSpectrogram` + `AmplitudeToDB`")
    ours = lm.get("audiomix `LogMelSpectrogram` (default checks)")
    fast = lm.get("audiomix `LogMelSpectrogram`, check_finite=False")
    old = lm.get("audiomix 0.1 path: torchaudio mel + `power_to_db`")
    if ta and ours and fast and old:
        lines.append(
            f"- **Log-mel vs torchaudio** ({ta / ours:.2f}×; {ta / fast:.2f}× with "
            "`check_finite=False`). Same arithmetic, bit for bit (checked above), arranged "
            "better: torchaudio runs `torch.stft` on the whole batch, which builds ~50 MB of "
            "windowed frames and a complex output that page-fault in on every call, then squares "
            "`abs()` of the interleaved complex values; audiomix feeds the STFT ~2 MiB chunks "
            "of clips (cache-resident, memory reused) and takes `hypot` of contiguous real and "
            "imaginary planes, the vector kernel complex `abs` uses itself (audiomix 0.1's "
            f"path, torchaudio's mel then our dB, takes {old / fast:.2f}× as long).")
    lib = lm.get("librosa per clip: `stft` + cached mel basis + `power_to_db`")
    if lib and fast and ours:
        lines.append(
            f"- **Log-mel vs librosa** ({lib / ours:.2f}× per clip with a cached filterbank; "
            f"{lm.get('librosa per clip: `feature.melspectrogram` + `power_to_db`', 0) / ours:.2f}× "
            "through `librosa.feature.melspectrogram`, which rebuilds the filterbank every "
            "call). For 1 s clips librosa's numpy STFT costs well under a millisecond per "
            "clip and stays in cache; with one thread on each side the difference is per-call "
            "overhead and cache residency, not a better FFT.")
    share = 100 * step["share"]
    lines.append(
        f"- **Share of a training step** ({share:.1f} %; mixing alone "
        f"{100 * step['mix'] / step['step']:.1f} %, front end "
        f"{100 * step['front'] / step['step']:.1f} %). The CNN is small "
        f"({step['params'] / 1e3:.0f} k parameters), and a 30 ms / 10 ms STFT of 1 s of audio "
        "costs a sizeable fraction of its forward+backward. The front end has to run after "
        "waveform mixup, so it cannot be cached; "
        + (f"a model with about {share / 5:.1f}× the compute, or `SpectrogramMixup` on cached "
           "log-mels, brings the share under 5 %." if share > 5 else "the target holds."))
    lines.append("")
    return lines


# --- main --------------------------------------------------------------------------------------


def _target_row(what: str, wanted: str, value: float, ok: bool, fmt: str = "{:.2f}×") -> str:
    return f"| {what} | {wanted} | {fmt.format(value)} | {'yes' if ok else '**no**'} |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes, 1-2 repetitions (< 30 s): proves the script runs")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent,
                        help="directory for results.md and scaling.png (default: benchmarks/)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch.set_num_threads for every section (default: 1; the first "
                             "mixing table is also run with 2)")
    parser.add_argument("--reps", type=int, default=None, help="repetitions per case")
    parser.add_argument("--no-compile", action="store_true",
                        help="skip the torch.compile'd reference kernel")
    parser.add_argument("--skip", nargs="*", default=[], metavar="PEER",
                        help="treat these peers as not installed (torchvision timm "
                             "torch_audiomentations librosa)")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    torch.set_num_threads(args.threads)
    blas = _limit_blas(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    load_before = _loadavg()
    peer_names = {"torchvision": "torchvision", "timm": "timm",
                  "torch_audiomentations": "torch-audiomentations", "librosa": "librosa"}
    peers: dict[str, Any] = {}
    versions: dict[str, str] = {}
    for mod, label in peer_names.items():
        if mod in args.skip:
            peers[mod], versions[label] = None, "skipped (--skip)"
        else:
            peers[mod], versions[label] = _optional(mod)

    if args.quick:
        reps, warmup = args.reps or 2, 1
        mix_sets = [("waveforms 16 × 0.1 s", (16, 1600), False),
                    ("log-mel 8 × 40 × 21", (8, 40, 21), True)]
        logmel_batch, step_batch = 4, 8
        batches, seconds, fixed = [4, 16], [0.1, 0.2], 4
        compiled, compile_note = None, "skipped in --quick"
    else:
        reps, warmup = args.reps or 25, 3
        mix_sets = [
            ("waveforms 256 × 1 s (16 MiB: fits the 32 MiB L3)", (256, 16000), False),
            ("waveforms 64 × 10 s (39 MiB)", (64, 160000), False),
            ("log-mel spectrograms 256 × 40 × 101", (256, 40, 101), True),
            ("waveforms 1024 × 1 s (62.5 MiB: bigger than the L3)", (1024, 16000), False),
        ]
        logmel_batch, step_batch = 256, 256
        batches, seconds, fixed = [16, 32, 64, 128, 256, 512, 1024], [1, 2, 5, 10, 20, 30], 64
        if args.no_compile:
            compiled, compile_note = None, "skipped (--no-compile)"
        else:
            compiled, compile_note = _compile_mix()

    print(f"audiomix benchmark ({'quick' if args.quick else 'full'}), "
          f"threads={torch.get_num_threads()}, reps={reps}", flush=True)
    out: list[str] = ["# audiomix benchmarks", ""]
    command = "python benchmarks/bench.py" + (" --quick" if args.quick else "")
    if args.threads != 1:
        command += f" --threads {args.threads}"
    out += [f"Produced by `{command}` (`make bench`) in one process; every figure below is "
            "from that one run.", ""]
    out += ["## Machine", ""] + machine_lines(args.threads, versions, blas)
    out += ["", "## Method", "",
            f"- Cases of a section run round-robin on the same tensors, {reps} repetitions "
            f"after {warmup} warm-up call(s), in a fresh random order each repetition; "
            "medians with [min–max] in ms. Ratios are of medians from the same run.",
            "- Allocation counts: `clone()` and every out-of-place method allocate a fresh "
            "output each call (freed before the next case); `out=` rows reuse a buffer. A "
            "fresh 16 MiB block costs ~4000 page faults, which on this VM can take longer than "
            "the copy itself, so mixing is timed in two heap states, interleaved: **warm** (the "
            "call directly follows an untimed call of the same case, as in a training loop) "
            "and **cold** (`malloc_trim(0)` before the call: every large block is faulted in). "
            f"{HEAP_NOTE}",
            "- One intra-op thread by default: with other processes on both cores, every "
            "parallel region waits at its barrier for a descheduled thread, and 2-thread "
            "medians swing 10-100× above their minima (the table with 2 threads is in "
            "section 1).",
            "- The machine is shared with other developers' test runs: absolute times move "
            "between runs, ratios much less. Load average (1, 5, 15 min) at the start: "
            f"{load_before}.", ""]

    results: list[MixResult] = []
    body: list[str] = ["## 1. Mixing", ""]
    if compile_note:
        body += [f"- `torch.compile` reference: {compile_note}", ""]
    for title, shape, spectrogram in mix_sets:
        print(f"mixing: {title} ...", flush=True)
        res = bench_mixing(title, shape, peers, reps=reps, warmup=warmup, compiled=compiled,
                           spectrogram=spectrogram)
        results.append(res)
        body += mixing_table(res)
        for c in res.checks:
            print("  " + c, flush=True)

    # The first table again with two threads: what changes when intra-op parallelism is on.
    other = 2 if args.threads == 1 else 1
    title, shape, spectrogram = mix_sets[0]
    print(f"mixing with {other} threads: {title} ...", flush=True)
    torch.set_num_threads(other)
    res2 = bench_mixing(f"{title}, torch.set_num_threads({other})", shape, peers, reps=reps,
                        warmup=warmup, compiled=compiled, spectrogram=spectrogram,
                        only={COPY, COPY_OUT, LERP, COMPILED, AM_BATCH, AM_OUT, AM_MODULE, TV,
                              TIMM, TAM})
    torch.set_num_threads(args.threads)
    res2.checks = []
    res2.notes = [n for n in res2.notes if "torch.compile" not in n]
    body += mixing_table(res2)

    print("log-mel ...", flush=True)
    lm_lines, lm = bench_logmel(logmel_batch, max(2, reps // 2) if not args.quick else reps,
                                warmup, peers)
    body += ["## 2. Log-mel front end", ""] + lm_lines
    print("training step ...", flush=True)
    st_lines, step = bench_step(step_batch, max(2, reps // 3) if not args.quick else reps, warmup)
    body += ["## 3. Share of a training step", ""] + st_lines
    print("scaling ...", flush=True)
    sc = bench_scaling(batches, seconds, fixed, max(2, reps // 3) if not args.quick else 1,
                       1, peers)
    body += ["## 4. Scaling", "", "![scaling](scaling.png)", ""] + scaling_lines(sc)
    plot_note = plot_scaling(sc, args.out / "scaling.png")
    print(plot_note, flush=True)

    # --- targets ---------------------------------------------------------------------------
    main_res = results[0]
    targets = ["## Targets", "",
               f"Measured in this run with {args.threads} thread(s), on the first mixing table "
               "unless noted; warm heap (steady state), cold heap in its own rows.", "",
               "| target | wanted | measured | met |", "| --- | --- | ---: | --- |"]

    def mix_rows(res: MixResult, label: str) -> None:
        for heap in res.heaps:
            r = res.ratio(AM_BATCH, COPY, heap)
            targets.append(_target_row(f"audiomix `mix` vs `clone()`, {label}, {heap} heap",
                                       "≤ 1.6×", r, r <= 1.6))
        r = res.ratio(AM_OUT, COPY_OUT)
        targets.append(_target_row(f"audiomix `mix(out=)` vs `buf.copy_(x)`, {label}", "≤ 1.6×",
                                   r, r <= 1.6))

    mix_rows(main_res, "×".join(map(str, main_res.shape)))
    big = next((x for x in results if x.shape == (1024, 16000)), None)
    if big is not None:
        mix_rows(big, "1024×16000 (62.5 MiB)")
    warm = main_res.heaps["warm"]
    for peer, want in ((TV, 4.0), (TIMM, 4.0), (TAM, 10.0)):
        if peer not in warm:
            targets.append(f"| {peer} / audiomix | ≥ {want:g}× | skipped | n/a |")
            continue
        for ours in (AM_MODULE, AM_BATCH):
            r = main_res.ratio(peer, ours)
            short = "module, default checks" if ours == AM_MODULE else "`mix`"
            targets.append(_target_row(f"{peer} / audiomix {short}", f"≥ {want:g}×", r, r >= want))
    lm_ours = lm["audiomix `LogMelSpectrogram` (default checks)"]
    r = lm["torchaudio `MelSpectrogram` + `AmplitudeToDB`"] / lm_ours
    targets.append(_target_row("torchaudio chain / audiomix log-mel", "≥ 1.0×", r, r >= 1.0))
    lib_key = "librosa per clip: `stft` + cached mel basis + `power_to_db`"
    if lib_key in lm:
        r = lm[lib_key] / lm_ours
        targets.append(_target_row("librosa (per clip, fastest form) / audiomix log-mel", "≥ 2×",
                                   r, r >= 2.0))
    targets.append(_target_row(f"mixing + front end / CNN step (batch {step['batch']})", "≤ 5 %",
                               100 * step["share"], step["share"] <= 0.05, "{:.1f} %"))
    targets.append("")

    elapsed = time.perf_counter() - started
    out += targets + analysis_lines(results, lm, step, sc) + body
    out += ["## Run", "", f"- wall time {elapsed:.0f} s; load average at the end: {_loadavg()}",
            f"- {plot_note}", ""]
    text = "\n".join(out)
    (args.out / "results.md").write_text(text)
    print()
    print("\n".join(targets))
    print(f"written {args.out / 'results.md'} in {elapsed:.1f} s", flush=True)
    failed = [line for res in results for line in res.checks if line.startswith("FAIL")]
    return 1 if failed else 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
