"""Losses for mixed targets, and losses mixed instead of their targets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from .._validation import check_choice, check_same_device
from ._sampling import MixParams


def soft_target_cross_entropy(
    logits: Tensor, targets: Tensor, *, reduction: str = "mean"
) -> Tensor:
    """Cross-entropy against soft targets: ``-(targets * log_softmax(logits)).sum(-1)``.

    On mixed targets this equals ``lam * CE(logits, y_a) + (1 - lam) * CE(logits, y_b)``.

    Args:
        logits (Tensor): (batch, num_classes).
        targets (Tensor): (batch, num_classes), rows summing to 1.
        reduction (str, optional): ``"mean"``, ``"sum"`` or ``"none"``. (Default: ``"mean"``)

    Returns:
        Tensor: scalar, or (batch,) with ``reduction="none"``.
    """
    if logits.shape != targets.shape or logits.ndim != 2:
        raise ValueError(
            "`logits` and `targets` must both have shape (batch, num_classes), but got "
            f"{tuple(logits.shape)} and {tuple(targets.shape)}."
        )
    check_same_device(logits, targets, "logits", "targets")
    loss = -(targets.to(logits.dtype) * torch.log_softmax(logits, dim=-1)).sum(dim=-1)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"`reduction` must be one of 'mean', 'sum', 'none', but got {reduction!r}.")


def _partner_target(target: Any, perm: Tensor, b: int, k: int) -> Any:
    """``target`` rearranged so that row ``i`` holds row ``perm[i]``'s target."""
    if isinstance(target, Tensor):
        if target.ndim == 0 or target.shape[0] != b:
            got = "a scalar" if target.ndim == 0 else f"shape {tuple(target.shape)}"
            raise ValueError(
                f"`targets[{k}]` must have the batch ({b}) first, but got {got}. Everything a "
                "sample's target is made of goes in `targets`; the rest belongs in `loss_fn`."
            )
        return target.index_select(0, perm.to(target.device))
    if isinstance(target, (list, tuple)):
        if len(target) != b:
            raise ValueError(
                f"`targets[{k}]` must hold one entry per sample ({b}), but has {len(target)}."
            )
        return type(target)(target[j] for j in perm.tolist())
    raise TypeError(
        f"`targets[{k}]` must be a tensor with the batch first or a list with one entry per "
        f"sample, but got {type(target).__name__}."
    )


def _per_sample(loss: Any, b: int, which: str) -> Tensor:
    if not isinstance(loss, Tensor) or loss.shape != (b,):
        got = f"shape {tuple(loss.shape)}" if isinstance(loss, Tensor) else type(loss).__name__
        raise ValueError(
            f"`loss_fn` must return one loss per sample, shape ({b},), but returned {got} for "
            f"the {which} targets: compute it with reduction='none' (and average any other "
            "dimension inside `loss_fn`)."
        )
    return loss


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def mixed_loss(
    loss_fn: Callable[..., Tensor],
    params: MixParams,
    *targets: Any,
    reduction: str = "mean",
) -> Tensor:
    r"""Mixes a loss instead of its targets: ``λ_i·loss_i(a) + (1 − λ_i)·loss_i(b)``.

    For targets that cannot be added (transcripts for CTC or sequence-to-sequence models, token
    sequences of different lengths), each sample's loss is computed against its own target
    (``a``) and against its partner's (``b = targets[perm]``), then weighted by the sample's
    own λ. ``params`` is a mixer's ``last_params`` (any mixer: :class:`~audiomix.SNRMix`'s
    energy share, CutMix's pasted area and :class:`~audiomix.RandomChoiceMix`'s
    :class:`ChoiceParams` carry the weight each sample's own target got in ``lam``). Unmixed
    samples (``lam = 1`` or their own partner) get exactly ``loss(a)``, and a weight of 0 or 1
    never multiplies the other term (an infinite CTC loss there does not make a NaN).

    Args:
        loss_fn (callable): ``loss_fn(*targets)`` returns the (batch,) per-sample losses of the
            model's output (captured by the function) against ``targets``; reduce nothing over
            the batch in it (``reduction="none"``), average any other dimension (tokens) there.
        params (MixParams): (batch,) ``lam`` and ``perm`` of the mix, e.g.
            ``mixer.last_params``.
        *targets: everything a sample's target is made of, each with the batch first:
            tensors (batch, ...) such as padded transcripts and their lengths, or lists with
            one entry per sample.
        reduction (str, optional): ``"mean"`` or ``"sum"`` over the batch of the mixed
            per-sample losses, or ``"none"``. (Default: ``"mean"``)

    Returns:
        Tensor: scalar, or (batch,) with ``reduction="none"``.

    Example:
        >>> mixup = WaveformMixup(alpha=0.4, num_classes=3, generator=0)
        >>> labels = torch.tensor([0, 1, 2, 1])
        >>> x, targets = mixup(torch.randn(4, 100), labels)
        >>> logits = torch.randn(4, 3)
        >>> loss = mixed_loss(
        ...     lambda y: torch.nn.functional.cross_entropy(logits, y, reduction="none"),
        ...     mixup.last_params, labels)
        >>> torch.allclose(loss, soft_target_cross_entropy(logits, targets))
        True
    """
    if not callable(loss_fn):
        raise TypeError(f"`loss_fn` must be callable, but got {type(loss_fn).__name__}.")
    if not isinstance(params, MixParams):
        raise TypeError(
            f"`params` must be MixParams (a mixer's `last_params`), but got "
            f"{type(params).__name__}."
        )
    check_choice(reduction, "reduction", ("mean", "sum", "none"))
    if not targets:
        raise ValueError("`targets` is empty: give the targets `loss_fn` takes.")
    b = params.lam.shape[0]
    if params.lam.shape != (b,) or params.perm.shape != (b,):
        raise ValueError(
            f"`params.lam` and `params.perm` must both have shape (batch,), but got "
            f"{tuple(params.lam.shape)} and {tuple(params.perm.shape)}."
        )
    perm = params.perm.cpu()
    partners = [_partner_target(t, perm, b, k) for k, t in enumerate(targets)]
    own = _per_sample(loss_fn(*targets), b, "own")
    lam = params.lam.to(own.device, own.dtype)
    # Rows whose partner term has no weight: unmixed, or mixed with λ = 1 (an empty CutMix box).
    alone = (lam == 1) | (perm == torch.arange(b)).to(own.device)
    if bool(alone.all()):
        return _reduce(own, reduction)
    other = _per_sample(loss_fn(*partners), b, "partner")
    mixed = lam * own + (1 - lam) * other
    mixed = torch.where(alone, own, torch.where(lam == 0, other, mixed))
    return _reduce(mixed, reduction)


