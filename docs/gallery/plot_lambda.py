"""
λ for several α
===============

Mixup draws each mix weight λ from a Beta(α, α) distribution. A small α (0.1-0.4, the usual
choice for audio) puts most draws near 0 or 1: most mixes are one clip with a little of another.
α = 1 is uniform, and a large α concentrates λ around 0.5, mixes of two equal parts.

:func:`audiomix.functional.sample_lambda` draws λ from the mixer's own generator; every mixer
calls it, so the histograms below are the weights a ``WaveformMixup(alpha=α)`` gives a batch.
"""

# %%
import math

import matplotlib.pyplot as plt
import torch

import audiomix

ALPHAS = [0.1, 0.2, 0.4, 1.0, 2.0, 8.0]
generator = torch.Generator().manual_seed(0)

fig, axes = plt.subplots(2, 3, figsize=(10, 5.5), sharex=True, constrained_layout=True)
grid = torch.linspace(0.005, 0.995, 199)
for ax, alpha in zip(axes.flat, ALPHAS, strict=True):
    lam = audiomix.functional.sample_lambda(alpha, 20000, generator=generator)
    ax.hist(lam.numpy(), bins=40, range=(0, 1), density=True, color="tab:blue", alpha=0.7)
    # The Beta(α, α) density, to check the draws against.
    log_norm = math.lgamma(2 * alpha) - 2 * math.lgamma(alpha)
    density = torch.exp(log_norm + (alpha - 1) * (grid.log() + (1 - grid).log()))
    ax.plot(grid.numpy(), density.numpy(), color="black", linewidth=1)
    near_edges = float(((lam < 0.1) | (lam > 0.9)).float().mean())
    ax.set_title(f"α = {alpha}: {near_edges:.0%} of λ within 0.1 of 0 or 1", fontsize=9)
    ax.set_ylim(0, 4)
for ax in axes[-1]:
    ax.set_xlabel("λ")
fig.suptitle("λ ~ Beta(α, α): histogram of 20 000 draws and the density")
plt.show()

# %%
# The weight a sample's own target gets is λ, so the mixed target of class ``i`` mixed with
# class ``j`` is ``λ`` at ``i`` and ``1 - λ`` at ``j``. ``last_params.lam`` keeps the draw:
mixup = audiomix.WaveformMixup(alpha=0.4, num_classes=3, generator=0)
mixed, targets = mixup(torch.randn(4, 16000), torch.tensor([0, 1, 2, 0]))
print("lam:", mixup.last_params.lam)
print("partners:", mixup.last_params.perm)
print("targets:\n", targets)
