"""Section 3: the share of a training step taken by mixing and the front end."""

from __future__ import annotations

from typing import Any

import torch

import audiomix
from recipes.speech_commands.model import KWSNet, count_parameters

from ..harness import Case, measure
from ..plan import ALPHA, LOGMEL, NUM_CLASSES, SAMPLE_RATE, Plan
from ..section import Section, Target, met


def run(plan: Plan) -> Section:
    print("training step ...", flush=True)
    batch = plan.step_batch
    g = torch.Generator().manual_seed(2)
    x = torch.randn(batch, SAMPLE_RATE, generator=g) * 0.1
    labels = torch.randint(NUM_CLASSES, (batch,), generator=g)
    mixup = audiomix.WaveformMixup(alpha=ALPHA, num_classes=NUM_CLASSES, generator=3)
    front = audiomix.LogMelSpectrogram(sample_rate=SAMPLE_RATE, **LOGMEL)
    net = KWSNet(NUM_CLASSES)
    params = count_parameters(net)
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
    stats = measure(cases, plan.step_reps, plan.warmup)
    t_mix, t_front, t_step = (stats[c.name].median for c in cases)
    share = (t_mix + t_front) / t_step
    share_total = (t_mix + t_front) / (t_mix + t_front + t_step)
    lines = [
        f"Batch {batch} × 1 s; model: the recipe's `KWSNet` (`recipes/speech_commands/model.py`, "
        f"arch='small'), {params / 1e3:.0f} k parameters, input {tuple(spec.shape)}.",
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
    ]
    target = Target(
        f"mixing + front end / CNN step (batch {batch})",
        "≤ 5 %",
        100 * share,
        100 * share <= 5.0,
        unit="%",
    )
    reading = (
        f"- **Share of a training step**: {100 * share:.1f} % (mixing alone "
        f"{100 * t_mix / t_step:.2f} %, {params / 1e3:.0f} k-parameter CNN; {met([target])})."
    )
    return Section(
        title="Share of a training step", body=lines, targets=[target], readings=[reading]
    )
