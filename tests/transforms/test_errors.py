"""Every error of the modules: type, and a message naming the argument and the value."""

import re

import pytest
import torch

from audiomix import (
    BCMix,
    LogMelSpectrogram,
    MixParams,
    SNRMix,
    SoftTargetCrossEntropy,
    SpectrogramCutMix,
    SpectrogramMixup,
    WaveformCutMix,
    WaveformMixup,
)
from audiomix.transforms import MixerOptions


def E(pattern):  # noqa: N802
    return re.escape(pattern)


WAVE = torch.zeros(4, 100)
SPEC = torch.zeros(4, 8, 10)
LABELS = torch.tensor([0, 1, 2, 0])
MODULES = [WaveformMixup, SpectrogramMixup]


# --- construction ------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", MODULES)
@pytest.mark.parametrize(
    "kw, exc, pattern",
    [
        (dict(alpha=0), ValueError, "`alpha` must be a finite number > 0, but got 0.0."),
        (dict(alpha=-1), ValueError, "`alpha` must be a finite number > 0, but got -1.0."),
        (dict(alpha=float("nan")), ValueError, "`alpha` must be a finite number > 0, but got nan."),
        (dict(alpha=float("inf")), ValueError, "`alpha` must be a finite number > 0, but got inf."),
        (dict(alpha="0.2"), TypeError, "`alpha` must be a real number, but got str."),
        (dict(p=1.01), ValueError, "`p` must be in [0, 1], but got 1.01."),
        (dict(p=-0.5), ValueError, "`p` must be in [0, 1], but got -0.5."),
        (
            dict(label_smoothing=1.0),
            ValueError,
            "`label_smoothing` must be in [0, 1), but got 1.0.",
        ),
        (
            dict(label_smoothing=-0.01),
            ValueError,
            "`label_smoothing` must be in [0, 1), but got -0.01.",
        ),
        (dict(num_classes=0), ValueError, "`num_classes` must be >= 1, but got 0."),
        (dict(num_classes="12"), TypeError, "`num_classes` must be an int, but got str."),
        (
            dict(union=True),
            ValueError,
            "`union=True` is for multi-label targets; pass `multilabel=True`.",
        ),
        (
            dict(placement="middle"),
            ValueError,
            "`placement` must be one of 'start', 'center', 'random', but got 'middle'.",
        ),
        (dict(generator=-1), ValueError, "`generator` seed must be >= 0, but got -1."),
        (
            dict(generator="seed"),
            TypeError,
            "`generator` must be None, an int seed or a torch.Generator, but got str.",
        ),
        (
            dict(generator=1.5),
            TypeError,
            "`generator` must be None, an int seed or a torch.Generator, but got float.",
        ),
    ],
)
def test_bad_construction(cls, kw, exc, pattern):
    with pytest.raises(exc, match=E(pattern)):
        cls(**kw)


@pytest.mark.parametrize(
    "cls",
    [WaveformMixup, SpectrogramMixup, WaveformCutMix, SpectrogramCutMix, SNRMix, BCMix],
)
def test_unknown_option_names_the_mixer(cls):
    # Subclasses forward their options to the base: the error names the class the user called
    # and lists the shared options, not Mixer.__init__.
    required = {"sample_rate": 16000} if cls is BCMix else {}
    with pytest.raises(TypeError) as info:
        cls(num_classes=3, lamda=0.5, **required)
    message = str(info.value)
    assert message.startswith(f"{cls.__name__}() got an unexpected keyword argument 'lamda'")
    assert all(name in message for name in MixerOptions.__annotations__)


def test_mixer_options_match_the_base_signature():
    import inspect

    from audiomix.transforms import Mixer

    keyword_only = [
        name
        for name, param in inspect.signature(Mixer.__init__).parameters.items()
        if param.kind is inspect.Parameter.KEYWORD_ONLY
    ]
    assert keyword_only == list(MixerOptions.__annotations__)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA generator")
def test_generator_must_be_on_cpu():
    g = torch.Generator(device="cuda")
    with pytest.raises(ValueError, match=E("`generator` must be a CPU generator")):
        WaveformMixup(generator=g)


@pytest.mark.parametrize(
    "kw, pattern",
    [
        (dict(scale="log"), "`scale` must be one of 'db', 'power', 'amplitude', but got 'log'."),
        (dict(domain="db"), "`domain` must be one of 'power', 'input', but got 'db'."),
        (dict(amin=0.0), "`amin` must be > 0, but got 0.0."),
    ],
)
def test_spectrogram_scale_and_domain(kw, pattern):
    with pytest.raises(ValueError, match=E(pattern)):
        SpectrogramMixup(**kw)


