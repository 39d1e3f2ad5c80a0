"""A built-in spoken-keyword dataset, synthesised with eSpeak NG, in the Speech Commands layout.

Nothing can be downloaded when the recipe runs, so this package *makes* a keyword-spotting
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
this package does not need it.

Command line::

    python -m recipes.speech_commands.synth --out DIR            # the default dataset
    python -m recipes.speech_commands.synth --out DIR --quick    # a few hundred clips
    python -m recipes.speech_commands.synth --help

The parts, one job each: ``config`` (:class:`SynthConfig`, the word and voice lists), ``checks``
(argument checks), ``espeak`` (the ctypes binding, :func:`synthesize`), ``dsp`` (resampling,
microphone colouring), ``noise`` (the background recordings), ``speakers`` (the speaker plan),
``workers`` (the per-process tasks), ``build`` (:func:`generate_dataset`) and ``cli``.
"""

from .build import default_cache_dir, generate_dataset
from .cli import main
from .config import (
    AUXILIARY_WORDS,
    BACKGROUND_DIR,
    BACKGROUND_NOISE_DIR,
    CLIP_SAMPLES,
    DEFAULT_ACCENTS,
    DEFAULT_VARIANTS,
    KEYWORDS,
    SAMPLE_RATE,
    SynthConfig,
)
from .espeak import list_voices, synthesize

__all__ = [
    "KEYWORDS",
    "AUXILIARY_WORDS",
    "DEFAULT_ACCENTS",
    "DEFAULT_VARIANTS",
    "SAMPLE_RATE",
    "CLIP_SAMPLES",
    "BACKGROUND_NOISE_DIR",
    "BACKGROUND_DIR",
    "SynthConfig",
    "default_cache_dir",
    "generate_dataset",
    "list_voices",
    "synthesize",
    "main",
]
