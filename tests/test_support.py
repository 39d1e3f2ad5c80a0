"""The support table of docs/support.md, cell by cell: a ✓ must pass its check, a ✗ must fail it.

The table is the documentation's; this test reads it and runs each cell's check on each
transform, so the page cannot claim what the code does not do (nor hide what it does).
"""

from __future__ import annotations

import functools
import multiprocessing as mp
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from torch.export import Dim
from torch.utils.data import DataLoader

import audiomix
from tests._helpers import CUDA

TABLE = Path(__file__).resolve().parents[1] / "docs" / "support.md"
SR = 16000
START_METHODS = [m for m in ("fork", "spawn", "forkserver") if m in mp.get_all_start_methods()]


def _table() -> dict[str, dict[str, str]]:
    rows = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in TABLE.read_text(encoding="utf-8").splitlines()
        if line.startswith("| ")
    ]
    header, *body = rows
    return {re.sub(r"`", "", row[0]): dict(zip(header[1:], row[1:], strict=True)) for row in body}


def _waveform(batch: int = 4, time: int = 4000) -> torch.Tensor:
    return torch.randn(batch, time, generator=torch.Generator().manual_seed(0)) * 0.1


def _specgram(batch: int = 4) -> torch.Tensor:
    return torch.randn(batch, 40, 26, generator=torch.Generator().manual_seed(0))


def _model() -> torch.nn.Module:
    torch.manual_seed(0)  # the same weights for the eager and the compiled copy
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4000, 3))


def _two_mixers() -> dict[str, torch.nn.Module]:
    return {
        "mixup": audiomix.WaveformMixup(alpha=0.4, num_classes=3),
        "cutmix": audiomix.WaveformCutMix(num_classes=3),
    }


# Each transform: a factory of a fresh module (seeded) and of its input (batch first).
CASES: dict[str, tuple[Callable[[], torch.nn.Module], Callable[[], torch.Tensor]]] = {
    "LogMelSpectrogram": (lambda: audiomix.LogMelSpectrogram(n_mels=40, hop_length=160), _waveform),
    "WaveformMixup": (
        lambda: audiomix.WaveformMixup(alpha=0.4, num_classes=3, generator=0),
        _waveform,
    ),
    "SpectrogramMixup": (
        lambda: audiomix.SpectrogramMixup(alpha=0.4, num_classes=3, generator=0),
        _specgram,
    ),
    "WaveformCutMix": (lambda: audiomix.WaveformCutMix(num_classes=3, generator=0), _waveform),
    "SpectrogramCutMix": (
        lambda: audiomix.SpectrogramCutMix(num_classes=3, generator=0),
        _specgram,
    ),
    "SNRMix": (lambda: audiomix.SNRMix(num_classes=3, generator=0), _waveform),
    "BCMix": (lambda: audiomix.BCMix(sample_rate=SR, num_classes=3, generator=0), _waveform),
    "RandomChoiceMix": (lambda: audiomix.RandomChoiceMix(_two_mixers(), generator=0), _waveform),
    "Chain": (
        lambda: audiomix.Chain(
            audiomix.LogMelSpectrogram(n_mels=40, hop_length=160),
            audiomix.SpectrogramMixup(alpha=0.4, num_classes=3, generator=0),
        ),
        _waveform,
    ),
    "ManifoldMixup": (
        lambda: audiomix.ManifoldMixup(
            _model(), ["input", "1"], alpha=0.4, num_classes=3, generator=0
        ),
        _waveform,
    ),
}
LABELS = torch.tensor([0, 1, 2, 0])


