"""Train and evaluate one keyword-spotting run, with or without mixup.

    python -m recipes.speech_commands.train                         # built-in data, no mixup
    python -m recipes.speech_commands.train --mixup.method spectrogram --train.label_noise 0.4
    python -m recipes.speech_commands.train --data-dir ~/speech_commands_v0.02 --set data.task=35
    torchrun --standalone --nproc_per_node=2 -m recipes.speech_commands.train --quick
    python -m recipes.speech_commands.train --help

Per batch (training only): random time shift → background noise → [per-clip RMS
normalisation] → [waveform mixer] → log-mel → [spectrogram mixer] → [SpecAugment] → CNN →
cross-entropy against the (mixed) targets. Mixers come from a registry of every mixing class
that ``audiomix`` exports (``none``, ``waveform``, ``spectrogram``, and CutMix / SNR / BC
mixing when the installed audiomix has them).

Outputs in ``run_dir``: ``config.yaml`` (resolved), ``epochs.csv`` (one row per epoch),
``metrics.json`` (final: test accuracy / NLL / ECE, raw and after temperature scaling fitted on
the validation split, per-class accuracy, confusion matrix, reliability bins; train accuracy
against the noisy and the clean labels), ``run_info.json`` (wall time, threads, world size)
and ``checkpoint.pt`` (written atomically every epoch; ``--resume`` continues from it and ends
with the same metrics as an uninterrupted run).
"""

from __future__ import annotations

import argparse
import copy
import csv
import difflib
import gc
import hashlib
import inspect
import json
import os
import platform
import re
import shutil
import socket
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
import torchaudio
import yaml
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler, RandomSampler

import audiomix

from . import robustness as R
from .common import atomic_torch_save as _atomic_torch_save
from .common import atomic_write as _atomic_write
from .common import atomic_write_text as _atomic_text
from .common import derive_seed, parse_set, parse_value
from .common import log as _log
from .common import progress as _progress
from .data import (
    BACKGROUND_NOISE_DIR,
    SILENCE,
    UNKNOWN,
    BackgroundNoise,
    RandomTimeShift,
    SpeechCommands,
    corrupt_labels,
)
from .metrics import classification_metrics, fit_temperature
from .model import FrontEnd, KWSNet, count_parameters

__all__ = [
    "DEFAULT_CONFIG",
    "available_mixers",
    "build_mixer",
    "load_config",
    "main",
    "parse_args",
    "run",
]

DEFAULT_CONFIG = Path(__file__).with_name("config.yaml")
CHECKPOINT = "checkpoint.pt"
METRICS = "metrics.json"
EPOCHS_CSV = "epochs.csv"
RUN_INFO = "run_info.json"
RESOLVED_CONFIG = "config.yaml"
# Keys that change how a run looks, not what it computes: a resumed run may differ in them.
_COSMETIC_KEYS = ("quiet", "run_dir", "data.num_workers")
# Sections whose keys are free (checked by their consumer, not against the defaults).
_OPEN_SECTIONS = ("data.synth", "mixup.kwargs")

# --------------------------------------------------------------------------------------------
# Config: one YAML file, dotted-key overrides
# --------------------------------------------------------------------------------------------


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value and name not in ("quick",):
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out


def _set_dotted(tree: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node = tree
    for part in parts[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[parts[-1]] = value


def _get_dotted(tree: dict[str, Any], key: str) -> Any:
    node: Any = tree
    for part in key.split("."):
        node = node[part]
    return node


def _check_type(key: str, default: Any, value: Any) -> Any:
    if default is None or value is None:
        return value
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"`{key}` must be true or false, but got {value!r}.")
    elif isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"`{key}` must be an integer, but got {value!r}.")
    elif isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"`{key}` must be a number, but got {value!r}.")
        value = float(value)
    elif isinstance(default, str):
        value = str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value
        if not isinstance(value, str):
            raise ValueError(f"`{key}` must be a string, but got {value!r}.")
    elif isinstance(default, list) and not isinstance(value, list):
        raise ValueError(f"`{key}` must be a list such as {default}, but got {value!r}.")
    return value


