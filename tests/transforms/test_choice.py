"""RandomChoiceMix: one member per batch, by weight; reproducible; lengths; errors."""

import pytest
import torch

from audiomix import (
    RandomChoiceMix,
    SpectrogramCutMix,
    SpectrogramMixup,
    WaveformCutMix,
    WaveformMixup,
)
from audiomix.functional import (
    mix_targets,
)
from tests._helpers import labels, noise

C = 5  # classes


def _switch(**kwargs):
    return RandomChoiceMix(
        {
            "mixup": SpectrogramMixup(alpha=0.8, num_classes=C, generator=1),
            "cutmix": SpectrogramCutMix(num_classes=C, generator=2),
        },
        **kwargs,
    )


def test_random_choice_frequencies_and_exposed_params():
    switch = _switch(weights=[0.25, 0.75], generator=0)
    x, y = noise(6, 12, 40, scale=1.0), labels(6, C, seed=100)
    counts = {"mixup": 0, "cutmix": 0}
    for _ in range(400):
        out, targets = switch(x, y)
        counts[switch.last_name] += 1
        p = switch.last_params
        assert p.member is switch.transforms[switch.last_index].last_params
        torch.testing.assert_close(targets, mix_targets(y, p.lam, p.perm, num_classes=C))
    assert 0.18 < counts["mixup"] / 400 < 0.32  # 0.25 ± 3.5 sigma


def test_random_choice_reproducible_lengths_and_state():
    x, y, lengths = (
        noise(6, 12, 40, scale=1.0),
        labels(6, C, seed=100),
        torch.tensor([40, 12, 33, 40, 20, 27]),
    )
    a, b = _switch(generator=5), _switch(generator=5)
    names = []
    for _ in range(6):
        out_a, out_b = a(x, y, lengths), b(x, y, lengths)
        assert len(out_a) == 3 and a.last_name == b.last_name
        names.append(a.last_name)
        for u, v in zip(out_a, out_b, strict=True):
            assert torch.equal(u, v)
    assert set(names) == {"mixup", "cutmix"}
    c = _switch(generator=77)
    c.load_state_dict(a.state_dict())
    for _ in range(4):
        for u, v in zip(a(x, y), c(x, y), strict=True):
            assert torch.equal(u, v)
    # Sequence form names members by class; a zero weight is never chosen.
    seq = RandomChoiceMix(
        [WaveformMixup(num_classes=C), WaveformCutMix(num_classes=C)], weights=[0, 1], generator=0
    )
    for _ in range(20):
        seq(noise(6, 300, scale=1.0), labels(6, C, seed=100))
        assert seq.last_name == "WaveformCutMix"


def test_random_choice_errors():
    with pytest.raises(ValueError, match="`transforms` is empty"):
        RandomChoiceMix([])
    with pytest.raises(TypeError, match="`transforms` must be a list or a dict"):
        RandomChoiceMix(WaveformMixup())
    with pytest.raises(
        TypeError, match=r"`transforms\[1\]` must be an audiomix mixer \(a transforms.Mixer\)"
    ):
        RandomChoiceMix([WaveformMixup(), "cutmix"])
    with pytest.raises(ValueError, match=r"`weights` must have one entry per transform \(2\)"):
        RandomChoiceMix([WaveformMixup(), WaveformCutMix()], weights=[1.0])
    with pytest.raises(ValueError, match="`weights` must be finite, >= 0 and not all 0"):
        RandomChoiceMix([WaveformMixup(), WaveformCutMix()], weights=[0, 0])
    with pytest.raises(TypeError, match="`weights` must be a sequence of numbers"):
        RandomChoiceMix([WaveformMixup()], weights=["a"])
