"""The mix bank: AudioFolder reads only the segment needed, resamples or refuses other rates,
skips or fails on bad files; BankMixDataset mixes each clip with a bank segment under a stated
target rule, samples uniformly or balanced, in DataLoader workers, resumable."""

import multiprocessing as mp
import sys

import numpy as np
import pytest
import scipy.stats
import soundfile as sf
import torch
import torchaudio
from torch.utils.data import DataLoader

from audiomix import SNRMix, WaveformMixup
from audiomix.data import AudioFolder, BankMixDataset, pad_collate
from audiomix.functional import prepare_targets
from tests._helpers import generator as _gen

SR = 8000
C = 3
START_METHODS = [m for m in ("fork", "spawn") if m in mp.get_all_start_methods()]


def _write(path, n, sr=SR, channels=1, seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    data = 0.2 * np.random.default_rng(seed).standard_normal((n, channels)).astype(np.float32)
    sf.write(path, data, sr, subtype="FLOAT" if path.suffix == ".wav" else "PCM_16")
    return data


@pytest.fixture
def bank_root(tmp_path):
    """babble: 1 file, music: 3 files, hum: 1 flac; 0.5-2 s at 8 kHz."""
    root = tmp_path / "bank"
    _write(root / "babble" / "b0.wav", 16000, seed=1)
    for k in range(3):
        _write(root / "music" / f"m{k}.wav", 4000 + 4000 * k, seed=2 + k)
    _write(root / "hum" / "h0.flac", 8000, seed=9)
    return root


def _clips(n=6, length=3000, seed=0):
    g = _gen(seed)
    return [(0.3 * torch.randn(length + 100 * i, generator=g), i % C) for i in range(n)]


# --------------------------------------------------------------------------- AudioFolder


def test_audio_folder_lists_files_categories_and_lengths(bank_root):
    bank = AudioFolder(bank_root, sample_rate=SR)
    assert [p.relative_to(bank_root).as_posix() for p in bank.files] == [
        "babble/b0.wav",
        "hum/h0.flac",
        "music/m0.wav",
        "music/m1.wav",
        "music/m2.wav",
    ]
    assert bank.category_names == ["babble", "hum", "music"]
    assert bank.categories.tolist() == [0, 1, 2, 2, 2]
    assert bank.frames.tolist() == [16000, 8000, 4000, 8000, 12000]
    waveform, label = bank[3]
    expected, _ = sf.read(bank.files[3], dtype="float32", always_2d=True)
    assert torch.equal(waveform, torch.from_numpy(expected.T.copy())) and label == 2
    flat = AudioFolder(bank_root, sample_rate=SR, categories=None)
    assert flat.category_names == [""] and flat.categories.tolist() == [0] * 5
    by_name = AudioFolder(bank_root, sample_rate=SR, categories=lambda p: p.stem[0])
    assert by_name.category_names == ["b", "h", "m"]
    labelled = AudioFolder(bank_root, sample_rate=SR, classes=["music", "hum", "babble"])
    assert labelled.labels.tolist() == [2, 1, 0, 0, 0]
    assert "files=5" in repr(bank)


@pytest.mark.parametrize("start, frames", [(0, 100), (1234, 2000), (15000, 5000)])
def test_read_decodes_only_the_segment(bank_root, monkeypatch, start, frames):
    bank = AudioFolder(bank_root, sample_rate=SR)
    full, _ = sf.read(bank.files[0], dtype="float32", always_2d=True)
    asked = []
    real_read = sf.SoundFile.read

    def spy(self, frames=-1, *args, **kwargs):
        asked.append((self.tell(), frames))
        return real_read(self, frames, *args, **kwargs)

    monkeypatch.setattr(sf.SoundFile, "read", spy)
    segment = bank.read(0, start, frames)
    assert asked == [(start, frames)]  # one read, from the start, of the segment only
    expected = torch.from_numpy(full[start : start + frames].T.copy())
    assert torch.equal(segment, expected)
    assert segment.shape == (1, min(frames, 16000 - start))


def test_other_rates_are_refused_or_resampled(tmp_path):
    root = tmp_path / "rates"
    data = _write(root / "a.wav", 8000, sr=16000, seed=3)
    with pytest.raises(ValueError, match=r"a.wav' is at 16000 Hz, but the bank delivers"):
        AudioFolder(root, sample_rate=SR)
    bank = AudioFolder(root, sample_rate=SR, resample=True)
    assert bank.frames.tolist() == [4000]
    whole = torchaudio.functional.resample(torch.from_numpy(data.T.copy()), 16000, SR)
    segment = bank.read(0, 1000, 2000)
    assert segment.shape == (1, 2000)
    # Away from the segment's edges, the segment's resampling equals the whole file's.
    torch.testing.assert_close(segment[:, 100:-100], whole[:, 1100:2900], atol=2e-3, rtol=0)


def test_unreadable_files_fail_or_are_skipped_and_counted(bank_root):
    bad = bank_root / "music" / "broken.wav"
    bad.write_bytes(b"RIFF not really a wave file")
    with pytest.raises(ValueError, match=r"cannot read .*broken.wav.*on_error='skip'"):
        AudioFolder(bank_root, sample_rate=SR)
    with pytest.warns(UserWarning, match=r"skipped 1 unreadable file\(s\) of 6"):
        bank = AudioFolder(bank_root, sample_rate=SR, on_error="skip")
    assert len(bank) == 5 and [p.name for p, _ in bank.skipped] == ["broken.wav"]


def test_a_file_that_breaks_after_listing(bank_root):
    clips = _clips()
    bank = AudioFolder(bank_root, sample_rate=SR, on_error="skip")
    for path in bank.files[1:]:
        path.write_bytes(b"gone")  # only babble/b0.wav still reads
    ds = BankMixDataset(clips, bank, num_classes=C, return_info=True, generator=0)
    with pytest.warns(UserWarning, match="skipped unreadable bank file"):
        got = {ds[i % 6][2]["bank_index"] for i in range(12)}
    assert got == {0} and bank.read_errors > 0
    bank.on_error = "raise"
    ds = BankMixDataset(clips, bank, num_classes=C, generator=0)
    with pytest.raises(RuntimeError, match=r"cannot read bank file .*on_error='skip'"):
        for i in range(12):
            ds[i % 6]


def test_audio_folder_errors(tmp_path, bank_root, monkeypatch):
    with pytest.raises(ValueError, match="`root` must be a folder"):
        AudioFolder(tmp_path / "missing", sample_rate=SR)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="the bank is empty: `root` .* holds no file ending in"):
        AudioFolder(tmp_path / "empty", sample_rate=SR)
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "a.wav").write_bytes(b"x")
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="all 1 file"):
        AudioFolder(junk, sample_rate=SR, on_error="skip")
    with pytest.raises(ValueError, match="`sample_rate` must be > 0"):
        AudioFolder(bank_root, sample_rate=0)
    with pytest.raises(TypeError, match="`sample_rate` must be an int, but got float"):
        AudioFolder(bank_root, sample_rate=8000.0)
    with pytest.raises(ValueError, match="`on_error` must be one of"):
        AudioFolder(bank_root, sample_rate=SR, on_error="ignore")
    with pytest.raises(ValueError, match="`categories` must be 'folder', a function"):
        AudioFolder(bank_root, sample_rate=SR, categories="parent")
    with pytest.raises(ValueError, match=r"`classes` must name every category .*\['hum'\]"):
        AudioFolder(bank_root, sample_rate=SR, classes=["music", "babble"])
    monkeypatch.setitem(sys.modules, "soundfile", None)
    with pytest.raises(ImportError, match=r"pip install 'audiomix\[audio\]'"):
        AudioFolder(bank_root, sample_rate=SR)


