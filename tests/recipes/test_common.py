"""Tests of the recipe's shared helpers (recipes/speech_commands/common.py)."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from recipes.speech_commands import common
from recipes.speech_commands.common import (
    NullProgress,
    atomic_write,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    derive_rng,
    derive_seed,
    parse_set,
    parse_value,
    progress,
)


def test_atomic_writes_leave_no_temp_and_keep_the_old_file_on_failure(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    atomic_write_text(path, "old\n")
    assert path.read_text() == "old\n"

    def fail(fh: object) -> None:
        fh.write(b"half")  # type: ignore[attr-defined]
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, fail)
    assert path.read_text() == "old\n"  # readers never see a partial file
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]  # and the temp file is gone

    atomic_write_bytes(path, b"\x00\x01", fsync=False)
    assert path.read_bytes() == b"\x00\x01"
    atomic_write_json(path, {"b": 1, "a": [1, 2]}, indent=2, sort_keys=True)
    assert path.read_text() == json.dumps({"a": [1, 2], "b": 1}, indent=2) + "\n"


def test_temp_name_is_hidden_and_ends_in_tmp(tmp_path: Path) -> None:
    # Loaders glob "*.wav" and the synthesiser's resume removes ".*.tmp": the temp file must
    # match the second pattern and never the first.
    seen: list[str] = []

    def spy(fh: object) -> None:
        seen.extend(p.name for p in tmp_path.iterdir())

    atomic_write(tmp_path / "clip.wav", spy, fsync=False)
    assert len(seen) == 1
    assert seen[0].startswith(".clip.wav.") and seen[0].endswith(".tmp")


def test_atomic_torch_save_round_trip(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    common.atomic_torch_save({"w": torch.arange(3)}, tmp_path / "ckpt.pt")
    assert torch.equal(torch.load(tmp_path / "ckpt.pt")["w"], torch.arange(3))


def test_seeds_are_stable_hashes_of_their_keys() -> None:
    # The committed results and the synthetic dataset's bytes depend on these exact values:
    # derive_seed is SHA-256 of repr(keys), derive_rng SHA-256 of the JSON of [seed, *key].
    expected = int.from_bytes(hashlib.sha256(b"(0, 'mixer')").digest()[:8], "little")
    assert derive_seed(0, "mixer") == expected & (2**63 - 1)
    assert derive_seed(0, "mixer") != derive_seed(1, "mixer") != derive_seed(0, "noise", 0)

    digest = hashlib.sha256(b'[0, "clip", "yes", 1]').digest()
    reference = np.random.default_rng(int.from_bytes(digest[:16], "little"))
    assert np.array_equal(derive_rng(0, "clip", "yes", 1).random(4), reference.random(4))
    assert derive_rng(0, "clip", "yes", 1).random() != derive_rng(0, "clip", "yes", 2).random()


def test_parse_set_and_values() -> None:
    pytest.importorskip("yaml")
    assert parse_set("train.epochs=3") == ("train.epochs", 3)
    assert parse_set("data.keywords=[yes, 'no']") == ("data.keywords", [True, "no"])
    assert parse_set("run_dir=a=b") == ("run_dir", "a=b")  # only the first '=' splits
    assert parse_value("null") is None
    assert parse_value("[unclosed") == "[unclosed"  # not YAML: the text itself
    with pytest.raises(ValueError, match=r"--set expects KEY=VALUE, but got 'mixup\.alpha'"):
        parse_set("mixup.alpha")


def test_progress_is_a_null_bar_when_disabled_or_without_tqdm(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bar = progress(10, "work", disable=True)
    assert isinstance(bar, NullProgress)
    bar.update(3)
    bar.set_postfix(loss=1.0)
    bar.close()
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # import fails
    assert isinstance(progress(10, "work"), NullProgress)
