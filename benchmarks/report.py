"""The report: targets checked against the measured figures, readings written from them, and
``report_template.md`` filled in.

Every number in the report comes from the run that writes it. A reading states the measured
ratios and whether the target holds; what a method does (which never changes between runs)
lives in the template's prose.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path

from cases import logmel, users
from cases.mixing import (
    AM_BATCH,
    AM_MODULE,
    AM_MODULE_FAST,
    AM_OUT,
    AM_SAMPLE,
    COMPILED,
    COPY,
    COPY_OUT,
    TAM,
    TIMM,
    TV,
    MixResult,
)

TEMPLATE = Path(__file__).resolve().parent / "report_template.md"


@dataclass
class Target:
    """One row of the targets table: what, the bound, the measured value, met or not."""

    what: str
    wanted: str
    value: float
    ok: bool
    unit: str = "×"

    def row(self) -> str:
        shown = f"{self.value:.1f} %" if self.unit == "%" else f"{self.value:.2f}×"
        return f"| {self.what} | {self.wanted} | {shown} | {'yes' if self.ok else '**no**'} |"


def _at_most(what: str, value: float, bound: float) -> Target:
    return Target(what, f"≤ {bound:g}×", value, value <= bound)


def _at_least(what: str, value: float, bound: float) -> Target:
    return Target(what, f"≥ {bound:g}×", value, value >= bound)


def kernel_targets(res: MixResult, label: str) -> list[Target]:
    out = [
        _at_most(f"`mix` / `clone()`, {label}, {h} heap", res.ratio(AM_BATCH, COPY, h), 1.6)
        for h in res.heaps
    ]
    out.append(_at_most(f"`mix(out=)` / `buf.copy_(x)`, {label}", res.ratio(AM_OUT, COPY_OUT), 1.6))
    return out


def module_targets(res: MixResult) -> list[Target]:
    """Issue 14, target 1: the module as users call it, near the bare mix, ahead of the peers."""
    label = "×".join(map(str, res.shape))
    out = [
        _at_most(
            f"module (default checks, labels) / bare `mix`, {label}, {h} heap",
            res.ratio(AM_MODULE, AM_BATCH, h),
            1.25,
        )
        for h in res.heaps
    ]
    for peer in (TIMM, TV):
        if res.has(peer):
            out += [
                _at_most(
                    f"module (default checks, labels) / {peer}, {h} heap",
                    res.ratio(AM_MODULE, peer, h),
                    1.0,
                )
                for h in res.heaps
            ]
    if res.has(TAM):
        out.append(
            _at_least(f"{TAM} / module (default checks, labels)", res.ratio(TAM, AM_MODULE), 10.0)
        )
    return out


def lengths_targets(res: MixResult, label: str) -> list[Target]:
    """Issue 14, target 2: every placement within 3× (warm) and 2× (cold) of the plain mix with
    the same per-sample λ, peak memory within 2× the output; the module against the module."""
    out = []
    for p in users.PLACEMENTS:
        name = users.LENGTHS[p]
        for h, bound in (("warm", 3.0), ("cold", 2.0)):
            out.append(
                _at_most(
                    f"`mix` with lengths, '{p}' / plain `mix`, {label}, {h} heap",
                    res.ratio(name, AM_SAMPLE, h),
                    bound,
                )
            )
        out.append(
            _at_most(
                f"`mix` with lengths, '{p}': peak memory / output, {label}", res.memory[name], 2.0
            )
        )
    for h, bound in (("warm", 3.0), ("cold", 2.0)):
        out.append(
            _at_most(
                f"module with lengths ('random') / module, {label}, {h} heap",
                res.ratio(users.MODULE_LENGTHS, AM_MODULE, h),
                bound,
            )
        )
    return out


def cutmix_targets(res: MixResult, label: str) -> list[Target]:
    """Issue 14, target 3, like for like: the CutMix module against the mixup module (same
    checks, same draws and targets); peak memory against the output."""
    name = users.CUTMIX_SPEC if res.spectrogram else users.CUTMIX_WAVE
    short = "SpectrogramCutMix (box)" if res.spectrogram else f"WaveformCutMix (fade={users.FADE})"
    out = [
        _at_most(f"{short} / mixup module, {label}, {h} heap", res.ratio(name, AM_MODULE, h), 2.0)
        for h in res.heaps
    ]
    out.append(_at_most(f"{short}: peak memory / output, {label}", res.memory[name], 2.0))
    return out


def long_clip_targets(long_mem: dict[str, float], label: str) -> list[Target]:
    return [
        _at_most(f"{name}: peak memory / output, {label}", ratio, 2.0)
        for name, ratio in long_mem.items()
    ]


def spectrogram_targets(res: MixResult, label: str) -> list[Target]:
    """Issue 14, target 4. The dB path costs an exponential and a logarithm per value, so its
    floor is the hand-written chain of the same three operations, measured in the same table;
    the target: the module within 1.25× of that chain (the bare `mix` ratio is reported)."""
    return [
        _at_most(
            f"SpectrogramMixup (dB as power) / hand-written power chain, {label}, {h} heap",
            res.ratio(users.MODULE_DB, users.POWER_CHAIN, h),
            1.25,
        )
        for h in res.heaps
    ]


def logmel_targets(lm: dict[str, float]) -> list[Target]:
    ours = lm[logmel.OURS]
    out = [_at_least("torchaudio chain / audiomix log-mel", lm[logmel.TORCHAUDIO] / ours, 1.0)]
    if logmel.LIBROSA in lm:
        out.append(
            _at_least(
                "librosa (per clip, fastest form) / audiomix log-mel",
                lm[logmel.LIBROSA] / ours,
                2.0,
            )
        )
    return out


def step_target(step: dict) -> Target:
    share = 100 * step["share"]
    return Target(
        f"mixing + front end / CNN step (batch {step['batch']})",
        "≤ 5 %",
        share,
        share <= 5.0,
        unit="%",
    )


def _met(targets: list[Target]) -> str:
    met = sum(t.ok for t in targets)
    return "met" if met == len(targets) else f"{met} of {len(targets)} met"


def readings(
    results: list[MixResult], lm: dict[str, float], step: dict, groups: dict[str, list[Target]]
) -> list[str]:
    """One line per group of targets, written from this run's figures."""
    res, spec = results[0], next((r for r in results if r.spectrogram), None)
    r = res.ratio
    lines = []
    text = (
        f"- **Kernel**: `mix` is {r(AM_BATCH, COPY):.2f}× a `clone()` warm and "
        f"{r(AM_BATCH, COPY, 'cold'):.2f}× cold; the kernel alone (`out=` against "
        f"`copy_`) {r(AM_OUT, COPY_OUT):.2f}× ({_met(groups['kernel'])})."
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
        f"{peers or 'peers not installed'} ({_met(groups['module'])})."
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
        f"({_met(groups['lengths'])})."
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
    lines.append(cut + f" ({_met(groups['cutmix'])}).")
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
            f"({_met(groups['spectrogram'])})."
        )
    ours = lm[logmel.OURS]
    lines.append(
        f"- **Log-mel**: torchaudio's chain takes {lm[logmel.TORCHAUDIO] / ours:.2f}× "
        f"as long"
        + (f", librosa per clip {lm[logmel.LIBROSA] / ours:.2f}×" if logmel.LIBROSA in lm else "")
        + f" ({_met(groups['logmel'])})."
    )
    lines.append(
        f"- **Share of a training step**: {100 * step['share']:.1f} % (mixing alone "
        f"{100 * step['mix'] / step['step']:.2f} %, {step['params'] / 1e3:.0f} k-"
        f"parameter CNN; {_met(groups['step'])})."
    )
    return lines


def fill(values: dict[str, str]) -> str:
    """``report_template.md`` with ``$name`` placeholders replaced; a missing value fails."""
    return string.Template(TEMPLATE.read_text()).substitute(values)
