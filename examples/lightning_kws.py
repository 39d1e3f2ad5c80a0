"""Keyword spotting with PyTorch Lightning, mixing in the DataLoader's worker processes.

Waveform mixup runs in the training DataLoader's workers (:class:`audiomix.data.MixCollate`,
persistent workers): the model receives mixed clips and soft targets, which
``F.cross_entropy`` takes as they are. The validation DataLoader collates with the same mixer
in eval mode (clean clips, one-hot targets), so training and validation steps read alike. A
callback turns mixing off for the last epoch (timm's ``mixup_off_epoch``); the change reaches
the persistent workers. Data: :mod:`_kws`, a few hundred generated clips of 4 classes.

    python examples/lightning_kws.py                    # 8 epochs, about 20 s on 2 cores
    python examples/lightning_kws.py --quick            # a short run, for tests
    python examples/lightning_kws.py --context spawn    # workers started as on macOS/Windows

Prints, per epoch, how many training batches came mixed, how many distinct mixing weights the
workers drew, whether the validation targets were unmixed, and the clean validation accuracy.
"""

from __future__ import annotations

import logging
import tempfile
import warnings

import lightning as L
import torch
import torch.nn.functional as F
from _kws import CLASSES, TinyKWS, make_clips, parse_arguments
from torch import Tensor
from torch.utils.data import DataLoader

import audiomix
from audiomix.data import MixCollate


def mixing_weight(targets: Tensor) -> float | None:
    """max(λ, 1 − λ) of a batch mixed with one λ, read from its targets (batch, classes).

    ``None`` when no row is mixed (mixing off, or every partner of the same class).
    """
    top = targets.max(dim=1).values
    mixed = top < 1 - 1e-6
    return float(top[mixed].min()) if bool(mixed.any()) else None


class KWSModule(L.LightningModule):
    """The tiny CNN of :mod:`_kws`; one step for training (mixed) and validation (clean)."""

    def __init__(self, num_classes: int, lr: float) -> None:
        super().__init__()
        self.model = TinyKWS(num_classes)
        self.lr = lr
        # For the printout: per epoch, each training batch's mixing weight (None: unmixed).
        self.mixing: dict[int, list[float | None]] = {}
        self.val_targets_one_hot = True

    def training_step(self, batch: tuple[Tensor, Tensor, Tensor], batch_idx: int) -> Tensor:
        waveform, targets, lengths = batch  # mixed in a worker: targets (batch, classes)
        loss = F.cross_entropy(self.model(waveform, lengths), targets)  # soft targets as they are
        self.mixing.setdefault(self.current_epoch, []).append(mixing_weight(targets))
        return loss

    def validation_step(self, batch: tuple[Tensor, Tensor, Tensor], batch_idx: int) -> None:
        waveform, targets, lengths = batch  # eval-mode collate: clean clips, one-hot targets
        logits = self.model(waveform, lengths)
        self.val_targets_one_hot &= bool(((targets == 0) | (targets == 1)).all())
        self.log("val_loss", F.cross_entropy(logits, targets))
        self.log("val_acc", (logits.argmax(dim=1) == targets.argmax(dim=1)).float().mean())

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.lr)


class MixupOff(L.Callback):
    """Turns mixing off for the last ``epochs`` epochs (timm's ``mixup_off_epoch``).

    Args:
        collate (MixCollate): the training DataLoader's collate.
        epochs (int): how many final epochs train on clean batches.
    """

    def __init__(self, collate: MixCollate, epochs: int) -> None:
        self.collate, self.epochs, self.p = collate, epochs, collate.mixer.p

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        last = trainer.current_epoch >= trainer.max_epochs - self.epochs
        self.collate.mixer.p = 0.0 if last else self.p  # reaches the persistent workers


def main() -> None:
    args = parse_arguments(__doc__)
    torch.set_num_threads(1)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)  # no banner, no tips
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    warnings.filterwarnings("ignore", ".*LeafSpec.*")  # inside Lightning, with recent torch
    L.seed_everything(args.seed, workers=True, verbose=False)

    train_items = list(zip(*make_clips(args.train, seed=args.seed), strict=True))
    val_items = list(zip(*make_clips(args.val, seed=args.seed + 1), strict=True))

    mixer = audiomix.WaveformMixup(alpha=args.alpha, num_classes=len(CLASSES))
    train_collate = MixCollate(mixer)  # pads, then mixes, in the workers
    val_collate = MixCollate(mixer).eval()  # pads; clean clips, one-hot targets
    workers = dict(
        num_workers=args.workers,
        persistent_workers=args.workers > 0,
        multiprocessing_context=args.context if args.workers > 0 else None,
    )
    train_loader = DataLoader(
        train_items, batch_size=args.batch_size, shuffle=True, collate_fn=train_collate, **workers
    )
    val_loader = DataLoader(val_items, batch_size=64, collate_fn=val_collate, **workers)

    module = KWSModule(len(CLASSES), args.lr)
    with tempfile.TemporaryDirectory() as root:
        trainer = L.Trainer(
            max_epochs=args.epochs,
            accelerator="cpu",
            devices=1,
            callbacks=[MixupOff(train_collate, args.mixup_off_epochs)],
            default_root_dir=root,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            log_every_n_steps=1,
        )
        trainer.fit(module, train_loader, val_loader)

    mixed_weights = []
    for epoch, weights in sorted(module.mixing.items()):
        mixed = [w for w in weights if w is not None]
        mixed_weights += mixed
        print(f"epoch {epoch}: {len(mixed)}/{len(weights)} training batches mixed")
    print(
        f"distinct mixing weights: {len(set(mixed_weights))} of {len(mixed_weights)} mixed batches"
    )
    print(f"validation targets one-hot (unmixed): {module.val_targets_one_hot}")
    accuracy = float(trainer.callback_metrics["val_acc"])
    print(f"clean validation accuracy: {100 * accuracy:.1f} % (chance {100 / len(CLASSES):.1f} %)")


if __name__ == "__main__":
    main()
