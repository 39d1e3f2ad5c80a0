"""model_speed.py: candidates are timed side by side and reported with the machine."""

from __future__ import annotations

import pytest
import torch

from recipes.speech_commands import model_speed as S


def test_every_candidate_trains_one_step_and_counts_its_work():
    for cand in S.CANDIDATES:
        net = cand.build()
        out = net(torch.zeros(2, S.N_MELS, S.FRAMES))
        assert out.shape == (2, S.NUM_CLASSES), cand.name
        assert S.multiply_adds(net) > 0
        assert S._Step(net, 4)() > 0


def test_quick_measurement_and_report():
    torch.set_num_threads(1)
    result = S.measure(rounds=1, per_round=1, quick=True, names=[S.CHOSEN], layouts=False)
    names = [r["name"] for r in result.rows]
    assert names == [S.REFERENCE, S.CHOSEN]  # the reference is always timed
    assert all(r["seconds"] > 0 and r["parameters"] > 0 for r in result.rows)
    assert set(result.options) == {S.REFERENCE, S.CHOSEN}
    assert {"eager", "threads", "channels_last"} <= set(result.options[S.REFERENCE])
    assert "channels_last" not in result.options[S.CHOSEN]  # 1-D convolutions
    text = S.report(result, "python -m recipes.speech_commands.model_speed --quick")
    assert "| TC-ResNet8, width 16 | Choi et al. 2019; recipe `tcresnet` | 65,148 |" in text
    assert "| CNN, width 24 | recipe `small` (memorising study) | 136,692 |" in text
    assert "1-minute load average" in text and "torch " in text
    with pytest.raises(ValueError, match=r"`names` must be among .*, but got \['VGG'\]"):
        S.measure(names=["VGG"])
