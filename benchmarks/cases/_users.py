"""The calls users make beyond the bare mix, timed in the same table as the plain mix.

Clips of different lengths (``lengths`` with each placement, functional and module), CutMix
(a waveform time cut with a cross-fade, a spectrogram box) and the default spectrogram path
(dB mixed in the power domain) against the hand-written chain of the same three operations.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch

import audiomix
from audiomix import functional as AF

from ..harness import Case, check, peak_bytes
from ..plan import ALPHA, NUM_CLASSES, SAMPLE_RATE

if TYPE_CHECKING:
    from ._mix_table import Inputs

PLACEMENTS = ("start", "center", "random")
#: One row per placement: ``mix`` with ``lengths`` (the lengths are uniform in [t/2, t]).
LENGTHS = {p: f"audiomix `mix` with `lengths`, placement='{p}'" for p in PLACEMENTS}
MODULE_LENGTHS = "audiomix module with `lengths`, placement='random', default checks"
CUTMIX_WAVE = "audiomix `WaveformCutMix(fade=80)`, default checks, with labels"
CUTMIX_SPEC = "audiomix `SpectrogramCutMix(mode='box')`, default checks, with labels"
MODULE_DB = "audiomix `SpectrogramMixup` (dB mixed as power), default checks"
POWER_CHAIN = "hand-written power-domain mix: `10·log10(mix(10^(x/10)))`"
#: CutMix's fade, in samples (5 ms at 16 kHz).
FADE = 80


def _params(inp: Inputs, placement: str) -> AF.MixParams:
    g = torch.Generator().manual_seed(5)
    return AF.sample_mix_params(
        inp.x.shape[0],
        alpha=ALPHA,
        per_sample=True,
        lengths=inp.lengths,
        placement=placement,
        generator=g,
    )


def _lengths_fn(inp: Inputs, placement: str) -> Callable[[], Any]:
    p = _params(inp, placement)
    return lambda: AF.mix(
        inp.x, p.lam, p.perm, lengths=inp.lengths, offsets=p.offsets, validate=False
    )


def cases(inp: Inputs, notes: list[str]) -> tuple[list[Case], dict[str, Callable[[], Any]]]:
    """The timed cases, and the callables whose peak memory the table reports."""
    x, labels, lengths = inp.x, inp.labels, inp.lengths
    fns: dict[str, Callable[[], Any]] = {LENGTHS[p]: _lengths_fn(inp, p) for p in PLACEMENTS}
    if inp.spectrogram:
        module_len = audiomix.SpectrogramMixup(
            alpha=ALPHA, num_classes=NUM_CLASSES, domain="input", placement="random", generator=1
        )
        cut = audiomix.SpectrogramCutMix(num_classes=NUM_CLASSES, mode="box", generator=1)
        module_db = audiomix.SpectrogramMixup(alpha=ALPHA, num_classes=NUM_CLASSES, generator=1)
        pb = inp.batch
        fns[MODULE_LENGTHS] = lambda: module_len(x, labels, lengths)
        fns[CUTMIX_SPEC] = lambda: cut(x, labels)
        fns[MODULE_DB] = lambda: module_db(x, labels)
        fns[POWER_CHAIN] = lambda: (
            AF.mix(AF.db_to_power(x), pb.lam, pb.perm, validate=False)
            .clamp_min_(1e-10)
            .log10_()
            .mul_(10.0)
        )
        notes.append(
            "Spectrogram modules: `SpectrogramMixup(domain='input')` mixes the dB "
            "values linearly, like the peers; the default (`scale='db'`, "
            "`domain='power'`) mixes powers, `10·log10(λ·10^(a/10) + "
            "(1−λ)·10^(b/10))`."
        )
    else:
        module_len = audiomix.WaveformMixup(
            alpha=ALPHA, num_classes=NUM_CLASSES, placement="random", generator=1
        )
        cut = audiomix.WaveformCutMix(num_classes=NUM_CLASSES, fade=FADE, generator=1)
        fns[MODULE_LENGTHS] = lambda: module_len(x, labels, lengths)
        fns[CUTMIX_WAVE] = lambda: cut(x, labels)
    notes.append(
        "Rows with `lengths`: valid lengths uniform in [t/2, t] (the rest is padding); "
        "per-sample λ, partners and offsets drawn once, outside the timing."
    )
    return [Case(name, fn) for name, fn in fns.items()], fns


def memory(inp: Inputs, fns: dict[str, Callable[[], Any]]) -> dict[str, float]:
    """Peak bytes allocated during one call, as a multiple of the output (= the input)."""
    size = inp.x.numel() * inp.x.element_size()
    plain = {
        "audiomix `mix` (plain)": lambda: AF.mix(
            inp.x, inp.batch.lam, inp.batch.perm, validate=False
        )
    }
    return {name: peak_bytes(fn) / size for name, fn in {**plain, **fns}.items()}


def long_clip_memory(minutes: float = 10.0, batch: int = 2) -> dict[str, float]:
    """Peak memory of CutMix with a fade and of ``mix`` with lengths on minutes-long clips,
    where temporaries cost the most."""
    g = torch.Generator().manual_seed(6)
    t = int(minutes * 60 * SAMPLE_RATE)
    x = torch.randn(batch, t, generator=g)
    labels = torch.arange(batch) % NUM_CLASSES
    lengths = torch.randint(t // 2, t + 1, (batch,), generator=g)
    p = AF.sample_mix_params(
        batch, alpha=ALPHA, per_sample=True, lengths=lengths, placement="random", generator=g
    )
    cut = audiomix.WaveformCutMix(num_classes=NUM_CLASSES, fade=FADE, generator=1)
    cut0 = audiomix.WaveformCutMix(num_classes=NUM_CLASSES, generator=1)
    size = x.numel() * x.element_size()
    fns = {
        f"`WaveformCutMix(fade={FADE})`": lambda: cut(x, labels),
        "`WaveformCutMix(fade=0)`": lambda: cut0(x, labels),
        "`mix` with `lengths`, placement='random'": lambda: AF.mix(
            x, p.lam, p.perm, lengths=lengths, offsets=p.offsets, validate=False
        ),
    }
    return {name: peak_bytes(fn) / size for name, fn in fns.items()}


def correctness(inp: Inputs) -> list[str]:
    """The length-aware mix against clips placed by hand (same arithmetic: bit for bit), and
    the fused finiteness check against no check."""
    x, lengths = inp.x, inp.lengths
    checks = []
    for placement in ("start", "random"):
        p = _params(inp, placement)
        got = AF.mix(x, p.lam, p.perm, lengths=lengths, offsets=p.offsets)
        want = _placed(x, p.lam, p.perm, lengths, p.offsets)
        checks.append(
            check(
                f"audiomix `mix` with `lengths` ({placement}) == clips placed by "
                "hand, one `torch.lerp`",
                got,
                want,
                exact=True,
            )
        )
    p = _params(inp, "random")
    kw = dict(lengths=lengths, offsets=p.offsets)
    checks.append(
        check(
            "audiomix `mix` with `lengths`, `check_finite=True` == without",
            AF.mix(x, p.lam, p.perm, check_finite=True, **kw),
            AF.mix(x, p.lam, p.perm, **kw),
            exact=True,
        )
    )
    return checks


def _placed(
    x: torch.Tensor,
    lam: torch.Tensor,
    perm: torch.Tensor,
    lengths: torch.Tensor,
    offsets: torch.Tensor,
) -> torch.Tensor:
    b, t = x.shape[0], x.shape[-1]
    x3 = x.reshape(b, -1, t)
    own, par = torch.zeros_like(x3), torch.zeros_like(x3)
    for i in range(b):
        j = int(perm[i])
        a, c, off = int(lengths[i]), int(lengths[j]), int(offsets[i])
        s_own, s_par = (off, 0) if a < c else (0, off)
        own[i, :, s_own : s_own + a] = x3[i, :, :a]
        par[i, :, s_par : s_par + c] = x3[j, :, :c]
    return torch.lerp(par, own, lam.view(b, 1, 1)).view_as(x)
