"""NumPy arrays at the library's edges: converted to tensors, read-only ones copied."""

import numpy as np
import pytest
import torch

from audiomix._arrays import as_tensor


def _read_only(a):
    a = a.copy()
    a.flags.writeable = False
    return a


def _swapped(a):
    return a.astype(a.dtype.newbyteorder("S"))  # the same values in the other byte order


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int64])
def test_writable_arrays_are_shared_and_the_others_copied(dtype):
    a = np.arange(6, dtype=dtype).reshape(2, 3)
    t = as_tensor(a, "x")
    assert isinstance(t, torch.Tensor) and np.shares_memory(t.numpy(), a)
    for other in (_read_only(a), a[:, ::-1], _swapped(a)):
        t = as_tensor(other, "x")
        assert not np.shares_memory(t.numpy(), other)
        np.testing.assert_array_equal(t.numpy(), other)
        assert t.numpy().dtype == np.dtype(dtype)


def test_other_values_pass_through_and_object_arrays_are_refused():
    x = torch.ones(2)
    assert as_tensor(x, "x") is x and as_tensor(None, "x") is None and as_tensor(3, "x") == 3
    scalar = as_tensor(np.int64(3), "x")
    assert isinstance(scalar, torch.Tensor) and scalar.dtype == torch.int64 and scalar.ndim == 0
    with pytest.raises(TypeError, match=r"`w` is a NumPy array of dtype object, which torch"):
        as_tensor(np.array([None]), "w")
