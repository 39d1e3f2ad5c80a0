"""How fast each candidate keyword-spotting network trains on this machine, side by side.

    python -m recipes.speech_commands.model_speed              # writes results/model_speed.md
    python -m recipes.speech_commands.model_speed --quick      # a few steps each (the tests)

Measures one training step (forward, backward and AdamW update) on a batch of log-mels for:
today's CNN at the widths of the augmented and the memorising configurations, the same CNN with
a strided first convolution (early time/frequency downsampling), DS-CNN (Zhang et al., 2017,
"Hello Edge: Keyword Spotting on Microcontrollers"), TC-ResNet (Choi et al., 2019, "Temporal
Convolution for Real-time Keyword Spotting on Mobile Devices") and BC-ResNet (Kim et al., 2021,
"Broadcasted Residual Learning for Efficient Keyword Spotting"). The candidates take turns,
round after round, so a change of the machine's load hits all of them alike; the table gives
the median step. Then the options PyTorch offers on a CPU, for the CNNs and the chosen network:
channels-last memory format (2-D convolutions only), ``torch.compile`` (steady state, and the
seconds the first steps took), two intra-op threads instead of one, and the layout of a
comparison on this machine: one process with all cores against one single-threaded process per
core (each process training its own model, as ``compare.py``'s jobs do).

DS-CNN and BC-ResNet are defined here only: on a CPU their depthwise convolutions make them the
slowest per multiply-add, so the recipe does not offer them (``model.py`` has ``tcresnet`` and
``small``). The recipe's TC-ResNet runs its 1-D convolutions as ``1 × k`` 2-D ones in
channels-last layout; the paper's ``nn.Conv1d`` layout is timed beside it. BC-ResNet is built
as in the paper (SubSpectral normalisation with 5 sub-bands, broadcasted temporal branch,
dilations 1, 2, 4, 8), DS-CNN as its "S" size (64 channels, four
depthwise-separable layers).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .common import atomic_write_text, log, progress
from .model import KWSNet, _TCResNet, count_parameters, standardise
from .train import cpu_model

__all__ = ["CANDIDATES", "Candidate", "SpeedResult", "main", "measure", "report"]

NUM_CLASSES = 12
N_MELS = 40
FRAMES = 101  # 1 s at a 10 ms hop
DEFAULT_OUT = Path(__file__).with_name("results") / "model_speed.md"


# --------------------------------------------------------------------------------------------
# The candidates this script alone defines
# --------------------------------------------------------------------------------------------


class DSCNN(nn.Module):
    """DS-CNN: a strided 4×10 convolution, then depthwise 3×3 + pointwise 1×1 layers."""

    def __init__(self, width: int = 64, layers: int = 4) -> None:
        super().__init__()
        body: list[nn.Module] = [
            nn.Conv2d(1, width, (4, 10), stride=2, padding=(1, 4), bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
        ]
        for _ in range(layers):
            body += [
                nn.Conv2d(width, width, 3, padding=1, groups=width, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
                nn.Conv2d(width, width, 1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
            ]
        self.body = nn.Sequential(*body)
        self.classifier = nn.Linear(width, NUM_CLASSES)

    def forward(self, specgram: Tensor) -> Tensor:
        x = self.body(standardise(specgram).unsqueeze(1))
        return self.classifier(x.mean(dim=(2, 3)))


class _SubSpectralNorm(nn.Module):
    """BatchNorm with separate statistics for each of ``bands`` frequency sub-bands."""

    def __init__(self, channels: int, bands: int = 5) -> None:
        super().__init__()
        self.bands = bands
        self.norm = nn.BatchNorm2d(channels * bands)

    def forward(self, x: Tensor) -> Tensor:
        b, c, f, t = x.shape
        return self.norm(x.reshape(b, c * self.bands, f // self.bands, t)).reshape(b, c, f, t)


class _BroadcastBlock(nn.Module):
    """A frequency-depthwise 2-D branch plus a temporal 1-D branch on its frequency average,
    broadcast back over frequency; a transition block (new width) has no identity path."""

    def __init__(self, c_in: int, c_out: int, freq_stride: int, dilation: int) -> None:
        super().__init__()
        self.transition: nn.Module | None = None
        if c_in != c_out:
            self.transition = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)
            )
        self.freq = nn.Sequential(
            nn.Conv2d(c_out, c_out, (3, 1), (freq_stride, 1), (1, 0), groups=c_out, bias=False),
            _SubSpectralNorm(c_out),
        )
        self.temporal = nn.Sequential(
            nn.Conv2d(
                c_out,
                c_out,
                (1, 3),
                padding=(0, dilation),
                dilation=(1, dilation),
                groups=c_out,
                bias=False,
            ),
            nn.BatchNorm2d(c_out),
            nn.SiLU(),
            nn.Conv2d(c_out, c_out, 1, bias=False),
            nn.Dropout(0.1),
        )

    def forward(self, x: Tensor) -> Tensor:
        if self.transition is not None:
            x = self.transition(x)
        y = self.freq(x)
        out = y + self.temporal(y.mean(dim=2, keepdim=True))
        if self.transition is None and out.shape == x.shape:  # no identity across a stride
            out = out + x
        return F.relu(out)


class BCResNet(nn.Module):
    """BC-ResNet-k: stages of 2, 2, 4, 4 broadcast blocks (8k, 12k, 16k, 20k channels)."""

    def __init__(self, k: float = 1.0) -> None:
        super().__init__()
        c = [int(round(8 * k * m)) for m in (2.0, 1.0, 1.5, 2.0, 2.5)]
        self.stem = nn.Conv2d(1, c[0], 5, stride=(2, 1), padding=2, bias=False)
        blocks: list[nn.Module] = []
        c_in = c[0]
        stages = ((c[1], 2, 1, 1), (c[2], 2, 2, 2), (c[3], 4, 2, 4), (c[4], 4, 1, 8))
        for c_out, n, stride, dilation in stages:
            for i in range(n):
                blocks.append(_BroadcastBlock(c_in, c_out, stride if i == 0 else 1, dilation))
                c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        head = int(round(32 * k))
        self.head = nn.Sequential(
            nn.Conv2d(c_in, c_in, 5, groups=c_in, bias=False),
            nn.Conv2d(c_in, head, 1, bias=False),
            nn.BatchNorm2d(head),
            nn.ReLU(inplace=True),
        )
        self.classifier = nn.Linear(head, NUM_CLASSES)

    def forward(self, specgram: Tensor) -> Tensor:
        x = self.blocks(self.stem(standardise(specgram).unsqueeze(1)))
        return self.classifier(self.head(x).mean(dim=(2, 3)))


def _conv1d_tcresnet() -> nn.Module:
    """The recipe's TC-ResNet8 with ``nn.Conv1d`` layers (the recipe runs them as ``1 × k``
    2-D convolutions in channels-last layout: the same function)."""
    net = KWSNet(NUM_CLASSES, arch="tcresnet", width=16, dropout=0.0)
    net.body = _TCResNet(N_MELS, 16, 1, planar=False)
    return net


def _strided_cnn(width: int) -> nn.Module:
    """The recipe's CNN with a stride of 2 in its first convolution: every later layer works on
    a quarter of the time-frequency positions."""
    net = KWSNet(NUM_CLASSES, arch="small", width=width, dropout=0.0)
    net.body.features[0].stride = (2, 2)
    return net


# --------------------------------------------------------------------------------------------
# Candidates and measurements
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A network to time: its name, its source and how to build it."""

    name: str
    source: str
    build: Callable[[], nn.Module]
    is_2d: bool = True  # channels-last applies to 2-D convolutions only


