"""Pure functions behind audiomix's modules: sample first, then apply.

Every function takes its tensors first and its configuration as keywords, keeps no state and
never modifies its inputs. Randomness comes only from an explicit ``torch.Generator``.
"""

from ._alignment import align, lengths_to_mask, mix_lengths, pad_batch
from ._bc import bc_mix, bc_weight, sample_bc_params
from ._cutmix import CutBoxes, cutmix, sample_cutmix_params
from ._frame_targets import mix_strong_flags, prepare_frame_targets
from ._frames import (
    TimeMap,
    mix_frames,
    mixup_time_map,
    shift_frames,
    span_cover,
    span_time_map,
    target_lengths,
)
from ._losses import mixed_ctc_loss, mixed_loss, soft_target_cross_entropy
from ._loudness import normalize_rms, rms_db
from ._mix import mix
from ._params import BCMixParams, ChoiceParams, CutMixParams, SNRMixParams
from ._sampling import (
    PARTNER_RULES,
    PLACEMENTS,
    MixParams,
    PairingOptions,
    sample_lambda,
    sample_mix_params,
    sample_offsets,
    sample_partners,
    sample_permutation,
    shared_classes,
)
from ._snr import sample_snr_params, snr_mix
from ._spectral import db_to_power, frame_lengths, power_to_db
from ._targets import mix_targets, prepare_targets
from ._weighting import a_weighted_gain, a_weighting, a_weighting_bins

__all__ = [
    "BCMixParams",
    "ChoiceParams",
    "CutBoxes",
    "CutMixParams",
    "MixParams",
    "PARTNER_RULES",
    "PLACEMENTS",
    "PairingOptions",
    "SNRMixParams",
    "TimeMap",
    "a_weighted_gain",
    "a_weighting",
    "a_weighting_bins",
    "align",
    "bc_mix",
    "bc_weight",
    "cutmix",
    "db_to_power",
    "frame_lengths",
    "lengths_to_mask",
    "mix",
    "mix_frames",
    "mix_lengths",
    "mix_strong_flags",
    "mix_targets",
    "mixed_ctc_loss",
    "mixed_loss",
    "mixup_time_map",
    "normalize_rms",
    "pad_batch",
    "power_to_db",
    "prepare_frame_targets",
    "prepare_targets",
    "rms_db",
    "sample_bc_params",
    "sample_cutmix_params",
    "sample_lambda",
    "sample_mix_params",
    "sample_offsets",
    "sample_partners",
    "sample_permutation",
    "sample_snr_params",
    "shared_classes",
    "shift_frames",
    "snr_mix",
    "soft_target_cross_entropy",
    "span_cover",
    "span_time_map",
    "target_lengths",
]
