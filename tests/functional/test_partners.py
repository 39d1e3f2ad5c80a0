"""Partner rules of the batch draw: who may be a sample's partner, uniformly among those the
rule allows; rows the batch cannot pair reported and left unmixed."""

import pytest
import scipy.stats
import torch
from hypothesis import given
from hypothesis import strategies as st

from audiomix.functional import (
    PARTNER_RULES,
    sample_bc_params,
    sample_cutmix_params,
    sample_mix_params,
    sample_partners,
    sample_snr_params,
    shared_classes,
)
from tests._helpers import generator as _gen

LABELS = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 3])
# Multi-hot sets over 4 classes: {0}, {0, 1}, {1}, {2}, {2, 3}, {3}, {} (no class).
MULTI = torch.tensor(
    [[1, 0, 0, 0], [1, 1, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 1, 1], [0, 0, 0, 1], [0] * 4],
    dtype=torch.float32,
)


def _allowed(labels, rule, multilabel=False):
    """(batch, batch) bool: the partners ``rule`` allows, written out by hand."""
    b = labels.shape[0]
    allowed = torch.zeros(b, b, dtype=torch.bool)
    for i in range(b):
        for j in range(b):
            if rule == "any":
                allowed[i, j] = True
                continue
            if i == j:
                continue
            if labels.ndim == 1:
                share = bool(labels[i] == labels[j])
            elif not multilabel:
                share = bool(labels[i].argmax() == labels[j].argmax())
            else:
                present = (labels.amax(dim=1) if labels.ndim == 3 else labels) > 0
                share = bool((present[i] & present[j]).any())
            allowed[i, j] = share if rule == "same_class" else not share
    return allowed


def _partner_counts(labels, rule, draws, multilabel=False, seed=0):
    g = _gen(seed)
    b = labels.shape[0]
    counts = torch.zeros(b, b, dtype=torch.int64)
    unmet_seen = torch.zeros(b, dtype=torch.bool)
    for _ in range(draws):
        perm, unmet = sample_partners(
            b, rule=rule, labels=labels, multilabel=multilabel, generator=g
        )
        counts[torch.arange(b), perm] += 1
        if unmet is not None:
            unmet_seen |= unmet
    return counts, unmet_seen


@pytest.mark.parametrize(
    "labels, multilabel",
    [(LABELS, False), (torch.nn.functional.one_hot(LABELS, 4).float() * 0.9, False), (MULTI, True)],
    ids=["indices", "targets", "multi-hot"],
)
@pytest.mark.parametrize("rule", PARTNER_RULES)
def test_partners_are_uniform_among_those_the_rule_allows(labels, multilabel, rule):
    # 1500 draws at a fixed seed; each row's partners pass a chi-square test of uniformity over
    # the allowed set (a correct sampler fails at p < 1e-3 once in 1000 seeds; the seed is fixed).
    draws = 1500
    counts, unmet = _partner_counts(labels, rule, draws, multilabel)
    allowed = _allowed(labels, rule, multilabel)
    for i in range(labels.shape[0]):
        if not allowed[i].any():
            assert unmet[i] and counts[i, i] == draws  # never paired against the rule
            continue
        assert not unmet[i]
        assert counts[i][~allowed[i]].sum() == 0, (i, counts[i])
        observed = counts[i][allowed[i]].double().numpy()
        if observed.size > 1:
            assert scipy.stats.chisquare(observed).pvalue > 1e-3, (rule, i, observed)


def test_the_uniformity_check_has_power():
    # Always taking the first allowed partner, or the first twice as often, fails the test.
    observed = torch.tensor([2000.0, 1000.0, 1000.0]).numpy()
    assert scipy.stats.chisquare(observed).pvalue < 1e-6


def test_multilabel_other_class_means_disjoint_label_sets():
    present = MULTI > 0
    g = _gen(3)
    for _ in range(200):
        perm, unmet = sample_partners(
            7, rule="other_class", labels=MULTI, multilabel=True, generator=g
        )
        overlap = (present & present[perm]).any(dim=1)
        assert not overlap[~unmet].any()
        assert (perm[~unmet] != torch.arange(7)[~unmet]).all()
    # Single-label reading of the same rows compares only the largest entry: {0, 1} vs {1} may
    # then pair, since argmax({0, 1}) is class 0.
    shared = shared_classes(MULTI, multilabel=False)
    assert not shared[1, 2]
    assert shared_classes(MULTI, multilabel=True)[1, 2]


def test_the_item_without_a_class_pairs_with_anyone_under_other_class_and_nobody_else():
    # Row 6 has no class: it shares none with anyone.
    allowed = _allowed(MULTI, "other_class", multilabel=True)
    assert allowed[6, :6].all()
    assert not _allowed(MULTI, "same_class", multilabel=True)[6].any()
    _, unmet = sample_partners(
        7, rule="same_class", labels=MULTI, multilabel=True, generator=_gen(0)
    )
    assert unmet.tolist() == [False] * 6 + [True]


