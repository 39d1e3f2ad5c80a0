"""Keyword spotting with Hugging Face ``datasets`` and ``transformers.Trainer``, mixing in workers.

The clips live in a ``datasets.Dataset`` (dict items, NumPy arrays). The Trainer's data
collator (:class:`audiomix.data.MixCollate`) pads each batch and mixes it in the DataLoader's
worker processes; the model feeds the mixed targets straight to ``F.cross_entropy``. The
Trainer uses one ``data_collator`` for training and evaluation, so audiomix's ``MixupTrainer``
collates evaluation and prediction batches with the same collator in eval mode: the same
padding (and the same front end, had the collator one), nothing mixed, and the dataset's
class-index labels, which ``compute_metrics`` expects. A callback turns mixing off for the last
epoch; the change reaches the persistent workers. Data: :mod:`_kws`.

    python examples/hf_kws.py                    # 8 epochs, about 20 s on 2 cores
    python examples/hf_kws.py --quick            # a short run, for tests
    python examples/hf_kws.py --context spawn    # workers started as on macOS/Windows

Nothing is downloaded and nothing is saved (``report_to="none"``, ``save_strategy="no"``).
"""

from __future__ import annotations

import tempfile
from typing import Any

import datasets
import numpy as np
import torch
import torch.nn.functional as F
import transformers
from _kws import CLASSES, TinyKWS, make_clips, parse_arguments
from torch import Tensor
from transformers import (
    EvalPrediction,
    PretrainedConfig,
    PreTrainedModel,
    TrainerCallback,
    TrainingArguments,
)
from transformers.modeling_outputs import SequenceClassifierOutput

import audiomix
from audiomix.data import MixCollate
from audiomix.integrations.huggingface import MixupTrainer


class KWSConfig(PretrainedConfig):
    """Configuration of :class:`KWSModel`: number of classes and CNN width."""

    model_type = "audiomix-tiny-kws"

    def __init__(self, num_classes: int = len(CLASSES), width: int = 16, **kwargs: Any) -> None:
        self.num_classes = num_classes
        self.width = width
        super().__init__(**kwargs)


class KWSModel(PreTrainedModel):
    """The tiny CNN of :mod:`_kws` as a Hugging Face model: ``(input_values, lengths, labels)``."""

    config_class = KWSConfig
    main_input_name = "input_values"

    def __init__(self, config: KWSConfig) -> None:
        super().__init__(config)
        self.net = TinyKWS(config.num_classes, width=config.width)

    def forward(
        self, input_values: Tensor, lengths: Tensor | None = None, labels: Tensor | None = None
    ) -> SequenceClassifierOutput:
        """Logits (batch, classes) and, given labels, the loss.

        Args:
            input_values (Tensor): (batch, time) padded clips.
            lengths (Tensor or None, optional): (batch,) valid samples.
            labels (Tensor or None, optional): (batch, classes) targets or (batch,) classes.
        """
        logits = self.net(input_values, lengths)
        # labels: mixed targets (batch, classes) in training, class indices (batch,) in evaluation
        loss = None if labels is None else F.cross_entropy(logits, labels)
        return SequenceClassifierOutput(loss=loss, logits=logits)


