"""audiomix.data: pad_collate, MixCollate and MixupDataset, in DataLoader workers."""

import functools

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from audiomix import SpectrogramCutMix, WaveformMixup
from audiomix.data import MixCollate, MixupDataset, pad_collate
from audiomix.functional import (
    mix,
    pad_batch,
    prepare_targets,
    sample_lambda,
    sample_offsets,
)
from tests._helpers import generator as _gen

C = 4


def _items(n=8, repeat=None, seed=0):
    """(waveform, label) items of different lengths; with ``repeat``, item i equals i % repeat."""
    g = _gen(seed)
    base = [(0.3 * torch.randn(200 + 37 * i, generator=g), i % C) for i in range(repeat or n)]
    return [base[i % len(base)] for i in range(n)]


def _lightning_like_init(worker_id):
    # What seed_everything(workers=True) does (Lightning#20412): the worker's global RNG is
    # reseeded from a fixed seed and the worker id, the same every epoch.
    torch.manual_seed(1234 + worker_id)
    np.random.seed(1234 + worker_id)


def _epochs(loader, n=2):
    return [[tuple(t.clone() for t in batch) for batch in loader] for _ in range(n)]


def _same(a, b):
    return all(torch.equal(u, v) for u, v in zip(a, b, strict=True))


# --------------------------------------------------------------------------- pad_collate


def test_pad_collate_tuples_bare_and_channels():
    items = _items(3)
    x, labels, lengths = pad_collate(items)
    assert (
        x.shape == (3, 274) and labels.tolist() == [0, 1, 2] and lengths.tolist() == [200, 237, 274]
    )
    for i, (w, _) in enumerate(items):
        assert torch.equal(x[i, : w.numel()], w) and not x[i, w.numel() :].any()
    x, lengths = pad_collate([torch.ones(2, 5), torch.ones(2, 3)])
    assert x.shape == (2, 2, 5) and lengths.tolist() == [5, 3]
    x, labels, meta, lengths = functools.partial(pad_collate, pad_value=-1.0, multiple_of=8)(
        [(np.ones(3, dtype=np.float32), 1, "a"), (np.ones(5, dtype=np.float32), 0, "b")]
    )
    assert x.shape == (2, 8) and x[0, 3] == -1.0 and meta == ["a", "b"]


def test_pad_collate_errors():
    with pytest.raises(ValueError, match="`batch` must be a non-empty list of items"):
        pad_collate([])
    with pytest.raises(ValueError, match=r"`batch\[1\]` is tuple of length 3"):
        pad_collate([(torch.ones(3), 0), (torch.ones(3), 0, 1)])
    with pytest.raises(TypeError, match=r"`batch\[0\]\[0\]` must be a waveform tensor"):
        pad_collate([(object(), 0)])
    with pytest.raises(ValueError, match=r"`clips` must share every dimension but time"):
        pad_collate([torch.ones(1, 3), torch.ones(2, 3)])


# --------------------------------------------------------------------------- MixCollate


def test_mix_collate_mixes_the_padded_batch():
    mixer = WaveformMixup(alpha=0.4, num_classes=C, generator=0)
    items = _items(4)
    x, targets, lengths = MixCollate(mixer)(items)
    ref = WaveformMixup(alpha=0.4, num_classes=C, generator=0)
    px, py, pl = pad_collate(items)
    rx, rt, rl = ref(px, py, pl)
    assert torch.equal(x, rx) and torch.equal(targets, rt) and torch.equal(lengths, rl)
    with pytest.raises(
        ValueError,
        match=r"`collate_fn` must return \(x, labels\), \(x, labels, lengths\), "
        r"\(x, labels, \*extras, lengths\) or a mapping, but returned Tensor\.",
    ):
        MixCollate(mixer, collate_fn=lambda b: torch.stack([w[:200] for w, _ in b]))(items)
    with pytest.raises(TypeError, match="`mixer` must be a mixing module"):
        MixCollate("mixup")


def _tagged(items):
    """(waveform, label, speaker, utterance id, metadata) items."""
    return [
        (w, y, f"spk{i % 3}", torch.tensor(100 + i), {"gain": float(i)})
        for i, (w, y) in enumerate(items)
    ]


