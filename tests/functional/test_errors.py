"""Every error of the functional API: type, and a message naming the argument and the value."""

import re

import pytest
import torch

from audiomix.functional import (
    align,
    db_to_power,  # noqa: F401  (no argument checks: any dB value is valid)
    lengths_to_mask,
    mix,
    mix_targets,
    pad_batch,
    power_to_db,
    prepare_targets,
    sample_lambda,
    sample_mix_params,
    sample_offsets,
    sample_permutation,
    soft_target_cross_entropy,
)

X = torch.zeros(4, 10)
PERM = torch.tensor([1, 0, 3, 2])


def E(pattern):  # noqa: N802  (reads as a literal message in the tables below)
    return re.escape(pattern)


# --- sampling ----------------------------------------------------------------------------------


@pytest.mark.parametrize("alpha", [0, -1.0, float("nan"), float("inf"), -float("inf")])
def test_alpha_must_be_finite_positive(alpha):
    with pytest.raises(
        ValueError, match=E(f"`alpha` must be a finite number > 0, but got {float(alpha)}.")
    ):
        sample_lambda(alpha)
    with pytest.raises(ValueError, match="`alpha` must be a finite number > 0"):
        sample_mix_params(4, alpha=alpha)


@pytest.mark.parametrize("alpha", ["0.2", None, True, torch.tensor(0.2)])
def test_alpha_must_be_a_real_number(alpha):
    with pytest.raises(TypeError, match="`alpha` must be a real number, but got"):
        sample_lambda(alpha)


def test_sample_lambda_size():
    with pytest.raises(ValueError, match=E("`size` must be non-negative, but got (2, -1).")):
        sample_lambda(0.4, (2, -1))


def test_sample_permutation_batch_size():
    with pytest.raises(ValueError, match=E("`batch_size` must be >= 0, but got -1.")):
        sample_permutation(-1)


@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan")])
def test_p_outside_unit_interval(p):
    with pytest.raises(ValueError, match=E(f"`p` must be in [0, 1], but got {p}.")):
        sample_mix_params(4, alpha=0.4, p=p)


def test_p_type():
    with pytest.raises(TypeError, match="`p` must be a real number, but got str"):
        sample_mix_params(4, alpha=0.4, p="1")


@pytest.mark.parametrize(
    "fn",
    [
        lambda: sample_offsets(torch.tensor([3, 4]), torch.tensor([1, 0]), placement="end"),
        lambda: sample_mix_params(2, alpha=0.4, lengths=torch.tensor([3, 4]), placement="end"),
        lambda: align([torch.ones(3)], 5, placement="end"),
    ],
)
def test_bad_placement(fn):
    with pytest.raises(
        ValueError, match=E("must be one of 'start', 'center', 'random', but got 'end'.")
    ):
        fn()


def test_sample_mix_params_lengths():
    with pytest.raises(ValueError, match=E("`lengths` must be in [1, ")):
        sample_mix_params(2, alpha=0.4, lengths=torch.tensor([0, 4]))
    with pytest.raises(ValueError, match="`lengths` and the audio have different batch sizes"):
        sample_mix_params(3, alpha=0.4, lengths=torch.tensor([2, 4]))
    with pytest.raises(
        TypeError, match="`lengths` must have an integer dtype, but got torch.float32"
    ):
        sample_mix_params(2, alpha=0.4, lengths=torch.tensor([2.0, 4.0]))


# --- mix ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "dtype", [torch.int16, torch.int32, torch.uint8, torch.bool, torch.complex64]
)
def test_mix_integer_audio(dtype):
    with pytest.raises(
        TypeError,
        match=E(
            "`x` must have a floating dtype (float16, bfloat16, float32, float64), but got "
            f"{dtype}."
        ),
    ):
        mix(torch.zeros(4, 10, dtype=dtype), 0.5, PERM)


def test_mix_not_a_tensor():
    with pytest.raises(TypeError, match="`x` must be a torch.Tensor, but got list"):
        mix([[0.0]], 0.5, torch.tensor([0]))


def test_mix_rank_too_low():
    with pytest.raises(
        ValueError, match=E("`x` must have shape (batch, ..., time) (>= 1 dims), but got shape ().")
    ):
        mix(torch.tensor(1.0), 0.5, torch.tensor([0]))