class RecordingTrainer(MixupTrainer):
    """audiomix's :class:`~audiomix.integrations.huggingface.MixupTrainer` (evaluation and
    prediction collated without mixing), recording each training batch's mixing weight."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.mixing: dict[int, list[float | None]] = {}  # for the printout

    def training_step(
        self, model: Any, inputs: dict[str, Any], *args: Any, **kwargs: Any
    ) -> Tensor:
        # For the printout: max(λ, 1 − λ) of each training batch, None when unmixed.
        top = inputs["labels"].max(dim=1).values
        mixed = top < 1 - 1e-6
        weight = float(top[mixed].min()) if bool(mixed.any()) else None
        self.mixing.setdefault(int(self.state.epoch or 0), []).append(weight)
        return super().training_step(model, inputs, *args, **kwargs)


class MixupOff(TrainerCallback):
    """Turns mixing off for the last ``epochs`` epochs (timm's ``mixup_off_epoch``).

    Args:
        collator (MixCollate): the Trainer's data collator.
        epochs (int): how many final epochs train on clean batches.
    """

    def __init__(self, collator: MixCollate, epochs: int) -> None:
        self.collator, self.epochs, self.p = collator, epochs, collator.mixer.p

    def on_epoch_begin(
        self, args: TrainingArguments, state: Any, control: Any, **kwargs: Any
    ) -> None:
        last = int(state.epoch or 0) >= args.num_train_epochs - self.epochs
        self.collator.mixer.p = 0.0 if last else self.p  # reaches the persistent workers


def compute_metrics(prediction: EvalPrediction) -> dict[str, float]:
    """Accuracy of the logits (n, classes) against the class indices (n,)."""
    labels = prediction.label_ids  # class indices (n,): evaluation batches are not mixed
    return {"accuracy": float((prediction.predictions.argmax(-1) == labels).mean())}


def to_dataset(clips: list[np.ndarray], labels: list[int]) -> datasets.Dataset:
    """A ``datasets.Dataset`` of ``{"input_values": (time,) float32, "labels": int}`` items."""
    dataset = datasets.Dataset.from_dict({"input_values": clips, "labels": labels})
    return dataset.with_format("numpy")


def main() -> None:
    args = parse_arguments(__doc__)
    torch.set_num_threads(1)
    transformers.logging.set_verbosity_error()
    datasets.disable_progress_bars()
    transformers.set_seed(args.seed)  # before the mixer: it takes its seed from torch's state

    train_ds = to_dataset(*make_clips(args.train, seed=args.seed))
    val_ds = to_dataset(*make_clips(args.val, seed=args.seed + 1))

    mixer = audiomix.WaveformMixup(alpha=args.alpha, num_classes=len(CLASSES))
    collator = MixCollate(mixer)  # dict items: "input_values", "labels" -> + "lengths"
    model = KWSModel(KWSConfig(num_classes=len(CLASSES)))
    with tempfile.TemporaryDirectory() as out:
        training_args = TrainingArguments(
            output_dir=out,
            num_train_epochs=args.epochs,
            per_device_train_batch_size=args.batch_size,
            per_device_eval_batch_size=64,
            learning_rate=args.lr,
            lr_scheduler_type="constant",
            eval_strategy="epoch",
            save_strategy="no",
            logging_strategy="no",
            report_to="none",
            disable_tqdm=True,
            use_cpu=True,
            seed=args.seed,
            dataloader_num_workers=args.workers,
            dataloader_persistent_workers=args.workers > 0,
            dataloader_multiprocessing_context=args.context if args.workers > 0 else None,
        )
        trainer = RecordingTrainer(
            model=model,
            args=training_args,
            train_dataset=train_ds,
            eval_dataset=val_ds,
            data_collator=collator,  # mixes training batches only
            compute_metrics=compute_metrics,
            callbacks=[MixupOff(collator, args.mixup_off_epochs)],
        )
        trainer.remove_callback(transformers.PrinterCallback)
        trainer.train()
        prediction = trainer.predict(val_ds)

    mixed_weights = []
    for epoch, weights in sorted(trainer.mixing.items()):
        mixed = [w for w in weights if w is not None]
        mixed_weights += mixed
        print(f"epoch {epoch}: {len(mixed)}/{len(weights)} training batches mixed")
    print(
        f"distinct mixing weights: {len(set(mixed_weights))} of {len(mixed_weights)} mixed batches"
    )
    same = np.array_equal(prediction.label_ids, np.asarray(val_ds["labels"]))
    print(f"evaluation labels are the dataset's class indices: {same}")
    accuracy = prediction.metrics["test_accuracy"]
    print(f"clean evaluation accuracy: {100 * accuracy:.1f} % (chance {100 / len(CLASSES):.1f} %)")


if __name__ == "__main__":
    main()
