"""One table of section 1: audiomix against a copy, hand-written PyTorch and the peers.

One call of :func:`measure_table` times every case of a table on the same tensors, interleaved,
in both heap states, then checks the outputs against each other in the same run.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

import audiomix
from audiomix import functional as AF

from ..harness import Case, Stat, check, measure_heaps
from ..plan import ALPHA, NUM_CLASSES, SAMPLE_RATE, MixTable, Plan
from . import _users as users

COPY = "copy: `x.clone()` (floor)"
COPY_OUT = "copy into a buffer: `buf.copy_(x)`"
NAIVE = "hand-written: `lam*x + (1-lam)*x[perm]`"
LERP = "hand-written fused: `torch.lerp(x[perm], x, lam)`"
COMPILED = "hand-written, `torch.compile`d (one fused kernel)"
AM_BATCH = "audiomix `mix`, per-batch λ, validate=False"
AM_SAMPLE = "audiomix `mix`, per-sample λ, validate=False"
AM_OUT = "audiomix `mix(..., out=buf)`, per-batch λ"
AM_VALID = "audiomix `mix`, per-batch λ, validate=True"
AM_MODULE = "audiomix module, default checks, with labels"
AM_MODULE_FAST = "audiomix module, check_finite=False, with labels"
TV = "torchvision `v2.MixUp`"
TIMM = "timm `Mixup` (mode='batch')"
TIMM_ELEM = "timm `Mixup` (mode='elem', per-sample λ)"
TAM = "torch-audiomentations `Mix` (p=1)"


@dataclass
class MixResult:
    """The medians of one table by heap state and case, its notes, correctness lines and peak
    memory (multiples of the output) by case."""

    table: MixTable
    heaps: dict[str, dict[str, Stat]]
    notes: list[str]
    checks: list[str]
    memory: dict[str, float]

    def ratio(self, a: str, b: str, heap: str = "warm") -> float:
        return self.heaps[heap][a].median / self.heaps[heap][b].median

    def has(self, name: str) -> bool:
        return name in self.heaps["warm"]


@dataclass
class Inputs:
    """The tensors and drawn parameters every case of a table shares."""

    x: torch.Tensor
    labels: torch.Tensor
    lengths: torch.Tensor
    batch: AF.MixParams  # one λ per batch
    sample: AF.MixParams  # one λ per sample
    spectrogram: bool

    @property
    def w(self) -> torch.Tensor:
        return self.batch.lam.view(-1, *[1] * (self.x.ndim - 1))


def make_inputs(shape: tuple[int, ...], spectrogram: bool) -> Inputs:
    g = torch.Generator().manual_seed(0)
    b, t = shape[0], shape[-1]
    x = torch.randn(shape, generator=g)
    if spectrogram:  # a log-mel batch in dB: values around -40 with a 80 dB range
        x = x.mul_(12.0).sub_(40.0)
    labels = torch.randint(NUM_CLASSES, (b,), generator=g)
    lengths = torch.randint(t // 2, t + 1, (b,), generator=g)
    pb = AF.sample_mix_params(b, alpha=ALPHA, generator=g)
    ps = AF.sample_mix_params(b, alpha=ALPHA, per_sample=True, generator=g)
    return Inputs(x, labels, lengths, pb, ps, spectrogram)


def compile_mix() -> tuple[Callable | None, str]:
    try:

        def fused(x2: torch.Tensor, w: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
            return torch.lerp(x2[perm], x2, w)

        return torch.compile(fused, dynamic=True), ""
    except Exception as exc:  # no compiler, unsupported platform
        return None, f"torch.compile unavailable: {exc}"


def _reference_cases(inp: Inputs, compiled: Callable | None, notes: list[str]) -> list[Case]:
    x, pb, w = inp.x, inp.batch, inp.w
    buf = torch.empty_like(x)
    cases = [
        Case(COPY, lambda: x.clone()),
        Case(COPY_OUT, lambda: buf.copy_(x)),
        Case(NAIVE, lambda: w * x + (1 - w) * x[pb.perm]),
        Case(LERP, lambda: torch.lerp(x[pb.perm], x, w)),
    ]
    if compiled is not None:
        x2, w2 = x.view(x.shape[0], -1), pb.lam.view(-1, 1)
        t0 = time.perf_counter()
        compiled(x2, w2, pb.perm)
        notes.append(
            f"`torch.compile` of the fused kernel took {time.perf_counter() - t0:.1f} s "
            "for this shape (first call; dynamic shapes)."
        )
        cases.append(Case(COMPILED, lambda: compiled(x2, w2, pb.perm)))
    return cases


def _audiomix_cases(inp: Inputs) -> list[Case]:
    x, pb, ps = inp.x, inp.batch, inp.sample
    buf = torch.empty_like(x)
    cls = audiomix.SpectrogramMixup if inp.spectrogram else audiomix.WaveformMixup
    kw = dict(domain="input") if inp.spectrogram else {}  # dB mixed linearly, like the peers
    module = cls(alpha=ALPHA, num_classes=NUM_CLASSES, generator=1, **kw)
    module_fast = cls(alpha=ALPHA, num_classes=NUM_CLASSES, check_finite=False, generator=1, **kw)
    return [
        Case(AM_BATCH, lambda: AF.mix(x, pb.lam, pb.perm, validate=False)),
        Case(AM_SAMPLE, lambda: AF.mix(x, ps.lam, ps.perm, validate=False)),
        Case(AM_OUT, lambda: AF.mix(x, pb.lam, pb.perm, out=buf, validate=False)),
        Case(AM_VALID, lambda: AF.mix(x, pb.lam, pb.perm)),
        Case(AM_MODULE, lambda: module(x, inp.labels)),
        Case(AM_MODULE_FAST, lambda: module_fast(x, inp.labels)),
    ]


def _peer_cases(inp: Inputs, plan: Plan, notes: list[str]) -> tuple[list[Case], dict]:
    """torchvision, timm (on an image-shaped view) and torch-audiomentations; the peers'
    modules are returned too, for the correctness checks."""
    x, labels, b = inp.x, inp.labels, inp.x.shape[0]
    x4 = x.view(b, 1, *x.shape[1:]) if x.ndim == 3 else x.view(b, 1, 1, -1)
    shape4 = "×".join(map(str, x4.shape))
    cases: list[Case] = []
    made: dict[str, Any] = {"x4": x4}
    if plan.peer("torchvision") is not None:
        from torchvision.transforms import v2

        made["tv"] = tv = v2.MixUp(alpha=ALPHA, num_classes=NUM_CLASSES)
        cases.append(Case(TV, lambda: tv(x4, labels), note=f"input viewed as {shape4}"))
    else:
        notes.append("torchvision: skipped, not installed (`make bench` installs it).")
    if plan.peer("timm") is not None:
        from timm.data import Mixup

        def timm_mixup(mode: str) -> Any:
            return Mixup(
                mixup_alpha=ALPHA,
                cutmix_alpha=0.0,
                prob=1.0,
                mode=mode,
                label_smoothing=0.0,
                num_classes=NUM_CLASSES,
            )

        made["timm"] = tm_batch = timm_mixup("batch")
        tm_elem = timm_mixup("elem")
        scratch = torch.empty_like(x4)
        refill = lambda: scratch.copy_(x4)  # noqa: E731  timm mixes in place: fresh input, untimed
        cases.append(
            Case(
                TIMM,
                lambda: tm_batch(scratch, labels),
                setup=refill,
                note=f"input viewed as {shape4}; mixes in place, so each call gets a "
                "fresh copy of x (untimed)",
            )
        )
        cases.append(
            Case(
                TIMM_ELEM,
                lambda: tm_elem(scratch, labels),
                setup=refill,
                note="Python loop over the batch",
            )
        )
    else:
        notes.append("timm: skipped, not installed (`make bench` installs it).")
    if plan.peer("torch_audiomentations") is not None and not inp.spectrogram:
        cases.append(_tam_case(x, labels))
    elif plan.peer("torch_audiomentations") is None:
        notes.append("torch-audiomentations: skipped, not installed (`make bench` installs it).")
    return cases, made


def _tam_case(x: torch.Tensor, labels: torch.Tensor) -> Case:
    from torch_audiomentations.augmentations.mix import Mix

    b = x.shape[0]
    tam = Mix(p=1.0, output_type="dict", mix_target="union")
    x3 = x.view(b, 1, -1)
    targets4 = torch.nn.functional.one_hot(labels, NUM_CLASSES).float().view(b, 1, 1, -1)

    def call() -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return tam(x3, sample_rate=SAMPLE_RATE, targets=targets4, target_rate=1)

    return Case(
        TAM,
        call,
        note="input (B, 1, T); random SNR 0-5 dB and random partners (with "
        "replacement): a different mix",
    )


def measure_table(
    table: MixTable,
    plan: Plan,
    *,
    compiled: Callable | None,
    only: set[str] | None = None,
    users_too: bool = True,
) -> MixResult:
    """Times one table: the floor, hand-written PyTorch, audiomix, the peers and (with
    ``users_too``) the calls users make (lengths, CutMix, the dB spectrogram path); ``only``
    keeps the cases of these names and skips the correctness checks."""
    inp = make_inputs(table.shape, table.spectrogram)
    notes: list[str] = []
    cases = _reference_cases(inp, compiled, notes) + _audiomix_cases(inp)
    memory_fns: dict[str, Callable[[], Any]] = {}
    if users_too:
        user_cases, memory_fns = users.cases(inp, notes)
        cases += user_cases
    peer_cases, made = _peer_cases(inp, plan, notes)
    cases += peer_cases
    if only is not None:
        cases = [c for c in cases if c.name in only]
    heaps = measure_heaps(cases, plan.reps, plan.warmup, ("warm", "cold"))
    notes += [f"{case.name}: {case.note}." for case in cases if case.note]
    memory = users.memory(inp, memory_fns) if memory_fns else {}
    checks = correctness(inp, compiled, made) if only is None else []
    return MixResult(table, heaps, notes, checks, memory)


def correctness(inp: Inputs, compiled: Callable | None, made: dict[str, Any]) -> list[str]:
    """audiomix against the fused reference and the peers with their own λ and pairing."""
    x, pb, ps, labels, b = inp.x, inp.batch, inp.sample, inp.labels, inp.x.shape[0]
    ref = torch.lerp(x[pb.perm], x, inp.w)
    mine = AF.mix(x, pb.lam, pb.perm, validate=False)
    ws = ps.lam.view(b, *[1] * (x.ndim - 1))
    checks = [
        check("audiomix per-batch λ == fused `torch.lerp` reference", mine, ref, exact=True),
        check(
            "audiomix per-sample λ == fused reference",
            AF.mix(x, ps.lam, ps.perm, validate=False),
            torch.lerp(x[ps.perm], x, ws),
            exact=True,
        ),
        check(
            "audiomix `out=` == audiomix",
            AF.mix(x, pb.lam, pb.perm, out=torch.empty_like(x)),
            mine,
            exact=True,
        ),
        check(
            "audiomix `check_finite=True` == audiomix",
            AF.mix(x, pb.lam, pb.perm, check_finite=True),
            mine,
            exact=True,
        ),
        check(
            "audiomix vs float64 `lam*x + (1-lam)*x[perm]`",
            mine.double(),
            inp.w.double() * x.double() + (1 - inp.w.double()) * x.double()[pb.perm],
        ),
    ]
    if compiled is not None:
        x2 = x.view(b, -1)
        checks.append(
            check(
                "torch.compile kernel vs audiomix",
                compiled(x2, pb.lam.view(-1, 1), pb.perm).view_as(x),
                mine,
            )
        )
    checks += users.correctness(inp)
    if "tv" in made:
        checks += _check_torchvision(inp, made["tv"], made["x4"])
    if "timm" in made:
        checks += _check_timm(inp, made["timm"], made["x4"], labels)
    return checks


def _check_torchvision(inp: Inputs, tv: Any, x4: torch.Tensor) -> list[str]:
    x, labels, b = inp.x, inp.labels, inp.x.shape[0]
    for seed in range(1234, 1334):  # a λ away from 0 and 1, so that the check means something
        torch.manual_seed(seed)
        lam_tv = float(tv._dist.sample(()))  # the λ torchvision draws after the same seed
        if 0.1 < lam_tv < 0.9:
            break
    torch.manual_seed(seed)
    y_tv, t_tv = tv(x4, labels)
    roll = (torch.arange(b) - 1) % b  # x.roll(1, 0)[i] == x[i - 1]
    return [
        check(
            f"torchvision MixUp == audiomix with its λ={lam_tv:.4f} and roll pairing",
            y_tv.reshape(x.shape),
            AF.mix(x, lam_tv, roll),
        ),
        check(
            "  … and its targets",
            t_tv,
            AF.mix_targets(labels, lam_tv, roll, num_classes=NUM_CLASSES),
        ),
    ]


def _check_timm(inp: Inputs, tm: Any, x4: torch.Tensor, labels: torch.Tensor) -> list[str]:
    x, b = inp.x, inp.x.shape[0]
    flip = torch.arange(b - 1, -1, -1)
    differ = (labels != labels[flip]).nonzero().flatten()
    if not len(differ):
        return []
    i = int(differ[0])
    for _ in range(100):  # timm draws from numpy's global RNG: call until λ is informative
        y_tm, t_tm = tm(x4.clone(), labels)
        lam_tm = float(t_tm[i, labels[i]])  # λ read back from its own targets
        if 0.1 < lam_tm < 0.9:
            break
    return [
        check(
            f"timm Mixup == audiomix with its λ={lam_tm:.4f} and flip pairing",
            y_tm.reshape(x.shape),
            AF.mix(x, lam_tm, flip),
        ),
        check(
            "  … and its targets",
            t_tm,
            AF.mix_targets(labels, lam_tm, flip, num_classes=NUM_CLASSES),
        ),
    ]


def markdown(res: MixResult) -> list[str]:
    """The table as Markdown: times by heap state, peak memory, notes, correctness lines."""
    heaps = list(res.heaps)
    first = res.heaps[heaps[0]]
    n = len(first[COPY].times)
    head, rule = "| method |", "| --- |"
    for h in heaps:
        head += f" {h} heap: ms | × copy | × audiomix |"
        rule += " ---: | ---: | ---: |"
    mib = math.prod(res.table.shape) * 4 / 2**20
    lines = [
        f"### {res.table.title}",
        "",
        f"Input {res.table.shape} float32, {mib:.1f} MiB; median [min–max] of {n} interleaved "
        f"repetitions per heap state; × audiomix is against {AM_BATCH}.",
        "",
        head,
        rule,
    ]
    for name in first:
        row = f"| {name} |"
        for h in heaps:
            st = res.heaps[h][name]
            base = res.heaps[h][COPY].median
            ours = res.heaps[h][AM_BATCH].median
            row += f" {st.fmt()} | {st.median / base:.2f} | {st.median / ours:.2f} |"
        lines.append(row)
    lines.append("")
    if res.memory:
        lines += [
            "Peak memory allocated by torch during one call (profiler allocation events), "
            "as a multiple of the output:",
            "",
            "| method | peak / output |",
            "| --- | ---: |",
        ]
        lines += [f"| {name} | {ratio:.2f}× |" for name, ratio in res.memory.items()] + [""]
    lines += [f"- {n}" for n in res.notes]
    lines.append("")
    if res.checks:
        lines += ["Correctness in the same run:", ""] + [f"- {c}" for c in res.checks] + [""]
    return lines
