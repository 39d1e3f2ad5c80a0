"""Partners drawn across a dataset under a rule, from per-item labels known up front.

The table keeps each item's classes and each class's items as sorted index lists (CSR), so a
partner is drawn without reading any audio and without a scan of the dataset per item in the
single-label case: multi-label sets cost one pass over the item's classes' members.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .._validation import check_choice

__all__ = ["DATASET_PARTNER_RULES", "ItemClasses", "draw_other"]

DATASET_PARTNER_RULES = ("any", "other_class", "same_class", "class_balanced")


def draw_other(index: int, n: int, generator: torch.Generator) -> int:
    """An index drawn uniformly among ``[0, n)`` without ``index`` (``index`` when ``n == 1``)."""
    if n == 1:
        return index
    j = int(torch.randint(n - 1, (), generator=generator))
    return j + (j >= index)


def _kth_not_in(excluded: Tensor, k: int) -> int:
    """The ``k``-th (from 0) non-negative integer that is not in ``excluded`` (sorted, unique)."""
    if excluded.numel() == 0:
        return k
    # excluded[m] - m counts the integers before excluded[m] that are not excluded.
    shifted = excluded - torch.arange(excluded.numel())
    return k + int(torch.searchsorted(shifted, torch.tensor(k), right=True))


def _contains(sorted_values: Tensor, value: int) -> bool:
    pos = int(torch.searchsorted(sorted_values, torch.tensor(value)))
    return pos < sorted_values.numel() and int(sorted_values[pos]) == value


def _item_classes(label: Any, i: int, multilabel: bool) -> list[int]:
    """Class ids of one item's label: an index, a target vector, or frame targets."""
    if isinstance(label, numbers.Integral) and not isinstance(label, bool):
        value = int(label)
    else:
        if isinstance(label, (bool, str)) or label is None:
            raise TypeError(
                f"`labels[{i}]` must be a class index or a target tensor, but got "
                f"{type(label).__name__} {label!r}."
            )
        t = torch.as_tensor(np.asarray(label) if not isinstance(label, Tensor) else label)
        if t.ndim == 0:
            if t.is_floating_point() or t.dtype == torch.bool:
                raise TypeError(
                    f"`labels[{i}]` must be an integer class index, but got {t.dtype} {t.item()}."
                )
            value = int(t)
        elif t.ndim == 1 and not multilabel:
            return [int(t.argmax())] if t.numel() else []
        elif t.ndim in (1, 2):
            present = (t.amax(dim=0) if t.ndim == 2 else t) > 0
            return present.nonzero().squeeze(1).tolist()
        else:
            raise ValueError(
                f"`labels[{i}]` must be a class index, a (num_classes,) target or "
                f"(frames, num_classes) frame targets, but got shape {tuple(t.shape)}."
            )
    if value < 0:
        raise ValueError(f"`labels[{i}]` must be a class index >= 0, but got {value}.")
    return [value]


def _csr(rows: list[list[int]]) -> tuple[Tensor, Tensor]:
    counts = torch.tensor([len(r) for r in rows], dtype=torch.int64)
    ptr = torch.zeros(len(rows) + 1, dtype=torch.int64)
    torch.cumsum(counts, 0, out=ptr[1:])
    flat = [v for r in rows for v in r]
    return ptr, torch.tensor(flat, dtype=torch.int64)


