"""Targets: preparing, smoothing and mixing them, and the soft-target cross-entropy."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from audiomix import SoftTargetCrossEntropy
from audiomix.functional import (
    mix_targets,
    prepare_targets,
    sample_mix_params,
    sample_permutation,
    soft_target_cross_entropy,
)
from tests._helpers import generator as _gen


def _soft(b, c, seed=0, dtype=torch.float32):
    return torch.softmax(torch.randn(b, c, generator=_gen(seed), dtype=torch.float64), 1).to(dtype)


# --- prepare_targets ---------------------------------------------------------------------------


@pytest.mark.parametrize("index_dtype", [torch.int64, torch.int32, torch.uint8, torch.int16])
def test_class_indices_to_one_hot(index_dtype):
    labels = torch.tensor([0, 3, 1, 3], dtype=index_dtype)
    targets = prepare_targets(labels, num_classes=5)
    assert targets.dtype == torch.float32 and targets.shape == (4, 5)
    assert torch.equal(targets, F.one_hot(labels.long(), 5).float())


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_class_indices_target_dtype(dtype):
    assert prepare_targets(torch.tensor([1, 0]), num_classes=2, dtype=dtype).dtype == dtype


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_soft_and_one_hot_pass_through(dtype):
    soft = _soft(6, 4, dtype=dtype)
    assert torch.equal(prepare_targets(soft), soft)
    assert torch.equal(prepare_targets(soft, num_classes=4), soft)
    one_hot = F.one_hot(torch.tensor([2, 0, 1]), 3).to(dtype)
    assert torch.equal(prepare_targets(one_hot), one_hot)


def test_integer_one_hot_becomes_float():
    one_hot = F.one_hot(torch.tensor([2, 0, 1]), 3)  # int64 (batch, C)
    targets = prepare_targets(one_hot, dtype=torch.float64)
    assert targets.dtype == torch.float64 and torch.equal(targets, one_hot.double())


def test_multilabel_pass_through():
    multi_hot = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    assert torch.equal(prepare_targets(multi_hot, multilabel=True), multi_hot)


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.5, 0.99])
def test_label_smoothing_values_single_label(eps):
    targets = prepare_targets(torch.tensor([0, 2]), num_classes=4, label_smoothing=eps)
    hi, lo = 1 - eps + eps / 4, eps / 4
    expected = torch.tensor([[hi, lo, lo, lo], [lo, lo, hi, lo]])
    torch.testing.assert_close(targets, expected)
    torch.testing.assert_close(targets.sum(1), torch.ones(2))


@pytest.mark.parametrize("eps", [0.1, 0.4])
def test_label_smoothing_values_multilabel(eps):
    multi_hot = torch.tensor([[1.0, 0.0, 1.0]])
    targets = prepare_targets(multi_hot, multilabel=True, label_smoothing=eps)
    torch.testing.assert_close(targets, torch.tensor([[1 - eps / 2, eps / 2, 1 - eps / 2]]))


def test_label_smoothing_matches_torch_cross_entropy():
    # torch's own CE with label_smoothing is CE against (1 - eps) * one_hot + eps / C.
    logits = torch.randn(8, 10, generator=_gen(), dtype=torch.float64)
    labels = torch.randint(10, (8,), generator=_gen(1))
    targets = prepare_targets(labels, num_classes=10, label_smoothing=0.1, dtype=torch.float64)
    torch.testing.assert_close(
        soft_target_cross_entropy(logits, targets),
        F.cross_entropy(logits, labels, label_smoothing=0.1),
    )


# --- mix_targets -------------------------------------------------------------------------------


@given(
    b=st.integers(1, 12),
    c=st.integers(1, 10),
    seed=st.integers(0, 2**16),
    per_sample=st.booleans(),
)
def test_mixed_rows_sum_to_one_with_at_most_two_nonzeros(b, c, seed, per_sample):
    labels = torch.randint(c, (b,), generator=_gen(seed))
    params = sample_mix_params(b, alpha=0.4, per_sample=per_sample, generator=_gen(seed))
    targets = mix_targets(labels, params.lam, params.perm, num_classes=c)
    assert targets.shape == (b, c)
    torch.testing.assert_close(targets.sum(1), torch.ones(b))
    assert ((targets >= 0) & (targets <= 1)).all()
    assert ((targets != 0).sum(1) <= 2).all()
    for i in range(b):
        j = int(params.perm[i])
        lam = float(params.lam[i])
        if labels[i] == labels[j]:
            assert targets[i, labels[i]] == pytest.approx(1.0)
        else:
            assert targets[i, labels[i]] == pytest.approx(lam)
            assert targets[i, labels[j]] == pytest.approx(1 - lam)


@given(seed=st.integers(0, 2**16), b=st.integers(1, 9))
def test_mix_targets_batch_consistency(seed, b):
    # Row i of a batched call equals the pair (y[i], y[perm[i]]) mixed alone.
    soft = _soft(b, 5, seed=seed)
    lam = torch.rand(b, generator=_gen(seed))
    perm = sample_permutation(b, generator=_gen(seed + 1))
    out = mix_targets(soft, lam, perm)
    for i in range(b):
        pair = torch.stack([soft[i], soft[perm[i]]])
        alone = mix_targets(pair, lam[i].expand(2), torch.tensor([1, 0]))[0]
        assert torch.equal(out[i], alone)


@pytest.mark.parametrize("lam", [0.0, 1.0])
def test_mix_targets_exact_at_lam_zero_and_one(lam):
    soft = _soft(5, 7)
    perm = torch.tensor([4, 2, 0, 1, 3])
    out = mix_targets(soft, lam, perm)
    assert torch.equal(out, soft if lam == 1.0 else soft[perm])


def test_mix_targets_soft_and_one_hot_inputs_agree():
    labels = torch.tensor([3, 1, 4, 1, 5])
    lam = torch.rand(5, generator=_gen())
    perm = torch.tensor([1, 2, 3, 4, 0])
    from_indices = mix_targets(labels, lam, perm, num_classes=6)
    from_one_hot = mix_targets(F.one_hot(labels, 6).float(), lam, perm)
    assert torch.equal(from_indices, from_one_hot)


def test_mix_targets_soft_values():
    soft = _soft(4, 3, dtype=torch.float64)
    lam = torch.tensor([0.1, 0.5, 0.7, 1.0])
    perm = torch.tensor([3, 0, 1, 2])
    out = mix_targets(soft, lam, perm)
    assert out.dtype == torch.float64
    torch.testing.assert_close(out, lam[:, None].double() * soft + (1 - lam[:, None]) * soft[perm])


def test_label_smoothing_applied_before_mixing():
    labels = torch.tensor([0, 1])
    eps, c, lam = 0.2, 4, 0.7
    out = mix_targets(labels, lam, torch.tensor([1, 0]), num_classes=c, label_smoothing=eps)
    hi, lo = 1 - eps + eps / c, eps / c
    expected = torch.tensor(
        [
            [lam * hi + (1 - lam) * lo, lam * lo + (1 - lam) * hi, lo, lo],
            [(1 - lam) * hi + lam * lo, (1 - lam) * lo + lam * hi, lo, lo],
        ]
    )
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(out.sum(1), torch.ones(2))


def test_multilabel_weighted_mix_and_union():
    multi_hot = torch.tensor([[1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 1.0, 0.0]])
    perm = torch.tensor([1, 0])
    mixed = mix_targets(multi_hot, 0.25, perm, multilabel=True)
    torch.testing.assert_close(
        mixed, torch.tensor([[0.25, 0.75, 1.0, 0.0], [0.75, 0.25, 1.0, 0.0]])
    )
    union = mix_targets(multi_hot, 0.25, perm, multilabel=True, union=True)
    assert torch.equal(union, torch.tensor([[1.0, 1.0, 1.0, 0.0], [1.0, 1.0, 1.0, 0.0]]))
    # Union is independent of lam; with smoothing, the max of smoothed targets.
    smoothed = mix_targets(multi_hot, 0.9, perm, multilabel=True, union=True, label_smoothing=0.1)
    torch.testing.assert_close(smoothed, torch.tensor([[0.95] * 3 + [0.05]] * 2))


def test_mix_targets_does_not_mutate_labels():
    for labels, kw in [
        (torch.tensor([0, 2, 1]), dict(num_classes=3, label_smoothing=0.1)),
        (_soft(3, 3), dict(label_smoothing=0.1)),
        (_soft(3, 3), dict()),
        (torch.tensor([[1.0, 0, 1], [0, 1, 0], [1, 1, 1]]), dict(multilabel=True, union=True)),
    ]:
        before = labels.clone()
        mix_targets(labels, torch.tensor([0.3, 0.6, 1.0]), torch.tensor([2, 0, 1]), **kw)
        prepare_targets(labels, **{k: v for k, v in kw.items() if k != "union"})
        assert torch.equal(labels, before)


def test_mix_targets_device(device):
    labels = torch.tensor([0, 2, 1], device=device)
    out = mix_targets(
        labels,
        torch.tensor([0.3, 0.6, 1.0], device=device),
        torch.tensor([2, 0, 1], device=device),
        num_classes=3,
    )
    assert out.device.type == device


# --- soft-target cross-entropy -----------------------------------------------------------------


@given(
    b=st.integers(1, 10),
    c=st.integers(2, 12),
    seed=st.integers(0, 2**16),
    lam=st.floats(0.0, 1.0),
)
def test_soft_ce_on_mixed_targets_is_weighted_ce(b, c, seed, lam):
    g = _gen(seed)
    logits = torch.randn(b, c, generator=g, dtype=torch.float64) * 3
    labels = torch.randint(c, (b,), generator=g)
    perm = sample_permutation(b, generator=g)
    targets = mix_targets(labels, lam, perm, num_classes=c, dtype=torch.float64)
    loss = soft_target_cross_entropy(logits, targets, reduction="none")
    ce_a = F.cross_entropy(logits, labels, reduction="none")
    ce_b = F.cross_entropy(logits, labels[perm], reduction="none")
    torch.testing.assert_close(loss, lam * ce_a + (1 - lam) * ce_b)
    torch.testing.assert_close(
        soft_target_cross_entropy(logits, targets), (lam * ce_a + (1 - lam) * ce_b).mean()
    )


def test_soft_ce_reductions_and_module():
    logits = torch.randn(4, 5, generator=_gen())
    targets = _soft(4, 5, seed=1)
    none = soft_target_cross_entropy(logits, targets, reduction="none")
    assert none.shape == (4,)
    torch.testing.assert_close(soft_target_cross_entropy(logits, targets), none.mean())
    torch.testing.assert_close(
        soft_target_cross_entropy(logits, targets, reduction="sum"), none.sum()
    )
    for reduction in ("mean", "sum", "none"):
        torch.testing.assert_close(
            SoftTargetCrossEntropy(reduction)(logits, targets),
            soft_target_cross_entropy(logits, targets, reduction=reduction),
        )
    # Equal to torch's CE with probability targets.
    torch.testing.assert_close(none, F.cross_entropy(logits, targets, reduction="none"))


def test_soft_ce_gradient_and_no_mutation():
    logits = torch.randn(3, 4, generator=_gen(), requires_grad=True)
    targets = _soft(3, 4)
    before = (logits.detach().clone(), targets.clone())
    soft_target_cross_entropy(logits, targets).backward()
    # d/dlogits of mean CE = (softmax - targets) / batch
    torch.testing.assert_close(logits.grad, (torch.softmax(logits.detach(), 1) - targets) / 3)
    assert torch.equal(logits.detach(), before[0]) and torch.equal(targets, before[1])


def test_soft_ce_half_targets_float_logits():
    logits = torch.randn(3, 4, generator=_gen())
    targets = _soft(3, 4, dtype=torch.float16)
    loss = soft_target_cross_entropy(logits, targets)
    assert loss.dtype == torch.float32
    torch.testing.assert_close(
        loss, soft_target_cross_entropy(logits, targets.float()), atol=1e-3, rtol=1e-3
    )


# --- an empty batch ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "labels, num_classes",
    [(torch.zeros(0, dtype=torch.int64), 3), (torch.zeros(0, 3), None)],
    ids=["indices", "targets"],
)
@pytest.mark.parametrize("lam", [0.5, torch.zeros(0)], ids=["float", "tensor"])
def test_empty_batch_is_a_clear_error(labels, num_classes, lam):
    match = r"^`labels` is empty: shape \(0(, 3)?,?\)\. A batch needs at least one sample\.$"
    with pytest.raises(ValueError, match=match):
        mix_targets(labels, lam, torch.zeros(0, dtype=torch.int64), num_classes=num_classes)
    with pytest.raises(ValueError, match=match):
        prepare_targets(labels, num_classes=num_classes)
