"""What the synthetic dataset is made of: the word lists, the voices and :class:`SynthConfig`."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from ..common import BACKGROUND_NOISE_DIR, KEYWORDS
from .checks import (
    check_fraction,
    check_int,
    check_names,
    check_number,
    check_range,
    check_words,
)

__all__ = [
    "AUXILIARY_WORDS",
    "BACKGROUND_NOISE_DIR",
    "CLIP_SAMPLES",
    "DEFAULT_ACCENTS",
    "DEFAULT_VARIANTS",
    "KEYWORDS",
    "SAMPLE_RATE",
    "SynthConfig",
]

SAMPLE_RATE = 16_000
"""Sample rate of every written file, in Hz (as in Speech Commands)."""
CLIP_SAMPLES = SAMPLE_RATE  # 1 s clips
BACKGROUND_DIR = BACKGROUND_NOISE_DIR  # the older name, kept for importers

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
        check_int("seed", self.seed, minimum=0)
        check_words("words", self.words, allow_empty=False)
        check_words("unknown_words", self.unknown_words, allow_empty=True)
        overlap = sorted(set(self.words) & set(self.unknown_words))
        if overlap:
            raise ValueError(
                f"`words` and `unknown_words` must be disjoint, but both contain {overlap}."
            )
        check_int("num_speakers", self.num_speakers, minimum=1)
        check_int("clips_per_word", self.clips_per_word, minimum=1)
        check_fraction("val_fraction", self.val_fraction)
        check_fraction("test_fraction", self.test_fraction)
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
        check_fraction("unknown_fraction", self.unknown_fraction)
        if self.unknown_fraction > 0 and not self.unknown_words:
            raise ValueError("`unknown_fraction` > 0 needs at least one of `unknown_words`.")
        check_names("variants", self.variants)
        check_names("accents", self.accents)
        check_range("rate_wpm", self.rate_wpm, low=80.0, high=450.0)
        check_range("pitch", self.pitch, low=0.0, high=99.0)
        check_range("pitch_range", self.pitch_range, low=0.0, high=99.0)
        check_number("rate_jitter", self.rate_jitter, low=0.0, high=0.5)
        check_number("pitch_jitter", self.pitch_jitter, low=0.0, high=50.0)
        if not isinstance(self.vary_intonation, bool):
            raise TypeError(f"`vary_intonation` must be a bool, but got {self.vary_intonation!r}.")
        check_range("gain_db", self.gain_db, high=0.0)
        check_fraction("noise_prob", self.noise_prob, inclusive=True)
        check_range("snr_db", self.snr_db, low=-30.0, high=100.0)
        check_range("noise_floor_db", self.noise_floor_db, high=0.0)
        check_number("channel_db", self.channel_db, low=0.0, high=40.0)
        check_range("highpass_hz", self.highpass_hz, low=0.0, high=2000.0)
        check_range("lowpass_hz", self.lowpass_hz, low=1000.0, high=SAMPLE_RATE / 2)
        check_number("noise_seconds", self.noise_seconds, low=2.0, high=600.0)
