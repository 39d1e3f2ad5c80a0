"""A built-in spoken-keyword dataset, synthesised with eSpeak NG, in the Speech Commands layout.

Nothing can be downloaded when the recipe runs, so this module *makes* a keyword-spotting
dataset by real speech synthesis and writes it exactly like Google Speech Commands v0.02,
so the same loading code serves the real and the synthetic data::

    <root>/<version>-<config hash>/
        yes/0a1b2c3d_nohash_0.wav     16 kHz, 1 s, mono, int16 PCM
        ...                           one folder per keyword and per auxiliary word
        bed/ bird/ ... wow/ zero/     auxiliary words: the ``_unknown_`` class of the 12-class task
        _background_noise_/           long noise recordings; the loader cuts ``_silence_`` from them
        validation_list.txt           relative paths, e.g. ``yes/0a1b2c3d_nohash_0.wav``
        testing_list.txt              (speakers are disjoint across train, validation and test)
        speakers.tsv                  each speaker's split, voice and profile
        synth_config.json             the :class:`SynthConfig` that made the folder
        README.md
        .complete                     written last: the folder is finished

A *speaker* is an eSpeak NG voice variant (``m1`` ... ``f5``, ``klatt``, ``croak``, ``whisper``,
...) x an English accent (``en``, ``en-us``, ``en-029``, ``en-gb-scotland``, ...) x a profile
(speaking rate, pitch, pitch range, microphone colouring). Every clip then gets light prosody
jitter, a random place inside the second, a random gain and, usually, a noise bed cut from the
background-noise recordings at a random SNR. The knobs of :class:`SynthConfig` set how hard the
task is.

The same config gives byte-identical files: every random draw of a clip comes from a seed
derived from ``(seed, speaker, word, index)`` and the synthesiser is reset to a fresh state for
each speaker. Generation is idempotent and resumable: files are written atomically, existing
ones are kept, and the ``.complete`` marker is written last.

eSpeak NG (GPL-3.0-or-later) comes from the PyPI package ``espeakng-loader`` (the ``speech``
extra). It is loaded through ``ctypes`` at run time, only when synthesis is requested; importing
this module does not need it.

Command line::

    python -m recipes.speech_commands.synth --out DIR            # the default dataset
    python -m recipes.speech_commands.synth --out DIR --quick    # a few hundred clips
    python -m recipes.speech_commands.synth --help
"""

from __future__ import annotations

import argparse
import ctypes
import dataclasses
import difflib
import hashlib
import json
import math
import multiprocessing
import os
import re
import signal
import sys
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

__all__ = [
    "KEYWORDS",
    "AUXILIARY_WORDS",
    "DEFAULT_ACCENTS",
    "DEFAULT_VARIANTS",
    "SAMPLE_RATE",
    "SynthConfig",
    "default_cache_dir",
    "generate_dataset",
    "list_voices",
    "synthesize",
    "main",
]

SAMPLE_RATE = 16_000
"""Sample rate of every written file, in Hz (as in Speech Commands)."""
CLIP_SAMPLES = SAMPLE_RATE  # 1 s clips
BACKGROUND_DIR = "_background_noise_"

KEYWORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
"""The ten keywords of the Speech Commands 12-class task."""

AUXILIARY_WORDS = (
    "bed", "bird", "cat", "dog", "eight", "five", "four", "happy", "house", "marvin", "nine",
    "one", "seven", "sheila", "six", "three", "tree", "two", "wow", "zero",
    "backward", "forward", "follow", "learn", "visual",
)  # fmt: skip
"""Real Speech Commands auxiliary words; the 12-class task maps them to ``_unknown_``."""

DEFAULT_ACCENTS = (
    "en", "en-us", "en-029", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan",
    "en-gb-x-gbcwmd", "en-us-nyc",
)  # fmt: skip
"""English voices of eSpeak NG 1.52 (names as ``espeak_SetVoiceByName`` accepts them)."""

DEFAULT_VARIANTS = (
    "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4", "f5",
    "Alex", "Alicia", "Andrea", "Andy", "Annie", "AnxiousAndy", "Demonic", "Denis", "Diogo",
    "Gene", "Gene2", "Henrique", "Hugo", "Jacky", "Lee", "Marco", "Mario", "Michael", "Mike",
    "Mr serious", "Nguyen", "Reed", "RicishayMax", "RicishayMax2", "RicishayMax3", "Storm",
    "Tweaky", "UniRobot", "adam", "anika", "anikaRobot", "announcer", "antonio", "aunty",
    "belinda", "benjamin", "boris", "caleb", "croak", "david", "ed", "edward", "edward2",
    "fast", "grandma", "grandpa", "gustave", "ian", "iven", "iven2", "iven3", "iven4", "john",
    "kaukovalta", "klatt", "klatt2", "klatt3", "klatt4", "klatt5", "klatt6", "linda",
    "marcelo", "max", "michel", "miguel", "mike2", "norbert", "pablo", "paul", "pedro",
    "quincy", "rob", "robert", "robosoft", "robosoft2", "robosoft3", "robosoft4", "robosoft5",
    "robosoft6", "robosoft7", "robosoft8", "sandro", "shelby", "steph", "steph2", "steph3",
    "travis", "victor", "whisper", "whisperf", "zac",
)  # fmt: skip
"""The 104 voice variants of eSpeak NG 1.52 (file names under ``espeak-ng-data/voices/!v``)."""

