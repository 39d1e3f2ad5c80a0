"""The data of a run: the dataset folder (given, downloaded or generated) and its three
splits as configured, with label noise on the training labels.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset

from .dataset import SpeechCommands
from .label_noise import corrupt_labels

__all__ = ["IndexedItems", "Splits", "collate_indexed", "load_splits", "prepare_data"]


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


class IndexedItems(Dataset):
    """Items ``(waveform (time,), label, index)``: the index finds the clean label later."""

    def __init__(self, base: SpeechCommands) -> None:
        self.base = base

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> tuple[Tensor, int, int]:
        waveform, label = self.base[index]
        return waveform[0], label, index


def collate_indexed(items: list[tuple[Tensor, int, int]]) -> tuple[Tensor, Tensor, Tensor]:
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
            keywords=d["keywords"],
            silence_ratio=d["silence_ratio"],
            unknown_ratio=d["unknown_ratio"],
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
            f"_silence_). Training clips per class: "
            f"{dict(zip(train.class_names, counts, strict=True))}."
        )
    return train, val, test
