"""Losses mixed instead of targets: equal to a hand-written per-sample loop (CTC with
variable-length transcripts, every mixer's last_params, unmixed rows), gradients, errors."""

import dataclasses

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from audiomix import (
    BCMix,
    RandomChoiceMix,
    SNRMix,
    SpectrogramCutMix,
    SpectrogramMixup,
    WaveformCutMix,
    WaveformMixup,
)
from audiomix.functional import (
    MixParams,
    mixed_ctc_loss,
    mixed_loss,
    sample_mix_params,
    soft_target_cross_entropy,
)
from tests._helpers import generator as _gen

C = 5
B = 6

MIXERS = {
    "waveform-mixup": lambda: WaveformMixup(
        alpha=1.0, num_classes=C, per_sample=True, p=0.7, generator=0
    ),
    "waveform-cutmix": lambda: WaveformCutMix(num_classes=C, per_sample=True, generator=0),
    "snr": lambda: SNRMix(snr_db=(-5.0, 5.0), num_classes=C, per_sample=True, generator=0),
    "bc": lambda: BCMix(sample_rate=8000, num_classes=C, partner="other_class", generator=0),
    "choice": lambda: RandomChoiceMix(
        [
            SpectrogramMixup(alpha=1.0, num_classes=C, per_sample=True, generator=1),
            SpectrogramCutMix(num_classes=C, generator=2),
        ],
        generator=3,
    ),
}


def _input(name):
    x = torch.randn(B, 800, generator=_gen(0))
    if name == "choice":
        return torch.randn(B, 8, 60, generator=_gen(0))
    return x


@pytest.mark.parametrize("name", list(MIXERS))
def test_mixed_cross_entropy_equals_the_soft_target_loss(name):
    # CE is linear in the targets: mixing the losses equals the loss of the mixed targets.
    mixer = MIXERS[name]()
    labels = torch.tensor([0, 1, 2, 3, 4, 0])
    logits = torch.randn(B, C, generator=_gen(1))
    for _ in range(4):
        _, targets = mixer(_input(name), labels)
        for reduction in ("mean", "sum", "none"):
            got = mixed_loss(
                lambda y: F.cross_entropy(logits, y, reduction="none"),
                mixer.last_params,
                labels,
                reduction=reduction,
            )
            want = soft_target_cross_entropy(logits, targets, reduction=reduction)
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def _transcripts(seed=0):
    """Variable-length transcripts over classes 1..C-1 (0 is the blank), padded with -1."""
    g = _gen(seed)
    lengths = torch.tensor([3, 1, 4, 2, 5, 3])
    padded = torch.full((B, int(lengths.max())), -1, dtype=torch.int64)
    for i, n in enumerate(lengths.tolist()):
        padded[i, :n] = torch.randint(1, C, (n,), generator=g)
    return padded, lengths


