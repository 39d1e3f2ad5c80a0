"""LogMelSpectrogram as a deployable front end: torch.export, ONNX, torch.jit.trace, torch.compile.

Each captured graph runs at other batch sizes and lengths than the one it was captured with and
is compared with the eager module. The NaN/Inf scan is skipped while a graph is captured (it
needs the values on the host) and stays on in eager mode.
"""

from __future__ import annotations

import warnings

import pytest
import torch
from torch.export import Dim

from audiomix import Chain, LogMelSpectrogram, SpectrogramMixup
from tests._helpers import chirp, harmonics, noise

SR = 16000
# (batch, time) pairs the captured graphs run at; they are captured at (2, 16000).
SHAPES = [(1, 300), (5, 8000), (48, 16000)]


def _logmel(**kwargs) -> LogMelSpectrogram:
    return LogMelSpectrogram(sample_rate=SR, n_fft=400, hop_length=160, n_mels=40, **kwargs).eval()


def _batch(batch: int, time: int, seed: int = 0) -> torch.Tensor:
    return noise(batch, time, seed=seed, scale=0.1)


def _speechlike() -> torch.Tensor:
    """A harmonic tone, a chirp and noise: spectra with 80 dB of range below their peak."""
    return torch.stack(
        [harmonics(SR, SR).float(), chirp(SR, SR).float(), noise(SR, seed=7, scale=0.1)]
    )


def _dynamic(logmel: LogMelSpectrogram):
    # Reflect padding needs more than n_fft // 2 samples: export states it as the time range.
    return ({0: Dim("batch"), 1: Dim("time", min=logmel.n_fft // 2 + 1)},)


def test_torch_export_dynamic_batch_and_time():
    logmel = _logmel()
    program = torch.export.export(logmel, (_batch(2, SR),), dynamic_shapes=_dynamic(logmel))
    exported = program.module()
    for i, (batch, time) in enumerate(SHAPES):
        x = _batch(batch, time, seed=i)
        torch.testing.assert_close(exported(x), logmel(x), rtol=1e-5, atol=1e-4)


def test_torch_export_keeps_the_length_limit_as_its_range():
    logmel = _logmel()
    with pytest.raises(Exception, match=r"time.*min=201"):
        torch.export.export(
            logmel, (_batch(2, SR),), dynamic_shapes=({0: Dim("batch"), 1: Dim("time")},)
        )


def _onnx_session(logmel, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    path = tmp_path / "logmel.onnx"
    program = torch.onnx.export(
        logmel, (_batch(2, SR),), dynamo=True, dynamic_shapes=_dynamic(logmel), verbose=False
    )
    program.save(str(path))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda x: torch.from_numpy(session.run(None, {name: x.numpy()})[0])


def test_onnx_matches_eager_within_the_stated_tolerance(tmp_path):
    """onnxruntime's FFT rounds differently from torch's: the power differs by a few 1e-6 of
    each clip's peak. In dB that is < 0.01 dB within 40 dB of the peak and grows towards the
    top_db floor (a tone's 80 dB range reaches ~0.1 dB there); torchaudio's own MelSpectrogram +
    AmplitudeToDB exported the same way differs by the same amounts."""
    logmel = _logmel()
    run = _onnx_session(logmel, tmp_path)
    for i, (batch, time) in enumerate(SHAPES):
        x = _batch(batch, time, seed=i)
        torch.testing.assert_close(run(x), logmel(x), rtol=0, atol=0.01)
    x = _speechlike()
    got, want = run(x), logmel(x)
    assert got.shape == want.shape
    peak = want.amax(dim=(-2, -1), keepdim=True)
    power_error = (10 ** (got / 10) - 10 ** (want / 10)).abs() / 10 ** (peak / 10)
    assert float(power_error.max()) < 1e-4
    near_peak = want > peak - 40
    assert float((got - want).abs()[near_peak].max()) < 0.01
    assert float((got - want).abs().max()) < 0.5


def test_jit_trace_runs_at_other_batch_sizes_and_lengths():
    logmel = _logmel()
    with warnings.catch_warnings():
        warnings.simplefilter("error", torch.jit.TracerWarning)  # the checks do not leak any
        warnings.filterwarnings("ignore", "`torch.jit.trace", category=DeprecationWarning)
        warnings.filterwarnings("ignore", "`torch.jit.trace", category=FutureWarning)
        traced = torch.jit.trace(logmel, _batch(2, SR))
    for i, (batch, time) in enumerate(SHAPES):
        x = _batch(batch, time, seed=i)
        torch.testing.assert_close(traced(x), logmel(x), rtol=1e-5, atol=1e-4)


def test_torch_compile_without_graph_breaks():
    logmel = _logmel()
    explanation = torch._dynamo.explain(logmel)(_batch(4, SR))
    assert explanation.graph_break_count == 0, explanation.break_reasons
    compiled = torch.compile(logmel, dynamic=True, fullgraph=True, backend="eager")
    for i, (batch, time) in enumerate(SHAPES):
        x = _batch(batch, time, seed=i)
        torch.testing.assert_close(compiled(x), logmel(x), rtol=1e-5, atol=1e-4)


def test_compiled_chain_breaks_no_graph_in_the_front_end():
    torch._dynamo.reset()
    chain = Chain(_logmel(), SpectrogramMixup(alpha=0.4, num_classes=5, generator=0)).train()
    labels = torch.arange(4) % 5
    explanation = torch._dynamo.explain(chain)(_batch(4, SR), labels)
    sites = [
        frame.filename for reason in explanation.break_reasons for frame in reason.user_stack[-1:]
    ]
    assert not [s for s in sites if s.endswith("_logmel.py") or s.endswith("_spectral.py")], sites


def test_eager_still_rejects_nan_and_inf():
    logmel = _logmel()
    for bad in (float("nan"), float("inf")):
        x = _batch(2, SR)
        x[1, 100] = bad
        with pytest.raises(ValueError, match="`waveform` contains NaN or Inf"):
            logmel(x)


def test_captured_graphs_pass_nan_through():
    # What a deployed front end does with a NaN: it propagates, as in torchaudio's transforms.
    logmel = _logmel()
    program = torch.export.export(logmel, (_batch(2, SR),), dynamic_shapes=_dynamic(logmel))
    x = _batch(2, SR)
    x[1, 100] = float("nan")
    out = program.module()(x)
    assert torch.isnan(out[1]).any()
    torch.testing.assert_close(out[0], logmel(x[:1])[0])


def test_capture_path_equals_the_eager_path():
    # The graph path (torchaudio's arithmetic on the whole batch) and the CPU fast path (chunks,
    # hypot on split planes) give the same mel power.
    logmel = _logmel()
    x = torch.cat([_speechlike(), _batch(5, SR)])
    torch.testing.assert_close(
        logmel._mel_power_graph(x), logmel._mel_power(x), rtol=1e-6, atol=1e-9
    )
