"""
Clips of different lengths: three placements
============================================

A padded batch holds clips of different lengths. When a clip of length ``a`` is mixed with a
partner of length ``b``, the mix is valid over ``max(a, b)`` samples and the shorter clip is
placed inside the longer one: at its start, at its centre, or at a random offset. Wherever one
clip has no valid sample it contributes silence, never its padding; the new valid length comes
back with the mix.

The figure mixes a 0.4 s tone burst (row 0) with a 1.0 s noise band (row 1) at λ = 0.5 with each
placement, using the pure function :func:`audiomix.functional.mix` and offsets drawn by
:func:`audiomix.functional.sample_offsets`; the mixers take the same ``placement=`` argument.
"""

# %%
import math

import matplotlib.pyplot as plt
import torch

import audiomix
from audiomix.functional import mix, mix_lengths, pad_batch, sample_offsets

SR = 16000
t = torch.arange(int(0.4 * SR)) / SR
burst = 0.5 * torch.sin(2 * math.pi * 440 * t) * torch.hann_window(t.numel())
band = 0.15 * torch.randn(SR, generator=torch.Generator().manual_seed(0))
waveform, lengths = pad_batch([burst, band])  # (2, 16000), lengths [6400, 16000]
perm = torch.tensor([1, 0])  # each clip's partner is the other one

fig, axes = plt.subplots(4, 1, figsize=(8, 7), sharex=True, constrained_layout=True)
seconds = torch.arange(waveform.shape[-1]) / SR
axes[0].plot(seconds, waveform[1], color="tab:gray", linewidth=0.3, label="noise band, 1.0 s")
axes[0].plot(seconds, waveform[0], color="tab:blue", linewidth=0.5, label="tone burst, 0.4 s")
axes[0].set_title("the padded batch", fontsize=10)
axes[0].legend(loc="upper right", fontsize=8)
generator = torch.Generator().manual_seed(3)
for ax, placement in zip(axes[1:], ("start", "center", "random"), strict=True):
    offsets = sample_offsets(lengths, perm, placement=placement, generator=generator)
    mixed = mix(waveform, 0.5, perm, lengths=lengths, offsets=offsets)
    new_lengths = mix_lengths(lengths, perm)
    ax.plot(seconds, mixed[0], color="black", linewidth=0.3)
    start = int(offsets[0]) / SR
    ax.axvspan(start, start + len(burst) / SR, color="tab:blue", alpha=0.15)
    ax.axvline(int(new_lengths[0]) / SR, color="tab:red", linestyle="--", linewidth=1)
    ax.set_title(
        f'placement="{placement}": burst at {start:.2f} s, mix valid over {new_lengths[0]} samples',
        fontsize=10,
    )
axes[-1].set_xlabel("time (s)")
plt.show()

# %%
# The same placement applies to spectrograms, in frames. A mixer given the valid lengths
# returns the new ones, which a :class:`audiomix.LogMelSpectrogram` converts to frames:
mixer = audiomix.WaveformMixup(alpha=0.4, num_classes=2, placement="center", generator=0)
mixed, targets, new_lengths = mixer(waveform, torch.tensor([0, 1]), lengths)
logmel = audiomix.LogMelSpectrogram(n_mels=40, hop_length=160)
print("offsets (samples):", mixer.last_params.offsets)
print("valid lengths (samples):", new_lengths, "-> frames:", logmel.frame_lengths(new_lengths))
