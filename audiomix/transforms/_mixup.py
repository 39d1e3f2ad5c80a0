"""Mixup modules for waveforms and spectrograms: hold the config and the RNG, call functional."""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import torch
from torch import Tensor, nn

from .._rng import RandomStream
from .._validation import (
    check_alpha,
    check_audio,
    check_choice,
    check_label_smoothing,
    check_lam,
    check_lengths,
    check_num_classes,
    check_perm,
    check_probability,
    check_same_device,
)
from ..functional._alignment import lengths_to_mask, mix_lengths
from ..functional._mixing import mix, mix_targets
from ..functional._sampling import PLACEMENTS, MixParams, sample_mix_params
from ..functional._spectral import db_to_power

SCALES = ("db", "power", "amplitude")
DOMAINS = ("power", "input")


class _Mixup(nn.Module):
    """Shared shell: configuration, RNG stream, parameter draws, target mixing."""

    _name = "x"
    _layout = ""
    _params_type: type = MixParams
    _min_ndim = 2
    _max_ndim = 3

    def __init__(
        self,
        *,
        alpha: float = 0.2,
        num_classes: int | None = None,
        p: float = 1.0,
        per_sample: bool = False,
        label_smoothing: float = 0.0,
        multilabel: bool = False,
        union: bool = False,
        placement: str = "start",
        generator: torch.Generator | int | None = None,
        per_rank: bool = False,
        check_finite: bool = True,
        validate: bool = True,
    ) -> None:
        super().__init__()
        self.alpha = check_alpha(alpha)
        self.num_classes = check_num_classes(num_classes)
        self.p = check_probability(p)
        self.per_sample = bool(per_sample)
        self.label_smoothing = check_label_smoothing(label_smoothing)
        self.multilabel = bool(multilabel)
        if union and not multilabel:
            raise ValueError("`union=True` is for multi-label targets; pass `multilabel=True`.")
        self.union = bool(union)
        self.placement = check_choice(placement, "placement", PLACEMENTS)
        self.check_finite = bool(check_finite)
        self.validate = bool(validate)
        self._stream = RandomStream(generator, per_rank=per_rank)
        self.last_params: MixParams | None = None
        if self.p == 0.0:
            warnings.warn(f"{type(self).__name__} with p=0 never mixes.", UserWarning, stacklevel=2)
        if self.alpha > 1e3:
            warnings.warn(
                f"`alpha`={self.alpha} puts every weight at about 0.5.", UserWarning, stacklevel=2
            )

    @property
    def generator(self) -> torch.Generator:
        """The module's CPU generator (reseeded per DataLoader worker and, if asked, per rank)."""
        return self._stream.get()

    def get_extra_state(self) -> dict[str, Any]:
        # Saved with state_dict(), so a checkpoint resumes the same stream of mixes.
        return self._stream.state()

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self._stream.load_state(state)

    def sample_params(
        self, batch_size: int, lengths: Tensor | None = None, labels: Tensor | None = None
    ) -> MixParams:
        """Draws λ, partners and offsets for a batch, advancing the module's RNG.

        Args:
            batch_size (int): number of samples.
            lengths (Tensor or None, optional): (batch,) valid lengths, for offsets.
            labels (Tensor or None, optional): unused here; methods that pair by class use it.

        Returns:
            MixParams: on the CPU.
        """
        return sample_mix_params(
            batch_size,
            alpha=self.alpha,
            p=self.p,
            per_sample=self.per_sample,
            lengths=lengths,
            placement=self.placement,
            generator=self._stream.get(),
        )

    def _check_inputs(self, x: Tensor, labels: Tensor | None, lengths: Tensor | None) -> None:
        check_audio(
            x,
            self._name,
            min_ndim=self._min_ndim,
            max_ndim=self._max_ndim,
            layout=self._layout,
            # With lengths only the valid region must be finite: padding is never read.
            check_finite=self.check_finite and lengths is None,
        )
        b = x.shape[0]
        if labels is not None:
            if not isinstance(labels, Tensor):
                raise TypeError(f"`labels` must be a torch.Tensor, but got {type(labels).__name__}.")
            check_same_device(x, labels, self._name, "labels")
            if labels.ndim == 0 or labels.shape[0] != b:
                got = "a scalar" if labels.ndim == 0 else str(labels.shape[0])
                raise ValueError(
                    f"{self._name} and labels have different batch sizes: {b} != {got}."
                )
        if lengths is not None:
            if isinstance(lengths, Tensor):
                check_same_device(x, lengths, self._name, "lengths")
            check_lengths(lengths, b, x.shape[-1])
            if self.check_finite:
                valid = _time_mask(lengths, x)
                if not bool(torch.where(valid, torch.isfinite(x), True).all()):
                    raise ValueError(
                        f"`{self._name}` contains NaN or Inf values in its valid region. Clean "
                        "the input, or pass `check_finite=False` to mix it anyway."
                    )

    def _mix_audio(self, x: Tensor, params: MixParams, lengths: Tensor | None) -> Tensor:
        raise NotImplementedError

    def _mix_with(self, x: Tensor, params: MixParams, lengths: Tensor | None):
        """Mixes ``x`` (params on its device); returns the output and the params as applied.

        Methods whose target weight is only known after mixing (CutMix's pasted area, SNR
        mixing's energies) return updated params here.
        """
        return self._mix_audio(x, params, lengths), params

    def _output_lengths(self, lengths: Tensor, perm: Tensor) -> Tensor:
        return mix_lengths(lengths, perm)

    def _check_params(self, params: MixParams, b: int, lengths: Tensor | None) -> None:
        if not isinstance(params, self._params_type):
            raise TypeError(
                f"`params` must be {self._params_type.__name__} (from `sample_params`), but got "
                f"{type(params).__name__}."
            )
        if params.lam.shape != (b,) or params.perm.shape != (b,):
            raise ValueError(
                f"`params` were drawn for a batch of {tuple(params.lam.shape)}, but the batch has "
                f"{b} samples."
            )
        if not self.validate:
            return
        # Parameters from outside (a replay, another module) get the checks mix() skips here.
        check_lam(params.lam, b)
        check_perm(params.perm, b, params.perm.device)
        if lengths is not None and params.offsets is not None:
            lens = lengths.to(params.perm.device, torch.int64)
            gap = (lens - lens[params.perm]).abs()
            off = params.offsets.to(gap.device)
            if off.shape != (b,) or bool(((off < 0) | (off > gap)).any()):
                raise ValueError(
                    "`params.offsets` must have shape (batch,) and lie in "
                    "[0, |lengths - lengths[perm]|]: were the params drawn for other lengths?"
                )

    def forward(
        self,
        x: Tensor,
        labels: Tensor | None = None,
        lengths: Tensor | None = None,
        *,
        params: MixParams | None = None,
    ):
        """
        Args:
            x (Tensor): the batch, in the layout named in the class docstring.
            labels (Tensor or None, optional): class indices (batch,) or targets
                (batch, num_classes).
            lengths (Tensor or None, optional): (batch,) valid lengths along the last dim.
            params (MixParams or None, optional): parameters from :meth:`sample_params` (or a
                previous ``last_params``) instead of a fresh draw. Without ``offsets``, clips
                of different lengths are aligned at the start.

        Returns:
            ``(x, targets)``, or ``(x, targets, lengths)`` when ``lengths`` is given;
            ``targets`` is ``None`` without labels.
        """
        self._check_inputs(x, labels, lengths)
        b = x.shape[0]
        if params is None:
            params = self.sample_params(b, None if lengths is None else lengths.cpu(), labels)
        else:
            self._check_params(params, b, lengths)
        # Decided on the CPU copy of the draw: no device synchronisation. A sample drawn as its
        # own partner (always so in a batch of one) is not mixed either.
        unmixed = ~params.applied.cpu() | (params.perm.cpu() == torch.arange(b))
        dev = params.to(x.device)
        if bool(unmixed.all()):
            out, applied = x, dev  # nothing to mix: the input itself, uncopied
        else:
            out, applied = self._mix_with(x, dev, lengths)
            if bool(unmixed.any()):
                # Unmixed rows are the input exactly, even where the mix path is not an identity
                # (padding cleared, dB round trip).
                keep = unmixed.nonzero().squeeze(1).to(x.device)
                rows = x.index_select(0, keep)
                if out.requires_grad:
                    out = out.index_copy(0, keep, rows)  # autograd may need `out` as it was
                else:
                    out.index_copy_(0, keep, rows)  # `out` is this call's own new tensor
        if bool(unmixed.any()):
            # Nothing of the partner is in an unmixed sample: its own weight is exactly 1.
            lam = torch.where(unmixed.to(applied.lam.device), 1.0, applied.lam)
            applied = dataclasses.replace(applied, lam=lam)
        self.last_params = applied
        targets = None
        if labels is not None:
            targets = mix_targets(
                labels,
                applied.lam,
                applied.perm,
                num_classes=self.num_classes,
                label_smoothing=self.label_smoothing,
                multilabel=self.multilabel,
                union=self.union,
                validate=self.validate,
            )
        if lengths is None:
            return out, targets
        return out, targets, self._output_lengths(lengths, applied.perm)

    def extra_repr(self) -> str:
        return (
            f"alpha={self.alpha}, num_classes={self.num_classes}, p={self.p}, "
            f"per_sample={self.per_sample}, label_smoothing={self.label_smoothing}, "
            f"multilabel={self.multilabel}, placement={self.placement!r}"
        )


