"""Hugging Face ``transformers``: a ``Trainer`` that mixes training batches only.

The ``Trainer`` collates training, evaluation and prediction batches with one
``data_collator``. With :class:`~audiomix.data.MixCollate` as that collator, evaluation would be
mixed too, and ``compute_metrics`` would receive (batch, classes) soft targets instead of the
dataset's labels. :class:`MixupTrainer` collates evaluation and prediction batches with a
collator of their own (by default :func:`~audiomix.data.pad_collate` with the mixing collator's
keys: padded clips, lengths, the labels as the dataset has them).

Importing this module imports ``transformers`` (``pip install "audiomix[frameworks]"``).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any

from torch.utils.data import DataLoader
from transformers import Trainer

from ..data import MixCollate, pad_collate

__all__ = ["MixupTrainer"]


class MixupTrainer(Trainer):
    """``transformers.Trainer`` whose evaluation and prediction loaders do not mix.

    Takes every argument of ``Trainer``; ``data_collator`` (typically a
    :class:`~audiomix.data.MixCollate`) serves training only.

    Args:
        *args, **kwargs: as for ``transformers.Trainer``.
        eval_data_collator (callable or None, optional): collates evaluation and prediction
            batches. (Default: ``None``: :func:`~audiomix.data.pad_collate` with the
            ``input_key`` and ``lengths_key`` of a ``MixCollate`` data collator; otherwise
            the data collator itself)

    Example:
        >>> from audiomix import WaveformMixup
        >>> from audiomix.data import MixCollate
        >>> collator = MixCollate(WaveformMixup(alpha=0.4, num_classes=4))
        >>> # trainer = MixupTrainer(model=model, args=args, train_dataset=train,
        >>> #                        eval_dataset=val, data_collator=collator)
    """

    def __init__(
        self, *args: Any, eval_data_collator: Callable[[Any], Any] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        if eval_data_collator is None:
            eval_data_collator = _clean_collator(self.data_collator)
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


def _clean_collator(collator: Any) -> Callable[[Any], Any]:
    if isinstance(collator, MixCollate):
        if collator.collate_fn is not None:
            return collator.collate_fn
        return functools.partial(
            pad_collate, input_key=collator.input_key, lengths_key=collator.lengths_key
        )
    return collator


@contextlib.contextmanager
def _collating_with(trainer: Trainer, collator: Callable[[Any], Any]) -> Iterator[None]:
    """Swaps the trainer's ``data_collator`` for the block (the Trainer reads it there)."""
    saved, trainer.data_collator = trainer.data_collator, collator
    try:
        yield
    finally:
        trainer.data_collator = saved
