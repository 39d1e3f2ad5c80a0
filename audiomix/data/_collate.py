"""Collate functions: pad variable-length clips, mix each batch in the DataLoader's workers."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import default_collate

from .._views import TIMED_KINDS, View, as_views, split_views_with_lengths
from ..functional._alignment import pad_batch
from ._items import TrainEvalSwitch, as_clip, eval_mode

__all__ = ["MixCollate", "pad_collate"]


def _check_mapping_item(item: Any, i: int, keys: list[str]) -> None:
    if not isinstance(item, Mapping):
        raise ValueError(
            f"every item must be a mapping like `batch[0]`, but `batch[{i}]` is "
            f"{type(item).__name__}."
        )
    if set(item) != set(keys):
        raise ValueError(
            f"every item must have the keys of `batch[0]` {keys}, but `batch[{i}]` has "
            f"{list(item)}."
        )


def _collate_mapping(
    batch: Sequence[Mapping[str, Any]],
    *,
    pad_value: float,
    multiple_of: int | None,
    input_key: str,
    lengths_key: str,
) -> dict[str, Any]:
    keys = list(batch[0])
    if input_key not in batch[0]:
        raise ValueError(
            f"`input_key`={input_key!r} is not a key of the items; they have {keys}. Pass "
            "`input_key=` with the key of the audio."
        )
    if lengths_key in batch[0]:
        raise ValueError(
            f"the items already have a key `lengths_key`={lengths_key!r}; pass another "
            "`lengths_key=` for the valid lengths."
        )
    for i, item in enumerate(batch):
        _check_mapping_item(item, i, keys)
    clips = [
        as_clip(item[input_key], f"`batch[{i}][{input_key!r}]`") for i, item in enumerate(batch)
    ]
    x, lengths = pad_batch(clips, pad_value=pad_value, multiple_of=multiple_of)
    out: dict[str, Any] = {}
    for key in keys:
        out[key] = x if key == input_key else default_collate([item[key] for item in batch])
    out[lengths_key] = lengths
    return out


def pad_collate(
    batch: Sequence[Any],
    *,
    pad_value: float = 0.0,
    multiple_of: int | None = None,
    input_key: str = "input_values",
    lengths_key: str = "lengths",
) -> Any:
    """Collates clips of different lengths: right-pads them and returns their lengths.

    Each item is a waveform (time,) or (channels, time) (a tensor or a NumPy array), a
    tuple/list whose first element is one, e.g. ``(waveform, label)``, or a mapping (what
    Hugging Face datasets yield) with the waveform under ``input_key``. The waveforms are
    padded with :func:`pad_batch`; the other elements are collated by
    ``torch.utils.data.default_collate``.

    Args:
        batch (sequence): the items.
        pad_value (float, optional): padding value. (Default: ``0.0``, silence)
        multiple_of (int or None, optional): round the padded length up to a multiple of this.
        input_key (str, optional): key of the waveform in mapping items.
            (Default: ``"input_values"``)
        lengths_key (str, optional): key under which mapping batches get the lengths.
            (Default: ``"lengths"``)

    Returns:
        ``(waveforms, lengths)`` for bare waveforms; ``(waveforms, *rest, lengths)`` for
        tuples, e.g. ``(waveforms, labels, lengths)``; for mappings, a dict with the items'
        keys (the waveforms padded) plus ``lengths_key``. Waveforms (batch, [channels,] time),
        lengths (batch,) int64. Use ``functools.partial`` to set the keywords.

    Example:
        >>> x, labels, lengths = pad_collate([(torch.ones(3), 0), (torch.ones(5), 1)])
        >>> x.shape, labels.tolist(), lengths.tolist()
        (torch.Size([2, 5]), [0, 1], [3, 5])
        >>> batch = pad_collate([{"input_values": torch.ones(3), "labels": 0},
        ...                      {"input_values": torch.ones(5), "labels": 1}])
        >>> sorted(batch), batch["lengths"].tolist()
        (['input_values', 'labels', 'lengths'], [3, 5])
    """
    if isinstance(batch, Tensor) or not isinstance(batch, Sequence) or len(batch) == 0:
        raise ValueError("`batch` must be a non-empty list of items.")
    first = batch[0]
    if isinstance(first, Mapping):
        return _collate_mapping(
            batch,
            pad_value=pad_value,
            multiple_of=multiple_of,
            input_key=input_key,
            lengths_key=lengths_key,
        )
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
        clips = [as_clip(item[0], f"`batch[{i}][0]`") for i, item in enumerate(batch)]
        x, lengths = pad_batch(clips, pad_value=pad_value, multiple_of=multiple_of)
        rest = [default_collate([item[k] for item in batch]) for k in range(1, width)]
        return (x, *rest, lengths)
    clips = [as_clip(item, f"`batch[{i}]`") for i, item in enumerate(batch)]
    x, lengths = pad_batch(clips, pad_value=pad_value, multiple_of=multiple_of)
    return x, lengths


def collate_views(
    batch: Sequence[Any], views: dict[str, View], *, frames_last: bool
) -> dict[str, Any]:
    """Mapping items to a batch: the audio and every time-aligned view right-padded with
    zeros, the audio's lengths added, the rest by ``default_collate``."""
    if isinstance(batch, Tensor) or not isinstance(batch, Sequence) or len(batch) == 0:
        raise ValueError("`batch` must be a non-empty list of items.")
    keys = list(batch[0]) if isinstance(batch[0], Mapping) else []
    for i, item in enumerate(batch):
        _check_mapping_item(item, i, keys)
    audio_key, lengths_key = split_views_with_lengths(views)
    for key, view in views.items():
        if key not in keys and not (view.kind == "lengths"):
            raise ValueError(f"`views` names {key!r}, which is not a key of the items {keys}.")
    clips = [
        as_clip(item[audio_key], f"`batch[{i}][{audio_key!r}]`") for i, item in enumerate(batch)
    ]
    x, lengths = pad_batch(clips)
    out: dict[str, Any] = {}
    for key in keys:
        spec = views.get(key)
        if key == audio_key:
            out[key] = x
        elif spec is not None and spec.kind in TIMED_KINDS:
            last = spec.time_dim == -1 or (spec.kind == "frame_targets" and frames_last)
            rows = [as_clip(item[key], f"`batch[{i}][{key!r}]`") for i, item in enumerate(batch)]
            rows = [r if last else r.movedim(0, -1) for r in rows]
            padded, _ = pad_batch(rows)
            out[key] = padded if last else padded.movedim(-1, 1)
        elif spec is not None and spec.kind == "lengths":
            continue
        else:
            out[key] = default_collate([item[key] for item in batch])
    out[lengths_key] = lengths
    return out


