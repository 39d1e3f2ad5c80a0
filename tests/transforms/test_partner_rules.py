"""Partner rules on every mixer: partners obey the rule, rows the batch cannot pair stay
exactly unmixed and are reported, and the draws repeat per worker in real DataLoaders."""

import multiprocessing as mp

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader

from audiomix import (
    BCMix,
    Chain,
    LogMelSpectrogram,
    ManifoldMixup,
    RandomChoiceMix,
    SNRMix,
    SpectrogramCutMix,
    SpectrogramMixup,
    WaveformCutMix,
    WaveformMixup,
)
from audiomix.data import MixCollate
from audiomix.functional import ChoiceParams, mix_targets, prepare_targets
from tests._helpers import generator as _gen

C = 4
START_METHODS = [m for m in ("fork", "spawn") if m in mp.get_all_start_methods()]

# name -> (factory(**kwargs), input shape without batch)
MIXERS = {
    "waveform-mixup": (lambda **k: WaveformMixup(alpha=1.0, num_classes=C, **k), (400,)),
    "spectrogram-mixup": (lambda **k: SpectrogramMixup(alpha=1.0, num_classes=C, **k), (8, 30)),
    "spectrogram-cutmix": (lambda **k: SpectrogramCutMix(num_classes=C, **k), (8, 30)),
    "waveform-cutmix": (lambda **k: WaveformCutMix(num_classes=C, **k), (2, 400)),
    "snr": (lambda **k: SNRMix(snr_db=(-5.0, 5.0), num_classes=C, **k), (400,)),
    "bc": (lambda **k: BCMix(sample_rate=8000, num_classes=C, **k), (400,)),
    "random-choice": (
        lambda generator=None, **k: RandomChoiceMix(
            [
                SpectrogramMixup(alpha=1.0, num_classes=C, generator=1, **k),
                SpectrogramCutMix(num_classes=C, generator=2, **k),
            ],
            generator=generator,
        ),
        (8, 30),
    ),
}

OTHER = torch.tensor([0, 0, 0, 1, 1, 2])  # every row has a partner of another class
SAME = torch.tensor([0, 0, 1, 2, 2, 3])  # rows 2 and 5 are alone in their class


def _batch(shape, b=6, seed=0):
    return torch.randn(b, *shape, generator=_gen(seed))


@pytest.mark.parametrize("name", list(MIXERS))
@pytest.mark.parametrize("rule, labels", [("other_class", OTHER), ("same_class", SAME)])
def test_every_mixer_obeys_the_rule_and_leaves_unmet_rows_exact(name, rule, labels):
    factory, shape = MIXERS[name]
    mixer = factory(partner=rule, per_sample=True, generator=0)
    x = _batch(shape)
    x_before = x.clone()
    expected_unmet = torch.tensor([False, False, True, False, False, True])
    if rule == "other_class":
        expected_unmet = torch.zeros(6, dtype=torch.bool)
    for _ in range(5):
        out, targets = mixer(x, labels)
        p = mixer.last_params
        if name == "random-choice":
            assert isinstance(p, ChoiceParams) and torch.equal(p.unmet, p.member.unmet)
        assert torch.equal(p.unmet, expected_unmet)
        mixed = p.applied & (p.perm != torch.arange(6))
        assert torch.equal(mixed, ~expected_unmet)  # p = 1: every pairable row is mixed
        share = labels[p.perm] == labels
        assert (share[mixed] if rule == "same_class" else ~share[mixed]).all()
        # Unmet rows: the input exactly, their own one-hot target, weight 1.
        assert torch.equal(out[expected_unmet], x[expected_unmet])
        own = prepare_targets(labels, num_classes=C)
        assert torch.equal(targets[expected_unmet], own[expected_unmet])
        assert (p.lam[expected_unmet] == 1).all()
        torch.testing.assert_close(targets, mix_targets(labels, p.lam, p.perm, num_classes=C))
    assert torch.equal(x, x_before)