@pytest.mark.parametrize(
    "shape, pattern",
    [
        ((4, 0), "`x` is empty along time: shape (4, 0)."),
        ((0, 10), "`x` is empty: shape (0, 10)."),
        ((4, 0, 10), "`x` is empty: shape (4, 0, 10)."),
    ],
)
def test_mix_empty_audio(shape, pattern):
    with pytest.raises(ValueError, match=E(pattern)):
        mix(torch.zeros(shape), 0.5, PERM)


@pytest.mark.parametrize(
    "lam, exc, pattern",
    [
        (1.5, ValueError, "`lam` must lie in [0, 1], but got 1.5."),
        (-0.1, ValueError, "`lam` must lie in [0, 1], but got -0.1."),
        (float("nan"), ValueError, "`lam` must lie in [0, 1], but got nan."),
        (
            torch.tensor([0.5, 1.2, 0.1, 0.3]),
            ValueError,
            "`lam` must lie in [0, 1], but got values in [0.1",
        ),
        (torch.tensor([0.5, float("nan"), 0.1, 0.3]), ValueError, "`lam` must lie in [0, 1]"),
        (
            torch.full((3,), 0.5),
            ValueError,
            "`lam` must be a scalar or have shape (batch,) = (4,), but got shape (3,).",
        ),
        (
            torch.full((4, 1), 0.5),
            ValueError,
            "`lam` must be a scalar or have shape (batch,) = (4,), but got shape (4, 1).",
        ),
        (
            torch.ones(4, dtype=torch.int64),
            TypeError,
            "`lam` must have a floating dtype, but got torch.int64.",
        ),
        ("0.5", TypeError, "`lam` must be a float or a Tensor, but got str."),
    ],
)
def test_mix_bad_lam(lam, exc, pattern):
    with pytest.raises(exc, match=E(pattern)):
        mix(X, lam, PERM)
    with pytest.raises(exc, match=E(pattern)):
        mix_targets(torch.tensor([0, 1, 2, 0]), lam, PERM, num_classes=3)


@pytest.mark.parametrize(
    "perm, exc, pattern",
    [
        ([1, 0, 3, 2], TypeError, "`perm` must be a torch.Tensor, but got list."),
        (
            torch.tensor([1.0, 0, 3, 2]),
            TypeError,
            "`perm` must be an int64 or int32 tensor, but got torch.float32.",
        ),
        (
            torch.tensor([1, 0, 2]),
            ValueError,
            "`perm` must have shape (batch,) = (4,), but got (3,).",
        ),
        (
            torch.tensor([1, 0, 4, 2]),
            ValueError,
            "`perm` holds partner indices, which must be in [0, 3], but got values in [0, 4].",
        ),
        (
            torch.tensor([1, -1, 3, 2]),
            ValueError,
            "`perm` holds partner indices, which must be in [0, 3], but got values in [-1, 3].",
        ),
    ],
)
def test_mix_bad_perm(perm, exc, pattern):
    with pytest.raises(exc, match=E(pattern)):
        mix(X, 0.5, perm)
    with pytest.raises(exc, match=E(pattern)):
        mix_targets(torch.tensor([0, 1, 2, 0]), 0.5, perm, num_classes=3)


@pytest.mark.parametrize(
    "lengths, exc, pattern",
    [
        (
            torch.tensor([10, 0, 5, 3]),
            ValueError,
            "`lengths` must be in [1, 10] (the padded length), but got values in [0, 10].",
        ),
        (
            torch.tensor([10, -2, 5, 3]),
            ValueError,
            "`lengths` must be in [1, 10] (the padded length), but got values in [-2, 10].",
        ),
        (
            torch.tensor([11, 1, 5, 3]),
            ValueError,
            "`lengths` must be in [1, 10] (the padded length), but got values in [1, 11].",
        ),
        (
            torch.tensor([10, 1, 5]),
            ValueError,
            "`lengths` and the audio have different batch sizes: `lengths` has shape (3,), "
            "expected (4,).",
        ),
        (
            torch.tensor([10.0, 1, 5, 3]),
            TypeError,
            "`lengths` must have an integer dtype, but got torch.float32.",
        ),
        (
            torch.tensor([True, True, True, True]),
            TypeError,
            "`lengths` must have an integer dtype, but got torch.bool.",
        ),
        ([10, 1, 5, 3], TypeError, "`lengths` must be a torch.Tensor, but got list."),
    ],
)
def test_mix_bad_lengths(lengths, exc, pattern):
    with pytest.raises(exc, match=E(pattern)):
        mix(X, 0.5, PERM, lengths=lengths)


