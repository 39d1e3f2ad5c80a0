"""The speaker plan: which speaker says what, with which voice, in which split."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np

from ..common import derive_rng
from .config import SAMPLE_RATE, SynthConfig

__all__ = ["clip_relpath", "plan_speakers", "uniform"]


def uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    """A draw in ``[low, high)``, or ``low`` itself when the range is empty (no draw)."""
    return float(rng.uniform(bounds[0], bounds[1])) if bounds[1] > bounds[0] else float(bounds[0])


def plan_speakers(config: SynthConfig) -> list[dict[str, Any]]:
    """Speakers with their split, voice, profile and list of clips, in a fixed order."""
    rng = derive_rng(config.seed, "voices")
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
        srng = derive_rng(config.seed, "speaker", i)
        profile = {
            "variant": variants[i],
            "accent": config.accents[int(srng.integers(len(config.accents)))],
            "rate_wpm": round(uniform(srng, config.rate_wpm), 2),
            "pitch": round(uniform(srng, config.pitch), 2),
            "pitch_range": round(uniform(srng, config.pitch_range), 2),
            "highpass_hz": round(uniform(srng, config.highpass_hz), 1),
            "lowpass_hz": round(uniform(srng, config.lowpass_hz), 1),
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
            urng = derive_rng(config.seed, "unknown", i)
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


def clip_relpath(speaker_id: str, word: str, k: int) -> str:
    """``<word>/<speaker>_nohash_<k>.wav``, the Speech Commands file name of a clip."""
    return f"{word}/{speaker_id}_nohash_{k}.wav"