class WaveformMixup(_Mixup):
    r"""Mixup on waveforms: ``x̃ = λ·x_i + (1−λ)·x_j`` and ``ỹ = λ·y_i + (1−λ)·y_j``.

    λ ~ Beta(α, α), one per batch or one per sample; partners are a random permutation of the
    batch from the module's own generator. With ``lengths`` (a right-padded batch), a clip of
    length ``a`` mixed with a partner of length ``b`` is valid over ``max(a, b)``; padding
    counts as silence and the shorter clip is placed at the start, centre or a random offset of
    the longer one (``placement``). The input is never modified.

    Args:
        alpha (float, optional): Beta concentration, > 0. (Default: ``0.2``)
        num_classes (int or None, optional): needed when labels are class indices.
        p (float, optional): probability of mixing a batch (or, with ``per_sample``, a
            sample); unmixed samples keep input and target exactly. (Default: ``1.0``)
        per_sample (bool, optional): one λ and one coin per sample. (Default: ``False``)
        label_smoothing (float, optional): in [0, 1), applied before mixing. (Default: ``0``)
        multilabel (bool, optional): targets are multi-hot (batch, num_classes).
            (Default: ``False``)
        union (bool, optional): multi-label targets mix as an element-wise max.
            (Default: ``False``)
        placement (str, optional): ``"start"``, ``"center"`` or ``"random"``.
            (Default: ``"start"``)
        generator (torch.Generator, int or None, optional): CPU generator or seed.
            (Default: ``None``: seeded from torch's global RNG at construction)
        per_rank (bool, optional): under torch.distributed, a distinct stream per rank.
            (Default: ``False``: every rank draws the same λ and partners)
        check_finite (bool, optional): reject NaN/Inf audio. (Default: ``True``)
        validate (bool, optional): check label values. (Default: ``True``)

    In DataLoader workers each worker reseeds from its own worker seed (new every epoch), so
    workers never repeat each other's mixes. The RNG state is part of ``state_dict()``.

    Call as ``x, targets = mixup(x, labels)`` or
    ``x, targets, lengths = mixup(x, labels, lengths)``; ``mixup.last_params`` holds the λ and
    partners of the last call (for ``λ·CE(a) + (1−λ)·CE(b)`` losses and logging). A batch of 1
    comes back unchanged. When no sample is mixed (``p`` < 1), the input tensor itself is
    returned.

    Example:
        >>> mixup = WaveformMixup(alpha=0.4, num_classes=12, generator=0)
        >>> x, targets = mixup(torch.randn(8, 16000), torch.randint(12, (8,)))
        >>> x.shape, targets.shape
        (torch.Size([8, 16000]), torch.Size([8, 12]))
    """

    _name = "waveform"
    _layout = "(batch, time) or (batch, channels, time)"
    _min_ndim = 2
    _max_ndim = 3

    def _mix_audio(self, x: Tensor, params: MixParams, lengths: Tensor | None) -> Tensor:
        return mix(
            x,
            params.lam,
            params.perm,
            lengths=lengths,
            offsets=params.offsets,
            validate=False,
        )


