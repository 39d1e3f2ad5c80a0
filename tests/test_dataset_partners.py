"""MixupDataset's partner rules across the dataset: any, other class, same class, class-balanced;
uniform among the allowed items, unmet items reported and left unmixed, in DataLoader workers."""

import multiprocessing as mp

import numpy as np
import pytest
import scipy.stats
import torch
from torch.utils.data import DataLoader

from audiomix import WaveformMixup
from audiomix.data import MixupDataset, pad_collate
from audiomix.data._partners import ItemClasses
from audiomix.functional import prepare_targets
from tests._helpers import generator as _gen

C = 4
LABELS = [0, 0, 0, 1, 1, 2, 2, 2, 2, 3]  # class 3 has one item
START_METHODS = [m for m in ("fork", "spawn") if m in mp.get_all_start_methods()]


def _items(labels=LABELS, seed=0):
    g = _gen(seed)
    return [(0.3 * torch.randn(120 + 10 * i, generator=g), y) for i, y in enumerate(labels)]


def _expected(labels, rule, i):
    """Each item's probability of being the partner of ``i``, written out from the rule."""
    n = len(labels)
    sets = [set(y) if isinstance(y, (list, tuple)) else {y} for y in labels]
    p = np.zeros(n)
    others = [j for j in range(n) if j != i]
    if rule == "any":
        p[others] = 1 / len(others)
    elif rule in ("other_class", "same_class"):
        share = rule == "same_class"
        ok = [j for j in others if bool(sets[i] & sets[j]) == share]
        if ok:
            p[ok] = 1 / len(ok)
    else:  # class_balanced: a class with an item other than i, then one of its items
        classes = sorted({c for s in sets for c in s})
        members = {c: [j for j in others if c in sets[j]] for c in classes}
        candidates = [c for c in classes if members[c]]
        for c in candidates:
            for j in members[c]:
                p[j] += 1 / len(candidates) / len(members[c])
    return p


MULTI = [[0], [0, 1], [1], [2], [2, 3], [3], [1, 2]]


def _multi_hot(sets):
    out = torch.zeros(len(sets), C)
    for i, s in enumerate(sets):
        out[i, s] = 1.0
    return out


@pytest.mark.parametrize("rule", ["any", "other_class", "same_class", "class_balanced"])
@pytest.mark.parametrize("case", ["indices", "multi-hot"])
def test_partners_follow_the_rule_s_distribution(rule, case):
    # 600 draws per item at a fixed seed, chi-square against the rule's distribution.
    labels, table = (
        (LABELS, ItemClasses(LABELS, len(LABELS), multilabel=False))
        if case == "indices"
        else (MULTI, ItemClasses(_multi_hot(MULTI), len(MULTI), multilabel=True))
    )
    g = _gen(0)
    draws = 600
    for i in range(len(labels)):
        expected = _expected(labels, rule, i)
        got = [table.draw(i, rule, g) for _ in range(draws)]
        if expected.sum() == 0:
            assert got == [None] * draws
            continue
        counts = np.bincount(got, minlength=len(labels))
        assert counts[expected == 0].sum() == 0, (i, counts)
        support = expected > 0
        if support.sum() > 1:
            result = scipy.stats.chisquare(counts[support], expected[support] * draws)
            assert result.pvalue > 1e-3, (rule, i, counts, expected)


def test_class_balanced_draws_classes_uniformly_not_items():
    # Class 2 holds 4 items and class 3 one: balanced partners reach class 3 as often as 2.
    table = ItemClasses(LABELS, len(LABELS), multilabel=False)
    g = _gen(1)
    got = torch.tensor([table.draw(0, "class_balanced", g) for _ in range(1000)])
    per_class = torch.bincount(torch.tensor(LABELS)[got], minlength=C).double() / 1000
    torch.testing.assert_close(
        per_class, torch.full((C,), 0.25, dtype=torch.float64), atol=0.04, rtol=0
    )


