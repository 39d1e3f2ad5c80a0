"""Tests of the recipe's data parts (layout, audio, dataset, augment, label_noise) on a tiny
Speech Commands folder made here."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import torchaudio.functional as AF
from hypothesis import given, settings
from hypothesis import strategies as st

from recipes.speech_commands.audio import BadAudioError
from recipes.speech_commands.augment import BackgroundNoise, RandomTimeShift, shift_time
from recipes.speech_commands.common import KEYWORDS
from recipes.speech_commands.dataset import SpeechCommands
from recipes.speech_commands.label_noise import corrupt_labels
from recipes.speech_commands.layout import (
    find_bad_files,
    hash_percentage,
    load_background_noise,
    speaker_id,
    which_set,
)

SR = 16000
WORDS = ("yes", "no", "up", "cat", "tree")  # three keywords, two unknown words
# Speakers chosen so that the hash rule puts two in training and one in each other split
# (see test_hash_rule_hand_computed_values).
SPEAKERS = ("00000000", "00000001", "00000002", "00000003")
HASH_SPLIT = {
    "00000000": "validation",
    "00000001": "training",
    "00000002": "testing",
    "00000003": "training",
}
# The shipped lists disagree with the hash rule on 00000003, to show which one is used.
LIST_SPLIT = {**HASH_SPLIT, "00000003": "validation"}
EIGHT_KHZ = "yes/00000001_nohash_2.wav"
STEREO = "no/00000001_nohash_3.wav"


def _tone(freq: float, num: int, sample_rate: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(num) / sample_rate
    return (0.5 * np.sin(2 * np.pi * freq * t) + 0.01 * rng.standard_normal(num)).astype(np.float32)


def _write(path: Path, data: np.ndarray, sample_rate: int = SR, subtype: str = "PCM_16") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, data, sample_rate, subtype=subtype)


def _make_folder(root: Path, *, lists: bool = True) -> Path:
    """A few words x speakers of 0.25 s tones, one 8 kHz and one stereo float file, noise."""
    for w, word in enumerate(WORDS):
        for s, speaker in enumerate(SPEAKERS):
            for n in range(2):
                data = _tone(200 + 100 * w, SR // 4, SR, seed=100 * w + 10 * s + n)
                _write(root / word / f"{speaker}_nohash_{n}.wav", data)
    _write(root / EIGHT_KHZ, _tone(440, 4000, 8000, seed=1), sample_rate=8000)
    stereo = np.stack([_tone(300, 4800, SR, seed=2), _tone(500, 4800, SR, seed=3)], axis=1)
    _write(root / STEREO, stereo, subtype="FLOAT")
    rng = np.random.default_rng(0)
    _write(
        root / "_background_noise_" / "white_noise.wav",
        0.3 * rng.standard_normal(11 * SR).astype(np.float32),
    )
    _write(root / "_background_noise_" / "hum.wav", _tone(60, 10 * SR, SR, seed=4))
    (root / "README.md").write_text("not audio\n")
    if lists:
        for split, name in (("validation", "validation_list.txt"), ("testing", "testing_list.txt")):
            entries = sorted(
                f"{p.parent.name}/{p.name}"
                for word in WORDS
                for p in (root / word).glob("*.wav")
                if LIST_SPLIT[speaker_id(p)] == split
            )
            (root / name).write_text("\n".join(entries) + "\n")
    return root


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return _make_folder(tmp_path_factory.mktemp("sc") / "speech_commands")


@pytest.fixture
def copy(folder, tmp_path) -> Path:
    """A private copy of the folder, for tests that change it."""
    return Path(shutil.copytree(folder, tmp_path / "speech_commands"))


def _files(root: Path) -> list[str]:
    return sorted(
        f"{p.parent.name}/{p.name}" for word in WORDS for p in (root / word).glob("*.wav")
    )


# ------------------------------------------------------------------------------------------
# Split rule and layout
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "percentage", "split"),
    [
        # sha1("00000000") = 70352f41...b38b; mod 2**27 = 12825483; * 100 / (2**27 - 1):
        ("yes/00000000_nohash_0.wav", 9.555729549793373, "validation"),
        ("00000002_nohash_4.wav", 16.41438764642468, "testing"),
        ("right/bb05582b_nohash_3.wav", 18.13267855445056, "testing"),
        ("0a7c2a8d_nohash_1.wav", 56.836387193474074, "training"),
    ],
)
def test_hash_rule_hand_computed_values(filename, percentage, split):
    assert hash_percentage(filename) == pytest.approx(percentage, abs=1e-9)
    assert which_set(filename) == split


@settings(deadline=None, max_examples=60)
@given(
    speaker=st.text(alphabet="0123456789abcdef", min_size=1, max_size=8),
    first=st.tuples(st.sampled_from(WORDS + KEYWORDS), st.integers(0, 30)),
    second=st.tuples(st.sampled_from(WORDS + KEYWORDS), st.integers(0, 30)),
)
def test_hash_rule_keeps_a_speaker_in_one_split(speaker, first, second):
    a = f"{first[0]}/{speaker}_nohash_{first[1]}.wav"
    b = f"{second[0]}/{speaker}_nohash_{second[1]}.wav"
    assert 0.0 <= hash_percentage(a) <= 100.0
    assert which_set(a) == which_set(b)
    assert which_set(a, 30.0, 30.0) == which_set(b, 30.0, 30.0)


def test_which_set_rejects_bad_percentages():
    with pytest.raises(
        ValueError, match=r"`validation_percentage` must be in \[0, 100\], but got -1"
    ):
        which_set("a_nohash_0.wav", -1.0)
    with pytest.raises(ValueError, match=r"must be <= 100, but got 60.0 \+ 50.0"):
        which_set("a_nohash_0.wav", 60.0, 50.0)


def test_splits_follow_the_list_files(folder):
    files = _files(folder)
    seen = []
    for split in ("training", "validation", "testing"):
        ds = SpeechCommands(folder, split, task="35")
        assert {s for s in ds.speakers} == {s for s, v in LIST_SPLIT.items() if v == split}
        rel = [f"{p.parent.name}/{p.name}" for p in ds.paths]
        assert rel == sorted(rel)
        seen += rel
    assert sorted(seen) == files  # every clip in exactly one split


def test_splits_follow_the_hash_rule_without_list_files(copy):
    (copy / "validation_list.txt").unlink()
    (copy / "testing_list.txt").unlink()
    by_split = {
        split: SpeechCommands(copy, split, task="35")
        for split in ("training", "validation", "testing")
    }
    for split, ds in by_split.items():
        assert set(ds.speakers) == {s for s, v in HASH_SPLIT.items() if v == split}
        assert all(which_set(p) == split for p in ds.paths)
    assert sum(len(ds) for ds in by_split.values()) == len(_files(copy))


def test_one_list_file_alone_is_an_error(copy):
    (copy / "testing_list.txt").unlink()
    with pytest.raises(ValueError, match="holds validation_list.txt but not the other list file"):
        SpeechCommands(copy, "training")


def test_arguments_are_checked(folder, tmp_path):
    with pytest.raises(ValueError, match="`root` must be a Speech Commands folder"):
        SpeechCommands(tmp_path / "nowhere")
    with pytest.raises(
        ValueError,
        match="`split` must be one of 'training', 'validation', 'testing', but got 'train'",
    ):
        SpeechCommands(folder, "train")
    with pytest.raises(ValueError, match="`task` must be '12' or '35', but got '10'"):
        SpeechCommands(folder, task="10")
    with pytest.raises(ValueError, match="`clip_seconds` must be > 0, but got 0"):
        SpeechCommands(folder, clip_seconds=0)
    with pytest.raises(TypeError, match="`sample_rate` must be an int, but got float"):
        SpeechCommands(folder, sample_rate=16000.0)
    with pytest.raises(
        ValueError, match="`silence_ratio` and `unknown_ratio` apply to task='12' only"
    ):
        SpeechCommands(folder, task="35", silence_ratio=1.0)
    with pytest.raises(
        ValueError, match=r"`unknown_ratio` must be a number >= 0 or None, but got -1"
    ):
        SpeechCommands(folder, unknown_ratio=-1)
    with pytest.raises(
        ValueError, match=r"`silence_gain_db` must be \(low, high\) with low <= high"
    ):
        SpeechCommands(folder, silence_gain_db=(0.0, -10.0))


def test_more_argument_errors(folder, copy):
    with pytest.raises(ValueError, match="`sample_rate` must be > 0, but got 0"):
        SpeechCommands(folder, sample_rate=0)
    with pytest.raises(ValueError, match=r"`clip_seconds` \* `sample_rate` must be >= 1 sample"):
        SpeechCommands(folder, clip_seconds=1e-6)
    with pytest.raises(ValueError, match="`seed` must be an int >= 0, but got -1"):
        SpeechCommands(folder, seed=-1)
    with pytest.raises(ValueError, match="`num_workers` must be >= 1, but got 0"):
        SpeechCommands(folder, num_workers=0)
    ds = SpeechCommands(folder, "testing", task="35")
    with pytest.raises(TypeError, match="`labels` must hold integers, but got dtype torch.float32"):
        ds.labels = ds.labels.float()
    with open(copy / "testing_list.txt", "a") as f:
        f.write("yes/00000000_nohash_0.wav\n")  # also in validation_list.txt
    with pytest.raises(
        ValueError, match="1 file\\(s\\) are in both validation_list.txt and testing_list.txt"
    ):
        SpeechCommands(copy, "training")


def test_a_file_changed_after_construction_is_a_clear_error(copy):
    ds = SpeechCommands(copy, "testing", task="35")
    ds.paths[0].write_bytes(b"")
    with pytest.raises(RuntimeError, match=r"changed since the dataset was built: empty file"):
        ds[0]


# ------------------------------------------------------------------------------------------
# Tasks
# ------------------------------------------------------------------------------------------


def test_twelve_class_task_maps_words_silence_and_unknown(folder):
    # The folder has three of the ten keywords: the others are no class (a class without
    # clips would be silent), and the warning names them.
    with pytest.warns(UserWarning, match="7 keyword.s. have no word folder .* down, left, right"):
        ds = SpeechCommands(folder, "training")
    assert ds.class_names == ["_silence_", "_unknown_", "yes", "no", "up"]
    assert ds.missing_keywords == ["down", "left", "right", "on", "off", "stop", "go"]
    assert ds.num_classes == 5 and ds.split_rule == "list files"
    for path, label in zip(ds.paths, ds.labels.tolist(), strict=True):
        if path is None:
            assert label == 0
        else:
            word = path.parent.name
            assert ds.class_names[label] == (word if word in KEYWORDS else "_unknown_")
    # Training holds speaker 00000001: yes 3 clips (one at 8 kHz), no 3 (one stereo), up 2.
    num_silence = sum(p is None for p in ds.paths)
    assert num_silence == round(8 / 3)
    assert ds.paths[-num_silence:] == [None] * num_silence  # silence comes after the files
    for i in range(len(ds) - num_silence, len(ds)):
        waveform, label = ds[i]
        assert label == 0 and waveform.shape == (1, SR) and waveform.dtype == torch.float32
    assert ds.speakers[-1] == "" and int(ds.lengths[-1]) == SR


def test_silence_is_deterministic_seeded_and_quiet_sometimes(folder):
    kwargs = dict(silence_ratio=10.0, silence_gain_db=(-60.0, 0.0))
    a = SpeechCommands(folder, "validation", **kwargs)
    b = SpeechCommands(folder, "validation", **kwargs)
    c = SpeechCommands(folder, "validation", seed=1, **kwargs)
    silent = [i for i, p in enumerate(a.paths) if p is None]
    assert len(silent) > 10
    wa = torch.stack([a[i][0] for i in silent])
    assert torch.equal(wa, torch.stack([b[i][0] for i in silent]))
    assert not torch.equal(wa, torch.stack([c[i][0] for i in silent]))
    rms_db = 20 * torch.log10(wa.pow(2).mean(dim=(1, 2)).sqrt())
    assert rms_db.min() < -50 and rms_db.max() > -25  # from near zero to the recording's level


def test_silence_comes_from_the_split_region_of_the_noise(folder):
    regions = {
        s: load_background_noise(folder, split=s) for s in ("training", "validation", "testing")
    }
    whole = load_background_noise(folder, split=None)
    for i, recording in enumerate(whole):
        n = recording.shape[0]
        assert regions["training"][i].shape[0] == int(0.8 * n)
        assert torch.equal(torch.cat([regions[s][i] for s in regions]), recording)


def test_silence_loops_a_noise_region_shorter_than_the_clip(folder):
    ds = SpeechCommands(folder, "validation", clip_seconds=2.0)  # regions of 1.0 s and 1.1 s
    regions = {r.shape[0] for r in load_background_noise(folder, split="validation")}
    waveform, label = ds[len(ds) - 1]
    assert label == 0 and waveform.shape == (1, 2 * SR)
    looped = [n for n in regions if torch.equal(waveform[0, n:], waveform[0, : 2 * SR - n])]
    assert len(looped) == 1 and waveform.abs().sum() > 0


def test_unknown_is_subsampled_deterministically(folder):
    full = SpeechCommands(folder, "validation")
    unknown_full = {p for p, y in zip(full.paths, full.labels.tolist(), strict=True) if y == 1}
    m = (torch.bincount(full.labels, minlength=12)[2:]).float()
    mean_class = m[m > 0].mean().item()
    a = SpeechCommands(folder, "validation", unknown_ratio=0.5)
    b = SpeechCommands(folder, "validation", unknown_ratio=0.5)
    unknown_a = [p for p, y in zip(a.paths, a.labels.tolist(), strict=True) if y == 1]
    assert len(unknown_a) == round(0.5 * mean_class) < len(unknown_full)
    assert set(unknown_a) <= unknown_full
    assert unknown_a == [p for p, y in zip(b.paths, b.labels.tolist(), strict=True) if y == 1]


def test_thirty_five_word_task_uses_every_word_in_order(folder):
    ds = SpeechCommands(folder, "testing", task="35")
    assert ds.class_names == sorted(WORDS)
    assert all(p is not None for p in ds.paths)
    assert [ds.class_names[y] for y in ds.labels.tolist()] == [p.parent.name for p in ds.paths]


def test_twelve_class_task_has_silence_only_where_there_is_noise(copy):
    shutil.rmtree(copy / "_background_noise_")
    with pytest.raises(
        ValueError, match="has no readable recording there; add them, or pass silence_ratio=0"
    ):
        SpeechCommands(copy, "training", silence_ratio=1.0)
    for ratio in (None, 0):
        ds = SpeechCommands(copy, "training", silence_ratio=ratio)
        assert ds.class_names == ["_unknown_", "yes", "no", "up"]
        assert all(p is not None for p in ds.paths)


def test_own_keywords_and_the_degenerate_task(copy):
    ds = SpeechCommands(copy, "training", keywords=["tree", "cat", "yes"])
    assert ds.class_names == ["_silence_", "_unknown_", "tree", "cat", "yes"]
    assert ds.missing_keywords == []
    assert {
        ds.class_names[y]
        for y, p in zip(ds.labels.tolist(), ds.paths, strict=True)
        if p is not None and p.parent.name in ("no", "up")
    } == {"_unknown_"}
    # Every word a keyword: no _unknown_ class (it would have no clips).
    every = SpeechCommands(copy, "training", keywords=list(WORDS))
    assert every.class_names == ["_silence_", *WORDS]
    with pytest.raises(
        ValueError,
        match=r"needs at least two of its keywords as word folders, "
        r"but .* has 1 of \['yes', 'dog'\] \(yes\); its word folders are: cat, no, "
        r"tree, up, yes\. Choose keywords among them with",
    ):
        SpeechCommands(copy, "training", keywords=["yes", "dog"])
    with pytest.raises(
        ValueError, match=r"has 0 of .*or train on every word folder with `--set data.task=35`"
    ):
        SpeechCommands(copy, "training", keywords=["dog", "bird"])
    with pytest.raises(ValueError, match="`keywords` must not repeat a word"):
        SpeechCommands(copy, "training", keywords=["yes", "yes"])
    with pytest.raises(ValueError, match="`keywords` must hold word-folder names"):
        SpeechCommands(copy, "training", keywords=["yes", "_silence_"])
    with pytest.raises(
        TypeError, match="`keywords` must be a list of word-folder names, but got str"
    ):
        SpeechCommands(copy, "training", keywords="yes")
    with pytest.raises(ValueError, match="`keywords` applies to task='12' only"):
        SpeechCommands(copy, "training", task="35", keywords=["yes", "no"])


# ------------------------------------------------------------------------------------------
# Audio
# ------------------------------------------------------------------------------------------


def _item(ds: SpeechCommands, rel: str) -> tuple[int, torch.Tensor]:
    i = [f"{p.parent.name}/{p.name}" if p else None for p in ds.paths].index(rel)
    return i, ds[i][0]


def test_eight_khz_file_is_resampled(folder):
    ds = SpeechCommands(folder, "training", task="35")
    i, waveform = _item(ds, EIGHT_KHZ)
    data, rate = sf.read(folder / EIGHT_KHZ, dtype="float32")
    assert rate == 8000
    expected = AF.resample(torch.from_numpy(data), 8000, SR)
    assert int(ds.lengths[i]) == expected.shape[0] == 8000
    torch.testing.assert_close(waveform[0, :8000], expected, atol=0, rtol=0)
    assert torch.count_nonzero(waveform[0, 8000:]) == 0  # zero-padded to 1 s
    spectrum = torch.fft.rfft(waveform[0, :8000]).abs()
    assert abs(int(spectrum.argmax()) * SR / 8000 - 440) <= 2  # the tone stays at 440 Hz


def test_stereo_float_file_becomes_the_channel_mean(folder):
    ds = SpeechCommands(folder, "training", task="35")
    i, waveform = _item(ds, STEREO)
    data, _ = sf.read(folder / STEREO, dtype="float32")
    assert int(ds.lengths[i]) == 4800
    torch.testing.assert_close(
        waveform[0, :4800], torch.from_numpy(data.mean(axis=1)), atol=1e-7, rtol=0
    )


def test_clips_are_padded_or_cut_to_clip_seconds(folder):
    ds = SpeechCommands(folder, "training", task="35", clip_seconds=0.1)
    i, waveform = _item(ds, "cat/00000001_nohash_0.wav")
    data, _ = sf.read(folder / "cat/00000001_nohash_0.wav", dtype="float32")
    assert waveform.shape == (1, 1600) and int(ds.lengths[i]) == 4000  # the original length
    torch.testing.assert_close(waveform[0], torch.from_numpy(data[:1600]))


def test_cache_gives_the_same_items_and_protects_itself(folder):
    plain = SpeechCommands(folder, "training", cache=True)
    cached = SpeechCommands(folder, "training")
    for i in range(len(plain)):
        torch.testing.assert_close(plain[i][0], cached[i][0], atol=0, rtol=0)
        assert plain[i][1] == cached[i][1]
    waveform, _ = plain[0]
    waveform.zero_()
    assert plain[0][0].abs().sum() > 0


def test_labels_can_be_replaced_and_are_checked(folder):
    ds = SpeechCommands(folder, "testing", task="35")
    noisy = corrupt_labels(ds.labels, 0.5, ds.num_classes, generator=0)
    ds.labels = noisy
    assert [ds[i][1] for i in range(len(ds))] == noisy.tolist()
    with pytest.raises(ValueError, match=r"`labels` must have shape \(\d+,\), but got \(3,\)"):
        ds.labels = torch.zeros(3, dtype=torch.long)
    with pytest.raises(ValueError, match=r"`labels` must be in \[0, 5\)"):
        ds.labels = torch.full_like(noisy, 5)
    with pytest.raises(IndexError, match="out of range"):
        ds[len(ds)]


# ------------------------------------------------------------------------------------------
# Bad files
# ------------------------------------------------------------------------------------------


def _break_files(root: Path) -> dict[str, str]:
    """Damages four training files and lists a missing one; returns {relative path: reason}."""
    garbage, truncated, empty, frameless = (f"tree/00000001_nohash_{n}.wav" for n in (0, 1, 5, 6))
    (root / garbage).write_bytes(
        np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8).tobytes()
    )
    whole = (root / truncated).read_bytes()
    (root / truncated).write_bytes(whole[: len(whole) // 2])
    (root / empty).write_bytes(b"")
    sf.write(root / frameless, np.zeros(0, dtype=np.float32), SR, subtype="PCM_16")
    with open(root / "validation_list.txt", "a") as f:
        f.write("yes/ffffffff_nohash_0.wav\n")
    return {
        garbage: "not a readable audio file",
        truncated: "truncated: the header declares 8000 bytes of audio data, the file holds 3978",
        empty: "empty file (0 bytes)",
        frameless: "no audio frames",
    }


def test_bad_files_are_reported_and_skipped(copy):
    broken = _break_files(copy)
    with pytest.warns(UserWarning, match=r"Skipping 4 unusable audio file\(s\)") as record:
        ds = SpeechCommands(copy, "training", num_workers=2)
    message = next(str(w.message) for w in record if "Skipping" in str(w.message))
    reasons = {b.path.relative_to(copy).as_posix(): b.reason for b in ds.bad_files}
    assert reasons.keys() == broken.keys()
    for rel, reason in broken.items():
        assert reasons[rel].startswith(reason)
        assert f"{copy / rel}: {reasons[rel]}" in message
    assert not {copy / rel for rel in broken} & set(ds.paths)
    with pytest.warns(UserWarning, match="Skipping 4"):
        cached = SpeechCommands(copy, "training", cache=True)
    for i in range(len(ds)):  # no bad file is left to be found mid-epoch
        assert torch.equal(ds[i][0], cached[i][0]) and ds[i][0].shape == (1, SR)
    with pytest.warns(
        UserWarning, match=r"ffffffff_nohash_0.wav: listed in validation_list.txt but missing"
    ):
        SpeechCommands(copy, "validation")


def test_strict_raises_before_training_listing_the_files(copy):
    broken = _break_files(copy)
    with pytest.raises(
        BadAudioError, match=r"4 audio file\(s\) in .* cannot be used \(strict=True\)"
    ) as info:
        SpeechCommands(copy, "training", strict=True)
    assert {b.path.relative_to(copy).as_posix() for b in info.value.bad_files} == broken.keys()
    for rel in broken:
        assert str(copy / rel) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_find_bad_files_checks_the_whole_folder(copy, folder):
    assert find_bad_files(folder) == []
    broken = _break_files(copy)
    (copy / "_background_noise_" / "hum.wav").write_bytes(b"RIFF")
    found = {b.path.relative_to(copy).as_posix() for b in find_bad_files(copy, num_workers=1)}
    assert found == set(broken) | {"yes/ffffffff_nohash_0.wav", "_background_noise_/hum.wav"}


# ------------------------------------------------------------------------------------------
# Label noise
# ------------------------------------------------------------------------------------------


def test_corrupt_labels_changes_an_exact_share_to_other_classes():
    labels = torch.arange(1000) % 12
    before = labels.clone()
    noisy = corrupt_labels(labels, 0.2, 12, generator=torch.Generator().manual_seed(3))
    assert torch.equal(labels, before)  # input untouched
    changed = noisy != labels
    assert int(changed.sum()) == 200
    assert noisy.dtype == torch.long and noisy.min() >= 0 and noisy.max() < 12
    # Each wrong class equally likely: the offset (noisy - label) mod 12 is uniform on 1..11.
    offsets = torch.bincount((noisy - labels)[changed] % 12, minlength=12)
    assert offsets[0] == 0 and offsets[1:].min() > 5
    assert int((corrupt_labels(labels, 0.25, 12, generator=0) != labels).sum()) == 250
    assert (
        int((corrupt_labels(labels[:7], 0.5, 12, generator=0) != labels[:7]).sum()) == 4
    )  # 3.5 rounds up
    assert torch.equal(corrupt_labels(labels, 0.0, 12, generator=0), labels)
    assert bool((corrupt_labels(labels, 1.0, 12, generator=0) != labels).all())


def test_corrupt_labels_is_deterministic_by_seed():
    labels = torch.arange(500) % 10
    a = corrupt_labels(labels, 0.3, 10, generator=7)
    assert torch.equal(
        a, corrupt_labels(labels.tolist(), 0.3, 10, generator=torch.Generator().manual_seed(7))
    )
    assert not torch.equal(a, corrupt_labels(labels, 0.3, 10, generator=8))


def test_corrupt_labels_errors():
    with pytest.raises(ValueError, match=r"`rate` must be in \[0, 1\], but got 1.5"):
        corrupt_labels([0, 1], 1.5, 2)
    with pytest.raises(ValueError, match=r"`labels` must be in \[0, num_classes\) = \[0, 2\)"):
        corrupt_labels([0, 2], 0.5, 2)
    with pytest.raises(ValueError, match=r"`labels` must be 1-D \(N,\)"):
        corrupt_labels(torch.zeros(2, 2, dtype=torch.long), 0.5, 2)
    with pytest.raises(TypeError, match="`labels` must hold class indices"):
        corrupt_labels(torch.zeros(2), 0.5, 2)
    with pytest.raises(ValueError, match="`num_classes` must be > 0, but got 0"):
        corrupt_labels([], 0.5, 0)
    with pytest.raises(ValueError, match="`num_classes` must be >= 2 to change labels, but got 1"):
        corrupt_labels([0, 0], 0.5, 1)
    with pytest.raises(
        TypeError, match="`generator` must be a torch.Generator, an int seed or None"
    ):
        corrupt_labels([0, 1], 0.5, 2, generator="seed")


# ------------------------------------------------------------------------------------------
# Augmentations
# ------------------------------------------------------------------------------------------


def _snr_db(clean: torch.Tensor, noisy: torch.Tensor) -> torch.Tensor:
    return 10 * torch.log10(clean.pow(2).sum(-1) / (noisy - clean).pow(2).sum(-1))


def _batch(seed: int, shape=(16, 1, SR)) -> torch.Tensor:
    return 0.3 * torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def test_background_noise_hits_the_snr(folder):
    noise = load_background_noise(folder)
    x = _batch(0)
    before = x.clone()
    fixed = BackgroundNoise(
        noise, snr_db=(7.5, 7.5), p=1.0, generator=torch.Generator().manual_seed(0)
    )
    y = fixed(x)
    assert torch.equal(x, before) and y.shape == x.shape
    assert torch.allclose(_snr_db(x, y), torch.tensor(7.5), atol=0.1)
    ranged = BackgroundNoise(
        noise, snr_db=(0.0, 20.0), p=1.0, generator=torch.Generator().manual_seed(0)
    )
    snr = _snr_db(x, ranged(x))
    assert snr.min() >= -0.1 and snr.max() <= 20.1 and snr.std() > 1.0


def test_background_noise_is_deterministic_with_a_generator(folder):
    noise = load_background_noise(folder)
    x = _batch(1, (64, SR))
    make = lambda seed: BackgroundNoise(noise, p=0.5, generator=torch.Generator().manual_seed(seed))  # noqa: E731
    a = make(0)(x)
    assert torch.equal(a, make(0)(x))
    assert not torch.equal(a, make(1)(x))
    touched = (a != x).any(-1)
    assert 16 < int(touched.sum()) < 48  # p = 0.5 of 64 rows
    assert torch.equal(BackgroundNoise(noise, p=0.0)(x), x)


def test_background_noise_batch_details():
    g = torch.Generator().manual_seed(0)
    noise = [torch.randn(3000, generator=g)]  # shorter than the clip: looped
    x = _batch(2, (2, 3, 4000))
    x[0, 1] = 0  # an all-zero row has no SNR and stays as it is
    augment = BackgroundNoise(noise, snr_db=(10.0, 10.0), p=1.0, generator=g)
    lengths = torch.full((2, 3), 2000)
    y = augment(x, lengths)
    assert torch.equal(y[0, 1], x[0, 1])
    rows = [(0, 0), (1, 2)]
    for i, j in rows:  # the SNR holds over the first `lengths` samples
        added = y[i, j, :2000] - x[i, j, :2000]
        measured = 10 * torch.log10(x[i, j, :2000].pow(2).sum() / added.pow(2).sum())
        assert abs(float(measured) - 10.0) < 0.1
    for dtype in (torch.float16, torch.float64):
        out = BackgroundNoise(noise, snr_db=(10.0, 10.0), p=1.0)(x.to(dtype))
        assert out.dtype == dtype and bool(torch.isfinite(out).all())
        assert abs(float(_snr_db(x[1, 0].double(), out[1, 0].double())) - 10.0) < 0.1
    with pytest.raises(ValueError, match=r"`lengths` must have shape \(2, 3\)"):
        augment(x, torch.full((2,), 10))
    with pytest.raises(ValueError, match="`noise` must hold at least one recording"):
        BackgroundNoise([])
    with pytest.raises(ValueError, match=r"`noise\[0\]` must be a non-empty 1-D tensor"):
        BackgroundNoise([torch.zeros(2, 5)])
    with pytest.raises(ValueError, match=r"`p` must be in \[0, 1\], but got 2"):
        BackgroundNoise(noise, p=2)
    with pytest.raises(TypeError, match="`waveform` must be a floating-point tensor"):
        augment(torch.zeros(2, 10, dtype=torch.long))
    with pytest.raises(ValueError, match=r"`waveform` must be \(..., time\) with time > 0"):
        augment(torch.zeros(2, 0))
    with pytest.raises(TypeError, match="`noise` must be a sequence of 1-D tensors"):
        BackgroundNoise(torch.zeros(5))
    with pytest.raises(ValueError, match=r"`snr_db` must be \(low, high\) with low <= high"):
        BackgroundNoise(noise, snr_db=(10.0, 0.0))


def test_background_noise_needs_recordings(copy):
    shutil.rmtree(copy / "_background_noise_")
    with pytest.raises(ValueError, match="`root` has no readable _background_noise_/\\*.wav"):
        BackgroundNoise.from_folder(copy)


def test_background_noise_from_folder(folder):
    augment = BackgroundNoise.from_folder(folder, split="training", p=1.0)
    whole = load_background_noise(folder, split=None)
    assert augment.lengths.tolist() == [int(0.8 * r.shape[0]) for r in whole]
    assert "recordings=2" in repr(augment)


def test_shift_time_moves_and_zero_fills():
    x = torch.arange(1.0, 7.0).repeat(3, 1)
    y = shift_time(x, torch.tensor([2, -1, 0]))
    assert y.tolist() == [[0, 0, 1, 2, 3, 4], [2, 3, 4, 5, 6, 0], [1, 2, 3, 4, 5, 6]]
    assert shift_time(x, torch.tensor([9, -9, 6])).abs().sum() == 0
    with pytest.raises(ValueError, match=r"`shifts` must have shape \(3,\)"):
        shift_time(x, torch.tensor([1]))
    with pytest.raises(TypeError, match="`shifts` must hold integers"):
        shift_time(x, torch.zeros(3))
    with pytest.raises(
        ValueError, match="`waveform` must be \\(..., time\\), but got a 0-d tensor"
    ):
        shift_time(torch.tensor(1.0), torch.tensor(0))


def test_random_time_shift_is_bounded_and_deterministic():
    x = torch.arange(1.0, 101.0).repeat(50, 1, 1)  # (50, 1, 100): sample i holds i + 1
    shift = RandomTimeShift(10, generator=torch.Generator().manual_seed(0))
    y = shift(x)
    assert y.shape == x.shape and torch.equal(x, torch.arange(1.0, 101.0).repeat(50, 1, 1))
    shifts = 51 - y[:, 0, 50]  # y[50] = x[50 - shift] = 51 - shift
    assert shifts.abs().max() <= 10 and len(set(shifts.tolist())) > 5
    assert torch.equal(y, shift_time(x, shifts.long().view(50, 1)))
    assert torch.equal(y, RandomTimeShift(10, generator=torch.Generator().manual_seed(0))(x))
    assert torch.equal(RandomTimeShift(0)(x), x)
    with pytest.raises(ValueError, match="`max_shift` must be >= 0, but got -1"):
        RandomTimeShift(-1)
    with pytest.raises(TypeError, match="`max_shift` must be an int, but got float"):
        RandomTimeShift(1.5)
    with pytest.raises(
        ValueError, match="`waveform` must be \\(..., time\\), but got a 0-d tensor"
    ):
        RandomTimeShift(1)(torch.tensor(1.0))