def _call(module: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The transform's main output (features or mixed input; logits for ManifoldMixup)."""
    if isinstance(getattr(module, "_orig_mod", module), audiomix.LogMelSpectrogram):
        return module(x)
    return module(x, LABELS.to(x.device))[0]


def _export(module: torch.nn.Module, x: torch.Tensor):
    batch = Dim("batch", min=2)
    if isinstance(module, audiomix.LogMelSpectrogram):
        shapes = ({0: batch, 1: Dim("time", min=module.n_fft // 2 + 1)},)
        return torch.export.export(module, (x,), dynamic_shapes=shapes)
    return torch.export.export(module, (x, LABELS), dynamic_shapes=({0: batch}, {0: batch}))


def check_cpu(name: str) -> None:
    make, data = CASES[name]
    out = _call(make(), data())
    assert out.shape[0] == 4 and torch.isfinite(out).all()


def check_cuda(name: str) -> None:
    if not CUDA:
        pytest.skip("no CUDA device: the CUDA column is checked on machines that have one")
    make, data = CASES[name]
    out = _call(make().cuda(), data().cuda())
    assert out.device.type == "cuda" and torch.isfinite(out).all()
    torch.testing.assert_close(out.cpu(), _call(make(), data()), rtol=1e-3, atol=1e-3)


def check_autograd(name: str) -> None:
    make, data = CASES[name]
    x = data().requires_grad_()
    _call(make(), x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def check_compile(name: str) -> None:
    make, data = CASES[name]
    torch._dynamo.reset()
    compiled = torch.compile(make(), backend="eager")
    torch.testing.assert_close(_call(compiled, data()), _call(make(), data()))


def check_no_graph_breaks(name: str) -> None:
    make, data = CASES[name]
    torch._dynamo.reset()
    _call(torch.compile(make(), backend="eager", fullgraph=True), data())


def check_export(name: str) -> None:
    make, data = CASES[name]
    module = make()
    program = _export(module, data())
    x = _waveform(6, 5000) if data is _waveform else _specgram(6)
    if isinstance(module, audiomix.LogMelSpectrogram):
        torch.testing.assert_close(program.module()(x), module(x), rtol=1e-5, atol=1e-4)


def check_onnx(name: str) -> None:
    make, data = CASES[name]
    module = make()
    if not isinstance(module, audiomix.LogMelSpectrogram):
        _export(module, data())  # what the ONNX exporter builds on
        return
    pytest.importorskip("onnxscript")
    ort = pytest.importorskip("onnxruntime")
    shapes = ({0: Dim("batch", min=2), 1: Dim("time", min=module.n_fft // 2 + 1)},)
    program = torch.onnx.export(module.eval(), (data(),), dynamo=True, dynamic_shapes=shapes)
    session = ort.InferenceSession(program.model_proto.SerializeToString())
    x = _waveform(6, 5000)
    got = torch.from_numpy(session.run(None, {session.get_inputs()[0].name: x.numpy()})[0])
    want = module(x)
    peak = 10 ** (want.amax(dim=(-2, -1), keepdim=True) / 10)
    assert float(((10 ** (got / 10) - 10 ** (want / 10)).abs() / peak).max()) < 1e-4


class _ApplyAll:
    """A collate function that runs every transform on the batch, in the worker."""

    def __init__(self, names: list[str]) -> None:
        self.modules = {name: CASES[name][0]() for name in names}

    def __call__(self, batch):
        torch.set_num_threads(1)
        x = torch.stack(batch)
        out = {}
        for name, module in self.modules.items():
            y = x if CASES[name][1] is _waveform else x[:, :1040].reshape(-1, 40, 26)
            out[name] = bool(torch.isfinite(_call(module, y)).all())
        return out


@functools.cache
def _worker_results(method: str) -> dict[str, bool]:
    names = [n for n, row in _table().items() if row["DataLoader workers"] != "—"]
    clips = list(_waveform(4))
    loader = DataLoader(
        clips,
        batch_size=4,
        num_workers=1,
        collate_fn=_ApplyAll(names),
        multiprocessing_context=method,
    )
    return next(iter(loader))


def check_dataloader_workers(name: str) -> None:
    for method in START_METHODS:
        assert _worker_results(method)[name], f"{name} failed in a {method} worker"


CHECKS = {
    "CPU": check_cpu,
    "CUDA": check_cuda,
    "autograd": check_autograd,
    "torch.compile": check_compile,
    "no graph breaks": check_no_graph_breaks,
    "torch.export": check_export,
    "ONNX": check_onnx,
    "DataLoader workers": check_dataloader_workers,
}


def _cells():
    for name, row in _table().items():
        for column, mark in row.items():
            yield pytest.param(name, column, mark, id=f"{name}-{column}")


# Wrappers of another module (a length rule, a training-only flag): they support what the
# module they wrap supports.
WRAPPERS = {"WithLengths", "TrainingOnly"}


def test_the_table_has_a_row_for_every_public_transform():
    modules = {
        name
        for name in audiomix.__all__
        if isinstance(getattr(audiomix, name), type)
        and issubclass(getattr(audiomix, name), torch.nn.Module)
        and not getattr(audiomix, name).__module__.startswith("audiomix.losses")
    } - WRAPPERS
    assert modules == set(_table()), "docs/support.md and the public transforms differ"
    assert set(CASES) == set(_table())
    assert all(set(row) == set(CHECKS) for row in _table().values())


@pytest.mark.slow
@pytest.mark.parametrize("name, column, mark", list(_cells()))
def test_support_cell(name, column, mark):
    torch.set_num_threads(1)
    check = CHECKS[column]
    if mark == "✓":
        check(name)
    elif mark == "✗":
        with pytest.raises(Exception):  # noqa: B017 - any failure of the check is the ✗
            check(name)
    else:
        assert mark == "—", f"unknown mark {mark!r} in docs/support.md ({name}, {column})"
