"""The long background-noise recordings: coloured noise, a running tap, a machine hum, babble."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..common import derive_rng
from .config import SAMPLE_RATE, SynthConfig
from .dsp import lowpass_noise, normalize_rms, resample_to_16k, spectral_noise

if TYPE_CHECKING:
    from .espeak import Espeak

__all__ = ["NOISE_KINDS", "make_noise"]

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
NOISE_KINDS = (
    "white_noise", "pink_noise", "brown_noise", "running_tap", "machine_hum", "babble",
)  # fmt: skip


def make_noise(kind: str, config: SynthConfig, engine: Espeak | None) -> np.ndarray:
    n = int(round(config.noise_seconds * SAMPLE_RATE))
    rng = derive_rng(config.seed, "noise", kind)
    if kind == "white_noise":
        y = rng.standard_normal(n)
    elif kind == "pink_noise":
        y = spectral_noise(rng, n, 1.0)
    elif kind == "brown_noise":
        y = spectral_noise(rng, n, 2.0)
    elif kind == "running_tap":
        # Water: band-passed hiss with fast random swells, plus droplet "plinks".
        hiss = np.fft.rfft(rng.standard_normal(n))
        f = np.fft.rfftfreq(n, 1.0 / SAMPLE_RATE)
        hiss = np.fft.irfft(
            hiss * np.exp(-0.5 * (np.log2(np.maximum(f, 1.0) / 2500.0) / 1.2) ** 2), n=n
        )
        swell = 1.0 + 0.5 * np.tanh(lowpass_noise(rng, n, 25.0))
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
        f0 = rng.uniform(45.0, 120.0) * (1.0 + 0.03 * lowpass_noise(rng, n, 0.5))
        phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
        y = sum(np.sin(k * phase + rng.uniform(0, 2 * np.pi)) / k**1.2 for k in range(1, 25))
        cycle = (
            0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.8, 1.8) * np.arange(n) / SAMPLE_RATE) ** 2
        )
        whoosh = spectral_noise(rng, n, 1.0)
        y = y / np.std(y) + 0.7 * cycle * whoosh / (np.std(whoosh) + 1e-12)
    elif kind == "babble":
        y = _babble(rng, n, config, engine)
    else:  # pragma: no cover - internal
        raise ValueError(f"unknown noise kind {kind!r}")
    return normalize_rms(y)


def _babble(
    rng: np.random.Generator, n: int, config: SynthConfig, engine: Espeak | None
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
            y = resample_to_16k(raw, engine.sample_rate)
            y = y / (np.sqrt(np.mean(y**2)) + 1e-12)
            gap = np.zeros(int(rng.uniform(0.05, 0.6) * SAMPLE_RATE))
            stream += [y, gap]
            filled += len(y) + len(gap)
        out += rng.uniform(0.5, 1.0) * np.concatenate(stream)[lead : lead + n]
    # A faint floor: no digital silence when all talkers pause at once.
    return out + 1e-3 * np.sqrt(np.mean(out**2)) * rng.standard_normal(n)