def test_loss_reduction():
    with pytest.raises(
        ValueError,
        match=E("`reduction` must be one of 'mean', 'sum', 'none', but got 'batchmean'."),
    ):
        SoftTargetCrossEntropy("batchmean")
    with pytest.raises(
        ValueError, match=E("`logits` and `targets` must both have shape (batch, num_classes)")
    ):
        SoftTargetCrossEntropy()(torch.zeros(2, 3), torch.zeros(3, 3))


# --- calls -------------------------------------------------------------------------------------


def _call(cls, x=None, labels=LABELS, lengths=None, **kw):
    x = (WAVE if cls is WaveformMixup else SPEC) if x is None else x
    m = cls(num_classes=3, generator=0, **kw)
    return m(x, labels) if lengths is None else m(x, labels, lengths)


@pytest.mark.parametrize(
    "shape, pattern",
    [
        (
            (100,),
            "`waveform` must have shape (batch, time) or (batch, channels, time) (2 to 3 dims), "
            "but got shape (100,).",
        ),
        (
            (4, 1, 2, 100),
            "`waveform` must have shape (batch, time) or (batch, channels, time) (2 to 3 dims), "
            "but got shape (4, 1, 2, 100).",
        ),
    ],
)
def test_waveform_rank(shape, pattern):
    with pytest.raises(ValueError, match=E(pattern)):
        _call(WaveformMixup, torch.zeros(shape))


@pytest.mark.parametrize(
    "shape, pattern",
    [
        (
            (4, 100),
            "`specgram` must have shape (batch, n_mels, frames) or (batch, channels, n_mels, "
            "frames) (3 to 4 dims), but got shape (4, 100).",
        ),
        (
            (4, 1, 1, 8, 10),
            "`specgram` must have shape (batch, n_mels, frames) or (batch, channels, n_mels, "
            "frames) (3 to 4 dims), but got shape (4, 1, 1, 8, 10).",
        ),
    ],
)
def test_spectrogram_rank(shape, pattern):
    with pytest.raises(ValueError, match=E(pattern)):
        _call(SpectrogramMixup, torch.zeros(shape))


@pytest.mark.parametrize("cls, name", [(WaveformMixup, "waveform"), (SpectrogramMixup, "specgram")])
@pytest.mark.parametrize("dtype", [torch.int16, torch.int32, torch.uint8])
def test_integer_audio(cls, name, dtype):
    x = (WAVE if cls is WaveformMixup else SPEC).to(dtype)
    with pytest.raises(
        TypeError,
        match=E(
            f"`{name}` must have a floating dtype (float16, bfloat16, float32, float64), but got "
            f"{dtype}. Convert integer PCM first"
        ),
    ):
        _call(cls, x)


@pytest.mark.parametrize("cls, name", [(WaveformMixup, "waveform"), (SpectrogramMixup, "specgram")])
def test_not_a_tensor(cls, name):
    with pytest.raises(TypeError, match=E(f"`{name}` must be a torch.Tensor, but got list.")):
        cls()([[0.0]])


@pytest.mark.parametrize("cls, name", [(WaveformMixup, "waveform"), (SpectrogramMixup, "specgram")])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_rejected_by_default_allowed_on_request(cls, name, value):
    x = (WAVE if cls is WaveformMixup else SPEC).clone()
    x[1, ..., 3] = value
    with pytest.raises(
        ValueError,
        match=E(
            f"`{name}` contains NaN or Inf values. Clean the input, or pass `check_finite=False` "
            "to mix it anyway."
        ),
    ):
        _call(cls, x)
    out, _ = _call(cls, x, check_finite=False)
    if cls is SpectrogramMixup and value == -float("inf"):
        assert torch.isfinite(out).all()  # -inf dB is zero power: silence, a valid dB value
    else:
        assert not torch.isfinite(out).all()


@pytest.mark.parametrize(
    "cls, name, shape",
    [
        (WaveformMixup, "waveform", (4, 0)),
        (WaveformMixup, "waveform", (0, 100)),
        (WaveformMixup, "waveform", (4, 0, 100)),
        (SpectrogramMixup, "specgram", (4, 8, 0)),
        (SpectrogramMixup, "specgram", (4, 0, 10)),
    ],
)
def test_empty_audio(cls, name, shape):
    along_time = shape[-1] == 0
    pattern = f"`{name}` is empty{' along time' if along_time else ''}: shape {shape}."
    with pytest.raises(ValueError, match=E(pattern)):
        _call(cls, torch.zeros(shape), labels=None)


