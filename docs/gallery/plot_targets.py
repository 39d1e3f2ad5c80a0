"""
Targets before and after mixing
===============================

The target of a mix follows the mix. A clip labelled ``i`` mixed with weight λ with a clip
labelled ``j`` gets ``λ`` at ``i`` and ``1 − λ`` at ``j``; label smoothing is applied before
mixing; multi-label (multi-hot) targets mix the same way, or as their union (an element-wise
maximum, for "both sounds are present") with ``union=True``. CutMix weighs by the share of the
valid area actually pasted, not by the drawn λ.

Each panel shows a batch of 6 targets (rows) over 5 classes (columns), before and after.
"""

# %%
import matplotlib.pyplot as plt
import torch

import audiomix
from audiomix.functional import mix_targets

labels = torch.tensor([0, 1, 2, 3, 4, 0])
lam = torch.tensor([0.8, 0.6, 0.5, 0.9, 0.7, 1.0])  # the last sample is left unmixed
perm = torch.tensor([1, 2, 0, 4, 3, 5])
multi_hot = torch.tensor(
    [
        [1, 0, 0, 1, 0],
        [0, 1, 0, 0, 0],
        [0, 0, 1, 0, 1],
        [1, 1, 0, 0, 0],
        [0, 0, 0, 0, 1],
        [0, 1, 1, 0, 0],
    ],
    dtype=torch.float32,
)

panels = [
    ("class indices, one-hot", torch.eye(5)[labels]),
    ("mixed", mix_targets(labels, lam, perm, num_classes=5)),
    (
        "label smoothing 0.1, mixed",
        mix_targets(labels, lam, perm, num_classes=5, label_smoothing=0.1),
    ),
    ("multi-hot", multi_hot),
    ("multi-hot, mixed", mix_targets(multi_hot, lam, perm, multilabel=True)),
    ("multi-hot, union", mix_targets(multi_hot, lam, perm, multilabel=True, union=True)),
]
fig, axes = plt.subplots(2, 3, figsize=(10, 6), constrained_layout=True)
for ax, (title, targets) in zip(axes.flat, panels, strict=True):
    ax.imshow(targets.numpy(), cmap="Blues", vmin=0, vmax=1)
    for (row, col), value in zip(
        torch.cartesian_prod(torch.arange(6), torch.arange(5)).tolist(),
        targets.flatten().tolist(),
        strict=True,
    ):
        if value > 0:
            ax.text(
                col,
                row,
                f"{value:.2f}".rstrip("0").rstrip("."),
                ha="center",
                va="center",
                fontsize=8,
                color="black" if value < 0.6 else "white",
            )
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("class")
    ax.set_ylabel("sample")
    ax.set_xticks(range(5))
    ax.set_yticks(range(6))
fig.suptitle("λ = 0.8, 0.6, 0.5, 0.9, 0.7, 1 (unmixed); partners 1, 2, 0, 4, 3, 5")
plt.show()

# %%
# A soft-target cross-entropy on a mixed target equals the λ-weighted sum of the two
# cross-entropies, which is what a mixup loss is meant to be:
logits = torch.randn(6, 5, generator=torch.Generator().manual_seed(0))
mixed = mix_targets(labels, lam, perm, num_classes=5)
loss = audiomix.SoftTargetCrossEntropy(reduction="none")(logits, mixed)
ce = torch.nn.functional.cross_entropy
by_hand = lam * ce(logits, labels, reduction="none") + (1 - lam) * ce(
    logits, labels[perm], reduction="none"
)
print(loss)
print(by_hand)

# %%
# CutMix: the weight is what was pasted
# -------------------------------------
# A box drawn for λ = 0.5 may overlap the padding of a short clip; the pasted share of the
# valid area is what the target gets, and ``last_params.lam_drawn`` keeps the draw.
specgram = torch.randn(4, 40, 100, generator=torch.Generator().manual_seed(1))
frames = torch.tensor([100, 60, 100, 30])
cutmix = audiomix.SpectrogramCutMix(alpha=1.0, num_classes=4, mode="box", generator=0)
mixed, targets, new_frames = cutmix(specgram, torch.arange(4), frames)
print("drawn λ:  ", cutmix.last_params.lam_drawn)
print("target λ: ", cutmix.last_params.lam)
print("targets:\n", targets)
