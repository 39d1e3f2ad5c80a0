"""Manifold mixup: mix hidden activations of a model, with the targets mixed alike.

Verma et al. (ICML 2019), "Manifold Mixup: Better Representations by Interpolating Hidden
States": at each training step pick a layer k (the input counts as layer 0), run the model up
to it, mix its output across the batch with λ ~ Beta(α, α) and a random partner, continue, and
train on equally mixed targets.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from ._settings import ForwardsSchedule, MixSettings, SettingsMixin
from ._validation import check_labels_batch
from .functional._mix import mix
from .functional._sampling import MixParams
from .transforms._base import Layout, Mixer, MixerOptions

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["ManifoldMixup"]

INPUT = "input"


class HiddenMixup(Mixer):
    """The mixer of :class:`ManifoldMixup`: mixup of activations of any shape (batch, ...)."""

    layout = Layout("activations", "(batch, ...)", 1, 64)

    def apply(
        self, x: Tensor, params: MixParams, lengths: Tensor | None = None
    ) -> tuple[Tensor, MixParams]:
        lam = params.lam.to(x.dtype)
        out = mix(x, lam, params.perm, lengths=lengths, offsets=params.offsets, validate=False)
        return out, params


class _MixHook:
    """Forward hook of one candidate layer. An object, not a closure: ``copy.deepcopy`` and
    pickle of the wrapper give a model whose hooks point at the copied wrapper."""

    def __init__(self, owner: ManifoldMixup, index: int) -> None:
        self.owner = owner
        self.index = index

    def __call__(self, module: nn.Module, inputs: Any, output: Any) -> Any:
        owner = self.owner
        if owner._active != self.index or owner._done:
            return None
        owner._done = True
        return owner._mix_hidden(output, owner.layer_names[self.index])


class ManifoldMixup(ForwardsSchedule, SettingsMixin, nn.Module):
    r"""Wraps a model to mix its hidden activations at a chosen or random layer.

    Forward hooks are registered on the candidate layers once, at construction; each training
    call draws λ and partners (as :class:`WaveformMixup` does, from this module's generator),
    picks one candidate uniformly (or the one given as ``layer=``), replaces that layer's
    output by ``λ·h + (1 − λ)·h[perm]`` and returns the model's output with the targets mixed
    by the same λ and partners. The activation must be a tensor with the batch first; a layer
    called several times in one forward is mixed at its first call only.

    In eval mode (``.eval()``) nothing is mixed: the call returns the model's output and the
    unmixed targets (one-hot, smoothed if asked), so evaluation can go through the wrapper.
    ``copy.deepcopy`` (EMA, SWA's ``AveragedModel``) and pickle give a wrapper that mixes its
    own copy of the model. It is not a transform: :class:`~audiomix.Chain` does not pass it
    labels (``mixes_labels = False``).

    Args:
        model (nn.Module): the network; its ``forward`` receives ``x`` and any extra keywords.
        layers (str, nn.Module or sequence of them): candidate layers, by name in
            ``model.named_modules()`` or as modules; ``"input"`` mixes the model's input.
        alpha (float, optional): Beta concentration, > 0; settable. (Default: ``2.0``, as in
            the paper)
        num_classes (int or None, optional): needed when labels are class indices.
        **options: the arguments every mixer shares (:class:`~audiomix.transforms.Mixer`:
            ``p``, ``per_sample``, ``label_smoothing``, ``multilabel``, ``union``,
            ``partner``, ``generator``, ``per_rank``, ``validate``). They configure
            :attr:`mixer`, the :class:`HiddenMixup` that draws and mixes.

    After a call, ``last_params`` (a :class:`MixParams`, CPU) and ``last_layer`` (the name)
    describe the mix. ``remove_hooks()`` detaches the hooks from the model.

    Example:
        >>> net = nn.Sequential(nn.Linear(40, 64), nn.ReLU(), nn.Linear(64, 10))
        >>> mm = ManifoldMixup(net, ["input", "0", "1"], num_classes=10, generator=0)
        >>> logits, targets = mm(torch.randn(8, 40), torch.randint(10, (8,)))
        >>> logits.shape, targets.shape
        (torch.Size([8, 10]), torch.Size([8, 10]))
    """

    def __init__(
        self,
        model: nn.Module,
        layers: str | nn.Module | Sequence[str | nn.Module],
        *,
        alpha: float = 2.0,
        num_classes: int | None = None,
        **options: Unpack[MixerOptions],
    ) -> None:
        super().__init__()
        self.mixer = HiddenMixup(alpha, num_classes, **options)
        self.last_params: MixParams | None = None
        if not isinstance(model, nn.Module):
            raise TypeError(f"`model` must be an nn.Module, but got {type(model).__name__}.")
        self.model = model
        if isinstance(layers, (str, nn.Module)):
            layers = [layers]
        if not isinstance(layers, Sequence) or len(layers) == 0:
            raise ValueError("`layers` must name at least one layer (or 'input').")
        by_name = dict(model.named_modules())
        names_of = {id(m): n for n, m in by_name.items()}
        self.layer_names: list[str] = []
        modules: list[nn.Module | None] = []
        for i, layer in enumerate(layers):
            if isinstance(layer, str):
                if layer == INPUT:
                    self.layer_names.append(INPUT)
                    modules.append(None)
                    continue
                if layer not in by_name or layer == "":
                    some = ", ".join(repr(n) for n in list(by_name)[1:8])
                    raise ValueError(
                        f"`layers[{i}]` = {layer!r} is not a submodule of `model`; names look "
                        f"like {some}, or 'input'."
                    )
                self.layer_names.append(layer)
                modules.append(by_name[layer])
            elif isinstance(layer, nn.Module):
                if id(layer) not in names_of or layer is model:
                    raise ValueError(
                        f"`layers[{i}]` ({type(layer).__name__}) is not a submodule of `model`."
                    )
                self.layer_names.append(names_of[id(layer)])
                modules.append(layer)
            else:
                raise TypeError(
                    f"`layers[{i}]` must be a name or an nn.Module, but got {type(layer).__name__}."
                )
        if len(set(self.layer_names)) != len(self.layer_names):
            raise ValueError(f"`layers` lists a layer twice: {self.layer_names}.")
        self._active: int | None = None
        self._done = False
        self._dev_params: MixParams | None = None
        self._handles = [
            m.register_forward_hook(_MixHook(self, k))
            for k, m in enumerate(modules)
            if m is not None
        ]
        self.last_layer: str | None = None

    mixes_labels = False

    def _scheduled_members(self) -> list[Mixer]:
        return [self.mixer]

    @property
    def settings(self) -> MixSettings:
        """The target format and schedule, those of :attr:`mixer`."""
        return self.mixer.settings

    @property
    def validate(self) -> bool:
        return self.mixer.validate

    @property
    def generator(self) -> torch.Generator:
        """The CPU generator of this process (that of :attr:`mixer`)."""
        return self.mixer.generator

    def sample_params(self, batch_size: int, labels: Tensor | None = None) -> MixParams:
        """Draws λ and partners for a batch (CPU), advancing the wrapper's RNG; ``labels``
        for a ``partner`` rule by class."""
        return self.mixer.sample_params(batch_size, labels=labels)

    def _mix_hidden(self, h: Any, name: str) -> Tensor:
        params = self._dev_params
        if not isinstance(h, Tensor):
            raise TypeError(
                f"layer {name!r} returned {type(h).__name__}; ManifoldMixup mixes tensor "
                "outputs only (wrap the layer so it returns a tensor)."
            )
        if params is None or h.ndim == 0 or h.shape[0] != params.perm.shape[0]:
            got = "a scalar" if h.ndim == 0 else f"shape {tuple(h.shape)}"
            raise ValueError(
                f"layer {name!r} returned {got}, but activations must have the batch "
                f"({params.perm.shape[0] if params else '?'}) first."
            )
        if not h.is_floating_point():
            raise TypeError(f"layer {name!r} returned {h.dtype} values; only floats mix.")
        lam = params.lam.to(h.dtype)
        return mix(h, lam, params.perm, validate=False)

    def remove_hooks(self) -> None:
        """Detaches the hooks; the wrapper can no longer mix hidden layers afterwards."""
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def forward(  # type: ignore[override]
        self,
        x: Tensor,
        labels: Tensor | None = None,
        *,
        layer: str | None = None,
        params: MixParams | None = None,
        **model_kwargs: Any,
    ) -> tuple[Any, Tensor | None]:
        """
        Args:
            x (Tensor): (batch, ...) model input.
            labels (Tensor or None, optional): class indices (batch,) or targets
                (batch, num_classes).
            layer (str or None, optional): mix at this candidate instead of a random one.
            params (MixParams or None, optional): λ and partners instead of a fresh draw.
            **model_kwargs: passed to the model.

        Returns:
            (output, targets): the model's output and the mixed targets (batch, num_classes),
            ``None`` without labels.
        """
        if not isinstance(x, Tensor):
            raise TypeError(f"`x` must be a torch.Tensor, but got {type(x).__name__}.")
        if x.ndim == 0:
            raise ValueError("`x` must have the batch first, but is a scalar.")
        b = x.shape[0]
        if b == 0:
            raise ValueError(f"`x` is an empty batch: shape {tuple(x.shape)}.")
        if labels is not None:
            check_labels_batch(labels, b, "x")
        if layer is not None and layer not in self.layer_names:
            raise ValueError(f"`layer` must be one of {self.layer_names}, but got {layer!r}.")

        if not self.training:
            out = self.model(x, **model_kwargs)
            targets = None
            if labels is not None:
                targets = self.settings.unmixed_targets(labels, validate=self.validate)
            return out, targets

        if params is None:
            params = self.sample_params(b, labels)
        elif params.lam.shape != (b,) or params.perm.shape != (b,):
            raise ValueError(
                f"`params` were drawn for a batch of {tuple(params.lam.shape)}, but the batch has "
                f"{b} samples."
            )
        if layer is None:
            k = int(torch.randint(len(self.layer_names), (), generator=self.generator))
        else:
            k = self.layer_names.index(layer)
        self.last_params = params
        self.last_layer = self.layer_names[k]
        dev = params.to(x.device)
        mixing = bool(params.applied.any())
        if mixing and self.layer_names[k] == INPUT:
            x = mix(x, dev.lam.to(x.dtype), dev.perm, validate=False)
        elif mixing:
            if not self._handles:
                raise RuntimeError("the hooks were removed; build a new ManifoldMixup.")
            self._active, self._done, self._dev_params = k, False, dev
        try:
            out = self.model(x, **model_kwargs)
            if self._active is not None and not self._done:
                raise RuntimeError(
                    f"layer {self.layer_names[k]!r} was not called during the model's forward, "
                    "so nothing was mixed."
                )
        finally:
            self._active, self._done, self._dev_params = None, False, None
        targets = None
        if labels is not None:
            targets = self.settings.mixed_targets(labels, dev.lam, dev.perm, validate=self.validate)
        return out, targets

    def extra_repr(self) -> str:
        return (
            f"layers={self.layer_names}, alpha={self.alpha}, num_classes={self.num_classes}, "
            f"p={self.p}, per_sample={self.mixer.per_sample}"
        )
