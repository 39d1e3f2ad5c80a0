"""Tests of the built-in synthetic Speech Commands generator (recipes/speech_commands/synth/)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from recipes.speech_commands import synth
from recipes.speech_commands.synth import (
    AUXILIARY_WORDS,
    KEYWORDS,
    SynthConfig,
    default_cache_dir,
    generate_dataset,
    list_voices,
    synthesize,
)

REPO = Path(__file__).resolve().parents[2]
_NEEDS_ESPEAK = "espeakng_loader"


def _espeak() -> None:
    pytest.importorskip(_NEEDS_ESPEAK)


def _tree(folder: Path) -> dict[str, bytes]:
    """Every file of a dataset folder (but the lock) by relative path, with its bytes."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def _band_fraction(waveform: np.ndarray, low: float, high: float) -> float:
    power = np.abs(np.fft.rfft(waveform)) ** 2
    freqs = np.fft.rfftfreq(len(waveform), 1.0 / synth.SAMPLE_RATE)
    return float(power[(freqs >= low) & (freqs < high)].sum() / power.sum())


@pytest.fixture(scope="module")
def quick_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _espeak()
    root = tmp_path_factory.mktemp("synth")
    return generate_dataset(root, SynthConfig.quick(), num_workers=2, progress=False)


# -- layout ----------------------------------------------------------------------------------


def test_layout_matches_speech_commands_v002(quick_dataset: Path) -> None:
    config = SynthConfig.quick()
    folder = quick_dataset
    assert folder.name == config.folder_name
    assert (folder / ".complete").exists()
    marker = json.loads((folder / ".complete").read_text())
    assert marker["config"] == config.to_dict()
    assert marker["num_clips"] == config.num_clips

    folders = {p.name for p in folder.iterdir() if p.is_dir()}
    assert folders == set(KEYWORDS) | set(AUXILIARY_WORDS) | {"_background_noise_"}
    assert not (folder / "_silence_").exists() and not (folder / "_unknown_").exists()

    wavs = sorted(p for p in folder.glob("*/*.wav") if p.parent.name != "_background_noise_")
    assert len(wavs) == config.num_clips
    name_re = r"^[0-9a-f]{8}_nohash_\d+\.wav$"
    assert all(re.match(name_re, p.name) for p in wavs)
    for path in wavs[::7]:
        info = sf.info(path)
        assert (info.samplerate, info.frames, info.channels) == (16_000, 16_000, 1)
        assert info.subtype == "PCM_16" and info.format == "WAV"

    # Keywords: clips_per_word per speaker; auxiliary words together the _unknown_ share.
    speakers = {p.name[:8] for p in wavs}
    assert len(speakers) == config.num_speakers
    for word in KEYWORDS:
        assert (
            len(list((folder / word).glob("*.wav"))) == config.num_speakers * config.clips_per_word
        )
    n_unknown = sum(len(list((folder / w).glob("*.wav"))) for w in AUXILIARY_WORDS)
    assert n_unknown == config.num_speakers * config.num_unknown_per_speaker > 0

    noise = sorted((folder / "_background_noise_").glob("*.wav"))
    assert len(noise) >= 4
    for path in noise:
        audio, rate = sf.read(path, dtype="int16")
        assert rate == 16_000 and audio.ndim == 1
        assert len(audio) == int(config.noise_seconds * 16_000)
        assert np.abs(audio).max() > 1000


def test_splits_are_speaker_disjoint(quick_dataset: Path) -> None:
    folder = quick_dataset
    val = (folder / "validation_list.txt").read_text().splitlines()
    test = (folder / "testing_list.txt").read_text().splitlines()
    assert val and test and val == sorted(val) and test == sorted(test)
    # Relative paths like real Speech Commands: word/<speaker>_nohash_<n>.wav
    for rel in val + test:
        assert (folder / rel).is_file() and rel.count("/") == 1 and not rel.startswith("/")
    every = {
        p.relative_to(folder).as_posix()
        for p in folder.glob("*/*.wav")
        if p.parent.name != "_background_noise_"
    }
    train = every - set(val) - set(test)

    def speakers(paths: set[str] | list[str]) -> set[str]:
        return {Path(p).name.split("_nohash_")[0] for p in paths}

    s_train, s_val, s_test = speakers(train), speakers(val), speakers(test)
    assert (len(s_train), len(s_val), len(s_test)) == SynthConfig.quick().split_sizes()
    assert not (s_train & s_val) and not (s_train & s_test) and not (s_val & s_test)
    # Every speaker says every keyword, in every split.
    for paths in (train, set(val), set(test)):
        assert {p.split("/")[0] for p in paths} >= set(KEYWORDS)


# -- determinism and resumption -----------------------------------------------------------------


def test_generation_is_byte_identical_in_process(quick_dataset: Path, tmp_path: Path) -> None:
    # In this process instead of two workers: speaker order and worker count do not matter.
    again = generate_dataset(tmp_path, SynthConfig.quick(), num_workers=0, progress=False)
    assert _tree(again) == _tree(quick_dataset)