def mixed_ctc_loss(
    log_probs: Tensor,
    targets: Tensor,
    input_lengths: Tensor,
    target_lengths: Tensor,
    params: MixParams,
    *,
    blank: int = 0,
    reduction: str = "mean",
    zero_infinity: bool = False,
) -> Tensor:
    r"""``torch.nn.functional.ctc_loss`` of a mixed batch: each sample's loss against its own
    transcript and its partner's, weighted by its λ (:func:`mixed_loss` for CTC).

    Reductions as in ``ctc_loss``: ``"mean"`` divides each term by its own transcript's length
    before mixing, then averages over the batch (so an unmixed batch gives ``ctc_loss``
    exactly); ``"sum"`` adds the mixed losses; ``"none"`` returns them. The mixed output must be
    long enough for both transcripts (``input_lengths`` of the mixed batch, e.g. the lengths a
    mixer returns, converted to frames); an impossible alignment gives an infinite loss, as in
    ``ctc_loss`` (``zero_infinity=True`` zeroes it).

    Args:
        log_probs (Tensor): (frames, batch, classes) log-probabilities, as ``ctc_loss`` takes.
        targets (Tensor): (batch, max_target_length) padded transcripts, or the (sum of
            target_lengths,) concatenated ones.
        input_lengths (Tensor): (batch,) valid frames of each output.
        target_lengths (Tensor): (batch,) transcript lengths.
        params (MixParams): the mix, e.g. ``mixer.last_params``.
        blank (int, optional): the blank index. (Default: ``0``)
        reduction (str, optional): ``"mean"``, ``"sum"`` or ``"none"``. (Default: ``"mean"``)
        zero_infinity (bool, optional): as in ``ctc_loss``. (Default: ``False``)

    Returns:
        Tensor: scalar, or (batch,) with ``reduction="none"``.

    Example:
        >>> mixup = WaveformMixup(alpha=0.4, generator=0)
        >>> audio, _, lengths = mixup(torch.randn(2, 1600), None, torch.tensor([1600, 1200]))
        >>> log_probs = torch.randn(50, 2, 5).log_softmax(-1)  # the model's output for audio
        >>> transcripts = torch.tensor([[1, 2, 3], [4, 2, 0]])  # padded
        >>> loss = mixed_ctc_loss(log_probs, transcripts, torch.tensor([50, 50]),
        ...                       torch.tensor([3, 2]), mixup.last_params)
        >>> loss.shape
        torch.Size([])
    """
    check_choice(reduction, "reduction", ("mean", "sum", "none"))
    target_lengths = torch.as_tensor(target_lengths)
    if targets.ndim == 1:
        if int(target_lengths.sum()) != targets.shape[0]:
            raise ValueError(
                "concatenated `targets` must hold sum(target_lengths) = "
                f"{int(target_lengths.sum())} labels, but hold {targets.shape[0]}."
            )
        pieces = torch.split(targets, target_lengths.tolist())
        targets = torch.nn.utils.rnn.pad_sequence(list(pieces), batch_first=True)

    def per_sample(transcripts: Tensor, lengths: Tensor) -> Tensor:
        loss = torch.nn.functional.ctc_loss(
            log_probs,
            transcripts,
            input_lengths,
            lengths,
            blank=blank,
            reduction="none",
            zero_infinity=zero_infinity,
        )
        if reduction == "mean":
            loss = loss / lengths.to(loss.device, loss.dtype).clamp_min(1)
        return loss

    return mixed_loss(per_sample, params, targets, target_lengths, reduction=reduction)
