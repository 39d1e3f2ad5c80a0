"""rms_db and normalize_rms on tensors and NumPy arrays."""

import numpy as np
import pytest
import torch

from audiomix.functional import normalize_rms, rms_db
from tests._helpers import generator as _gen


def _batch(dtype=torch.float32):
    scale = torch.tensor([[0.01], [0.3], [2.0]])
    return (torch.randn(3, 2, 400, generator=_gen(1)) * scale[..., None]).to(dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("writeable", [True, False])
def test_numpy_input_gives_the_tensor_result_and_stays_unchanged(dtype, writeable):
    x = _batch(dtype)
    lengths = torch.tensor([400, 250, 90])
    array, array_lengths = x.numpy().copy(), lengths.numpy().copy()
    array.flags.writeable = writeable
    before = array.copy()
    level = rms_db(array, lengths=array_lengths)
    torch.testing.assert_close(level, rms_db(x, lengths=lengths), rtol=0, atol=0)
    out = normalize_rms(array, target_db=-23.0, lengths=array_lengths)
    ref = normalize_rms(x, target_db=-23.0, lengths=lengths)
    assert isinstance(out, torch.Tensor) and out.dtype == dtype
    torch.testing.assert_close(out, ref, rtol=0, atol=0)
    torch.testing.assert_close(
        rms_db(out, lengths=lengths), torch.full((3,), -23.0), rtol=0, atol=1e-3
    )
    out += 1.0  # a new tensor: the array keeps its values
    np.testing.assert_array_equal(array, before)


def test_numpy_errors_name_the_argument():
    with pytest.raises(TypeError, match="`waveform` must have a floating dtype"):
        rms_db(np.ones((2, 10), dtype=np.int16))
    with pytest.raises(TypeError, match="`waveform` is a NumPy array of dtype object"):
        normalize_rms(np.array([[None, 1.0]]))
    with pytest.raises(TypeError, match="`waveform` must be a torch.Tensor, but got list"):
        rms_db([[0.1, 0.2]])
