"""Schedules on every object a user hands to a DataLoader: alpha and p reach the mixing.

A mixer, a Chain, a RandomChoiceMix and a MixupDataset all take ``x.p = 0.0`` and
``x.alpha = ...`` (or refuse it with a clear error), and the change reaches DataLoader workers
that are already running.
"""

import multiprocessing as mp

import pytest
import torch
import torchaudio.transforms as T
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
from audiomix.data import MixCollate, MixupDataset
from tests._helpers import labels, noise

C = 4
START_METHODS = [m for m in ("fork", "spawn") if m in mp.get_all_start_methods()]


def _switch():
    return RandomChoiceMix(
        {
            "mixup": WaveformMixup(alpha=0.8, num_classes=C, generator=1),
            "cutmix": WaveformCutMix(alpha=1.0, num_classes=C, generator=2),
            "snr": SNRMix(snr_db=(0.0, 5.0), num_classes=C, generator=3),
        },
        generator=0,
    )


def _chain():
    return Chain(
        LogMelSpectrogram(n_mels=16, n_fft=256, hop_length=128),
        Chain(SpectrogramMixup(alpha=0.5, num_classes=C, generator=4)),
        T.FrequencyMasking(2),
        SpectrogramCutMix(alpha=0.5, num_classes=C, generator=5),
    )


def _containers():
    return {"chain": _chain(), "switch": _switch()}


@pytest.mark.parametrize("name", ["chain", "switch"])
def test_p_zero_on_a_container_stops_every_mixer(name):
    container = _containers()[name]
    x, y = noise(6, 4000, scale=1.0), labels(6, C, seed=1)
    container.p = 0.0
    assert container.p == 0.0
    for _ in range(4):
        out, targets = container(x, y)
        assert torch.equal(targets, torch.nn.functional.one_hot(y, C).float())
    container.p = 1.0
    out, targets = container(x, y)
    assert (targets.amax(dim=1) < 1).any()


def test_alpha_on_a_container_sets_the_mixers_that_draw_lambda():
    switch = _switch()
    switch.alpha = 0.3
    assert switch.alpha == 0.3
    assert [m.alpha for m in switch.transforms] == [0.3, 0.3, None]  # SNRMix draws SNRs
    chain = _chain()
    chain.alpha = 2.0
    assert chain[1][0].alpha == 2.0 and chain[3].alpha == 2.0  # nested chains too


def test_container_schedule_errors_name_the_problem():
    switch = _switch()
    switch.transforms[0].p = 0.5
    with pytest.raises(ValueError, match="the mixers of this RandomChoiceMix have different `p`"):
        _ = switch.p
    with pytest.raises(ValueError, match=r"`p` must be in \[0, 1\], but got 2.0"):
        switch.p = 2.0
    with pytest.raises(ValueError, match="`alpha` must be a finite number > 0"):
        _chain().alpha = -1.0
    snr_only = RandomChoiceMix([SNRMix(num_classes=C, generator=0)], generator=0)
    with pytest.raises(AttributeError, match="no mixer of this RandomChoiceMix draws λ"):
        snr_only.alpha = 0.4
    with pytest.raises(AttributeError, match="Chain holds no mixer with `p` to set"):
        Chain(T.FrequencyMasking(2)).p = 0.0
    with pytest.raises(AttributeError, match="SNRMix draws no λ ~ Beta"):
        SNRMix(num_classes=C).alpha = 0.2


def test_manifold_and_dataset_forward_to_their_mixer():
    mm = ManifoldMixup(torch.nn.Linear(8, C), ["input"], num_classes=C, generator=0)
    mm.p, mm.alpha = 0.25, 0.7
    assert (mm.mixer.p, mm.mixer.alpha) == (0.25, 0.7)
    ds = MixupDataset([(torch.randn(50), i % C) for i in range(4)], num_classes=C, generator=0)
    ds.p = 0.0
    assert ds.mixer.p == 0.0 and all(ds[i][1].max() == 1 for i in range(4))
    bc = MixupDataset(ds.dataset, BCMix(sample_rate=8000, num_classes=C, generator=0))
    bc.alpha = 3.0
    assert bc.mixer.alpha == 3.0


class _Clips(torch.utils.data.Dataset):
    """Module level, so that spawn workers can unpickle it."""

    def __init__(self, n=32):
        g = torch.Generator().manual_seed(0)
        self.items = [(0.3 * torch.randn(300 + 11 * i, generator=g), i % C) for i in range(n)]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


@pytest.mark.slow
@pytest.mark.parametrize("method", START_METHODS)
@pytest.mark.parametrize("name", ["chain", "switch"])
def test_container_schedule_reaches_persistent_workers(method, name):
    torch.set_num_threads(1)
    container = _containers()[name]
    collate = MixCollate(container)
    loader = DataLoader(
        _Clips(),
        batch_size=8,
        num_workers=2,
        collate_fn=collate,
        persistent_workers=True,
        multiprocessing_context=method,
    )

    def mixed_share():
        rows = torch.cat([batch[1] for batch in loader])
        return float((rows.max(dim=1).values < 1).float().mean())

    assert mixed_share() > 0.3  # workers started, mixing
    collate.mixer.p = 0.0  # in the main process, between epochs
    assert mixed_share() == 0.0