@pytest.mark.parametrize("width", [2, 3, 5])
@pytest.mark.parametrize("numpy", [False, True])
def test_mix_collate_keeps_the_extra_fields_of_tuple_items(width, numpy):
    items = [item[:width] for item in _tagged(_items(6))]
    if numpy:
        items = [(w.numpy(), *rest) for w, *rest in items]
    padded = pad_collate(items)
    mixed = MixCollate(WaveformMixup(alpha=1.0, num_classes=C, generator=0))(items)
    ref_x, ref_targets, ref_lengths = WaveformMixup(alpha=1.0, num_classes=C, generator=0)(
        padded[0], padded[1], padded[-1]
    )
    # The layout of pad_collate: (x, labels, *extras, lengths), the labels mixed into targets.
    assert len(mixed) == len(padded) == width + 1
    assert torch.equal(mixed[0], ref_x) and not torch.equal(mixed[0], padded[0])
    assert torch.equal(mixed[1], ref_targets) and torch.equal(mixed[-1], ref_lengths)
    if width >= 3:
        assert mixed[2] == padded[2] == ["spk0", "spk1", "spk2", "spk0", "spk1", "spk2"]
    if width == 5:
        speakers, ids, meta = mixed[2:5]
        assert speakers == ["spk0", "spk1", "spk2", "spk0", "spk1", "spk2"]
        assert ids.tolist() == list(range(100, 106))
        assert meta["gain"].tolist() == [float(i) for i in range(6)]
    clean = MixCollate(WaveformMixup(alpha=1.0, num_classes=C, generator=0)).eval()(items)
    assert torch.equal(clean[0], padded[0]) and torch.equal(clean[-1], padded[-1])
    assert clean[1].argmax(1).tolist() == padded[1].tolist()


def test_mix_collate_extra_fields_in_workers_and_from_a_custom_collate():
    torch.set_num_threads(1)
    items = _tagged(_items(8))
    loader = DataLoader(
        items,
        batch_size=4,
        num_workers=2,
        collate_fn=MixCollate(WaveformMixup(alpha=1.0, num_classes=C, generator=0)),
    )
    seen = []
    for x, targets, speakers, ids, meta, lengths in loader:
        assert x.shape[0] == targets.shape[0] == lengths.shape[0] == 4
        seen += ids.tolist()
        assert speakers == [f"spk{(i - 100) % 3}" for i in ids.tolist()]
        assert meta["gain"].tolist() == [float(i - 100) for i in ids.tolist()]
    assert seen == list(range(100, 108))
    custom = MixCollate(
        WaveformMixup(num_classes=C, generator=0),
        collate_fn=functools.partial(pad_collate, multiple_of=64),
    )
    x, _, speakers, _, _, lengths = custom(items[:4])
    assert x.shape[-1] % 64 == 0 and speakers[:2] == ["spk0", "spk1"]


def test_mix_collate_refuses_unlabelled_items_without_blaming_a_collate_fn():
    for items, found in (
        ([torch.ones(5), torch.ones(3)], "a bare Tensor"),
        ([(torch.ones(5),), (torch.ones(3),)], r"a tuple of 1 element\(s\)"),
    ):
        with pytest.raises(
            ValueError,
            match=r"MixCollate needs labelled items, \(waveform, label, ...\) tuples or "
            rf"mappings with 'labels', but `batch\[0\]` is {found}\.",
        ):
            MixCollate(WaveformMixup(num_classes=C))(items)


@pytest.mark.parametrize("persistent", [False, True])
def test_mix_collate_workers_and_epochs_draw_different_mixes(persistent):
    # Items 0-3 equal items 4-7, so worker 0 (batch 0) and worker 1 (batch 1) see the same
    # data: any difference comes from the mixing streams.
    items = _items(8, repeat=4)
    mixer = WaveformMixup(alpha=1.0, num_classes=C, per_sample=True, generator=0)
    loader = DataLoader(
        items,
        batch_size=4,
        num_workers=2,
        collate_fn=MixCollate(mixer),
        worker_init_fn=_lightning_like_init,
        persistent_workers=persistent,
        generator=_gen(42),
    )
    epochs = _epochs(loader)
    (b0, b1), (c0, c1) = epochs
    assert not _same(b0, b1)  # workers differ
    assert not _same(b0, c0) and not _same(b1, c1)  # epochs differ, despite the worker init
    again = _epochs(
        DataLoader(
            items,
            batch_size=4,
            num_workers=2,
            collate_fn=MixCollate(mixer),
            worker_init_fn=_lightning_like_init,
            persistent_workers=persistent,
            generator=_gen(42),
        )
    )
    for e, f in zip(epochs, again, strict=True):  # a seeded DataLoader repeats exactly
        for u, v in zip(e, f, strict=True):
            assert _same(u, v)