@pytest.mark.parametrize("cls, name", [(WaveformMixup, "waveform"), (SpectrogramMixup, "specgram")])
def test_batch_sizes_differ(cls, name):
    with pytest.raises(
        ValueError, match=E(f"{name} and labels have different batch sizes: 4 != 5.")
    ):
        _call(cls, labels=torch.tensor([0, 1, 2, 0, 1]))
    with pytest.raises(
        ValueError, match=E(f"{name} and labels have different batch sizes: 4 != a scalar.")
    ):
        _call(cls, labels=torch.tensor(1))
    with pytest.raises(
        ValueError,
        match=E(
            "`lengths` and the audio have different batch sizes: `lengths` has shape (3,), "
            "expected (4,)."
        ),
    ):
        _call(cls, lengths=torch.tensor([5, 5, 5]))


@pytest.mark.parametrize("cls", MODULES)
@pytest.mark.parametrize(
    "lengths, exc, pattern",
    [
        (
            torch.tensor([10, 0, 5, 3]),
            ValueError,
            "`lengths` must be in [1, 10] (the padded length), but got values in [0, 10].",
        ),
        (
            torch.tensor([-1, 2, 5, 3]),
            ValueError,
            "`lengths` must be in [1, 10] (the padded length), but got values in [-1, 5].",
        ),
        (
            torch.tensor([10, 11, 5, 3]),
            ValueError,
            "`lengths` must be in [1, 10] (the padded length), but got values in [3, 11].",
        ),
        (
            torch.tensor([10.0, 1.0, 5.0, 3.0]),
            TypeError,
            "`lengths` must have an integer dtype, but got torch.float32.",
        ),
        ([10, 1, 5, 3], TypeError, "`lengths` must be a torch.Tensor, but got list."),
    ],
)
def test_bad_lengths(cls, lengths, exc, pattern):
    x = torch.zeros(4, 10) if cls is WaveformMixup else torch.zeros(4, 8, 10)
    with pytest.raises(exc, match=E(pattern)):
        _call(cls, x, lengths=lengths)


@pytest.mark.parametrize("cls", MODULES)
@pytest.mark.parametrize(
    "labels, kw, exc, pattern",
    [
        (
            torch.tensor([0, 1, 3, 0]),
            {},
            ValueError,
            "`labels` must be class indices in [0, 2], but got values in [0, 3].",
        ),
        (
            torch.tensor([0.0, 1.0, 2.0, 0.0]),
            {},
            TypeError,
            "`labels` of shape (batch,) are class indices and need an integer dtype, but got "
            "torch.float32.",
        ),
        (
            torch.zeros(4, 3, 1, 1),
            {},
            ValueError,
            "`labels` must be class indices (batch,), targets (batch, num_classes) or frame "
            "targets (batch, frames, classes), but got shape (4, 3, 1, 1).",
        ),
        (
            torch.zeros(4, 3, 1),
            {},
            ValueError,
            "`labels` have 3 frames, but the audio has",
        ),
        (
            torch.full((4, 3), 0.5),
            {},
            ValueError,
            "single-label `labels` must have rows that sum to 1, but a row sums to 1.5",
        ),
        (
            torch.eye(4),
            {},
            ValueError,
            "`labels` have 4 classes but `num_classes` is 3: shape (4, 4).",
        ),
        ([0, 1, 2, 0], {}, TypeError, "`labels` must be a torch.Tensor, but got list."),
        (
            torch.tensor([0, 1, 2, 0]),
            dict(multilabel=True),
            ValueError,
            "`multilabel=True` needs multi-hot `labels` of shape (batch, num_classes), but got "
            "class indices of shape (4,).",
        ),
    ],
)
def test_bad_labels(cls, labels, kw, exc, pattern):
    with pytest.raises(exc, match=E(pattern)):
        _call(cls, labels=labels, **kw)


def test_labels_need_num_classes():
    with pytest.raises(
        ValueError, match=E("labels are class indices, so `num_classes` is required.")
    ):
        WaveformMixup(generator=0)(WAVE, LABELS)


@pytest.mark.parametrize("cls, name", [(WaveformMixup, "waveform"), (SpectrogramMixup, "specgram")])
def test_devices_differ(cls, name):
    # The "meta" device stands in for a second device on a CPU-only machine.
    with pytest.raises(
        ValueError, match=E(f"`{name}` and `labels` are on different devices: cpu != meta.")
    ):
        _call(cls, labels=torch.zeros(4, dtype=torch.int64, device="meta"))
    with pytest.raises(
        ValueError, match=E(f"`{name}` and `lengths` are on different devices: cpu != meta.")
    ):
        _call(cls, lengths=torch.ones(4, dtype=torch.int64, device="meta"))


