"""The command line: ``python -m recipes.speech_commands.synth --help``."""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Iterable
from pathlib import Path

from .build import generate_dataset
from .config import SynthConfig
from .espeak import list_voices

__all__ = ["main"]


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
        help="parent folder (default: $AUDIOMIX_CACHE or ~/.cache/audiomix, "
        "/speech_commands_synth)",
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