def test_complete_folder_is_returned_without_synthesis(
    quick_dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom() -> None:
        raise AssertionError("the synthesiser must not be loaded")

    monkeypatch.setattr(synth.espeak, "get_engine", boom)
    assert generate_dataset(quick_dataset.parent, SynthConfig.quick()) == quick_dataset


def test_resume_after_deleted_files_and_stray_temp(quick_dataset: Path, tmp_path: Path) -> None:
    copy = tmp_path / quick_dataset.name
    shutil.copytree(quick_dataset, copy)
    expected = _tree(copy)
    (copy / ".complete").unlink()
    deleted = sorted(copy.glob("yes/*.wav"))[:3] + sorted(copy.glob("bed/*.wav"))[:1]
    deleted.append(copy / "_background_noise_" / "babble.wav")
    for path in deleted:
        path.unlink()
    stray = copy / "no" / ".half_written.wav.1234.tmp"
    stray.write_bytes(b"RIFF")
    out = generate_dataset(tmp_path, SynthConfig.quick(), num_workers=1, progress=False)
    assert out == copy
    assert not stray.exists()
    assert _tree(copy) == expected


@pytest.mark.slow
def test_killed_generation_resumes_identically(quick_dataset: Path, tmp_path: Path) -> None:
    cmd = [
        sys.executable,
        "-m",
        "recipes.speech_commands.synth",
        "--out",
        str(tmp_path),
        "--quick",
        "--workers",
        "1",
        "--no-progress",
    ]
    proc = subprocess.Popen(
        cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    folder = tmp_path / quick_dataset.name
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if len(list(folder.glob("*/*_nohash_*.wav"))) >= 20:
                break
            time.sleep(0.005)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the CLI and its pool worker, mid-way
        proc.wait()
    if (folder / ".complete").exists():
        pytest.skip("generation finished before it could be interrupted")
    assert len(list(folder.glob("*/*_nohash_*.wav"))) < SynthConfig.quick().num_clips

    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert Path(out.stdout.strip().splitlines()[-1]) == folder
    assert not list(folder.rglob("*.tmp"))
    assert _tree(folder) == _tree(quick_dataset)


# -- errors -------------------------------------------------------------------------------------


def test_config_mismatch_is_an_error(quick_dataset: Path) -> None:
    other = SynthConfig.quick(seed=1)
    with pytest.raises(ValueError, match=r"different config \(seed: 0 != 1\)"):
        generate_dataset(quick_dataset.parent, other, name=quick_dataset.name)


def test_foreign_folder_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match="not an audiomix synthetic dataset"):
        generate_dataset(tmp_path, SynthConfig.quick(), name="mine")


def test_unknown_voice_variant_is_an_error(tmp_path: Path) -> None:
    _espeak()
    config = SynthConfig.quick(variants=("m1", "f3", "no-such-voice"))
    with pytest.raises(
        ValueError, match=r"`variants` has names that eSpeak NG does not know: \['no-such-voice'\]"
    ):
        generate_dataset(tmp_path, config, progress=False)
    assert not any(tmp_path.iterdir())  # nothing written
    with pytest.raises(ValueError, match=r"`variant` has names .*\['M1'\].*did you mean \['m1'"):
        synthesize("yes", variant="M1")
    with pytest.raises(ValueError, match=r"`accent` has names .*\['en-gb'\]"):
        synthesize("yes", accent="en-gb")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"num_speakers": 0}, "`num_speakers` must be >= 1, but got 0"),
        ({"num_speakers": 2}, "`num_speakers` = 2 leaves no training speaker"),
        ({"clips_per_word": 0}, "`clips_per_word` must be >= 1, but got 0"),
        (
            {"snr_db": (20.0, 5.0)},
            r"`snr_db` must be \(low, high\) with low <= high, but got \(20.0, 5.0\)",
        ),
        ({"gain_db": (-10.0, 3.0)}, r"`gain_db` must lie within \[-inf, 0.0\]"),
        ({"words": ("yes", "Yes!")}, r"`words` must be lower-case English words .*\['Yes!'\]"),
        ({"words": ("yes", "yes")}, r"`words` has duplicates: \['yes'\]"),
        ({"words": ()}, "`words` must not be empty"),
        (
            {"words": ("yes", "bed")},
            r"`words` and `unknown_words` must be disjoint, but both contain \['bed'\]",
        ),
        ({"unknown_fraction": 1.0}, r"`unknown_fraction` must be in \[0, 1\), but got 1.0"),
        ({"unknown_words": ()}, "`unknown_fraction` > 0 needs at least one of `unknown_words`"),
        (
            {"val_fraction": 0.6, "test_fraction": 0.5},
            "`val_fraction` \\+ `test_fraction` must be < 1",
        ),
        ({"rate_wpm": (50.0, 200.0)}, r"`rate_wpm` must lie within \[80.0, 450.0\]"),
        ({"pitch_jitter": -1.0}, r"`pitch_jitter` must be in \[0.0, 50.0\], but got -1.0"),
        ({"variants": ()}, "`variants` must not be empty"),
        ({"accents": ("en+m1",)}, r"`accents` takes bare eSpeak NG names"),
        ({"noise_seconds": 0.5}, r"`noise_seconds` must be in \[2.0, 600.0\]"),
        ({"version": "v 1"}, "`version` must be a non-empty string"),
    ],
)
def test_bad_config_is_a_value_error(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        SynthConfig(**kwargs)


def test_bad_types_and_arguments(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="`num_speakers` must be an int, but got 3.5"):
        SynthConfig(num_speakers=3.5)
    with pytest.raises(TypeError, match=r"`snr_db` must be a pair of numbers"):
        SynthConfig(snr_db=(1.0,))
    with pytest.raises(ValueError, match=r"unknown SynthConfig fields: \['speakers'\]"):
        SynthConfig.from_dict({"speakers": 3})
    with pytest.raises(ValueError, match="`num_workers` must be >= 0, but got -1"):
        generate_dataset(tmp_path, SynthConfig.quick(), num_workers=-1)
    with pytest.raises(ValueError, match="`name` must be a plain folder name"):
        generate_dataset(tmp_path, SynthConfig.quick(), name="../escape")
    with pytest.raises(TypeError, match="`config` must be a SynthConfig"):
        generate_dataset(tmp_path, {"seed": 1})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`text` must be a non-empty string"):
        synthesize("  ")


def test_config_round_trip_and_hash() -> None:
    config = SynthConfig.quick(snr_db=[5, 25])  # lists (YAML, JSON) become tuples
    assert config.snr_db == (5, 25)
    again = SynthConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config and again.config_hash == config.config_hash
    assert SynthConfig.quick(seed=1).config_hash != config.config_hash
    assert SynthConfig().folder_name.startswith("sc-synth-v1-")
    assert SynthConfig().num_clips == 50 * (6 * 10 + 15)


def test_missing_espeak_raises_a_helpful_import_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "espeakng_loader", None)  # import fails
    monkeypatch.setattr(synth.espeak, "_ENGINE", None)
    with pytest.raises(ImportError, match=r"pip install 'audiomix\[speech\]'"):
        list_voices()
    with pytest.raises(ImportError, match="espeakng-loader"):
        synthesize("yes")


