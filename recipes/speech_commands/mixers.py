"""The mixer registry: mixing methods by name, each an ``audiomix`` class, where it acts (before
or after the front end) and the settings of the config it takes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

import audiomix

from .common import derive_seed

__all__ = ["MIXERS", "MixerSpec", "build_mixer"]


@dataclass(frozen=True)
class MixerSpec:
    """A mixing method: its class, its stage (``"waveform"``: before the front end,
    ``"spectrogram"``: after it) and its own arguments drawn from the resolved config."""

    cls: type[nn.Module]
    stage: str
    own: Callable[[dict[str, Any]], dict[str, Any]]


def _alpha(cfg: dict[str, Any]) -> dict[str, Any]:
    return {"alpha": cfg["mixup"]["alpha"]}


MIXERS: dict[str, MixerSpec] = {
    "waveform": MixerSpec(audiomix.WaveformMixup, "waveform", _alpha),
    "spectrogram": MixerSpec(
        audiomix.SpectrogramMixup,
        "spectrogram",
        lambda cfg: {**_alpha(cfg), "scale": "db", "domain": cfg["mixup"]["spec_domain"]},
    ),
    "waveform_cutmix": MixerSpec(audiomix.WaveformCutMix, "waveform", _alpha),
    "spectrogram_cutmix": MixerSpec(audiomix.SpectrogramCutMix, "spectrogram", _alpha),
    # SNR mixing draws an SNR (mixup.kwargs.snr_db), not λ: it has no alpha.
    "snr": MixerSpec(audiomix.SNRMix, "waveform", lambda cfg: {}),
    "bc": MixerSpec(
        audiomix.BCMix,
        "waveform",
        lambda cfg: {**_alpha(cfg), "sample_rate": cfg["data"]["sample_rate"]},
    ),
}


def build_mixer(cfg: dict[str, Any], num_classes: int) -> tuple[nn.Module | None, str | None]:
    """The configured mixer and its stage (``"waveform"`` or ``"spectrogram"``), or (None, None).

    Every mixer gets the shared settings (``p``, ``per_sample``, ``placement``, a generator
    seeded by the run seed, per-rank streams) and its own (:data:`MIXERS`); ``mixup.kwargs``
    adds or overrides class-specific ones (e.g. ``mode`` of SpectrogramCutMix, ``snr_db`` of
    SNRMix).
    """
    m = cfg["mixup"]
    if m["method"] == "none":
        return None, None
    spec = MIXERS[m["method"]]
    kwargs: dict[str, Any] = {
        "num_classes": num_classes,
        "p": m["p"],
        "per_sample": m["per_sample"],
        "placement": m["placement"],
        "generator": derive_seed(cfg["seed"], "mixer"),
        "per_rank": True,
        **spec.own(cfg),
        **(m["kwargs"] or {}),
    }
    return spec.cls(**kwargs), spec.stage
