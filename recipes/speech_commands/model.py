"""Keyword-spotting CNNs on log-mel input, and the log-mel front end that feeds them.

Two sizes, because size decides whether mixup helps: the mixup paper (Zhang et al., 2018,
table 4) found that mixup *hurt* a small LeNet and *helped* VGG-11 on Google Speech Commands.

``small`` (default, ~62 k parameters at ``width=16``, ~12 M multiply-adds per 1 s clip)
    Four 3×3 conv → BatchNorm → ReLU blocks with 2×2 max pooling after the first three
    (40×101 → 20×50 → 10×25 → 5×12 feature maps), global average pooling, dropout and a linear
    classifier. Small enough that the whole comparison trains on two CPU cores in minutes.

``large`` (VGG-style, ~1.2 M parameters at ``width=32``)
    Four stages of two 3×3 conv blocks each (``width``, 2×, 4×, 8× channels), max pooling
    between stages, global average pooling, dropout, linear. The "larger option" for real
    Speech Commands on a GPU: ~200 M multiply-adds per clip, about 17× ``small`` at width 16.

Both take a log-mel batch ``(batch, n_mels, frames)`` in dB and first standardise each clip
(mean 0, std 1 over its mel bins and frames), which makes the classifier insensitive to the
recording level: a 20 dB gain is a constant shift of a dB spectrogram.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

import audiomix

__all__ = ["FrontEnd", "KWSNet", "build_model", "count_parameters"]


class FrontEnd(nn.Module):
    """Waveform → log-mel dB, with the window and hop given in milliseconds.

    Args:
        sample_rate (int, optional): (Default: ``16000``)
        n_mels (int, optional): (Default: ``40``)
        win_ms (float, optional): analysis window in ms; ``n_fft`` is the window length.
            (Default: ``30``)
        hop_ms (float, optional): hop in ms. (Default: ``10``)
        f_min (float, optional): (Default: ``20``)
        f_max (float or None, optional): (Default: ``sample_rate / 2``)
        top_db (float, optional): per-clip dynamic range. (Default: ``80``)

    Example:
        >>> FrontEnd()(torch.randn(8, 16000)).shape
        torch.Size([8, 40, 101])
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        n_mels: int = 40,
        win_ms: float = 30.0,
        hop_ms: float = 10.0,
        f_min: float = 20.0,
        f_max: float | None = None,
        top_db: float | None = 80.0,
    ) -> None:
        super().__init__()
        win_length = int(round(sample_rate * win_ms / 1000))
        hop_length = int(round(sample_rate * hop_ms / 1000))
        self.logmel = audiomix.LogMelSpectrogram(
            sample_rate=sample_rate,
            n_fft=win_length,
            win_length=win_length,
            hop_length=hop_length,
            f_min=f_min,
            f_max=f_max,
            n_mels=n_mels,
            top_db=top_db,
        )

    def frame_lengths(self, lengths: Tensor) -> Tensor:
        """(batch,) valid lengths in samples → (batch,) valid lengths in frames."""
        return self.logmel.frame_lengths(lengths)

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> FrontEnd:
        """The front end a resolved recipe config describes (``features`` and the rate)."""
        f = cfg["features"]
        return cls(
            sample_rate=cfg["data"]["sample_rate"],
            n_mels=f["n_mels"],
            win_ms=f["win_ms"],
            hop_ms=f["hop_ms"],
            f_min=f["f_min"],
            f_max=f["f_max"],
            top_db=f["top_db"],
        )

    def forward(self, waveform: Tensor) -> Tensor:
        """
        Args:
            waveform (Tensor): (batch, time).

        Returns:
            Tensor: (batch, n_mels, frames) in dB.
        """
        return self.logmel(waveform)


def _block(c_in: int, c_out: int) -> list[nn.Module]:
    return [
        nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    ]


class KWSNet(nn.Module):
    """Log-mel CNN classifier (see the module docstring for the two architectures).

    Args:
        num_classes (int): number of output classes.
        arch (str, optional): ``"small"`` or ``"large"``. (Default: ``"small"``)
        width (int, optional): channels of the first block; later blocks use multiples.
            (Default: ``16``)
        dropout (float, optional): before the classifier. (Default: ``0.1``)

    Example:
        >>> net = KWSNet(num_classes=12)
        >>> net(torch.randn(8, 40, 101)).shape
        torch.Size([8, 12])
    """

    ARCHS = ("small", "large")

    def __init__(
        self, num_classes: int, arch: str = "small", width: int = 16, dropout: float = 0.1
    ) -> None:
        super().__init__()
        if arch not in self.ARCHS:
            raise ValueError(f"`arch` must be one of {self.ARCHS}, but got {arch!r}.")
        if width < 1:
            raise ValueError(f"`width` must be >= 1, but got {width}.")
        if num_classes < 2:
            raise ValueError(f"`num_classes` must be >= 2, but got {num_classes}.")
        w = width
        layers: list[nn.Module] = []
        if arch == "small":
            chans = [1, w, 2 * w, 4 * w, 4 * w]
            for i in range(4):
                layers += _block(chans[i], chans[i + 1])
                if i < 3:
                    layers.append(nn.MaxPool2d(2))
        else:
            chans = [1, w, 2 * w, 4 * w, 8 * w]
            for i in range(4):
                layers += _block(chans[i], chans[i + 1]) + _block(chans[i + 1], chans[i + 1])
                if i < 3:
                    layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(chans[-1], num_classes)

    def forward(self, specgram: Tensor) -> Tensor:
        """
        Args:
            specgram (Tensor): (batch, n_mels, frames) log-mel in dB.

        Returns:
            Tensor: (batch, num_classes) logits.
        """
        x = specgram.unsqueeze(1)
        mean = x.mean(dim=(2, 3), keepdim=True)
        std = x.std(dim=(2, 3), keepdim=True)
        x = (x - mean) / (std + 1e-5)
        x = self.features(x)
        x = x.mean(dim=(2, 3))
        return self.classifier(self.dropout(x))


def build_model(num_classes: int, *, arch: str, width: int, dropout: float) -> KWSNet:
    return KWSNet(num_classes, arch=arch, width=width, dropout=dropout)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


if __name__ == "__main__":  # a quick look at the sizes
    for arch, width in (("small", 16), ("large", 32)):
        net = KWSNet(12, arch=arch, width=width)
        print(arch, width, count_parameters(net))
    with torch.no_grad():
        print(KWSNet(12)(FrontEnd()(torch.randn(2, 16000))).shape)
