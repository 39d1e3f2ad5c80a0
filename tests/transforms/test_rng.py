"""Reproducibility: seeds, generators, state_dict, DataLoader workers and DDP ranks."""

import io
import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.utils.data import DataLoader, Dataset, get_worker_info

from audiomix import (
    ManifoldMixup,
    RandomChoiceMix,
    SpectrogramCutMix,
    SpectrogramMixup,
    WaveformCutMix,
    WaveformMixup,
)
from audiomix.data import MixupDataset


def _batch(b=6, t=200, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, t, generator=g), torch.randint(5, (b,), generator=g)


def _draws(mixup, n=5, b=6, x=None):
    batch, labels = _batch(b)
    x = batch if x is None else x
    outs = []
    for _ in range(n):
        out, targets = mixup(x, labels)
        outs.append((out, targets, mixup.last_params.lam, mixup.last_params.perm))
    return outs


def _assert_same_draws(a, b):
    for da, db in zip(a, b, strict=True):
        for ta, tb in zip(da, db, strict=True):
            assert torch.equal(ta, tb)


def _differ(a, b):
    return any(
        not torch.equal(da[2], db[2]) or not torch.equal(da[3], db[3])
        for da, db in zip(a, b, strict=True)
    )


@pytest.mark.parametrize("cls", [WaveformMixup, SpectrogramMixup])
def test_same_seed_same_outputs(cls):
    def make(seed):
        return cls(alpha=0.4, num_classes=5, per_sample=True, p=0.8, generator=seed)

    x, labels = _batch()
    if cls is SpectrogramMixup:
        x = x.view(6, 8, 25) * 20 - 40  # dB-like values
    _assert_same_draws(_draws(make(3), x=x), _draws(make(3), x=x))
    assert _differ(_draws(make(3), x=x), _draws(make(4), x=x))


def test_generator_passed_in_is_used():
    g = torch.Generator().manual_seed(11)
    mixup = WaveformMixup(alpha=0.4, num_classes=5, generator=g)
    assert mixup.generator is g
    before = g.get_state()
    _draws(mixup, n=1)
    assert not torch.equal(before, g.get_state())  # the module drew from it
    # Same stream as an int seed of the same value.
    _assert_same_draws(
        _draws(
            WaveformMixup(alpha=0.4, num_classes=5, generator=torch.Generator().manual_seed(11))
        ),
        _draws(WaveformMixup(alpha=0.4, num_classes=5, generator=11)),
    )


def test_module_does_not_touch_global_rng():
    mixup = WaveformMixup(alpha=0.4, num_classes=5, generator=0, placement="random")
    state = torch.get_rng_state()
    x, labels = _batch()
    mixup(x, labels, torch.tensor([200, 10, 50, 200, 3, 120]))
    assert torch.equal(state, torch.get_rng_state())


def test_default_generator_is_seeded_from_torch_manual_seed():
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(123)
        a = _draws(WaveformMixup(alpha=0.4, num_classes=5))
        torch.manual_seed(123)
        b = _draws(WaveformMixup(alpha=0.4, num_classes=5))
        torch.rand(1)  # the program drew something: the next module gets another stream
        c = _draws(WaveformMixup(alpha=0.4, num_classes=5))
    _assert_same_draws(a, b)
    assert _differ(a, c)


def test_building_a_mixer_does_not_advance_the_global_rng():
    # A run with mixup and one without, same seed: the model built afterwards is the same.
    net, items = torch.nn.Linear(3, 5), [(torch.randn(10), 0)]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(7)
        WaveformMixup(alpha=0.4, num_classes=5)
        SpectrogramCutMix(num_classes=5)
        RandomChoiceMix([WaveformMixup(num_classes=5), WaveformCutMix(num_classes=5)])
        ManifoldMixup(net, ["input"], num_classes=5)
        MixupDataset(items, num_classes=5)
        with_mixers = torch.nn.Linear(4, 4).weight.detach().clone()
        torch.manual_seed(7)
        without = torch.nn.Linear(4, 4).weight.detach().clone()
    assert torch.equal(with_mixers, without)


def test_mixers_of_different_kinds_built_back_to_back_get_different_streams():
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(3)
        a = WaveformMixup(alpha=1.0, num_classes=5, per_sample=True)
        b = WaveformCutMix(alpha=1.0, num_classes=5, per_sample=True)
    assert not torch.equal(a.sample_params(16).perm, b.sample_params(16).perm)