def test_mix_bad_offsets():
    lengths = torch.tensor([10, 4, 6, 6])
    with pytest.raises(ValueError, match=E("`offsets` must have shape (4,), but got (3,).")):
        mix(X, 0.5, PERM, lengths=lengths, offsets=torch.zeros(3, dtype=torch.int64))
    with pytest.raises(ValueError, match=E("`offsets` must lie in [0, |lengths - lengths[perm]|]")):
        mix(X, 0.5, PERM, lengths=lengths, offsets=torch.tensor([7, 0, 0, 0]))
    with pytest.raises(ValueError, match=E("`offsets` must lie in [0, |lengths - lengths[perm]|]")):
        mix(X, 0.5, PERM, lengths=lengths, offsets=torch.tensor([-1, 0, 0, 0]))


def test_mix_bad_out():
    with pytest.raises(
        ValueError,
        match=E(
            "`out` must be a contiguous tensor of shape (4, 10) and dtype torch.float32, but got "
            "(4, 9), torch.float32."
        ),
    ):
        mix(X, 0.5, PERM, out=torch.empty(4, 9))
    with pytest.raises(ValueError, match=E("`out` must be a contiguous tensor")):
        mix(X, 0.5, PERM, out=torch.empty(4, 10, dtype=torch.float64))
    with pytest.raises(ValueError, match=E("`out` must be a contiguous tensor")):
        mix(X, 0.5, PERM, out=torch.empty(10, 4).t())
    with pytest.raises(
        ValueError, match=E("`out` must not share memory with `x`: partners would be overwritten.")
    ):
        x = X.clone()
        mix(x, 0.5, PERM, out=x)


def test_mix_validate_false_skips_value_checks():
    # validate=False trusts lam and perm (no host sync); out-of-range lam then just extrapolates.
    out = mix(X + 1, 2.0, PERM, validate=False)
    assert torch.equal(out, X + 1)


