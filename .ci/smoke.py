"""Smoke test of an installed audiomix wheel, run from outside the source tree by
.ci/release.sh in a fresh venv that has the wheel and its runtime dependencies only."""

from __future__ import annotations

import importlib.util
import sys

import torch
from torch.utils.data import DataLoader

import audiomix
from audiomix.data import MixCollate

assert "site-packages" in audiomix.__file__, f"not the installed wheel: {audiomix.__file__}"
for optional in ("librosa", "soundfile", "transformers", "lightning", "matplotlib"):
    assert optional not in sys.modules, f"`import audiomix` imported {optional}"
    assert importlib.util.find_spec(optional) is None, f"{optional} installed with no extras"

generator = torch.Generator().manual_seed(0)
waveform = torch.randn(8, 16000, generator=generator)
labels = torch.arange(8) % 4

mixer = audiomix.WaveformMixup(alpha=0.4, num_classes=4, generator=0)
mixed, targets = mixer(waveform, labels)
assert mixed.shape == waveform.shape and targets.shape == (8, 4)
torch.testing.assert_close(targets.sum(1), torch.ones(8))

logmel = audiomix.LogMelSpectrogram(n_mels=40, hop_length=160)
specgram = logmel(waveform)
assert specgram.shape == (8, 40, 101) and torch.isfinite(specgram).all()

clips = [(torch.randn(16000 - 1000 * (i % 4), generator=generator), i % 4) for i in range(16)]
loader = DataLoader(clips, batch_size=8, num_workers=1, collate_fn=MixCollate(mixer))
batches = list(loader)
assert len(batches) == 2
for x, y, lengths in batches:
    assert x.shape == (8, 16000) and y.shape == (8, 4) and lengths.shape == (8,)

print(f"smoke: audiomix {audiomix.__version__} from {audiomix.__file__}: ok")