# --------------------------------------------------------------------------- BankMixDataset


def test_noise_at_the_drawn_snr_keeps_the_clip_s_length_and_targets(bank_root):
    clips = _clips()
    bank = AudioFolder(bank_root, sample_rate=SR)
    mixer = SNRMix(snr_db=(0.0, 10.0), num_classes=C, placement="random", generator=0)
    ds = BankMixDataset(clips, bank, mixer, sample_rate=SR, return_info=True)
    for i in range(6):
        x, target, info = ds[i]
        clip, label = clips[i]
        assert x.shape == clip.shape
        assert torch.equal(target, prepare_targets(torch.tensor([label]), num_classes=C)[0])
        k, start = info["bank_index"], info["start"]
        segment = bank.read(k, start, clip.numel())[0]
        added = x - clip
        # What was added is the bank segment, scaled, at the offset the mixer drew.
        offset = int(mixer.last_params.offsets[0])
        gain = float(mixer.last_params.gain[0])
        expected = torch.zeros_like(clip)
        expected[offset : offset + segment.numel()] = gain * segment
        torch.testing.assert_close(added, expected, atol=1e-5, rtol=1e-5)
        # Mean powers over each one's own valid samples stand in the drawn SNR.
        snr = 10 * torch.log10(clip.pow(2).mean() / (gain * segment).pow(2).mean())
        assert abs(float(snr) - float(mixer.last_params.snr_db[0])) < 0.01


