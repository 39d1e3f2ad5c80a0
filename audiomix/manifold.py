"""Manifold mixup: mix hidden activations of a model, with the targets mixed alike.

Verma et al. (ICML 2019), "Manifold Mixup: Better Representations by Interpolating Hidden
States": at each training step pick a layer k (the input counts as layer 0), run the model up
to it, mix its output across the batch with λ ~ Beta(α, α) and a random partner, continue, and
train on equally mixed targets.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from ._arrays import as_tensor
from ._settings import ForwardsSchedule, SettingsMixin
from ._validation import check_labels_batch, check_lengths
from .functional._alignment import mix_lengths
from .functional._mix import mix
from .functional._sampling import MixParams
from .transforms._base import Mixer, MixerOptions
from .transforms._inputs import Layout

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["ManifoldMixup"]

INPUT = "input"


class HiddenMixup(Mixer[MixParams]):
    """The mixer of :class:`ManifoldMixup`: mixup of activations of any shape (batch, ...)."""

    layout = Layout("activations", "(batch, ...)", 1, 64)

    def mix(
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

    **Clips of different lengths.** Given ``lengths``, the (batch,) valid lengths of the
    input's last axis, each layer is mixed as :func:`~audiomix.functional.mix` mixes a padded
    batch: a mix is valid over the longer clip of its pair, wherever a clip has no valid
    position it contributes 0 instead of what its padding computed, and positions beyond the
    longer clip are 0, so no activation of padding (nor of the partner) ends up in a mix's
    padding. The model's output comes with the lengths of the mix,
    ``max(lengths, lengths[perm])``, and a model whose ``forward`` has a ``lengths``
    parameter receives them (in eval mode, the lengths as given), so that it pools over the
    partner's frames too. What the lengths mean at a hidden layer is read off its last axis:

    * a layer whose last axis has the input's size (the input itself, convolutions with
      ``same`` padding and no stride) takes the lengths as they are, and the placement of the
      shorter clip inside the longer (``placement``) as drawn for the input;
    * any other layer needs an entry in ``lengths_fn``: a function mapping the input's
      lengths to the layer's (e.g. ``lambda n: (n + 1) // 2`` after a pooling by 2,
      ``logmel.frame_lengths`` after a spectrogram), its result clamped to [1, size], the
      shorter clip aligned at the start; or ``None`` for a layer without a time axis (after
      global pooling), mixed whole. Without an entry such a layer raises a ``ValueError``
      when it is chosen.

    On dB input (log-mels), 0 is not silence: mix such input with lengths in the data pipeline
    (:class:`SpectrogramMixup` knows the dB floor) and list hidden layers only.

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
        lengths_fn (mapping or None, optional): ``{layer name: function or None}`` for
            layers whose last axis is not the input's (see above); module-level functions
            keep the wrapper picklable. (Default: ``None``)
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

        Padded clips of different lengths, a layer that halves the time axis:

        >>> cnn = nn.Sequential(nn.Conv1d(40, 16, 3, padding=1), nn.ReLU(), nn.MaxPool1d(2),
        ...                     nn.Conv1d(16, 10, 1))
        >>> mm = ManifoldMixup(cnn, ["input", "1", "2"], lengths_fn={"2": lambda n: (n + 1) // 2},
        ...                    num_classes=10, generator=0)
        >>> out, targets, lengths = mm(torch.randn(4, 40, 100), torch.arange(4),
        ...                            torch.tensor([100, 81, 60, 35]), layer="2")
        >>> out.shape, lengths.tolist() == mix_lengths(torch.tensor([100, 81, 60, 35]),
        ...                                              mm.last_params.perm).tolist()
        (torch.Size([4, 10, 50]), True)
    """

    def __init__(
        self,
        model: nn.Module,
        layers: str | nn.Module | Sequence[str | nn.Module],
        *,
        alpha: float = 2.0,
        num_classes: int | None = None,
        lengths_fn: Mapping[str, Callable[[Tensor], Tensor] | None] | None = None,
        **options: Unpack[MixerOptions],
    ) -> None:
        super().__init__()
        self.mixer = HiddenMixup(alpha, num_classes, **options)
        self.settings = self.mixer.settings  # the target format and schedule, the mixer's
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
        self.lengths_fn = self._checked_lengths_fn(lengths_fn)
        self._model_takes_lengths = _takes_lengths(model)
        self._lengths: Tensor | None = None  # the input's, during a forward that mixes
        self._time = 0  # size of the input's last axis, likewise
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
    def validate(self) -> bool:
        return self.mixer.validate

    @property
    def generator(self) -> torch.Generator:
        """The CPU generator of this process (that of :attr:`mixer`)."""
        return self.mixer.generator

    def sample_params(
        self, batch_size: int, lengths: Tensor | None = None, labels: Tensor | None = None
    ) -> MixParams:
        """Draws λ and partners for a batch (CPU), advancing the wrapper's RNG; ``lengths``
        (the input's) for the placement offsets, ``labels`` for a ``partner`` rule by class."""
        return self.mixer.sample_params(batch_size, lengths, labels)

    def _checked_lengths_fn(
        self, lengths_fn: Mapping[str, Callable[[Tensor], Tensor] | None] | None
    ) -> dict[str, Callable[[Tensor], Tensor] | None]:
        if lengths_fn is None:
            return {}
        if not isinstance(lengths_fn, Mapping):
            raise TypeError(
                "`lengths_fn` must be a mapping {layer name: function or None}, but got "
                f"{type(lengths_fn).__name__}."
            )
        for name, fn in lengths_fn.items():
            if name not in self.layer_names or name == INPUT:
                hidden = [n for n in self.layer_names if n != INPUT]
                raise ValueError(
                    f"`lengths_fn` has an entry for {name!r}, which is not one of the hidden "
                    f"layers {hidden}."
                )
            if fn is not None and not callable(fn):
                raise TypeError(
                    f"`lengths_fn[{name!r}]` must be callable or None, but got {type(fn).__name__}."
                )
        return dict(lengths_fn)

    def _layer_lengths(
        self, h: Tensor, name: str, params: MixParams
    ) -> tuple[Tensor | None, Tensor | None]:
        """(lengths, offsets) of the mix at a hidden layer, in the units of its last axis."""
        lengths = self._lengths
        if lengths is None:
            return None, None
        if name in self.lengths_fn:
            fn = self.lengths_fn[name]
            if fn is None:
                return None, None
            out = fn(lengths)
            if (
                not isinstance(out, Tensor)
                or out.shape != lengths.shape
                or out.is_floating_point()
                or out.dtype == torch.bool
            ):
                got = (
                    f"{out.dtype} of shape {tuple(out.shape)}"
                    if isinstance(out, Tensor)
                    else type(out).__name__
                )
                raise ValueError(
                    f"`lengths_fn[{name!r}]` must return integer lengths of shape "
                    f"{tuple(lengths.shape)}, but returned {got}."
                )
            return out.to(h.device).clamp(1, h.shape[-1]), None
        if h.shape[-1] == self._time:
            return lengths.to(h.device), params.offsets
        raise ValueError(
            f"layer {name!r} has {h.shape[-1]} positions on its last axis where the input has "
            f"{self._time}, so the input's `lengths` do not say which are padding. Pass "
            f"`lengths_fn={{{name!r}: fn}}` with fn mapping the input's lengths to the "
            f"layer's (e.g. `lambda n: (n + 1) // 2` after a pooling by 2), or "
            f"`{{{name!r}: None}}` for a layer without a time axis."
        )

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
        lengths, offsets = self._layer_lengths(h, name, params)
        lam = params.lam.to(h.dtype)
        return mix(h, lam, params.perm, lengths=lengths, offsets=offsets, validate=False)

    def remove_hooks(self) -> None:
        """Detaches the hooks; the wrapper can no longer mix hidden layers afterwards."""
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def forward(
        self,
        x: Tensor,
        labels: Tensor | None = None,
        lengths: Tensor | None = None,
        *,
        layer: str | None = None,
        params: MixParams | None = None,
        **model_kwargs: Any,
    ) -> tuple[Any, ...]:
        """
        Args:
            x (Tensor or NumPy array): (batch, ...) model input; with ``lengths``,
                (batch, ..., time). NumPy arrays (also ``labels``, ``lengths``) are converted
                and never written to; the model gets a tensor.
            labels (Tensor or None, optional): class indices (batch,) or targets
                (batch, num_classes).
            lengths (Tensor or None, optional): (batch,) valid lengths of ``x``'s last axis,
                for right-padded clips of different lengths (see the class docstring).
            layer (str or None, optional): mix at this candidate instead of a random one.
            params (MixParams or None, optional): λ and partners instead of a fresh draw.
            **model_kwargs: passed to the model.

        Returns:
            ``(output, targets)``, or ``(output, targets, lengths)`` with ``lengths``: the
            model's output, the mixed targets (batch, num_classes) (``None`` without labels)
            and the (batch,) lengths of the mix, ``max(lengths, lengths[perm])``, in the
            input's units.
        """
        x = as_tensor(x, "x")
        if not isinstance(x, Tensor):
            raise TypeError(f"`x` must be a torch.Tensor, but got {type(x).__name__}.")
        if x.ndim == 0:
            raise ValueError("`x` must have the batch first, but is a scalar.")
        b = x.shape[0]
        if b == 0:
            raise ValueError(f"`x` is an empty batch: shape {tuple(x.shape)}.")
        if labels is not None:
            labels = as_tensor(labels, "labels")
            check_labels_batch(labels, b, "x")
        if lengths is not None:
            lengths = as_tensor(lengths, "lengths")
            check_lengths(lengths, b, x.shape[-1])
        if layer is not None and layer not in self.layer_names:
            raise ValueError(f"`layer` must be one of {self.layer_names}, but got {layer!r}.")

        if not self.training:
            out = self._run_model(x, lengths, model_kwargs)
            targets = None
            if labels is not None:
                targets = self.settings.unmixed_targets(labels, validate=self.validate)
            return (out, targets) if lengths is None else (out, targets, lengths)

        if params is None:
            params = self.sample_params(b, None if lengths is None else lengths.cpu(), labels)
        else:
            self.mixer._check_params(params, b, lengths)
        if layer is None:
            k = int(torch.randint(len(self.layer_names), (), generator=self.generator))
        else:
            k = self.layer_names.index(layer)
        self.last_params = params
        self.last_layer = self.layer_names[k]
        dev = params.to(x.device)
        mixing = bool(params.applied.any())
        # The model pools over the mix's lengths: the partner's frames count too.
        model_lengths = None if lengths is None else mix_lengths(lengths, dev.perm)
        if mixing and self.layer_names[k] == INPUT:
            lam = dev.lam.to(x.dtype)
            x = mix(x, lam, dev.perm, lengths=lengths, offsets=dev.offsets, validate=False)
        elif mixing:
            if not self._handles:
                raise RuntimeError("the hooks were removed; build a new ManifoldMixup.")
            self._active, self._done, self._dev_params = k, False, dev
            self._lengths, self._time = lengths, x.shape[-1]
        try:
            out = self._run_model(x, model_lengths, model_kwargs)
            if self._active is not None and not self._done:
                raise RuntimeError(
                    f"layer {self.layer_names[k]!r} was not called during the model's forward, "
                    "so nothing was mixed."
                )
        finally:
            self._active, self._done, self._dev_params = None, False, None
            self._lengths = None
        targets = None
        if labels is not None:
            targets = self._mixed_targets(labels, dev, x, lengths)
        return (out, targets) if lengths is None else (out, targets, model_lengths)

    def _mixed_targets(
        self, labels: Tensor, params: MixParams, x: Tensor, lengths: Tensor | None
    ) -> Tensor:
        """Clip targets mixed by λ; frame targets (batch, frames, classes) moved with the
        input's placement when there are lengths (the mixer's ``target_hop`` over ``x``'s last
        axis), λ-weighted frame by frame otherwise."""
        m = self.mixer
        if labels.ndim != 3 or lengths is None:
            return self.settings.mixed_targets(
                labels, params.lam, params.perm, validate=self.validate
            )
        frames = m._frame_labels(labels, x.shape[-1], m.target_hop)
        if self.last_layer in self.lengths_fn:
            # Such a layer is mixed with the shorter clip at the start: so are the targets.
            params = dataclasses.replace(params, offsets=None)
        tmap = m.time_map(params, lengths, x.shape)
        return m._layout_back(m._mixed_frame_targets(frames, params, tmap, lengths, m.target_hop))

    def _run_model(self, x: Tensor, lengths: Tensor | None, model_kwargs: dict[str, Any]) -> Any:
        if lengths is not None and self._model_takes_lengths:
            return self.model(x, lengths=lengths, **model_kwargs)
        return self.model(x, **model_kwargs)

    def extra_repr(self) -> str:
        return (
            f"layers={self.layer_names}, alpha={self.alpha}, num_classes={self.num_classes}, "
            f"p={self.p}, per_sample={self.mixer.per_sample}"
        )


def _takes_lengths(model: nn.Module) -> bool:
    """Whether ``model.forward`` has a parameter named ``lengths``."""
    try:
        parameters = inspect.signature(model.forward).parameters
    except (TypeError, ValueError):  # a forward without a signature (a C extension)
        return False
    lengths = parameters.get("lengths")
    return lengths is not None and lengths.kind in (
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        inspect.Parameter.KEYWORD_ONLY,
    )
