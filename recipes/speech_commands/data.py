"""Google Speech Commands (v0.01 and v0.02) for keyword spotting.

Reads any folder in the layout of the official archives::

    root/<word>/<speaker>_nohash_<n>.wav    one utterance, about 1 s, 16 kHz
    root/_background_noise_/*.wav           long noise recordings
    root/validation_list.txt                relative paths ``word/file.wav``, one a line
    root/testing_list.txt

and serves ``(waveform, label)`` pairs for the two tasks of Warden (2018), "Speech Commands:
A Dataset for Limited-Vocabulary Speech Recognition":

* ``task="12"``: the keywords (by default the ten of the paper), ``_silence_`` (clips cut from
  the background noise) and ``_unknown_`` (every other word). Class order, fixed (the
  TensorFlow reference's, so label indices match its models): ``_silence_, _unknown_, yes, no,
  up, down, left, right, on, off, stop, go``. With your own ``keywords`` the task is the same
  on another vocabulary; ``_silence_`` exists only where ``_background_noise_`` does and
  ``_unknown_`` only where other word folders do.
* ``task="35"``: every word folder found in ``root`` (35 in v0.02, 30 in v0.01), in
  alphabetical order.

This module gathers the public names of the parts, one job each: ``layout.py`` (the split
rule, word folders, list files, background-noise regions, :func:`find_bad_files`),
``audio.py`` (decoding and checking files), ``dataset.py`` (:class:`SpeechCommands`),
``augment.py`` (:class:`BackgroundNoise`, :class:`RandomTimeShift`, :func:`shift_time`:
vectorised over the batch, explicit ``torch.Generator``) and ``label_noise.py``
(:func:`corrupt_labels`, symmetric label noise).
"""

from __future__ import annotations

from .audio import BadAudioError, BadFile
from .augment import BackgroundNoise, RandomTimeShift, shift_time
from .common import BACKGROUND_NOISE_DIR, KEYWORDS
from .dataset import SILENCE, UNKNOWN, SpeechCommands
from .label_noise import corrupt_labels
from .layout import (
    MAX_NUM_WAVS_PER_CLASS,
    SPLITS,
    find_bad_files,
    hash_percentage,
    load_background_noise,
    speaker_id,
    which_set,
)

__all__ = [
    "BACKGROUND_NOISE_DIR",
    "KEYWORDS",
    "MAX_NUM_WAVS_PER_CLASS",
    "SILENCE",
    "SPLITS",
    "UNKNOWN",
    "BackgroundNoise",
    "BadAudioError",
    "BadFile",
    "RandomTimeShift",
    "SpeechCommands",
    "corrupt_labels",
    "find_bad_files",
    "hash_percentage",
    "load_background_noise",
    "shift_time",
    "speaker_id",
    "which_set",
]