def _kws(arch: str, width: int, blocks: int = 1) -> Callable[[], nn.Module]:
    return lambda: KWSNet(NUM_CLASSES, arch=arch, width=width, dropout=0.0, blocks=blocks)


CANDIDATES: tuple[Candidate, ...] = (
    Candidate("CNN, width 12", "recipe `small` (augmented variant)", _kws("small", 12)),
    Candidate("CNN, width 24", "recipe `small` (memorising study)", _kws("small", 24)),
    Candidate("CNN, width 24, stride-2 first conv", "early downsampling", lambda: _strided_cnn(24)),
    Candidate("DS-CNN-S (64 channels)", "Zhang et al. 2017", DSCNN),
    Candidate("BC-ResNet-1", "Kim et al. 2021", lambda: BCResNet(1.0)),
    Candidate("BC-ResNet-3", "Kim et al. 2021", lambda: BCResNet(3.0)),
    Candidate(
        "TC-ResNet8, width 16", "Choi et al. 2019; recipe `tcresnet`", _kws("tcresnet", 16), False
    ),
    Candidate(
        "TC-ResNet8, width 16, as Conv1d",
        "Choi et al. 2019 (the paper's layout)",
        _conv1d_tcresnet,
        False,
    ),
    Candidate("TC-ResNet8-1.5, width 24", "Choi et al. 2019", _kws("tcresnet", 24), False),
    Candidate("TC-ResNet14, width 16", "Choi et al. 2019", _kws("tcresnet", 16, 2), False),
)
CHOSEN = "TC-ResNet8, width 16"
REFERENCE = "CNN, width 24"  # the memorising study's network: the step times' unit
# Where the PyTorch options are tried (compiling every candidate would take many minutes).
OPTION_CANDIDATES = (REFERENCE, "CNN, width 24, stride-2 first conv", CHOSEN)


