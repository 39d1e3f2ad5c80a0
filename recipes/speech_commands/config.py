"""The recipe's configuration and command line: one YAML file (``config.yaml``), dotted-key
overrides (``--set key=value`` or ``--key value``), checked against the defaults' types.
"""

from __future__ import annotations

import argparse
import copy
import difflib
import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from . import robustness as R
from .common import parse_set, parse_value
from .mixers import MIXERS
from .model import KWSNet

__all__ = [
    "CHECKPOINT",
    "DEFAULT_CONFIG",
    "EPOCHS_CSV",
    "METRICS",
    "RESOLVED_CONFIG",
    "RUN_INFO",
    "apply_overrides",
    "build_parser",
    "config_digest",
    "flatten",
    "load_config",
    "parse_args",
]

DEFAULT_CONFIG = Path(__file__).with_name("config.yaml")
CHECKPOINT = "checkpoint.pt"
METRICS = "metrics.json"
EPOCHS_CSV = "epochs.csv"
RUN_INFO = "run_info.json"
RESOLVED_CONFIG = "config.yaml"
# Keys that change how a run looks, not what it computes: a resumed run may differ in them.
_COSMETIC_KEYS = ("quiet", "run_dir", "data.num_workers")
# Sections whose keys are free (checked by their consumer, not against the defaults).
_OPEN_SECTIONS = ("data.synth", "mixup.kwargs")


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value and name not in ("quick",):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def _set_dotted(tree: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node = tree
    for part in parts[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[parts[-1]] = value


def _get_dotted(tree: dict[str, Any], key: str) -> Any:
    node: Any = tree
    for part in key.split("."):
        node = node[part]
    return node


def _check_type(key: str, default: Any, value: Any) -> Any:
    if default is None or value is None:
        return value
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"`{key}` must be true or false, but got {value!r}.")
    elif isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"`{key}` must be an integer, but got {value!r}.")
    elif isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"`{key}` must be a number, but got {value!r}.")
        value = float(value)
    elif isinstance(default, str):
        value = (
            str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value
        )
        if not isinstance(value, str):
            raise ValueError(f"`{key}` must be a string, but got {value!r}.")
    elif isinstance(default, list) and not isinstance(value, list):
        raise ValueError(f"`{key}` must be a list such as {default}, but got {value!r}.")
    return value


