"""Accuracy under shift: the test split with test-only noise, level changes and a time shift.

After training, every run is evaluated on shifted copies of its test split (evaluation only, no
training on them). The conditions, from the config's ``robustness:`` section:

* ``noise_<snr>db``: noise added at a fixed SNR (``robustness.snr_db``). The noise is *test-only*:
  the testing region (last 10 %) of the ``_background_noise_`` recordings, which training never
  uses (it draws from the first 80 %); a dataset without ``_background_noise_`` gets white,
  pink and brown noise generated at run time instead.
* ``gain_<g>db``: a level change (``robustness.gain_db``); ``clip_<g>db``: a gain loud enough to
  clip, then clipped to [-1, 1] (``robustness.clip_gain_db``).
* ``shift_<ms>ms``: every clip shifted by ``robustness.time_shift_ms``, earlier or later at
  random, zero-filled.

Every draw comes from a generator seeded by ``robustness.seed`` and the condition's name, and
the test split is processed in the same chunks in every run, so all runs (every method and
seed) see the same shifted clips and their differences pair up.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from .augment import BackgroundNoise, shift_time
from .common import derive_seed
from .layout import load_background_noise

__all__ = ["Condition", "Shift", "coloured_noise", "conditions", "held_out_noise"]


@dataclass(frozen=True)
class Condition:
    """One shifted copy of the test split.

    Attributes:
        name (str): key in ``metrics.json``'s ``robustness``, e.g. ``"noise_10db"``.
        label (str): column header in the report, e.g. ``"noise 10 dB SNR"``.
        kind (str): ``"noise"``, ``"gain"``, ``"clip"`` or ``"shift"``.
        value (float): the SNR or gain in dB, or the shift in ms.
    """

    name: str
    label: str
    kind: str
    value: float


def _db_name(value: float) -> str:
    return f"{value:g}".replace("-", "m").replace(".", "p")


def conditions(rcfg: dict[str, Any]) -> list[Condition]:
    """The conditions of a ``robustness:`` config section, in report order (none when disabled).

    Raises:
        ValueError: an SNR or gain that is not a finite number, or a negative time shift.
    """
    if not rcfg.get("enabled", True):
        return []
    out = []
    for snr in rcfg.get("snr_db") or []:
        snr = _finite("robustness.snr_db", snr)
        out.append(Condition(f"noise_{_db_name(snr)}db", f"noise {snr:g} dB SNR", "noise", snr))
    for gain in rcfg.get("gain_db") or []:
        gain = _finite("robustness.gain_db", gain)
        out.append(Condition(f"gain_{_db_name(gain)}db", f"gain {gain:+g} dB", "gain", gain))
    clip = rcfg.get("clip_gain_db")
    if clip is not None:
        clip = _finite("robustness.clip_gain_db", clip)
        out.append(
            Condition(f"clip_{_db_name(clip)}db", f"gain {clip:+g} dB, clipped", "clip", clip)
        )
    ms = rcfg.get("time_shift_ms") or 0.0
    if ms < 0:
        raise ValueError(f"`robustness.time_shift_ms` must be >= 0, but got {ms}.")
    if ms > 0:
        out.append(Condition(f"shift_{_db_name(ms)}ms", f"shift ±{ms:g} ms", "shift", float(ms)))
    return out


def _finite(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"`{key}` must hold finite numbers (dB), but got {value!r}.")
    return float(value)


def coloured_noise(num_samples: int, *, generator: torch.Generator) -> list[Tensor]:
    """White, pink and brown noise, each ``(num_samples,)`` at unit RMS.

    Shaped in the frequency domain: amplitude ∝ f^0, f^-1/2 and f^-1 (power ∝ 1, 1/f, 1/f²),
    no DC.

    Args:
        num_samples (int): length of each recording, > 1.
        generator (torch.Generator): source of the white noise.

    Returns:
        list[Tensor]: three float32 ``(num_samples,)`` tensors.
    """
    if num_samples < 2:
        raise ValueError(f"`num_samples` must be >= 2, but got {num_samples}.")
    white = torch.randn(3, num_samples, generator=generator, dtype=torch.float64)
    spectrum = torch.fft.rfft(white)
    freq = torch.arange(spectrum.shape[-1], dtype=torch.float64).clamp_min(1.0)
    exponent = torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64)[:, None]
    spectrum = spectrum * freq.pow(-exponent)
    spectrum[:, 0] = 0
    shaped = torch.fft.irfft(spectrum, n=num_samples)
    shaped = shaped / shaped.pow(2).mean(dim=-1, keepdim=True).sqrt()
    return list(shaped.float())


def held_out_noise(
    root: str | os.PathLike, *, sample_rate: int, seed: int
) -> tuple[list[Tensor], str]:
    """The test-only noise of a dataset folder and a sentence saying what it is.

    Returns:
        tuple: the recordings (each ``(time,)``) and their description for the report.
    """
    recordings = load_background_noise(root, sample_rate=sample_rate, split="testing", warn=False)
    if recordings:
        return recordings, (
            f"the testing region (last 10 %) of the {len(recordings)} `_background_noise_` "
            "recording(s), never used in training"
        )
    g = torch.Generator().manual_seed(derive_seed("robustness", seed, "coloured-noise"))
    return coloured_noise(10 * sample_rate, generator=g), (
        "white, pink and brown noise generated at run time (the dataset has no "
        "`_background_noise_`)"
    )


class Shift:
    """Applies one condition to consecutive chunks ``(n, time)`` of the test split.

    Call it on the chunks in order: the draws (noise segment and position, shift direction)
    continue from one chunk to the next, from a generator seeded by ``seed`` and the condition.

    Args:
        condition (Condition): what to apply.
        noise (sequence of Tensor): test-only recordings, for ``"noise"`` conditions.
        sample_rate (int): of the waveforms.
        seed (int): ``robustness.seed``.

    Attributes:
        clipped (int): clips with at least one sample clipped so far (``"clip"`` conditions).
    """

    def __init__(
        self, condition: Condition, noise: Sequence[Tensor], *, sample_rate: int, seed: int
    ) -> None:
        self.condition = condition
        self.generator = torch.Generator().manual_seed(
            derive_seed("robustness", seed, condition.name)
        )
        self.clipped = 0
        self.noise = None
        if condition.kind == "noise":
            snr = (condition.value, condition.value)
            self.noise = BackgroundNoise(noise, snr_db=snr, p=1.0, generator=self.generator)
        self.shift = round(condition.value * sample_rate / 1000) if condition.kind == "shift" else 0

    def __call__(self, waveform: Tensor) -> Tensor:
        """Args: waveform (Tensor): ``(n, time)``. Returns: Tensor ``(n, time)``, a new tensor."""
        kind, value = self.condition.kind, self.condition.value
        if kind == "noise":
            return self.noise(waveform)
        if kind in ("gain", "clip"):
            loud = waveform * 10.0 ** (value / 20.0)
            if kind == "gain":
                return loud
            self.clipped += int((loud.abs() > 1.0).any(dim=-1).sum())
            return loud.clamp(-1.0, 1.0)
        sign = torch.randint(0, 2, waveform.shape[:-1], generator=self.generator) * 2 - 1
        return shift_time(waveform, sign * self.shift)