def multiply_adds(net: nn.Module) -> float:
    """Multiply-adds of one forward pass of one 1 s clip (convolutions and linear layers)."""
    from torch.utils.flop_counter import FlopCounterMode

    net.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        net(torch.randn(1, N_MELS, FRAMES))
    net.train()
    return counter.get_total_flops() / 2


class _Step:
    """One training step of a network on a fixed random batch, timed."""

    def __init__(
        self, net: nn.Module, batch: int, *, channels_last: bool = False, compile: bool = False
    ) -> None:
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(batch, N_MELS, FRAMES, generator=g) * 10 - 40
        self.y = torch.randint(NUM_CLASSES, (batch,), generator=g)
        net.train()
        if channels_last:
            net = net.to(memory_format=torch.channels_last)
        self.opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
        self.net: Callable[[Tensor], Tensor] = torch.compile(net) if compile else net

    def __call__(self) -> float:
        started = time.perf_counter()
        loss = F.cross_entropy(self.net(self.x), self.y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return time.perf_counter() - started


def _interleaved(
    steps: dict[str, tuple[_Step, int]], rounds: int, per_round: int, desc: str
) -> dict[str, float]:
    """Median seconds per step of each entry, the entries taking turns; ``(step, threads)``."""
    times: dict[str, list[float]] = {name: [] for name in steps}
    bar = progress(rounds * len(steps), desc)
    for _ in range(rounds):
        for name, (step, threads) in steps.items():
            torch.set_num_threads(threads)
            times[name] += [step() for _ in range(per_round)]
            bar.update(1)
    bar.close()
    torch.set_num_threads(1)
    return {name: statistics.median(t) for name, t in times.items()}


def _layout_worker(threads: int, batch: int, steps: int, barrier, results) -> None:
    """In a fresh process: ``threads`` threads, the chosen network, warm-up, then ``steps``
    timed steps started together with the other workers; puts the seconds they took."""
    torch.set_num_threads(threads)
    step = _Step(next(c for c in CANDIDATES if c.name == CHOSEN).build(), batch)
    for _ in range(3):
        step()
    barrier.wait()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    results.put(time.perf_counter() - started)


def _layouts(batch: int, steps: int) -> dict[str, float]:
    """Machine-wide seconds per training step under each jobs × threads layout."""
    cores = os.cpu_count() or 1
    ctx = multiprocessing.get_context("spawn")
    out: dict[str, float] = {}
    for jobs, threads in dict.fromkeys(((1, 1), (1, cores), (cores, 1))):
        barrier, results = ctx.Barrier(jobs), ctx.Queue()
        workers = [
            ctx.Process(target=_layout_worker, args=(threads, batch, steps, barrier, results))
            for _ in range(jobs)
        ]
        for w in workers:
            w.start()
        took = [results.get() for _ in workers]
        for w in workers:
            w.join()
        out[f"{jobs} × {threads}"] = max(took) / (jobs * steps)
    return out


@dataclass
class SpeedResult:
    """What :func:`measure` found: per candidate its size and step time; per option
    (``eager``, ``channels_last``, ``compile``, ``threads``) the step time of the candidates in
    :data:`OPTION_CANDIDATES`, and the seconds ``torch.compile``'s first steps took (or why it
    failed); machine-wide step time per ``"jobs × threads"`` layout."""

    batch: int
    rounds: int
    per_round: int
    rows: list[dict[str, Any]] = field(default_factory=list)
    options: dict[str, dict[str, float]] = field(default_factory=dict)
    compile_seconds: dict[str, float | str] = field(default_factory=dict)
    layouts: dict[str, float] = field(default_factory=dict)


def measure(
    *,
    batch: int = 64,
    rounds: int = 10,
    per_round: int = 3,
    quick: bool = False,
    names: Sequence[str] | None = None,
    layouts: bool = True,
) -> SpeedResult:
    """Every measurement of the report (see the module docstring).

    Args:
        batch (int): clips per training step. (Default: ``64``)
        rounds (int): rounds of turns. (Default: ``10``)
        per_round (int): steps of each candidate per turn. (Default: ``3``)
        quick (bool): no ``torch.compile``, short layout runs. (Default: ``False``)
        names (sequence of str or None): the candidates to time (default: all of
            :data:`CANDIDATES`); the CNN at width 24, the reference, is always timed.
        layouts (bool): time the jobs × threads layouts. (Default: ``True``)
    """
    known = [c.name for c in CANDIDATES]
    unknown = [n for n in names or () if n not in known]
    if unknown:
        raise ValueError(f"`names` must be among {known}, but got {unknown}.")
    chosen = [c for c in CANDIDATES if names is None or c.name in names or c.name == REFERENCE]
    torch.manual_seed(0)
    torch.set_num_threads(1)
    result = SpeedResult(batch=batch, rounds=rounds, per_round=per_round)
    steps: dict[str, tuple[_Step, int]] = {}
    for cand in chosen:
        net = cand.build()
        result.rows.append(
            {
                "name": cand.name,
                "source": cand.source,
                "parameters": count_parameters(net),
                "madds": multiply_adds(net),
            }
        )
        steps[cand.name] = (_Step(net, batch), 1)
    for step, _ in steps.values():  # warm-up: allocator, oneDNN primitives
        step()
    base = _interleaved(steps, rounds, per_round, "candidates")
    for row in result.rows:
        row["seconds"] = base[row["name"]]

    cores = os.cpu_count() or 1
    variants: dict[str, tuple[_Step, int]] = {}
    for cand in chosen:
        if cand.name not in OPTION_CANDIDATES:
            continue
        variants[f"{cand.name}|eager"] = (_Step(cand.build(), batch), 1)
        variants[f"{cand.name}|threads"] = (_Step(cand.build(), batch), cores)
        if cand.is_2d:
            step = _Step(cand.build(), batch, channels_last=True)
            variants[f"{cand.name}|channels_last"] = (step, 1)
        if quick:
            continue
        step = _Step(cand.build(), batch, compile=True)
        started = time.perf_counter()
        try:
            for _ in range(3):
                step()
        except Exception as err:  # a compiler setup torch cannot use: the table says so
            result.compile_seconds[cand.name] = f"failed: {type(err).__name__}"
        else:
            result.compile_seconds[cand.name] = time.perf_counter() - started
            variants[f"{cand.name}|compile"] = (step, 1)
    for step, threads in variants.values():
        torch.set_num_threads(threads)
        step()
    for key, seconds in _interleaved(variants, rounds, per_round, "options").items():
        name, option = key.split("|")
        result.options.setdefault(name, {})[option] = seconds
    if layouts:
        result.layouts = _layouts(batch, 10 if quick else 60)
    return result


# --------------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------------


def _ms(seconds: float | None) -> str:
    return "—" if seconds is None else f"{1000 * seconds:.1f}"


def report(result: SpeedResult, command: str) -> str:
    """The Markdown report of ``result``, with the machine and the load it ran under."""
    ref = next(r["seconds"] for r in result.rows if r["name"] == REFERENCE)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    cores = os.cpu_count() or 1
    lines = [
        "# Keyword-spotting networks: training speed on this machine",
        "",
        f"Command: `{command}`",
        "",
        f"- machine: {cpu_model()}, {cores} CPU cores, {platform.system()}, torch "
        f"{torch.__version__}; 1-minute load average at the end {load:.1f}",
        f"- one training step (forward, backward, AdamW update) on a batch of {result.batch} "
        f"log-mels ({N_MELS} mels × {FRAMES} frames, {NUM_CLASSES} classes), one intra-op "
        f"thread unless said otherwise; median over {result.rounds} rounds of "
        f"{result.per_round} steps, the candidates taking turns",
        "- multiply-adds: one forward pass of one clip (convolutions and linear layers)",
        "",
        "## Candidates",
        "",
        "| network | source | parameters | multiply-adds per clip (M) | ms per step | "
        "step time vs CNN width 24 |",
        "|---|---|---|---|---|---|",
    ]
    for r in result.rows:
        lines.append(
            f"| {r['name']} | {r['source']} | {r['parameters']:,} | {r['madds'] / 1e6:.1f} | "
            f"{_ms(r['seconds'])} | {r['seconds'] / ref:.2f} |"
        )
    lines += [
        "",
        "## PyTorch options on the CPU",
        "",
        "ms per step; *torch.compile*: default mode, in steady state, and the seconds its "
        f"first three steps took (compilation); *{cores} threads*: one process with {cores} "
        "intra-op threads; channels-last applies to 2-D convolutions only.",
        "",
        "| network | eager, 1 thread | channels-last | torch.compile | compilation (s) | "
        f"eager, {cores} threads |",
        "|---|---|---|---|---|---|",
    ]
    for name, opt in result.options.items():
        compiled = result.compile_seconds.get(name)
        compile_s = compiled if isinstance(compiled, str) else _seconds(compiled)
        lines.append(
            f"| {name} | {_ms(opt.get('eager'))} | {_ms(opt.get('channels_last'))} | "
            f"{_ms(opt.get('compile'))} | {compile_s} | {_ms(opt.get('threads'))} |"
        )
    if not result.layouts:
        return "\n".join(lines) + "\n"
    lines += [
        "",
        f"## Layout: jobs × threads ({CHOSEN})",
        "",
        "Machine-wide ms per training step when every process trains its own model, as the "
        "comparison's jobs do: the wall time of all processes' steps over their number.",
        "",
        "| jobs × threads | ms per step, machine-wide |",
        "|---|---|",
    ]
    for layout, seconds in result.layouts.items():
        lines.append(f"| {layout} | {_ms(seconds)} |")
    return "\n".join(lines) + "\n"


def _seconds(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds:.0f}"


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m recipes.speech_commands.model_speed",
        description="Time a training step of candidate keyword-spotting networks side by side.",
    )
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="Markdown report")
    p.add_argument("--batch", type=int, default=64, help="batch size (the recipe's)")
    p.add_argument("--rounds", type=int, default=10, help="rounds of turns")
    p.add_argument("--quick", action="store_true", help="2 rounds of 1 step, no torch.compile")
    args = p.parse_args(argv)
    rounds, per_round = (2, 1) if args.quick else (args.rounds, 3)
    result = measure(batch=args.batch, rounds=rounds, per_round=per_round, quick=args.quick)
    command = "python -m recipes.speech_commands.model_speed " + " ".join(
        sys.argv[1:] if argv is None else list(argv)
    )
    text = report(result, command.strip())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, text)
    log(f"wrote {args.out}")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