def test_mix_collate_with_a_spectrogram_mixer_in_workers():
    from audiomix import Chain, LogMelSpectrogram

    items = _items(8)
    chain = Chain(
        LogMelSpectrogram(n_fft=64, hop_length=32, n_mels=8),
        SpectrogramCutMix(num_classes=C, generator=0),
    )
    loader = DataLoader(items, batch_size=4, num_workers=2, collate_fn=MixCollate(chain))
    for x, targets, lengths in loader:
        assert x.shape[:2] == (4, 8) and targets.shape == (4, C)
        assert int(lengths.max()) <= x.shape[-1]
        torch.testing.assert_close(targets.sum(1), torch.ones(4))


# --------------------------------------------------------------------------- MixupDataset


def test_mixup_dataset_item_is_the_core_mix_of_the_pair():
    items = _items(6)
    ds = MixupDataset(
        items, alpha=0.5, num_classes=C, placement="random", return_info=True, generator=3
    )
    twin = torch.Generator().manual_seed(3)
    for i in range(6):
        x, target, info = ds[i]
        j, lam = info["partner"], info["lam"]
        assert j != i and 0.0 <= lam <= 1.0
        xi, yi = items[i]
        xj, yj = items[j]
        assert x.shape[-1] == max(xi.numel(), xj.numel())
        # Replay the draws on a twin generator: partner, coin, λ, offset.
        torch.randint(5, (), generator=twin)
        torch.rand(1, generator=twin, dtype=torch.float64)
        lam_t = sample_lambda(0.5, 1, generator=twin)
        pair, lengths = pad_batch([xi, xj])
        perm = torch.tensor([1, 0])
        offsets = sample_offsets(lengths, perm, placement="random", generator=twin)
        assert torch.equal(x, mix(pair, lam_t.expand(2), perm, lengths=lengths, offsets=offsets)[0])
        expected = (
            lam * prepare_targets(torch.tensor([yi]), num_classes=C)[0]
            + (1 - lam) * prepare_targets(torch.tensor([yj]), num_classes=C)[0]
        )
        torch.testing.assert_close(target, expected)
    assert len(ds) == 6


def test_mixup_dataset_p_zero_multilabel_and_errors():
    items = _items(4)
    ds = MixupDataset(items, p=0.0, num_classes=C, generator=0)
    x, target = ds[2]
    assert torch.equal(x, items[2][0]) and target.tolist() == [0, 0, 1, 0]
    multi = [
        (w, torch.tensor([1.0, 0.0, 1.0, 0.0]) if i % 2 else torch.tensor([0.0, 1, 0, 0]))
        for i, (w, _) in enumerate(items)
    ]
    ds = MixupDataset(multi, multilabel=True, union=True, generator=0)
    _, target = ds[0]
    assert target.tolist() == [1.0, 1.0, 1.0, 0.0]
    with pytest.raises(ValueError, match="`union=True` is for multi-label targets"):
        MixupDataset(items, union=True)
    with pytest.raises(ValueError, match="`alpha` must be a finite number > 0"):
        MixupDataset(items, alpha=-1)
    with pytest.raises(ValueError, match="`num_classes` must be >= 1"):
        MixupDataset(items, num_classes=0)
    with pytest.raises(ValueError, match="`dataset` is empty"):
        MixupDataset([])
    with pytest.raises(IndexError, match="`index` 9 is out of range for a dataset of 4 items"):
        MixupDataset(items, num_classes=C)[9]
    with pytest.raises(ValueError, match=r"`dataset\[0\]` must be a \(waveform, label, ...\)"):
        MixupDataset([torch.ones(3), torch.ones(4)], num_classes=C)[0]


def test_mixup_dataset_workers_and_epochs():
    items = _items(8, repeat=4)
    ds = MixupDataset(items, alpha=1.0, num_classes=C, return_info=True, generator=0)

    def run(seed, persistent=False):
        loader = DataLoader(
            ds,
            batch_size=4,
            num_workers=2,
            collate_fn=pad_collate,
            worker_init_fn=_lightning_like_init,
            generator=_gen(seed),
            persistent_workers=persistent,
        )
        out = []
        for _ in range(2):
            out.append(
                [
                    (x.clone(), t.clone(), info["lam"].clone(), info["partner"].clone())
                    for x, t, info, lengths in loader
                ]
            )
        return out

    first = run(7)
    (b0, b1), (c0, c1) = first
    assert not torch.equal(b0[2], b1[2])  # the two workers draw different λ
    assert not torch.equal(b0[2], c0[2]) and not torch.equal(b1[2], c1[2])  # so do epochs
    second = run(7)
    for e, f in zip(first, second, strict=True):
        for u, v in zip(e, f, strict=True):
            assert _same(u, v)
    persistent = run(7, persistent=True)
    assert not torch.equal(persistent[0][0][2], persistent[1][0][2])


