"""Hugging Face ``transformers``: a ``Trainer`` that mixes training batches only.

The ``Trainer`` collates training, evaluation and prediction batches with one
``data_collator``. With :class:`~audiomix.data.MixCollate` as that collator, evaluation would be
mixed too, and ``compute_metrics`` would receive (batch, classes) soft targets instead of the
dataset's labels. :class:`MixupTrainer` collates evaluation and prediction batches with the same
collator in eval mode: the same collation and the same front end (a
:class:`~audiomix.Chain` such as ``Chain(LogMelSpectrogram(...), SpectrogramMixup(...))`` gives
log-mels and frame lengths in evaluation as in training), nothing mixed, and the labels as the
dataset has them (class indices), which ``compute_metrics`` expects.

Importing this module imports ``transformers`` (``pip install "audiomix[frameworks]"``).
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from torch.utils.data import DataLoader
from transformers import Trainer

from ..data import MixCollate

__all__ = ["MixupTrainer"]


class MixupTrainer(Trainer):
    """``transformers.Trainer`` whose evaluation and prediction loaders do not mix.

    Takes every argument of ``Trainer``; ``data_collator`` (typically a
    :class:`~audiomix.data.MixCollate`) mixes training batches. Evaluation and prediction
    batches go through the same collator in eval mode: the same padding and the same
    transforms (a :class:`~audiomix.Chain` front end gives the same features and lengths as in
    training; its training-only steps, e.g. masking, are skipped), nothing mixed, and under
    ``label_key`` the labels as collated from the dataset (class indices for single-label
    data), so ``compute_metrics`` gets ``label_ids`` it can compare with the predictions and the
    evaluation loss is the model's loss on clean labels. Items without labels (``predict`` on
    unlabelled data) go through the front end alone.

    Args:
        args, kwargs: every positional and keyword argument of ``transformers.Trainer``.
        eval_data_collator (callable or None, optional): collates evaluation and prediction
            batches. (Default: ``None``: the ``MixCollate`` data collator in eval mode, labels
            left as collated; any other data collator is used as it is)

    Example:
        >>> from audiomix import Chain, LogMelSpectrogram, SpectrogramMixup
        >>> from audiomix.data import MixCollate
        >>> collator = MixCollate(Chain(LogMelSpectrogram(n_mels=40),
        ...                             SpectrogramMixup(alpha=0.4, num_classes=4, generator=0)))
        >>> # trainer = MixupTrainer(model=model, args=args, train_dataset=train,
        >>> #                        eval_dataset=val, data_collator=collator)
        >>> # Training batches: log-mels (batch, 40, frames), frame lengths, mixed targets
        >>> # (batch, 4). Evaluation batches: the same log-mels unmixed, the same frame
        >>> # lengths, the dataset's class indices (batch,).
    """

    def __init__(
        self, *args: Any, eval_data_collator: Callable[[Any], Any] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        if eval_data_collator is None:
            eval_data_collator = _eval_collator(self.data_collator)
        if not callable(eval_data_collator):
            raise TypeError(
                "`eval_data_collator` must be callable, but got "
                f"{type(eval_data_collator).__name__}."
            )
        self.eval_data_collator = eval_data_collator

    def get_eval_dataloader(self, eval_dataset: Any = None) -> DataLoader:
        with _collating_with(self, self.eval_data_collator):
            return super().get_eval_dataloader(eval_dataset)

    def get_test_dataloader(self, test_dataset: Any) -> DataLoader:
        with _collating_with(self, self.eval_data_collator):
            return super().get_test_dataloader(test_dataset)


class _CleanCollate:
    """A :class:`~audiomix.data.MixCollate` in eval mode that leaves the labels as collated.

    What :class:`MixupTrainer` evaluates with: the collator's collation and pipeline in eval
    mode (nothing mixed, training-only steps skipped), then the collated labels put back in
    place of the unmixed targets. A module-level class, so it pickles for spawn/forkserver
    workers; the mixer is shared with the training collator, not copied.

    Args:
        collator (MixCollate): the training collator.
    """

    def __init__(self, collator: MixCollate) -> None:
        self.collator = copy.copy(collator).eval()

    def __call__(self, batch: Sequence[Any]) -> Any:
        c = self.collator
        collated = c._collate(batch)
        if not isinstance(collated, Mapping):
            fields = list(c._mix_collated(collated))
            fields[1] = collated[1]
            return tuple(fields)
        out = dict(collated)
        x, lengths = collated.get(c.input_key), collated.get(c.lengths_key)
        if x is None:
            raise ValueError(
                f"the collated batch has no `input_key`={c.input_key!r}; its keys are "
                f"{list(collated)}."
            )
        labels = collated.get(c.label_key)
        if lengths is None:
            out[c.input_key], _ = c._mix(x, labels)
        else:
            out[c.input_key], _, out[c.lengths_key] = c._mix(x, labels, lengths)
        return out

    def __repr__(self) -> str:
        return f"_CleanCollate({self.collator.mixer!r})"


def _eval_collator(collator: Any) -> Callable[[Any], Any]:
    return _CleanCollate(collator) if isinstance(collator, MixCollate) else collator


@contextlib.contextmanager
def _collating_with(trainer: Trainer, collator: Callable[[Any], Any]) -> Iterator[None]:
    """Swaps the trainer's ``data_collator`` for the block (the Trainer reads it there)."""
    saved, trainer.data_collator = trainer.data_collator, collator
    try:
        yield
    finally:
        trainer.data_collator = saved
