"""Synthetic keyword-spotting clips and a tiny CNN, shared by the framework examples.

Four classes of short sounds at 8 kHz, each clip with its own pitch, level, length and
background noise: a steady tone, a rising chirp, a falling chirp and a noise burst. Clips are
generated in memory (no download, no files) as NumPy float32 arrays, the form Hugging Face
``datasets`` yields; the model is a log-mel front end (:class:`audiomix.LogMelSpectrogram`)
and two convolutions pooled over the valid frames, so training takes seconds on a CPU.
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import torch
from torch import Tensor, nn

import audiomix

SAMPLE_RATE = 8000
CLASSES = ("tone", "rise", "fall", "burst")


def make_clips(
    n: int, *, seed: int = 0, min_seconds: float = 0.25, max_seconds: float = 0.6
) -> tuple[list[np.ndarray], list[int]]:
    """Generates ``n`` labelled clips, the classes in turn (balanced).

    Args:
        n (int): number of clips.
        seed (int, optional): seed of the local generator (the global RNGs are not touched).
            (Default: ``0``)
        min_seconds (float, optional): shortest clip. (Default: ``0.25``)
        max_seconds (float, optional): longest clip. (Default: ``0.6``)

    Returns:
        tuple: ``(clips, labels)``: ``n`` float32 arrays (time,) of different lengths and ``n``
        class indices into :data:`CLASSES`.
    """
    if n <= 0:
        raise ValueError(f"`n` must be > 0, but got {n}.")
    if not 0 < min_seconds <= max_seconds:
        raise ValueError(
            f"`min_seconds` and `max_seconds` must satisfy 0 < min <= max, but got "
            f"{min_seconds} and {max_seconds}."
        )
    g = torch.Generator().manual_seed(seed)

    def uniform(low: float, high: float) -> float:
        return low + (high - low) * float(torch.rand((), generator=g, dtype=torch.float64))

    clips, labels = [], []
    for i in range(n):
        label = i % len(CLASSES)
        length = round(SAMPLE_RATE * uniform(min_seconds, max_seconds))
        t = torch.arange(length, dtype=torch.float64) / SAMPLE_RATE
        duration = length / SAMPLE_RATE
        if label == len(CLASSES) - 1:
            x = torch.randn(length, generator=g, dtype=torch.float64)
        else:
            # A linear sweep from f0 to f1 (f1 = f0 for the tone), with a second harmonic.
            f0 = 300.0 * 2 ** uniform(0.0, 2.0)
            f1 = f0 * (1.0, uniform(1.5, 2.5), 1 / uniform(1.5, 2.5))[label]
            phase = 2 * math.pi * (f0 * t + (f1 - f0) * t**2 / (2 * duration))
            x = torch.sin(phase) + uniform(0.0, 0.5) * torch.sin(2 * phase)
        # 20 ms fades, a level between -30 and 0 dBFS, background noise 10-30 dB below it.
        fade = torch.clamp(torch.minimum(t, duration - t) / 0.02, max=1.0)
        x = x * fade / x.abs().max() * 10 ** (-uniform(0.0, 30.0) / 20)
        noise = torch.randn(length, generator=g, dtype=torch.float64)
        x = x + noise * x.std() / 10 ** (uniform(10.0, 30.0) / 20)
        clips.append(x.float().numpy())
        labels.append(label)
    return clips, labels


class TinyKWS(nn.Module):
    """Log-mel features, two convolutions and a linear layer over the mean of the valid frames.

    Args:
        num_classes (int): number of classes.
        n_mels (int, optional): mel bands. (Default: ``32``)
        width (int, optional): channels of the first convolution. (Default: ``16``)
    """

    def __init__(self, num_classes: int, *, n_mels: int = 32, width: int = 16) -> None:
        super().__init__()
        self.logmel = audiomix.LogMelSpectrogram(
            sample_rate=SAMPLE_RATE, n_fft=256, hop_length=80, n_mels=n_mels
        )
        self.conv = nn.Sequential(
            nn.BatchNorm2d(1),  # dB values are large and offset
            nn.Conv2d(1, width, 3, padding=1),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.BatchNorm2d(2 * width),
            nn.ReLU(),
        )
        self.head = nn.Linear(2 * width, num_classes)

    def forward(self, waveform: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Class logits.

        Args:
            waveform (Tensor): (batch, time), right-padded.
            lengths (Tensor or None, optional): (batch,) valid samples; ``None``: all valid.

        Returns:
            Tensor: (batch, num_classes) logits.
        """
        hidden = self.conv(self.logmel(waveform).unsqueeze(1))  # (batch, C, n_mels/2, frames/2)
        hidden = hidden.mean(dim=2)  # (batch, C, frames/2)
        if lengths is None:
            return self.head(hidden.mean(dim=-1))
        frames = (self.logmel.frame_lengths(lengths) // 2).clamp(1, hidden.shape[-1])
        valid = torch.arange(hidden.shape[-1], device=hidden.device) < frames[:, None]
        pooled = (hidden * valid[:, None]).sum(dim=-1) / frames[:, None]
        return self.head(pooled)


def parse_arguments(doc: str) -> argparse.Namespace:
    """The command line both framework examples share (their docstring's first paragraph as
    the description)."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--train", type=int, default=480, help="training clips")
    parser.add_argument("--val", type=int, default=240, help="evaluation clips")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument(
        "--mixup-off-epochs", type=int, default=1, help="final epochs without mixing"
    )
    parser.add_argument("--alpha", type=float, default=0.4, help="mixup Beta(alpha, alpha)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--workers", type=int, default=2, help="DataLoader worker processes")
    parser.add_argument(
        "--context",
        choices=["fork", "spawn", "forkserver"],
        default=None,
        help="how workers start (default: the platform's)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="a short run, for tests")
    args = parser.parse_args()
    if args.quick:
        args.train, args.val, args.epochs = 320, 160, 6
    return args