# --- targets -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "labels, kw, exc, pattern",
    [
        (
            torch.tensor([0, 3, 1]),
            dict(num_classes=3),
            ValueError,
            "`labels` must be class indices in [0, 2], but got values in [0, 3].",
        ),
        (
            torch.tensor([0, -1, 1]),
            dict(num_classes=3),
            ValueError,
            "`labels` must be class indices in [0, 2], but got values in [-1, 1].",
        ),
        (
            torch.tensor([0.0, 1.0]),
            dict(num_classes=3),
            TypeError,
            "`labels` of shape (batch,) are class indices and need an integer dtype, but got "
            "torch.float32.",
        ),
        (
            torch.tensor([True, False]),
            dict(num_classes=3),
            TypeError,
            "need an integer dtype, but got torch.bool.",
        ),
        (
            torch.tensor([0, 1]),
            dict(),
            ValueError,
            "labels are class indices, so `num_classes` is required.",
        ),
        (
            torch.tensor([0, 1]),
            dict(num_classes=3, multilabel=True),
            ValueError,
            "`multilabel=True` needs multi-hot `labels` of shape (batch, num_classes), but got "
            "class indices of shape (2,).",
        ),
        (
            torch.zeros(2, 3, 4, 1),
            dict(),
            ValueError,
            "`labels` must be class indices (batch,), targets (batch, num_classes) or frame "
            "targets (batch, frames, classes), but got shape (2, 3, 4, 1).",
        ),
        (
            torch.tensor(1),
            dict(num_classes=3),
            ValueError,
            "`labels` must be class indices (batch,), targets (batch, num_classes) or frame "
            "targets (batch, frames, classes), but got shape ().",
        ),
        (
            torch.eye(3),
            dict(num_classes=4),
            ValueError,
            "`labels` have 3 classes but `num_classes` is 4: shape (3, 3).",
        ),
        (
            torch.tensor([[0.5, 0.6], [0.5, 0.5]]),
            dict(),
            ValueError,
            "single-label `labels` must have rows that sum to 1, but a row sums to 1.1; pass "
            "`multilabel=True` for multi-hot targets.",
        ),
        (
            torch.tensor([[1.0, 1.0], [0.0, 1.0]]),
            dict(),
            ValueError,
            "must have rows that sum to 1, but a row sums to 2",
        ),
        (
            torch.tensor([[1.5, -0.5], [0.0, 1.0]]),
            dict(),
            ValueError,
            "`labels` must lie in [0, 1], but got values in [-0.5, 1.5].",
        ),
        (
            torch.tensor([[2.0, 0.0]]),
            dict(multilabel=True),
            ValueError,
            "`labels` must lie in [0, 1], but got values in [0.0, 2.0].",
        ),
        (
            torch.tensor([[float("nan"), 1.0]]),
            dict(multilabel=True),
            ValueError,
            "`labels` contain NaN or Inf values.",
        ),
        ([0, 1], dict(num_classes=3), TypeError, "`labels` must be a torch.Tensor, but got list."),
        (
            torch.tensor([0, 1]),
            dict(num_classes=0),
            ValueError,
            "`num_classes` must be >= 1, but got 0.",
        ),
        (
            torch.tensor([0, 1]),
            dict(num_classes=3.0),
            TypeError,
            "`num_classes` must be an int, but got float.",
        ),
        (
            torch.tensor([0, 1]),
            dict(num_classes=3, label_smoothing=1.0),
            ValueError,
            "`label_smoothing` must be in [0, 1), but got 1.0.",
        ),
        (
            torch.tensor([0, 1]),
            dict(num_classes=3, label_smoothing=-0.1),
            ValueError,
            "`label_smoothing` must be in [0, 1), but got -0.1.",
        ),
        (
            torch.tensor([0, 1]),
            dict(num_classes=3, label_smoothing="0.1"),
            TypeError,
            "`label_smoothing` must be a real number, but got str.",
        ),
    ],
)
def test_bad_labels(labels, kw, exc, pattern):
    with pytest.raises(exc, match=E(pattern)):
        prepare_targets(labels, **kw)
    b = labels.shape[0] if isinstance(labels, torch.Tensor) and labels.ndim else 2
    with pytest.raises(exc, match=E(pattern)):
        mix_targets(labels, 0.5, torch.arange(b), **kw)


def test_soft_rows_tolerance_half_precision():
    # Half-precision soft targets are checked at 1e-2 (their rounding), not 1e-4.
    soft = torch.tensor([[0.333, 0.333, 0.334]], dtype=torch.float16)
    prepare_targets(soft)
    with pytest.raises(ValueError, match="must have rows that sum to 1"):
        prepare_targets(torch.tensor([[0.3, 0.3, 0.3]], dtype=torch.float16))


def test_union_without_multilabel():
    with pytest.raises(
        ValueError, match=E("`union=True` is for multi-label targets; pass `multilabel=True` too.")
    ):
        mix_targets(torch.eye(2), 0.5, torch.tensor([1, 0]), union=True)


def test_soft_ce_errors():
    with pytest.raises(
        ValueError,
        match=E(
            "`logits` and `targets` must both have shape (batch, num_classes), but got (2, 3) and "
            "(2, 4)."
        ),
    ):
        soft_target_cross_entropy(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match=E("but got (3,) and (3,).")):
        soft_target_cross_entropy(torch.zeros(3), torch.zeros(3))
    with pytest.raises(
        ValueError, match=E("`reduction` must be one of 'mean', 'sum', 'none', but got 'avg'.")
    ):
        soft_target_cross_entropy(torch.zeros(2, 3), torch.zeros(2, 3), reduction="avg")
    with pytest.raises(
        ValueError, match=E("`logits` and `targets` are on different devices: cpu != meta.")
    ):
        soft_target_cross_entropy(torch.zeros(2, 3), torch.zeros(2, 3, device="meta"))


