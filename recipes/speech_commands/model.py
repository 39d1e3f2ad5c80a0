"""Keyword-spotting networks on log-mel input, and the log-mel front end that feeds them.

``tcresnet`` (default; ~65 k parameters at ``width=16``, ~1.3 M multiply-adds per 1 s clip)
    TC-ResNet8 (Choi et al., 2019, "Temporal Convolution for Real-time Keyword Spotting on
    Mobile Devices"): the mel bins are the channels of 1-D convolutions over time, so every
    layer sees the whole spectrum and the feature maps are short sequences. Each bin's mean
    over time is removed first (cepstral mean normalisation). A 3-tap stem
    convolution to ``width`` channels, three residual blocks of two 9-tap convolutions
    (1.5×, 2×, 3× ``width`` channels, each block halving the time axis), average pooling over
    time, dropout, linear. ``blocks=2`` gives TC-ResNet14 (a second, unstrided block per stage).

``small`` (~35 k parameters at ``width=12``, ~137 k at 24)
    A plain VGG-style CNN: four 3×3 conv → BatchNorm → ReLU blocks (``width``, 2×, 4×, 4×
    channels) with 2×2 max pooling after the first three, global average pooling, dropout,
    linear. About 20 times the multiply-adds of ``tcresnet`` at a similar size; the recipe's
    augmented variant (``make kws-augmented``) uses it.

``model_speed.py`` measures both against DS-CNN and BC-ResNet on the machine at hand.

Both standardise each clip's log-mel first (mean 0, std 1 over its mel bins and frames), which
makes the classifier insensitive to the recording level: a gain is a constant shift of a dB
spectrogram.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

import audiomix

__all__ = ["FrontEnd", "KWSNet", "count_parameters", "standardise"]


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
        >>> import torch
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


def standardise(specgram: Tensor) -> Tensor:
    """Each clip to mean 0 and std 1 over its mel bins and frames.

    Args:
        specgram (Tensor): (batch, n_mels, frames) log-mel in dB.

    Returns:
        Tensor: (batch, n_mels, frames).
    """
    mean = specgram.mean(dim=(1, 2), keepdim=True)
    std = specgram.std(dim=(1, 2), keepdim=True)
    return (specgram - mean) / (std + 1e-5)


def _conv_block(c_in: int, c_out: int) -> list[nn.Module]:
    return [
        nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    ]


class _SmallCNN(nn.Module):
    """(batch, n_mels, frames) → (batch, 4 * width) pooled features."""

    def __init__(self, width: int) -> None:
        super().__init__()
        chans = [1, width, 2 * width, 4 * width, 4 * width]
        layers: list[nn.Module] = []
        for i in range(4):
            layers += _conv_block(chans[i], chans[i + 1])
            if i < 3:
                layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.out_channels = chans[-1]

    def forward(self, x: Tensor) -> Tensor:
        return self.features(x.unsqueeze(1)).mean(dim=(2, 3))


def _temporal_conv(c_in: int, c_out: int, size: int, stride: int, planar: bool) -> nn.Module:
    """A convolution over time: 1-D, or 2-D with a ``1 × size`` kernel on ``(batch, channels,
    1, frames)`` (the same function, faster on a CPU in channels-last layout)."""
    if planar:
        return nn.Conv2d(c_in, c_out, (1, size), (1, stride), (0, size // 2), bias=False)
    return nn.Conv1d(c_in, c_out, size, stride, size // 2, bias=False)


def _norm(channels: int, planar: bool) -> nn.Module:
    return nn.BatchNorm2d(channels) if planar else nn.BatchNorm1d(channels)


class _TemporalBlock(nn.Module):
    """Two 9-tap convolutions over time with a residual path (a 1×1 convolution when the
    stride or the width changes)."""

    def __init__(self, c_in: int, c_out: int, stride: int, planar: bool) -> None:
        super().__init__()
        self.conv1 = _temporal_conv(c_in, c_out, 9, stride, planar)
        self.bn1 = _norm(c_out, planar)
        self.conv2 = _temporal_conv(c_out, c_out, 9, 1, planar)
        self.bn2 = _norm(c_out, planar)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                _temporal_conv(c_in, c_out, 1, stride, planar),
                _norm(c_out, planar),
                nn.ReLU(inplace=True),
            )

    def forward(self, x: Tensor) -> Tensor:
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)), inplace=True)))
        return F.relu(y + self.shortcut(x), inplace=True)


class _TCResNet(nn.Module):
    """(batch, n_mels, frames) → (batch, 3 * width) pooled features.

    ``planar`` (default) runs the 1-D convolutions as 2-D ones with ``1 × k`` kernels in
    channels-last layout: the same parameters and function, a training step about a quarter
    faster on a CPU (``model_speed.py``).
    """

    def __init__(self, n_mels: int, width: int, blocks: int, *, planar: bool = True) -> None:
        super().__init__()
        chans = [width, (3 * width) // 2, 2 * width, 3 * width]
        self.planar = planar
        self.stem = _temporal_conv(n_mels, width, 3, 1, planar)
        layers: list[nn.Module] = []
        for i in range(3):
            layers.append(_TemporalBlock(chans[i], chans[i + 1], 2, planar))
            layers += [
                _TemporalBlock(chans[i + 1], chans[i + 1], 1, planar) for _ in range(blocks - 1)
            ]
        self.blocks = nn.Sequential(*layers)
        self.out_channels = chans[-1]
        if planar:
            self.to(memory_format=torch.channels_last)

    def forward(self, x: Tensor) -> Tensor:
        # Each mel bin's mean over time removed (cepstral mean normalisation, in log-mels): a
        # speaker's or a channel's fixed spectral tilt goes before the first convolution mixes
        # the bins, which this network, unlike a 2-D CNN, cannot undo by shifting in frequency.
        x = x - x.mean(dim=2, keepdim=True)
        if not self.planar:
            return self.blocks(self.stem(x)).mean(dim=2)
        x = x.unsqueeze(2).contiguous(memory_format=torch.channels_last)
        return self.blocks(self.stem(x)).mean(dim=(2, 3))


class KWSNet(nn.Module):
    """Log-mel keyword classifier (see the module docstring for the architectures).

    Args:
        num_classes (int): number of output classes.
        arch (str, optional): ``"tcresnet"`` or ``"small"``. (Default: ``"small"``)
        width (int, optional): channels of the first layer; later layers use multiples.
            (Default: ``16``)
        dropout (float, optional): before the classifier. (Default: ``0.1``)
        n_mels (int, optional): mel bins of the input (the channels of ``tcresnet``).
            (Default: ``40``)
        blocks (int, optional): residual blocks per stage of ``tcresnet`` (1: TC-ResNet8,
            2: TC-ResNet14). (Default: ``1``)

    Example:
        >>> import torch
        >>> net = KWSNet(num_classes=12, arch="tcresnet")
        >>> net(torch.randn(8, 40, 101)).shape
        torch.Size([8, 12])
    """

    ARCHS = ("small", "tcresnet")

    def __init__(
        self,
        num_classes: int,
        arch: str = "small",
        width: int = 16,
        dropout: float = 0.1,
        *,
        n_mels: int = 40,
        blocks: int = 1,
    ) -> None:
        super().__init__()
        if arch not in self.ARCHS:
            raise ValueError(f"`arch` must be one of {self.ARCHS}, but got {arch!r}.")
        if width < 1:
            raise ValueError(f"`width` must be >= 1, but got {width}.")
        if blocks < 1:
            raise ValueError(f"`blocks` must be >= 1, but got {blocks}.")
        if num_classes < 2:
            raise ValueError(f"`num_classes` must be >= 2, but got {num_classes}.")
        self.body: _SmallCNN | _TCResNet = (
            _SmallCNN(width) if arch == "small" else _TCResNet(n_mels, width, blocks)
        )
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(self.body.out_channels, num_classes)

    def forward(self, specgram: Tensor) -> Tensor:
        """
        Args:
            specgram (Tensor): (batch, n_mels, frames) log-mel in dB.

        Returns:
            Tensor: (batch, num_classes) logits.
        """
        return self.classifier(self.dropout(self.body(standardise(specgram))))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
