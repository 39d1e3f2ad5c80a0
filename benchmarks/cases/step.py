"""Section 3: the share of a training step taken by mixing and the front end."""

from __future__ import annotations

from typing import Any

import torch
from harness import Case, measure

import audiomix

from . import ALPHA, LOGMEL, NUM_CLASSES, SAMPLE_RATE


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
    return lines, dict(
        share=share, mix=t_mix, front=t_front, step=t_step, batch=batch, params=params
    )
