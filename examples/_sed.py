"""Built-in sound event detection data, a small CRNN and its scoring, for ``sed_frames.py``.

Clips of 4 s at 8 kHz hold one to three events of five classes (a steady tone, a rising and a
falling chirp, a band of noise, a train of beeps) at random times, levels and lengths, over
coloured background noise; events may overlap. Each clip comes with its frame labels at a hop
of 256 samples (32 ms): frame ``f`` is active for an event that covers at least half of its
samples. Everything is generated in memory from a seed (no download, no files).

Scoring uses ``sed_eval`` (Mesaros, Heittola and Virtanen, 2016), the DCASE reference
implementation: event-based F1 (onset collar 200 ms, offset collar max(200 ms, 20 % of the
event)) and segment-based F1 at the frame hop (frame F1), both macro-averaged over classes.
The frame probabilities themselves, before any threshold, are scored with ``sed_scores_eval``
(Ebbers, Serizel and Haeb-Umbach, 2022): the polyphonic sound detection score (PSDS, Bilen et
al., 2020) in the two scenarios of the DCASE 2021-2023 challenges.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

SAMPLE_RATE = 8000
SECONDS = 4.0
NUM_SAMPLES = int(SAMPLE_RATE * SECONDS)
#: Samples per target frame: two log-mel frames (hop 128), pooled once in time by the CRNN.
TARGET_HOP = 256
NUM_FRAMES = NUM_SAMPLES // TARGET_HOP
LOGMEL = dict(sample_rate=SAMPLE_RATE, n_fft=256, hop_length=128, n_mels=40, f_min=50.0)
CLASSES = ("tone", "rise", "fall", "burst", "beeps")


@dataclass
class SEDData:
    """One split: waveforms (n, samples), frame labels (n, frames, classes), the events."""

    waveforms: Tensor
    labels: Tensor
    events: list[list[tuple[float, float, str]]]


def _uniform(g: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand((), generator=g, dtype=torch.float64))


def _event(kind: str, n: int, g: torch.Generator) -> Tensor:
    """One event of ``n`` samples, unit RMS, with 10 ms raised-cosine edges."""
    t = torch.arange(n, dtype=torch.float64) / SAMPLE_RATE
    if kind == "tone":
        f = _uniform(g, 300.0, 2000.0)
        x = torch.sin(2 * math.pi * f * t) + 0.3 * torch.sin(4 * math.pi * f * t)
    elif kind in ("rise", "fall"):
        f0 = _uniform(g, 300.0, 800.0)
        f1 = f0 * _uniform(g, 2.0, 3.0)
        if kind == "fall":
            f0, f1 = f1, f0
        duration = n / SAMPLE_RATE
        phase = 2 * math.pi * (f0 * t + (f1 - f0) * t * t / (2 * duration))
        x = torch.sin(phase)
    elif kind == "burst":
        fc = _uniform(g, 500.0, 2500.0)
        spectrum = torch.fft.rfft(torch.randn(n, generator=g, dtype=torch.float64))
        freqs = torch.fft.rfftfreq(n, 1 / SAMPLE_RATE)
        spectrum[(freqs < fc / 1.5) | (freqs > fc * 1.5)] = 0
        x = torch.fft.irfft(spectrum, n)
    else:  # beeps
        f = _uniform(g, 1000.0, 2500.0)
        rate = _uniform(g, 6.0, 10.0)
        gate = (torch.frac(t * rate) < 0.5).double()
        x = torch.sin(2 * math.pi * f * t) * gate
    x = x / x.square().mean().sqrt().clamp_min(1e-8)
    edge = min(n // 2, int(0.01 * SAMPLE_RATE))
    if edge:
        ramp = 0.5 - 0.5 * torch.cos(math.pi * torch.arange(edge, dtype=torch.float64) / edge)
        x[:edge] *= ramp
        x[-edge:] *= ramp.flip(0)
    return x


def _background(n: int, g: torch.Generator) -> Tensor:
    """Coloured noise: white noise through a one-pole low-pass of random cut-off, plus hiss."""
    white = torch.randn(n, generator=g, dtype=torch.float64)
    pole = _uniform(g, 0.8, 0.98)
    spectrum = torch.fft.rfft(white)
    freqs = torch.fft.rfftfreq(n, 1 / SAMPLE_RATE)
    response = 1 / (1 - pole * torch.exp(-2j * math.pi * freqs / SAMPLE_RATE))
    x = torch.fft.irfft(spectrum * response, n)
    x = x / x.square().mean().sqrt()
    x = x + 0.3 * torch.randn(n, generator=g, dtype=torch.float64)
    return x / x.square().mean().sqrt()


def make_split(n: int, *, seed: int) -> SEDData:
    """``n`` clips with their frame labels and event lists, from ``seed`` only."""
    g = torch.Generator().manual_seed(seed)
    waves = torch.zeros(n, NUM_SAMPLES, dtype=torch.float64)
    labels = torch.zeros(n, NUM_FRAMES, len(CLASSES))
    events: list[list[tuple[float, float, str]]] = []
    for i in range(n):
        level = _uniform(g, 0.01, 0.05)
        x = level * _background(NUM_SAMPLES, g)
        clip_events = []
        for _ in range(int(torch.randint(1, 4, (), generator=g))):
            c = int(torch.randint(len(CLASSES), (), generator=g))
            length = int(_uniform(g, 0.25, 1.2) * SAMPLE_RATE)
            onset = int(torch.randint(NUM_SAMPLES - length + 1, (), generator=g))
            snr_db = _uniform(g, 0.0, 15.0)
            gain = level * 10 ** (snr_db / 20)
            x[onset : onset + length] += gain * _event(CLASSES[c], length, g)
            # A frame is active where the event covers at least half of its samples.
            first = (onset + TARGET_HOP // 2) // TARGET_HOP
            last = (onset + length - TARGET_HOP // 2) // TARGET_HOP + 1  # exclusive
            labels[i, first:last, c] = 1.0
            clip_events.append((onset / SAMPLE_RATE, (onset + length) / SAMPLE_RATE, CLASSES[c]))
        waves[i] = x
        events.append(sorted(clip_events))
    peak = waves.abs().amax(dim=1, keepdim=True).clamp_min(1.0)
    return SEDData((waves / peak).float(), labels, events)


class CRNN(nn.Module):
    """Log-mels (batch, n_mels, frames) -> frame logits (batch, frames // 2, classes).

    Three convolution blocks pool frequency (40 mel bands to 1) and time once by 2, a
    bidirectional GRU reads the frames, a linear layer scores each class per frame.
    """

    def __init__(self, n_mels: int = 40, num_classes: int = len(CLASSES), width: int = 16):
        super().__init__()
        self.norm = nn.BatchNorm1d(n_mels)

        def block(cin: int, cout: int, pool: tuple[int, int]) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(cin, cout, 3, padding=1, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(),
                nn.MaxPool2d(pool),
            )

        self.cnn = nn.Sequential(
            block(1, width, (4, 2)),
            block(width, 2 * width, (4, 1)),
            block(2 * width, 2 * width, (n_mels // 16, 1)),
            nn.Dropout(0.2),
        )
        self.rnn = nn.GRU(2 * width, 32, batch_first=True, bidirectional=True)
        self.head = nn.Linear(64, num_classes)

    def forward(self, logmel: Tensor) -> Tensor:
        h = self.cnn(self.norm(logmel).unsqueeze(1))  # (batch, channels, 1, frames // 2)
        h, _ = self.rnn(h.squeeze(2).transpose(1, 2))
        return self.head(h)


def median_filter(probs: np.ndarray, size: int) -> np.ndarray:
    """Median over ``size`` frames along axis 1 (edges repeated), per class."""
    if size <= 1:
        return probs
    half = size // 2
    padded = np.pad(probs, ((0, 0), (half, half), (0, 0)), mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, size, axis=1)
    return np.median(windows, axis=-1)


def frame_f1(active: np.ndarray, labels: np.ndarray) -> float:
    """Macro frame F1 of 0/1 arrays (clips, frames, classes): a quick score for thresholds."""
    tp = (active & labels).sum(axis=(0, 1))
    fp = (active & ~labels).sum(axis=(0, 1))
    fn = (~active & labels).sum(axis=(0, 1))
    return float(np.mean(2 * tp / np.maximum(2 * tp + fp + fn, 1)))


def to_events(active: np.ndarray) -> list[list[tuple[float, float, str]]]:
    """0/1 frames (clips, frames, classes) to event lists (onset s, offset s, class)."""
    seconds = TARGET_HOP / SAMPLE_RATE
    out = []
    for clip in active:
        events = []
        for c, name in enumerate(CLASSES):
            edges = np.diff(np.concatenate([[0], clip[:, c].astype(np.int8), [0]]))
            for on, off in zip(
                np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True
            ):
                events.append((on * seconds, off * seconds, name))
        out.append(sorted(events))
    return out


def sed_scores(
    predicted: list[list[tuple[float, float, str]]],
    reference: list[list[tuple[float, float, str]]],
) -> dict[str, float]:
    """Event-based and frame (segment at the target hop) macro F1 with ``sed_eval``."""
    with warnings.catch_warnings():
        # dcase_util imports pkg_resources, which warns about its own deprecation.
        warnings.simplefilter("ignore")
        import dcase_util
        import sed_eval

    def container(clips: list[list[tuple[float, float, str]]]) -> list:
        return [
            dcase_util.containers.MetaDataContainer(
                [
                    {"filename": f"{i}.wav", "event_label": c, "onset": on, "offset": off}
                    for on, off, c in events
                ]
            )
            for i, events in enumerate(clips)
        ]

    event_metric = sed_eval.sound_event.EventBasedMetrics(
        event_label_list=list(CLASSES), t_collar=0.2, percentage_of_length=0.2
    )
    frame_metric = sed_eval.sound_event.SegmentBasedMetrics(
        event_label_list=list(CLASSES), time_resolution=TARGET_HOP / SAMPLE_RATE
    )
    for ref, est in zip(container(reference), container(predicted), strict=True):
        event_metric.evaluate(ref, est)
        frame_metric.evaluate(ref, est)
    return {
        "event_f1": float(
            event_metric.results_class_wise_average_metrics()["f_measure"]["f_measure"]
        ),
        "frame_f1": float(
            frame_metric.results_class_wise_average_metrics()["f_measure"]["f_measure"]
        ),
    }


#: PSDS scenarios of the DCASE 2021-2023 sound event detection task: 1 asks for precise
#: boundaries (tight intersection criteria), 2 for the right classes (loose criteria, a
#: cross-trigger penalty).
PSDS_SCENARIOS = {
    "psds1": dict(dtc_threshold=0.7, gtc_threshold=0.7, cttc_threshold=None, alpha_ct=0.0),
    "psds2": dict(dtc_threshold=0.1, gtc_threshold=0.1, cttc_threshold=0.3, alpha_ct=0.5),
}


def merge_overlaps(events: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    """One clip's events with overlapping or touching events of a class joined into one (two
    bursts of noise that overlap sound as one; ``sed_scores_eval`` refuses them apart).

    Example:
        >>> merge_overlaps([(0.0, 1.0, "a"), (0.5, 2.0, "a"), (0.5, 0.7, "b"), (3.0, 4.0, "a")])
        [(0.0, 2.0, 'a'), (0.5, 0.7, 'b'), (3.0, 4.0, 'a')]
    """
    merged: list[tuple[float, float, str]] = []
    for on, off, name in sorted(events, key=lambda e: (e[2], e[0])):
        if merged and merged[-1][2] == name and on <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(off, merged[-1][1]), name)
        else:
            merged.append((on, off, name))
    return sorted(merged)


def psd_scores(
    probs: np.ndarray, reference: list[list[tuple[float, float, str]]]
) -> dict[str, float]:
    """PSDS of frame probabilities (clips, frames, classes), threshold-free, per scenario of
    :data:`PSDS_SCENARIOS` (``alpha_st=1``, false positives per hour up to 100)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sed_eval's pkg_resources warning, as above
        from sed_scores_eval import intersection_based
        from sed_scores_eval.base_modules.scores import create_score_dataframe

    seconds = TARGET_HOP / SAMPLE_RATE
    times = np.arange(probs.shape[1] + 1) * seconds
    scores = {
        f"{i}": create_score_dataframe(clip, times, list(CLASSES)) for i, clip in enumerate(probs)
    }
    truth = {f"{i}": merge_overlaps(events) for i, events in enumerate(reference)}
    durations = {key: SECONDS for key in scores}
    out = {}
    for name, scenario in PSDS_SCENARIOS.items():
        value, *_ = intersection_based.psds(
            scores, truth, durations, alpha_st=1.0, max_efpr=100.0, **scenario
        )
        out[name] = float(value)
    return out
