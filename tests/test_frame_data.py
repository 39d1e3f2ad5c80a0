"""Frame targets through the data helpers and ManifoldMixup: MixCollate with views,
MixupDataset with per-item frame labels, hidden-layer mixing."""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn

from audiomix import ManifoldMixup, View, WaveformCutMix, WaveformMixup
from audiomix.data import MixCollate, MixupDataset
from tests._helpers import generator

HOP = 160


def _items(n=6, *, mapping=False):
    """Clips of different lengths, each with one event over whole frames and its labels."""
    g = generator(0)
    items = []
    for i in range(n):
        frames = 5 + i
        x = torch.zeros(frames * HOP)
        y = torch.zeros(frames, 2)
        k = int(torch.randint(frames, (), generator=g))
        x[k * HOP : (k + 1) * HOP] = 1.0
        y[k, 0] = 1.0
        items.append({"audio": x.numpy(), "events": y.numpy()} if mapping else (x, y))
    return items


def _mass(x):
    usable = x.shape[-1] // HOP * HOP
    return x[..., :usable].reshape(*x.shape[:-1], -1, HOP).mean(-1)


@pytest.mark.parametrize("cls", [WaveformMixup, WaveformCutMix])
def test_mixup_dataset_frame_labels_follow_the_pair(cls):
    mixer = cls(alpha=1.0, multilabel=True, target_hop=HOP, generator=0)
    ds = MixupDataset(_items(), mixer)
    for i in range(len(ds)):
        x, targets = ds[i]
        assert targets.shape == (x.shape[-1] // HOP, 2)
        torch.testing.assert_close(targets[:, 0], _mass(x), atol=1e-6, rtol=0)
    ds.eval()
    x, targets = ds[3]
    assert torch.equal(targets, _items()[3][1])


def test_mix_collate_views_pads_and_mixes_with_one_draw():
    items = _items(mapping=True)
    for i, item in enumerate(items):
        item["weak"] = item["events"].max(axis=0)
        item["strong"] = i % 3 != 0
        item["name"] = f"clip{i}"
    mixer = WaveformMixup(alpha=1.0, multilabel=True, target_hop=HOP, placement="random")
    collate = MixCollate(
        mixer,
        views={
            "audio": "audio",
            "events": "frame_targets",
            "weak": "clip_targets",
            "strong": "strong",
            "frames": View("lengths", hop=HOP),
        },
    )
    loader = torch.utils.data.DataLoader(items, batch_size=6, collate_fn=collate)
    batch = next(iter(loader))
    assert batch["audio"].shape == (6, 10 * HOP) and batch["events"].shape == (6, 10, 2)
    torch.testing.assert_close(batch["events"][..., 0], _mass(batch["audio"]), atol=1e-6, rtol=0)
    frames = torch.div(batch["lengths"] + HOP - 1, HOP, rounding_mode="floor")
    assert torch.equal(batch["frames"], frames) and batch["name"][0] == "clip0"
    lam, perm = mixer.last_params.lam, mixer.last_params.perm
    strong = torch.tensor([item["strong"] for item in items])
    assert torch.equal(batch["strong"], (strong | (lam == 0)) & (strong[perm] | (lam == 1)))
    clean = collate.eval()(items)
    assert torch.equal(clean["events"][1, :6], torch.as_tensor(items[1]["events"]))


def test_mix_collate_views_errors():
    with pytest.raises(TypeError, match=re.escape("`views` need a mixer with `mix_views`")):
        MixCollate(nn.Identity(), views={"audio": "audio"})
    with pytest.raises(ValueError, match=re.escape("`views` must name exactly one 'audio'")):
        MixCollate(WaveformMixup(), views={"events": "frame_targets"})
    collate = MixCollate(WaveformMixup(), views={"audio": "audio", "labels": "frame_targets"})
    with pytest.raises(ValueError, match=re.escape("`views` names 'labels', which is not a key")):
        collate(_items(2, mapping=True))


def test_manifold_mixup_moves_frame_targets_with_the_input():
    net = nn.Sequential(nn.Conv1d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv1d(4, 2, 1))
    mm = ManifoldMixup(
        net, ["input"], multilabel=True, target_hop=HOP, placement="random", generator=0
    )
    items = _items(4)
    x = torch.zeros(4, 1, 8 * HOP)
    y = torch.zeros(4, 8, 2)
    lengths = torch.tensor([5, 6, 7, 8]) * HOP
    for i, (clip, labels) in enumerate(items):
        x[i, 0, : clip.shape[0]] = clip
        y[i, : labels.shape[0]] = labels
    mixed_in = []
    hook = net[0].register_forward_hook(lambda m, inp, out: mixed_in.append(inp[0]))
    _, targets, _ = mm(x, y, lengths)
    hook.remove()
    torch.testing.assert_close(targets[..., 0], _mass(mixed_in[0][:, 0]), atol=1e-6, rtol=0)


def test_mixup_dataset_views_mixes_every_entry_with_one_draw():
    items = _items(mapping=True)
    for i, item in enumerate(items):
        item["emb"] = torch.randn(4, item["events"].shape[0], generator=generator(i)).numpy()
        item["weak"] = torch.as_tensor(item["events"]).amax(dim=0)
        item["strong"] = i % 2 == 0
        item["name"] = f"clip{i}"
    views = {
        "audio": "audio",
        "events": "frame_targets",
        "emb": View("frames", hop=HOP, time_dim=-1),
        "weak": "clip_targets",
        "strong": "strong",
    }
    mixer = WaveformMixup(alpha=1.0, multilabel=True, target_hop=HOP, placement="random")
    ds = MixupDataset(items, mixer, views=views)
    for i in range(len(ds)):
        out = ds[i]
        frames = out["audio"].shape[-1] // HOP
        assert out["events"].shape == (frames, 2) and out["emb"].shape == (4, frames)
        torch.testing.assert_close(out["events"][:, 0], _mass(out["audio"]), atol=1e-6, rtol=0)
        assert out["name"] == f"clip{i}" and "lengths" not in out
    ds.eval()
    clean = ds[2]
    assert torch.equal(clean["events"], torch.as_tensor(items[2]["events"]))
    with pytest.raises(ValueError, match=re.escape("with `views`, items must be mappings")):
        MixupDataset(_items(), mixer, views=views)[0]
