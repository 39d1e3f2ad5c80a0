"""Sample-level mixing: each item of a dataset mixed with a random partner from it."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset

from .._settings import ForwardsSchedule
from .._validation import check_choice
from .._views import TIMED_KINDS, View, as_views, split_views, split_views_with_lengths
from ..functional._alignment import pad_batch
from ..functional._frames import target_lengths
from ..transforms import Mixer, WaveformMixup
from ..transforms._base import check_mixer_options
from ._collate import collate_views
from ._items import TrainEvalSwitch, as_clip, eval_mode, mixed_item
from ._partners import DATASET_PARTNER_RULES, ItemClasses, draw_other

__all__ = ["MixupDataset"]

_LENGTHS = "lengths"  # where a pair's lengths go when the views name none
_PAIR = torch.tensor([1, 0])  # the item (row 0) and its partner (row 1), each the other's


class MixupDataset(ForwardsSchedule, TrainEvalSwitch, Dataset):
    r"""Wraps a dataset so that each item is mixed with a random partner from the dataset.

    Item ``i`` is mixed with an item ``j`` drawn uniformly among the others, by a batch mixer
    applied to the pair: :class:`~audiomix.WaveformMixup` by default
    (``(λ·x_i + (1 − λ)·x_j, λ·y_i + (1 − λ)·y_j)``, λ ~ Beta(α, α)), or any mixer you pass
    (:class:`~audiomix.SNRMix`, :class:`~audiomix.WaveformCutMix`, :class:`~audiomix.BCMix`,
    ...). Clips of different lengths are aligned as the mixer does it (for mixup the mix lasts
    as long as the longer clip, the shorter one placed by ``placement``, silence elsewhere).
    Sample-level mixing pairs across the whole dataset instead of within a batch; collate the
    variable-length results with :func:`pad_collate`. It reads two clips per mixed item: an
    epoch of the recipe took about 90 % longer than with batch mixing
    (:class:`MixCollate`), which reads each clip once.

    Draws come from the mixer's stream: in DataLoader workers it reseeds from each worker's
    seed, which the DataLoader draws anew every epoch, so items mix differently in each worker
    and each epoch (and repeat exactly for a DataLoader with a seeded ``generator``). The
    partner is read only once the mixer's coin (``p``) says the item is mixed.

    ``partner`` chooses who the partner may be, across the whole dataset: any other item
    (``"any"``), an item sharing no class with it (``"other_class"``; disjoint label sets for
    multi-label targets), another item sharing a class (``"same_class"``), or an item of a class
    drawn uniformly among the dataset's classes (``"class_balanced"``, then an item of that
    class uniformly; the item itself excluded). Each rule draws uniformly among the items it
    allows; an item that no other item satisfies is left unmixed and reported (``"unmet"`` in
    ``return_info``). The class rules need the items' classes without reading their audio:
    ``labels``, one label per item in the dataset's order, checked against each label read.

    ``alpha`` and ``p`` are settable (a schedule) and the change reaches running workers.
    ``.eval()`` turns mixing off: items come back as they are, with unmixed targets. Clips with
    NaN or Inf values are rejected (``check_finite``). Picklable for spawn/forkserver workers.

    Args:
        dataset (Dataset): map-style; items are ``(waveform, label, ...)`` with waveform
            (time,) or (channels, time) (tensor or NumPy array) and label a class index, a
            (num_classes,) target or frame labels (frames, classes) at the mixer's
            ``target_hop``, which follow the audio of the pair and come back with the mix's
            frames (further elements are dropped), or mappings with the
            waveform under ``input_key`` and the label under ``label_key`` (the other keys
            are kept from item ``i``). Other layouts go through ``unpack``.
        mixer (Mixer or None, optional): the mixer applied to each pair; its settings
            (``alpha``, ``num_classes``, ``placement``, ...) are then its own, and passing them
            here too is an error. (Default: ``None``: a :class:`~audiomix.WaveformMixup` built
            from ``alpha``, ``num_classes`` and ``options``)
        alpha (float or None, optional): Beta concentration, > 0, of the default mixer.
            (Default: ``None``, meaning ``0.2``)
        num_classes (int or None, optional): needed for class-index labels.
        partner (str, optional): ``"any"``, ``"other_class"``, ``"same_class"`` or
            ``"class_balanced"``, as above. (Default: ``"any"``)
        labels (sequence, Tensor or None, optional): the label of every item, in the
            dataset's order, as the items carry them: class indices (n,), targets
            (n, num_classes), or a list of per-item labels; needed by the class rules, e.g.
            ``[WORDS.index(path.parent.name) for path in files]`` or a Hugging Face dataset's
            ``ds["label"]``. (Default: ``None``)
        return_info (bool, optional): append ``{"partner": j, "lam": λ, "unmet": u}`` to each
            item (under the key ``"mix_info"`` for mapping items); ``λ`` is the weight the
            item's own target got, ``u`` whether the partner rule left the item unmixed.
            (Default: ``False``)
        unpack (callable or None, optional): maps an item of ``dataset`` to
            ``(waveform, label)``, e.g. for torchaudio's ``SPEECHCOMMANDS``, whose items are
            ``(waveform, sample_rate, label, speaker_id, utterance_number)`` with a word as
            label: ``unpack=lambda item: (item[0], WORDS.index(item[2]))``. With worker
            processes started by spawn or forkserver, pass a module-level function (lambdas
            do not pickle). (Default: ``None``)
        input_key (str, optional): audio key of mapping items. (Default: ``"input_values"``)
        label_key (str, optional): label key of mapping items. (Default: ``"labels"``)
        check_finite (bool, optional): reject clips with NaN/Inf values. (Default: ``True``)
        views (mapping or None, optional): for mapping items with several aligned entries
            (audio, frame labels, clip labels, embeddings, masks, strong-label flags):
            ``{key: View or kind}`` as in :meth:`~audiomix.transforms.Mixer.mix_views`. The
            item and its partner are mixed with one draw and the item comes back with every
            listed entry mixed, each time-aligned one with the mix's frames; ``input_key`` and
            ``label_key`` are then unused. (Default: ``None``)
        **options: the default mixer's other arguments (``p``, ``label_smoothing``,
            ``multilabel``, ``union``, ``placement``, ``generator``, ``per_rank``, ...; see
            :class:`~audiomix.transforms.Mixer`).

    Example:
        >>> base = [(torch.randn(8000 + 1000 * i), i % 3) for i in range(6)]
        >>> ds = MixupDataset(base, alpha=0.4, num_classes=3, generator=0)
        >>> waveform, target = ds[0]
        >>> target.shape
        torch.Size([3])
        >>> from audiomix import SNRMix
        >>> snr = MixupDataset(base, SNRMix(snr_db=(0.0, 10.0), num_classes=3, generator=0))
        >>> snr[1][1].shape
        torch.Size([3])
    """

    def __init__(
        self,
        dataset: Dataset,
        mixer: Mixer | None = None,
        *,
        alpha: float | None = None,
        num_classes: int | None = None,
        partner: str = "any",
        labels: Sequence[Any] | Tensor | None = None,
        return_info: bool = False,
        unpack: Callable[[Any], Sequence[Any]] | None = None,
        input_key: str = "input_values",
        label_key: str = "labels",
        check_finite: bool = True,
        views: Mapping[str, Any] | None = None,
        **options: Any,
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
        check_mixer_options(type(self).__name__, options)
        if mixer is None:
            # Clips are checked one by one in _item (naming the item), not again as a pair.
            mixer = WaveformMixup(
                0.2 if alpha is None else alpha, num_classes, check_finite=False, **options
            )
        elif not isinstance(mixer, Mixer):
            raise TypeError(
                f"`mixer` must be an audiomix mixer (a transforms.Mixer), but got "
                f"{type(mixer).__name__}."
            )
        else:
            given = [name for name, v in (("alpha", alpha), ("num_classes", num_classes)) if v]
            if given or options:
                raise ValueError(
                    f"`mixer` brings its own settings, so {[*given, *options]} must not be "
                    "given too; set them on the mixer."
                )
        if mixer.partner != "any":
            raise ValueError(
                f"`mixer` has `partner`={mixer.partner!r}, but MixupDataset draws the partners "
                "across the dataset: pass `partner=` to MixupDataset and keep the mixer's 'any'."
            )
        self.partner = check_choice(partner, "partner", DATASET_PARTNER_RULES)
        if self.partner != "any" and labels is None:
            raise ValueError(
                f"`partner`={self.partner!r} needs the class of every item without reading its "
                "audio: pass `labels=`, one label per item in the dataset's order (e.g. from "
                "the file names or a metadata column)."
            )
        self.classes = (
            None
            if labels is None
            else ItemClasses(labels, len(dataset), multilabel=mixer.multilabel)
        )
        self.dataset = dataset
        self.mixer = mixer
        self.return_info = bool(return_info)
        self.unpack = unpack
        self.input_key = input_key
        self.label_key = label_key
        self.check_finite = bool(check_finite)
        self.views = None
        if views is not None:
            spec = as_views(views)
            if split_views(spec)[1] is None:
                spec[_LENGTHS] = View("lengths")
            self.views = spec

    def _scheduled_members(self) -> list[Mixer]:
        return [self.mixer]

    def __len__(self) -> int:
        return len(self.dataset)

    def _index(self, index: Any) -> int:
        # Samplers index with ints, NumPy integers or 0-d integer tensors (Subset over
        # torch.randperm, SubsetRandomSampler): all have __index__.
        if isinstance(index, bool) or (
            isinstance(index, Tensor) and (index.is_floating_point() or index.numel() != 1)
        ):
            raise TypeError(f"`index` must be an integer, but got {_describe(index)}.")
        try:
            i = operator.index(index)
        except TypeError:
            raise TypeError(f"`index` must be an integer, but got {_describe(index)}.") from None
        n = len(self.dataset)
        if not -n <= i < n:
            raise IndexError(f"`index` {i} is out of range for a dataset of {n} items.")
        return i % n

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
            raw, label = item[self.input_key], item[self.label_key]
            where = f"{where}[{self.input_key!r}]"
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
                f"but got {clip.dtype} of shape {tuple(clip.shape)}.{self._layout_hint(item)}"
            )
        if isinstance(label, str):
            raise ValueError(
                f"the label of `dataset[{index}]` is the string {label!r}; labels are class "
                f"indices or targets.{self._layout_hint(item)}"
            )
        if self.check_finite and not bool(torch.isfinite(clip).all()):
            raise ValueError(
                f"`{where}` contains NaN or Inf values. Clean the data, or pass "
                "`check_finite=False` to mix it anyway."
            )
        return clip, torch.as_tensor(label), item

    def _layout_hint(self, item: Any) -> str:
        """How the item was read, and what to do if that is not its layout."""
        if self.unpack is not None or not isinstance(item, (tuple, list)):
            return ""
        return (
            f" MixupDataset read the item {_describe(item)} as (waveform, label, ...). For "
            "another layout (e.g. torchaudio's SPEECHCOMMANDS: waveform, sample_rate, word, "
            "speaker, utterance) pass `unpack=`, a function mapping an item to "
            "(waveform, label)."
        )

    def _output(
        self, item: Any, x: Tensor, targets: Tensor, partner: int, lam: float, unmet: bool = False
    ) -> Any:
        info = {"partner": partner, "lam": lam, "unmet": unmet}
        return mixed_item(
            item,
            x,
            targets,
            info,
            input_key=self.input_key,
            label_key=self.label_key,
            return_info=self.return_info,
        )

    def _targets(self, build: Callable[[], Tensor], item: Any) -> Tensor:
        """Targets from ``build()``, with the item's layout named if its labels are wrong."""
        try:
            return build()
        except (ValueError, TypeError) as err:
            hint = self._layout_hint(item)
            if not hint:
                raise
            raise type(err)(f"{err}{hint}") from err

    def _partner(self, index: int, generator: torch.Generator) -> int | None:
        """A partner drawn uniformly among the items :attr:`partner` allows: ``None`` when no
        other item satisfies the rule (the item itself when it is alone under ``"any"``)."""
        if self.classes is None:
            return draw_other(index, len(self.dataset), generator)
        return self.classes.draw(index, self.partner, generator)

    def _check_label(self, index: int, label: Tensor) -> None:
        """The label read from the item has the classes that ``labels`` lists for it."""
        if self.classes is not None and not self.classes.agrees(index, label):
            listed = self.classes.classes(index).tolist()
            raise ValueError(
                f"`labels[{index}]` lists classes {listed}, but dataset[{index}] has the label "
                f"{label.tolist()}: `labels` must give every item's label in the dataset's order."
            )

    def __getitem__(self, index: Any) -> Any:
        index = self._index(index)
        if self.views is not None:
            return self._views_item(index)
        x, y, item = self._item(index)
        self._check_label(index, y)
        if not self.training:
            targets = self._targets(lambda: self._unmixed(y), item)
            return self._output(item, x, targets, index, 1.0)
        partner = self._partner(index, self.mixer.generator)
        params = self.mixer.sample_params(2, perm=_PAIR)
        if partner is None or partner == index or not bool(params.applied[0]):
            # Reported as unmet only where the coin asked for a mix, as in a batch.
            unmet = partner is None and bool(params.applied[0])
            targets = self._targets(lambda: self._unmixed(y), item)
            return self._output(item, x, targets, index, 1.0, unmet)
        x2, y2, _ = self._item(partner)
        self._check_label(partner, y2)
        if x2.shape[:-1] != x.shape[:-1]:
            raise ValueError(
                f"items {index} and {partner} have different channel layouts: "
                f"{tuple(x.shape)} and {tuple(x2.shape)}."
            )
        pair, lengths = pad_batch([x, x2.to(x.dtype)])
        frames = y.ndim == 2
        if frames:  # frame labels of each item, padded to the longer one
            last = self.mixer.frames_last
            rows = [y if last else y.T, (y2 if last else y2.T).to(y.dtype)]
            both, counts = pad_batch(rows)
            both = both if last else both.transpose(1, 2)
        else:
            both = torch.stack([y, y2.to(y.dtype)])
        params = self.mixer.place(params, lengths)
        mixed, targets, valid = self._targets(
            lambda: self.mixer(pair, both, lengths, params=params), item
        )
        applied = self.mixer.last_params
        lam = 1.0 if applied is None else float(applied.lam[0])
        target = targets[0]
        if frames:
            # The mix lasts as long as one of the two clips: it has that clip's frames.
            n, v = lengths.tolist(), int(valid[0])
            keep = int(counts[0]) if v == n[0] else int(counts[1]) if v == n[1] else None
            if keep is None:
                keep = int(target_lengths(valid[:1], self.mixer.target_hop)[0])
            target = target[..., :keep] if self.mixer.frames_last else target[:keep]
        return self._output(item, mixed[0, ..., : int(valid[0])], target, partner, lam)

    def _raw(self, index: int) -> Mapping[str, Any]:
        item = self.dataset[index]
        if self.unpack is not None:
            item = self.unpack(item)
        if not isinstance(item, Mapping):
            raise ValueError(
                f"with `views`, items must be mappings, but `dataset[{index}]` is "
                f"{type(item).__name__}."
            )
        return item

    def _views_item(self, index: int) -> dict[str, Any]:
        """Item ``index`` with every view mixed with its partner's by one draw."""
        views = self.views
        if views is None:
            raise RuntimeError("MixupDataset was built without `views`.")
        item = self._raw(index)
        frames_last = self.mixer.frames_last
        mixing = self.training
        partner: int | None = None
        if mixing:
            partner = self._partner(index, self.mixer.generator)
            params = self.mixer.sample_params(2, perm=_PAIR)
            mixing = partner is not None and partner != index and bool(params.applied[0])
        if not mixing or partner is None:
            batch = collate_views([item], views, frames_last=frames_last)
            with eval_mode(self.mixer):
                out = self.mixer.mix_views(batch, views)
            return self._view_row(out, [item], None)
        other = self._raw(partner)
        pair = collate_views([item, other], views, frames_last=frames_last)
        lengths_key = split_views_with_lengths(views)[1]
        params = self.mixer.place(params, pair[lengths_key])
        out = self.mixer.mix_views(pair, views, params=params)
        return self._view_row(out, [item, other], pair[lengths_key])

    def _view_row(
        self, out: Mapping[str, Any], items: list[Mapping[str, Any]], lengths: Tensor | None
    ) -> dict[str, Any]:
        """Row 0 of a mixed batch as an item: the audio cut to the mix's length, each
        time-aligned view to the frames of the clip the mix lasts as long as."""
        views = self.views or {}
        audio_key, lengths_key = split_views_with_lengths(views)
        valid = int(out[lengths_key][0])
        # The clip whose length the mix has (its own frames are the mix's frames).
        source = 0 if lengths is None or valid == int(lengths[0]) else 1
        row: dict[str, Any] = {}
        for key, value in out.items():
            view = views.get(key)
            if key == lengths_key and key not in items[0]:
                continue
            if key == audio_key:
                row[key] = value[0, ..., :valid]
            elif view is not None and view.kind in TIMED_KINDS and key in items[source]:
                last = view.time_dim == -1 or (
                    view.kind == "frame_targets" and self.mixer.frames_last
                )
                raw = as_clip(items[source][key], f"`{key}`")
                count = raw.shape[-1] if last else raw.shape[0]
                row[key] = value[0, ..., :count] if last else value[0, :count]
            elif isinstance(value, (Tensor, list, tuple)):
                row[key] = value[0]
            else:
                row[key] = value
        return row

    def _unmixed(self, y: Tensor) -> Tensor:
        """The targets of one unmixed item: clip (num_classes,) or frame (frames, classes)."""
        labels = y.unsqueeze(0)
        if y.ndim != 2:
            return self.mixer.settings.unmixed_targets(labels)[0]
        m = self.mixer
        frames = labels.transpose(1, 2) if m.frames_last else labels
        return m._layout_back(m.unmixed_targets(frames))[0]

    def state_dict(self) -> dict[str, Any]:
        """The mixer's stream, for checkpoints (main process only)."""
        return self.mixer.get_extra_state()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores a state from :meth:`state_dict`."""
        self.mixer.set_extra_state(state)


def _describe(value: Any) -> str:
    """A short description of an item or index for messages: types and shapes, not data."""
    if isinstance(value, Tensor):
        return f"Tensor {tuple(value.shape)} {value.dtype}"
    if isinstance(value, (tuple, list)):
        inner = ", ".join(_describe(v) for v in value[:6])
        more = ", ..." if len(value) > 6 else ""
        return f"{type(value).__name__} of {len(value)}: ({inner}{more})"
    if isinstance(value, (int, float, str)) and len(repr(value)) <= 24:
        return f"{type(value).__name__} {value!r}"
    shape = getattr(value, "shape", None)
    return type(value).__name__ + ("" if shape is None else f" {tuple(shape)}")
