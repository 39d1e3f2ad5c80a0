"""Section 1: mixing a batch, against a copy, hand-written PyTorch and the peers.

The plan's tables (waveforms 256 × 1 s and 64 × 10 s, log-mel 256 × 40 × 101, 1024 × 1 s in the
full run) with the calls users make (``lengths`` with each placement, CutMix, the dB spectrogram
path) and their peak memory; the reference table again with the other thread count; peak memory
on minutes-long clips. Targets: the kernel against a copy, the module against the bare mix and
the peers, each user call against the plain mix, each with its reading.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch

from ..plan import SAMPLE_RATE, Plan
from ..section import Section, Target, at_least, at_most, met
from . import _users as users
from ._mix_table import (
    AM_BATCH,
    AM_MODULE,
    AM_MODULE_FAST,
    AM_OUT,
    AM_SAMPLE,
    COMPILED,
    COPY,
    COPY_OUT,
    LERP,
    TAM,
    TIMM,
    TV,
    MixResult,
    compile_mix,
    markdown,
    measure_table,
)

#: The cases timed again with the other thread count.
THREAD_CASES = {COPY, COPY_OUT, LERP, COMPILED, AM_BATCH, AM_OUT, AM_MODULE, TV, TIMM, TAM}


def run(plan: Plan) -> Section:
    compiled, compile_note = compile_mix() if plan.compile else (None, "skipped")
    body = [f"- `torch.compile` reference: {compile_note}", ""] if compile_note else []
    results = []
    for table in plan.tables:
        print(f"mixing: {table.title} ...", flush=True)
        res = measure_table(table, plan, compiled=compiled)
        results.append(res)
        body += markdown(res)
        for c in res.checks:
            print("  " + c, flush=True)
    body += _other_threads(plan, compiled)
    print("long clips (peak memory) ...", flush=True)
    long_mem = users.long_clip_memory(plan.long_minutes)
    body += ["### Peak memory on long clips", "", *_long_memory_lines(long_mem, plan)]
    groups = _targets(results, long_mem, f"2 × {plan.long_minutes:g} min")
    return Section(
        title="Mixing",
        body=body,
        targets=[t for group in groups.values() for t in group],
        readings=_readings(results, groups),
        checks=[c for res in results for c in res.checks],
    )


def _other_threads(plan: Plan, compiled: Callable | None) -> list[str]:
    """The reference table again with the other thread count: what intra-op parallelism
    changes on a shared machine (every parallel region waits for a descheduled thread)."""
    threads = torch.get_num_threads()
    other = 2 if threads == 1 else 1
    table = plan.reference
    print(f"mixing with {other} threads: {table.title} ...", flush=True)
    torch.set_num_threads(other)
    try:
        res = measure_table(
            dataclasses.replace(table, title=f"{table.title}, torch.set_num_threads({other})"),
            plan,
            compiled=compiled,
            users_too=False,
            only=THREAD_CASES,
        )
    finally:
        torch.set_num_threads(threads)
    res.notes = [n for n in res.notes if "torch.compile" not in n]
    return markdown(res)


def _long_memory_lines(long_mem: dict[str, float], plan: Plan) -> list[str]:
    samples = int(plan.long_minutes * 60 * SAMPLE_RATE)
    return [
        f"Batch of 2 clips × {samples} samples ({plan.long_minutes:g} min at 16 kHz), "
        "lengths uniform in [t/2, t]; peak bytes allocated during one call / output.",
        "",
        "| method | peak / output |",
        "| --- | ---: |",
        *(f"| {name} | {ratio:.2f}× |" for name, ratio in long_mem.items()),
    ]


# --- targets -----------------------------------------------------------------------------------


def _targets(
    results: list[MixResult], long_mem: dict[str, float], long_label: str
) -> dict[str, list[Target]]:
    """The targets by group, in the order of the report; the reference table carries
    the module, lengths and CutMix targets, the first spectrogram table its own."""
    ref = results[0]
    spec = next((r for r in results if r.table.spectrogram), None)
    groups = {
        "kernel": [t for r in results if r.table.kernel_target for t in _kernel(r)],
        "module": _module(ref),
        "lengths": _lengths(ref),
        "cutmix": _cutmix(ref) + _long_clips(long_mem, long_label),
        "spectrogram": [],
    }
    if spec is not None:
        groups["lengths"] += _lengths(spec)
        groups["cutmix"] += _cutmix(spec)
        groups["spectrogram"] = _spectrogram(spec)
    return groups


def _kernel(res: MixResult) -> list[Target]:
    label = res.table.label
    out = [
        at_most(f"`mix` / `clone()`, {label}, {h} heap", res.ratio(AM_BATCH, COPY, h), 1.6)
        for h in res.heaps
    ]
    out.append(at_most(f"`mix(out=)` / `buf.copy_(x)`, {label}", res.ratio(AM_OUT, COPY_OUT), 1.6))
    return out


def _module(res: MixResult) -> list[Target]:
    """The module as users call it, near the bare mix, ahead of the peers."""
    out = [
        at_most(
            f"module (default checks, labels) / bare `mix`, {res.table.label}, {h} heap",
            res.ratio(AM_MODULE, AM_BATCH, h),
            1.25,
        )
        for h in res.heaps
    ]
    for peer in (TIMM, TV):
        if res.has(peer):
            out += [
                at_most(
                    f"module (default checks, labels) / {peer}, {h} heap",
                    res.ratio(AM_MODULE, peer, h),
                    1.0,
                )
                for h in res.heaps
            ]
    if res.has(TAM):
        out.append(
            at_least(f"{TAM} / module (default checks, labels)", res.ratio(TAM, AM_MODULE), 10.0)
        )
    return out


def _lengths(res: MixResult) -> list[Target]:
    """Every placement within 3× (warm) and 2× (cold) of the plain mix with the same
    per-sample λ, peak memory within 2× the output; the module against the module."""
    label = res.table.label
    out = []
    for p in users.PLACEMENTS:
        name = users.LENGTHS[p]
        for h, bound in (("warm", 3.0), ("cold", 2.0)):
            out.append(
                at_most(
                    f"`mix` with lengths, '{p}' / plain `mix`, {label}, {h} heap",
                    res.ratio(name, AM_SAMPLE, h),
                    bound,
                )
            )
        out.append(
            at_most(
                f"`mix` with lengths, '{p}': peak memory / output, {label}", res.memory[name], 2.0
            )
        )
    for h, bound in (("warm", 3.0), ("cold", 2.0)):
        out.append(
            at_most(
                f"module with lengths ('random') / module, {label}, {h} heap",
                res.ratio(users.MODULE_LENGTHS, AM_MODULE, h),
                bound,
            )
        )
    return out


def _cutmix(res: MixResult) -> list[Target]:
    """Like for like: the CutMix module against the mixup module (same checks, same draws and
    targets); peak memory against the output."""
    label = res.table.label
    if res.table.spectrogram:
        name, short = users.CUTMIX_SPEC, "SpectrogramCutMix (box)"
    else:
        name, short = users.CUTMIX_WAVE, f"WaveformCutMix (fade={users.FADE})"
    out = [
        at_most(f"{short} / mixup module, {label}, {h} heap", res.ratio(name, AM_MODULE, h), 2.0)
        for h in res.heaps
    ]
    out.append(at_most(f"{short}: peak memory / output, {label}", res.memory[name], 2.0))
    return out


def _long_clips(long_mem: dict[str, float], label: str) -> list[Target]:
    return [
        at_most(f"{name}: peak memory / output, {label}", ratio, 2.0)
        for name, ratio in long_mem.items()
    ]


def _spectrogram(res: MixResult) -> list[Target]:
    """The dB path costs an exponential and a logarithm per value, so its floor is the
    hand-written chain of the same three operations, measured in the same table: the module
    within 1.25× of that chain (the bare `mix` ratio is reported)."""
    return [
        at_most(
            f"SpectrogramMixup (dB as power) / hand-written power chain, {res.table.label}, "
            f"{h} heap",
            res.ratio(users.MODULE_DB, users.POWER_CHAIN, h),
            1.25,
        )
        for h in res.heaps
    ]


# --- readings ----------------------------------------------------------------------------------


def _readings(results: list[MixResult], groups: dict[str, list[Target]]) -> list[str]:
    """One line per group of targets, written from this run's figures."""
    res, spec = results[0], next((r for r in results if r.table.spectrogram), None)
    r = res.ratio
    lines = []
    text = (
        f"- **Kernel**: `mix` is {r(AM_BATCH, COPY):.2f}× a `clone()` warm and "
        f"{r(AM_BATCH, COPY, 'cold'):.2f}× cold; the kernel alone (`out=` against "
        f"`copy_`) {r(AM_OUT, COPY_OUT):.2f}× ({met(groups['kernel'])})."
    )
    if res.has(COMPILED):
        text += (
            f" `torch.compile`'s fused kernel: {r(COMPILED, COPY):.2f}× warm, "
            f"{r(COMPILED, COPY, 'cold'):.2f}× cold."
        )
    lines.append(text)
    peers = ", ".join(
        f"{p.split()[0]} {r(p, AM_MODULE):.2f}× / {r(p, AM_MODULE, 'cold'):.2f}×"
        for p in (TIMM, TV)
        if res.has(p)
    )
    lines.append(
        f"- **The module with default checks and labels** is {r(AM_MODULE, AM_BATCH):.2f}× the "
        f"bare `mix` warm and {r(AM_MODULE, AM_BATCH, 'cold'):.2f}× cold (with "
        f"`check_finite=False`: {r(AM_MODULE_FAST, AM_BATCH):.2f}× warm). Peers' time over the "
        f"module's (warm / cold): "
        f"{peers or 'peers not installed'} ({met(groups['module'])})."
    )
    lengths = ", ".join(
        f"'{p}' {r(users.LENGTHS[p], AM_SAMPLE):.2f}× / "
        f"{r(users.LENGTHS[p], AM_SAMPLE, 'cold'):.2f}× "
        f"(peak {res.memory[users.LENGTHS[p]]:.2f}×)"
        for p in users.PLACEMENTS
    )
    lines.append(
        f"- **`mix` with lengths** against the plain mix (warm / cold, peak memory / "
        f"output): {lengths}; the module with lengths "
        f"{r(users.MODULE_LENGTHS, AM_MODULE):.2f}× the module "
        f"({met(groups['lengths'])})."
    )
    cut = (
        f"- **CutMix**: `WaveformCutMix(fade={users.FADE})` "
        f"{r(users.CUTMIX_WAVE, AM_MODULE):.2f}× the mixup module warm "
        f"({r(users.CUTMIX_WAVE, AM_BATCH):.2f}× the bare `mix`), peak "
        f"{res.memory[users.CUTMIX_WAVE]:.2f}× its output"
    )
    if spec is not None:
        cut += (
            f"; `SpectrogramCutMix(mode='box')` {spec.ratio(users.CUTMIX_SPEC, AM_MODULE):.2f}×"
            f" the module, peak {spec.memory[users.CUTMIX_SPEC]:.2f}×"
        )
    lines.append(cut + f" ({met(groups['cutmix'])}).")
    if spec is not None:
        s = spec.ratio
        lines.append(
            f"- **The dB spectrogram path** (`SpectrogramMixup`, dB mixed as power) is "
            f"{s(users.MODULE_DB, AM_BATCH):.1f}× the bare `mix` warm and "
            f"{s(users.MODULE_DB, AM_BATCH, 'cold'):.1f}× cold; the hand-written chain of its "
            f"three operations is {s(users.POWER_CHAIN, AM_BATCH):.1f}× / "
            f"{s(users.POWER_CHAIN, AM_BATCH, 'cold'):.1f}×, so the module is "
            f"{s(users.MODULE_DB, users.POWER_CHAIN):.2f}× / "
            f"{s(users.MODULE_DB, users.POWER_CHAIN, 'cold'):.2f}× its floor "
            f"({met(groups['spectrogram'])})."
        )
    return lines
