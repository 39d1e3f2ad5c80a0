"""
Frame targets follow the mix
============================

Sound event detection trains on frame targets ``(batch, frames, classes)``. When two clips are
mixed, each clip's events must appear in the targets where its audio lands: moved by the same
placement offset, pasted over the same span, weighted as the audio was.

Two clips of different lengths each hold events (a tone, a noise burst) with their frame
labels at a hop of 160 samples (10 ms at 16 kHz). The top row shows the clips; below, their
mix by :class:`~audiomix.WaveformMixup` with a random placement (the shorter clip moves, and
its events with it) and by :class:`~audiomix.WaveformCutMix` (a span of the partner pasted: its
events only inside the span, partly covered frames by their covered share). The targets are
drawn under each waveform, one row per class.
"""

# %%
import math

import matplotlib.pyplot as plt
import torch

import audiomix

sr, hop = 16000, 160
g = torch.Generator().manual_seed(3)
lengths = torch.tensor([16000, 9600])
frames = 100
x = 0.02 * torch.randn(2, 16000, generator=g)
x[1, 9600:] = 0.0  # padding
labels = torch.zeros(2, frames, 2)
t = torch.arange(16000) / sr


def add_event(i, cls, start, stop):
    """An event of class ``cls`` over frames [start, stop) of clip ``i``."""
    a, b = start * hop, stop * hop
    if cls == 0:
        x[i, a:b] += 0.5 * torch.sin(2 * math.pi * 880 * t[a:b])
    else:
        x[i, a:b] += 0.4 * torch.randn(b - a, generator=g)
    labels[i, start:stop, cls] = 1.0


add_event(0, 0, 10, 35)
add_event(0, 1, 60, 80)
add_event(1, 1, 5, 25)
add_event(1, 0, 40, 55)

mixup = audiomix.WaveformMixup(
    alpha=1.0, multilabel=True, placement="random", target_hop=hop, generator=2
)
cutmix = audiomix.WaveformCutMix(alpha=1.0, multilabel=True, target_hop=hop, generator=0)
mixed_up, targets_up, _ = mixup(x, labels, lengths)
cut, targets_cut, _ = cutmix(x, labels, lengths)

panels = [
    ("clip 0", x[0], labels[0]),
    ("clip 1 (0.6 s)", x[1], labels[1]),
    (
        f"mixup, clip 0 with clip 1 at offset {int(mixup.last_params.offsets[0])} "
        f"(λ = {float(mixup.last_params.lam[0]):.2f})",
        mixed_up[0],
        targets_up[0],
    ),
    (
        f"CutMix into clip 0: clip 1 over samples [{int(cutmix.last_params.time_start[0])}, "
        f"{int(cutmix.last_params.time_end[0])})",
        cut[0],
        targets_cut[0],
    ),
]
fig, axes = plt.subplots(
    4, 2, figsize=(10, 6), gridspec_kw={"height_ratios": [3, 1, 3, 1]}, sharex=True
)
for k, (title, wave, target) in enumerate(panels):
    ax_w = axes[2 * (k // 2), k % 2]
    ax_t = axes[2 * (k // 2) + 1, k % 2]
    ax_w.plot(t.numpy(), wave.numpy(), lw=0.4, color="0.3")
    ax_w.set_title(title, fontsize=9)
    ax_w.set_ylim(-1.1, 1.1)
    ax_t.imshow(
        target.T.numpy(),
        aspect="auto",
        origin="lower",
        cmap="Greens",
        vmin=0,
        vmax=1,
        extent=(0, frames * hop / sr, -0.5, 1.5),
    )
    ax_t.set_yticks([0, 1], ["tone", "burst"], fontsize=8)
for ax in axes[-1]:
    ax.set_xlabel("time (s)")
fig.tight_layout()
plt.show()
