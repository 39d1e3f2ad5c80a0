"""audiomix where training programs run it: eval mode, copies, pickles, worker start methods,
mapping items, schedules, and the slips users make."""

import copy
import functools
import multiprocessing as mp
import pickle

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader

import audiomix
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
from audiomix.data import MixCollate, MixupDataset, pad_collate
from audiomix.functional import prepare_targets

C = 4
START_METHODS = [m for m in ("fork", "spawn", "forkserver") if m in mp.get_all_start_methods()]


def _batch(b=6, t=400, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = 0.3 * torch.randn(b, t, generator=g)
    labels = torch.randint(C, (b,), generator=g)
    lengths = torch.randint(t // 2, t + 1, (b,), generator=g)
    lengths[0] = t
    return x, labels, lengths


def _waveform_mixers():
    return [
        WaveformMixup(alpha=1.0, num_classes=C, generator=0),
        WaveformCutMix(num_classes=C, fade=8, generator=0),
        SNRMix(num_classes=C, generator=0),
        BCMix(sample_rate=8000, num_classes=C, n_fft=64, generator=0),
        RandomChoiceMix(
            [WaveformMixup(num_classes=C, generator=1), WaveformCutMix(num_classes=C, generator=2)],
            generator=0,
        ),
        Chain(WaveformMixup(alpha=1.0, num_classes=C, generator=0)),
    ]


def _spectrogram_mixers():
    return [
        SpectrogramMixup(alpha=1.0, num_classes=C, generator=0),
        SpectrogramCutMix(num_classes=C, generator=0),
    ]


# -- 1. training-time only ------------------------------------------------------------------
@pytest.mark.parametrize("with_lengths", [False, True])
@pytest.mark.parametrize("index", range(8))
def test_mixers_in_eval_mode_return_their_input_and_unmixed_targets(index, with_lengths):
    mixers = _waveform_mixers() + _spectrogram_mixers()
    mixer = mixers[index]
    x, labels, lengths = _batch()
    if index >= len(_waveform_mixers()):
        x = torch.randn(6, 8, 50)
        lengths = torch.tensor([50, 40, 30, 50, 20, 45])
    args = (x, labels, lengths) if with_lengths else (x, labels)
    mixer.eval()
    out = mixer(*args)
    assert out[0] is x
    assert torch.equal(out[1], prepare_targets(labels, num_classes=C))
    if with_lengths:
        assert out[2] is lengths
    mixer.train()
    mixed = mixer(*args)
    assert not torch.equal(mixed[0], x) and not torch.equal(mixed[1], out[1])


def test_eval_mode_keeps_label_smoothing_and_multilabel():
    x, labels, _ = _batch()
    smooth = WaveformMixup(num_classes=C, label_smoothing=0.1, generator=0).eval()
    expected = prepare_targets(labels, num_classes=C, label_smoothing=0.1)
    assert torch.equal(smooth(x, labels)[1], expected)
    multi = torch.zeros(6, C).scatter_(1, labels[:, None], 1.0)
    ml = WaveformMixup(num_classes=C, multilabel=True, union=True, generator=0).eval()
    assert torch.equal(ml(x, multi)[1], multi)


def test_eval_mode_draws_nothing():
    x, labels, _ = _batch()
    mixer = WaveformMixup(num_classes=C, generator=0)
    state = mixer.generator.get_state()
    mixer.eval()(x, labels)
    assert torch.equal(mixer.generator.get_state(), state)


def test_one_chain_for_training_and_validation():
    chain = Chain(
        LogMelSpectrogram(sample_rate=8000, n_fft=128, hop_length=64, n_mels=16),
        SpectrogramMixup(alpha=1.0, num_classes=C, generator=0),
    )
    x, labels, lengths = _batch()
    train_x, train_y, _ = chain(x, labels, lengths)
    chain.eval()
    val_x, val_y, val_len = chain(x, labels, lengths)
    assert torch.equal(val_x, chain[0](x)) and torch.equal(
        val_y, prepare_targets(labels, num_classes=C)
    )
    assert not torch.equal(train_y, val_y)


def test_manifold_mixup_in_eval_mode_is_the_model():
    net = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, C))
    mm = ManifoldMixup(net, ["input", "0"], num_classes=C, generator=0).eval()
    x = torch.randn(6, 10)
    out, targets = mm(x, torch.arange(6) % C)
    assert torch.equal(out, net(x)) and torch.equal(targets.argmax(1), torch.arange(6) % C)


