"""eSpeak NG through ``ctypes``: the engine, the voice list and :func:`synthesize`.

eSpeak NG (GPL-3.0-or-later) comes from the PyPI package ``espeakng-loader`` (the ``speech``
extra). It is loaded at run time, the first time :func:`get_engine` is called; importing this
module does not need it.
"""

from __future__ import annotations

import ctypes
import difflib
import os
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from .checks import check_names, check_number
from .dsp import resample_to_16k

__all__ = ["Espeak", "get_engine", "list_voices", "synthesize", "validate_voices"]

_INSTALL_HINT = (
    "Speech synthesis needs eSpeak NG from the `espeakng-loader` package; install the "
    "`speech` extra: pip install 'audiomix[speech]'."
)


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


class Espeak:
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
            if _still_loaded(self.lib_path) and not Espeak._warned_shared:
                Espeak._warned_shared = True
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
        """The eSpeak NG version string, e.g. ``"1.52.0"``."""
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
        """Select ``<accent>+<variant>``; ValueError if eSpeak NG does not know it."""
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


_ENGINE: Espeak | None = None


def get_engine() -> Espeak:
    """The lazily created engine (raises ImportError without espeakng-loader).

    A forked worker inherits the parent's engine and, with it, the only handle on the library,
    so that its :meth:`Espeak.reset` really unloads the library.
    """
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = Espeak()
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
    return get_engine().list_voices()


def validate_voices(
    variants: Sequence[str],
    accents: Sequence[str],
    *,
    variant_arg: str = "variants",
    accent_arg: str = "accents",
) -> None:
    """Raise ValueError naming unknown variants or accents, with close names as hints."""
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
    check_number("rate_wpm", rate_wpm, low=80, high=450)
    check_number("pitch", pitch, low=0, high=99)
    check_number("pitch_range", pitch_range, low=0, high=99)
    check_names("variant", (variant,))
    check_names("accent", (accent,))
    validate_voices([variant], [accent], variant_arg="variant", accent_arg="accent")
    engine = get_engine()
    engine.reset()
    engine.set_voice(accent, variant)
    raw = engine.synth(
        text, rate=round(rate_wpm), pitch=round(pitch), pitch_range=round(pitch_range), seed=seed
    )
    return resample_to_16k(raw, engine.sample_rate).astype(np.float32)
