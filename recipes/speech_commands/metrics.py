"""Classification metrics for the recipe: accuracy, NLL, ECE, per-class accuracy, confusion.

The numbers come from torchmetrics (``MulticlassCalibrationError(n_bins=15, norm="l1")``,
``MulticlassConfusionMatrix``, ``MulticlassAccuracy``); the only hand-written parts are the
negative log-likelihood (``cross_entropy`` on the logits), the per-bin table behind a
reliability diagram (torchmetrics does not expose its bins) and temperature scaling
(Guo et al., 2017: one scalar ``T`` fitted by LBFGS on ``log T`` to minimise the validation NLL).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassCalibrationError,
    MulticlassConfusionMatrix,
)

__all__ = ["classification_metrics", "fit_temperature", "reliability_bins"]


def _check(logits: Tensor, labels: Tensor, num_classes: int) -> None:
    if logits.ndim != 2 or logits.shape[1] != num_classes:
        raise ValueError(
            f"`logits` must be (batch, num_classes={num_classes}), but got {tuple(logits.shape)}."
        )
    if labels.shape != logits.shape[:1]:
        raise ValueError(
            f"logits and labels have different batch sizes: {logits.shape[0]} != "
            f"{tuple(labels.shape)}."
        )
    if logits.shape[0] == 0:
        raise ValueError("cannot compute metrics on an empty set (0 examples).")


def reliability_bins(probs: Tensor, labels: Tensor, n_bins: int = 15) -> dict[str, list[float]]:
    """Confidence histogram behind a reliability diagram (equal-width bins on max prob).

    Args:
        probs (Tensor): (batch, num_classes) probabilities.
        labels (Tensor): (batch,) class indices.
        n_bins (int, optional): (Default: ``15``)

    Returns:
        dict: ``count``, ``confidence`` (mean max prob) and ``accuracy`` per bin (0 where
        empty), and ``edges`` (n_bins + 1).
    """
    conf, pred = probs.max(dim=1)
    correct = (pred == labels).double()
    edges = torch.linspace(0, 1, n_bins + 1, dtype=torch.float64)
    # Bin i holds [edges[i], edges[i+1]), as in torchmetrics (a confidence of 1 joins the last).
    idx = (torch.bucketize(conf.double(), edges, right=True) - 1).clamp(0, n_bins - 1)
    count = torch.bincount(idx, minlength=n_bins).double()
    conf_sum = torch.bincount(idx, weights=conf.double(), minlength=n_bins)
    acc_sum = torch.bincount(idx, weights=correct, minlength=n_bins)
    safe = count.clamp_min(1)
    return {
        "edges": edges.tolist(),
        "count": count.tolist(),
        "confidence": (conf_sum / safe).tolist(),
        "accuracy": (acc_sum / safe).tolist(),
    }


def classification_metrics(
    logits: Tensor,
    labels: Tensor,
    num_classes: int,
    *,
    n_bins: int = 15,
    detail: bool = False,
) -> dict[str, Any]:
    """Accuracy, NLL and ECE of a set of predictions (and optionally per class, confusion).

    Args:
        logits (Tensor): (batch, num_classes).
        labels (Tensor): (batch,) class indices.
        num_classes (int): number of classes.
        n_bins (int, optional): ECE bins. (Default: ``15``)
        detail (bool, optional): also per-class accuracy, the confusion matrix (rows: true
            class, columns: predicted) and reliability bins. (Default: ``False``)

    Returns:
        dict: ``accuracy``, ``nll``, ``ece`` (floats) [, ``per_class_accuracy`` (list),
        ``confusion_matrix`` (list of lists of int), ``reliability`` (dict)].
    """
    _check(logits, labels, num_classes)
    logits = logits.double()
    labels = labels.long()
    probs = logits.softmax(dim=1)
    acc = MulticlassAccuracy(num_classes, average="micro")(probs, labels)
    ece = MulticlassCalibrationError(num_classes, n_bins=n_bins, norm="l1")(probs, labels)
    out: dict[str, Any] = {
        "accuracy": float(acc),
        "nll": float(F.cross_entropy(logits, labels)),
        "ece": float(ece),
    }
    if detail:
        per_class = MulticlassAccuracy(num_classes, average=None)(probs, labels)
        confusion = MulticlassConfusionMatrix(num_classes)(probs, labels)
        present = torch.bincount(labels, minlength=num_classes) > 0
        # torchmetrics reports 0 for a class absent from the labels; say "no data" instead.
        out["per_class_accuracy"] = [
            float(a) if p else None
            for a, p in zip(per_class.tolist(), present.tolist(), strict=True)
        ]
        out["confusion_matrix"] = confusion.long().tolist()
        out["reliability"] = reliability_bins(probs, labels, n_bins)
    return out


def fit_temperature(logits: Tensor, labels: Tensor, *, max_iter: int = 100) -> float:
    """Temperature ``T`` minimising the NLL of ``logits / T`` (LBFGS on ``log T``).

    Args:
        logits (Tensor): (batch, num_classes), e.g. on the validation split.
        labels (Tensor): (batch,) class indices.
        max_iter (int, optional): LBFGS iterations. (Default: ``100``)

    Returns:
        float: T > 0 (T > 1 softens over-confident predictions, T < 1 sharpens).
    """
    if logits.ndim != 2 or labels.shape != logits.shape[:1] or logits.shape[0] == 0:
        raise ValueError(
            f"`logits` must be (batch, num_classes) with batch > 0 matching labels, but got "
            f"{tuple(logits.shape)} and {tuple(labels.shape)}."
        )
    logits = logits.detach().double()
    labels = labels.long()
    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS(
        [log_t], lr=0.5, max_iter=max_iter, tolerance_grad=1e-10, line_search_fn="strong_wolfe"
    )

    def closure() -> Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), labels)
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    return float(log_t.detach().clamp(-5.0, 5.0).exp())