def test_mix_collate_and_mixup_dataset_switch_for_evaluation():
    items = [(torch.randn(100 + 10 * i), i % C) for i in range(8)]
    collate = MixCollate(WaveformMixup(alpha=1.0, num_classes=C, generator=0))
    assert collate.eval() is collate and not collate.training
    x, targets, lengths = collate(items)
    ref_x, ref_labels, ref_lengths = pad_collate(items)
    assert torch.equal(x, ref_x) and torch.equal(
        targets, prepare_targets(ref_labels, num_classes=C)
    )
    assert collate.mixer.training, "the switch must not leave the mixer in eval mode"
    assert not torch.equal(collate.train()(items)[1], targets)

    ds = MixupDataset(items, alpha=1.0, num_classes=C, generator=0).eval()
    for i in range(len(items)):
        clip, target = ds[i]
        assert torch.equal(clip, items[i][0]) and int(target.argmax()) == items[i][1]
    with pytest.raises(TypeError, match="`mode` must be a bool"):
        ds.train("no")


# -- 2. pickle, deepcopy, worker start methods --------------------------------------------
def _public_objects():
    net = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, C))
    items = [(torch.randn(50), 0), (torch.randn(60), 1)]
    return [
        *_waveform_mixers(),
        *_spectrogram_mixers(),
        ManifoldMixup(net, ["input", "0", "1"], num_classes=C, generator=0),
        MixCollate(WaveformMixup(num_classes=C, generator=0)),
        MixupDataset(items, num_classes=C, generator=0),
        LogMelSpectrogram(n_mels=16),
    ]


@pytest.mark.parametrize("how", ["pickle", "deepcopy"])
def test_public_objects_pickle_and_copy(how):
    for obj in _public_objects():
        clone = pickle.loads(pickle.dumps(obj)) if how == "pickle" else copy.deepcopy(obj)
        assert type(clone) is type(obj)
        if isinstance(obj, (audiomix.transforms.Mixer, Chain, RandomChoiceMix)):
            x, labels, _ = _batch()
            if isinstance(obj, (SpectrogramMixup, SpectrogramCutMix)):
                x = torch.randn(6, 8, 50)
            a, b = obj(x, labels), clone(x, labels)
            # Same stream state: the copy draws what the original draws, independently.
            assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_deep_copied_manifold_mixup_mixes_its_own_model():
    net = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, C))
    mm = ManifoldMixup(net, ["0"], alpha=1.0, num_classes=C, generator=0)
    ema = copy.deepcopy(mm)
    with torch.no_grad():
        for p in ema.model.parameters():
            p.mul_(0.5)
    x, labels = torch.randn(6, 10), torch.arange(6) % C
    out, _ = ema(x, labels)  # failed before: the copy's hooks pointed at the original
    assert ema.last_layer == "0" and mm.last_layer is None
    params = ema.last_params
    h = ema.model[0](x)
    lam = params.lam.view(-1, 1)
    expected = ema.model[2](ema.model[1](lam * h + (1 - lam) * h[params.perm]))
    torch.testing.assert_close(out, expected)
    averaged = torch.optim.swa_utils.AveragedModel(mm)
    averaged.update_parameters(mm)
    assert averaged(x, labels)[0].shape == (6, C)


class _Clips(torch.utils.data.Dataset):
    """Module level, so that spawn/forkserver workers can unpickle it."""

    def __init__(self, n=16):
        g = torch.Generator().manual_seed(0)
        self.items = [(0.3 * torch.randn(200 + 13 * i, generator=g), i % C) for i in range(n)]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


def _epochs(loader, n=2):
    return [[batch[1] for batch in loader] for _ in range(n)]


@pytest.mark.slow
@pytest.mark.parametrize("method", START_METHODS)
def test_mix_collate_in_workers_of_every_start_method(method):
    torch.set_num_threads(1)
    # A chain with the log-mel front end: Chain and LogMelSpectrogram travel to the workers too.
    chain = Chain(
        WaveformMixup(alpha=1.0, num_classes=C, generator=0),
        LogMelSpectrogram(sample_rate=8000, n_fft=128, hop_length=64, n_mels=16),
    )
    collate = MixCollate(chain)

    def loader(seed):
        return DataLoader(
            _Clips(),
            batch_size=4,
            num_workers=2,
            collate_fn=collate,
            multiprocessing_context=method,
            generator=torch.Generator().manual_seed(seed),
            persistent_workers=True,
        )

    specgram, _, frames = next(iter(loader(0)))
    assert specgram.shape[:2] == (4, 16) and int(frames.max()) <= specgram.shape[-1]
    first, again = _epochs(loader(0)), _epochs(loader(0))
    for a, b in zip(first, again, strict=True):
        assert all(torch.equal(u, v) for u, v in zip(a, b, strict=True)), "seeded loader repeats"
    epoch0, epoch1 = first
    assert any(not torch.equal(u, v) for u, v in zip(epoch0, epoch1, strict=True)), "epochs differ"
    # Batches 0 and 1 come from different workers: same items mod 4, different mixes.
    assert not torch.equal(epoch0[0], epoch0[1])