@pytest.mark.parametrize("rule", ["other_class", "same_class", "class_balanced"])
def test_mixed_items_obey_the_rule(rule):
    ds = MixupDataset(
        _items(), alpha=1.0, num_classes=C, partner=rule, labels=LABELS, return_info=True,
        generator=0,
    )  # fmt: skip
    for _ in range(3):
        for i in range(len(LABELS)):
            x, target, info = ds[i]
            j = info["partner"]
            if info["unmet"]:
                continue
            assert j != i
            if rule == "other_class":
                assert LABELS[j] != LABELS[i]
            if rule == "same_class":
                assert LABELS[j] == LABELS[i]
            own, other = prepare_targets(torch.tensor([LABELS[i], LABELS[j]]), num_classes=C)
            torch.testing.assert_close(target, info["lam"] * own + (1 - info["lam"]) * other)


def test_an_item_the_rule_cannot_pair_is_left_exactly_unmixed_and_reported():
    items = _items()
    ds = MixupDataset(
        items, alpha=1.0, num_classes=C, partner="same_class", labels=LABELS, return_info=True,
        generator=0,
    )  # fmt: skip
    x, target, info = ds[9]  # the only item of class 3
    assert info == {"partner": 9, "lam": 1.0, "unmet": True}
    assert torch.equal(x, items[9][0]) and target.tolist() == [0.0, 0.0, 0.0, 1.0]
    # An item the coin leaves alone is not reported: the rule was not asked.
    with pytest.warns(UserWarning, match="never mixes"):
        quiet = MixupDataset(
            items, p=0.0, num_classes=C, partner="same_class", labels=LABELS, return_info=True
        )
    assert quiet[9][2]["unmet"] is False
    # Mapping items carry the report in their mix_info.
    dicts = [{"input_values": w, "labels": y, "id": k} for k, (w, y) in enumerate(items)]
    mapped = MixupDataset(
        dicts, num_classes=C, partner="same_class", labels=LABELS, return_info=True, generator=0
    )
    out = mapped[9]
    assert out["mix_info"]["unmet"] and out["id"] == 9


def test_multilabel_other_class_pairs_disjoint_sets():
    hot = _multi_hot(MULTI)
    items = [(0.3 * torch.randn(100, generator=_gen(i)), hot[i]) for i in range(len(MULTI))]
    ds = MixupDataset(
        items, multilabel=True, union=True, partner="other_class", labels=hot,
        return_info=True, generator=0,
    )  # fmt: skip
    for _ in range(5):
        for i in range(len(MULTI)):
            _, target, info = ds[i]
            j = info["partner"]
            assert not set(MULTI[i]) & set(MULTI[j])
            assert torch.equal(target, torch.maximum(hot[i], hot[j]))


def test_labels_in_every_layout_give_the_same_partners():
    items = _items()
    layouts = [
        LABELS,
        torch.tensor(LABELS),
        np.array(LABELS),
        [torch.tensor(y) for y in LABELS],
        torch.nn.functional.one_hot(torch.tensor(LABELS), C).float(),
    ]
    runs = []
    for labels in layouts:
        ds = MixupDataset(
            items, num_classes=C, partner="other_class", labels=labels, return_info=True,
            generator=3,
        )  # fmt: skip
        runs.append([ds[i][2]["partner"] for i in range(len(LABELS))])
    assert all(r == runs[0] for r in runs)