class SpectrogramMixup(_Mixup):
    r"""Mixup on spectrograms, aware of their scale.

    Decibels do not add: for ``scale="db"`` (what :class:`LogMelSpectrogram` emits) the
    default mixes in the power domain, ``10·log10(λ·10^(a/10) + (1−λ)·10^(b/10))``;
    ``scale="amplitude"`` mixes squared magnitudes and takes the root; ``scale="power"`` mixes
    as it is. ``domain="input"`` mixes the values linearly whatever their scale (as PANNs and
    PaSST do with log-mel input).

    With ``lengths`` (in frames), padding is silence: zero power, which in dB becomes each mix's
    floor (the smallest valid value of that mix), also written to the padded frames of the
    output. Every other argument is as in :class:`WaveformMixup`.

    Args:
        scale (str, optional): ``"db"``, ``"power"`` or ``"amplitude"``. (Default: ``"db"``)
        domain (str, optional): ``"power"`` or ``"input"``. (Default: ``"power"``)
        amin (float, optional): power floor when converting back to dB. (Default: ``1e-10``)

    Example:
        >>> logmel = LogMelSpectrogram(n_mels=40)
        >>> mixup = SpectrogramMixup(alpha=0.4, num_classes=12, generator=0)
        >>> specgram, targets = mixup(logmel(torch.randn(8, 16000)), torch.randint(12, (8,)))
        >>> specgram.shape
        torch.Size([8, 40, 81])
    """

    _name = "specgram"
    _layout = "(batch, n_mels, frames) or (batch, channels, n_mels, frames)"
    _min_ndim = 3
    _max_ndim = 4

    def __init__(
        self, *, scale: str = "db", domain: str = "power", amin: float = 1e-10, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.scale = check_choice(scale, "scale", SCALES)
        self.domain = check_choice(domain, "domain", DOMAINS)
        if amin <= 0:
            raise ValueError(f"`amin` must be > 0, but got {amin}.")
        self.amin = amin

    def _mix_audio(self, x: Tensor, params: MixParams, lengths: Tensor | None) -> Tensor:
        lam, perm, offsets = params.lam, params.perm, params.offsets
        linear = self.domain == "input" or self.scale == "power"
        if linear:
            fill: Tensor | float = 0.0
            if lengths is not None and self.scale == "db":
                fill = _masked_min(x, lengths)  # silence of a dB clip: its own floor
            return mix(x, lam, perm, lengths=lengths, offsets=offsets, fill=fill, validate=False)

        work = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
        power = db_to_power(work) if self.scale == "db" else work.square()
        mixed = mix(power, lam, perm, lengths=lengths, offsets=offsets, validate=False)
        if self.scale == "amplitude":
            return mixed.sqrt_().to(x.dtype)
        out = mixed.clamp_min_(self.amin).log10_().mul_(10.0)
        if lengths is not None:
            valid = mix_lengths(lengths, perm)
            mask = _time_mask(valid, out)
            out = torch.where(mask, out, _masked_min(out, valid).view(-1, *[1] * (out.ndim - 1)))
        return out.to(x.dtype)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, scale={self.scale!r}, domain={self.domain!r}"


def _time_mask(lengths: Tensor, like: Tensor) -> Tensor:
    """(batch, 1, ..., time) mask of valid frames, broadcastable to ``like``."""
    mask = lengths_to_mask(lengths.to(like.device), like.shape[-1])
    return mask.view(like.shape[0], *[1] * (like.ndim - 2), like.shape[-1])


def _masked_min(x: Tensor, lengths: Tensor) -> Tensor:
    """(batch,) minimum of each example over its valid frames."""
    mask = _time_mask(lengths, x)
    big = torch.finfo(x.dtype).max
    return torch.where(mask, x, big).flatten(1).amin(dim=1)
