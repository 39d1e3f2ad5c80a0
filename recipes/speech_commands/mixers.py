"""The mixer registry: mixup methods by name, as a plain mapping to ``audiomix`` classes.

A name whose class the installed ``audiomix`` lacks is left out of :func:`available_mixers`,
so the recipe runs on an older audiomix with the methods it has.
"""

from __future__ import annotations

import inspect
from typing import Any

from torch import nn

import audiomix

from .common import derive_seed

__all__ = ["MIXERS", "available_mixers", "build_mixer"]

# name -> (audiomix class, where it acts: before or after the front end).
MIXERS: dict[str, tuple[str, str]] = {
    "waveform": ("WaveformMixup", "waveform"),
    "spectrogram": ("SpectrogramMixup", "spectrogram"),
    "waveform_cutmix": ("WaveformCutMix", "waveform"),
    "spectrogram_cutmix": ("SpectrogramCutMix", "spectrogram"),
    "snr": ("SNRMix", "waveform"),
    "bc": ("BCMix", "waveform"),
}
# Shared settings a class refuses although its signature takes them through **kwargs.
_REFUSED = {"SNRMix": ("alpha",)}  # SNR mixing draws an SNR (mixup.kwargs.snr_db), not λ


def available_mixers() -> dict[str, tuple[type, str]]:
    """``{name: (audiomix class, "waveform" | "spectrogram")}`` for the installed audiomix."""
    found: dict[str, tuple[type, str]] = {}
    for name, (cls_name, stage) in MIXERS.items():
        cls = getattr(audiomix, cls_name, None)
        if isinstance(cls, type) and issubclass(cls, nn.Module):
            found[name] = (cls, stage)
    return found


def _accepted_kwargs(cls: type) -> set[str] | None:
    """Keyword arguments ``cls(...)`` accepts, following ``**kwargs`` up the class hierarchy
    (None: anything goes)."""
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        params = inspect.signature(init).parameters.values()
        names |= {p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            return names - {"self"}
    return None


def build_mixer(cfg: dict[str, Any], num_classes: int) -> tuple[nn.Module | None, str | None]:
    """The configured mixer and its stage (``"waveform"`` or ``"spectrogram"``), or (None, None).

    The shared settings (``alpha``, ``p``, ``per_sample``, ``placement``, the seed, per-rank
    streams, ``sample_rate``, and ``scale="db"`` / ``domain`` for spectrogram mixers) are passed
    where the class accepts them; ``mixup.kwargs`` adds or overrides class-specific ones
    (e.g. ``mode`` of SpectrogramCutMix, ``snr_db`` of SNRMix).
    """
    m = cfg["mixup"]
    if m["method"] == "none":
        return None, None
    cls, stage = available_mixers()[m["method"]]
    kwargs: dict[str, Any] = {
        "alpha": m["alpha"],
        "num_classes": num_classes,
        "p": m["p"],
        "per_sample": m["per_sample"],
        "placement": m["placement"],
        "generator": derive_seed(cfg["seed"], "mixer"),
        "per_rank": True,
        "sample_rate": cfg["data"]["sample_rate"],
    }
    if stage == "spectrogram":
        kwargs.update(scale="db", domain=m["spec_domain"])
    accepted = _accepted_kwargs(cls)
    if accepted is not None:
        kwargs = {k: v for k, v in kwargs.items() if k in accepted}
    for key in _REFUSED.get(cls.__name__, ()):
        kwargs.pop(key, None)
    kwargs.update(m.get("kwargs") or {})
    return cls(**kwargs), stage
