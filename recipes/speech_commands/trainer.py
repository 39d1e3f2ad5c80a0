"""One run's training and evaluation: :class:`Trainer` (model, the training pipeline as an
``audiomix.Chain``, optimiser, checkpoints with every random state, the loop, the evaluation
passes, the evaluation under shift and the description of what the run applied).
"""

from __future__ import annotations

import csv
import io
import json
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import BatchSampler, DataLoader, DistributedSampler, RandomSampler

import audiomix

from . import features
from . import robustness as R
from .augment import BackgroundNoise, RandomTimeShift, RMSNormalization, SpecAugment
from .common import (
    BACKGROUND_NOISE_DIR,
    atomic_torch_save,
    atomic_write,
    derive_seed,
    log,
    progress,
)
from .config import CHECKPOINT, EPOCHS_CSV, config_digest
from .dataset import SILENCE, UNKNOWN, SpeechCommands
from .distributed import Dist, all_sum, eval_indices, gather_rows
from .metrics import classification_metrics, fit_temperature
from .mixers import build_mixer
from .model import FrontEnd, KWSNet, count_parameters
from .splits import IndexedItems, Splits, collate_indexed

__all__ = ["Trainer", "epoch_line", "write_csv"]


class Trainer:
    """One run on one rank: builds the model, augmentations, mixer, loader and optimiser from
    the config (in a fixed order, so the random draws repeat), trains, evaluates, checkpoints.

    Args:
        cfg (dict): the resolved config.
        d (Dist): this process's rank and world size.
        root (Path): the dataset folder.
        splits (Splits): the three splits, training labels possibly noisy.
    """

    def __init__(self, cfg: dict[str, Any], d: Dist, root: Path, splits: Splits) -> None:
        self.cfg = cfg
        self.d = d
        self.root = root
        self.splits = splits
        self.quiet = bool(cfg["quiet"]) or not d.main
        self.device = torch.device(f"cuda:{d.local_rank}" if torch.cuda.is_available() else "cpu")
        seed = cfg["seed"]
        # The order of these steps is the order of the random draws: keep it.
        self._build_model()
        # From here on each rank has its own streams (dropout, SpecAugment, augmentations).
        torch.manual_seed(derive_seed(seed, "torch", d.rank))
        self.g_data = torch.Generator().manual_seed(derive_seed(seed, "data-order"))
        self.g_shift = torch.Generator().manual_seed(derive_seed(seed, "shift", d.rank))
        self.g_noise = torch.Generator().manual_seed(derive_seed(seed, "noise", d.rank))
        self._build_augmentations(root)
        self.mixer, self.stage = build_mixer(cfg, splits.num_classes)
        self.normalize_rms = bool(cfg["mixup"]["normalize_rms"]) and self.mixer is not None
        self._build_pipeline()
        self._build_loader()
        self._build_optimizer()

        # A fixed subset of the training clips for the per-epoch memorisation curve.
        n_sub = min(cfg["eval"]["train_subset"], len(splits.train))
        g = torch.Generator().manual_seed(derive_seed(seed, "train-subset"))
        self.train_subset = sorted(torch.randperm(len(splits.train), generator=g)[:n_sub].tolist())
        self.epoch = 0
        self.history: list[dict[str, Any]] = []
        # The last validation pass, which the final metrics would otherwise repeat with the
        # same model.
        self._last_val: tuple[int, dict[str, Any], Tensor, Tensor] | None = None
        self.timing: dict[str, float] = {}
        self._shift_noise: str | None = None  # what the evaluation under shift added
        # What the log-mels stored for this process belong to (features.stored).
        data = {k: v for k, v in cfg["data"].items() if k != "num_workers"}
        self._store_key = json.dumps(
            [str(root), data, cfg["features"], str(self.device), cfg["eval"]["batch_size"]],
            sort_keys=True,
            default=str,
        )

    # -- set-up ----------------------------------------------------------------------------------

    def _build_model(self) -> None:
        cfg, d = self.cfg, self.d
        torch.manual_seed(cfg["seed"])  # model initialisation: the same on every rank
        self.frontend = FrontEnd.from_config(cfg).to(self.device)
        m = cfg["model"]
        self.net = KWSNet(
            self.splits.num_classes,
            arch=m["arch"],
            width=m["width"],
            dropout=m["dropout"],
            n_mels=cfg["features"]["n_mels"],
            blocks=m["blocks"],
        ).to(self.device)
        self.model: nn.Module = self.net
        if d.enabled:
            self.model = nn.parallel.DistributedDataParallel(
                self.net, device_ids=[d.local_rank] if self.device.type == "cuda" else None
            )

    def _build_augmentations(self, root: Path) -> None:
        acfg = self.cfg["augment"]
        sr = self.cfg["data"]["sample_rate"]
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
                warnings.warn(f"no background-noise augmentation: {err}", UserWarning, stacklevel=3)
        self.specaugment = None
        if acfg["specaugment"]:
            self.specaugment = SpecAugment(acfg["freq_mask"], acfg["time_mask"])

    def _build_pipeline(self) -> None:
        """The training batch's way from waveforms to (mixed) log-mels, one ``audiomix.Chain``:
        [time shift] → [background noise] → [RMS normalisation] → [waveform mixer] → log-mel
        → [spectrogram mixer] → [SpecAugment]."""
        waveform_steps: list[nn.Module] = []
        if self.shift is not None:
            waveform_steps.append(audiomix.TrainingOnly(self.shift))
        if self.noise is not None:
            waveform_steps.append(audiomix.TrainingOnly(self.noise))
        if self.normalize_rms:
            rms = RMSNormalization(self.cfg["mixup"]["target_db"])
            waveform_steps.append(audiomix.TrainingOnly(rms))
        if self.stage == "waveform":
            waveform_steps.append(self.mixer)
        spectrogram_steps: list[nn.Module] = []
        if self.stage == "spectrogram":
            spectrogram_steps.append(self.mixer)
        if self.specaugment is not None:
            spectrogram_steps.append(audiomix.TrainingOnly(self.specaugment))
        steps = [*waveform_steps, self.frontend, *spectrogram_steps]
        self.pipeline = audiomix.Chain(*steps)
        # Nothing fills the padding of short clips: mixers get their true lengths and align them.
        self.aligned = self.shift is None and self.noise is None
        # The steps before the first random one give a training clip the same output in every
        # epoch: the log-mel when no random step comes before the front end, the loudness-
        # normalised waveform before a waveform mixer. That output is computed once
        # (features.stored) and the batch starts after it.
        self.fixed: str | None = None
        if self.aligned and self.stage != "waveform":
            self.fixed = "logmels"
        elif self.aligned and self.normalize_rms:
            self.fixed = "waveforms"
        done = {None: 0, "waveforms": 1, "logmels": len(waveform_steps) + 1}[self.fixed]
        self.after_fixed = audiomix.Chain(*steps[done:])

    def _build_loader(self) -> None:
        """Training batches: the global batch is split across ranks."""
        cfg, d, tcfg = self.cfg, self.d, self.cfg["train"]
        seed = cfg["seed"]
        self.train_set = IndexedItems(self.splits.train)
        self.batch_size = max(1, tcfg["batch_size"] // d.world)
        if d.enabled:
            self.sampler: Any = DistributedSampler(
                self.train_set,
                num_replicas=d.world,
                rank=d.rank,
                shuffle=True,
                seed=derive_seed(seed, "data-order") % 2**31,
                drop_last=True,
            )
        else:
            self.sampler = RandomSampler(self.train_set, generator=self.g_data)
        self.loader = DataLoader(
            self.train_set,
            batch_size=self.batch_size,
            sampler=self.sampler,
            drop_last=True,  # a batch of one would break BatchNorm (and mixes with itself)
            collate_fn=collate_indexed,
            num_workers=cfg["data"]["num_workers"],
            generator=torch.Generator().manual_seed(derive_seed(seed, "workers", d.rank)),
        )
        self.steps_per_epoch = len(self.loader)
        if self.steps_per_epoch == 0:
            raise ValueError(
                f"the training split has {len(self.train_set)} clips, fewer than one batch of "
                f"{self.batch_size} per rank; lower train.batch_size."
            )

    def _build_optimizer(self) -> None:
        tcfg = self.cfg["train"]
        total_steps = self.steps_per_epoch * tcfg["epochs"]
        if tcfg["optimizer"] == "adamw":
            self.opt: torch.optim.Optimizer = torch.optim.AdamW(
                self.net.parameters(), lr=tcfg["lr"], weight_decay=tcfg["weight_decay"]
            )
        else:
            self.opt = torch.optim.SGD(
                self.net.parameters(),
                lr=tcfg["lr"],
                momentum=0.9,
                nesterov=True,
                weight_decay=tcfg["weight_decay"],
            )
        if tcfg["scheduler"] == "onecycle":
            self.sched: Any = torch.optim.lr_scheduler.OneCycleLR(
                self.opt,
                max_lr=tcfg["lr"],
                total_steps=total_steps,
                pct_start=tcfg["warmup"],
                anneal_strategy="cos",
            )
        elif tcfg["scheduler"] == "cosine":
            self.sched = torch.optim.lr_scheduler.CosineAnnealingLR(self.opt, T_max=total_steps)
        else:
            self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, lambda _: 1.0)

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
            "epoch": self.epoch,
            "config_digest": config_digest(self.cfg),
            "world_size": self.d.world,
            "model": self.net.state_dict(),
            "optimizer": self.opt.state_dict(),
            "scheduler": self.sched.state_dict(),
            "history": self.history,
            "rank_states": states,
        }
        atomic_torch_save(payload, path)

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

    def _train_batch(self, idx: Tensor, x: Tensor | None) -> tuple[float, int]:
        """One optimiser step on the training clips ``idx`` (their waveforms ``x``, or None
        when the pipeline starts from their stored fixed outputs)."""
        y = self.splits.train.labels[idx].to(self.device)
        lengths: Tensor | None = None
        if self.aligned:
            lengths = self.splits.train.lengths[idx].clamp(1, self.num_samples).to(self.device)
        if x is not None:
            out = self.pipeline(x.to(self.device, non_blocking=True), y, lengths)
        elif self.fixed == "logmels":
            frames = None if lengths is None else self.frontend.frame_lengths(lengths)
            out = self.after_fixed(self._train_logmels()[idx.to(self.device)], y, frames)
        else:
            out = self.after_fixed(self._train_waveforms()[idx.to(self.device)], y, lengths)
        spec, targets = out[0], out[1]
        logits = self.model(spec)
        if self.mixer is None:
            loss = F.cross_entropy(logits, y)
        else:
            loss = audiomix.functional.soft_target_cross_entropy(logits, targets)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.sched.step()
        return float(loss.detach()) * spec.shape[0], spec.shape[0]

    def _batches(self) -> Any:
        """``(item indices, waveforms or None)`` of one epoch's training batches."""
        if self.fixed is not None:
            # The sampler draws the same order as the loader would; no audio to load.
            for idx in BatchSampler(self.sampler, self.batch_size, drop_last=True):
                yield torch.tensor(idx, dtype=torch.long), None
        else:
            for x, _, idx in self.loader:
                yield idx, x

    def train_epoch(self) -> float:
        self.model.train()
        self.pipeline.train()
        if isinstance(self.sampler, DistributedSampler):
            self.sampler.set_epoch(self.epoch)
        total, count = 0.0, 0
        bar = progress(
            self.steps_per_epoch,
            f"epoch {self.epoch + 1}/{self.cfg['train']['epochs']}",
            disable=self.quiet,
        )
        for idx, x in self._batches():
            loss, n = self._train_batch(idx, x)
            total += loss
            count += n
            bar.update(1)
            bar.set_postfix(loss=f"{total / count:.3f}", refresh=False)
        bar.close()
        total, count = all_sum([total, count], self.d, self.device)
        return total / max(count, 1)

    # -- evaluation ----------------------------------------------------------------------------

    @property
    def num_samples(self) -> int:
        return self.splits.train.num_samples

    def _eval_loader(self, ds: SpeechCommands) -> DataLoader:
        return DataLoader(
            IndexedItems(ds),
            batch_size=self.cfg["eval"]["batch_size"],
            shuffle=False,
            collate_fn=collate_indexed,
            num_workers=self.cfg["data"]["num_workers"],
            # Its own generator: computing stored log-mels draws nothing from torch's.
            generator=torch.Generator().manual_seed(0),
        )

    @torch.no_grad()
    def _compute_split(
        self, ds: SpeechCommands, transform: Any = None, *, frontend: bool = True
    ) -> Tensor:
        """Log-mels ``(len(ds), n_mels, frames)`` of every clip of ``ds`` in item order, in
        chunks of ``eval.batch_size``; ``transform(x, idx)`` changes each chunk's waveforms
        first; without ``frontend``, the (transformed) waveforms ``(len(ds), time)``."""
        chunks = []
        for x, _, idx in self._eval_loader(ds):
            x = x.to(self.device)
            x = x if transform is None else transform(x, idx)
            chunks.append(self.frontend(x) if frontend else x)
        # Kept in the memory layout the front end gives: the layout decides the order of the
        # network's reductions, so stored log-mels give the numbers fresh ones would.
        first = chunks[0]
        order = sorted(range(first.ndim), key=lambda dim: -first.stride(dim))
        inverse = sorted(range(first.ndim), key=order.__getitem__)
        return torch.cat([c.permute(order) for c in chunks]).permute(inverse)

    def _logmels(self, name: str, ds: SpeechCommands, transform: Any = None) -> Tensor:
        """:meth:`_compute_logmels`, once per process (:func:`features.stored`)."""
        return features.stored(self._store_key, name, lambda: self._compute_split(ds, transform))

    def _normalise(self, x: Tensor, idx: Tensor) -> Tensor:
        """The pipeline's RMS normalisation of the training clips ``idx``."""
        n = self.splits.train.lengths[idx].clamp(1, x.shape[-1]).to(x.device)
        return RMSNormalization(self.cfg["mixup"]["target_db"])(x, n if self.aligned else None)[0]

    def _train_logmels(self) -> Tensor:
        """The training clips' log-mels as the pipeline makes them when no random step comes
        before the front end (RMS-normalised when the run normalises)."""
        if not self.normalize_rms:
            return self._logmels("training", self.splits.train)
        name = f"training/rms{self.cfg['mixup']['target_db']:g}/{self.aligned}"
        return self._logmels(name, self.splits.train, self._normalise)

    def _train_waveforms(self) -> Tensor:
        """The training clips ``(n, time)`` RMS-normalised as the pipeline does it."""
        train = self.splits.train
        return features.stored(
            self._store_key,
            f"training/waveforms/rms{self.cfg['mixup']['target_db']:g}/{self.aligned}",
            lambda: self._compute_split(train, self._normalise, frontend=False),
        )

    @torch.no_grad()
    def predict(self, logmels: Tensor, indices: Sequence[int]) -> tuple[Tensor, Tensor]:
        """Logits and item indices over ``indices`` of a split whose log-mels are ``logmels``,
        gathered from every rank, in index order. No augmentation, eval mode."""
        # Every pass draws one number from torch's global generator, the seed a pass over a
        # DataLoader draws: the training streams (dropout, SpecAugment) are then those of
        # passes over the evaluation loaders, whether or not the log-mels were stored.
        torch.empty((), dtype=torch.int64).random_()
        self.model.eval()
        mine = [indices[i] for i in eval_indices(len(indices), self.d)]
        size = self.cfg["eval"]["batch_size"]
        outs, idxs = [], []
        for start in range(0, len(mine), size):
            idx = torch.tensor(mine[start : start + size], dtype=torch.long, device=self.device)
            outs.append(self.net(logmels[idx]).float())
            idxs.append(idx)
        return self._gathered(outs, idxs)

    def _gathered(self, outs: list[Tensor], idxs: list[Tensor]) -> tuple[Tensor, Tensor]:
        n_cls = self.splits.num_classes
        logits = torch.cat(outs) if outs else torch.zeros((0, n_cls), device=self.device)
        index = torch.cat(idxs) if idxs else torch.zeros((0,), dtype=torch.long, device=self.device)
        logits, index = gather_rows(logits, self.d).cpu(), gather_rows(index, self.d).cpu()
        order = torch.argsort(index)
        return logits[order], index[order]

    def evaluate(
        self, name: str, ds: SpeechCommands, *, detail: bool = False
    ) -> tuple[dict[str, Any], Tensor, Tensor]:
        logits, index = self.predict(self._logmels(name, ds), range(len(ds)))
        labels = ds.labels[index]
        m = classification_metrics(
            logits,
            labels,
            self.splits.num_classes,
            n_bins=self.cfg["eval"]["ece_bins"],
            detail=detail,
        )
        return m, logits, labels

    def train_accuracy(self, indices: Sequence[int] | None = None) -> dict[str, float]:
        """Accuracy on training clips (no augmentation) against the noisy and the clean labels.

        On the clips whose label was flipped, ``accuracy_noisy`` counts memorised wrong labels
        and ``accuracy_clean`` the true class recovered despite them.
        """
        train = self.splits.train
        wanted = range(len(train)) if indices is None else indices
        logits, index = self.predict(self._logmels("training", train), wanted)
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
            val, val_logits, val_labels = self.evaluate("validation", self.splits.val)
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
                sub = self.train_accuracy(self.train_subset)
                row["train_accuracy_noisy"] = sub["accuracy_noisy"]
                row["train_accuracy_clean"] = sub["accuracy_clean"]
            row["seconds"] = time.perf_counter() - started
            self.history.append(row)
            self.epoch += 1
            self.save_checkpoint(run_dir / CHECKPOINT)
            if self.d.main:
                write_csv(run_dir / EPOCHS_CSV, self.history)
            if not self.quiet:
                log(epoch_line(row, epochs))

    def final_metrics(self) -> dict[str, Any]:
        started = time.perf_counter()
        test, test_logits, test_labels = self.evaluate("test", self.splits.test, detail=True)
        if self._last_val is not None and self._last_val[0] == self.epoch:
            _, val, val_logits, val_labels = self._last_val  # the same model, the same numbers
            val = dict(val)
        else:
            val, val_logits, val_labels = self.evaluate("validation", self.splits.val)
        temperature = fit_temperature(val_logits, val_labels)
        scaled = classification_metrics(
            test_logits / temperature,
            test_labels,
            self.splits.num_classes,
            n_bins=self.cfg["eval"]["ece_bins"],
            detail=True,
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
            val_logits / temperature,
            val_labels,
            self.splits.num_classes,
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
        noise, self._shift_noise = features.stored(
            self._store_key,
            f"test-noise/{rcfg['seed']}",
            lambda: R.held_out_noise(self.root, sample_rate=sr, seed=rcfg["seed"]),
        )
        ds = self.splits.test
        out: dict[str, dict[str, Any]] = {}
        n_bins = self.cfg["eval"]["ece_bins"]
        size = self.cfg["eval"]["batch_size"]
        for cond in conditions:
            logmels, clipped = self._shifted_logmels(cond, noise)
            self.model.eval()
            outs, idxs = [], []
            # Each rank takes its rows of every chunk, the model sees the same chunks as a pass
            # over the loader.
            for start in range(0, len(ds), size):
                idx = torch.arange(start, min(start + size, len(ds)), device=self.device)
                idx = idx[(idx % self.d.world) == self.d.rank]
                outs.append(self.net(logmels[idx]).float())
                idxs.append(idx)
            logits, index = self._gathered(outs, idxs)
            labels = ds.labels[index]
            m = classification_metrics(logits, labels, self.splits.num_classes, n_bins=n_bins)
            ts = classification_metrics(
                logits / temperature, labels, self.splits.num_classes, n_bins=n_bins
            )
            entry = {"label": cond.label, **m, "nll_ts": ts["nll"], "ece_ts": ts["ece"]}
            if cond.kind == "clip":
                entry["clipped_share"] = clipped / len(ds)
            out[cond.name] = entry
        return out

    def _shifted_logmels(self, cond: R.Condition, noise: Sequence[Tensor]) -> tuple[Tensor, int]:
        """Log-mels of the test split under ``cond`` and the number of clipped clips, once per
        process: the draws continue from chunk to chunk of the split, from generators of their
        own, so the shifted clips are the same in every run and for any number of ranks."""
        rcfg = self.cfg["robustness"]
        sr = self.cfg["data"]["sample_rate"]

        def compute() -> tuple[Tensor, int]:
            shift = R.Shift(cond, noise, sample_rate=sr, seed=rcfg["seed"])
            return self._compute_split(self.splits.test, lambda x, _: shift(x)), shift.clipped

        return features.stored(self._store_key, f"shifted/{cond.name}/{rcfg['seed']}", compute)

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
                "unknown": "other word folders"
                if UNKNOWN in names
                else "none (no other word folders)",
            },
            "splits": {
                "rule": (
                    "validation_list.txt and testing_list.txt"
                    if train.split_rule == "list files"
                    else "the official hash rule (no list files)"
                ),
                "sizes": {
                    "train": len(train),
                    "validation": len(splits.val),
                    "test": len(splits.test),
                },
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
                "aligned_by_length": self.mixer is not None
                and self.shift is None
                and self.noise is None,
            },
            "label_noise": {
                "rate": cfg["train"]["label_noise"],
                "flipped": flipped,
                "of": len(train),
            },
            "robustness": {
                "conditions": {c.name: c.label for c in conditions},
                "noise": self._shift_noise if any(c.kind == "noise" for c in conditions) else None,
            },
        }


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    fields: list[str] = []
    for row in rows:
        fields += [k for k in row if k not in fields]

    def write(f: Any) -> None:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
        f.write(buf.getvalue().encode("utf-8"))

    atomic_write(path, write)


def epoch_line(row: dict[str, Any], epochs: int) -> str:
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