@pytest.mark.parametrize("via_bytes", [False, True])
def test_state_dict_round_trip_restores_the_stream(via_bytes):
    mixup = WaveformMixup(alpha=0.4, num_classes=5, per_sample=True, generator=0)
    _draws(mixup, n=3)  # advance
    state = mixup.state_dict()
    if via_bytes:  # as a checkpoint would: torch.save / torch.load (weights_only by default)
        buf = io.BytesIO()
        torch.save(state, buf)
        buf.seek(0)
        state = torch.load(buf)
    expected = _draws(mixup, n=4)
    restored = WaveformMixup(alpha=0.4, num_classes=5, per_sample=True, generator=99)
    restored.load_state_dict(state)
    _assert_same_draws(_draws(restored, n=4), expected)
    # The saved state is a copy: drawing after saving did not change it.
    again = WaveformMixup(alpha=0.4, num_classes=5, per_sample=True, generator=7)
    again.load_state_dict(state)
    _assert_same_draws(_draws(again, n=4), expected)


# --- DataLoader workers ------------------------------------------------------------------------


class _MixingDataset(Dataset):
    """Each item mixes a fixed batch with the module: a mixup inside a worker."""

    def __init__(self, mixup, n=8):
        self.mixup = mixup
        self.n = n
        # 16 samples: an identity permutation (all weights 1, a repeated key) has odds 1/16!.
        self.x, self.labels = _batch(16, 64)

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        out, _ = self.mixup(self.x, self.labels)
        info = get_worker_info()
        return out, self.mixup.last_params.lam, -1 if info is None else info.id


def _epochs(mixup, n_epochs=2, num_workers=2, seed=0):
    loader = DataLoader(
        _MixingDataset(mixup),
        batch_size=None,
        num_workers=num_workers,
        generator=torch.Generator().manual_seed(seed),
    )
    return [[(out, lam, wid) for out, lam, wid in loader] for _ in range(n_epochs)]


def _key(item):
    return tuple(item[1].tolist())


@pytest.mark.parametrize("generator", [0, None])
def test_dataloader_workers_and_epochs_get_different_streams(generator):
    mixup = WaveformMixup(alpha=1.0, num_classes=5, per_sample=True, generator=generator)
    epoch1, epoch2 = _epochs(mixup)
    workers = {wid for _, _, wid in epoch1}
    assert workers == {0, 1}
    # Items are dealt to workers alternately: item 0 and item 1 are each worker's first draw.
    assert epoch1[0][2] != epoch1[1][2]
    assert _key(epoch1[0]) != _key(epoch1[1]), "two workers drew the same mix"
    assert not torch.equal(epoch1[0][0], epoch1[1][0])
    # Every draw is new: across workers and across epochs.
    keys = [_key(it) for it in epoch1 + epoch2]
    assert len(set(keys)) == len(keys)
    # The main process' module is untouched by the workers.
    assert mixup.last_params is None


def test_dataloader_streams_are_reproducible_for_a_seeded_loader():
    a = _epochs(WaveformMixup(alpha=1.0, num_classes=5, per_sample=True, generator=0), n_epochs=1)
    b = _epochs(WaveformMixup(alpha=1.0, num_classes=5, per_sample=True, generator=0), n_epochs=1)
    assert [_key(it) for it in a[0]] == [_key(it) for it in b[0]]


# --- DDP ---------------------------------------------------------------------------------------


def _ddp_worker(rank, world_size, init_file, out_dir):
    dist.init_process_group(
        "gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size
    )
    try:
        results = {}
        for per_rank in (True, False):
            mixup = WaveformMixup(
                alpha=1.0, num_classes=5, per_sample=True, generator=0, per_rank=per_rank
            )
            params = mixup.sample_params(32)
            results[per_rank] = torch.cat([params.lam, params.perm.float()])
        torch.manual_seed(5)  # the default generator derives from the global seed, same on all
        results["default"] = WaveformMixup(alpha=1.0, per_sample=True).sample_params(32).lam
        gathered = [torch.empty_like(results[True]) for _ in range(world_size)]
        dist.all_gather(gathered, results[True])  # the process group really works
        results["gathered"] = torch.stack(gathered)
        torch.save(results, os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_ddp_per_rank_streams(tmp_path):
    if not dist.is_available() or not dist.is_gloo_available():
        pytest.skip("torch.distributed with gloo is not available")
    init_file = tmp_path / "store"
    mp.spawn(_ddp_worker, args=(2, str(init_file), str(tmp_path)), nprocs=2, join=True)
    r0 = torch.load(tmp_path / "rank0.pt")
    r1 = torch.load(tmp_path / "rank1.pt")
    assert not torch.equal(r0[True], r1[True]), "per_rank=True: ranks drew the same mixes"
    assert torch.equal(r0[False], r1[False]), "per_rank=False: ranks must draw the same mixes"
    assert torch.equal(r0["default"], r1["default"])
    assert torch.equal(r0["gathered"][1], r1[True])


def test_pickle_round_trip_keeps_the_stream():
    # Spawn-started DataLoader workers receive the module pickled.
    import pickle

    mixup = WaveformMixup(alpha=0.4, num_classes=5, generator=0)
    _draws(mixup, n=2)
    clone = pickle.loads(pickle.dumps(mixup))
    _assert_same_draws(_draws(clone, n=3), _draws(mixup, n=3))