def _loop(log_probs, padded, input_lengths, lengths, lam, perm, reduction):
    """The mixed CTC loss written out sample by sample."""
    losses = []
    for i in range(B):
        j = int(perm[i])
        terms = []
        for k in (i, j):
            loss = F.ctc_loss(
                log_probs[:, i : i + 1],
                padded[k : k + 1, : lengths[k]],
                input_lengths[i : i + 1],
                lengths[k : k + 1],
                reduction="sum",
            )
            terms.append(loss / lengths[k] if reduction == "mean" else loss)
        losses.append(lam[i] * terms[0] + (1 - lam[i]) * terms[1] if j != i else terms[0])
    losses = torch.stack(losses)
    return {"mean": losses.mean(), "sum": losses.sum(), "none": losses}[reduction]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("layout", ["padded", "concatenated"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_mixed_ctc_loss_equals_the_hand_written_loop(reduction, layout, dtype):
    padded, lengths = _transcripts()
    mixer = WaveformMixup(alpha=1.0, per_sample=True, p=0.6, generator=0)
    audio_lengths = torch.tensor([800, 640, 720, 800, 560, 600])
    mixer(torch.randn(B, 800, generator=_gen(2)), None, audio_lengths)
    params = mixer.last_params
    assert (~params.applied).any() and params.applied.any()  # unmixed rows are exercised
    frames = 40
    logits = torch.randn(frames, B, C, generator=_gen(3), dtype=dtype, requires_grad=True)
    input_lengths = torch.tensor([40, 32, 36, 40, 28, 30])
    targets = padded
    if layout == "concatenated":
        targets = torch.cat([padded[i, :n] for i, n in enumerate(lengths.tolist())])
    got = mixed_ctc_loss(
        logits.log_softmax(-1), targets, input_lengths, lengths, params, reduction=reduction
    )
    lam = params.lam.to(dtype)
    want = _loop(
        logits.log_softmax(-1), padded, input_lengths, lengths, lam, params.perm, reduction
    )
    tol = {"rtol": 1e-5, "atol": 1e-5} if dtype == torch.float32 else {}
    torch.testing.assert_close(got, want, **tol)
    # The gradients flow as in the loop.
    (g_got,) = torch.autograd.grad(got.sum(), logits)
    (g_want,) = torch.autograd.grad(want.sum(), logits)
    torch.testing.assert_close(g_got, g_want, **tol)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_an_unmixed_batch_gives_ctc_loss_exactly(reduction):
    padded, lengths = _transcripts()
    log_probs = torch.randn(40, B, C, generator=_gen(3)).log_softmax(-1)
    input_lengths = torch.full((B,), 40)
    with pytest.warns(UserWarning, match="never mixes"):
        mixer = WaveformMixup(p=0.0, generator=0)
    mixer(torch.randn(B, 100))
    got = mixed_ctc_loss(log_probs, padded, input_lengths, lengths, mixer.last_params,
                         reduction=reduction)  # fmt: skip
    want = F.ctc_loss(log_probs, padded, input_lengths, lengths, reduction=reduction)
    assert torch.equal(got, want)


def test_choice_params_give_the_loss_of_the_member_s_params():
    padded, lengths = _transcripts()
    switch = MIXERS["choice"]()
    switch(_input("choice"), torch.arange(B) % C)
    log_probs = torch.randn(30, B, C, generator=_gen(4)).log_softmax(-1)
    input_lengths = torch.full((B,), 30)
    params = switch.last_params
    got = mixed_ctc_loss(log_probs, padded, input_lengths, lengths, params, reduction="none")
    member = mixed_ctc_loss(
        log_probs, padded, input_lengths, lengths, params.member, reduction="none"
    )
    torch.testing.assert_close(got, member)


def test_weights_of_zero_and_one_never_multiply_an_infinite_term():
    # Sample 0's partner (1) has a transcript too long for sample 0's 3 frames: CTC gives inf.
    log_probs = torch.randn(6, 2, C, generator=_gen(0)).log_softmax(-1)
    targets = torch.tensor([[1, 0, 0, 0, 0], [1, 2, 1, 2, 1]])
    lengths, input_lengths = torch.tensor([1, 5]), torch.tensor([3, 6])
    perm = torch.tensor([1, 0])
    for lam, finite in (([1.0, 0.5], True), ([0.5, 0.5], False)):
        params = MixParams(lam=torch.tensor(lam), perm=perm, applied=torch.tensor([True, True]))
        loss = mixed_ctc_loss(log_probs, targets, input_lengths, lengths, params, reduction="none")
        assert bool(torch.isfinite(loss[0])) is finite and not torch.isnan(loss).any()
    params = MixParams(lam=torch.tensor([0.5, 0.5]), perm=perm, applied=torch.tensor([True] * 2))
    loss = mixed_ctc_loss(
        log_probs, targets, input_lengths, lengths, params, reduction="none", zero_infinity=True
    )
    assert torch.isfinite(loss).all()


def test_list_targets_follow_the_partners():
    words = ["yes", "no", "up", "down"]
    params = MixParams(
        lam=torch.tensor([0.25, 1.0, 0.5, 1.0]),
        perm=torch.tensor([2, 1, 3, 3]),
        applied=torch.tensor([True, False, True, False]),
    )
    seen = []

    def loss_fn(texts):
        seen.append(list(texts))
        return torch.tensor([float(len(t)) for t in texts])

    loss = mixed_loss(loss_fn, params, words, reduction="none")
    assert seen == [words, ["up", "no", "down", "down"]]
    assert loss.tolist() == [0.25 * 3 + 0.75 * 2, 2.0, 0.5 * 2 + 0.5 * 4, 4.0]
    # A batch with nothing mixed calls the loss once.
    seen.clear()
    unmixed = dataclasses.replace(params, lam=torch.ones(4), perm=torch.arange(4))
    mixed_loss(loss_fn, unmixed, words)
    assert len(seen) == 1


@given(seed=st.integers(0, 2**31), b=st.integers(1, 8), p=st.floats(0.0, 1.0))
def test_mixed_loss_is_the_per_sample_interpolation(seed, b, p):
    g = _gen(seed)
    params = sample_mix_params(b, alpha=0.5, p=p, per_sample=True, generator=g)
    out = torch.randn(b, 3, generator=g, dtype=torch.float64)
    target = torch.randn(b, 3, generator=g, dtype=torch.float64)

    def loss_fn(t):
        return ((out - t) ** 2).mean(dim=1)

    got = mixed_loss(loss_fn, params, target, reduction="none")
    lam = params.lam.double()
    want = lam * loss_fn(target) + (1 - lam) * loss_fn(target[params.perm])
    torch.testing.assert_close(got, want)
    assert got.shape == (b,)


def test_gradcheck():
    g = _gen(0)
    params = sample_mix_params(4, alpha=1.0, per_sample=True, generator=g)
    out = torch.randn(4, 3, generator=g, dtype=torch.float64, requires_grad=True)
    target = torch.randn(4, 3, generator=g, dtype=torch.float64)

    def total(o):
        return mixed_loss(lambda t: ((o - t) ** 2).sum(dim=1), params, target)

    assert torch.autograd.gradcheck(total, (out,))


def test_errors():
    params = sample_mix_params(4, alpha=1.0, generator=_gen(0))
    y = torch.tensor([0, 1, 2, 3])
    logits = torch.randn(4, C)

    def per_sample(t):
        return F.cross_entropy(logits, t, reduction="none")

    with pytest.raises(ValueError, match=r"`loss_fn` must return one loss per sample, shape \(4,"):
        mixed_loss(lambda t: F.cross_entropy(logits, t), params, y)
    with pytest.raises(ValueError, match=r"`targets\[0\]` must have the batch \(4\) first"):
        mixed_loss(per_sample, params, y[:3])
    with pytest.raises(ValueError, match=r"`targets\[1\]` must hold one entry per sample \(4\)"):
        mixed_loss(lambda t, w: per_sample(t), params, y, ["a"])
    with pytest.raises(TypeError, match=r"`targets\[0\]` must be a tensor with the batch first"):
        mixed_loss(per_sample, params, "yes")
    with pytest.raises(TypeError, match="`params` must be MixParams"):
        mixed_loss(per_sample, (params.lam, params.perm), y)
    with pytest.raises(TypeError, match="`loss_fn` must be callable"):
        mixed_loss("ce", params, y)
    with pytest.raises(ValueError, match="`reduction` must be one of"):
        mixed_loss(per_sample, params, y, reduction="batchmean")
    with pytest.raises(ValueError, match="`targets` is empty"):
        mixed_loss(per_sample, params)
    with pytest.raises(ValueError, match=r"concatenated `targets` must hold sum\(target_lengths\)"):
        mixed_ctc_loss(
            torch.randn(10, 4, C).log_softmax(-1),
            torch.tensor([1, 2, 3]),
            torch.full((4,), 10),
            torch.tensor([1, 1, 1, 1]),
            params,
        )