# Words for the babble noise: everyday words that are neither keywords nor auxiliary words.
_BABBLE_WORDS = (
    "the", "a", "and", "of", "to", "in", "is", "that", "it", "was", "for", "with", "as", "his",
    "they", "at", "be", "this", "have", "from", "or", "had", "by", "word", "but", "what",
    "some", "we", "can", "were", "all", "there", "when", "your", "said", "each", "which",
    "their", "time", "will", "way", "about", "many", "then", "them", "would", "write", "like",
    "these", "her", "long", "make", "thing", "see", "him", "has", "look", "more", "day",
    "could", "come", "did", "number", "sound", "most", "people", "water", "call", "first",
    "who", "may", "part", "over", "new", "take", "only", "little", "work", "know", "place",
    "year", "live", "back", "give", "most", "very", "after", "our", "just", "name", "good",
    "sentence", "man", "think", "say", "great", "where", "help", "through", "much", "before",
    "line", "too", "mean", "old", "any", "same", "tell", "boy", "want", "also", "show",
    "around", "form", "small", "set", "put", "end", "does", "another", "well", "large",
    "must", "big", "even", "such", "because", "turn", "here", "why", "ask", "went", "men",
    "read", "need", "land", "different", "home", "us", "move", "try", "kind", "hand",
    "picture", "again", "change", "play", "spell", "air", "away", "animal", "point",
    "mother", "world", "near", "build", "self", "earth", "father", "head", "stand", "own",
    "page", "should", "country", "found", "answer", "school", "grow", "study", "still",
    "plant", "cover", "food", "sun", "between", "state", "keep", "eye", "never", "last",
    "let", "thought", "city", "cross", "farm", "hard", "start", "might", "story", "saw",
    "far", "sea", "draw", "late", "run", "while", "press", "close", "night", "real", "life",
    "few", "north", "open", "seem", "together", "next", "white", "children", "begin", "got",
    "walk", "example", "ease", "paper", "group", "always", "music", "those", "both", "mark",
    "often", "letter", "until", "mile", "river", "car", "feet", "care", "second", "book",
    "carry", "took", "science", "eat", "room", "friend", "began", "idea", "fish", "mountain",
    "once", "base", "hear", "horse", "cut", "sure", "watch", "color", "face", "wood", "main",
)  # fmt: skip
_NOISE_KINDS = (
    "white_noise", "pink_noise", "brown_noise", "running_tap", "machine_hum", "babble",
)  # fmt: skip
_WORD_RE = re.compile(r"^[a-z]+$")
_MARKER = ".complete"
_CONFIG_FILE = "synth_config.json"
_INSTALL_HINT = (
    "Speech synthesis needs eSpeak NG from the `espeakng-loader` package; install the "
    "`speech` extra: pip install 'audiomix[speech]'."
)


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SynthConfig:
    """Everything that determines the synthetic dataset (same config, same bytes).

    The difficulty knobs, from most to least effective: ``snr_db`` and ``noise_prob`` (noise
    beds), ``num_speakers`` (voice diversity seen in training), ``channel_db`` / ``lowpass_hz``
    (microphone colouring per speaker), ``rate_jitter`` / ``pitch_jitter`` (prosody within a
    speaker), ``gain_db`` (level), ``unknown_fraction`` (share of ``_unknown_`` words).

    Args:
        version (str): Tag of the generator algorithm; part of the folder name. Bump it when
            the synthesis changes. (Default: ``"sc-synth-v1"``)
        seed (int): Seed of every random draw. (Default: ``0``)
        words (tuple of str): Keywords, one folder each. (Default: :data:`KEYWORDS`)
        unknown_words (tuple of str): Auxiliary words, one folder each; the ``_unknown_`` class.
            (Default: :data:`AUXILIARY_WORDS`)
        num_speakers (int): Number of synthetic speakers. (Default: ``50``)
        val_fraction (float): Share of speakers in ``validation_list.txt``. (Default: ``0.15``)
        test_fraction (float): Share of speakers in ``testing_list.txt``. (Default: ``0.15``)
        clips_per_word (int): Clips of each keyword per speaker (``_nohash_0`` ...).
            (Default: ``6``)
        unknown_fraction (float): Share of auxiliary-word clips among all word clips, in
            [0, 1); each speaker says ``round(clips_per_word * len(words) * u / (1 - u))``
            auxiliary words. (Default: ``0.2``)
        variants (tuple of str): eSpeak NG voice variants to draw speakers from, without
            replacement while they last. (Default: :data:`DEFAULT_VARIANTS`)
        accents (tuple of str): eSpeak NG voices (accents) to draw from. (Default:
            :data:`DEFAULT_ACCENTS`)
        rate_wpm (tuple of float): Range of a speaker's speaking rate, words per minute, within
            [80, 450]. (Default: ``(120.0, 230.0)``)
        pitch (tuple of float): Range of a speaker's eSpeak pitch, within [0, 99]. (Default:
            ``(15.0, 85.0)``)
        pitch_range (tuple of float): Range of a speaker's eSpeak pitch range (intonation
            depth), within [0, 99]. (Default: ``(10.0, 90.0)``)
        rate_jitter (float): Per-clip relative rate change, uniform in ``[-r, r]``, in
            [0, 0.5]. (Default: ``0.12``)
        pitch_jitter (float): Per-clip change of pitch and pitch range, uniform in ``[-j, j]``
            eSpeak units. (Default: ``8.0``)
        vary_intonation (bool): End clips with a random ``.``/``!``/``?``/``,``, which changes
            the intonation. (Default: ``True``)
        gain_db (tuple of float): Range of the speech peak level, dBFS, ``<= 0``. (Default:
            ``(-30.0, -3.0)``)
        noise_prob (float): Probability that a clip gets a noise bed. (Default: ``0.5``)
        snr_db (tuple of float): Range of the speech-to-noise ratio of the bed, dB (speech
            power over its active part). (Default: ``(15.0, 35.0)``)
        noise_floor_db (tuple of float): Range of an always-present white noise floor, dBFS
            RMS, ``<= 0``. (Default: ``(-80.0, -55.0)``)
        channel_db (float): Strength of a speaker's random microphone colouring (spectral tilt
            and one resonance), dB, ``>= 0``; ``0`` disables it with the band limits.
            (Default: ``6.0``)
        highpass_hz (tuple of float): Range of a speaker's microphone high-pass corner, Hz.
            (Default: ``(50.0, 300.0)``)
        lowpass_hz (tuple of float): Range of a speaker's microphone low-pass corner, Hz,
            ``<= 8000``. (Default: ``(3500.0, 8000.0)``)
        noise_seconds (float): Length of each ``_background_noise_`` recording, seconds,
            ``>= 2``. (Default: ``30.0``)

    How hard the defaults are, measured on the 12-class task (keywords, ``_unknown_``,
    ``_silence_`` cut from the noise) with a 39k-parameter log-mel CNN trained 10 epochs and
    tested on the unseen test speakers: no noise beds, no colouring and ``gain_db=(-10, -3)``:
    91 %; ``noise_prob=0``: 90 %; the defaults: 77 %; ``noise_prob=0.5, snr_db=(10, 30)``:
    69 %; ``noise_prob=0.6, snr_db=(5, 30)``: 59 %.

    Example:
        >>> cfg = SynthConfig(num_speakers=20, snr_db=(10.0, 30.0))
        >>> cfg.folder_name.startswith("sc-synth-v1-")
        True
        >>> quick = SynthConfig.quick()  # a few hundred clips, for tests
    """

    version: str = "sc-synth-v1"
    seed: int = 0
    words: tuple[str, ...] = KEYWORDS
    unknown_words: tuple[str, ...] = AUXILIARY_WORDS
    num_speakers: int = 50
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    clips_per_word: int = 6
    unknown_fraction: float = 0.2
    variants: tuple[str, ...] = DEFAULT_VARIANTS
    accents: tuple[str, ...] = DEFAULT_ACCENTS
    rate_wpm: tuple[float, float] = (120.0, 230.0)
    pitch: tuple[float, float] = (15.0, 85.0)
    pitch_range: tuple[float, float] = (10.0, 90.0)
    rate_jitter: float = 0.12
    pitch_jitter: float = 8.0
    vary_intonation: bool = True
    gain_db: tuple[float, float] = (-30.0, -3.0)
    noise_prob: float = 0.5
    snr_db: tuple[float, float] = (15.0, 35.0)
    noise_floor_db: tuple[float, float] = (-80.0, -55.0)
    channel_db: float = 6.0
    highpass_hz: tuple[float, float] = (50.0, 300.0)
    lowpass_hz: tuple[float, float] = (3500.0, 8000.0)
    noise_seconds: float = 30.0

    def __post_init__(self) -> None:
        # JSON and the CLI give lists; the frozen dataclass keeps tuples (hashable, canonical).
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, list):
                object.__setattr__(self, f.name, tuple(value))
        self._validate()

    @classmethod
    def quick(cls, **overrides: Any) -> SynthConfig:
        """A few hundred clips with short noise recordings: generates in a few seconds.

        Args:
            **overrides: Any other field of :class:`SynthConfig`.

        Returns:
            SynthConfig: 8 speakers (6 train, 1 validation, 1 test), 2 clips per keyword.
        """
        params: dict[str, Any] = {
            "num_speakers": 8,
            "val_fraction": 0.125,
            "test_fraction": 0.125,
            "clips_per_word": 2,
            "noise_seconds": 4.0,
        }
        params.update(overrides)
        return cls(**params)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SynthConfig:
        """Rebuild a config from :meth:`to_dict` output (e.g. ``synth_config.json``)."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown SynthConfig fields: {unknown}; allowed: {sorted(known)}.")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        """The config as plain JSON types (tuples become lists)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @property
    def config_hash(self) -> str:
        """First 8 hex digits of the SHA-256 of the canonical JSON of the config."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:8]

    @property
    def folder_name(self) -> str:
        """Name of the dataset folder under the root: ``<version>-<config_hash>``."""
        return f"{self.version}-{self.config_hash}"

    @property
    def num_unknown_per_speaker(self) -> int:
        """Auxiliary-word clips per speaker, from ``unknown_fraction``."""
        u = self.unknown_fraction
        return int(round(self.clips_per_word * len(self.words) * u / (1.0 - u)))

    @property
    def num_clips(self) -> int:
        """Total number of word clips (all splits)."""
        per_speaker = self.clips_per_word * len(self.words) + self.num_unknown_per_speaker
        return self.num_speakers * per_speaker

    def split_sizes(self) -> tuple[int, int, int]:
        """Number of (train, validation, test) speakers."""
        n = self.num_speakers
        n_val = max(1, round(n * self.val_fraction)) if self.val_fraction > 0 else 0
        n_test = max(1, round(n * self.test_fraction)) if self.test_fraction > 0 else 0
        return n - n_val - n_test, n_val, n_test

    # -- validation ----------------------------------------------------------------------

    def _validate(self) -> None:
        if not isinstance(self.version, str) or not re.fullmatch(r"[A-Za-z0-9._-]+", self.version):
            raise ValueError(
                f"`version` must be a non-empty string of letters, digits, '.', '_' or '-', "
                f"but got {self.version!r}."
            )
        _check_int("seed", self.seed, minimum=0)
        _check_words("words", self.words, allow_empty=False)
        _check_words("unknown_words", self.unknown_words, allow_empty=True)
        overlap = sorted(set(self.words) & set(self.unknown_words))
        if overlap:
            raise ValueError(
                f"`words` and `unknown_words` must be disjoint, but both contain {overlap}."
            )
        _check_int("num_speakers", self.num_speakers, minimum=1)
        _check_int("clips_per_word", self.clips_per_word, minimum=1)
        _check_fraction("val_fraction", self.val_fraction)
        _check_fraction("test_fraction", self.test_fraction)
        if self.val_fraction + self.test_fraction >= 1.0:
            raise ValueError(
                f"`val_fraction` + `test_fraction` must be < 1 to leave training speakers, but got "
                f"{self.val_fraction} + {self.test_fraction}."
            )
        n_train, n_val, n_test = self.split_sizes()
        if n_train < 1:
            raise ValueError(
                f"`num_speakers` = {self.num_speakers} leaves no training speaker after "
                f"{n_val} validation and {n_test} test speakers; use more speakers."
            )
        _check_fraction("unknown_fraction", self.unknown_fraction)
        if self.unknown_fraction > 0 and not self.unknown_words:
            raise ValueError("`unknown_fraction` > 0 needs at least one of `unknown_words`.")
        _check_names("variants", self.variants)
        _check_names("accents", self.accents)
        _check_range("rate_wpm", self.rate_wpm, low=80.0, high=450.0)
        _check_range("pitch", self.pitch, low=0.0, high=99.0)
        _check_range("pitch_range", self.pitch_range, low=0.0, high=99.0)
        _check_number("rate_jitter", self.rate_jitter, low=0.0, high=0.5)
        _check_number("pitch_jitter", self.pitch_jitter, low=0.0, high=50.0)
        if not isinstance(self.vary_intonation, bool):
            raise TypeError(f"`vary_intonation` must be a bool, but got {self.vary_intonation!r}.")
        _check_range("gain_db", self.gain_db, high=0.0)
        _check_fraction("noise_prob", self.noise_prob, inclusive=True)
        _check_range("snr_db", self.snr_db, low=-30.0, high=100.0)
        _check_range("noise_floor_db", self.noise_floor_db, high=0.0)
        _check_number("channel_db", self.channel_db, low=0.0, high=40.0)
        _check_range("highpass_hz", self.highpass_hz, low=0.0, high=2000.0)
        _check_range("lowpass_hz", self.lowpass_hz, low=1000.0, high=SAMPLE_RATE / 2)
        _check_number("noise_seconds", self.noise_seconds, low=2.0, high=600.0)


def _check_int(name: str, value: Any, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"`{name}` must be an int, but got {value!r}.")
    if value < minimum:
        raise ValueError(f"`{name}` must be >= {minimum}, but got {value}.")


def _check_number(name: str, value: Any, *, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise TypeError(f"`{name}` must be a number, but got {value!r}.")
    if not low <= value <= high:
        raise ValueError(f"`{name}` must be in [{low}, {high}], but got {value}.")


def _check_fraction(name: str, value: Any, *, inclusive: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise TypeError(f"`{name}` must be a number, but got {value!r}.")
    if not (0.0 <= value <= 1.0 if inclusive else 0.0 <= value < 1.0):
        bracket = "1]" if inclusive else "1)"
        raise ValueError(f"`{name}` must be in [0, {bracket}, but got {value}.")


def _check_range(name: str, value: Any, *, low: float = -math.inf, high: float = math.inf) -> None:
    ok = (
        isinstance(value, tuple)
        and len(value) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    )
    if not ok or any(math.isnan(v) for v in value):
        raise TypeError(f"`{name}` must be a pair of numbers (low, high), but got {value!r}.")
    if value[0] > value[1]:
        raise ValueError(f"`{name}` must be (low, high) with low <= high, but got {value}.")
    if value[0] < low or value[1] > high:
        raise ValueError(f"`{name}` must lie within [{low}, {high}], but got {value}.")


def _check_words(name: str, words: Any, *, allow_empty: bool) -> None:
    if not isinstance(words, tuple) or not all(isinstance(w, str) for w in words):
        raise TypeError(f"`{name}` must be a sequence of strings, but got {words!r}.")
    if not words and not allow_empty:
        raise ValueError(f"`{name}` must not be empty.")
    bad = [w for w in words if not _WORD_RE.match(w)]
    if bad:
        raise ValueError(
            f"`{name}` must be lower-case English words (a-z only; they name folders), but got {bad}."
        )
    dupes = sorted({w for w in words if words.count(w) > 1})
    if dupes:
        raise ValueError(f"`{name}` has duplicates: {dupes}.")


def _check_names(name: str, names: Any) -> None:
    if not isinstance(names, tuple) or not all(isinstance(n, str) and n for n in names):
        raise TypeError(f"`{name}` must be a sequence of non-empty strings, but got {names!r}.")
    if not names:
        raise ValueError(f"`{name}` must not be empty.")
    bad = [n for n in names if "+" in n or "/" in n]
    if bad:
        raise ValueError(f"`{name}` takes bare eSpeak NG names without '+' or '/', but got {bad}.")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"`{name}` has duplicates: {dupes}.")


# --------------------------------------------------------------------------------------------
# eSpeak NG through ctypes
# --------------------------------------------------------------------------------------------

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PARAM_RATE, _PARAM_VOLUME, _PARAM_PITCH, _PARAM_RANGE = 1, 2, 3, 4
_EE_NOT_FOUND = 2
_SYNTH_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p)


class _Voice(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_char_p),
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    ]


class _Espeak:
    """This process's handle on libespeak-ng (synchronous mode, audio collected in memory).

    libespeak-ng keeps synthesis state in static variables (pitch flutter phase, AGC, ...) that
    no API call resets, so the same request can give different samples depending on what was
    said before. :meth:`reset` therefore unloads and reloads the library, which gives a
    process-independent fresh state (about 3 ms).
    """

    _warned_shared = False

    def __init__(self) -> None:
        try:
            import espeakng_loader
        except ImportError as err:
            raise ImportError(_INSTALL_HINT) from err
        self.lib_path = espeakng_loader.get_library_path()
        self.data_path = espeakng_loader.get_data_path()
        self._lib: Any = None
        self._chunks: list[bytes] = []
        self._callback = _SYNTH_CALLBACK(self._collect)
        self._voice: str | None = None
        self.sample_rate = 0
        try:
            self._libc: Any = ctypes.CDLL(None)
        except OSError:  # pragma: no cover - non-POSIX
            self._libc = None
        self.reset()

    def _collect(self, wav: int | None, num_samples: int, events: int | None) -> int:
        if wav and num_samples > 0:
            self._chunks.append(ctypes.string_at(wav, 2 * num_samples))
        return 0  # 0 = continue synthesis

    def reset(self) -> None:
        """Unload and reload libespeak-ng, so that what follows does not depend on the past."""
        if self._lib is not None:
            self._lib.espeak_Terminate()
            handle = self._lib._handle
            self._lib = None
            _dlclose(handle)
            if _still_loaded(self.lib_path) and not _Espeak._warned_shared:
                _Espeak._warned_shared = True
                warnings.warn(
                    "libespeak-ng is also loaded by other code in this process, so its state "
                    "cannot be reset: synthesis may not be byte-reproducible. Generate the "
                    "dataset in a fresh process (or with num_workers >= 1).",
                    UserWarning,
                    stacklevel=3,
                )
        try:
            lib = ctypes.CDLL(self.lib_path)
        except OSError as err:
            raise ImportError(
                f"Could not load libespeak-ng from {self.lib_path}: {err}. {_INSTALL_HINT}"
            ) from err
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_SYNTH_CALLBACK]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [
            ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
            ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
        ]  # fmt: skip
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_ListVoices.argtypes = [ctypes.POINTER(_Voice)]
        lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_Voice))
        lib.espeak_Info.argtypes = [ctypes.c_void_p]
        lib.espeak_Info.restype = ctypes.c_char_p
        lib.espeak_Terminate.restype = ctypes.c_int
        if hasattr(lib, "espeak_ng_SetRandSeed"):
            lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
            lib.espeak_ng_SetRandSeed.restype = None
        rate = lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, self.data_path.encode(), _INITIALIZE_DONT_EXIT
        )
        if rate <= 0:
            raise RuntimeError(
                f"espeak_Initialize failed (returned {rate}) with data at {self.data_path}."
            )
        lib.espeak_SetSynthCallback(self._callback)
        self._lib = lib
        self._voice = None
        self.sample_rate = rate

    @property
    def version(self) -> str:
        return self._lib.espeak_Info(None).decode()

    def list_voices(self) -> tuple[list[str], list[str]]:
        """Return (variant names, voice/accent names), as ``espeak_SetVoiceByName`` takes them."""

        def collect(spec: Any) -> list[str]:
            voices = self._lib.espeak_ListVoices(spec)
            out, i = [], 0
            while voices[i]:
                out.append(voices[i].contents.identifier.decode())
                i += 1
            return out

        spec = _Voice()
        spec.languages = b"variant"
        variants = sorted(
            {
                ident.split("/", 1)[1]
                for ident in collect(ctypes.byref(spec))
                if ident.startswith("!v/")
            }
        )
        accents = sorted({ident.rsplit("/", 1)[-1].lower() for ident in collect(None)})
        return variants, accents

    def set_voice(self, accent: str, variant: str) -> None:
        name = f"{accent}+{variant}"
        if name == self._voice:
            return
        err = self._lib.espeak_SetVoiceByName(name.encode())
        if err != 0:
            what = "not found" if err == _EE_NOT_FOUND else f"error {err}"
            raise ValueError(f"eSpeak NG voice {name!r}: {what}.")
        self._voice = name

    def synth(self, text: str, *, rate: int, pitch: int, pitch_range: int, seed: int) -> np.ndarray:
        """Synthesise ``text`` with the current voice; int16 samples at :attr:`sample_rate`."""
        lib = self._lib
        lib.espeak_SetParameter(_PARAM_RATE, int(rate), 0)
        lib.espeak_SetParameter(_PARAM_PITCH, int(pitch), 0)
        lib.espeak_SetParameter(_PARAM_RANGE, int(pitch_range), 0)
        lib.espeak_SetParameter(_PARAM_VOLUME, 100, 0)
        seed = int(seed) % (2**31)
        if hasattr(lib, "espeak_ng_SetRandSeed"):
            lib.espeak_ng_SetRandSeed(seed)
        if self._libc is not None:
            self._libc.srand(seed)  # in case a code path still uses libc rand()
        self._chunks.clear()
        data = text.encode("utf-8")
        err = lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        if err != 0:
            raise RuntimeError(f"espeak_Synth failed with error {err} for {text!r}.")
        audio = np.frombuffer(b"".join(self._chunks), dtype="<i2")
        self._chunks.clear()
        return audio


def _dlclose(handle: int) -> None:
    import _ctypes

    close = getattr(_ctypes, "dlclose", None) or getattr(_ctypes, "FreeLibrary", None)
    if close is not None:
        close(handle)


def _still_loaded(path: str) -> bool:
    mode = getattr(os, "RTLD_NOLOAD", None)
    if mode is None:  # pragma: no cover - Windows
        return False
    try:
        probe = ctypes.CDLL(path, mode=mode)
    except OSError:
        return False
    _dlclose(probe._handle)  # NOLOAD still took a reference
    return True


_ENGINE: _Espeak | None = None


def _engine() -> _Espeak:
    """The lazily created engine (raises ImportError without espeakng-loader).

    A forked worker inherits the parent's engine and, with it, the only handle on the library,
    so that its :meth:`_Espeak.reset` really unloads the library.
    """
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = _Espeak()
    return _ENGINE


def list_voices() -> tuple[list[str], list[str]]:
    """List the voice variants and accents (voices) that the installed eSpeak NG offers.

    Returns:
        tuple[list[str], list[str]]: ``(variants, accents)``; pass one of each to
        :func:`synthesize` or in :class:`SynthConfig`. Accents are lower-cased file names
        (``en``, ``en-us``, ``en-gb-scotland``, ...), variants exact file names (``m1``,
        ``klatt``, ``Mr serious``, ...).

    Raises:
        ImportError: ``espeakng-loader`` (the ``speech`` extra) is not installed.
    """
    return _engine().list_voices()


def _validate_voices(
    variants: Sequence[str],
    accents: Sequence[str],
    *,
    variant_arg: str = "variants",
    accent_arg: str = "accents",
) -> None:
    available_variants, available_accents = list_voices()
    for arg, asked, available, fold in (
        (variant_arg, variants, available_variants, False),
        (accent_arg, accents, available_accents, True),
    ):
        pool = set(available)
        unknown = [v for v in asked if (v.lower() if fold else v) not in pool]
        if unknown:
            hints = {v: _close_names(v, available) for v in unknown}
            hint_text = "; ".join(f"{v!r}: did you mean {h}?" for v, h in hints.items() if h)
            raise ValueError(
                f"`{arg}` has names that eSpeak NG does not know: {unknown}. "
                + (hint_text + " " if hint_text else "")
                + f"Available: {', '.join(available)}."
            )


def _close_names(name: str, available: Sequence[str]) -> list[str]:
    same_but_case = [a for a in available if a.lower() == name.lower()]
    close = difflib.get_close_matches(name.lower(), [a.lower() for a in available], n=3)
    by_lower = {a.lower(): a for a in available}
    return list(dict.fromkeys(same_but_case + [by_lower[c] for c in close]))[:3]


def synthesize(
    text: str,
    *,
    accent: str = "en",
    variant: str = "m1",
    rate_wpm: float = 175,
    pitch: float = 50,
    pitch_range: float = 50,
    seed: int = 0,
) -> np.ndarray:
    """Synthesise speech with eSpeak NG at 16 kHz.

    The voice names are checked against :func:`list_voices` (eSpeak NG silently ignores an
    unknown variant). Each call starts from a fresh synthesiser state, so the same arguments
    give the same samples.

    Args:
        text (str): What to say.
        accent (str): eSpeak NG voice, e.g. ``"en"``, ``"en-us"``, ``"en-gb-scotland"``.
            (Default: ``"en"``)
        variant (str): Voice variant, e.g. ``"m1"``, ``"f3"``, ``"klatt"``. (Default: ``"m1"``)
        rate_wpm (float): Speaking rate in words per minute, [80, 450]. (Default: ``175``)
        pitch (float): eSpeak pitch, [0, 99]. (Default: ``50``)
        pitch_range (float): eSpeak pitch range, [0, 99]. (Default: ``50``)
        seed (int): Seed of eSpeak NG's own noise generator. (Default: ``0``)

    Returns:
        np.ndarray: float32 ``(time,)`` in [-1, 1] at :data:`SAMPLE_RATE`, untrimmed.

    Raises:
        ImportError: ``espeakng-loader`` (the ``speech`` extra) is not installed.
        ValueError: Unknown ``accent`` or ``variant``, or a parameter out of range.

    Example:
        >>> waveform = synthesize("yes", accent="en-us", variant="f3")
        >>> waveform.ndim, waveform.dtype
        (1, dtype('float32'))
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"`text` must be a non-empty string, but got {text!r}.")
    _check_number("rate_wpm", rate_wpm, low=80, high=450)
    _check_number("pitch", pitch, low=0, high=99)
    _check_number("pitch_range", pitch_range, low=0, high=99)
    _check_names("variant", (variant,))
    _check_names("accent", (accent,))
    _validate_voices([variant], [accent], variant_arg="variant", accent_arg="accent")
    engine = _engine()
    engine.reset()
    engine.set_voice(accent, variant)
    raw = engine.synth(
        text, rate=round(rate_wpm), pitch=round(pitch), pitch_range=round(pitch_range), seed=seed
    )
    return _resample_to_16k(raw, engine.sample_rate).astype(np.float32)


