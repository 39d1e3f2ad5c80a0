"""DataLoader helpers: pad variable-length clips, mix in worker processes, mix per item.

Randomness in worker processes is the classic trap: a generator copied into every worker
draws the same numbers in each of them (pytorch#5059), and a worker RNG reseeded from a fixed
seed draws the same numbers every epoch (Lightning#20412). Every random draw here comes from an
audiomix stream that reseeds from the DataLoader's own per-worker seed, which the DataLoader
draws anew for each epoch (from its ``generator`` if given): workers differ, epochs differ, and
a seeded DataLoader repeats exactly.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset, default_collate

from ._rng import RandomStream
from ._validation import (
    check_alpha,
    check_choice,
    check_label_smoothing,
    check_num_classes,
    check_probability,
)
from .functional._alignment import pad_batch
from .functional._mixing import mix, mix_targets, prepare_targets
from .functional._sampling import PLACEMENTS, sample_lambda, sample_offsets

__all__ = ["MixCollate", "MixupDataset", "pad_collate"]


def _as_clip(item: Any, where: str) -> Tensor:
    if isinstance(item, Tensor):
        return item
    try:
        return torch.as_tensor(item)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(
            f"{where} must be a waveform tensor (time,) or (channels, time), but got "
            f"{type(item).__name__}."
        ) from None


def pad_collate(
    batch: Sequence[Any], *, pad_value: float = 0.0, multiple_of: int | None = None
) -> tuple[Any, ...]:
    """Collates clips of different lengths: right-pads them and returns their lengths.

    Each item is a waveform (time,) or (channels, time), or a tuple/list whose first element
    is one, e.g. ``(waveform, label)``. The waveforms are padded with :func:`pad_batch`; the
    other elements are collated by ``torch.utils.data.default_collate``.

    Args:
        batch (sequence): the items.
        pad_value (float, optional): padding value. (Default: ``0.0``, silence)
        multiple_of (int or None, optional): round the padded length up to a multiple of this.

    Returns:
        tuple: ``(waveforms, lengths)`` for bare waveforms; ``(waveforms, *rest, lengths)``
        for tuples, e.g. ``(waveforms, labels, lengths)``: waveforms (batch, [channels,]
        time), lengths (batch,) int64. Use ``functools.partial`` to set the keywords.

    Example:
        >>> x, labels, lengths = pad_collate([(torch.ones(3), 0), (torch.ones(5), 1)])
        >>> x.shape, labels.tolist(), lengths.tolist()
        (torch.Size([2, 5]), [0, 1], [3, 5])
    """
    if isinstance(batch, Tensor) or not isinstance(batch, Sequence) or len(batch) == 0:
        raise ValueError("`batch` must be a non-empty list of items.")
    first = batch[0]
    if isinstance(first, (tuple, list)):
        width = len(first)
        if width == 0:
            raise ValueError("`batch[0]` is an empty tuple: no waveform to collate.")
        for i, item in enumerate(batch):
            if not isinstance(item, (tuple, list)) or len(item) != width:
                raise ValueError(
                    f"every item must be a tuple of {width} elements like `batch[0]`, but "
                    f"`batch[{i}]` is {type(item).__name__} of length {len(item)}."
                    if isinstance(item, (tuple, list))
                    else f"every item must be a tuple like `batch[0]`, but `batch[{i}]` is "
                    f"{type(item).__name__}."
                )
        clips = [_as_clip(item[0], f"`batch[{i}][0]`") for i, item in enumerate(batch)]
        x, lengths = pad_batch(clips, pad_value=pad_value, multiple_of=multiple_of)
        rest = [default_collate([item[k] for item in batch]) for k in range(1, width)]
        return (x, *rest, lengths)
    clips = [_as_clip(item, f"`batch[{i}]`") for i, item in enumerate(batch)]
    x, lengths = pad_batch(clips, pad_value=pad_value, multiple_of=multiple_of)
    return x, lengths


class MixCollate:
    """A collate function that mixes each batch, so mixing runs in the DataLoader's workers.

    Collates with ``collate_fn`` (default :func:`pad_collate`), then calls ``mixer``: with
    ``(x, labels, lengths)`` when the collated batch has three elements, ``(x, labels)`` when
    it has two. Returns the mixer's output, e.g. ``(x, targets, lengths)``. The mixer's stream
    reseeds in each worker from the worker's seed, so workers and epochs draw different mixes;
    its ``last_params`` stay in the worker.

    Args:
        mixer (nn.Module): an audiomix mixing module (or :class:`~audiomix.Chain`), on the CPU.
        collate_fn (callable, optional): builds ``(x, labels[, lengths])`` from the items.
            (Default: :func:`pad_collate`)

    Example:
        >>> from audiomix import WaveformMixup
        >>> items = [(torch.randn(16000 - 1000 * i), i % 4) for i in range(8)]
        >>> loader = torch.utils.data.DataLoader(
        ...     items, batch_size=4,
        ...     collate_fn=MixCollate(WaveformMixup(alpha=0.4, num_classes=4, generator=0)))
        >>> x, targets, lengths = next(iter(loader))
        >>> x.shape, targets.shape
        (torch.Size([4, 16000]), torch.Size([4, 4]))
    """

    def __init__(self, mixer: nn.Module, *, collate_fn: Callable[[Any], Any] = pad_collate):
        if not callable(mixer):
            raise TypeError(f"`mixer` must be a mixing module, but got {type(mixer).__name__}.")
        if not callable(collate_fn):
            raise TypeError(f"`collate_fn` must be callable, but got {type(collate_fn).__name__}.")
        self.mixer = mixer
        self.collate_fn = collate_fn

    def __call__(self, batch: Sequence[Any]) -> Any:
        collated = self.collate_fn(batch)
        if not isinstance(collated, (tuple, list)) or len(collated) not in (2, 3):
            raise ValueError(
                "`collate_fn` must return (x, labels) or (x, labels, lengths), but returned "
                f"{type(collated).__name__}"
                + (f" of length {len(collated)}." if isinstance(collated, (tuple, list)) else ".")
            )
        with torch.no_grad():
            return self.mixer(*collated)

    def __repr__(self) -> str:
        return f"MixCollate(mixer={self.mixer!r}, collate_fn={self.collate_fn!r})"


class MixupDataset(Dataset):
    r"""Wraps a dataset so that each item is mixed with a random partner from the dataset.

    Item ``i`` is ``(λ·x_i + (1 − λ)·x_j, λ·y_i + (1 − λ)·y_j)`` with λ ~ Beta(α, α) and ``j``
    uniform over the other items, mixed with the core functions: clips of different lengths
    are aligned as in :class:`WaveformMixup` (the mix lasts as long as the longer clip, the
    shorter one placed by ``placement``, silence elsewhere). Sample-level mixing pairs across
    the whole dataset instead of within a batch; collate the variable-length results with
    :func:`pad_collate`.

    Draws come from this wrapper's stream: in DataLoader workers it reseeds from each worker's
    seed, which the DataLoader draws anew every epoch, so items mix differently in each worker
    and each epoch (and repeat exactly for a DataLoader with a seeded ``generator``).

    Args:
        dataset (Dataset): map-style; items are ``(waveform, label, ...)`` with waveform
            (time,) or (channels, time) and label a class index or a (num_classes,) target;
            further elements are dropped. Other layouts go through ``unpack``.
        alpha (float, optional): Beta concentration, > 0. (Default: ``0.2``)
        num_classes (int or None, optional): needed for class-index labels.
        p (float, optional): probability that an item is mixed; unmixed items are returned as
            they are, with one-hot targets. (Default: ``1.0``)
        label_smoothing, multilabel, union: as in :class:`WaveformMixup`.
        placement (str, optional): ``"start"``, ``"center"`` or ``"random"``.
            (Default: ``"start"``)
        return_info (bool, optional): append ``{"partner": j, "lam": λ}`` to each item.
            (Default: ``False``)
        unpack (callable or None, optional): maps an item of ``dataset`` to
            ``(waveform, label)``, e.g. for torchaudio's ``SPEECHCOMMANDS``, whose items are
            ``(waveform, sample_rate, label, speaker_id, utterance_number)`` with a word as
            label: ``unpack=lambda item: (item[0], WORDS.index(item[2]))``. With worker
            processes started by spawn or forkserver, pass a module-level function (lambdas
            do not pickle). (Default: ``None``, items are ``(waveform, label, ...)``)
        generator (torch.Generator, int or None, optional): CPU generator or seed.
        per_rank (bool, optional): a distinct stream per distributed rank.

    Example:
        >>> base = [(torch.randn(8000 + 1000 * i), i % 3) for i in range(6)]
        >>> ds = MixupDataset(base, alpha=0.4, num_classes=3, generator=0)
        >>> waveform, target = ds[0]
        >>> target.shape
        torch.Size([3])
    """

    def __init__(
        self,
        dataset: Dataset,
        *,
        alpha: float = 0.2,
        num_classes: int | None = None,
        p: float = 1.0,
        label_smoothing: float = 0.0,
        multilabel: bool = False,
        union: bool = False,
        placement: str = "start",
        return_info: bool = False,
        generator: torch.Generator | int | None = None,
        per_rank: bool = False,
        unpack: Callable[[Any], Sequence[Any]] | None = None,
    ) -> None:
        if unpack is not None and not callable(unpack):
            raise TypeError(f"`unpack` must be callable or None, but got {type(unpack).__name__}.")
        if not hasattr(dataset, "__getitem__") or not hasattr(dataset, "__len__"):
            raise TypeError(
                f"`dataset` must be a map-style dataset (with __getitem__ and __len__), but got "
                f"{type(dataset).__name__}."
            )
        if len(dataset) < 1:
            raise ValueError("`dataset` is empty.")
        if union and not multilabel:
            raise ValueError("`union=True` is for multi-label targets; pass `multilabel=True`.")
        self.dataset = dataset
        self.alpha = check_alpha(alpha)
        # Checked here so that bad settings fail at construction, not inside a worker.
        self.num_classes = check_num_classes(num_classes)
        self.p = check_probability(p)
        self.label_smoothing = check_label_smoothing(label_smoothing)
        self.multilabel = bool(multilabel)
        self.union = bool(union)
        self.placement = check_choice(placement, "placement", PLACEMENTS)
        self.return_info = bool(return_info)
        self.unpack = unpack
        self._stream = RandomStream(generator, per_rank=per_rank)

    def __len__(self) -> int:
        return len(self.dataset)

    @property
    def generator(self) -> torch.Generator:
        """The CPU generator of this process (reseeded per DataLoader worker)."""
        return self._stream.get()

    def _item(self, index: int) -> tuple[Tensor, Tensor]:
        item = self.dataset[index]
        where = f"dataset[{index}]"
        if self.unpack is not None:
            item = self.unpack(item)
            where = f"unpack(dataset[{index}])"
        if not isinstance(item, (tuple, list)) or len(item) < 2:
            raise ValueError(
                f"`{where}` must be a (waveform, label, ...) tuple, but got {type(item).__name__}."
            )
        clip = _as_clip(item[0], f"`{where}[0]`")
        if clip.ndim not in (1, 2) or not clip.is_floating_point():
            raise ValueError(
                f"`{where}[0]` must be a float waveform (time,) or (channels, time), "
                f"but got {clip.dtype} of shape {tuple(clip.shape)}."
            )
        return clip, torch.as_tensor(item[1])

    def __getitem__(self, index: int) -> tuple[Any, ...]:
        if isinstance(index, bool) or not isinstance(index, numbers.Integral):
            raise TypeError(f"`index` must be an int, but got {type(index).__name__}.")
        n = len(self.dataset)
        index = int(index)
        if not -n <= index < n:
            raise IndexError(f"`index` {index} is out of range for a dataset of {n} items.")
        index %= n
        g = self._stream.get()
        # Fixed order of draws: coin, λ, partner, offset.
        coin = float(torch.rand((), generator=g, dtype=torch.float64)) < self.p
        lam = sample_lambda(self.alpha, 1, generator=g)
        partner = int(torch.randint(max(n - 1, 1), (), generator=g))
        partner = partner + (partner >= index) if n > 1 else index
        x, y = self._item(index)
        labels = y.unsqueeze(0)
        if not coin or partner == index:
            targets = prepare_targets(
                labels,
                num_classes=self.num_classes,
                label_smoothing=self.label_smoothing,
                multilabel=self.multilabel,
            )[0]
            info = {"partner": index, "lam": 1.0}
            return (x, targets, info) if self.return_info else (x, targets)
        x2, y2 = self._item(partner)
        if x2.shape[:-1] != x.shape[:-1]:
            raise ValueError(
                f"items {index} and {partner} have different channel layouts: "
                f"{tuple(x.shape)} and {tuple(x2.shape)}."
            )
        pair, lengths = pad_batch([x, x2.to(x.dtype)])
        perm = torch.tensor([1, 0])
        offsets = sample_offsets(lengths, perm, placement=self.placement, generator=g)
        lam2 = lam.expand(2)
        mixed = mix(pair, lam2, perm, lengths=lengths, offsets=offsets)[0]
        targets = mix_targets(
            torch.stack([labels[0], y2.to(labels.dtype)]),
            lam2,
            perm,
            num_classes=self.num_classes,
            label_smoothing=self.label_smoothing,
            multilabel=self.multilabel,
            union=self.union,
        )[0]
        info = {"partner": partner, "lam": float(lam)}
        return (mixed, targets, info) if self.return_info else (mixed, targets)

    def get_state(self) -> dict[str, Any]:
        """The stream's state, for checkpoints (main process only)."""
        return self._stream.state()

    def set_state(self, state: dict[str, Any]) -> None:
        self._stream.load_state(state)