@pytest.mark.parametrize("rule", ["mix", "union"])
def test_labelled_banks_mix_or_unite_the_targets(bank_root, rule):
    clips = _clips()
    names = ["babble", "hum", "music"]  # the bank's categories are the training classes
    bank = AudioFolder(bank_root, sample_rate=SR, classes=names)
    mixer = WaveformMixup(alpha=1.0, num_classes=C, generator=0)
    ds = BankMixDataset(clips, bank, mixer, targets=rule, return_info=True)
    for i in range(6):
        x, target, info = ds[i]
        own, other = prepare_targets(
            torch.tensor([clips[i][1], int(bank.labels[info["bank_index"]])]), num_classes=C
        )
        if rule == "mix":
            expected = info["lam"] * own + (1 - info["lam"]) * other
        else:
            expected = torch.maximum(own, other)
        torch.testing.assert_close(target, expected)


def test_balanced_sampling_draws_categories_uniformly(bank_root):
    bank = AudioFolder(bank_root, sample_rate=SR)
    draws = 300
    for sampling, expected in (("balanced", [1 / 3] * 3), ("uniform", [0.2, 0.2, 0.6])):
        ds = BankMixDataset(
            _clips(length=500), bank, num_classes=C, sampling=sampling, return_info=True,
            generator=1,
        )  # fmt: skip
        seen = [ds[i % len(ds)][2]["bank_index"] for i in range(draws)]
        counts = np.bincount(bank.categories[seen].numpy(), minlength=3)
        assert scipy.stats.chisquare(counts, np.array(expected) * draws).pvalue > 1e-3
        # Within a category, items are uniform too (music: 3 files).
        music = np.bincount([k for k in seen if k >= 2], minlength=5)[2:]
        assert scipy.stats.chisquare(music).pvalue > 1e-3


def test_generic_banks_tuples_mappings_and_hugging_face_audio_dicts():
    clips = _clips()
    g = _gen(5)
    waves = [0.1 * torch.randn(4000, generator=g) for _ in range(4)]
    tuples = [(w, k % C) for k, w in enumerate(waves)]
    hf = [
        {"audio": {"array": w.numpy(), "sampling_rate": SR}, "label": k % C}
        for k, w in enumerate(waves)
    ]
    for bank, extra in (
        (tuples, {}),
        (hf, {"bank_input_key": "audio", "bank_label_key": "label", "sample_rate": SR}),
    ):
        ds = BankMixDataset(
            clips, bank, WaveformMixup(alpha=1.0, num_classes=C, generator=0), targets="mix",
            sampling="balanced", bank_categories=[k % 2 for k in range(4)], return_info=True,
            **extra,
        )  # fmt: skip
        x, target, info = ds[0]
        k, start = info["bank_index"], info["start"]
        lam = info["lam"]
        segment = waves[k][start : start + 3000]
        torch.testing.assert_close(x, lam * clips[0][0] + (1 - lam) * segment)
        own, other = prepare_targets(torch.tensor([0, k % C]), num_classes=C)
        torch.testing.assert_close(target, lam * own + (1 - lam) * other)
    # A Hugging Face item at another rate is resampled or refused.
    hf16 = [{"audio": {"array": w.numpy(), "sampling_rate": 16000}} for w in waves]
    ds = BankMixDataset(clips, hf16, num_classes=C, bank_input_key="audio", sample_rate=SR,
                        resample=True, generator=0)  # fmt: skip
    assert ds[0][0].shape == clips[0][0].shape
    ds = BankMixDataset(clips, hf16, num_classes=C, bank_input_key="audio", sample_rate=SR,
                        generator=0)  # fmt: skip
    with pytest.raises(ValueError, match=r"`bank\[\d\]` is at 16000 Hz, but `sample_rate` is"):
        ds[0]
    ds = BankMixDataset(clips, hf16, num_classes=C, bank_input_key="audio", generator=0)
    with pytest.raises(ValueError, match=r"carries a sampling rate \(16000 Hz\): pass"):
        ds[0]