# --------------------------------------------------------------------------------------------
# Signal processing (numpy only)
# --------------------------------------------------------------------------------------------


def _resample_to_16k(raw: np.ndarray, rate: int, response: Any = None) -> np.ndarray:
    """FFT resampling of int16 audio to 16 kHz, optionally with a magnitude ``response(f)``.

    The input is zero-padded to a whole number of rate periods (so the output length is exact)
    with at least 20 ms of zeros, which keeps the circular FFT from wrapping the word around.
    """
    x = raw.astype(np.float64) / 32768.0
    g = math.gcd(rate, SAMPLE_RATE)
    up, down = SAMPLE_RATE // g, rate // g
    length = -(-(len(x) + rate // 50) // down) * down
    out_len = length * up // down
    spectrum = np.fft.rfft(x, n=length)
    n_bins = out_len // 2 + 1
    if n_bins <= len(spectrum):
        spectrum = spectrum[:n_bins]
    else:
        spectrum = np.concatenate([spectrum, np.zeros(n_bins - len(spectrum), complex)])
    freqs = np.arange(n_bins) * (SAMPLE_RATE / out_len)
    # Anti-aliasing: raised-cosine roll-off from 7.2 kHz to Nyquist.
    weight = np.clip((SAMPLE_RATE / 2 - freqs) / 800.0, 0.0, 1.0)
    weight = 0.5 - 0.5 * np.cos(np.pi * weight)
    if response is not None:
        weight = weight * response(freqs)
    y = np.fft.irfft(spectrum * weight, n=out_len) * (out_len / length)
    return y[: int(round(len(x) * up / down))]


def _channel_response(profile: dict[str, float]) -> Any:
    """Magnitude response of a speaker's microphone: band limits, tilt and one resonance."""
    hp, lp = profile["highpass_hz"], profile["lowpass_hz"]
    tilt, peak_hz, peak_db = profile["tilt_db_per_octave"], profile["peak_hz"], profile["peak_db"]

    def response(freqs: np.ndarray) -> np.ndarray:
        f = np.maximum(freqs, 1.0)
        octaves = np.log2(np.maximum(f, 50.0) / 1000.0)
        gain_db = tilt * octaves + peak_db * np.exp(-0.5 * (np.log2(f / peak_hz) / 0.5) ** 2)
        r = 10.0 ** (gain_db / 20.0)
        if hp > 0:
            r = r * (f / hp) ** 2 / np.sqrt(1.0 + (f / hp) ** 4)
        r = r / np.sqrt(1.0 + (f / lp) ** 4)
        r[freqs == 0] = 0.0
        return r

    return response


def _trim(y: np.ndarray, *, top_db: float = 45.0, frame: int = 160, margin: int = 3) -> np.ndarray:
    """Cut leading and trailing silence (frames more than ``top_db`` below the loudest)."""
    n = len(y) // frame
    if n == 0:
        return y
    energy = (y[: n * frame].reshape(n, frame) ** 2).mean(axis=1)
    peak = energy.max()
    if peak <= 0:
        return y[:0]
    active = np.nonzero(energy >= peak * 10.0 ** (-top_db / 10.0))[0]
    start = max(0, (active[0] - margin) * frame)
    stop = min(len(y), (active[-1] + 1 + margin) * frame)
    return y[start:stop]


def _fade(y: np.ndarray, samples: int = 160) -> np.ndarray:
    n = min(samples, len(y) // 2)
    if n > 0:
        ramp = np.linspace(0.0, 1.0, n)
        y[:n] *= ramp
        y[-n:] *= ramp[::-1]
    return y


def _spectral_noise(rng: np.random.Generator, n: int, exponent: float) -> np.ndarray:
    """Noise with power spectrum ``1 / f**exponent`` (0 white, 1 pink, 2 brown), 20 Hz high-passed."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / SAMPLE_RATE)
    shape = np.maximum(f, 20.0) ** (-exponent / 2.0)
    shape[f < 10.0] = 0.0
    return np.fft.irfft(spectrum * shape, n=n)


def _lowpass_noise(rng: np.random.Generator, n: int, cutoff_hz: float) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / SAMPLE_RATE)
    y = np.fft.irfft(spectrum * (f <= cutoff_hz), n=n)
    return y / (np.std(y) + 1e-12)


def _normalize_rms(y: np.ndarray, dbfs: float = -20.0) -> np.ndarray:
    y = y - y.mean()
    y = y * (10.0 ** (dbfs / 20.0) / (np.sqrt(np.mean(y**2)) + 1e-12))
    return np.clip(y, -0.99, 0.99)


def _to_int16(y: np.ndarray) -> np.ndarray:
    return np.clip(np.round(y * 32767.0), -32768, 32767).astype(np.int16)


# --------------------------------------------------------------------------------------------
# Seeds and the plan (which speaker says what, in which split)
# --------------------------------------------------------------------------------------------


def _rng(seed: int, *key: Any) -> np.random.Generator:
    """A generator seeded by a stable hash of ``(seed, *key)``: independent of order and workers."""
    digest = hashlib.sha256(json.dumps([seed, *key]).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "little"))


def _uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(rng.uniform(bounds[0], bounds[1])) if bounds[1] > bounds[0] else float(bounds[0])


def _plan(config: SynthConfig) -> list[dict[str, Any]]:
    """Speakers with their split, voice, profile and list of clips, in a fixed order."""
    rng = _rng(config.seed, "voices")
    n = config.num_speakers
    variants: list[str] = []
    while len(variants) < n:  # without replacement while the variants last
        variants.extend(config.variants[i] for i in rng.permutation(len(config.variants)))
    n_train, n_val, n_test = config.split_sizes()
    split_order = rng.permutation(n)
    split_of = {}
    for rank, i in enumerate(split_order):
        split_of[int(i)] = (
            "validation" if rank < n_val else "testing" if rank < n_val + n_test else "training"
        )

    speakers, seen_ids = [], set()
    for i in range(n):
        srng = _rng(config.seed, "speaker", i)
        profile = {
            "variant": variants[i],
            "accent": config.accents[int(srng.integers(len(config.accents)))],
            "rate_wpm": round(_uniform(srng, config.rate_wpm), 2),
            "pitch": round(_uniform(srng, config.pitch), 2),
            "pitch_range": round(_uniform(srng, config.pitch_range), 2),
            "highpass_hz": round(_uniform(srng, config.highpass_hz), 1),
            "lowpass_hz": round(_uniform(srng, config.lowpass_hz), 1),
            "tilt_db_per_octave": round(float(srng.uniform(-1, 1)) * config.channel_db / 4, 3),
            "peak_hz": round(float(np.exp(srng.uniform(np.log(300.0), np.log(4000.0)))), 1),
            "peak_db": round(float(srng.uniform(-1, 1)) * config.channel_db, 3),
        }
        if config.channel_db == 0:
            profile.update(
                highpass_hz=0.0, lowpass_hz=float(SAMPLE_RATE), tilt_db_per_octave=0.0, peak_db=0.0
            )
        salt = 0
        while True:  # 8 hex digits like Speech Commands; re-salt on the (unlikely) collision
            key = json.dumps([config.seed, i, salt, profile], sort_keys=True).encode()
            speaker_id = hashlib.sha1(key).hexdigest()[:8]
            if speaker_id not in seen_ids:
                break
            salt += 1
        seen_ids.add(speaker_id)

        clips = [(w, k) for w in config.words for k in range(config.clips_per_word)]
        n_unknown = config.num_unknown_per_speaker
        if n_unknown:
            urng = _rng(config.seed, "unknown", i)
            chosen: list[str] = []
            while len(chosen) < n_unknown:  # spread evenly over the auxiliary words
                chosen.extend(
                    config.unknown_words[j] for j in urng.permutation(len(config.unknown_words))
                )
            counts: dict[str, int] = {}
            for w in chosen[:n_unknown]:
                clips.append((w, counts.get(w, 0)))
                counts[w] = counts.get(w, 0) + 1
        speakers.append(
            {"id": speaker_id, "index": i, "split": split_of[i], "profile": profile, "clips": clips}
        )
    return speakers


def _clip_relpath(speaker_id: str, word: str, k: int) -> str:
    return f"{word}/{speaker_id}_nohash_{k}.wav"


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------


def _temp_name(path: Path) -> Path:
    # Hidden and ending in .tmp: loaders globbing "*.wav" never see it; cleanup finds it.
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def _write_wav(path: Path, audio: np.ndarray) -> None:
    """Write int16 mono PCM atomically: a temp file in the same folder, then os.replace."""
    tmp = _temp_name(path)
    try:
        with open(tmp, "wb") as fh:
            sf.write(fh, audio, SAMPLE_RATE, subtype="PCM_16", format="WAV")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write_text(path: Path, text: str) -> None:
    tmp = _temp_name(path)
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def default_cache_dir() -> Path:
    """Where audiomix keeps generated data.

    Returns:
        Path: ``$AUDIOMIX_CACHE`` if set, else ``$XDG_CACHE_HOME/audiomix``, else
        ``~/.cache/audiomix``. Not created.
    """
    env = os.environ.get("AUDIOMIX_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "audiomix"


# --------------------------------------------------------------------------------------------
# Work done in the worker processes
# --------------------------------------------------------------------------------------------

_NOISE_CACHE: dict[tuple[Any, ...], list[np.ndarray]] = {}


def _background_noise(dataset: Path) -> list[np.ndarray]:
    """The background recordings, read once per worker (the key notices rewritten files)."""
    paths = [dataset / BACKGROUND_DIR / f"{kind}.wav" for kind in _NOISE_KINDS]
    key = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in paths)
    if key not in _NOISE_CACHE:
        _NOISE_CACHE.clear()
        _NOISE_CACHE[key] = [sf.read(p, dtype="float64")[0] for p in paths]
    return _NOISE_CACHE[key]


def _make_noise(kind: str, config: SynthConfig, engine: _Espeak | None) -> np.ndarray:
    n = int(round(config.noise_seconds * SAMPLE_RATE))
    rng = _rng(config.seed, "noise", kind)
    if kind == "white_noise":
        y = rng.standard_normal(n)
    elif kind == "pink_noise":
        y = _spectral_noise(rng, n, 1.0)
    elif kind == "brown_noise":
        y = _spectral_noise(rng, n, 2.0)
    elif kind == "running_tap":
        # Water: band-passed hiss with fast random swells, plus droplet "plinks".
        hiss = np.fft.rfft(rng.standard_normal(n))
        f = np.fft.rfftfreq(n, 1.0 / SAMPLE_RATE)
        hiss = np.fft.irfft(
            hiss * np.exp(-0.5 * (np.log2(np.maximum(f, 1.0) / 2500.0) / 1.2) ** 2), n=n
        )
        swell = 1.0 + 0.5 * np.tanh(_lowpass_noise(rng, n, 25.0))
        y = hiss / (np.std(hiss) + 1e-12) * swell
        t = np.arange(int(0.03 * SAMPLE_RATE)) / SAMPLE_RATE
        for start in rng.integers(0, n - len(t), size=int(config.noise_seconds * 15)):
            freq = rng.uniform(600.0, 3500.0) * (1.0 + 2.0 * t)  # droplets chirp upwards
            y[start : start + len(t)] += (
                rng.uniform(0.5, 2.0)
                * np.sin(2 * np.pi * np.cumsum(freq) / SAMPLE_RATE)
                * np.exp(-t / 0.006)
            )
    elif kind == "machine_hum":
        # An appliance or exercise bike: drifting harmonic hum and rhythmic broadband whoosh.
        f0 = rng.uniform(45.0, 120.0) * (1.0 + 0.03 * _lowpass_noise(rng, n, 0.5))
        phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
        y = sum(np.sin(k * phase + rng.uniform(0, 2 * np.pi)) / k**1.2 for k in range(1, 25))
        cycle = (
            0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.8, 1.8) * np.arange(n) / SAMPLE_RATE) ** 2
        )
        whoosh = _spectral_noise(rng, n, 1.0)
        y = y / np.std(y) + 0.7 * cycle * whoosh / (np.std(whoosh) + 1e-12)
    elif kind == "babble":
        y = _babble(rng, n, config, engine)
    else:  # pragma: no cover - internal
        raise ValueError(f"unknown noise kind {kind!r}")
    return _normalize_rms(y)


def _babble(
    rng: np.random.Generator, n: int, config: SynthConfig, engine: _Espeak | None
) -> np.ndarray:
    """Overlapping synthetic talkers saying everyday sentences (no keywords)."""
    if engine is None:  # pragma: no cover - internal
        raise RuntimeError("babble needs the synthesiser")
    excluded = set(config.words) | set(config.unknown_words)
    vocab = [w for w in _BABBLE_WORDS if w not in excluded]
    out = np.zeros(n)
    for _talker in range(6):
        variant = config.variants[int(rng.integers(len(config.variants)))]
        accent = config.accents[int(rng.integers(len(config.accents)))]
        engine.set_voice(accent, variant)
        stream: list[np.ndarray] = []
        filled, lead = 0, int(rng.integers(0, 2 * SAMPLE_RATE))  # start mid-sentence
        while filled < n + lead:
            sentence = " ".join(
                vocab[int(j)] for j in rng.integers(len(vocab), size=int(rng.integers(4, 12)))
            )
            raw = engine.synth(
                sentence + ".",
                rate=int(rng.uniform(140, 220)),
                pitch=int(rng.uniform(20, 80)),
                pitch_range=int(rng.uniform(30, 80)),
                seed=int(rng.integers(2**31)),
            )
            y = _resample_to_16k(raw, engine.sample_rate)
            y = y / (np.sqrt(np.mean(y**2)) + 1e-12)
            gap = np.zeros(int(rng.uniform(0.05, 0.6) * SAMPLE_RATE))
            stream += [y, gap]
            filled += len(y) + len(gap)
        out += rng.uniform(0.5, 1.0) * np.concatenate(stream)[lead : lead + n]
    # A faint floor: no digital silence when all talkers pause at once.
    return out + 1e-3 * np.sqrt(np.mean(out**2)) * rng.standard_normal(n)


def _noise_task(args: tuple[str, dict[str, Any], str]) -> int:
    dataset, config_dict, kind = args
    path = Path(dataset) / BACKGROUND_DIR / f"{kind}.wav"
    if path.exists():
        return 1
    config = SynthConfig.from_dict(config_dict)
    engine = None
    if kind == "babble":
        engine = _engine()
        engine.reset()
    _write_wav(path, _to_int16(_make_noise(kind, config, engine)))
    return 1


def _speaker_task(args: tuple[str, dict[str, Any], dict[str, Any]]) -> int:
    """Synthesise every clip of one speaker; write the missing ones. Returns the clip count."""
    dataset_str, config_dict, speaker = args
    dataset = Path(dataset_str)
    config = SynthConfig.from_dict(config_dict)
    profile = speaker["profile"]
    todo = [
        not (dataset / _clip_relpath(speaker["id"], w, k)).exists() for w, k in speaker["clips"]
    ]
    if not any(todo):
        return len(todo)
    noises = _background_noise(dataset)
    response = _channel_response(profile)
    engine = _engine()
    engine.reset()  # fresh synthesiser state: the clips depend on this speaker only
    engine.set_voice(profile["accent"], profile["variant"])
    endings = ("", ".", "!", "?", ",")
    for (word, k), missing in zip(speaker["clips"], todo, strict=True):
        rng = _rng(config.seed, "clip", speaker["id"], word, k)
        # Draw everything in a fixed order, and synthesise even the clips that already exist:
        # the synthesiser state carries over from clip to clip within a speaker.
        rate = profile["rate_wpm"] * (1.0 + rng.uniform(-1, 1) * config.rate_jitter)
        pitch = profile["pitch"] + rng.uniform(-1, 1) * config.pitch_jitter
        prange = profile["pitch_range"] + rng.uniform(-1, 1) * config.pitch_jitter
        ending = (
            endings[int(rng.choice(len(endings), p=(0.3, 0.3, 0.15, 0.15, 0.1)))]
            if config.vary_intonation
            else ""
        )
        espeak_seed = int(rng.integers(2**31))
        raw = engine.synth(
            word + ending,
            rate=int(round(np.clip(rate, 80, 450))),
            pitch=int(round(np.clip(pitch, 0, 99))),
            pitch_range=int(round(np.clip(prange, 0, 99))),
            seed=espeak_seed,
        )
        if not missing:
            continue
        speech = _trim(_resample_to_16k(raw, engine.sample_rate, response))
        if len(speech) > CLIP_SAMPLES:  # too slow a speaker: keep the middle second
            start = (len(speech) - CLIP_SAMPLES) // 2
            speech = _fade(speech[start : start + CLIP_SAMPLES].copy())
        peak = np.abs(speech).max() if len(speech) else 0.0
        if peak <= 0:
            raise RuntimeError(f"eSpeak NG produced silence for {word!r} with voice {profile}.")
        speech = speech * (10.0 ** (_uniform(rng, config.gain_db) / 20.0) / peak)
        clip = np.zeros(CLIP_SAMPLES)
        offset = int(rng.integers(0, CLIP_SAMPLES - len(speech) + 1))
        clip[offset : offset + len(speech)] = speech
        speech_power = float(np.mean(speech**2))
        if rng.random() < config.noise_prob:
            noise = noises[int(rng.integers(len(noises)))]
            start = int(rng.integers(0, len(noise) - CLIP_SAMPLES + 1))
            bed = noise[start : start + CLIP_SAMPLES]
            snr = _uniform(rng, config.snr_db)
            clip += bed * math.sqrt(speech_power / (np.mean(bed**2) + 1e-12) / 10.0 ** (snr / 10.0))
        floor_db = _uniform(rng, config.noise_floor_db)
        clip += rng.standard_normal(CLIP_SAMPLES) * 10.0 ** (floor_db / 20.0)
        _write_wav(dataset / _clip_relpath(speaker["id"], word, k), _to_int16(clip))
    return len(todo)


def _worker_init(parent_pid: int | None, inherited_lock_fd: int | None) -> None:
    if inherited_lock_fd is not None:
        # A forked worker shares the parent's lock; closing our copy keeps a killed parent's
        # orphaned workers from holding the lock (and blocking the resume) forever.
        try:
            os.close(inherited_lock_fd)
        except OSError:
            pass
    if parent_pid is None:  # forkserver: our parent is the server, which dies with the caller
        return
    if sys.platform.startswith("linux"):
        try:  # die with the parent (PR_SET_PDEATHSIG)
            ctypes.CDLL(None).prctl(1, signal.SIGTERM)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:  # the parent died before prctl
        os._exit(1)


# --------------------------------------------------------------------------------------------
# Orchestration
# --------------------------------------------------------------------------------------------


class _DatasetLock:
    """An exclusive advisory lock on ``<dataset>/.lock`` (released when the process dies)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / ".lock"
        self.fd: int | None = None

    def __enter__(self) -> _DatasetLock:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no locking
            return self
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"Waiting for another process generating {self.path.parent} ...", file=sys.stderr)
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _check_existing(folder: Path, config: SynthConfig) -> bool:
    """True if ``folder`` is complete for ``config``; raise ValueError if it holds something else."""
    config_path = folder / _CONFIG_FILE
    if config_path.exists():
        found = json.loads(config_path.read_text(encoding="utf-8"))
        expected = config.to_dict()
        if found != expected:
            diff = sorted(k for k in set(found) | set(expected) if found.get(k) != expected.get(k))
            detail = ", ".join(f"{k}: {found.get(k)!r} != {expected.get(k)!r}" for k in diff[:5])
            raise ValueError(
                f"{folder} was generated with a different config ({detail}). Use another "
                f"`root` or `name`, or delete the folder."
            )
        return (folder / _MARKER).exists()
    if folder.exists() and any(p.name != ".lock" for p in folder.iterdir()):
        raise ValueError(
            f"{folder} exists and is not an audiomix synthetic dataset (no {_CONFIG_FILE}); "
            f"use another `root` or `name`."
        )
    return False


def _readme(config: SynthConfig, speakers: list[dict[str, Any]], espeak_version: str) -> str:
    n_train, n_val, n_test = config.split_sizes()
    return (
        "# Synthetic Speech Commands (audiomix)\n\n"
        "Spoken words synthesised with eSpeak NG, laid out like Google Speech Commands v0.02:\n"
        "one folder per word, `<speaker>_nohash_<n>.wav` (16 kHz, 1 s, mono, int16 PCM),\n"
        "`validation_list.txt` and `testing_list.txt` (speakers disjoint across splits) and\n"
        "`_background_noise_/` for cutting `_silence_` clips. No real person's voice is included.\n\n"
        f"- generator: `{config.version}`, config hash `{config.config_hash}` (`{_CONFIG_FILE}`)\n"
        f"- synthesiser: eSpeak NG {espeak_version} (GPL-3.0-or-later), via `espeakng-loader`\n"
        f"- keywords: {', '.join(config.words)}\n"
        f"- auxiliary words (`_unknown_`): {', '.join(config.unknown_words) or '(none)'}\n"
        f"- speakers: {len(speakers)} ({n_train} training, {n_val} validation, {n_test} testing); "
        "see `speakers.tsv`\n"
        f"- clips: {config.num_clips}\n\n"
        "Regenerate with `python -m recipes.speech_commands.synth` and the same config.\n"
    )


def _speakers_tsv(speakers: list[dict[str, Any]]) -> str:
    columns = list(speakers[0]["profile"])
    lines = ["\t".join(["speaker_id", "split", *columns])]
    for s in speakers:
        lines.append("\t".join([s["id"], s["split"], *(str(s["profile"][c]) for c in columns)]))
    return "\n".join(lines) + "\n"


def _default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)


def _progress(total: int, enabled: bool, desc: str) -> Any:
    if enabled:
        try:
            from tqdm import tqdm

            return tqdm(total=total, desc=desc, unit="clip", dynamic_ncols=True)
        except ImportError:
            pass

    class _Null:
        def update(self, n: int = 1) -> None:
            pass

        def close(self) -> None:
            pass

    return _Null()


def generate_dataset(
    root: str | os.PathLike[str] | None = None,
    config: SynthConfig | None = None,
    *,
    name: str | None = None,
    num_workers: int | None = None,
    progress: bool = True,
) -> Path:
    """Generate (or finish, or just find) the synthetic Speech Commands dataset.

    The dataset goes to ``root/<name>`` with ``name = config.folder_name``
    (``<version>-<config hash>``) by default. A folder that is already complete for the same
    config is returned at once, without loading eSpeak NG. An interrupted generation resumes:
    stray temp files are removed, existing clips are kept, missing ones written; the result is
    byte-identical to an uninterrupted run. Two processes asking for the same folder take
    turns (file lock).

    Args:
        root (str or PathLike, optional): Parent folder. (Default:
            ``default_cache_dir() / "speech_commands_synth"``)
        config (SynthConfig, optional): What to generate. (Default: ``SynthConfig()``)
        name (str, optional): Folder name under ``root``. (Default: ``config.folder_name``)
        num_workers (int, optional): Worker processes; ``0`` works in this process.
            (Default: the number of usable CPU cores)
        progress (bool): Show a tqdm progress bar on stderr. (Default: ``True``)

    Returns:
        Path: The dataset folder (contains ``.complete``).

    Raises:
        ValueError: A bad argument, an unknown voice variant or accent, or a folder that holds
            a dataset made with another config.
        ImportError: The dataset must be synthesised but ``espeakng-loader`` is missing.

    Example:
        >>> folder = generate_dataset("data", SynthConfig.quick(), progress=False)
        >>> (folder / "yes").is_dir(), (folder / "testing_list.txt").is_file()
        (True, True)
    """
    if config is None:
        config = SynthConfig()
    if not isinstance(config, SynthConfig):
        raise TypeError(f"`config` must be a SynthConfig, but got {type(config).__name__}.")
    if num_workers is None:
        num_workers = _default_workers()
    _check_int("num_workers", num_workers, minimum=0)
    if name is None:
        name = config.folder_name
    if (
        not isinstance(name, str)
        or not name
        or name in {".", ".."}
        or "/" in name
        or os.sep in name
    ):
        raise ValueError(f"`name` must be a plain folder name, but got {name!r}.")
    root_path = (
        default_cache_dir() / "speech_commands_synth" if root is None else Path(root).expanduser()
    )
    if root_path.exists() and not root_path.is_dir():
        raise ValueError(f"`root` must be a folder, but {root_path} is a file.")
    folder = root_path / name
    if _check_existing(folder, config):
        return folder

    _validate_voices(config.variants, config.accents)  # loads eSpeak NG (ImportError if absent)
    folder.mkdir(parents=True, exist_ok=True)
    with _DatasetLock(folder) as lock:
        if _check_existing(folder, config):  # someone else finished while we waited
            return folder
        _generate(folder, config, num_workers=num_workers, progress=progress, lock_fd=lock.fd)
    return folder


def _generate(
    folder: Path, config: SynthConfig, *, num_workers: int, progress: bool, lock_fd: int | None
) -> None:
    started = time.perf_counter()
    for stray in folder.rglob(".*.tmp"):  # left by a killed run; we hold the lock
        stray.unlink(missing_ok=True)
    _write_text(
        folder / _CONFIG_FILE, json.dumps(config.to_dict(), indent=2, sort_keys=True) + "\n"
    )
    speakers = _plan(config)
    for word in (*config.words, *config.unknown_words, BACKGROUND_DIR):
        (folder / word).mkdir(exist_ok=True)

    config_dict = config.to_dict()
    noise_jobs = [(str(folder), config_dict, kind) for kind in _NOISE_KINDS]
    speaker_jobs = [(str(folder), config_dict, s) for s in speakers]
    bar = _progress(config.num_clips + len(noise_jobs), progress, "synthesising speech commands")
    try:
        if num_workers == 0:
            for job in noise_jobs:
                bar.update(_noise_task(job))
            for job in speaker_jobs:
                bar.update(_speaker_task(job))
        else:
            ctx = multiprocessing.get_context()
            method = ctx.get_start_method()
            inherited = lock_fd if method == "fork" else None
            parent = os.getpid() if method in ("fork", "spawn") else None
            with ctx.Pool(
                min(num_workers, len(speaker_jobs)),
                initializer=_worker_init,
                initargs=(parent, inherited),
            ) as pool:
                # Noise first: the clips cut their noise beds from these recordings.
                for done in pool.imap_unordered(_noise_task, noise_jobs):
                    bar.update(done)
                for done in pool.imap_unordered(_speaker_task, speaker_jobs):
                    bar.update(done)
    finally:
        bar.close()

    lists = {"validation": [], "testing": []}
    for s in speakers:
        if s["split"] in lists:
            lists[s["split"]].extend(_clip_relpath(s["id"], w, k) for w, k in s["clips"])
    missing = [
        rel
        for s in speakers
        for rel in (_clip_relpath(s["id"], w, k) for w, k in s["clips"])
        if not (folder / rel).exists()
    ]
    if missing:  # pragma: no cover - a worker would have raised
        raise RuntimeError(
            f"{len(missing)} clips are missing after generation, e.g. {missing[:3]}."
        )
    _write_text(
        folder / "validation_list.txt", "".join(p + "\n" for p in sorted(lists["validation"]))
    )
    _write_text(folder / "testing_list.txt", "".join(p + "\n" for p in sorted(lists["testing"])))
    _write_text(folder / "speakers.tsv", _speakers_tsv(speakers))
    espeak_version = _engine().version
    _write_text(folder / "README.md", _readme(config, speakers, espeak_version))
    _write_text(
        folder / BACKGROUND_DIR / "README.md",
        "Long synthetic noise recordings (16 kHz, int16): "
        + ", ".join(f"{k}.wav" for k in _NOISE_KINDS)
        + ". Cut 1 s windows from them for the `_silence_` class.\n",
    )
    marker = {
        "config": config.to_dict(),
        "espeak_ng_version": espeak_version,
        "num_clips": config.num_clips,
        "num_speakers": len(speakers),
        "splits": {
            split: sum(s["split"] == split for s in speakers)
            for split in ("training", "validation", "testing")
        },
    }
    _write_text(folder / _MARKER, json.dumps(marker, indent=2, sort_keys=True) + "\n")
    if progress:
        elapsed = time.perf_counter() - started
        print(
            f"Generated {config.num_clips} clips in {folder} in {elapsed:.1f} s.", file=sys.stderr
        )


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def _pair(text: str) -> tuple[float, float]:
    parts = text.replace(",", " ").split()
    if len(parts) != 2:
        raise argparse.ArgumentTypeError(f"expected 'LOW,HIGH', got {text!r}")
    return float(parts[0]), float(parts[1])


def _words(text: str) -> tuple[str, ...]:
    return tuple(w for w in text.replace(",", " ").split() if w)


def _build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m recipes.speech_commands.synth",
        description=(
            "Synthesise a keyword-spotting dataset with eSpeak NG in the Google Speech Commands "
            "v0.02 layout. Prints the dataset folder on stdout."
        ),
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="parent folder (default: $AUDIOMIX_CACHE or ~/.cache/audiomix, /speech_commands_synth)",
    )
    p.add_argument(
        "--name", default=None, help="dataset folder name (default: <version>-<config hash>)"
    )
    p.add_argument(
        "--quick", action="store_true", help="a few hundred clips, for tests (SynthConfig.quick())"
    )
    p.add_argument("--config", type=Path, default=None, help="start from a synth_config.json")
    p.add_argument("--seed", type=int, help="random seed")
    p.add_argument("--speakers", type=int, dest="num_speakers", help="number of speakers")
    p.add_argument("--clips-per-word", type=int, help="clips of each keyword per speaker")
    p.add_argument(
        "--unknown-fraction", type=float, help="share of auxiliary-word (_unknown_) clips, [0, 1)"
    )
    p.add_argument("--val-fraction", type=float, help="share of validation speakers")
    p.add_argument("--test-fraction", type=float, help="share of test speakers")
    p.add_argument("--words", type=_words, help="keywords, comma separated")
    p.add_argument("--unknown-words", type=_words, help="auxiliary words, comma separated")
    p.add_argument(
        "--variants", type=_words, help="voice variants, comma separated (see --list-voices)"
    )
    p.add_argument("--accents", type=_words, help="accents, comma separated (see --list-voices)")
    p.add_argument("--snr-db", type=_pair, help="noise-bed SNR range, 'LOW,HIGH' dB")
    p.add_argument("--noise-prob", type=float, help="probability of a noise bed")
    p.add_argument("--gain-db", type=_pair, help="speech peak level range, 'LOW,HIGH' dBFS")
    p.add_argument("--rate-jitter", type=float, help="per-clip relative rate jitter")
    p.add_argument("--pitch-jitter", type=float, help="per-clip pitch jitter, eSpeak units")
    p.add_argument("--channel-db", type=float, help="microphone colouring strength, dB")
    p.add_argument("--noise-seconds", type=float, help="length of each background noise file")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="worker processes (0: in-process; default: all cores)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--list-voices",
        action="store_true",
        help="print the available variants and accents, then exit",
    )
    return p


def main(argv: Iterable[str] | None = None) -> int:
    """Command-line entry point; see ``--help``."""
    args = _build_parser().parse_args(None if argv is None else list(argv))
    if args.list_voices:
        variants, accents = list_voices()
        print("variants:", ", ".join(variants))
        print("accents:", ", ".join(accents))
        return 0
    overrides = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(SynthConfig)
        if getattr(args, f.name, None) is not None
    }
    if args.config is not None:
        base = json.loads(args.config.read_text(encoding="utf-8"))
        config = SynthConfig.from_dict({**base, **overrides})
    elif args.quick:
        config = SynthConfig.quick(**overrides)
    else:
        config = SynthConfig(**overrides)
    folder = generate_dataset(
        args.out, config, name=args.name, num_workers=args.workers, progress=not args.no_progress
    )
    print(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
