"""Frame targets next to clip targets: what moving (batch, frames, classes) targets with the
audio adds to a mix of the reference batch (256 × 1 s with 100 target frames in the full run).
Target: at most 10 % more than the same mix with clip targets, for mixup with and without a
placement and for CutMix.
"""

from __future__ import annotations

from typing import Any

import torch

import audiomix
from audiomix.functional import mix_targets

from ..harness import Case, check, measure
from ..plan import ALPHA, NUM_CLASSES, Plan
from ..section import Section, at_most, met

FRAMES = 100
BOUND = 1.10


def run(plan: Plan) -> Section:
    b, t = plan.reference.shape
    hop = t // FRAMES
    print(f"frame targets: {b} × {t} with {FRAMES} frames ...", flush=True)
    g = torch.Generator().manual_seed(5)
    x = torch.randn(b, t, generator=g) * 0.1
    labels = torch.randint(NUM_CLASSES, (b,), generator=g)
    clip = torch.nn.functional.one_hot(labels, NUM_CLASSES).float()
    frames = (torch.rand(b, FRAMES, NUM_CLASSES, generator=g) > 0.9).float()
    lengths = torch.randint(t // 2, t + 1, (b,), generator=g)
    lengths[0] = t

    def mixers(cls: type, **kw: Any) -> tuple[Any, Any]:
        kw = dict(alpha=ALPHA, multilabel=True, generator=3, **kw)
        return cls(**kw), cls(target_hop=hop, **kw)

    pairs = {
        "`WaveformMixup`": (*mixers(audiomix.WaveformMixup), None),
        "`WaveformMixup`, lengths, random placement": (
            *mixers(audiomix.WaveformMixup, placement="random"),
            lengths,
        ),
        "`WaveformCutMix`, lengths": (*mixers(audiomix.WaveformCutMix), lengths),
    }
    cases = []
    for name, (clip_mixer, frame_mixer, n) in pairs.items():
        args = () if n is None else (n,)

        def run_clip(m: Any = clip_mixer, a: tuple = args) -> Any:
            with torch.no_grad():
                return m(x, clip, *a)

        def run_frames(m: Any = frame_mixer, a: tuple = args) -> Any:
            with torch.no_grad():
                return m(x, frames, *a)

        cases += [
            Case(f"{name}: clip targets", run_clip),
            Case(f"{name}: frame targets", run_frames),
        ]
    stats = measure(cases, plan.reps, plan.warmup)
    lines = [
        f"Batch {b} × {t} samples, {NUM_CLASSES} classes; frame targets ({b}, {FRAMES}, "
        f"{NUM_CLASSES}) at `target_hop={hop}`; clip targets ({b}, {NUM_CLASSES}); the same "
        "draws (one generator seed) for both.",
        "",
        "| mix | clip targets (ms) | frame targets (ms) | frame / clip |",
        "| --- | ---: | ---: | ---: |",
    ]
    targets = []
    for name in pairs:
        c, f = stats[f"{name}: clip targets"], stats[f"{name}: frame targets"]
        ratio = f.median / c.median
        lines.append(f"| {name} | {c.fmt()} | {f.fmt()} | {ratio:.3f}× |")
        targets.append(at_most(f"frame targets / clip targets: {name}", ratio, BOUND))
    # Correctness: without a placement, frame targets mix as clip targets do, frame by frame.
    mixer = pairs["`WaveformMixup`"][1]
    _, got = mixer(x, frames)
    p = mixer.last_params
    want = mix_targets(frames, p.lam, p.perm, multilabel=True)
    checks = [check("frame targets of a mixup = λ·y + (1 − λ)·y[perm] per frame", got, want)]
    reading = (
        f"- **Frame targets**: moving ({b}, {FRAMES}, {NUM_CLASSES}) targets with the audio "
        f"costs {', '.join(f'{t.value:.2f}×' for t in targets)} of the same mix with clip "
        f"targets ({met(targets)}, bound ≤ {BOUND:g}×)."
    )
    return Section(
        title="Frame targets", body=lines, targets=targets, readings=[reading], checks=checks
    )
