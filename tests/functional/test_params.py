"""Parameter classes: moved between devices with every field and their class."""

import dataclasses

import torch

from audiomix.functional import (
    BCMixParams,
    CutMixParams,
    SNRMixParams,
    sample_bc_params,
    sample_cutmix_params,
    sample_snr_params,
)
from tests._helpers import generator as _gen


def test_params_to_keeps_the_class_and_every_field():
    p = sample_cutmix_params(3, alpha=1.0, lengths=torch.tensor([5, 9, 7]), generator=_gen(4))
    p = dataclasses.replace(p, time_start=torch.tensor([0, 1, 2]))
    moved = p.to("cpu")
    assert type(moved) is CutMixParams
    for f in dataclasses.fields(p):
        a, b = getattr(p, f.name), getattr(moved, f.name)
        assert (a is None and b is None) or torch.equal(a, b), f.name
    snr = sample_snr_params(2, generator=_gen(5)).to(torch.device("cpu"))
    assert type(snr) is SNRMixParams and snr.snr_db is not None
    assert type(sample_bc_params(2, generator=_gen(6)).to("cpu")) is BCMixParams
