"""The mixer protocol: one sampling step (random), one applying step (pure), one shell.

Every batch mixer in audiomix is a :class:`Mixer`: it holds its settings and its random
stream, draws parameters with :meth:`Mixer.sample_params`, applies them with
:meth:`Mixer.mix`, and its ``forward`` does what all of them share (input checks, eval-mode
pass-through, unmixed samples kept exactly, targets). A new method overrides :meth:`~Mixer.mix`
always, :meth:`~Mixer.draw` if it draws something else than λ, and
:meth:`~Mixer.output_lengths` if its output is not valid over the longer clip. (The pure step
is ``mix``, not ``apply``: ``nn.Module.apply(fn)`` must keep working on models that hold a
mixer.)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from fractions import Fraction
from typing import Any, Generic, TypedDict, TypeVar, cast

import torch
from torch import Tensor, nn

from .._arrays import as_tensor
from .._rng import RandomStream
from .._settings import MixSettings, SettingsMixin, StreamMixin
from .._validation import check_choice
from ..functional._alignment import mix_lengths
from ..functional._frame_targets import prepare_frame_targets
from ..functional._frames import TimeMap, check_hop, mix_frames, mixup_time_map
from ..functional._mix import raise_if_not_finite
from ..functional._sampling import (
    PARTNER_RULES,
    PLACEMENTS,
    MixParams,
    PairingOptions,
    sample_mix_params,
    sample_offsets,
)
from ._inputs import WAVEFORM, InputChecksMixin, Layout

__all__ = ["Mixer", "MixerOptions"]

# The parameters a mixer draws and applies: MixParams or a subclass (CutMixParams, ...).
P = TypeVar("P", bound=MixParams)


class MixerOptions(TypedDict, total=False):
    """The keywords every :class:`Mixer` shares (documented there), for the signatures of
    subclasses that add arguments of their own.

    Example:
        >>> class ScaledMixup(Mixer):
        ...     def __init__(self, alpha=0.2, num_classes=None, *, gain=1.0,
        ...                  **options: "Unpack[MixerOptions]"):
        ...         super().__init__(alpha, num_classes, **options)
        ...         self.gain = gain
        ...     def mix(self, x, params, lengths=None):
        ...         lam = params.lam.view(-1, *[1] * (x.ndim - 1))
        ...         return self.gain * (lam * x + (1 - lam) * x[params.perm]), params
        >>> ScaledMixup(0.4, 3, gain=0.5, p=0.5, generator=0).p
        0.5
    """

    p: float
    per_sample: bool
    label_smoothing: float
    multilabel: bool
    union: bool
    placement: str
    partner: str
    target_hop: int | float | Fraction | None
    frames_last: bool
    generator: torch.Generator | int | None
    per_rank: bool
    check_finite: bool
    validate: bool


def check_mixer_options(owner: str, options: Mapping[str, Any]) -> None:
    """Raises a ``TypeError`` naming ``owner``, the class the user called (a mixer, or a
    dataset that builds its default mixer), for keywords that are not :class:`MixerOptions`.

    Example:
        >>> check_mixer_options("WaveformMixup", {"p": 0.5})
        >>> try:
        ...     check_mixer_options("WaveformMixup", {"lamda": 0.5})
        ... except TypeError as e:
        ...     print(str(e).split(";")[0])
        WaveformMixup() got an unexpected keyword argument 'lamda'
    """
    unknown = [name for name in options if name not in MixerOptions.__annotations__]
    if unknown:
        raise TypeError(
            f"{owner}() got an unexpected keyword argument {unknown[0]!r}; besides its own "
            f"arguments it takes the options every mixer takes: "
            f"{', '.join(MixerOptions.__annotations__)}."
        )


class Mixer(SettingsMixin, StreamMixin, InputChecksMixin, nn.Module, Generic[P]):
    r"""Base of audiomix's batch mixers: settings, random stream, checks, targets.

    Every mixer takes the arguments below; its own page lists only what it adds. A subclass
    implements :meth:`mix` (and, where it draws other parameters, :meth:`draw`;
    where its output is not valid over the longer clip of each pair, :meth:`output_lengths`).
    Mixers are training-time augmentations, like dropout: in eval mode (after ``.eval()``)
    ``forward`` returns the input itself, the targets unmixed (one-hot, smoothed or multi-hot
    as configured) and the lengths unchanged, and draws nothing.

    ``alpha`` and ``p`` can be changed between calls (e.g. once per epoch for a schedule); they
    are validated as in the constructor, and a change made in the main process reaches
    DataLoader workers that are already running, whatever their start method. In workers the
    stream reseeds from each worker's seed (new every epoch), so workers never repeat each
    other's mixes; the stream's state is part of ``state_dict()``.

    Args:
        alpha (float, optional): Beta concentration of λ, > 0. (Default: ``0.2``)
        num_classes (int or None, optional): needed when labels are class indices.
        p (float, optional): probability of mixing a batch (or, with ``per_sample``, a
            sample); unmixed samples keep input and target exactly. (Default: ``1.0``)
        per_sample (bool, optional): one λ and one coin per sample. (Default: ``False``)
        label_smoothing (float, optional): in [0, 1), applied before mixing. (Default: ``0``)
        multilabel (bool, optional): targets are multi-hot (batch, num_classes).
            (Default: ``False``)
        union (bool, optional): multi-label targets mix as an element-wise max.
            (Default: ``False``)
        placement (str, optional): where the shorter clip of a pair goes inside the longer one:
            ``"start"``, ``"center"`` or ``"random"``. (Default: ``"start"``)
        partner (str, optional): who may be a sample's partner: ``"any"``, ``"other_class"``
            (no class in common; disjoint label sets for multi-label targets) or
            ``"same_class"`` (a class in common). Samples the batch cannot pair under the rule
            stay unmixed and are reported in ``last_params.unmet``. (Default: ``"any"``)
        target_hop (int, float, Fraction or None, optional): for frame targets
            (batch, frames, classes): positions of ``x``'s last axis (samples or frames) per
            target frame, e.g. 160 for 10 ms targets over a 16 kHz waveform, or 4 for a CRNN
            that pools the log-mel frames by 4. Target frame ``f`` covers positions
            ``[f·hop, (f+1)·hop)``; a count of frames that does not fit ``x`` is an error
            naming the expected count. (Default: ``None``: targets at ``x``'s resolution)
        frames_last (bool, optional): frame targets come as (batch, classes, frames) and go
            back so. (Default: ``False``: (batch, frames, classes))
        generator (torch.Generator, int or None, optional): CPU generator or seed.
            (Default: ``None``: seeded from torch's global RNG at construction, without
            advancing it)
        per_rank (bool, optional): under torch.distributed, a distinct stream per rank.
            (Default: ``False``: every rank draws the same λ and partners)
        check_finite (bool, optional): reject NaN/Inf audio. (Default: ``True``)
        validate (bool, optional): check label values. (Default: ``True``)

    Any other keyword argument is a ``TypeError`` naming the mixer and the options above.

    Attributes:
        mixes_labels (bool): ``True``: :class:`~audiomix.Chain` passes labels and lengths.
        last_params (MixParams or None): the parameters of the last training-mode call, as
            applied (``lam`` is the weight each sample's own target got).

    Example:
        A method of your own (the partner mixed in time-reversed) gets the draw, the checks,
        eval mode, the RNG handling and the targets from the base:

        >>> class ReversedMixup(Mixer):
        ...     def mix(self, x, params, lengths=None):
        ...         lam = params.lam.view(-1, *[1] * (x.ndim - 1))
        ...         return lam * x + (1 - lam) * x[params.perm].flip(-1), params
        >>> mixer = ReversedMixup(alpha=0.4, num_classes=3, generator=0)
        >>> x, targets = mixer(torch.randn(4, 100), torch.arange(4) % 3)
        >>> targets.shape, mixer.eval()(x, torch.arange(4) % 3)[0] is x
        (torch.Size([4, 3]), True)
    """

    mixes_labels = True
    layout: Layout = WAVEFORM
    params_type: type = MixParams
    # False for methods that draw something else than λ ~ Beta(alpha, alpha) (SNRMix draws
    # SNRs): they take no `alpha`, and setting one is an error.
    draws_lambda = True
    # True where mix() checks finiteness on its output blocks (functional.mix's fused check)
    # instead of a separate scan of the input.
    checks_finite_in_mix = False

    def __init__(
        self,
        alpha: float | None = 0.2,
        num_classes: int | None = None,
        *,
        p: float = 1.0,
        per_sample: bool = False,
        label_smoothing: float = 0.0,
        multilabel: bool = False,
        union: bool = False,
        placement: str = "start",
        partner: str = "any",
        target_hop: int | float | Fraction | None = None,
        frames_last: bool = False,
        generator: torch.Generator | int | None = None,
        per_rank: bool = False,
        check_finite: bool = True,
        validate: bool = True,
        **unexpected: Any,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        # Subclasses forward their options here: name the class the user called, not this base.
        check_mixer_options(owner, unexpected)
        if not self.draws_lambda and alpha is not None:
            raise TypeError(f"{owner} draws no λ ~ Beta(alpha, alpha): it takes no `alpha`.")
        if self.draws_lambda and alpha is None:
            raise TypeError("`alpha` must be a real number, but got None.")
        self.settings = MixSettings(
            owner,
            alpha=alpha,
            p=p,
            num_classes=num_classes,
            label_smoothing=label_smoothing,
            multilabel=multilabel,
            union=union,
        )
        self.per_sample = bool(per_sample)
        self.placement = check_choice(placement, "placement", PLACEMENTS)
        self.partner = check_choice(partner, "partner", PARTNER_RULES)
        self.target_hop = check_hop(target_hop)
        self.frames_last = bool(frames_last)
        self.check_finite = bool(check_finite)
        self.validate = bool(validate)
        self._stream = RandomStream(generator, per_rank=per_rank, owner=owner)
        self.last_params: P | None = None

    # The two steps ---------------------------------------------------------------------------
    def sample_params(
        self,
        batch_size: int,
        lengths: Tensor | None = None,
        labels: Tensor | None = None,
        *,
        perm: Tensor | None = None,
    ) -> P:
        """Draws λ, partners and offsets for a batch, advancing the module's RNG.

        Args:
            batch_size (int): number of samples.
            lengths (Tensor or None, optional): (batch,) valid lengths, for offsets.
            labels (Tensor or None, optional): for a ``partner`` rule by class.
            perm (Tensor or None, optional): (batch,) partners chosen by the caller (e.g.
                :class:`~audiomix.data.MixupDataset` pairs across a dataset); none is drawn.

        Returns:
            MixParams: on the CPU.
        """
        return self.draw(batch_size, self._pairing(lengths, labels, perm))

    def draw(self, batch_size: int, pairing: PairingOptions) -> P:
        """The method's own draw, called by :meth:`sample_params`: λ ~ Beta(alpha, alpha)
        here; a method that draws something else (SNRs, box centres) overrides this.

        Args:
            batch_size (int): number of samples.
            pairing (PairingOptions): the keywords every ``sample_*_params`` function takes,
                filled from the module (its ``p``, ``placement``, ``partner``, stream, ...).

        Returns:
            MixParams: on the CPU.
        """
        # A subclass that draws other parameters overrides this method: MixParams is P here.
        return cast(P, sample_mix_params(batch_size, alpha=self._alpha(), **pairing))

    def _alpha(self) -> float:
        """``alpha`` of a method that draws λ."""
        alpha = self.alpha
        if alpha is None:
            raise TypeError(f"{type(self).__name__} draws no λ ~ Beta(alpha, alpha).")
        return alpha

    def _pairing(
        self, lengths: Tensor | None, labels: Tensor | None, perm: Tensor | None
    ) -> PairingOptions:
        """What every ``sample_*_params`` function takes from the module."""
        return {
            "p": self.p,
            "per_sample": self.per_sample,
            "lengths": lengths,
            "placement": self.placement,
            "partner": self.partner,
            "labels": labels if self.partner != "any" else None,
            "multilabel": self.multilabel,
            "perm": perm,
            "generator": self._stream.get(),
        }

    def place(self, params: P, lengths: Tensor) -> P:
        """``params`` with the offsets of :attr:`placement` drawn for ``lengths``, for a draw
        made before the lengths were known (:class:`~audiomix.data.MixupDataset` reads a
        partner only once the coin says it is needed).

        Args:
            params (MixParams): from :meth:`sample_params` without ``lengths``.
            lengths (Tensor): (batch,) valid lengths.

        Returns:
            MixParams: the same parameters with ``offsets``.
        """
        offsets = sample_offsets(
            lengths.cpu(), params.perm, placement=self.placement, generator=self._stream.get()
        )
        return dataclasses.replace(params, offsets=offsets)

    def mix(self, x: Tensor, params: P, lengths: Tensor | None = None) -> tuple[Tensor, P]:
        """Mixes ``x`` with ``params`` (on ``x``'s device); no randomness, no checks.

        Args:
            x (Tensor): the batch, in :attr:`layout`.
            params (MixParams): from :meth:`sample_params`, moved to ``x``'s device.
            lengths (Tensor or None, optional): (batch,) valid lengths along the last dim.

        Returns:
            ``(mixed, applied)``: the mixed batch (a new tensor) and the parameters as applied;
            methods whose target weight is known only after mixing (CutMix's pasted area, SNR
            mixing's energies) return it in ``applied.lam``.
        """
        raise NotImplementedError

    def output_lengths(self, lengths: Tensor, params: P) -> Tensor:
        """(batch,) valid lengths of the output: the longer clip of each pair."""
        return mix_lengths(lengths, params.perm)

    def time_map(self, params: P, lengths: Tensor | None, shape: torch.Size) -> TimeMap:
        """How the mix moved time, for frame targets and other time-aligned views: here the
        shorter clip of each pair placed at its offset, weights ``lam`` and ``1 - lam`` (a
        method that pastes spans, as CutMix, overrides this).

        Args:
            params (MixParams): as applied (``last_params``).
            lengths (Tensor or None): (batch,) valid lengths of the input.
            shape (torch.Size): the input's shape.

        Returns:
            TimeMap: in positions of the input's last axis.
        """
        return mixup_time_map(params.lam, params.perm, lengths, params.offsets)

    def unmixed_targets(self, labels: Tensor) -> Tensor:
        """Targets of unmixed samples, clip (batch, num_classes) or frame
        (batch, frames, classes) as the settings say (one-hot, smoothed, multi-hot)."""
        if labels.ndim == 3:
            return prepare_frame_targets(
                labels,
                num_classes=self.num_classes,
                label_smoothing=self.label_smoothing,
                multilabel=self.multilabel,
                validate=self.validate,
            )
        return self.settings.unmixed_targets(labels, validate=self.validate)

    def _mixed_frame_targets(
        self,
        labels: Tensor,
        applied: P,
        tmap: TimeMap,
        lengths: Tensor | None,
        hop: Fraction | None,
    ) -> Tensor:
        targets = self.unmixed_targets(labels)
        return mix_frames(targets, tmap, hop=hop, lengths=lengths, union=self.union)

    def mix_views(
        self,
        batch: Mapping[str, Any],
        views: Mapping[str, Any],
        *,
        params: P | None = None,
        target_hop: int | float | Fraction | None = None,
    ) -> dict[str, Any]:
        """Mixes several aligned views of one batch with one draw.

        The audio view is mixed by this mixer; every other view listed follows the same λ,
        partners, offsets and spans at its own resolution (see :class:`~audiomix.View`):
        frame targets, clip targets, embeddings or features, masks, strong-label flags,
        lengths. Keys not listed come back as they are (each row's own). In eval mode the
        audio comes back as it is and targets unmixed.

        Args:
            batch (mapping): the batch, e.g. a collated Hugging Face batch.
            views (mapping): ``{key: View or kind}``, e.g. ``{"logmel": "audio",
                "lengths": "lengths", "strong": View("frame_targets", hop=4)}``.
            params (MixParams or None, optional): a draw to replay instead of a fresh one.
            target_hop (int, float, Fraction or None, optional): the hop of frame-target views
                that name none, instead of the constructor's.

        Returns:
            dict: the batch with the listed views mixed.

        Example:
            >>> mixer = SpectrogramMixup(alpha=0.5, num_classes=3, multilabel=True,
            ...                          target_hop=4, generator=0)
            >>> batch = {"logmel": torch.randn(4, 40, 100), "emb": torch.randn(4, 25, 8),
            ...          "strong": torch.randint(2, (4, 25, 3)), "is_strong": torch.ones(4) > 0}
            >>> out = mixer.mix_views(batch, {"logmel": "audio", "emb": View("frames", hop=4),
            ...                               "strong": "frame_targets", "is_strong": "strong"})
            >>> out["strong"].shape, out["emb"].shape, out["is_strong"].tolist()
            (torch.Size([4, 25, 3]), torch.Size([4, 25, 8]), [True, True, True, True])
        """
        from .._views import mix_views

        return mix_views(self, batch, views, params=params, target_hop=target_hop)

    # The shell --------------------------------------------------------------------------------
    def forward(
        self,
        x: Tensor,
        labels: Tensor | None = None,
        lengths: Tensor | None = None,
        *,
        params: P | None = None,
        target_hop: int | float | Fraction | None = None,
    ):
        """
        Args:
            x (Tensor): the batch, in the layout named in the class docstring.
            labels (Tensor or None, optional): class indices (batch,), targets
                (batch, num_classes) or frame targets (batch, frames, classes) (with
                ``frames_last``, (batch, classes, frames)), which move with the audio: the
                same offsets, spans and weights, frames past a clip's valid length 0.
            lengths (Tensor or None, optional): (batch,) valid lengths along the last dim.
            params (MixParams or None, optional): parameters from :meth:`sample_params` (or a
                previous ``last_params``) instead of a fresh draw. Without ``offsets``, clips
                of different lengths are aligned at the start.
            target_hop (int, float, Fraction or None, optional): the frame targets' hop for
                this call instead of the constructor's (:class:`~audiomix.Chain` passes the
                hop it converted through its front end).

        Returns:
            ``(x, targets)``, or ``(x, targets, lengths)`` when ``lengths`` is given;
            ``targets`` is ``None`` without labels. In eval mode, ``x`` and ``lengths`` are the
            inputs themselves and the targets are unmixed. NumPy arrays are accepted for
            ``x``, ``labels`` and ``lengths`` (converted without copying where they are
            writeable, never modified); tensors come back.
        """
        x = as_tensor(x, self.layout.name)
        labels = None if labels is None else as_tensor(labels, "labels")
        lengths = None if lengths is None else as_tensor(lengths, "lengths")
        self._check_inputs(x, labels, lengths)
        frame_labels = None
        hop = self.target_hop if target_hop is None else check_hop(target_hop)
        if labels is not None and labels.ndim == 3:
            frame_labels = labels = self._frame_labels(labels, x.shape[-1], hop)
        frames = frame_labels is not None
        if not self.training:
            targets = None
            if labels is not None:
                targets = self.unmixed_targets(labels)
                targets = self._layout_back(targets) if frames else targets
            return (x, targets) if lengths is None else (x, targets, lengths)
        b = x.shape[0]
        if params is None:
            params = self.sample_params(b, None if lengths is None else lengths.cpu(), labels)
        else:
            self._check_params(params, b, lengths)
        out, applied = self._mix_rows(x, params, lengths)
        self.last_params = applied
        targets = None
        if frame_labels is not None:
            tmap = self.time_map(applied, lengths, x.shape)
            targets = self._mixed_frame_targets(frame_labels, applied, tmap, lengths, hop)
            targets = self._layout_back(targets)
        elif labels is not None:
            targets = self.settings.mixed_targets(
                labels, applied.lam, applied.perm, validate=self.validate
            )
        if lengths is None:
            return out, targets
        return out, targets, self.output_lengths(lengths, applied)

    def _mix_rows(self, x: Tensor, params: P, lengths: Tensor | None) -> tuple[Tensor, P]:
        """Applies ``params``; samples left unmixed come back exactly, with weight 1."""
        b = x.shape[0]
        # Decided on the CPU copy of the draw: no device synchronisation. A sample drawn as its
        # own partner (always so in a batch of one) is not mixed either.
        unmixed = ~params.applied.cpu() | (params.perm.cpu() == torch.arange(b))
        dev = params.to(x.device)
        if bool(unmixed.all()):
            out, applied = x, dev  # nothing to mix: the input itself, uncopied
            if self.check_finite and self.checks_finite_in_mix:
                raise_if_not_finite(x, lengths, self.layout.name)
        else:
            out, applied = self.mix(x, dev, lengths)
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
        return out, applied

    def extra_repr(self) -> str:
        return (
            f"alpha={self.alpha}, num_classes={self.num_classes}, p={self.p}, "
            f"per_sample={self.per_sample}, label_smoothing={self.label_smoothing}, "
            f"multilabel={self.multilabel}, placement={self.placement!r}"
        )