@pytest.mark.slow
@pytest.mark.parametrize("method", [m for m in START_METHODS if m == "spawn"])
def test_mixup_dataset_in_spawned_workers(method):
    torch.set_num_threads(1)
    ds = MixupDataset(_Clips(), alpha=1.0, num_classes=C, generator=0)
    loader = DataLoader(
        ds,
        batch_size=4,
        num_workers=2,
        collate_fn=pad_collate,
        multiprocessing_context=method,
        generator=torch.Generator().manual_seed(0),
        persistent_workers=True,
    )
    epoch0, epoch1 = _epochs(loader)
    assert all(t.shape == (4, C) for t in epoch0)
    assert any(not torch.equal(u, v) for u, v in zip(epoch0, epoch1, strict=True))


# -- 3. mapping items and NumPy clips ------------------------------------------------------
def _dict_items(n=6):
    rng = np.random.default_rng(0)
    return [
        {
            "input_values": rng.standard_normal(100 + 20 * i).astype(np.float32),
            "labels": i % C,
            "id": f"clip{i}",
        }
        for i in range(n)
    ]


def test_pad_collate_and_mix_collate_take_mapping_items():
    items = _dict_items()
    batch = pad_collate(items)
    assert sorted(batch) == ["id", "input_values", "labels", "lengths"]
    assert batch["input_values"].shape == (6, 200) and batch["lengths"].tolist()[:2] == [100, 120]
    assert batch["id"] == [f"clip{i}" for i in range(6)]
    mixer = WaveformMixup(alpha=1.0, num_classes=C, generator=0)
    mixed = MixCollate(mixer)(items)
    ref = WaveformMixup(alpha=1.0, num_classes=C, generator=0)
    x, targets, lengths = ref(batch["input_values"], batch["labels"], batch["lengths"])
    assert torch.equal(mixed["input_values"], x) and torch.equal(mixed["labels"], targets)
    assert torch.equal(mixed["lengths"], lengths) and mixed["id"] == batch["id"]


def test_mapping_keys_are_configurable_and_checked():
    items = [{"audio": torch.randn(50 + i), "y": i % C} for i in range(4)]
    out = MixCollate(WaveformMixup(num_classes=C, generator=0), input_key="audio", label_key="y")(
        items
    )
    assert out["audio"].shape == (4, 53) and out["y"].shape == (4, C)
    with pytest.raises(
        ValueError,
        match=r"`input_key`='input_values' is not a key of the items; they have \['audio', 'y'\]",
    ):
        pad_collate(items)
    with pytest.raises(ValueError, match=r"the collated batch has no `label_key`='labels'"):
        MixCollate(WaveformMixup(num_classes=C), input_key="audio")(items)
    with pytest.raises(ValueError, match=r"`batch\[1\]` has \['audio'\]"):
        pad_collate(
            [{"audio": torch.randn(5), "y": 0}, {"audio": torch.randn(5)}], input_key="audio"
        )


def test_mixup_dataset_takes_mapping_items_and_numpy():
    items = _dict_items()
    ds = MixupDataset(items, alpha=1.0, num_classes=C, return_info=True, generator=0)
    item = ds[2]
    assert sorted(item) == ["id", "input_values", "labels", "mix_info"]
    assert item["id"] == "clip2" and item["labels"].shape == (C,)
    partner, lam = item["mix_info"]["partner"], item["mix_info"]["lam"]
    assert partner != 2 and item["input_values"].shape[-1] == max(140, 100 + 20 * partner)
    assert float(item["labels"][2 % C]) >= min(lam, 1 - lam) - 1e-6
    batch = pad_collate([ds[i] for i in range(4)])
    assert batch["input_values"].shape[0] == 4 and batch["labels"].shape == (4, C)


# -- 4. schedules ---------------------------------------------------------------------------
def test_alpha_and_p_setters_are_validated():
    for obj in (
        WaveformMixup(num_classes=C),
        MixupDataset([(torch.randn(9), 0)], num_classes=C),
        ManifoldMixup(nn.Linear(3, C), ["input"], num_classes=C),
    ):
        obj.alpha, obj.p = 0.7, 0.25
        assert (obj.alpha, obj.p) == (0.7, 0.25)
        with pytest.raises(ValueError, match="`alpha` must be a finite number > 0"):
            obj.alpha = -1.0
        with pytest.raises(ValueError, match=r"`p` must be in \[0, 1\]"):
            obj.p = 1.5
        assert (obj.alpha, obj.p) == (0.7, 0.25)


def test_mixing_off_for_the_last_epochs_in_a_plain_loop():
    mixer = WaveformMixup(alpha=1.0, num_classes=C, generator=0)
    x, labels, _ = _batch()
    mixed_epochs = []
    for epoch in range(5):
        mixer.p = 1.0 if 1 <= epoch < 5 - 2 else 0.0  # warm-up 1 epoch, off for the last 2
        mixed, _ = mixer(x, labels)
        mixed_epochs.append(not torch.equal(mixed, x))
    assert mixed_epochs == [False, True, True, False, False]