def apply_overrides(config: dict[str, Any], overrides: Sequence[tuple[str, Any]]) -> dict[str, Any]:
    """Returns a copy of ``config`` with dotted ``key = value`` overrides applied and checked.

    Raises:
        ValueError: an unknown key (with the closest known ones) or a value of the wrong type.
    """
    config = copy.deepcopy(config)
    known = _flatten({k: v for k, v in config.items() if k != "quick"})
    for key, value in overrides:
        key = key.strip().replace("-", "_") if key.startswith(("data", "train")) else key.strip()
        open_section = any(key.startswith(s + ".") for s in _OPEN_SECTIONS)
        if key not in known and not open_section:
            close = difflib.get_close_matches(key, list(known), n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise ValueError(f"unknown config key `{key}`.{hint}")
        if key in known:
            value = _check_type(key, known[key], value)
        _set_dotted(config, key, value)
    return config


def load_config(
    path: str | os.PathLike | None = None,
    overrides: Sequence[tuple[str, Any]] = (),
    *,
    quick: bool = False,
) -> dict[str, Any]:
    """Loads the YAML config, applies the ``quick:`` section if asked, then ``overrides``.

    Args:
        path: a YAML file; None takes the recipe's ``config.yaml``.
        overrides: ``(dotted.key, value)`` pairs, applied in order.
        quick: apply the file's ``quick:`` overrides first.

    Returns:
        dict: the resolved config (without the ``quick:`` section).
    """
    with open(path or DEFAULT_CONFIG, encoding="utf-8") as f:
        config = yaml.safe_load(f) or {}
    quick_section = config.pop("quick", None) or {}
    if quick:
        config = apply_overrides(config, list(quick_section.items()))
    config = apply_overrides(config, overrides)
    _validate(config)
    return config


def _validate(cfg: dict[str, Any]) -> None:
    method = cfg["mixup"]["method"]
    if method not in available_mixers() and method != "none":
        raise ValueError(
            f"`mixup.method` must be one of {['none', *available_mixers()]}, but got {method!r}."
        )
    if not 0.0 <= cfg["train"]["label_noise"] <= 1.0:
        raise ValueError(f"`train.label_noise` must be in [0, 1], but got {cfg['train']['label_noise']}.")
    if cfg["train"]["epochs"] < 1:
        raise ValueError(f"`train.epochs` must be >= 1, but got {cfg['train']['epochs']}.")
    if cfg["model"]["arch"] not in KWSNet.ARCHS:
        raise ValueError(f"`model.arch` must be one of {KWSNet.ARCHS}, but got {cfg['model']['arch']!r}.")
    for key, allowed in (
        ("train.optimizer", ("adamw", "sgd")),
        ("train.scheduler", ("onecycle", "cosine", "constant")),
        ("mixup.placement", ("start", "center", "random")),
        ("mixup.spec_domain", ("power", "input")),
        ("data.synth.preset", ("default", "quick")),
    ):
        if _get_dotted(cfg, key) not in allowed:
            raise ValueError(f"`{key}` must be one of {allowed}, but got {_get_dotted(cfg, key)!r}.")
    for word in cfg["data"]["keywords"]:
        if not isinstance(word, str):
            raise ValueError(
                f"`data.keywords` must hold words, but got {word!r} (YAML reads yes, no, on and "
                'off as booleans: quote them, e.g. --set \'data.keywords=["yes", "no"]\').'
            )
    R.conditions(cfg["robustness"])  # raises on a bad robustness setting


def config_digest(cfg: dict[str, Any]) -> str:
    """Hash of everything in the config that changes results (not ``quiet``, ``run_dir``...)."""
    flat = {k: v for k, v in _flatten(cfg).items() if k not in _COSMETIC_KEYS}
    return hashlib.sha256(json.dumps(flat, sort_keys=True, default=str).encode()).hexdigest()[:16]


# --------------------------------------------------------------------------------------------
# Mixers: every mixing class audiomix offers, by name
# --------------------------------------------------------------------------------------------

# name -> (audiomix class, where it acts). Classes missing from the installed audiomix are
# skipped, so new methods join the comparison as they land.
_KNOWN_MIXERS: dict[str, tuple[str, str]] = {
    "waveform": ("WaveformMixup", "waveform"),
    "spectrogram": ("SpectrogramMixup", "spectrogram"),
    "waveform_cutmix": ("WaveformCutMix", "waveform"),
    "spectrogram_cutmix": ("SpectrogramCutMix", "spectrogram"),
    "snr": ("SNRMix", "waveform"),
    "bc": ("BCMix", "waveform"),
}
# Shared settings a class refuses although its signature takes them through **kwargs.
_REFUSED = {"SNRMix": ("alpha",)}  # SNR mixing draws an SNR (mixup.kwargs.snr_db), not λ


# Exported by audiomix but not batch mixers with the (x, labels[, lengths]) call: hidden-layer
# mixing needs the model, and a random choice needs its member mixers.
_NOT_BATCH_MIXERS = ("ManifoldMixup", "RandomChoiceMix")


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def available_mixers() -> dict[str, tuple[type, str]]:
    """``{name: (audiomix class, "waveform" | "spectrogram")}`` for the installed audiomix."""
    found: dict[str, tuple[type, str]] = {}
    for name, (cls_name, stage) in _KNOWN_MIXERS.items():
        cls = getattr(audiomix, cls_name, None)
        if isinstance(cls, type):
            found[name] = (cls, stage)
    known = {cls for cls, _ in found.values()}
    for cls_name in getattr(audiomix, "__all__", ()):
        cls = getattr(audiomix, cls_name, None)
        if (
            isinstance(cls, type)
            and issubclass(cls, nn.Module)
            and cls not in known
            and cls_name not in _NOT_BATCH_MIXERS
            and re.search(r"Mix(up)?$", cls_name)
        ):
            stage = "spectrogram" if cls_name.startswith("Spectrogram") else "waveform"
            found[_snake(cls_name)] = (cls, stage)
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


# --------------------------------------------------------------------------------------------
# Distributed helpers (a single process is world size 1)
# --------------------------------------------------------------------------------------------


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    local_world: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world > 1


def _init_distributed() -> Dist:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return Dist(
        rank=dist.get_rank(),
        world=dist.get_world_size(),
        local_rank=int(os.environ.get("LOCAL_RANK", "0")),
        local_world=int(os.environ.get("LOCAL_WORLD_SIZE", str(world))),
    )


def _all_sum(values: Sequence[float], d: Dist, device: torch.device) -> list[float]:
    t = torch.tensor(list(values), dtype=torch.float64, device=device)
    if d.enabled:
        dist.all_reduce(t)
    return t.tolist()


def _gather_rows(t: Tensor, d: Dist) -> Tensor:
    """Concatenation over ranks of (n_r, ...) tensors of different n_r, in rank order."""
    if not d.enabled:
        return t
    n = torch.tensor([t.shape[0]], device=t.device)
    sizes = [torch.zeros_like(n) for _ in range(d.world)]
    dist.all_gather(sizes, n)
    biggest = int(max(s.item() for s in sizes))
    padded = t.new_zeros((biggest, *t.shape[1:]))
    padded[: t.shape[0]] = t
    parts = [torch.zeros_like(padded) for _ in range(d.world)]
    dist.all_gather(parts, padded)
    return torch.cat([p[: int(s.item())] for p, s in zip(parts, sizes, strict=True)])


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


def prepare_data(cfg: dict[str, Any], *, progress: bool = True) -> Path:
    """The dataset folder: ``data.dir``, the downloaded archive, or the built-in synthetic set
    (generated into the cache on first use; later calls return at once)."""
    dcfg = cfg["data"]
    cache_dir = dcfg["cache_dir"]
    if dcfg["dir"] is not None:
        root = Path(dcfg["dir"]).expanduser()
        if not root.is_dir():
            raise ValueError(f"`data.dir` is not a folder: {str(root)!r}.")
        return root
    if dcfg["download"]:
        from .download import download_speech_commands
        from .synth import default_cache_dir

        return download_speech_commands(
            cache_dir or default_cache_dir(), url=dcfg["download_url"], progress=progress
        )
    from .synth import SynthConfig, generate_dataset

    synth = {k: v for k, v in dcfg["synth"].items() if v is not None}
    preset = synth.pop("preset", "default")
    config = SynthConfig.quick(**synth) if preset == "quick" else SynthConfig(**synth)
    root = None if cache_dir is None else Path(cache_dir).expanduser() / "speech_commands_synth"
    return generate_dataset(root, config, progress=progress)


class _Indexed(Dataset):
    """Items ``(waveform (time,), label, index)``: the index finds the clean label later."""

    def __init__(self, base: SpeechCommands) -> None:
        self.base = base

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> tuple[Tensor, int, int]:
        waveform, label = self.base[index]
        return waveform[0], label, index


def _collate(items: list[tuple[Tensor, int, int]]) -> tuple[Tensor, Tensor, Tensor]:
    return (
        torch.stack([w for w, _, _ in items]),
        torch.tensor([y for _, y, _ in items], dtype=torch.long),
        torch.tensor([i for _, _, i in items], dtype=torch.long),
    )


@dataclass
class Splits:
    train: SpeechCommands
    val: SpeechCommands
    test: SpeechCommands
    clean_train_labels: Tensor
    class_names: list[str]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


# The last splits loaded in this process, so that a process running several runs (compare.py)
# reads the audio once.
_SPLITS_CACHE: dict[str, tuple[SpeechCommands, SpeechCommands, SpeechCommands, Tensor]] = {}


def load_splits(cfg: dict[str, Any], root: Path) -> Splits:
    """The three splits of ``root`` as configured, with label noise on the training labels."""
    d = cfg["data"]
    key = json.dumps([str(root), {k: v for k, v in d.items() if k != "num_workers"}], default=str)
    if key in _SPLITS_CACHE:
        train, val, test, clean = _SPLITS_CACHE[key]
        train.labels = clean
    else:
        train, val, test = _load_split_sets(cfg, root)
        clean = train.labels.clone()
        _SPLITS_CACHE.clear()
        _SPLITS_CACHE[key] = (train, val, test, clean)
    rate = cfg["train"]["label_noise"]
    if rate > 0:
        train.labels = corrupt_labels(
            clean, rate, train.num_classes, generator=cfg["train"]["label_noise_seed"]
        )
    return Splits(train, val, test, clean, list(train.class_names))


def _load_split_sets(
    cfg: dict[str, Any], root: Path
) -> tuple[SpeechCommands, SpeechCommands, SpeechCommands]:
    d = cfg["data"]
    kwargs = dict(
        task=str(d["task"]),
        sample_rate=d["sample_rate"],
        clip_seconds=d["clip_seconds"],
        seed=0,  # the _silence_/_unknown_ draws belong to the dataset: the same for every run
        cache=d["cache"],
        strict=d["strict"],
    )
    if str(d["task"]) == "12":
        kwargs.update(
            keywords=d["keywords"], silence_ratio=d["silence_ratio"], unknown_ratio=d["unknown_ratio"]
        )
    with warnings.catch_warnings():
        # Missing keywords: the same warning three times (once per split) says nothing more.
        warnings.filterwarnings("ignore", message=".*keyword.*have no word folder")
        val, test = (SpeechCommands(root, s, **kwargs) for s in ("validation", "testing"))
    train = SpeechCommands(root, "training", **kwargs)
    for name, ds in (("training", train), ("validation", val), ("testing", test)):
        if len(ds) == 0:
            raise ValueError(f"the {name} split of {str(root)!r} is empty.")
    counts = torch.bincount(train.labels, minlength=train.num_classes).tolist()
    empty = [name for name, n in zip(train.class_names, counts, strict=True) if n == 0]
    if empty:
        raise ValueError(
            f"class(es) {empty} have no clips in the training split of {str(root)!r} (split by "
            f"{train.split_rule}); a class without training clips cannot be learnt: give it "
            "training clips, or leave it out (data.keywords, or data.silence_ratio=0 for "
            f"_silence_). Training clips per class: {dict(zip(train.class_names, counts, strict=True))}."
        )
    return train, val, test


def _eval_indices(n: int, d: Dist) -> list[int]:
    # Every rank takes every world-th item, without the padding of DistributedSampler, so
    # the gathered predictions are exactly the split.
    return list(range(d.rank, n, d.world))


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------


class Trainer:
    def __init__(self, cfg: dict[str, Any], d: Dist, root: Path, splits: Splits) -> None:
        self.cfg = cfg
        self.d = d
        self.root = root
        self.splits = splits
        self.quiet = bool(cfg["quiet"]) or not d.main
        self.device = torch.device(
            f"cuda:{d.local_rank}" if torch.cuda.is_available() else "cpu"
        )
        seed = cfg["seed"]
        tcfg, acfg, mcfg = cfg["train"], cfg["augment"], cfg["mixup"]
        n_cls = splits.num_classes

        torch.manual_seed(seed)  # model initialisation: the same on every rank
        f = cfg["features"]
        self.frontend = FrontEnd(
            sample_rate=cfg["data"]["sample_rate"],
            n_mels=f["n_mels"],
            win_ms=f["win_ms"],
            hop_ms=f["hop_ms"],
            f_min=f["f_min"],
            f_max=f["f_max"],
            top_db=f["top_db"],
        ).to(self.device)
        m = cfg["model"]
        self.net = KWSNet(n_cls, arch=m["arch"], width=m["width"], dropout=m["dropout"]).to(self.device)
        self.model: nn.Module = self.net
        if d.enabled:
            self.model = nn.parallel.DistributedDataParallel(
                self.net, device_ids=[d.local_rank] if self.device.type == "cuda" else None
            )
        # From here on each rank has its own streams (dropout, SpecAugment, augmentations).
        torch.manual_seed(derive_seed(seed, "torch", d.rank))
        self.g_data = torch.Generator().manual_seed(derive_seed(seed, "data-order"))
        self.g_shift = torch.Generator().manual_seed(derive_seed(seed, "shift", d.rank))
        self.g_noise = torch.Generator().manual_seed(derive_seed(seed, "noise", d.rank))

        sr = cfg["data"]["sample_rate"]
        shift = int(round(acfg["time_shift_ms"] * sr / 1000))
        self.shift = RandomTimeShift(shift, generator=self.g_shift) if shift > 0 else None
        self.noise = None
        self.noise_off_reason = "augment.noise_prob = 0"
        if acfg["noise_prob"] > 0:
            try:
                self.noise = BackgroundNoise.from_folder(
                    root,
                    sample_rate=sr,
                    split="training",
                    snr_db=tuple(acfg["noise_snr_db"]),
                    p=acfg["noise_prob"],
                    generator=self.g_noise,
                )
            except ValueError as err:
                self.noise_off_reason = f"the dataset has no readable `{BACKGROUND_NOISE_DIR}`"
                warnings.warn(f"no background-noise augmentation: {err}", UserWarning, stacklevel=2)
        self.specaugment = None
        if acfg["specaugment"]:
            self.specaugment = nn.Sequential(
                torchaudio.transforms.FrequencyMasking(acfg["freq_mask"], iid_masks=True),
                torchaudio.transforms.TimeMasking(acfg["time_mask"], iid_masks=True),
            )
        self.mixer, self.stage = build_mixer(cfg, n_cls)
        self.normalize_rms = bool(mcfg["normalize_rms"]) and self.mixer is not None

        # Data loading: the global batch is split across ranks.
        self.train_set = _Indexed(splits.train)
        self.batch_size = max(1, tcfg["batch_size"] // d.world)
        if d.enabled:
            self.sampler: Any = DistributedSampler(
                self.train_set, num_replicas=d.world, rank=d.rank, shuffle=True,
                seed=derive_seed(seed, "data-order") % 2**31, drop_last=True,
            )
        else:
            self.sampler = RandomSampler(self.train_set, generator=self.g_data)
        self.loader = DataLoader(
            self.train_set,
            batch_size=self.batch_size,
            sampler=self.sampler,
            drop_last=True,  # a batch of one would break BatchNorm (and mixes with itself)
            collate_fn=_collate,
            num_workers=cfg["data"]["num_workers"],
            generator=torch.Generator().manual_seed(derive_seed(seed, "workers", d.rank)),
        )
        self.steps_per_epoch = len(self.loader)
        if self.steps_per_epoch == 0:
            raise ValueError(
                f"the training split has {len(self.train_set)} clips, fewer than one batch of "
                f"{self.batch_size} per rank; lower train.batch_size."
            )
        total_steps = self.steps_per_epoch * tcfg["epochs"]
        if tcfg["optimizer"] == "adamw":
            self.opt: torch.optim.Optimizer = torch.optim.AdamW(
                self.net.parameters(), lr=tcfg["lr"], weight_decay=tcfg["weight_decay"]
            )
        else:
            self.opt = torch.optim.SGD(
                self.net.parameters(), lr=tcfg["lr"], momentum=0.9, nesterov=True,
                weight_decay=tcfg["weight_decay"],
            )
        if tcfg["scheduler"] == "onecycle":
            self.sched: Any = torch.optim.lr_scheduler.OneCycleLR(
                self.opt, max_lr=tcfg["lr"], total_steps=total_steps,
                pct_start=tcfg["warmup"], anneal_strategy="cos",
            )
        elif tcfg["scheduler"] == "cosine":
            self.sched = torch.optim.lr_scheduler.CosineAnnealingLR(self.opt, T_max=total_steps)
        else:
            self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, lambda _: 1.0)

        # A fixed subset of the training clips for the per-epoch memorisation curve.
        n_sub = min(cfg["eval"]["train_subset"], len(splits.train))
        g = torch.Generator().manual_seed(derive_seed(seed, "train-subset"))
        self.train_subset = sorted(torch.randperm(len(splits.train), generator=g)[:n_sub].tolist())
        self.epoch = 0
        self.history: list[dict[str, Any]] = []
        # Log-mels of evaluation sets that do not change during a run (validation split, the
        # training subset), computed once; and the last validation pass, which the final
        # metrics would otherwise repeat with the same model.
        self._features_cache: dict[str, list[tuple[Tensor, Tensor]]] = {}
        self._last_val: tuple[int, dict[str, Any], Tensor, Tensor] | None = None
        self.timing: dict[str, float] = {}
        self._shift_noise: str | None = None  # what the evaluation under shift added

    # -- checkpoints -------------------------------------------------------------------------

    def _rank_state(self) -> dict[str, Any]:
        return {
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            "data_order": self.g_data.get_state(),
            "shift": self.g_shift.get_state(),
            "noise": self.g_noise.get_state(),
            "mixer": None if self.mixer is None else self.mixer.state_dict(),
        }

    def _load_rank_state(self, state: dict[str, Any]) -> None:
        torch.set_rng_state(state["torch"])
        if state["cuda"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])
        self.g_data.set_state(state["data_order"])
        self.g_shift.set_state(state["shift"])
        self.g_noise.set_state(state["noise"])
        if self.mixer is not None:
            self.mixer.load_state_dict(state["mixer"])

    def save_checkpoint(self, path: Path) -> None:
        states = [self._rank_state()]
        if self.d.enabled:
            states = [None] * self.d.world  # type: ignore[list-item]
            dist.all_gather_object(states, self._rank_state())
        if not self.d.main:
            return
        payload = {
            "format": 1,
            "epoch": self.epoch,
            "config_digest": config_digest(self.cfg),
            "world_size": self.d.world,
            "model": self.net.state_dict(),
            "optimizer": self.opt.state_dict(),
            "scheduler": self.sched.state_dict(),
            "history": self.history,
            "rank_states": states,
        }
        _atomic_torch_save(payload, path)

    def load_checkpoint(self, path: Path) -> None:
        payload = torch.load(path, map_location="cpu", weights_only=False)
        if payload.get("config_digest") != config_digest(self.cfg):
            raise ValueError(
                f"{path} was written with a different config; resume with the same settings "
                "or start a new run_dir (or pass --overwrite)."
            )
        self.net.load_state_dict(payload["model"])
        self.opt.load_state_dict(payload["optimizer"])
        self.sched.load_state_dict(payload["scheduler"])
        self.epoch = int(payload["epoch"])
        self.history = list(payload["history"])
        states = payload["rank_states"]
        if payload["world_size"] != self.d.world:
            warnings.warn(
                f"{path} was written by {payload['world_size']} process(es), this run has "
                f"{self.d.world}: random streams restart, so results will differ from an "
                "uninterrupted run.",
                UserWarning,
                stacklevel=2,
            )
        else:
            self._load_rank_state(states[self.d.rank])

    # -- one training epoch --------------------------------------------------------------------

    def _train_batch(self, x: Tensor, y: Tensor, idx: Tensor) -> tuple[float, int]:
        lengths: Tensor | None = None
        if self.shift is None and self.noise is None:
            # Nothing fills the padding yet, so mixers can align clips by their true lengths.
            lengths = self.splits.train.lengths[idx].clamp(1, x.shape[-1])
        if self.shift is not None:
            x = self.shift(x)
        if self.noise is not None:
            x = self.noise(x)
        if self.normalize_rms:
            x = audiomix.functional.normalize_rms(
                x, target_db=self.cfg["mixup"]["target_db"], lengths=lengths
            )
        targets: Tensor | None = None
        if self.stage == "waveform":
            if lengths is None:
                x, targets = self.mixer(x, y)
            else:
                x, targets, lengths = self.mixer(x, y, lengths)
        x = x.to(self.device, non_blocking=True)
        spec = self.frontend(x)
        if self.stage == "spectrogram":
            y_dev = y.to(self.device)
            if lengths is None:
                spec, targets = self.mixer(spec, y_dev)
            else:
                frames = self.frontend.frame_lengths(lengths).to(self.device)
                spec, targets, _ = self.mixer(spec, y_dev, frames)
        if self.specaugment is not None:
            spec = self.specaugment(spec.unsqueeze(1)).squeeze(1)
        logits = self.model(spec)
        if targets is None:
            loss = F.cross_entropy(logits, y.to(self.device))
        else:
            loss = audiomix.functional.soft_target_cross_entropy(logits, targets.to(self.device))
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.sched.step()
        return float(loss.detach()) * x.shape[0], x.shape[0]

    def train_epoch(self) -> float:
        self.model.train()
        if isinstance(self.sampler, DistributedSampler):
            self.sampler.set_epoch(self.epoch)
        total, count = 0.0, 0
        bar = _progress(
            self.steps_per_epoch,
            f"epoch {self.epoch + 1}/{self.cfg['train']['epochs']}",
            disable=self.quiet,
        )
        for x, y, idx in self.loader:
            loss, n = self._train_batch(x, y, idx)
            total += loss
            count += n
            bar.update(1)
            bar.set_postfix(loss=f"{total / count:.3f}", refresh=False)
        bar.close()
        total, count = _all_sum([total, count], self.d, self.device)
        return total / max(count, 1)

    # -- evaluation ----------------------------------------------------------------------------

    def _eval_loader(self, ds: SpeechCommands, items: Sequence[int]) -> DataLoader:
        return DataLoader(
            torch.utils.data.Subset(_Indexed(ds), list(items)),
            batch_size=self.cfg["eval"]["batch_size"],
            shuffle=False,
            collate_fn=_collate,
            num_workers=self.cfg["data"]["num_workers"],
        )

    @torch.no_grad()
    def _features(
        self, ds: SpeechCommands, mine: Sequence[int], cache_key: str | None
    ) -> list[tuple[Tensor, Tensor]]:
        """``(log-mel, item index)`` batches of ``mine``, kept under ``cache_key`` if given."""
        if cache_key is not None and cache_key in self._features_cache:
            return self._features_cache[cache_key]
        batches = [
            (self.frontend(x.to(self.device)), idx.to(self.device))
            for x, _, idx in self._eval_loader(ds, mine)
        ]
        if cache_key is not None:
            self._features_cache[cache_key] = batches
        return batches

    @torch.no_grad()
    def predict(
        self,
        ds: SpeechCommands,
        indices: Sequence[int] | None = None,
        *,
        cache_key: str | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Logits and item indices over ``indices`` (default: all), gathered from every rank,
        in index order. No augmentation, eval mode. With ``cache_key``, the log-mels are
        computed on the first call and reused (for sets evaluated every epoch)."""
        self.model.eval()
        wanted = list(range(len(ds))) if indices is None else list(indices)
        mine = [wanted[i] for i in _eval_indices(len(wanted), self.d)]
        outs, idxs = [], []
        for spec, idx in self._features(ds, mine, cache_key):
            outs.append(self.net(spec).float())
            idxs.append(idx)
        return self._gathered(outs, idxs)

    def _gathered(self, outs: list[Tensor], idxs: list[Tensor]) -> tuple[Tensor, Tensor]:
        n_cls = self.splits.num_classes
        logits = torch.cat(outs) if outs else torch.zeros((0, n_cls), device=self.device)
        index = torch.cat(idxs) if idxs else torch.zeros((0,), dtype=torch.long, device=self.device)
        logits, index = _gather_rows(logits, self.d).cpu(), _gather_rows(index, self.d).cpu()
        order = torch.argsort(index)
        return logits[order], index[order]

    def evaluate(
        self, ds: SpeechCommands, *, detail: bool = False, cache_key: str | None = None
    ) -> tuple[dict[str, Any], Tensor, Tensor]:
        logits, index = self.predict(ds, cache_key=cache_key)
        labels = ds.labels[index]
        m = classification_metrics(
            logits, labels, self.splits.num_classes, n_bins=self.cfg["eval"]["ece_bins"], detail=detail
        )
        return m, logits, labels

    def train_accuracy(
        self, indices: Sequence[int] | None = None, *, cache_key: str | None = None
    ) -> dict[str, float]:
        """Accuracy on training clips (no augmentation) against the noisy and the clean labels.

        On the clips whose label was flipped, ``accuracy_noisy`` counts memorised wrong labels
        and ``accuracy_clean`` the true class recovered despite them.
        """
        logits, index = self.predict(self.splits.train, indices, cache_key=cache_key)
        pred = logits.argmax(dim=1)
        noisy = self.splits.train.labels[index]
        clean = self.splits.clean_train_labels[index]
        flipped = noisy != clean
        out = {
            "accuracy_noisy": float((pred == noisy).double().mean()),
            "accuracy_clean": float((pred == clean).double().mean()),
        }
        if bool(flipped.any()):
            out["flipped_share"] = float(flipped.double().mean())
            out["flipped_accuracy_noisy"] = float((pred == noisy)[flipped].double().mean())
            out["flipped_accuracy_clean"] = float((pred == clean)[flipped].double().mean())
        return out

    # -- the loop --------------------------------------------------------------------------

    def fit(self, run_dir: Path) -> None:
        epochs = self.cfg["train"]["epochs"]
        while self.epoch < epochs:
            started = time.perf_counter()
            train_loss = self.train_epoch()
            val, val_logits, val_labels = self.evaluate(self.splits.val, cache_key="validation")
            self._last_val = (self.epoch + 1, dict(val), val_logits, val_labels)
            row: dict[str, Any] = {
                "epoch": self.epoch + 1,
                "lr": self.sched.get_last_lr()[0],
                "train_loss": train_loss,
                "val_accuracy": val["accuracy"],
                "val_nll": val["nll"],
                "val_ece": val["ece"],
            }
            if self.train_subset:
                sub = self.train_accuracy(self.train_subset, cache_key="train-subset")
                row["train_accuracy_noisy"] = sub["accuracy_noisy"]
                row["train_accuracy_clean"] = sub["accuracy_clean"]
            row["seconds"] = time.perf_counter() - started
            self.history.append(row)
            self.epoch += 1
            self.save_checkpoint(run_dir / CHECKPOINT)
            if self.d.main:
                _write_csv(run_dir / EPOCHS_CSV, self.history)
            if not self.quiet:
                _log(_epoch_line(row, epochs))

    def final_metrics(self) -> dict[str, Any]:
        started = time.perf_counter()
        self._features_cache.clear()  # training is over: free the memory
        test, test_logits, test_labels = self.evaluate(self.splits.test, detail=True)
        if self._last_val is not None and self._last_val[0] == self.epoch:
            _, val, val_logits, val_labels = self._last_val  # the same model, the same numbers
            val = dict(val)
        else:
            val, val_logits, val_labels = self.evaluate(self.splits.val)
        temperature = fit_temperature(val_logits, val_labels)
        scaled = classification_metrics(
            test_logits / temperature, test_labels, self.splits.num_classes,
            n_bins=self.cfg["eval"]["ece_bins"], detail=True,
        )
        test.update(
            temperature=temperature,
            nll_ts=scaled["nll"],
            ece_ts=scaled["ece"],
            reliability_ts=scaled["reliability"],
        )
        test["per_class_accuracy"] = dict(
            zip(self.splits.class_names, test["per_class_accuracy"], strict=True)
        )
        val_scaled = classification_metrics(
            val_logits / temperature, val_labels, self.splits.num_classes,
            n_bins=self.cfg["eval"]["ece_bins"],
        )
        val.update(nll_ts=val_scaled["nll"], ece_ts=val_scaled["ece"])
        train = self.train_accuracy()
        train["label_noise"] = self.cfg["train"]["label_noise"]
        self.timing["final_eval_seconds"] = time.perf_counter() - started
        robust_started = time.perf_counter()
        robustness = self.robustness(temperature)
        self.timing["robustness_seconds"] = time.perf_counter() - robust_started
        return {
            "method": self.cfg["mixup"]["method"],
            "normalize_rms": bool(self.cfg["mixup"]["normalize_rms"]),
            "label_noise": self.cfg["train"]["label_noise"],
            "seed": self.cfg["seed"],
            "epochs": self.epoch,
            "config_digest": config_digest(self.cfg),
            "num_parameters": count_parameters(self.net),
            "class_names": self.splits.class_names,
            "sizes": {
                "train": len(self.splits.train),
                "validation": len(self.splits.val),
                "test": len(self.splits.test),
            },
            "test": test,
            "validation": val,
            "train": train,
            "robustness": robustness,
        }

    # -- accuracy under shift ------------------------------------------------------------------

    @torch.no_grad()
    def robustness(self, temperature: float) -> dict[str, dict[str, Any]]:
        """Metrics on shifted copies of the test split (see ``robustness.py``), raw and with
        the validation-fitted ``temperature``; ``{}`` when disabled."""
        rcfg = self.cfg["robustness"]
        conditions = R.conditions(rcfg)
        if not conditions:
            return {}
        sr = self.cfg["data"]["sample_rate"]
        noise, self._shift_noise = R.held_out_noise(self.root, sample_rate=sr, seed=rcfg["seed"])
        self.model.eval()
        ds = self.splits.test
        out: dict[str, dict[str, Any]] = {}
        n_bins = self.cfg["eval"]["ece_bins"]
        for cond in conditions:
            shift = R.Shift(cond, noise, sample_rate=sr, seed=rcfg["seed"])
            outs, idxs = [], []
            # Every rank shifts every chunk (the draws continue from chunk to chunk), then
            # keeps its own rows: the shifted clips do not depend on the number of ranks.
            for x, _, idx in self._eval_loader(ds, range(len(ds))):
                x = shift(x)
                mine = (idx % self.d.world) == self.d.rank
                spec = self.frontend(x[mine].to(self.device))
                outs.append(self.net(spec).float())
                idxs.append(idx[mine].to(self.device))
            logits, index = self._gathered(outs, idxs)
            labels = ds.labels[index]
            m = classification_metrics(logits, labels, self.splits.num_classes, n_bins=n_bins)
            ts = classification_metrics(
                logits / temperature, labels, self.splits.num_classes, n_bins=n_bins
            )
            entry = {"label": cond.label, **m, "nll_ts": ts["nll"], "ece_ts": ts["ece"]}
            if cond.kind == "clip":
                entry["clipped_share"] = shift.clipped / len(ds)
            out[cond.name] = entry
        return out

    def applied(self) -> dict[str, Any]:
        """What this run applied (data, splits, augmentations, mixing, label noise, shift
        evaluation), as opposed to what the config asked for: for ``run_info.json`` and
        the comparison's report."""
        cfg, splits = self.cfg, self.splits
        a, m = cfg["augment"], cfg["mixup"]
        train = splits.train
        names = splits.class_names
        if SILENCE in names:
            silence = f"cut from `{BACKGROUND_NOISE_DIR}` (each split from its own region)"
        elif any(p.suffix == ".wav" for p in (self.root / BACKGROUND_NOISE_DIR).glob("*")):
            silence = "none (data.silence_ratio = 0)"
        else:
            silence = f"none, the dataset has no `{BACKGROUND_NOISE_DIR}`"
        if self.noise is not None:
            noise = (
                f"p = {a['noise_prob']:g} at {a['noise_snr_db'][0]:g}-{a['noise_snr_db'][1]:g} dB "
                f"SNR, {int(self.noise.lengths.shape[0])} `{BACKGROUND_NOISE_DIR}` recording(s) "
                "(their first 80 %)"
            )
        else:
            noise = f"none, {self.noise_off_reason}"
        rcfg = cfg["robustness"]
        conditions = R.conditions(rcfg)
        flipped = int((train.labels != splits.clean_train_labels).sum())
        return {
            "data": {
                "dataset": str(self.root),
                "task": str(cfg["data"]["task"]),
                "classes": list(names),
                "keywords_missing": list(train.missing_keywords),
                "silence": silence,
                "unknown": "other word folders" if UNKNOWN in names else "none (no other word folders)",
            },
            "splits": {
                "rule": (
                    "validation_list.txt and testing_list.txt"
                    if train.split_rule == "list files"
                    else "the official hash rule (no list files)"
                ),
                "sizes": {"train": len(train), "validation": len(splits.val), "test": len(splits.test)},
            },
            "augment": {
                "time_shift": f"±{a['time_shift_ms']:g} ms" if self.shift is not None else "none",
                "background_noise": noise,
                "specaugment": self.specaugment is not None,
            },
            "mixup": {
                "method": m["method"],
                "class": None if self.mixer is None else type(self.mixer).__name__,
                "stage": self.stage,
                "normalize_rms": self.normalize_rms,
                "aligned_by_length": self.mixer is not None and self.shift is None and self.noise is None,
            },
            "label_noise": {"rate": cfg["train"]["label_noise"], "flipped": flipped, "of": len(train)},
            "robustness": {
                "conditions": {c.name: c.label for c in conditions},
                "noise": self._shift_noise if any(c.kind == "noise" for c in conditions) else None,
            },
        }


# --------------------------------------------------------------------------------------------
# Files and logging
# --------------------------------------------------------------------------------------------


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    fields: list[str] = []
    for row in rows:
        fields += [k for k in row if k not in fields]

    def write(f: Any) -> None:
        import io

        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
        f.write(buf.getvalue().encode("utf-8"))

    _atomic_write(path, write)


def _epoch_line(row: dict[str, Any], epochs: int) -> str:
    line = (
        f"epoch {row['epoch']}/{epochs}  loss {row['train_loss']:.3f}  "
        f"val acc {100 * row['val_accuracy']:.1f}%  nll {row['val_nll']:.3f}  "
        f"ece {row['val_ece']:.3f}"
    )
    if "train_accuracy_noisy" in row:
        line += (
            f"  train acc noisy/clean {100 * row['train_accuracy_noisy']:.1f}/"
            f"{100 * row['train_accuracy_clean']:.1f}%"
        )
    return line + f"  ({row['seconds']:.1f} s)"


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def _methods_help() -> str:
    return ", ".join(["none", *available_mixers()])


def build_parser() -> argparse.ArgumentParser:
    defaults = load_config()
    parser = argparse.ArgumentParser(
        prog="python -m recipes.speech_commands.train",
        description=(
            "Train and evaluate a keyword-spotting CNN on Speech Commands (or the built-in "
            "synthetic copy) with or without mixup. Every config key can be set as "
            "--set key=value or --key value (e.g. --mixup.method spectrogram)."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            f"mixup methods available: {_methods_help()}\n"
            f"default config: {DEFAULT_CONFIG}\n\nconfig keys (default):\n"
            + "\n".join(f"  --{k} {v!r}" for k, v in _flatten(defaults).items())
        ),
    )
    parser.add_argument("--config", type=Path, default=None, help="YAML config (default: the recipe's config.yaml)")
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key (repeatable), value parsed as YAML")
    parser.add_argument("--quick", action="store_true", help="tiny data and 2 epochs (the config's quick: section)")
    parser.add_argument("--resume", action="store_true", help="continue from run_dir/checkpoint.pt if present")
    parser.add_argument("--overwrite", action="store_true", help="delete earlier outputs in run_dir first")
    parser.add_argument("--quiet", action="store_true", default=None, help="no progress bars or per-epoch lines")
    parser.add_argument("--run-dir", dest="run_dir", default=None, help="output folder (config: run_dir)")
    parser.add_argument("--data-dir", dest="data_dir", default=None,
                        help="Speech Commands folder, v0.01/v0.02 layout (config: data.dir)")
    parser.add_argument("--download", action="store_true", default=None,
                        help="download Speech Commands v0.02 into the cache first (config: data.download)")
    parser.add_argument("--seed", type=int, default=None, help="config: seed")
    return parser


def parse_args(argv: Sequence[str] | None = None) -> tuple[argparse.Namespace, dict[str, Any]]:
    """Parses the command line into (flags, resolved config)."""
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    overrides: list[tuple[str, Any]] = []
    # --key value / --key=value for any dotted config key
    i = 0
    while i < len(rest):
        token = rest[i]
        if not token.startswith("--") or token == "--":
            parser.error(f"unrecognised argument: {token}")
        key = token[2:]
        if "=" in key:
            key, value = key.split("=", 1)
            i += 1
        else:
            if i + 1 >= len(rest):
                parser.error(f"argument {token} expects a value")
            value = rest[i + 1]
            i += 2
        overrides.append((key, parse_value(value)))
    for item in args.sets:
        try:
            overrides.append(parse_set(item))
        except ValueError as err:
            parser.error(str(err))
    for flag, key in (
        ("run_dir", "run_dir"),
        ("data_dir", "data.dir"),
        ("download", "data.download"),
        ("seed", "seed"),
        ("quiet", "quiet"),
    ):
        if getattr(args, flag) is not None:
            overrides.append((key, getattr(args, flag)))
    try:
        cfg = load_config(args.config, overrides, quick=args.quick)
    except ValueError as err:
        parser.error(str(err))
    return args, cfg


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else what ``platform`` knows)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _set_threads(cfg: dict[str, Any], d: Dist) -> int:
    threads = cfg["train"]["threads"]
    if threads <= 0 and d.enabled:
        threads = max(1, (os.cpu_count() or 1) // d.local_world)
    if threads > 0:
        torch.set_num_threads(threads)
    return torch.get_num_threads()


def run(
    cfg: dict[str, Any], *, resume: bool = False, overwrite: bool = False
) -> dict[str, Any] | None:
    """Trains and evaluates one run; returns the final metrics (on rank 0; None elsewhere)."""
    started = time.perf_counter()
    cpu_started = time.process_time()
    d = _init_distributed()
    try:
        threads = _set_threads(cfg, d)
        run_dir = Path(cfg["run_dir"])
        ckpt = run_dir / CHECKPOINT
        quiet = bool(cfg["quiet"]) or not d.main
        if d.main:
            existing = [p for p in (ckpt, run_dir / METRICS) if p.exists()]
            if existing and overwrite:
                shutil.rmtree(run_dir)
            elif existing and not resume:
                raise FileExistsError(
                    f"{run_dir} already holds a run ({existing[0].name}); pass --resume to "
                    "continue it, --overwrite to start again, or choose another --run-dir."
                )
            run_dir.mkdir(parents=True, exist_ok=True)
            _atomic_text(run_dir / RESOLVED_CONFIG, yaml.safe_dump(cfg, sort_keys=False))
        # Rank 0 prepares the data (generation or download) while the others wait.
        if d.main:
            root = prepare_data(cfg, progress=not quiet)
        if d.enabled:
            dist.barrier()
        if not d.main:
            root = prepare_data(cfg, progress=False)
        data_started = time.perf_counter()
        splits = load_splits(cfg, root)
        load_seconds = time.perf_counter() - data_started
        trainer = Trainer(cfg, d, root, splits)
        resumed_from = 0
        if resume and ckpt.exists():
            trainer.load_checkpoint(ckpt)
            resumed_from = trainer.epoch
            if not quiet:
                _log(f"resumed {run_dir} after epoch {resumed_from}")
        if not quiet:
            _log(
                f"data {root}: train {len(splits.train)}, val {len(splits.val)}, test "
                f"{len(splits.test)} clips, {splits.num_classes} classes; model "
                f"{cfg['model']['arch']} ({count_parameters(trainer.net):,} parameters); "
                f"mixup {cfg['mixup']['method']}; label noise {cfg['train']['label_noise']:.0%}; "
                f"{d.world} process(es) x {threads} thread(s)"
            )
        train_started = time.perf_counter()
        trainer.fit(run_dir)
        train_seconds = time.perf_counter() - train_started
        metrics = trainer.final_metrics()
        if d.main:
            _atomic_text(run_dir / METRICS, json.dumps(metrics, indent=1) + "\n")
            info = {
                "wall_seconds": time.perf_counter() - started,
                "cpu_seconds": time.process_time() - cpu_started,  # this process (rank 0)
                "train_seconds": train_seconds,
                "data_load_seconds": load_seconds,
                "resumed_from_epoch": resumed_from,
                **trainer.timing,
                "world_size": d.world,
                "threads_per_process": threads,
                "device": str(trainer.device),
                "host": socket.gethostname(),
                "cpu_model": cpu_model(),
                "cpu_count": os.cpu_count(),
                "cpus_available": len(os.sched_getaffinity(0))
                if hasattr(os, "sched_getaffinity") else os.cpu_count(),
                "platform": platform.platform(),
                "torch": torch.__version__,
                "dataset": str(root),
                "applied": trainer.applied(),
            }
            _atomic_text(run_dir / RUN_INFO, json.dumps(info, indent=1) + "\n")
            if not quiet:
                t = metrics["test"]
                _log(
                    f"test acc {100 * t['accuracy']:.2f}%  nll {t['nll']:.3f} "
                    f"(T-scaled {t['nll_ts']:.3f})  ece {t['ece']:.3f} (T-scaled {t['ece_ts']:.3f})"
                    f"  -> {run_dir / METRICS}  [{info['wall_seconds']:.0f} s]"
                )
        if d.enabled:
            dist.barrier()  # rank 0 may still be writing: no rank tears down gloo before the rest
        return metrics if d.main else None
    finally:
        if d.enabled and dist.is_initialized():
            trainer = None  # the DDP wrapper and its reducer go before the process group they use
            gc.collect()
            dist.destroy_process_group()


def main(argv: Sequence[str] | None = None) -> int:
    args, cfg = parse_args(argv)
    try:
        run(cfg, resume=args.resume, overwrite=args.overwrite)
    except (FileExistsError, ValueError) as err:
        _log(f"error: {err}")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
