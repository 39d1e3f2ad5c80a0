"""MixupDataset with any mixer, the indices samplers use, and errors that point at the fix."""

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Subset, SubsetRandomSampler

from audiomix import BCMix, SNRMix, WaveformCutMix, WaveformMixup
from audiomix.data import MixupDataset, pad_collate
from tests._helpers import generator as _gen

C = 3
pytestmark = pytest.mark.filterwarnings("ignore:WaveformMixup with p=0 never mixes")


def _items(n=6):
    g = _gen(0)
    return [(0.3 * torch.randn(300 + 40 * i, generator=g), i % C) for i in range(n)]


@pytest.mark.parametrize(
    "mixer",
    [
        WaveformCutMix(num_classes=C, generator=0),
        SNRMix(snr_db=(0.0, 10.0), num_classes=C, generator=0),
        BCMix(sample_rate=8000, num_classes=C, generator=0),
        WaveformMixup(alpha=0.4, num_classes=C, placement="center", generator=0),
    ],
    ids=lambda m: type(m).__name__,
)
def test_any_mixer_mixes_the_pair_and_its_targets_follow(mixer):
    items = _items()
    ds = MixupDataset(items, mixer, return_info=True)
    for i in range(len(items)):
        x, target, info = ds[i]
        j, lam = info["partner"], info["lam"]
        assert j != i
        own = torch.nn.functional.one_hot(torch.tensor(items[i][1]), C).float()
        other = torch.nn.functional.one_hot(torch.tensor(items[j][1]), C).float()
        torch.testing.assert_close(target, lam * own + (1 - lam) * other)
        # The length of the mix is the mixer's: CutMix keeps the item's own, the others the
        # longer clip of the pair.
        n_i, n_j = items[i][0].numel(), items[j][0].numel()
        expected = n_i if isinstance(mixer, WaveformCutMix) else max(n_i, n_j)
        assert x.shape == (expected,)


def test_a_mixer_brings_its_own_settings():
    with pytest.raises(ValueError, match=r"`mixer` brings its own settings, so \['alpha', 'p'\]"):
        MixupDataset(_items(), WaveformMixup(num_classes=C), alpha=0.3, p=0.5)
    with pytest.raises(TypeError, match="`mixer` must be an audiomix mixer"):
        MixupDataset(_items(), torch.nn.Identity())


@pytest.mark.parametrize("mixer", [None, "given"])
def test_unknown_option_names_the_dataset(mixer):
    # The default mixer is built inside: a misspelt option must name MixupDataset, the class
    # the user called, with or without a mixer of their own.
    given = None if mixer is None else WaveformMixup(num_classes=C)
    with pytest.raises(
        TypeError, match=r"^MixupDataset\(\) got an unexpected keyword argument 'lamda'"
    ):
        MixupDataset(_items(), given, num_classes=None if given else C, lamda=0.5)


def test_the_partner_is_read_only_when_the_coin_says_mix():
    reads = []

    class Counting(torch.utils.data.Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            reads.append(i)
            return torch.ones(10), i % 2

    ds = MixupDataset(Counting(), num_classes=2, p=0.0, generator=0)
    for i in range(4):
        ds[i]
    assert reads == [0, 1, 2, 3]


@pytest.mark.parametrize(
    "index",
    [2, np.int64(2), np.int32(2), torch.tensor(2), torch.tensor([2]), -4],
    ids=["int", "np.int64", "np.int32", "tensor0d", "tensor1", "negative"],
)
def test_indices_of_samplers(index):
    ds = MixupDataset(_items(), num_classes=C, p=0.0, generator=0)
    assert torch.equal(ds[index][0], _items()[2][0])


def test_bad_indices():
    ds = MixupDataset(_items(), num_classes=C, generator=0)
    with pytest.raises(TypeError, match=r"`index` must be an integer, but got float 2.0"):
        ds[2.0]
    with pytest.raises(TypeError, match=r"`index` must be an integer, but got Tensor \(\) "):
        ds[torch.tensor(2.0)]
    with pytest.raises(TypeError, match=r"`index` must be an integer, but got bool"):
        ds[True]
    with pytest.raises(IndexError, match="`index` 6 is out of range for a dataset of 6 items"):
        ds[6]


def test_subset_over_randperm_and_subset_random_sampler():
    torch.set_num_threads(1)
    ds = MixupDataset(_items(8), num_classes=C, generator=0)
    sub = Subset(ds, torch.randperm(8, generator=_gen(1)))
    assert sub[0][1].shape == (C,)
    sampler = SubsetRandomSampler(torch.arange(6), generator=_gen(2))
    loader = DataLoader(ds, batch_size=3, sampler=sampler, collate_fn=pad_collate)
    assert sum(batch[1].shape[0] for batch in loader) == 6


def _speechcommands_like():
    """Items laid out as torchaudio's SPEECHCOMMANDS: (waveform, rate, word, speaker, n)."""
    return [(torch.randn(1, 160), 16000, ["yes", "no"][i % 2], f"spk{i}", 0) for i in range(4)]


def test_a_foreign_item_layout_names_what_was_read_and_suggests_unpack():
    ds = MixupDataset(_speechcommands_like(), num_classes=10, generator=0)
    with pytest.raises(
        ValueError,
        match=r"in \[0, 9\], but got values in \[16000, 16000\]\. MixupDataset read the item "
        r"tuple of 5: \(Tensor \(1, 160\) torch.float32, int 16000, str 'yes', str 'spk0', "
        r"int 0\) as \(waveform, label, \.\.\.\).*pass `unpack=`",
    ):
        ds.eval()[0]
    words = ["yes", "no"]
    fixed = MixupDataset(
        _speechcommands_like(), num_classes=2, unpack=lambda it: (it[0], words.index(it[2]))
    )
    assert fixed[0][1].shape == (2,)


def test_a_string_label_is_refused_with_the_layout():
    ds = MixupDataset([(torch.randn(50), "yes"), (torch.randn(50), "no")], num_classes=2)
    with pytest.raises(ValueError, match=r"the label of `dataset\[0\]` is the string 'yes'"):
        ds[0]


def test_numpy_clips_and_labels_go_into_a_mixer():
    x = np.random.default_rng(0).standard_normal((4, 200)).astype(np.float32)
    x.setflags(write=False)  # as Hugging Face datasets hand them out
    y = np.array([0, 1, 2, 0])
    lengths = np.array([200, 150, 100, 200])
    mixer = WaveformMixup(alpha=0.4, num_classes=C, generator=0)
    out, targets, out_lengths = mixer(x, y, lengths)
    assert isinstance(out, torch.Tensor) and out.shape == (4, 200)
    assert targets.shape == (4, C) and out_lengths.dtype == torch.int64
    ref, ref_targets, _ = WaveformMixup(alpha=0.4, num_classes=C, generator=0)(
        torch.from_numpy(x.copy()), torch.from_numpy(y), torch.from_numpy(lengths)
    )
    assert torch.equal(out, ref) and torch.equal(targets, ref_targets)
