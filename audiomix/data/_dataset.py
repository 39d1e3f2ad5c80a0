"""Sample-level mixing: each item of a dataset mixed with a random partner from it."""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset

from .._rng import RandomStream
from .._settings import MixSettings, SettingsMixin, StreamMixin
from .._validation import check_choice
from ..functional._alignment import pad_batch
from ..functional._mix import mix
from ..functional._sampling import PLACEMENTS, sample_lambda, sample_offsets
from ._collate import TrainEvalSwitch, as_clip

__all__ = ["MixupDataset"]


class MixupDataset(SettingsMixin, StreamMixin, TrainEvalSwitch, Dataset):
    r"""Wraps a dataset so that each item is mixed with a random partner from the dataset.

    Item ``i`` is ``(λ·x_i + (1 − λ)·x_j, λ·y_i + (1 − λ)·y_j)`` with λ ~ Beta(α, α) and ``j``
    uniform over the other items, mixed with the core functions: clips of different lengths
    are aligned as in :class:`WaveformMixup` (the mix lasts as long as the longer clip, the
    shorter one placed by ``placement``, silence elsewhere). Sample-level mixing pairs across
    the whole dataset instead of within a batch; collate the variable-length results with
    :func:`pad_collate`.

    Draws come from this wrapper's stream: in DataLoader workers it reseeds from each worker's
    seed, which the DataLoader draws anew every epoch, so items mix differently in each worker
    and each epoch (and repeat exactly for a DataLoader with a seeded ``generator``). ``alpha``
    and ``p`` are settable (a schedule) and the change reaches running workers. ``.eval()``
    turns mixing off: items come back as they are, with unmixed targets. Clips with NaN or Inf
    values are rejected (``check_finite``). Picklable for spawn/forkserver workers.

    Args:
        dataset (Dataset): map-style; items are ``(waveform, label, ...)`` with waveform
            (time,) or (channels, time) (tensor or NumPy array) and label a class index or a
            (num_classes,) target (further elements are dropped), or mappings with the
            waveform under ``input_key`` and the label under ``label_key`` (the other keys
            are kept from item ``i``). Other layouts go through ``unpack``.
        alpha (float, optional): Beta concentration, > 0. (Default: ``0.2``)
        num_classes (int or None, optional): needed for class-index labels.
        p (float, optional): probability that an item is mixed; unmixed items are returned as
            they are, with one-hot targets. (Default: ``1.0``)
        label_smoothing, multilabel, union: as in :class:`WaveformMixup`.
        placement (str, optional): ``"start"``, ``"center"`` or ``"random"``.
            (Default: ``"start"``)
        return_info (bool, optional): append ``{"partner": j, "lam": λ}`` to each item (under
            the key ``"mix_info"`` for mapping items). (Default: ``False``)
        unpack (callable or None, optional): maps an item of ``dataset`` to
            ``(waveform, label)``, e.g. for torchaudio's ``SPEECHCOMMANDS``, whose items are
            ``(waveform, sample_rate, label, speaker_id, utterance_number)`` with a word as
            label: ``unpack=lambda item: (item[0], WORDS.index(item[2]))``. With worker
            processes started by spawn or forkserver, pass a module-level function (lambdas
            do not pickle). (Default: ``None``)
        input_key (str, optional): audio key of mapping items. (Default: ``"input_values"``)
        label_key (str, optional): label key of mapping items. (Default: ``"labels"``)
        check_finite (bool, optional): reject clips with NaN/Inf values. (Default: ``True``)
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
        input_key: str = "input_values",
        label_key: str = "labels",
        check_finite: bool = True,
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
        self.dataset = dataset
        # Checked here so that bad settings fail at construction, not inside a worker.
        self.settings = MixSettings.from_arguments("MixupDataset", locals())
        self.placement = check_choice(placement, "placement", PLACEMENTS)
        self.return_info = bool(return_info)
        self.unpack = unpack
        self.input_key = input_key
        self.label_key = label_key
        self.check_finite = bool(check_finite)
        self._stream = RandomStream(generator, per_rank=per_rank, owner="MixupDataset")

    def __len__(self) -> int:
        return len(self.dataset)

    def _item(self, index: int) -> tuple[Tensor, Tensor, Any]:
        """(waveform, label, the item itself) of ``dataset[index]``."""
        item = self.dataset[index]
        where = f"dataset[{index}]"
        if self.unpack is not None:
            item = self.unpack(item)
            where = f"unpack(dataset[{index}])"
        if isinstance(item, Mapping):
            for name, key in (("input_key", self.input_key), ("label_key", self.label_key)):
                if key not in item:
                    raise ValueError(
                        f"`{where}` has no `{name}`={key!r}; its keys are {list(item)}."
                    )
            raw, label, where = (
                item[self.input_key],
                item[self.label_key],
                f"{where}[{self.input_key!r}]",
            )
        elif isinstance(item, (tuple, list)) and len(item) >= 2:
            raw, label, where = item[0], item[1], f"{where}[0]"
        else:
            raise ValueError(
                f"`{where}` must be a (waveform, label, ...) tuple or a mapping, but got "
                f"{type(item).__name__}."
            )
        clip = as_clip(raw, f"`{where}`")
        if clip.ndim not in (1, 2) or not clip.is_floating_point() or clip.shape[-1] == 0:
            raise ValueError(
                f"`{where}` must be a non-empty float waveform (time,) or (channels, time), "
                f"but got {clip.dtype} of shape {tuple(clip.shape)}."
            )
        if self.check_finite and not bool(torch.isfinite(clip).all()):
            raise ValueError(
                f"`{where}` contains NaN or Inf values. Clean the data, or pass "
                "`check_finite=False` to mix it anyway."
            )
        return clip, torch.as_tensor(label), item

    def _output(self, item: Any, x: Tensor, targets: Tensor, partner: int, lam: float) -> Any:
        info = {"partner": partner, "lam": lam}
        if isinstance(item, Mapping):
            out = dict(item)
            out[self.input_key], out[self.label_key] = x, targets
            if self.return_info:
                out["mix_info"] = info
            return out
        return (x, targets, info) if self.return_info else (x, targets)

    def __getitem__(self, index: int) -> Any:
        if isinstance(index, bool) or not isinstance(index, numbers.Integral):
            raise TypeError(f"`index` must be an int, but got {type(index).__name__}.")
        n = len(self.dataset)
        index = int(index)
        if not -n <= index < n:
            raise IndexError(f"`index` {index} is out of range for a dataset of {n} items.")
        index %= n
        x, y, item = self._item(index)
        labels = y.unsqueeze(0)
        if not self.training:
            targets = self.settings.unmixed_targets(labels)[0]
            return self._output(item, x, targets, index, 1.0)
        g = self._stream.get()
        # Fixed order of draws: coin, λ, partner, offset.
        coin = float(torch.rand((), generator=g, dtype=torch.float64)) < self.p
        lam = sample_lambda(self.alpha, 1, generator=g)
        partner = int(torch.randint(max(n - 1, 1), (), generator=g))
        partner = partner + (partner >= index) if n > 1 else index
        if not coin or partner == index:
            targets = self.settings.unmixed_targets(labels)[0]
            return self._output(item, x, targets, index, 1.0)
        x2, y2, _ = self._item(partner)
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
        both = torch.stack([labels[0], y2.to(labels.dtype)])
        targets = self.settings.mixed_targets(both, lam2, perm)[0]
        return self._output(item, mixed, targets, partner, float(lam))

    def state_dict(self) -> dict[str, Any]:
        """The stream's state, for checkpoints (main process only)."""
        return self._stream.state()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores a state from :meth:`state_dict`."""
        self._stream.load_state(state)

    def get_state(self) -> dict[str, Any]:
        """Deprecated name of :meth:`state_dict`."""
        warnings.warn(
            "MixupDataset.get_state() is deprecated; use state_dict().", DeprecationWarning, 2
        )
        return self.state_dict()

    def set_state(self, state: dict[str, Any]) -> None:
        """Deprecated name of :meth:`load_state_dict`."""
        warnings.warn(
            "MixupDataset.set_state() is deprecated; use load_state_dict().", DeprecationWarning, 2
        )
        self.load_state_dict(state)
