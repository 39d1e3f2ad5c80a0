"""ManifoldMixup: hidden activations mixed with the targets' λ and partners."""

import numpy as np
import pytest
import torch
from torch import nn

from audiomix import ManifoldMixup
from audiomix.functional import mix, mix_targets, prepare_targets
from tests._helpers import generator as _gen

C = 4


def _net(seed=0):
    torch.manual_seed(seed)  # weights only; every random draw of the test is generator-based
    return nn.Sequential(
        nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, C)
    )


def _data(b=6):
    x = torch.randn(b, 10, generator=_gen(1))
    y = torch.randint(C, (b,), generator=_gen(2))
    return x, y


def _manual(net, x, split, lam, perm):
    """Runs net[:split], mixes, runs the rest (split=0: mix the input)."""
    h = net[:split](x) if split else x
    w = lam.view(-1, 1)
    h = w * h + (1 - w) * h[perm]
    return net[split:](h)


@pytest.mark.parametrize("layer, split", [("input", 0), ("1", 2), ("3", 4)])
def test_mixes_the_chosen_layer_and_the_targets_alike(layer, split):
    net = _net()
    mm = ManifoldMixup(net, ["input", "1", "3"], num_classes=C, per_sample=True, generator=0)
    x, y = _data()
    x_before = x.clone()
    out, targets = mm(x, y, layer=layer)
    p = mm.last_params
    assert mm.last_layer == layer and torch.equal(x, x_before)
    torch.testing.assert_close(out, _manual(net, x, split, p.lam, p.perm), atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(targets, mix_targets(y, p.lam, p.perm, num_classes=C))
    torch.testing.assert_close(targets.sum(1), torch.ones(6))


def test_gradients_flow_through_the_mix():
    net = _net()
    mm = ManifoldMixup(net, [net[1]], alpha=1.0, num_classes=C, generator=3)
    x, y = _data()
    out, targets = mm(x, y)
    loss = -(targets * out.log_softmax(-1)).sum(-1).mean()
    loss.backward()
    grads = [q.grad.clone() for q in net.parameters()]
    net.zero_grad()
    p = mm.last_params
    ref = _manual(net, x, 2, p.lam, p.perm)
    (-(targets * ref.log_softmax(-1)).sum(-1).mean()).backward()
    for g, q in zip(grads, net.parameters(), strict=True):
        torch.testing.assert_close(g, q.grad, atol=1e-6, rtol=1e-5)


def test_random_layer_is_reproducible_and_covers_candidates():
    x, y = _data()
    a = ManifoldMixup(_net(), ["input", "1", "3"], num_classes=C, generator=5)
    b = ManifoldMixup(_net(), ["input", "1", "3"], num_classes=C, generator=5)
    seen = []
    for _ in range(15):
        out_a, t_a = a(x, y)
        out_b, t_b = b(x, y)
        assert a.last_layer == b.last_layer
        assert torch.equal(out_a, out_b) and torch.equal(t_a, t_b)
        seen.append(a.last_layer)
    assert set(seen) == {"input", "1", "3"}


def test_eval_mode_does_not_mix_and_hooks_are_idle_outside_calls():
    net = _net()
    mm = ManifoldMixup(net, ["1"], num_classes=C, label_smoothing=0.1, generator=0)
    x, y = _data()
    mm.eval()
    out, targets = mm(x, y)
    torch.testing.assert_close(out, net(x))
    torch.testing.assert_close(targets, prepare_targets(y, num_classes=C, label_smoothing=0.1))
    mm.train()
    mm(x, y)
    torch.testing.assert_close(net(x), _net()(x))  # the bare model is unaffected
    mm.remove_hooks()
    with pytest.raises(RuntimeError, match="the hooks were removed"):
        mm(x, y)


def test_shared_layer_is_mixed_once_and_p_zero_is_identity():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.block = nn.Linear(10, 10)

        def forward(self, x):
            return self.block(self.block(x))

    model = Twice()
    mm = ManifoldMixup(model, ["block"], alpha=1.0, generator=1)
    x, _ = _data()
    out, targets = mm(x)
    p = mm.last_params
    assert targets is None
    torch.testing.assert_close(out, model.block(mix(model.block(x), p.lam, p.perm)))
    with pytest.warns(UserWarning, match="never mixes"):
        off = ManifoldMixup(_net(), ["1"], num_classes=C, p=0.0, generator=0)
    out, targets = off(x, _data()[1])
    torch.testing.assert_close(out, off.model(x))


def test_errors():
    net = _net()
    x, y = _data()
    with pytest.raises(ValueError, match="`layers\\[0\\]` = 'fc9' is not a submodule of `model`"):
        ManifoldMixup(net, ["fc9"])
    with pytest.raises(ValueError, match="is not a submodule of `model`"):
        ManifoldMixup(net, [nn.Linear(2, 2)])
    with pytest.raises(ValueError, match="`layers` lists a layer twice"):
        ManifoldMixup(net, ["1", net[1]])
    with pytest.raises(ValueError, match="`layers` must name at least one layer"):
        ManifoldMixup(net, [])
    with pytest.raises(TypeError, match="`model` must be an nn.Module"):
        ManifoldMixup(lambda v: v, ["input"])
    with pytest.raises(TypeError, match=r"got an unexpected keyword argument 'placment'"):
        ManifoldMixup(net, ["1"], placment="center")
    mm = ManifoldMixup(net, ["1"], num_classes=C, generator=0)
    with pytest.raises(ValueError, match="x and labels have different batch sizes: 6 != 5"):
        mm(x, y[:5])
    with pytest.raises(ValueError, match="`layer` must be one of \\['1'\\]"):
        mm(x, y, layer="3")
    lstm = nn.LSTM(10, 8, batch_first=True)
    seq = nn.Sequential(lstm)
    with pytest.raises(TypeError, match="layer '0' returned tuple"):
        ManifoldMixup(seq, ["0"], generator=0)(torch.randn(4, 3, 10))

    class Skips(nn.Module):
        def __init__(self):
            super().__init__()
            self.unused = nn.Linear(10, 10)

        def forward(self, x):
            return x * 2

    with pytest.raises(RuntimeError, match="layer 'unused' was not called"):
        ManifoldMixup(Skips(), ["unused"], generator=0)(x)


def test_activation_and_input_errors():
    net = _net()
    x, y = _data()

    class ToInt(nn.Module):
        def forward(self, v):
            return v.long()

    class SeqFirst(nn.Module):
        def forward(self, v):
            return v.t()

    for layer, err, msg in [
        (ToInt(), TypeError, "layer '0' returned torch.int64 values; only floats mix"),
        (
            SeqFirst(),
            ValueError,
            r"layer '0' returned shape \(10, 6\), but activations must "
            r"have the batch \(6\) first",
        ),
    ]:
        model = nn.Sequential(layer, nn.Identity())
        with pytest.raises(err, match=msg):
            ManifoldMixup(model, ["0"], generator=0)(x)
    with pytest.raises(
        TypeError, match=r"`layers\[0\]` must be a name or an nn.Module, but got int"
    ):
        ManifoldMixup(net, [3])
    mm = ManifoldMixup(net, ["1"], num_classes=C, generator=0)
    with pytest.raises(TypeError, match="`x` must be a torch.Tensor, but got list"):
        mm([1.0], y)
    with pytest.raises(ValueError, match="`x` must have the batch first, but is a scalar"):
        mm(torch.tensor(1.0))
    with pytest.raises(TypeError, match="`labels` must be a torch.Tensor, but got list"):
        mm(x, [0] * 6)
    with pytest.raises(ValueError, match=r"`params` were drawn for a batch of \(4,\)"):
        mm(x, y, params=mm.sample_params(4))


# --------------------------------------------------------------------------- lengths

T = 24


class _ConvNet(nn.Module):
    """(batch, 3, time) -> conv -> ReLU ("act") -> pooling by 2 ("pool") -> conv -> mean over
    the valid frames -> linear ("head"); records what each stage received."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)  # weights only
        self.conv1 = nn.Conv1d(3, 8, 3, padding=1)
        self.act = nn.ReLU()
        self.pool = nn.MaxPool1d(2)
        self.conv2 = nn.Conv1d(8, 8, 3, padding=1)
        self.head = nn.Linear(8, C)
        self.seen = {}
        for name in ("pool", "conv2"):
            getattr(self, name).register_forward_pre_hook(self._record(name))

    def _record(self, name):
        def hook(module, inputs):
            self.seen[name] = inputs[0].detach().clone()

        return hook

    def forward(self, x, lengths=None):
        self.seen["lengths"] = lengths
        h = self.conv2(self.pool(self.act(self.conv1(x))))
        if lengths is None:
            return self.head(h.mean(-1))
        frames = ((lengths + 1) // 2).clamp(1, h.shape[-1])
        valid = torch.arange(h.shape[-1]) < frames[:, None]
        return self.head((h * valid[:, None]).sum(-1) / frames[:, None])


def _padded(lengths, garbage=3.0):
    """(batch, 3, T) clips with ``garbage`` in the padding, and their lengths."""
    x = torch.randn(len(lengths), 3, T, generator=_gen(4))
    lengths = torch.tensor(lengths)
    pad = torch.arange(T) >= lengths[:, None]
    return x.masked_fill(pad[:, None], garbage), lengths


def _halve(n):
    return (n + 1) // 2


@pytest.mark.parametrize("placement", ["start", "center"])
def test_lengths_keep_the_padding_out_of_the_mix(placement):
    net = _ConvNet()
    mm = ManifoldMixup(net, ["act"], alpha=1.0, num_classes=C, placement=placement, generator=0)
    x, lengths = _padded([24, 17, 9, 13])
    y = torch.tensor([0, 1, 2, 3])
    out, targets, out_lengths = mm(x, y, lengths)
    p = mm.last_params
    expected_lengths = torch.maximum(lengths, lengths[p.perm])
    assert torch.equal(out_lengths, expected_lengths)
    assert torch.equal(net.seen["lengths"], expected_lengths)  # the model pools over the mix
    h = net.act(net.conv1(x)).detach()
    ref = mix(h, p.lam, p.perm, lengths=lengths, offsets=p.offsets)
    torch.testing.assert_close(net.seen["pool"], ref, rtol=0, atol=0)
    padded_pairs = [(i, n) for i, n in enumerate(expected_lengths.tolist()) if n < T]
    assert padded_pairs
    for i, n in padded_pairs:
        # Beyond the longer clip of the pair: nothing, where the padding's activations were.
        assert not net.seen["pool"][i, :, n:].any() and h[i, :, n:].any()
    torch.testing.assert_close(targets, mix_targets(y, p.lam, p.perm, num_classes=C))
    assert out.shape == (4, C)


def test_a_layer_with_its_own_time_axis_needs_lengths_fn():
    x, lengths = _padded([24, 17, 9, 13])
    net = _ConvNet()
    with pytest.raises(
        ValueError,
        match=r"layer 'pool' has 12 positions on its last axis where the input has 24, so the "
        r"input's `lengths` do not say which are padding\. Pass `lengths_fn=\{'pool': fn\}`",
    ):
        ManifoldMixup(net, ["pool"], num_classes=C, generator=0)(x, None, lengths)
    mm = ManifoldMixup(net, ["pool"], alpha=1.0, lengths_fn={"pool": _halve}, generator=0)
    out, _, out_lengths = mm(x, None, lengths)
    p = mm.last_params
    h = net.pool(net.act(net.conv1(x))).detach()
    ref = mix(h, p.lam, p.perm, lengths=_halve(lengths))  # aligned at the start
    torch.testing.assert_close(net.seen["conv2"], ref, rtol=0, atol=0)
    assert torch.equal(out_lengths, torch.maximum(lengths, lengths[p.perm]))
    # No time axis (the logits): `None` mixes the layer whole.
    mm = ManifoldMixup(net, ["head"], alpha=1.0, lengths_fn={"head": None}, generator=1)
    out, _, out_lengths = mm(x, None, lengths)
    p = mm.last_params
    clean = net(x, out_lengths)  # hooks idle outside a mixing call
    torch.testing.assert_close(out, mix(clean, p.lam, p.perm), rtol=1e-6, atol=1e-6)
    mm.eval()
    _, _, same = mm(x, None, lengths)
    assert same is lengths and torch.equal(net.seen["lengths"], lengths)


def test_lengths_at_the_input_and_full_lengths_change_nothing():
    net = _ConvNet()
    x, lengths = _padded([24, 17, 9, 13], garbage=0.0)
    mm = ManifoldMixup(net, ["input"], alpha=1.0, generator=0)
    mm(x, None, lengths)
    p = mm.last_params
    mixed = mix(x, p.lam, p.perm, lengths=lengths)
    torch.testing.assert_close(net.act(net.conv1(mixed)), net.seen["pool"], rtol=0, atol=0)
    full = torch.full((4,), T)
    for layer in ("input", "act"):
        a = ManifoldMixup(net, [layer], alpha=1.0, generator=3)
        b = ManifoldMixup(net, [layer], alpha=1.0, generator=3)
        with_lengths, _, out_lengths = a(x, None, full)
        torch.testing.assert_close(with_lengths, b(x)[0], rtol=1e-6, atol=1e-6)
        assert torch.equal(out_lengths, full)


def test_gradients_flow_with_lengths_and_models_without_lengths_get_none():
    net = _ConvNet()
    x, lengths = _padded([24, 17, 9, 13])
    mm = ManifoldMixup(net, ["act"], alpha=1.0, num_classes=C, generator=0)
    out, targets, _ = mm(x, torch.arange(4), lengths)
    (-(targets * out.log_softmax(-1)).sum(-1).mean()).backward()
    assert all(q.grad is not None and q.grad.abs().sum() > 0 for q in net.parameters())
    plain = nn.Sequential(nn.Conv1d(3, 4, 1), nn.ReLU())  # forward(input): no lengths
    out, _, out_lengths = ManifoldMixup(plain, ["1"], generator=0)(x, None, lengths)
    assert out.shape == (4, 4, T) and out_lengths.shape == (4,)


def test_lengths_errors():
    net = _ConvNet()
    x, lengths = _padded([24, 17, 9, 13])
    with pytest.raises(TypeError, match="`lengths_fn` must be a mapping"):
        ManifoldMixup(net, ["pool"], lengths_fn=_halve)
    with pytest.raises(
        ValueError,
        match=r"`lengths_fn` has an entry for 'input', which is not one of the hidden layers "
        r"\['pool'\]",
    ):
        ManifoldMixup(net, ["input", "pool"], lengths_fn={"input": _halve})
    with pytest.raises(ValueError, match=r"entry for 'conv2', which is not one of the hidden"):
        ManifoldMixup(net, ["pool"], lengths_fn={"conv2": _halve})
    with pytest.raises(TypeError, match=r"`lengths_fn\['pool'\]` must be callable or None"):
        ManifoldMixup(net, ["pool"], lengths_fn={"pool": 2})
    mm = ManifoldMixup(net, ["pool"], lengths_fn={"pool": lambda n: n / 2}, generator=0)
    with pytest.raises(
        ValueError,
        match=r"`lengths_fn\['pool'\]` must return integer lengths of shape \(4,\), but "
        r"returned torch.float32 of shape \(4,\)",
    ):
        mm(x, None, lengths)
    with pytest.raises(ValueError, match=r"`lengths` must be in \[1, 24\]"):
        mm(x, None, torch.tensor([25, 3, 3, 3]))
    mm = ManifoldMixup(net, ["act"], placement="center", generator=0)
    with pytest.raises(ValueError, match=r"`params.offsets` must have shape \(batch,\)"):
        mm(x, None, lengths, params=mm.sample_params(4, torch.tensor([24, 24, 1, 1])))


def test_numpy_input_gives_the_tensor_results():
    x, lengths = _padded([24, 17, 9, 13])
    y = torch.tensor([0, 1, 2, 3])
    arrays = (x.numpy().copy(), y.numpy().copy(), lengths.numpy().copy())
    results = []
    for args in ((x, y, lengths), arrays):
        mm = ManifoldMixup(_ConvNet(), ["act"], alpha=1.0, num_classes=C, generator=0)
        results.append(mm(*args))
    for u, v in zip(*results, strict=True):
        torch.testing.assert_close(u, v, rtol=0, atol=0)
    for array, tensor in zip(arrays, (x, y, lengths), strict=True):
        assert np.array_equal(array, tensor.numpy())  # read, never written