# --- alignment ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "clips, exc, pattern",
    [
        (
            torch.zeros(2, 5),
            TypeError,
            "`clips` must be a list of tensors or NumPy arrays, but got Tensor.",
        ),
        ([], ValueError, "`clips` is empty: nothing to batch."),
        (
            [torch.zeros(3), [0.0]],
            TypeError,
            "`clips[1]` must be a torch.Tensor or a NumPy array, but got list.",
        ),
        (
            [torch.tensor(1.0)],
            ValueError,
            "`clips[0]` must have shape (..., time), but is a scalar.",
        ),
        (
            [torch.zeros(3), torch.zeros(0)],
            ValueError,
            "`clips[1]` is empty along time: shape (0,).",
        ),
        (
            [torch.zeros(2, 3), torch.zeros(1, 3)],
            ValueError,
            "`clips` must share every dimension but time: `clips[0]` has leading shape (2,), "
            "`clips[1]` has (1,).",
        ),
        (
            [torch.zeros(3), torch.zeros(3, dtype=torch.float64)],
            ValueError,
            "`clips` must share dtype and device: `clips[0]` is torch.float32 on cpu, `clips[1]` "
            "is torch.float64 on cpu.",
        ),
        (
            [torch.zeros(3), torch.zeros(3, device="meta")],
            ValueError,
            "`clips` must share dtype and device: `clips[0]` is torch.float32 on cpu, `clips[1]` "
            "is torch.float32 on meta.",
        ),
    ],
)
def test_pad_batch_bad_clips(clips, exc, pattern):
    with pytest.raises(exc, match=E(pattern)):
        pad_batch(clips)


def test_pad_batch_bad_lengths():
    with pytest.raises(
        ValueError,
        match=E(
            "`length` (4) is shorter than the longest clip (5); use `align(..., length)` to crop."
        ),
    ):
        pad_batch([torch.zeros(5), torch.zeros(2)], length=4)
    with pytest.raises(ValueError, match=E("`multiple_of` must be >= 1, but got 0.")):
        pad_batch([torch.zeros(5)], multiple_of=0)


@pytest.mark.parametrize("length", [0, -3, 2.5, True])
def test_align_bad_length(length):
    with pytest.raises(ValueError, match=E(f"`length` must be an int >= 1, but got {length!r}.")):
        align([torch.zeros(5)], length)


def test_align_bad_fill_and_empty():
    with pytest.raises(
        ValueError, match=E("`mode` must be one of 'pad', 'repeat', but got 'wrap'.")
    ):
        align([torch.zeros(5)], 3, mode="wrap")
    with pytest.raises(ValueError, match=E("`clips[0]` is empty along time: shape (2, 0).")):
        align(torch.zeros(2, 0), 3)


def test_lengths_to_mask_errors():
    with pytest.raises(ValueError, match=E("`lengths` must be a 1-D tensor of shape (batch,).")):
        lengths_to_mask(torch.ones(2, 2, dtype=torch.int64))
    with pytest.raises(
        TypeError, match=E("`lengths` must have an integer dtype, but got torch.float32.")
    ):
        lengths_to_mask(torch.ones(2))
    with pytest.raises(ValueError, match=E("`max_length` must be >= 0, but got -1.")):
        lengths_to_mask(torch.ones(2, dtype=torch.int64), max_length=-1)


# --- spectral ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kw, pattern",
    [
        (dict(amin=0.0), "`amin` must be > 0, but got 0.0."),
        (dict(ref=-1.0), "`ref` must be > 0, but got -1.0."),
        (dict(top_db=-5.0), "`top_db` must be >= 0 or None, but got -5.0."),
    ],
)
def test_power_to_db_bad_args(kw, pattern):
    with pytest.raises(ValueError, match=E(pattern)):
        power_to_db(torch.ones(3, 4), **kw)


def test_power_to_db_needs_two_dims_for_top_db():
    with pytest.raises(
        ValueError,
        match=E("`specgram` must have shape (..., freq, time) for `top_db`, but got (5,)."),
    ):
        power_to_db(torch.ones(5))
    assert power_to_db(torch.ones(5), top_db=None).shape == (5,)