def apply_overrides(config: dict[str, Any], overrides: Sequence[tuple[str, Any]]) -> dict[str, Any]:
    """Returns a copy of ``config`` with dotted ``key = value`` overrides applied and checked.

    Raises:
        ValueError: an unknown key (with the closest known ones) or a value of the wrong type.
    """
    config = copy.deepcopy(config)
    known = flatten({k: v for k, v in config.items() if k != "quick"})
    for key, value in overrides:
        key = key.strip().replace("-", "_") if key.startswith(("data", "train")) else key.strip()
        open_section = any(key.startswith(s + ".") for s in _OPEN_SECTIONS)
        if key not in known and not open_section:
            close = difflib.get_close_matches(key, list(known), n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise ValueError(f"unknown config key `{key}`.{hint}")
        if key in known:
            value = _check_type(key, known[key], value)
        _set_dotted(config, key, value)
    return config


def load_config(
    path: str | os.PathLike | None = None,
    overrides: Sequence[tuple[str, Any]] = (),
    *,
    quick: bool = False,
) -> dict[str, Any]:
    """Loads the YAML config, applies the ``quick:`` section if asked, then ``overrides``.

    Args:
        path: a YAML file; None takes the recipe's ``config.yaml``.
        overrides: ``(dotted.key, value)`` pairs, applied in order.
        quick: apply the file's ``quick:`` overrides first.

    Returns:
        dict: the resolved config (without the ``quick:`` section).
    """
    with open(path or DEFAULT_CONFIG, encoding="utf-8") as f:
        config = yaml.safe_load(f) or {}
    quick_section = config.pop("quick", None) or {}
    if quick:
        config = apply_overrides(config, list(quick_section.items()))
    config = apply_overrides(config, overrides)
    _validate(config)
    return config


def _validate(cfg: dict[str, Any]) -> None:
    method = cfg["mixup"]["method"]
    if method not in MIXERS and method != "none":
        raise ValueError(f"`mixup.method` must be one of {['none', *MIXERS]}, but got {method!r}.")
    if not 0.0 <= cfg["train"]["label_noise"] <= 1.0:
        raise ValueError(
            f"`train.label_noise` must be in [0, 1], but got {cfg['train']['label_noise']}."
        )
    if cfg["train"]["epochs"] < 1:
        raise ValueError(f"`train.epochs` must be >= 1, but got {cfg['train']['epochs']}.")
    if cfg["model"]["arch"] not in KWSNet.ARCHS:
        raise ValueError(
            f"`model.arch` must be one of {KWSNet.ARCHS}, but got {cfg['model']['arch']!r}."
        )
    for key, allowed in (
        ("train.optimizer", ("adamw", "sgd")),
        ("train.scheduler", ("onecycle", "cosine", "constant")),
        ("mixup.placement", ("start", "center", "random")),
        ("mixup.spec_domain", ("power", "input")),
        ("data.synth.preset", ("default", "quick")),
    ):
        if _get_dotted(cfg, key) not in allowed:
            raise ValueError(
                f"`{key}` must be one of {allowed}, but got {_get_dotted(cfg, key)!r}."
            )
    for word in cfg["data"]["keywords"]:
        if not isinstance(word, str):
            raise ValueError(
                f"`data.keywords` must hold words, but got {word!r} (YAML reads yes, no, on and "
                'off as booleans: quote them, e.g. --set \'data.keywords=["yes", "no"]\').'
            )
    R.conditions(cfg["robustness"])  # raises on a bad robustness setting


def config_digest(cfg: dict[str, Any]) -> str:
    """Hash of everything in the config that changes results (not ``quiet``, ``run_dir``...)."""
    flat = {k: v for k, v in flatten(cfg).items() if k not in _COSMETIC_KEYS}
    return hashlib.sha256(json.dumps(flat, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _methods_help() -> str:
    return ", ".join(["none", *MIXERS])


def build_parser() -> argparse.ArgumentParser:
    defaults = load_config()
    parser = argparse.ArgumentParser(
        prog="python -m recipes.speech_commands.train",
        description=(
            "Train and evaluate a keyword-spotting CNN on Speech Commands (or the built-in "
            "synthetic copy) with or without mixup. Every config key can be set as "
            "--set key=value or --key value (e.g. --mixup.method spectrogram)."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            f"mixup methods available: {_methods_help()}\n"
            f"default config: {DEFAULT_CONFIG}\n\nconfig keys (default):\n"
            + "\n".join(f"  --{k} {v!r}" for k, v in flatten(defaults).items())
        ),
    )
    parser.add_argument(
        "--config", type=Path, default=None, help="YAML config (default: the recipe's config.yaml)"
    )
    parser.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key (repeatable), value parsed as YAML",
    )
    parser.add_argument(
        "--quick", action="store_true", help="tiny data and 2 epochs (the config's quick: section)"
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue from run_dir/checkpoint.pt if present"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="delete earlier outputs in run_dir first"
    )
    parser.add_argument(
        "--quiet", action="store_true", default=None, help="no progress bars or per-epoch lines"
    )
    parser.add_argument(
        "--run-dir", dest="run_dir", default=None, help="output folder (config: run_dir)"
    )
    parser.add_argument(
        "--data-dir",
        dest="data_dir",
        default=None,
        help="Speech Commands folder, v0.01/v0.02 layout (config: data.dir)",
    )
    parser.add_argument(
        "--download",
        action="store_true",
        default=None,
        help="download Speech Commands v0.02 into the cache first (config: data.download)",
    )
    parser.add_argument("--seed", type=int, default=None, help="config: seed")
    return parser


def parse_args(argv: Sequence[str] | None = None) -> tuple[argparse.Namespace, dict[str, Any]]:
    """Parses the command line into (flags, resolved config)."""
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    overrides: list[tuple[str, Any]] = []
    # --key value / --key=value for any dotted config key
    i = 0
    while i < len(rest):
        token = rest[i]
        if not token.startswith("--") or token == "--":
            parser.error(f"unrecognised argument: {token}")
        key = token[2:]
        if "=" in key:
            key, value = key.split("=", 1)
            i += 1
        else:
            if i + 1 >= len(rest):
                parser.error(f"argument {token} expects a value")
            value = rest[i + 1]
            i += 2
        overrides.append((key, parse_value(value)))
    for item in args.sets:
        try:
            overrides.append(parse_set(item))
        except ValueError as err:
            parser.error(str(err))
    for flag, key in (
        ("run_dir", "run_dir"),
        ("data_dir", "data.dir"),
        ("download", "data.download"),
        ("seed", "seed"),
        ("quiet", "quiet"),
    ):
        if getattr(args, flag) is not None:
            overrides.append((key, getattr(args, flag)))
    try:
        cfg = load_config(args.config, overrides, quick=args.quick)
    except ValueError as err:
        parser.error(str(err))
    return args, cfg