def test_a_hugging_face_dataset_as_the_bank():
    datasets = pytest.importorskip("datasets")
    g = _gen(6)
    columns = {
        "input_values": [0.1 * torch.randn(4000, generator=g).numpy() for _ in range(4)],
        "labels": [0, 1, 2, 0],
    }
    bank = datasets.Dataset.from_dict(columns).with_format("torch")
    ds = BankMixDataset(
        _clips(), bank, WaveformMixup(alpha=1.0, num_classes=C, generator=0), targets="union",
        sampling="balanced", bank_categories=bank["labels"], return_info=True,
    )  # fmt: skip
    assert len(ds.bank_groups) == 3  # the column's values are the categories
    for i in range(6):
        _, target, info = ds[i]
        assert (
            target[_clips()[i][1]] == 1 and target[int(columns["labels"][info["bank_index"]])] == 1
        )


def test_channels_eval_mode_and_the_coin(bank_root):
    stereo = [(0.3 * torch.randn(2, 2000, generator=_gen(i)), i % C) for i in range(3)]
    bank = AudioFolder(bank_root, sample_rate=SR)  # mono files: copied to both channels
    ds = BankMixDataset(stereo, bank, num_classes=C, return_info=True, generator=0)
    x, _, info = ds[0]
    added = x - stereo[0][0]
    assert x.shape == (2, 2000) and added.abs().sum() > 0
    torch.testing.assert_close(added[0], added[1])
    ds.eval()
    x, target, info = ds[1]
    assert torch.equal(x, stereo[1][0]) and info == {"bank_index": -1, "start": -1, "lam": 1.0}
    with pytest.warns(UserWarning, match="never mixes"):
        quiet = BankMixDataset(stereo, bank, num_classes=C, p=0.0, return_info=True)
    assert quiet[0][2]["bank_index"] == -1
    three = [(torch.randn(3, 500), 0)]
    two = [torch.randn(2, 900)]
    with pytest.raises(ValueError, match="bank item 0 has 2 channels, but the clip has 3"):
        BankMixDataset(three, two, num_classes=C, generator=0)[0]


def test_state_dict_resumes_the_same_draws(bank_root):
    ds = BankMixDataset(
        _clips(), AudioFolder(bank_root, sample_rate=SR), num_classes=C, return_info=True,
        generator=0,
    )  # fmt: skip
    ds[0]
    state = ds.state_dict()
    first = [ds[i] for i in range(6)]
    ds.load_state_dict(state)
    for (x, t, info), (y, u, again) in zip(first, [ds[i] for i in range(6)], strict=True):
        assert torch.equal(x, y) and torch.equal(t, u) and info == again


def test_bank_mix_errors(bank_root):
    clips = _clips()
    bank = AudioFolder(bank_root, sample_rate=SR)
    with pytest.raises(ValueError, match="the bank is empty: `bank` has no items"):
        BankMixDataset(clips, [], num_classes=C)
    with pytest.raises(TypeError, match="`bank` must be a map-style dataset"):
        BankMixDataset(clips, iter([torch.ones(3)]), num_classes=C)
    with pytest.raises(ValueError, match="`targets` must be one of"):
        BankMixDataset(clips, bank, num_classes=C, targets="add")
    with pytest.raises(ValueError, match="`sampling` must be one of"):
        BankMixDataset(clips, bank, num_classes=C, sampling="stratified")
    with pytest.raises(ValueError, match="`sampling`='balanced' needs the bank's categories"):
        BankMixDataset(clips, [torch.ones(100)], num_classes=C, sampling="balanced")
    with pytest.raises(ValueError, match=r"`bank_categories` must have one entry per bank item"):
        BankMixDataset(clips, [torch.ones(100)] * 2, num_classes=C, sampling="balanced",
                       bank_categories=[0])  # fmt: skip
    with pytest.raises(ValueError, match="the bank delivers 8000 Hz, but `sample_rate` is 16000"):
        BankMixDataset(clips, bank, num_classes=C, sample_rate=16000)
    with pytest.raises(ValueError, match=r"`mixer` brings its own settings, so \['snr_db', 'p'\]"):
        BankMixDataset(clips, bank, SNRMix(num_classes=C), snr_db=3.0, p=0.5)
    with pytest.raises(TypeError, match=r"^BankMixDataset\(\) got an unexpected keyword .*'snr'"):
        BankMixDataset(clips, bank, num_classes=C, snr=3.0)
    with pytest.raises(TypeError, match="`bank_unpack` must be callable or None"):
        BankMixDataset(clips, bank, num_classes=C, bank_unpack="audio")
    unlabelled = BankMixDataset(clips, [torch.ones(100)], num_classes=C, targets="mix", generator=0)
    with pytest.raises(ValueError, match="`targets`='mix' needs labelled bank items"):
        unlabelled[0]
    ints = BankMixDataset(clips, [torch.ones(100, dtype=torch.int16)], num_classes=C, generator=0)
    with pytest.raises(ValueError, match=r"`bank\[0\]` must be a non-empty float waveform"):
        ints[0]
    nan = BankMixDataset(clips, [torch.full((100,), float("nan"))], num_classes=C, generator=0)
    with pytest.raises(ValueError, match="bank item 0 contains NaN or Inf values"):
        nan[0]
    keyed = BankMixDataset(clips, [{"audio": torch.ones(100)}], num_classes=C, generator=0)
    with pytest.raises(ValueError, match=r"`bank\[0\]` has no `bank_input_key`='input_values'"):
        keyed[0]