@pytest.mark.parametrize("cls", MODULES)
def test_params_for_another_batch(cls):
    params = MixParams(torch.ones(3), torch.arange(3), torch.ones(3, dtype=torch.bool))
    with pytest.raises(
        ValueError, match=E("`params` were drawn for a batch of (3,), but the batch has 4 samples.")
    ):
        cls(num_classes=3, generator=0)(
            WAVE if cls is WaveformMixup else SPEC, LABELS, params=params
        )


# --- LogMelSpectrogram -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kw, pattern",
    [
        (dict(sample_rate=0), "`sample_rate` must be > 0, but got 0."),
        (dict(n_fft=0), "`n_fft` and `n_mels` must be > 0, but got 0, 128."),
        (dict(n_mels=0), "`n_fft` and `n_mels` must be > 0, but got 400, 0."),
        (dict(win_length=500), "`win_length` must be in [1, n_fft=400], but got 500."),
        (dict(hop_length=0), "`hop_length` must be > 0, but got 0."),
        (
            dict(f_max=9000.0),
            "`f_max` must be in (f_min=0.0, sample_rate / 2 = 8000.0], but got 9000.0.",
        ),
        (
            dict(f_min=100.0, f_max=50.0),
            "`f_max` must be in (f_min=100.0, sample_rate / 2 = 8000.0], but got 50.0.",
        ),
        (dict(top_db=-1.0), "`top_db` must be >= 0 or None, but got -1.0."),
        (dict(amin=0.0), "`amin` and `ref` must be > 0, but got 0.0, 1.0."),
        (dict(ref=0.0), "`amin` and `ref` must be > 0, but got 1e-10, 0.0."),
    ],
)
def test_logmel_bad_construction(kw, pattern):
    with pytest.raises(ValueError, match=E(pattern)):
        LogMelSpectrogram(**kw)


@pytest.mark.parametrize(
    "x, exc, pattern",
    [
        (
            torch.zeros(2, 100, dtype=torch.int16),
            TypeError,
            "`waveform` must have a floating dtype (float16, bfloat16, float32, float64), but got "
            "torch.int16.",
        ),
        (
            torch.tensor(0.0),
            ValueError,
            "`waveform` must have shape (..., time) (>= 1 dims), but got shape ().",
        ),
        (torch.zeros(2, 0), ValueError, "`waveform` is empty along time: shape (2, 0)."),
        (torch.zeros(0, 100), ValueError, "`waveform` is empty: shape (0, 100)."),
        (torch.full((2, 100), float("nan")), ValueError, "`waveform` contains NaN or Inf values."),
        (
            torch.zeros(2, 100, dtype=torch.float64),
            TypeError,
            "`waveform` is torch.float64 but the transform computes in torch.float32",
        ),
    ],
)
def test_logmel_bad_input(x, exc, pattern):
    with pytest.raises(exc, match=E(pattern)):
        LogMelSpectrogram(n_mels=40)(x)


def test_logmel_short_input_without_center():
    with pytest.raises(
        ValueError, match=E("`waveform` has 300 samples, fewer than n_fft=400 (with center=False).")
    ):
        LogMelSpectrogram(n_mels=40, center=False)(torch.zeros(2, 300))


@pytest.mark.parametrize("cls", MODULES)
def test_params_from_outside_are_validated(cls):
    x = torch.zeros(4, 10) if cls is WaveformMixup else torch.zeros(4, 8, 10)
    ones = torch.ones(4, dtype=torch.bool)
    m = cls(generator=0)
    with pytest.raises(
        ValueError, match=E("`lam` must lie in [0, 1], but got values in [0.5, 1.5].")
    ):
        m(x, params=MixParams(torch.tensor([0.5, 1.5, 0.5, 0.5]), torch.arange(4), ones))
    with pytest.raises(
        ValueError,
        match=E("`perm` holds partner indices, which must be in [0, 3], but got values in [0, 7]."),
    ):
        m(x, params=MixParams(torch.full((4,), 0.5), torch.tensor([7, 0, 1, 2]), ones))
    lengths = torch.tensor([10, 4, 10, 4])
    bad = MixParams(
        torch.full((4,), 0.5), torch.tensor([1, 0, 3, 2]), ones, offsets=torch.tensor([0, 7, 0, 0])
    )  # the gap is 6
    with pytest.raises(
        ValueError,
        match=E(
            "`params.offsets` must have shape (batch,) and lie in [0, |lengths - lengths[perm]|]"
        ),
    ):
        m(x, None, lengths, params=bad)
    # validate=False trusts them.
    cls(generator=0, validate=False)(
        x, params=MixParams(torch.full((4,), 0.5), torch.arange(4), ones)
    )