def test_frame_targets_share_a_class_when_it_is_active_in_both():
    frames = torch.zeros(4, 10, 3)
    frames[0, 2:5, 0] = 1.0  # class 0 early
    frames[1, 7:9, 0] = 0.5  # class 0 late: shares it with clip 0
    frames[2, :, 1] = 1.0
    frames[3, 3, 2] = 1.0
    shared = shared_classes(frames)
    assert shared[0, 1] and not shared[0, 2] and not shared[2, 3]
    perm, unmet = sample_partners(4, rule="same_class", labels=frames, generator=_gen(0))
    assert perm[:2].tolist() == [1, 0] and unmet.tolist() == [False, False, True, True]


@given(
    labels=st.lists(st.integers(0, 3), min_size=1, max_size=12),
    rule=st.sampled_from(["other_class", "same_class"]),
    seed=st.integers(0, 2**31),
)
def test_a_partner_obeys_the_rule_or_the_row_is_unmet(labels, rule, seed):
    labels = torch.tensor(labels)
    b = labels.numel()
    perm, unmet = sample_partners(b, rule=rule, labels=labels, generator=_gen(seed))
    allowed = _allowed(labels, rule)
    has_one = allowed.any(dim=1)
    assert torch.equal(unmet, ~has_one)
    assert torch.equal(perm[unmet], torch.arange(b)[unmet])
    assert allowed[torch.arange(b), perm][~unmet].all()


def test_the_stream_does_not_depend_on_the_labels_pattern():
    # One draw per row whatever the labels: what follows the partners (λ, offsets) is the same.
    after = []
    for labels in (LABELS, torch.zeros(9, dtype=torch.int64), torch.arange(9)):
        g = _gen(11)
        sample_partners(9, rule="other_class", labels=labels, generator=g)
        after.append(torch.rand(4, generator=g))
    assert torch.equal(after[0], after[1]) and torch.equal(after[0], after[2])


SAMPLERS = {
    "mixup": lambda b, **k: sample_mix_params(b, alpha=0.4, **k),
    "cutmix": lambda b, **k: sample_cutmix_params(b, alpha=1.0, **k),
    "snr": lambda b, **k: sample_snr_params(b, snr_db=(0.0, 10.0), **k),
    "bc": lambda b, **k: sample_bc_params(b, alpha=1.0, **k),
}


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_every_sampler_reports_unmet_rows_unmixed(name):
    labels = torch.tensor([0, 0, 1, 2, 2, 2])  # class 1 is alone: no same-class partner
    params = SAMPLERS[name](6, partner="same_class", labels=labels, generator=_gen(0))
    assert params.unmet.tolist() == [False, False, True, False, False, False]
    assert not params.applied[2] and params.perm[2] == 2 and params.lam[2] == 1.0
    ok = params.applied
    assert (labels[params.perm][ok] == labels[ok]).all() and (params.perm[ok] != 2).all()
    # "any" reports nothing.
    assert SAMPLERS[name](6, labels=labels, generator=_gen(0)).unmet is None


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_unmet_is_only_where_the_coin_said_mix(name):
    labels = torch.zeros(8, dtype=torch.int64)  # nobody has another class
    g = _gen(4)
    for _ in range(20):
        params = SAMPLERS[name](
            8, p=0.5, per_sample=True, partner="other_class", labels=labels, generator=g
        )
        assert not params.applied.any()
        assert torch.equal(params.perm, torch.arange(8))
        assert (params.lam == 1.0).all()
    # The coin decides which rows asked: the others are not reported as refused by the rule.
    g, twin = _gen(4), _gen(4)
    params = SAMPLERS[name](
        8, p=0.5, per_sample=True, partner="other_class", labels=labels, generator=g
    )
    coin = torch.rand(8, generator=twin, dtype=torch.float64) < 0.5
    assert torch.equal(params.unmet, coin)


def test_partner_rule_errors():
    labels = torch.tensor([0, 1, 0, 1])
    with pytest.raises(ValueError, match="`partner`='other_class' needs `labels`"):
        sample_partners(4, rule="other_class")
    with pytest.raises(ValueError, match="`partner` must be one of"):
        sample_partners(4, rule="others", labels=labels)
    with pytest.raises(ValueError, match="`labels` and the batch have different sizes: 3 != 4"):
        sample_partners(4, rule="same_class", labels=labels[:3])
    with pytest.raises(ValueError, match="`labels` and the batch have different sizes: a scalar"):
        sample_partners(4, rule="same_class", labels=torch.tensor(1))
    with pytest.raises(ValueError, match="`batch_size` must be >= 0, but got -1"):
        sample_partners(-1, rule="same_class", labels=labels)
    with pytest.raises(TypeError, match="`labels` must be a torch.Tensor, but got list"):
        shared_classes([0, 1])
    with pytest.raises(ValueError, match=r"`labels` must be class indices \(batch,\)"):
        shared_classes(torch.zeros(2, 3, 4, 5))
    with pytest.raises(ValueError, match="`perm` fixes the partners, so `partner` must be 'any'"):
        sample_mix_params(
            4, alpha=1.0, partner="same_class", labels=labels, perm=torch.tensor([1, 0, 3, 2])
        )


def test_empty_and_single_batches():
    perm, unmet = sample_partners(0, rule="other_class", labels=torch.zeros(0, dtype=torch.int64))
    assert perm.shape == (0,) and unmet.shape == (0,)
    perm, unmet = sample_partners(1, rule="other_class", labels=torch.tensor([3]))
    assert perm.tolist() == [0] and unmet.tolist() == [True]