@pytest.mark.slow
@pytest.mark.parametrize("method", START_METHODS)
def test_schedule_reaches_persistent_workers(method):
    torch.set_num_threads(1)
    # 64 clips: the share of mixed rows (about 0.75) is then far from the 0.5 threshold.
    collate = MixCollate(WaveformMixup(alpha=1.0, num_classes=C, generator=0))
    ds = MixupDataset(_Clips(64), alpha=1.0, num_classes=C, generator=0)
    loaders = [
        DataLoader(
            _Clips(64),
            batch_size=4,
            num_workers=2,
            collate_fn=collate,
            persistent_workers=True,
            multiprocessing_context=method,
        ),
        DataLoader(
            ds,
            batch_size=4,
            num_workers=2,
            collate_fn=pad_collate,
            persistent_workers=True,
            multiprocessing_context=method,
        ),
    ]

    def mixed_share(loader):
        rows = torch.cat([batch[1] for batch in loader])
        return float((rows.max(dim=1).values < 1).float().mean())

    for loader, schedule in zip(loaders, (collate.mixer, ds), strict=True):
        assert mixed_share(loader) > 0.5  # workers started, mixing
        schedule.p = 0.0  # in the main process, between epochs
        assert mixed_share(loader) == 0.0
        schedule.p, schedule.alpha = 1.0, 0.01  # λ near 0 or 1: barely mixed
        rows = torch.cat([batch[1] for batch in loader])
        assert float(rows.max(dim=1).values.mean()) > 0.9


# -- 5. guards for common slips and edge cases ---------------------------------------------
def test_spectrogram_mixers_refuse_a_waveform():
    for mixer in _spectrogram_mixers():
        with pytest.raises(
            ValueError,
            match=r"one frequency bin and 16000 frames looks like a \(batch, channels, time\) "
            r"waveform",
        ):
            mixer(torch.randn(4, 1, 16000), torch.arange(4))


@pytest.mark.parametrize(
    "cls", [WaveformMixup, SpectrogramMixup, WaveformCutMix, SpectrogramCutMix]
)
def test_constructor_options_are_keywords(cls):
    with pytest.raises(TypeError, match=r"takes from 1 to 3 positional arguments but 4 were given"):
        cls(0.4, 10, 0.5)
    assert cls(0.4, 10).alpha == 0.4  # alpha and num_classes may be positional


def test_mix_collate_refuses_unlabelled_clips():
    clips = [torch.randn(30), torch.randn(50)]
    with pytest.raises(ValueError, match="MixCollate needs labelled items"):
        MixCollate(WaveformMixup(num_classes=527))(clips)


def test_mixup_dataset_rejects_nan_and_inf():
    bad = [(torch.tensor([0.1, float("nan"), 0.2]), 0), (torch.randn(3), 1)]
    ds = MixupDataset(bad, num_classes=2, generator=0)
    with pytest.raises(ValueError, match=r"`dataset\[0\]\[0\]` contains NaN or Inf values"):
        ds[0]
    with pytest.raises(ValueError, match=r"`dataset\[0\]\[0\]` contains NaN or Inf values"):
        ds[1]  # as a partner too
    clean = MixupDataset(bad, num_classes=2, check_finite=False, p=0.0, generator=0)
    assert torch.isnan(clean[0][0]).any()


def test_manifold_mixup_rejects_an_empty_batch():
    mm = ManifoldMixup(nn.Linear(3, C), ["input"], num_classes=C)
    with pytest.raises(ValueError, match=r"`x` is an empty batch: shape \(0, 3\)"):
        mm(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long))


def test_state_dict_names_on_mixup_dataset():
    ds = MixupDataset(_Clips(), num_classes=C, generator=0)
    state = ds.state_dict()
    first = ds[0]
    ds.load_state_dict(state)
    assert torch.equal(ds[0][0], first[0])


def test_partial_pad_collate_still_pickles():
    collate = MixCollate(
        WaveformMixup(num_classes=C), collate_fn=functools.partial(pad_collate, multiple_of=8)
    )
    clone = pickle.loads(pickle.dumps(collate))
    assert clone(_Clips().items[:4])[0].shape[-1] % 8 == 0


def test_degenerate_setting_warnings_point_at_the_callers_line():
    for build in (
        lambda: WaveformMixup(p=0.0),
        lambda: SNRMix(p=0.0),
        lambda: MixupDataset(_Clips(2), num_classes=C, p=0.0),
    ):
        with pytest.warns(UserWarning, match="p=0 never mixes") as record:
            build()
        assert record[0].filename == __file__