class ItemClasses:
    """The classes of every item of a dataset, for partner rules across it.

    Args:
        labels (sequence or Tensor): one label per item, in the dataset's order: class indices
            (n,), targets (n, num_classes), or a sequence of per-item labels (ints, target
            vectors, frame targets (frames, num_classes)).
        size (int): the dataset's length.
        multilabel (bool): target vectors are multi-hot (their positive entries are the
            item's classes) rather than single-label (the largest entry is).
    """

    def __init__(self, labels: Sequence[Any] | Tensor | np.ndarray, size: int, *, multilabel: bool):
        if isinstance(labels, (str, bytes)) or not hasattr(labels, "__len__"):
            raise TypeError(
                "`labels` must be a sequence of per-item labels (class indices or targets), "
                f"but got {type(labels).__name__}."
            )
        if len(labels) != size:
            raise ValueError(
                f"`labels` must have one label per item of `dataset`: {len(labels)} != {size}."
            )
        if isinstance(labels, np.ndarray):
            labels = torch.from_numpy(labels)
        if isinstance(labels, Tensor) and labels.ndim == 1 and not labels.is_floating_point():
            if labels.dtype == torch.bool:
                raise TypeError("`labels` must hold class indices or targets, but got bools.")
            if size and int(labels.min()) < 0:
                raise ValueError(
                    f"`labels` must be class indices >= 0, but got {int(labels.min())}."
                )
            rows = [[v] for v in labels.tolist()]
        else:
            rows = [_item_classes(labels[i], i, multilabel) for i in range(size)]
        self.size = size
        self.multilabel = multilabel
        self.item_ptr, self.item_classes = _csr(rows)
        num = int(self.item_classes.max()) + 1 if self.item_classes.numel() else 0
        by_class: list[list[int]] = [[] for _ in range(num)]
        for i, row in enumerate(rows):
            for c in row:
                by_class[c].append(i)
        self.class_ptr, self.class_items = _csr(by_class)
        counts = self.class_ptr[1:] - self.class_ptr[:-1]
        self.present = (counts > 0).nonzero().squeeze(1)

    def classes(self, index: int) -> Tensor:
        """(k,) int64 class ids of item ``index``, sorted."""
        return self.item_classes[self.item_ptr[index] : self.item_ptr[index + 1]].sort().values

    def members(self, cls: int) -> Tensor:
        """(m,) int64 items of class ``cls``, sorted."""
        return self.class_items[self.class_ptr[cls] : self.class_ptr[cls + 1]]

    def _sharing(self, index: int) -> Tensor:
        """Sorted items that share a class with ``index`` (itself included, if it has one)."""
        own = self.classes(index)
        if own.numel() == 1:
            return self.members(int(own[0]))
        if own.numel() == 0:
            return own
        return torch.unique(torch.cat([self.members(int(c)) for c in own]))

    def draw(self, index: int, rule: str, generator: torch.Generator) -> int | None:
        """A partner of ``index`` under ``rule``, uniform among those it allows; ``None`` when
        no other item satisfies it."""
        rule = check_choice(rule, "partner", DATASET_PARTNER_RULES)
        if rule == "any":
            return None if self.size == 1 else draw_other(index, self.size, generator)
        if rule == "class_balanced":
            return self._draw_balanced(index, generator)
        sharing = self._sharing(index)
        if rule == "same_class":
            count = sharing.numel() - 1  # itself is among them
            if count <= 0:
                return None
            k = int(torch.randint(count, (), generator=generator))
            pos = int(torch.searchsorted(sharing, torch.tensor(index)))
            return int(sharing[k + (k >= pos)])
        excluded = sharing
        if not _contains(sharing, index):
            excluded = torch.unique(torch.cat([sharing, torch.tensor([index])]))
        count = self.size - excluded.numel()
        if count <= 0:
            return None
        return _kth_not_in(excluded, int(torch.randint(count, (), generator=generator)))

    def _draw_balanced(self, index: int, generator: torch.Generator) -> int | None:
        # A class is a candidate when it has an item other than `index`.
        counts = self.class_ptr[1:] - self.class_ptr[:-1]
        own = self.classes(index)
        sole = own[counts[own] == 1] if own.numel() else own
        # Positions in `present` of the classes whose only item is `index`.
        skip = torch.searchsorted(self.present, sole)
        count = self.present.numel() - skip.numel()
        if count <= 0:
            return None
        k = int(torch.randint(count, (), generator=generator))
        cls = int(self.present[_kth_not_in(skip, k)])
        items = self.members(cls)
        if _contains(items, index):
            k = int(torch.randint(items.numel() - 1, (), generator=generator))
            pos = int(torch.searchsorted(items, torch.tensor(index)))
            return int(items[k + (k >= pos)])
        return int(items[int(torch.randint(items.numel(), (), generator=generator))])

    def agrees(self, index: int, label: Any) -> bool:
        """Whether ``label`` (as the dataset returned it) has the classes listed for ``index``."""
        read = sorted(set(_item_classes(label, index, self.multilabel)))
        return read == self.classes(index).tolist()
