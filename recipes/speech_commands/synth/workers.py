"""The work done in the worker processes: one noise recording or one speaker's clips per task.

Tasks take and return plain data (paths, config dicts, counts), so they pickle to any start
method; each writes its files atomically and skips those that exist.
"""

from __future__ import annotations

import ctypes
import math
import os
import signal
import sys
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from ..common import BACKGROUND_NOISE_DIR, atomic_write, derive_rng
from . import espeak
from .config import CLIP_SAMPLES, SAMPLE_RATE, SynthConfig
from .dsp import channel_response, fade, resample_to_16k, to_int16, trim
from .noise import NOISE_KINDS, make_noise
from .speakers import clip_relpath, uniform

__all__ = ["noise_task", "speaker_task", "worker_init", "write_wav"]

_NOISE_CACHE: dict[tuple[Any, ...], list[np.ndarray]] = {}


def write_wav(path: Path, audio: np.ndarray) -> None:
    """Write int16 mono PCM at :data:`SAMPLE_RATE` atomically (see :func:`atomic_write`).

    Args:
        path (Path): The ``.wav`` file.
        audio (np.ndarray): int16 ``(time,)``.
    """
    # No fsync: thousands of small files; an interrupted run is resumed, not trusted.
    atomic_write(
        path,
        lambda fh: sf.write(fh, audio, SAMPLE_RATE, subtype="PCM_16", format="WAV"),
        fsync=False,
    )


def _background_noise(dataset: Path) -> list[np.ndarray]:
    """The background recordings, read once per worker (the key notices rewritten files)."""
    paths = [dataset / BACKGROUND_NOISE_DIR / f"{kind}.wav" for kind in NOISE_KINDS]
    key = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in paths)
    if key not in _NOISE_CACHE:
        _NOISE_CACHE.clear()
        _NOISE_CACHE[key] = [sf.read(p, dtype="float64")[0] for p in paths]
    return _NOISE_CACHE[key]


def noise_task(args: tuple[str, dict[str, Any], str]) -> int:
    """Write one ``_background_noise_`` recording unless it exists. Returns 1 (one task done)."""
    dataset, config_dict, kind = args
    path = Path(dataset) / BACKGROUND_NOISE_DIR / f"{kind}.wav"
    if path.exists():
        return 1
    config = SynthConfig.from_dict(config_dict)
    engine = None
    if kind == "babble":
        engine = espeak.get_engine()
        engine.reset()
    write_wav(path, to_int16(make_noise(kind, config, engine)))
    return 1


def speaker_task(args: tuple[str, dict[str, Any], dict[str, Any]]) -> int:
    """Synthesise every clip of one speaker; write the missing ones. Returns the clip count."""
    dataset_str, config_dict, speaker = args
    dataset = Path(dataset_str)
    config = SynthConfig.from_dict(config_dict)
    profile = speaker["profile"]
    todo = [not (dataset / clip_relpath(speaker["id"], w, k)).exists() for w, k in speaker["clips"]]
    if not any(todo):
        return len(todo)
    noises = _background_noise(dataset)
    response = channel_response(profile)
    engine = espeak.get_engine()
    engine.reset()  # fresh synthesiser state: the clips depend on this speaker only
    engine.set_voice(profile["accent"], profile["variant"])
    endings = ("", ".", "!", "?", ",")
    for (word, k), missing in zip(speaker["clips"], todo, strict=True):
        rng = derive_rng(config.seed, "clip", speaker["id"], word, k)
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
        speech = trim(resample_to_16k(raw, engine.sample_rate, response))
        if len(speech) > CLIP_SAMPLES:  # too slow a speaker: keep the middle second
            start = (len(speech) - CLIP_SAMPLES) // 2
            speech = fade(speech[start : start + CLIP_SAMPLES].copy())
        peak = np.abs(speech).max() if len(speech) else 0.0
        if peak <= 0:
            raise RuntimeError(f"eSpeak NG produced silence for {word!r} with voice {profile}.")
        speech = speech * (10.0 ** (uniform(rng, config.gain_db) / 20.0) / peak)
        clip = np.zeros(CLIP_SAMPLES)
        offset = int(rng.integers(0, CLIP_SAMPLES - len(speech) + 1))
        clip[offset : offset + len(speech)] = speech
        speech_power = float(np.mean(speech**2))
        if rng.random() < config.noise_prob:
            noise = noises[int(rng.integers(len(noises)))]
            start = int(rng.integers(0, len(noise) - CLIP_SAMPLES + 1))
            bed = noise[start : start + CLIP_SAMPLES]
            snr = uniform(rng, config.snr_db)
            clip += bed * math.sqrt(speech_power / (np.mean(bed**2) + 1e-12) / 10.0 ** (snr / 10.0))
        floor_db = uniform(rng, config.noise_floor_db)
        clip += rng.standard_normal(CLIP_SAMPLES) * 10.0 ** (floor_db / 20.0)
        write_wav(dataset / clip_relpath(speaker["id"], word, k), to_int16(clip))
    return len(todo)


def worker_init(parent_pid: int | None, inherited_lock_fd: int | None) -> None:
    """Pool initialiser: drop an inherited lock and die with the parent process."""
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