def test_partner_rule_errors():
    items = _items()
    with pytest.raises(ValueError, match="`partner`='other_class' needs the class of every item"):
        MixupDataset(items, num_classes=C, partner="other_class")
    with pytest.raises(ValueError, match="`partner` must be one of"):
        MixupDataset(items, num_classes=C, partner="balanced", labels=LABELS)
    with pytest.raises(ValueError, match=r"`labels` must have one label per item of `dataset`: 3"):
        MixupDataset(items, num_classes=C, partner="same_class", labels=[0, 1, 2])
    with pytest.raises(TypeError, match="`labels` must be a sequence of per-item labels"):
        MixupDataset(items, num_classes=C, partner="same_class", labels=5)
    with pytest.raises(ValueError, match=r"`labels\[2\]` must be a class index >= 0, but got -1"):
        MixupDataset(items, num_classes=C, partner="same_class", labels=[0, 1, -1] + [0] * 7)
    with pytest.raises(ValueError, match="`labels` must be class indices >= 0, but got -2"):
        MixupDataset(items, num_classes=C, partner="same_class", labels=torch.tensor([-2] * 10))
    with pytest.raises(TypeError, match=r"`labels\[0\]` must be a class index or a target"):
        MixupDataset(items, num_classes=C, partner="same_class", labels=["yes"] * 10)
    with pytest.raises(TypeError, match=r"`labels\[0\]` must be an integer class index"):
        MixupDataset(items, num_classes=C, partner="same_class", labels=[torch.tensor(1.5)] * 10)
    with pytest.raises(ValueError, match="`mixer` has `partner`='other_class', but MixupDataset"):
        MixupDataset(items, WaveformMixup(num_classes=C, partner="other_class"))
    shuffled = LABELS[1:] + LABELS[:1]
    ds = MixupDataset(items, num_classes=C, partner="other_class", labels=shuffled, generator=0)
    with pytest.raises(ValueError, match=r"`labels\[2\]` lists classes \[1\], but dataset\[2\]"):
        ds[2]


def test_state_dict_resumes_the_same_partners():
    ds = MixupDataset(
        _items(), num_classes=C, partner="class_balanced", labels=LABELS, return_info=True,
        generator=0,
    )  # fmt: skip
    ds[0]
    state = ds.state_dict()
    first = [ds[i][2]["partner"] for i in range(10)]
    ds.load_state_dict(state)
    assert [ds[i][2]["partner"] for i in range(10)] == first


def _loader(method, seed, rule):
    ds = MixupDataset(
        _items(LABELS * 2), alpha=1.0, num_classes=C, partner=rule, labels=LABELS * 2,
        return_info=True, generator=0,
    )  # fmt: skip
    loader = DataLoader(
        ds,
        batch_size=10,
        num_workers=2,
        collate_fn=pad_collate,
        multiprocessing_context=method,
        generator=_gen(seed),
        persistent_workers=True,
    )
    return [[(info["partner"], info["unmet"], t) for _, t, info, _ in loader] for _ in range(2)]


def _check_workers(method):
    torch.set_num_threads(1)
    labels = torch.tensor(LABELS * 2)
    first = _loader(method, 3, "other_class")
    for epoch in first:
        for b, (partner, unmet, _) in enumerate(epoch):
            own = labels[b * 10 : (b + 1) * 10]
            assert (labels[partner] != own).all() and not unmet.any()
    (a0, a1), (b0, _) = first
    assert not torch.equal(a0[0], a1[0])  # workers see the same labels, draw differently
    assert not torch.equal(a0[0], b0[0])  # epochs differ
    again = _loader(method, 3, "other_class")
    for e, f in zip(first, again, strict=True):
        for u, v in zip(e, f, strict=True):
            assert all(torch.equal(s, t) for s, t in zip(u, v, strict=True))


@pytest.mark.skipif("fork" not in START_METHODS, reason="no fork on this platform")
def test_dataset_rules_in_forked_workers():
    _check_workers("fork")


@pytest.mark.slow
@pytest.mark.parametrize("method", [m for m in START_METHODS if m != "fork"])
def test_dataset_rules_in_spawned_workers(method):
    _check_workers(method)


def test_frame_targets_of_different_lengths_list_the_classes_active_anywhere():
    frames = [torch.zeros(5, C), torch.zeros(8, C), torch.zeros(3, C), torch.zeros(6, C)]
    frames[0][1:3, 0] = 1.0
    frames[1][6, 0] = 0.5  # class 0, late: shares it with item 0
    frames[2][:, 2] = 1.0
    # item 3 is silent: no class, so it shares none with anyone
    table = ItemClasses(frames, 4, multilabel=True)
    assert [table.classes(i).tolist() for i in range(4)] == [[0], [0], [2], []]
    g = _gen(0)
    assert {table.draw(0, "same_class", g) for _ in range(20)} == {1}
    assert table.draw(3, "same_class", g) is None
    assert {table.draw(3, "other_class", g) for _ in range(50)} == {0, 1, 2}
    assert table.agrees(1, frames[1]) and not table.agrees(2, frames[0])