def test_more_errors():
    with pytest.raises(ValueError, match=r"`batch\[0\]` is an empty tuple"):
        pad_collate([(), ()])
    with pytest.raises(
        ValueError,
        match=r"every item must be a tuple like `batch\[0\]`, but "
        r"`batch\[1\]` is Tensor",
    ):
        pad_collate([(torch.ones(3), 0), torch.ones(3)])
    with pytest.raises(TypeError, match="`collate_fn` must be callable"):
        MixCollate(WaveformMixup(), collate_fn="pad")
    with pytest.raises(TypeError, match="`dataset` must be a map-style dataset"):
        MixupDataset(iter(_items(2)))
    with pytest.raises(ValueError, match=r"`dataset\[0\]\[0\]` must be a non-empty float waveform"):
        MixupDataset([(torch.ones(3, dtype=torch.int16), 0)] * 2, num_classes=C)[0]
    with pytest.raises(TypeError, match="`index` must be an integer, but got str"):
        MixupDataset(_items(2), num_classes=C)["0"]
    stereo = [(torch.ones(2, 50), 0), (torch.ones(50), 1)]
    with pytest.raises(ValueError, match="items 0 and 1 have different channel layouts"):
        MixupDataset(stereo, num_classes=C, generator=0)[0]


WORDS = ["yes", "no", "up", "down"]


class _WavFolder(torch.utils.data.Dataset):
    """Reads ``word/speaker_nohash_n.wav`` files with soundfile and returns torchaudio
    ``SPEECHCOMMANDS``-style items: (waveform (1, time), sample_rate, word, speaker, n)."""

    def __init__(self, root):
        self.paths = sorted(root.glob("*/*.wav"))

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        import soundfile

        path = self.paths[i]
        data, sr = soundfile.read(path, dtype="float32", always_2d=True)
        speaker, _, n = path.stem.split("_")
        return torch.from_numpy(data.T.copy()), sr, path.parent.name, speaker, int(n)


def _word_index(item):
    return item[0], WORDS.index(item[2])


def test_mixup_dataset_unpacks_torchaudio_style_items_from_wav_files(tmp_path):
    import soundfile

    g = np.random.default_rng(0)
    for k, word in enumerate(WORDS):
        (tmp_path / word).mkdir()
        for n in range(2):
            clip = 0.2 * g.standard_normal(1600 + 400 * k + 100 * n).astype(np.float32)
            soundfile.write(
                tmp_path / word / f"spk{k}_nohash_{n}.wav", clip, 16000, subtype="FLOAT"
            )
    folder = _WavFolder(tmp_path)
    ds = MixupDataset(
        folder,
        alpha=1.0,
        num_classes=len(WORDS),
        placement="center",
        return_info=True,
        unpack=_word_index,
        generator=0,
    )
    loader = DataLoader(ds, batch_size=4, num_workers=2, collate_fn=pad_collate, generator=_gen(1))
    seen = 0
    for x, targets, info, lengths in loader:
        assert x.shape[:2] == (4, 1)
        torch.testing.assert_close(targets.sum(1), torch.ones(4))
        for row, (i, j, lam) in enumerate(
            zip(range(seen, seen + 4), info["partner"].tolist(), info["lam"].tolist(), strict=True)
        ):
            # The files' lengths and words decide the mixed length and the target.
            a, b = folder[i][0].shape[-1], folder[j][0].shape[-1]
            assert int(lengths[row]) == max(a, b)
            expected = torch.zeros(len(WORDS))
            expected[WORDS.index(folder[i][2])] += lam
            expected[WORDS.index(folder[j][2])] += 1 - lam
            torch.testing.assert_close(targets[row], expected)
        seen += 4
    assert seen == len(folder) == 8
    with pytest.raises(TypeError, match="`unpack` must be callable or None, but got str"):
        MixupDataset(folder, unpack="word")
    bad = MixupDataset(folder, num_classes=4, unpack=lambda item: item[0])
    with pytest.raises(ValueError, match=r"`unpack\(dataset\[0\]\)` must be a \(waveform, label"):
        bad[0]