def test_default_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AUDIOMIX_CACHE", str(tmp_path / "a"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert default_cache_dir() == tmp_path / "a"
    monkeypatch.delenv("AUDIOMIX_CACHE")
    assert default_cache_dir() == tmp_path / "x" / "audiomix"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_dir() == Path.home() / ".cache" / "audiomix"


# -- the audio is real speech -----------------------------------------------------------------


def test_voices_are_listed() -> None:
    _espeak()
    variants, accents = list_voices()
    assert {"m1", "f3", "klatt", "croak", "whisper"} <= set(variants)
    assert {"en", "en-us", "en-029", "en-gb-scotland", "en-gb-x-rp"} <= set(accents)
    assert set(SynthConfig().variants) <= set(variants)
    assert set(SynthConfig().accents) <= set(accents)


def test_synthesized_words_are_speech() -> None:
    _espeak()
    yes = synthesize("yes", accent="en-us", variant="f3")
    no = synthesize("no", accent="en-us", variant="f3")
    assert yes.dtype == np.float32 and yes.ndim == 1
    for waveform in (yes, no):
        active = np.abs(waveform) > 0.01 * np.abs(waveform).max()
        duration = (np.nonzero(active)[0][-1] - np.nonzero(active)[0][0]) / synth.SAMPLE_RATE
        assert 0.15 < duration < 1.0  # a word, not a click nor a sentence
        assert np.sqrt(np.mean(waveform**2)) > 0.02  # not silent
        assert _band_fraction(waveform, 80, 4000) > 0.5  # speech band
    # Phonetics: the /s/ of "yes" puts energy above 3.5 kHz that "no" (nasal + vowel) lacks.
    assert _band_fraction(yes, 3500, 8000) > 2.5 * _band_fraction(no, 3500, 8000)
    # Same arguments, same samples (fresh synthesiser state per call); another voice differs.
    assert np.array_equal(synthesize("yes", accent="en-us", variant="f3"), yes)
    m1 = synthesize("yes", accent="en-gb-scotland", variant="m1")
    assert len(m1) != len(yes) or not np.allclose(m1, yes)


def test_dataset_clips_hold_the_words(quick_dataset: Path) -> None:
    def spectrum(word: str) -> np.ndarray:
        clips = [sf.read(p)[0] for p in sorted((quick_dataset / word).glob("*.wav"))]
        assert all(np.abs(c).max() > 0.01 for c in clips)  # random gain, but never silent
        # Long-term average spectrum in 16 bands, level-normalised per clip.
        spectra = []
        for clip in clips:
            power = np.abs(np.fft.rfft(clip)) ** 2
            bands = np.array([b.sum() for b in np.array_split(power[:8000], 16)])
            spectra.append(bands / bands.sum())
        return np.mean(spectra, axis=0)

    yes, no, six = spectrum("yes"), spectrum("no"), spectrum("six")
    # Fricative words (/s/) carry more high-band energy than "no", across all speakers.
    assert yes[8:].sum() > 1.5 * no[8:].sum()
    assert six[8:].sum() > 1.5 * no[8:].sum()
