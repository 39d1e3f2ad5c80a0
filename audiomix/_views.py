"""One draw, several aligned views: every tensor of a batch mixed with the same parameters.

Features and embeddings mixed by two separate calls get two draws, and their targets are mixed
twice (DESED's baseline, issue #112 there). :meth:`Mixer.mix_views` draws once and derives
every view from that draw: the audio is mixed by the mixer itself, frame-level views (frame
targets, embeddings, masks) follow its :class:`~audiomix.functional.TimeMap` at their own
resolution, clip targets take the applied weights, and per-row flags say which rows still have
valid frame labels.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from ._arrays import as_tensor
from .functional._frame_targets import mix_strong_flags
from .functional._frames import check_frame_count, check_hop, mix_frames, target_lengths

if TYPE_CHECKING:
    from .transforms._base import Mixer

__all__ = ["View"]

VIEW_KINDS = ("audio", "lengths", "frames", "frame_targets", "clip_targets", "mask", "strong")
#: Kinds whose tensors have a time axis at a resolution of their own.
TIMED_KINDS = ("frames", "frame_targets", "mask")


@dataclass(frozen=True)
class View:
    """How one entry of a batch mapping follows a mix (:meth:`Mixer.mix_views`).

    Kinds:

    * ``"audio"``: the mixer's own input (exactly one per mapping), mixed by the mixer;
    * ``"lengths"``: (batch,) valid lengths. At ``hop`` ``None`` or 1 they are the audio's,
      read as input and replaced by the mix's; at another hop they are written as
      ``ceil(lengths / hop)`` of the mix (e.g. the frame targets' valid frames);
    * ``"frame_targets"``: frame labels (batch, frames, classes) (or (batch, classes, frames)
      with the mixer's ``frames_last``), turned into targets as the mixer's settings say
      (smoothing, ``multilabel``, ``union``) and mixed frame by frame;
    * ``"clip_targets"``: class indices (batch,) or targets (batch, classes), mixed by the
      weights each row got;
    * ``"frames"``: any floating tensor with a time axis (embeddings, features), mixed
      linearly with the same per-frame weights as the frame targets;
    * ``"mask"``: bool (batch, frames, ...): a frame is ``True`` in the mix where it is in any
      clip with a weight in that frame;
    * ``"strong"``: (batch,) bool, the rows whose frame labels are valid (strong labels); a
      mixed row keeps ``True`` only if every clip with a weight in it has strong labels.

    Args:
        kind (str): one of the kinds above.
        hop (int, float, Fraction or None, optional): positions of the audio per frame of this
            view (time-aligned kinds and ``"lengths"``). (Default: ``None``: the mixer's
            ``target_hop`` for frame targets, else the audio's resolution)
        time_dim (int, optional): the time axis of ``"frames"`` and ``"mask"`` views, 1 or
            -1. (Default: ``1``, as (batch, frames, ...))

    Example:
        >>> View("frames", hop=4, time_dim=-1)
        View(kind='frames', hop=Fraction(4, 1), time_dim=-1)
    """

    kind: str
    hop: Fraction | None = None
    time_dim: int = 1

    def __post_init__(self) -> None:
        if self.kind not in VIEW_KINDS:
            raise ValueError(f"`kind` must be one of {list(VIEW_KINDS)}, but got {self.kind!r}.")
        object.__setattr__(self, "hop", check_hop(self.hop, "hop"))
        if self.time_dim not in (1, -1):
            raise ValueError(f"`time_dim` must be 1 or -1, but got {self.time_dim!r}.")
        if self.hop is not None and self.kind not in (*TIMED_KINDS, "lengths"):
            raise ValueError(f"a {self.kind!r} view has no time axis, so it takes no `hop`.")


def as_views(views: Mapping[str, View | str]) -> dict[str, View]:
    """``views`` with the kinds given as strings turned into :class:`View` objects, checked."""
    if not isinstance(views, Mapping) or not views:
        raise TypeError(
            "`views` must be a non-empty mapping {key: View or kind}, but got "
            f"{type(views).__name__}."
        )
    out = {}
    for key, view in views.items():
        if isinstance(view, str):
            view = View(view)
        if not isinstance(view, View):
            raise TypeError(
                f"`views[{key!r}]` must be a View or a kind string, but got {type(view).__name__}."
            )
        out[key] = view
    audio = [k for k, v in out.items() if v.kind == "audio"]
    if len(audio) != 1:
        raise ValueError(f"`views` must name exactly one 'audio' entry, but names {audio}.")
    inputs = [k for k, v in out.items() if v.kind == "lengths" and v.hop in (None, 1)]
    if len(inputs) > 1:
        raise ValueError(
            f"`views` names {inputs} as the audio's lengths; give one (others with a `hop`)."
        )
    return out


def split_views_with_lengths(views: dict[str, View]) -> tuple[str, str]:
    """The keys of the audio and of its lengths, for paths that collate clips (and so always
    know their lengths)."""
    audio, lengths = split_views(views)
    if lengths is None:
        raise ValueError("`views` must name the lengths of the audio (a View('lengths')).")
    return audio, lengths


def split_views(views: dict[str, View]) -> tuple[str, str | None]:
    """The key of the audio and of its lengths (``None`` without)."""
    audio = next(k for k, v in views.items() if v.kind == "audio")
    lengths = next(
        (k for k, v in views.items() if v.kind == "lengths" and v.hop in (None, 1)), None
    )
    return audio, lengths


def _frames_first(y: Tensor, view: View) -> Tensor:
    return y.movedim(-1, 1) if view.time_dim == -1 and y.ndim > 2 else y


def _frames_back(y: Tensor, view: View) -> Tensor:
    return y.movedim(1, -1) if view.time_dim == -1 and y.ndim > 2 else y


def mix_views(
    mixer: Mixer,
    batch: Mapping[str, Any],
    views: Mapping[str, View | str],
    *,
    params: Any = None,
    target_hop: object = None,
) -> dict[str, Any]:
    """The work of :meth:`Mixer.mix_views` (see there)."""
    if not isinstance(batch, Mapping):
        raise TypeError(f"`batch` must be a mapping of tensors, but got {type(batch).__name__}.")
    spec = as_views(views)
    audio_key, lengths_key = split_views(spec)
    for key, view in spec.items():
        if key not in batch and not (view.kind == "lengths" and view.hop not in (None, 1)):
            raise ValueError(
                f"`views` names {key!r}, which is not a key of the batch {list(batch)}."
            )
    x = as_tensor(batch[audio_key], audio_key)
    lengths = None
    if lengths_key is not None:
        lengths = as_tensor(batch[lengths_key], lengths_key)
    hop_default = mixer.target_hop if target_hop is None else check_hop(target_hop)
    mixer._check_inputs(x, None, lengths)
    b, t = x.shape[0], x.shape[-1]
    tensors: dict[str, Tensor] = {}
    for key, view in spec.items():
        if view.kind in ("audio", "lengths"):
            continue
        value = as_tensor(batch[key], key)
        if not isinstance(value, Tensor) or value.ndim == 0 or value.shape[0] != b:
            got = tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__
            raise ValueError(
                f"`{key}` must have the batch ({b}) first, like `{audio_key}`, but got {got}."
            )
        if view.kind in TIMED_KINDS:
            hop = (
                view.hop
                if view.hop is not None
                else (hop_default if view.kind == "frame_targets" else None)
            )
            if view.kind == "frame_targets":
                value = mixer._frame_labels(value, t, hop, name=key)
            else:
                if value.ndim < 2:
                    raise ValueError(
                        f"`{key}` is a {view.kind!r} view, so it needs a time axis: (batch, "
                        f"frames, ...), but got shape {tuple(value.shape)}."
                    )
                value = _frames_first(value, view)
                check_frame_count(value.shape[1], t, hop, name=key)
        tensors[key] = value
    out = dict(batch)
    if not mixer.training:
        for key, view in spec.items():
            if view.kind == "frame_targets":
                out[key] = mixer._layout_back(mixer.unmixed_targets(tensors[key]))
            elif view.kind == "clip_targets":
                out[key] = mixer.unmixed_targets(tensors[key])
            elif view.kind == "lengths" and view.hop not in (None, 1) and lengths is not None:
                out[key] = target_lengths(
                    lengths, view.hop, frames_at(batch, spec, view.hop, hop_default)
                )
        return out
    if params is None:
        rule_labels = next(
            (tensors[k] for k, v in spec.items() if v.kind in ("clip_targets", "frame_targets")),
            None,
        )
        params = mixer.sample_params(b, None if lengths is None else lengths.cpu(), rule_labels)
    else:
        mixer._check_params(params, b, lengths)
    mixed, applied = mixer._mix_rows(x, params, lengths)
    mixer.last_params = applied
    tmap = mixer.time_map(applied, lengths, x.shape)
    out_lengths = None if lengths is None else mixer.output_lengths(lengths, applied)
    for key, view in spec.items():
        if view.kind == "audio":
            out[key] = mixed
        elif view.kind == "lengths":
            if view.hop in (None, 1):
                out[key] = out_lengths
            elif out_lengths is not None:
                frames = frames_at(batch, spec, view.hop, hop_default)
                out[key] = target_lengths(out_lengths, view.hop, frames)
        elif view.kind == "frame_targets":
            hop = view.hop if view.hop is not None else hop_default
            targets = mixer._mixed_frame_targets(tensors[key], applied, tmap, lengths, hop)
            out[key] = mixer._layout_back(targets)
        elif view.kind == "clip_targets":
            out[key] = mixer.settings.mixed_targets(
                tensors[key], applied.lam, applied.perm, validate=mixer.validate
            )
        elif view.kind == "frames":
            y = tensors[key]
            if not y.is_floating_point():
                raise TypeError(f"`{key}` is a 'frames' view, so it must be floating point.")
            mixed_y = mix_frames(y, tmap, hop=view.hop, lengths=lengths)
            out[key] = _frames_back(mixed_y, view)
        elif view.kind == "mask":
            y = tensors[key].to(torch.float32)
            union = mix_frames(y, tmap, hop=view.hop, lengths=lengths, union=True) > 0
            out[key] = _frames_back(union, view)
        else:  # strong
            out[key] = mix_strong_flags(tensors[key], applied.lam, applied.perm)
    return out


def frames_at(
    batch: Mapping[str, Any], views: dict[str, View], hop: Fraction, default: Fraction | None
) -> int | None:
    """The frame count of the first time-aligned view at ``hop`` (to clamp lengths derived
    at that hop), ``None`` if there is none."""
    for key, view in views.items():
        own = view.hop if view.hop is not None else default
        if view.kind not in TIMED_KINDS or own != hop or not isinstance(batch.get(key), Tensor):
            continue
        value = batch[key]
        return int(value.shape[-1] if view.time_dim == -1 else value.shape[1])
    return None