def test_multilabel_mixer_pairs_disjoint_label_sets_and_unions_them():
    sets = torch.tensor([[1, 0, 0, 0], [1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 0, 1]]).float()
    mixer = WaveformMixup(
        alpha=1.0, num_classes=C, multilabel=True, union=True, partner="other_class", generator=0
    )
    x = _batch((400,), b=4)
    for _ in range(10):
        _, targets = mixer(x, sets)
        p = mixer.last_params
        assert not ((sets > 0) & (sets[p.perm] > 0)).any(dim=1)[p.applied].any()
        assert torch.equal(targets, torch.maximum(sets, sets[p.perm]))


def test_manifold_mixup_obeys_the_rule_and_leaves_unmet_rows_alone():
    net = nn.Sequential(nn.Linear(10, 16), nn.Tanh(), nn.Linear(16, C))
    mm = ManifoldMixup(net, ["0"], num_classes=C, partner="same_class", generator=0)
    x = torch.randn(6, 10, generator=_gen(1))
    with torch.no_grad():
        clean = net(x)
        for _ in range(5):
            out, targets = mm(x, SAME)
            p = mm.last_params
            assert p.unmet.tolist() == [False, False, True, False, False, True]
            assert (SAME[p.perm] == SAME).all()
            torch.testing.assert_close(out[p.unmet], clean[p.unmet], rtol=0, atol=1e-6)
            assert torch.equal(targets[p.unmet], prepare_targets(SAME, num_classes=C)[p.unmet])


def test_a_chain_passes_the_labels_to_its_mixer():
    chain = Chain(
        LogMelSpectrogram(sample_rate=8000, n_fft=64, hop_length=32, n_mels=8),
        SpectrogramMixup(alpha=1.0, num_classes=C, partner="other_class", generator=0),
    )
    x = _batch((400,))
    _, targets = chain(x, OTHER)
    # Two classes in every row: each sample got a partner of another class.
    assert ((targets > 0).sum(dim=1) == 2).all()


def test_a_rule_without_labels_is_an_error():
    with pytest.raises(ValueError, match="`partner`='other_class' needs `labels`"):
        WaveformMixup(partner="other_class")(torch.randn(4, 100))
    with pytest.raises(ValueError, match="`partner` must be one of"):
        WaveformMixup(partner="class_balanced")


class _Clips(torch.utils.data.Dataset):
    """Items 0-7 equal items 8-15, two per class in each half; module level for spawn."""

    def __init__(self):
        g = _gen(0)
        base = [(0.3 * torch.randn(300, generator=g), i % C) for i in range(8)]
        self.items = base + base

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


def _run(method, seed):
    mixer = WaveformMixup(
        alpha=1.0, num_classes=C, per_sample=True, partner="other_class", generator=0
    )
    loader = DataLoader(
        _Clips(),
        batch_size=8,
        num_workers=2,
        collate_fn=MixCollate(mixer),
        multiprocessing_context=method,
        generator=_gen(seed),
        persistent_workers=True,  # spawn starts the workers once, not once per epoch
    )
    return [[(x, t) for x, t, _ in loader] for _ in range(2)]


def _check_loader(method):
    torch.set_num_threads(1)
    first = _run(method, 5)
    for epoch in first:
        for _, targets in epoch:
            # Every row is mixed with another class: two classes in each target.
            assert ((targets > 0).sum(dim=1) == 2).all()
    (a0, a1), (b0, _) = first
    assert not torch.equal(a0[1], a1[1])  # the two workers draw differently (same items)
    assert not torch.equal(a0[1], b0[1])  # so do the epochs
    again = _run(method, 5)
    for e, f in zip(first, again, strict=True):
        for (x, t), (y, u) in zip(e, f, strict=True):
            assert torch.equal(x, y) and torch.equal(t, u)  # a seeded loader repeats


@pytest.mark.skipif("fork" not in START_METHODS, reason="no fork on this platform")
def test_partner_rules_in_forked_workers():
    _check_loader("fork")


@pytest.mark.slow
@pytest.mark.parametrize("method", [m for m in START_METHODS if m != "fork"])
def test_partner_rules_in_spawned_workers(method):
    _check_loader(method)