class MixCollate(TrainEvalSwitch):
    """A collate function that mixes each batch, so mixing runs in the DataLoader's workers.

    Collates with ``collate_fn`` (default :func:`pad_collate`), then calls ``mixer``:

    * tuple items ``(waveform, label)`` collated by :func:`pad_collate` give
      ``mixer(x, labels, lengths)``, returned as ``(x, targets, lengths)``. Further fields,
      ``(waveform, label, speaker, ...)``, are collated by ``default_collate`` and come back
      where :func:`pad_collate` puts them, between the targets and the lengths:
      ``(x, targets, speakers, ..., lengths)``. They stay those of each row's own item (a
      mixed row's partner is in the mixer's ``last_params``, in the worker that mixed it);
    * mapping items (Hugging Face style) give ``mixer(batch[input_key], batch[label_key],
      batch[lengths_key])``, returned as the collated dict with those three entries replaced
      and the other keys as collated;
    * a custom ``collate_fn`` returns ``(x, labels)``, ``(x, labels, lengths)`` or
      ``(x, labels, *extras, lengths)`` (the lengths last, as :func:`pad_collate` returns
      them), or a mapping as above.

    Items without labels (bare clips) are an error: their collated ``(x, lengths)`` would
    otherwise be read as ``(x, labels)``. The mixer's stream reseeds in each worker from the
    worker's seed, so workers and epochs draw different mixes; its ``last_params`` stay in the
    worker. ``collate.eval()`` turns mixing off (the mixer runs in eval mode: nothing mixed,
    unmixed targets; a :class:`~audiomix.Chain` still applies its front end and skips its
    training-only steps) for an evaluation loader, e.g. ``MixCollate(mixer).eval()``; so does
    the mixer's own ``.eval()`` before the workers start. Changing ``mixer.alpha`` or
    ``mixer.p`` reaches running workers, for schedules. Picklable for spawn/forkserver workers
    (give a module-level ``collate_fn``).

    Args:
        mixer (nn.Module): an audiomix mixing module (or :class:`~audiomix.Chain`), on the CPU.
        collate_fn (callable or None, optional): builds the batch from the items.
            (Default: :func:`pad_collate` with ``input_key`` and ``lengths_key``)
        input_key (str, optional): audio key of mapping items. (Default: ``"input_values"``)
        label_key (str, optional): label key of mapping items; it receives the targets.
            (Default: ``"labels"``, as the Hugging Face ``Trainer`` expects)
        lengths_key (str, optional): lengths key of mapping batches. (Default: ``"lengths"``)
        views (mapping or None, optional): for mapping items with several aligned entries
            (Hugging Face sound event detection data: audio, frame labels, clip labels,
            embeddings, masks, strong-label flags): ``{key: View or kind}`` as in
            :meth:`~audiomix.transforms.Mixer.mix_views`. The items are collated with the
            audio and every time-aligned view right-padded with zeros (each to its longest
            item), the audio's lengths under ``lengths_key``, and the batch is mixed with one
            draw by ``mixer.mix_views``; ``input_key`` and ``label_key`` are then unused.
            (Default: ``None``)

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

    def __init__(
        self,
        mixer: nn.Module,
        *,
        collate_fn: Callable[[Any], Any] | None = None,
        input_key: str = "input_values",
        label_key: str = "labels",
        lengths_key: str = "lengths",
        views: Mapping[str, Any] | None = None,
    ):
        if not isinstance(mixer, nn.Module):
            raise TypeError(f"`mixer` must be a mixing module, but got {type(mixer).__name__}.")
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"`collate_fn` must be callable, but got {type(collate_fn).__name__}.")
        for name, key in (
            ("input_key", input_key),
            ("label_key", label_key),
            ("lengths_key", lengths_key),
        ):
            if not isinstance(key, str):
                raise TypeError(f"`{name}` must be a str, but got {type(key).__name__}.")
        self.mixer = mixer
        self.collate_fn = collate_fn
        self.input_key = input_key
        self.label_key = label_key
        self.lengths_key = lengths_key
        self.views = None
        if views is not None:
            if not hasattr(mixer, "mix_views"):
                raise TypeError(
                    f"`views` need a mixer with `mix_views` (an audiomix mixer or Chain), but "
                    f"`mixer` is {type(mixer).__name__}."
                )
            spec = as_views(views)
            if not any(v.kind == "lengths" and v.hop in (None, 1) for v in spec.values()):
                spec[lengths_key] = View("lengths")
            self.views = spec

    def _collate(self, batch: Sequence[Any]) -> Any:
        if self.collate_fn is not None:
            return self.collate_fn(batch)
        if self.views is not None:
            return collate_views(
                batch, self.views, frames_last=bool(getattr(self.mixer, "frames_last", False))
            )
        if isinstance(batch, Sequence) and batch:
            first = batch[0]
            bare = not isinstance(first, (tuple, list, Mapping))
            if bare or (isinstance(first, (tuple, list)) and len(first) < 2):
                found = (
                    f"a bare {type(first).__name__}"
                    if bare
                    else f"a {type(first).__name__} of {len(first)} element(s)"
                )
                raise ValueError(
                    "MixCollate needs labelled items, (waveform, label, ...) tuples or mappings "
                    f"with {self.label_key!r}, but `batch[0]` is {found}. To mix unlabelled "
                    "audio, collate with pad_collate and call the mixer with labels=None."
                )
        return pad_collate(batch, input_key=self.input_key, lengths_key=self.lengths_key)

    def _mix(self, *args: Any) -> Any:
        with torch.no_grad():
            if self.training:
                return self.mixer(*args)
            with eval_mode(self.mixer):
                return self.mixer(*args)

    def __call__(self, batch: Sequence[Any]) -> Any:
        return self._mix_collated(self._collate(batch))

    def _mix_collated(self, collated: Any) -> Any:
        if isinstance(collated, Mapping):
            return self._mix_mapping(collated)
        if not isinstance(collated, (tuple, list)) or len(collated) < 2:
            raise ValueError(
                "`collate_fn` must return (x, labels), (x, labels, lengths), "
                "(x, labels, *extras, lengths) or a mapping, but returned "
                f"{type(collated).__name__}"
                + (f" of length {len(collated)}." if isinstance(collated, (tuple, list)) else ".")
            )
        if len(collated) == 2:
            return self._mix(*collated)
        x, labels, *extras, lengths = collated
        x, targets, lengths = self._mix(x, labels, lengths)
        return (x, targets, *extras, lengths)

    def _mix_mapping(self, collated: Mapping[str, Any]) -> dict[str, Any]:
        if self.views is not None:
            mixer: Any = self.mixer  # has mix_views: checked at construction
            with torch.no_grad():
                if self.training:
                    return mixer.mix_views(collated, self.views)
                with eval_mode(mixer):
                    return mixer.mix_views(collated, self.views)
        for name, key in (("input_key", self.input_key), ("label_key", self.label_key)):
            if key not in collated:
                raise ValueError(
                    f"the collated batch has no `{name}`={key!r}; its keys are "
                    f"{list(collated)}. Items without labels cannot be mixed with targets."
                )
        out = dict(collated)
        lengths = collated.get(self.lengths_key)
        if lengths is None:
            x, targets = self._mix(collated[self.input_key], collated[self.label_key])
        else:
            x, targets, lengths = self._mix(
                collated[self.input_key], collated[self.label_key], lengths
            )
            out[self.lengths_key] = lengths
        out[self.input_key] = x
        out[self.label_key] = targets
        return out

    def __repr__(self) -> str:
        return (
            f"MixCollate(mixer={self.mixer!r}, collate_fn={self.collate_fn!r}, "
            f"training={self.training})"
        )
