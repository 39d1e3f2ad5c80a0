"""A mix bank: each training clip mixed with a segment of another dataset's audio.

The bank is a folder of audio files read lazily (:class:`AudioFolder`: only the segment a clip
needs is decoded, with soundfile) or any map-style dataset (a labelled corpus, a Hugging Face
dataset). :class:`BankMixDataset` draws a bank item (uniformly, or balanced over the bank's
categories), a segment of it as long as the clip, and mixes the pair with an audiomix mixer
(:class:`~audiomix.SNRMix` by default), from the mixer's own stream: per worker, per epoch,
saved in ``state_dict()``.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import torch
import torchaudio
from torch import Tensor
from torch.utils.data import Dataset

from .._validation import check_choice
from ..functional._alignment import pad_batch
from ..transforms import Mixer, SNRMix
from ..transforms._base import check_mixer_options
from ._dataset import MixupDataset
from ._folder import AudioFolder
from ._items import as_clip, mixed_item

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ..transforms._base import MixerOptions

__all__ = ["BankMixDataset"]

TARGET_RULES = ("keep", "mix", "union")
SAMPLING = ("uniform", "balanced")
_PAIR = torch.tensor([1, 0])
# Consecutive unreadable draws after which the bank gives up instead of retrying forever.
_MAX_RETRIES = 20


class BankMixDataset(MixupDataset):
    r"""Wraps a dataset so that each clip is mixed with a segment of a bank's audio.

    For each training item a bank item is drawn (``sampling="uniform"``, or ``"balanced"``: a
    category uniformly, then one of its items), then a segment of it as long as the clip, at a
    uniformly drawn start (a shorter bank item is used whole and placed by the mixer's
    ``placement``); ``mixer`` mixes the clip with it: :class:`~audiomix.SNRMix` (the segment
    added at an SNR below the clip) by default, :class:`~audiomix.WaveformMixup` (a λ) or any
    other mixer. The output keeps the clip's length. What the targets become is stated by
    ``targets``:

    * ``"keep"``: the clip's own targets (a noise or music bank whose content is no class);
    * ``"mix"``: the clip's and the bank item's labels weighted by the mixer's ``λ`` (SNR
      mixing: the clip's energy share), for a bank labelled in the training classes;
    * ``"union"``: both label sets (multi-hot), for event tagging.

    Files of an :class:`AudioFolder` are decoded only over the segment needed; other datasets
    (a Hugging Face dataset, a labelled corpus) are read item by item and cut. Their items
    are waveforms, ``(waveform, label, ...)`` tuples, or mappings with the audio under
    ``bank_input_key`` (an array, or a Hugging Face audio dict with ``"array"`` and
    ``"sampling_rate"``) and the label under ``bank_label_key``; ``bank_unpack`` maps other
    layouts to ``(waveform, label)``.

    Draws come from the mixer's stream, as in :class:`MixupDataset`: reseeded per DataLoader
    worker and epoch, saved by ``state_dict()``; the bank is read only once the mixer's coin
    says the clip is mixed. ``.eval()`` turns mixing off.

    Args:
        dataset (Dataset): the training items, as :class:`MixupDataset` reads them.
        bank (Dataset): an :class:`AudioFolder` or another map-style dataset, non-empty.
        mixer (Mixer or None, optional): mixes each (clip, segment) pair. (Default: ``None``:
            ``SNRMix(snr_db, num_classes, **options)``)
        snr_db (tuple of float, float or None, optional): the default mixer's SNR range in
            dB. (Default: ``None``, meaning ``(0.0, 20.0)``)
        num_classes (int or None, optional): needed for class-index labels.
        targets (str, optional): ``"keep"``, ``"mix"`` or ``"union"``. (Default: ``"keep"``)
        sampling (str, optional): ``"uniform"`` over the bank's items, or ``"balanced"`` over
            its categories. (Default: ``"uniform"``)
        bank_categories (sequence or None, optional): one category (any hashable) per bank
            item, for ``"balanced"`` sampling of a bank that is not an :class:`AudioFolder`.
        sample_rate (int or None, optional): the clips' rate: an :class:`AudioFolder` must
            deliver it, and bank items that carry a rate (Hugging Face audio dicts) must have
            it or are resampled (``resample``). (Default: ``None``: not checked)
        resample (bool, optional): resample bank items that carry another rate.
            (Default: ``False``: refuse them)
        return_info (bool, optional): append ``{"bank_index": k, "start": s, "lam": λ}`` (or
            ``"mix_info"`` for mapping items); ``-1`` for clips left unmixed.
            (Default: ``False``)
        unpack, input_key, label_key, check_finite: as in :class:`MixupDataset`, for the
            training items.
        bank_unpack (callable or None, optional): maps a bank item to ``(waveform, label)``.
        bank_input_key (str, optional): audio key of mapping bank items.
            (Default: ``"input_values"``)
        bank_label_key (str, optional): label key of mapping bank items. (Default: ``"labels"``)
        **options: the default mixer's other arguments (``p``, ``placement``, ``generator``,
            ...; see :class:`~audiomix.transforms.Mixer`).

    Example:
        >>> clips = [(torch.randn(8000), i % 3) for i in range(4)]
        >>> noise = [torch.randn(20000) for _ in range(5)]  # any dataset of waveforms
        >>> ds = BankMixDataset(clips, noise, snr_db=(5.0, 15.0), num_classes=3, generator=0)
        >>> waveform, target = ds[0]
        >>> waveform.shape, target.tolist()
        (torch.Size([8000]), [1.0, 0.0, 0.0])
    """

    # `check_finite` is the dataset's own (it checks the clips), not the mixer option.
    def __init__(  # type: ignore[misc]
        self,
        dataset: Dataset,
        bank: Dataset,
        mixer: Mixer | None = None,
        *,
        snr_db: tuple[float, float] | float | None = None,
        num_classes: int | None = None,
        targets: str = "keep",
        sampling: str = "uniform",
        bank_categories: Sequence[Hashable] | None = None,
        sample_rate: int | None = None,
        resample: bool = False,
        return_info: bool = False,
        unpack: Callable[[Any], Sequence[Any]] | None = None,
        input_key: str = "input_values",
        label_key: str = "labels",
        check_finite: bool = True,
        bank_unpack: Callable[[Any], Any] | None = None,
        bank_input_key: str = "input_values",
        bank_label_key: str = "labels",
        **options: Unpack[MixerOptions],
    ) -> None:
        check_mixer_options(type(self).__name__, options)
        if mixer is None:
            snr_db = (0.0, 20.0) if snr_db is None else snr_db
            mixer = SNRMix(snr_db, num_classes, check_finite=False, **options)
            num_classes = None  # the mixer holds it
        elif snr_db is not None or options:
            given = ["snr_db"] * (snr_db is not None) + list(options)
            raise ValueError(
                f"`mixer` brings its own settings, so {given} must not be given too; set them "
                "on the mixer."
            )
        super().__init__(
            dataset,
            mixer,
            num_classes=num_classes,
            return_info=return_info,
            unpack=unpack,
            input_key=input_key,
            label_key=label_key,
            check_finite=check_finite,
        )
        if not hasattr(bank, "__getitem__") or not hasattr(bank, "__len__"):
            raise TypeError(
                f"`bank` must be a map-style dataset (with __getitem__ and __len__), but got "
                f"{type(bank).__name__}."
            )
        if len(bank) == 0:
            raise ValueError("the bank is empty: `bank` has no items.")
        if bank_unpack is not None and not callable(bank_unpack):
            raise TypeError(
                f"`bank_unpack` must be callable or None, but got {type(bank_unpack).__name__}."
            )
        self.bank = bank
        self.targets = check_choice(targets, "targets", TARGET_RULES)
        self.sampling = check_choice(sampling, "sampling", SAMPLING)
        self.sample_rate = sample_rate
        self.resample = bool(resample)
        self.bank_unpack = bank_unpack
        self.bank_input_key = bank_input_key
        self.bank_label_key = bank_label_key
        if isinstance(bank, AudioFolder) and sample_rate is not None:
            if bank.sample_rate != sample_rate:
                raise ValueError(
                    f"the bank delivers {bank.sample_rate} Hz, but `sample_rate` is "
                    f"{sample_rate}: open the AudioFolder with sample_rate={sample_rate} "
                    "(and resample=True if its files are at another rate)."
                )
        self.bank_groups = self._groups(bank_categories)

    def _layout_hint(self, item: Any) -> str:
        return super()._layout_hint(item).replace("MixupDataset", type(self).__name__)

    def _groups(self, bank_categories: Sequence[Hashable] | None) -> list[Tensor] | None:
        """The bank's items per category, for balanced sampling."""
        if self.sampling == "uniform":
            return None
        if bank_categories is None:
            if not isinstance(self.bank, AudioFolder):
                raise ValueError(
                    "`sampling`='balanced' needs the bank's categories: pass "
                    "`bank_categories=`, one per bank item (or use an AudioFolder, which "
                    "takes them from its sub-folders)."
                )
            ids = self.bank.categories
        else:
            if len(bank_categories) != len(self.bank):
                raise ValueError(
                    "`bank_categories` must have one entry per bank item: "
                    f"{len(bank_categories)} != {len(self.bank)}."
                )
            # 0-d tensors and arrays (a torch-formatted column) hash by identity: their values.
            values: list[Any] = [
                c.item() if getattr(c, "ndim", None) == 0 else c  # type: ignore[attr-defined]
                for c in bank_categories
            ]
            index = {name: k for k, name in enumerate(dict.fromkeys(values))}
            ids = torch.tensor([index[c] for c in values])
        return [(ids == c).nonzero().squeeze(1) for c in torch.unique(ids)]

    def _draw_bank_item(self, generator: torch.Generator) -> int:
        n = len(self.bank)
        if self.bank_groups is None:
            return int(torch.randint(n, (), generator=generator))
        group = self.bank_groups[int(torch.randint(len(self.bank_groups), (), generator=generator))]
        return int(group[int(torch.randint(group.numel(), (), generator=generator))])

    def _bank_segment(
        self, frames: int, generator: torch.Generator
    ) -> tuple[Tensor, Tensor | None, int, int]:
        """(segment (channels, time), label, bank index, start) of a drawn bank item."""
        bank = self.bank
        if not isinstance(bank, AudioFolder):
            k = self._draw_bank_item(generator)
            waveform, label = self._bank_item(k)
            start = self._start(waveform.shape[-1], frames, generator)
            return waveform[:, start : start + frames], label, k, start
        for _ in range(_MAX_RETRIES):
            k = self._draw_bank_item(generator)
            start = self._start(int(bank.frames[k]), frames, generator)
            try:
                segment = bank.read(k, start, frames)
            except Exception as err:  # a file that went missing or broke after listing
                if bank.on_error == "raise":
                    raise RuntimeError(
                        f"cannot read bank file {str(bank.files[k])!r}: {err}. Open the "
                        "AudioFolder with `on_error='skip'` to draw another file instead."
                    ) from err
                bank._read_errors.add()
                warnings.warn(
                    f"skipped unreadable bank file {str(bank.files[k])!r} ({err}); "
                    f"{bank.read_errors} so far.",
                    UserWarning,
                    stacklevel=2,
                )
                continue
            if segment.shape[-1] == 0:
                bank._read_errors.add()
                continue
            return segment, bank.labels[k], k, start
        raise RuntimeError(
            f"{_MAX_RETRIES} bank files in a row could not be read ({bank.read_errors} read "
            "errors so far): check the bank's folder."
        )

    @staticmethod
    def _start(length: int, frames: int, generator: torch.Generator) -> int:
        if length <= frames:
            return 0
        return int(torch.randint(length - frames + 1, (), generator=generator))

    def _bank_item(self, k: int) -> tuple[Tensor, Tensor | None]:
        """(waveform (channels, time), label or None) of a bank item that is not a file."""
        item = self.bank[k]
        where = f"bank[{k}]"
        if self.bank_unpack is not None:
            item = self.bank_unpack(item)
            where = f"bank_unpack(bank[{k}])"
        label = None
        if isinstance(item, Mapping):
            if self.bank_input_key not in item:
                raise ValueError(
                    f"`{where}` has no `bank_input_key`={self.bank_input_key!r}; its keys are "
                    f"{list(item)}."
                )
            raw, label = item[self.bank_input_key], item.get(self.bank_label_key)
        elif isinstance(item, (tuple, list)) and item and not isinstance(item[0], numbers.Number):
            raw = item[0]
            label = item[1] if len(item) > 1 else None
        else:
            raw = item
        rate = None
        if isinstance(raw, Mapping) and "array" in raw:  # a Hugging Face audio dict
            raw, rate = raw["array"], raw.get("sampling_rate")
        clip = as_clip(raw, f"`{where}`")
        if clip.ndim not in (1, 2) or not clip.is_floating_point() or clip.shape[-1] == 0:
            raise ValueError(
                f"`{where}` must be a non-empty float waveform (time,) or (channels, time), "
                f"but got {clip.dtype} of shape {tuple(clip.shape)}."
            )
        clip = clip.reshape(-1, clip.shape[-1]).float()
        if rate is not None and self.sample_rate is not None and int(rate) != self.sample_rate:
            if not self.resample:
                raise ValueError(
                    f"`{where}` is at {int(rate)} Hz, but `sample_rate` is {self.sample_rate}: "
                    "pass `resample=True` to resample bank items."
                )
            clip = torchaudio.functional.resample(clip, int(rate), self.sample_rate)
        if rate is not None and self.sample_rate is None:
            raise ValueError(
                f"`{where}` carries a sampling rate ({int(rate)} Hz): pass `sample_rate=` (the "
                "clips' rate) so that it is checked."
            )
        return clip, None if label is None else torch.as_tensor(label)

    def _fit_channels(self, segment: Tensor, clip: Tensor, k: int) -> Tensor:
        """The segment with the clip's channel layout."""
        if clip.ndim == 1:
            return segment.mean(dim=0)  # a mono clip hears the bank item's mono mix
        if segment.shape[0] == clip.shape[0]:
            return segment
        if segment.shape[0] == 1:
            return segment.expand(clip.shape[0], -1)
        raise ValueError(
            f"bank item {k} has {segment.shape[0]} channels, but the clip has {clip.shape[0]}: "
            "give a mono bank or one with the clips' channels."
        )

    def _bank_output(self, item: Any, x: Tensor, targets: Tensor, info: dict[str, Any]) -> Any:
        return mixed_item(
            item,
            x,
            targets,
            info,
            input_key=self.input_key,
            label_key=self.label_key,
            return_info=self.return_info,
        )

    def __getitem__(self, index: Any) -> Any:
        index = self._index(index)
        x, y, item = self._item(index)
        settings = self.mixer.settings
        unmixed = {"bank_index": -1, "start": -1, "lam": 1.0}
        if not self.training:
            targets = self._targets(lambda: settings.unmixed_targets(y.unsqueeze(0))[0], item)
            return self._bank_output(item, x, targets, unmixed)
        generator = self.mixer.generator
        params = self.mixer.sample_params(2, perm=_PAIR)
        if not bool(params.applied[0]):
            targets = self._targets(lambda: settings.unmixed_targets(y.unsqueeze(0))[0], item)
            return self._bank_output(item, x, targets, unmixed)
        segment, y2, k, start = self._bank_segment(x.shape[-1], generator)
        if self.check_finite and not bool(torch.isfinite(segment).all()):
            raise ValueError(f"bank item {k} contains NaN or Inf values.")
        segment = self._fit_channels(segment, x, k)
        pair, lengths = pad_batch([x, segment.to(x.dtype)])
        params = self.mixer.place(params, lengths)
        both = None
        if self.targets != "keep":
            if y2 is None:
                raise ValueError(
                    f"`targets`={self.targets!r} needs labelled bank items, but bank item {k} "
                    "has no label; use targets='keep' for a bank of unlabelled audio."
                )
            both = torch.stack([y, y2.to(y.dtype)])
        if self.targets == "mix":
            mixed, targets, _ = self._targets(
                lambda: self.mixer(pair, both, lengths, params=params), item
            )
            targets = targets[0]
        else:
            mixed, _, _ = self.mixer(pair, None, lengths, params=params)
            if self.targets == "keep":
                targets = self._targets(lambda: settings.unmixed_targets(y.unsqueeze(0))[0], item)
            else:
                pair_labels = torch.stack([y, y2.to(y.dtype)])  # type: ignore[union-attr]
                own = self._targets(lambda: settings.unmixed_targets(pair_labels), item)
                targets = torch.maximum(own[0], own[1])
        lam = float(self.mixer.last_params.lam[0])  # type: ignore[union-attr]  # just set
        info = {"bank_index": k, "start": start, "lam": lam}
        return self._bank_output(item, mixed[0, ..., : x.shape[-1]], targets, info)