# --------------------------------------------------------------------------- workers


def _loader(root, method, seed):
    ds = BankMixDataset(
        _clips(8, length=1500), AudioFolder(root, sample_rate=SR, on_error="skip"),
        num_classes=C, sampling="balanced", return_info=True, generator=0,
    )  # fmt: skip
    loader = DataLoader(
        ds,
        batch_size=4,
        num_workers=2,
        collate_fn=pad_collate,
        multiprocessing_context=method,
        generator=_gen(seed),
        persistent_workers=True,
    )
    return [[(x, info["bank_index"], info["start"]) for x, _, info, _ in loader] for _ in range(2)]


def _check_workers(root, method):
    torch.set_num_threads(1)
    first = _loader(root, method, 3)
    (a0, a1), (b0, b1) = first
    assert not torch.equal(a0[1], a1[1]) or not torch.equal(a0[2], a1[2])  # workers differ
    assert not torch.equal(a0[0], b0[0])  # epochs differ
    again = _loader(root, method, 3)
    for e, f in zip(first, again, strict=True):
        for u, v in zip(e, f, strict=True):
            assert all(torch.equal(s, t) for s, t in zip(u, v, strict=True))


@pytest.mark.skipif("fork" not in START_METHODS, reason="no fork on this platform")
def test_bank_in_forked_workers(bank_root):
    _check_workers(bank_root, "fork")


@pytest.mark.slow
@pytest.mark.parametrize("method", [m for m in START_METHODS if m != "fork"])
def test_bank_in_spawned_workers(bank_root, method):
    _check_workers(bank_root, method)


def test_read_errors_in_workers_reach_the_main_process(bank_root):
    torch.set_num_threads(1)
    bank = AudioFolder(bank_root, sample_rate=SR, on_error="skip")
    for path in bank.files[2:]:
        path.write_bytes(b"gone")  # the music files break after listing: a third of the draws
    ds = BankMixDataset(_clips(8, length=500), bank, num_classes=C, sampling="balanced",
                        generator=0)  # fmt: skip
    loader = DataLoader(ds, batch_size=4, num_workers=2, collate_fn=pad_collate)
    for _ in range(2):  # the warnings are the workers' (their stderr)
        for x, _, _ in loader:
            assert torch.isfinite(x).all()
    assert bank.read_errors > 0  # counted in the workers, read here


def test_a_training_item_in_another_layout_is_named_with_this_class():
    items = [(16000, torch.randn(100), 0)]  # (rate, waveform, label): needs `unpack`
    ds = BankMixDataset(items, [torch.randn(100)], num_classes=C, generator=0)
    with pytest.raises(ValueError, match="BankMixDataset read the item .* pass `unpack=`"):
        ds[0]


def test_pickle_and_deepcopy_give_working_independent_copies(bank_root):
    import copy
    import pickle

    ds = BankMixDataset(
        _clips(), AudioFolder(bank_root, sample_rate=SR), num_classes=C, return_info=True,
        generator=0,
    )  # fmt: skip
    for make in (copy.deepcopy, lambda d: pickle.loads(pickle.dumps(d))):
        twin = make(ds)
        a, b = ds[2], twin[2]  # the same stream state: the same draw
        assert torch.equal(a[0], b[0]) and a[2] == b[2]
        twin.bank._read_errors.add()
        assert ds.bank.read_errors == 0 and twin.bank.read_errors == 1
