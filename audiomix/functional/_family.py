"""Compatibility: the names ``transforms`` imported from here before the split by method.

CutMix lives in ``_cutmix.py``, SNR mixing in ``_snr.py``, BC mixing in ``_bc.py``,
A-weighting in ``_weighting.py``, the parameter classes in ``_params.py`` and the validators in
``audiomix._validation``. Import from those (or the public ``audiomix.functional``); this
module goes once nothing imports it.
"""

from __future__ import annotations

from .._validation import check_fade, check_snr_range
from ._bc import _bc_mix, sample_bc_params
from ._cutmix import CUT_MODES, _cutmix, sample_cutmix_params
from ._params import BCMixParams, CutMixParams, SNRMixParams
from ._snr import _snr_mix, sample_snr_params
from ._weighting import _gain_db, default_gain_n_fft
from ._weighting import a_weighting_bins as _a_weights

__all__ = [
    "CUT_MODES",
    "BCMixParams",
    "CutMixParams",
    "SNRMixParams",
    "_a_weights",
    "_bc_mix",
    "_cutmix",
    "_gain_db",
    "_snr_mix",
    "check_fade",
    "check_snr_range",
    "default_gain_n_fft",
    "sample_bc_params",
    "sample_cutmix_params",
    "sample_snr_params",
]
