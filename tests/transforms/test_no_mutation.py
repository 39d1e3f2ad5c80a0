"""No module modifies its inputs (audio, labels, lengths, params), whatever the path taken."""

import warnings

import pytest
import torch

from audiomix import LogMelSpectrogram, SoftTargetCrossEntropy, SpectrogramMixup, WaveformMixup
from tests._helpers import generator as _gen


def _check(call, *args):
    before = [a.clone() for a in args]
    outs = call(*args)
    for a, b in zip(args, before, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0, equal_nan=True)
    return outs


def _wave(dtype=torch.float32):
    x = torch.randn(6, 2, 80, generator=_gen()).to(dtype)
    x[2, :, 40:] = 1e4  # padding garbage
    return x, torch.tensor([80, 33, 40, 80, 1, 65])


LABEL_FORMS = {
    "indices": (torch.tensor([0, 1, 2, 3, 0, 1]), dict(num_classes=4)),
    "soft": (torch.softmax(torch.randn(6, 4, generator=_gen(1)), 1), {}),
    "multi": (
        (torch.rand(6, 4, generator=_gen(2)) > 0.5).float(),
        dict(multilabel=True, union=True),
    ),
}


@pytest.mark.parametrize("labels", LABEL_FORMS)
@pytest.mark.parametrize("p, per_sample", [(1.0, False), (0.5, True), (0.0, False)])
def test_waveform_mixup(labels, p, per_sample, float_dtype):
    y, kw = LABEL_FORMS[labels]
    x, lengths = _wave(float_dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # p=0 warns that it never mixes
        mixup = WaveformMixup(
            alpha=1.0,
            p=p,
            per_sample=per_sample,
            label_smoothing=0.1,
            placement="random",
            generator=0,
            **kw,
        )
    for _ in range(3):
        _check(mixup, x, y)
        out2, _, _ = _check(mixup, x, y, lengths)
        _check(lambda *a: mixup(*a, params=mixup.last_params), x, y, lengths)
        params = mixup.last_params
        if (params.applied & (params.perm != torch.arange(6))).any():
            # A mixed output is a new tensor: writing to it leaves the input alone. (With
            # nothing mixed, the input itself is returned, as documented.)
            snapshot = x.clone()
            out2.add_(1)
            torch.testing.assert_close(x, snapshot, rtol=0, atol=0)


@pytest.mark.parametrize(
    "scale, domain",
    [
        ("db", "power"),
        ("db", "input"),
        ("power", "power"),
        ("amplitude", "power"),
        ("amplitude", "input"),
    ],
)
@pytest.mark.parametrize("p, per_sample", [(1.0, False), (0.5, True)])
def test_spectrogram_mixup(scale, domain, p, per_sample, float_dtype):
    x = (torch.rand(6, 2, 8, 20, generator=_gen()) * -80).to(float_dtype)
    if scale != "db":
        x = 10 ** (x / 20)
    lengths = torch.tensor([20, 3, 11, 20, 1, 17])
    x[1, ..., 3:] = float("nan") if scale == "db" else 1e4
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    mixup = SpectrogramMixup(
        scale=scale,
        domain=domain,
        alpha=1.0,
        p=p,
        per_sample=per_sample,
        num_classes=3,
        placement="center",
        check_finite=False,
        generator=0,
    )
    for _ in range(3):
        _check(mixup, x, y, lengths)
        _check(mixup, x[[0, 2, 3, 5]], y[[0, 2, 3, 5]])


def test_logmel_and_loss():
    logmel = LogMelSpectrogram(n_fft=400, hop_length=160, n_mels=40)
    _check(logmel, torch.randn(3, 2, 4000, generator=_gen()))
    _check(logmel, torch.randn(3, 4000, generator=_gen()).half())
    logits = torch.randn(4, 5, generator=_gen())
    targets = torch.softmax(torch.randn(4, 5, generator=_gen(1)), 1)
    _check(SoftTargetCrossEntropy(), logits, targets)
