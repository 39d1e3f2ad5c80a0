"""Mixing inside a torchaudio transform chain, with labels and lengths following the mix.

``nn.Sequential`` passes a single tensor along, so a mixing step in it can neither receive
labels nor return mixed targets. ``audiomix.Chain`` is a Sequential that carries
``(x, labels, lengths)``: torchaudio transforms see ``x`` only, mixing modules see all three,
and the valid lengths are converted from samples to frames (and across sample rates).

The masks work on the power spectrogram, before the dB conversion: there their fill value 0 is
silence (on dB values it would be 0 dB, louder than the speech). After ``chain.eval()`` the
same chain is the clean front end: the masks, torchaudio's random augmentations, are skipped
and nothing is mixed.

    python examples/torchaudio_chain.py
"""

from __future__ import annotations

import argparse
import math

import torch
import torchaudio.transforms as T

import audiomix
from audiomix.data import pad_collate


def clips(generator: torch.Generator) -> list[tuple[torch.Tensor, int]]:
    """Four (waveform, label) pairs at 16 kHz, 0.4 to 1 s long: tones, a chirp, noise."""
    sr = 16000
    out = []
    for label, seconds in [(0, 1.0), (1, 0.55), (2, 0.8), (1, 0.4)]:
        t = torch.arange(int(sr * seconds)) / sr
        if label == 0:
            x = torch.sin(2 * math.pi * 440 * t)
        elif label == 1:
            x = torch.sin(2 * math.pi * (200 + 1500 * t) * t)
        else:
            x = torch.randn(t.numel(), generator=generator)
        out.append((0.3 * x, label))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batches", type=int, default=3, help="batches to show")
    args = parser.parse_args()

    chain = audiomix.Chain(
        T.Resample(orig_freq=16000, new_freq=8000),
        T.MelSpectrogram(sample_rate=8000, n_fft=256, hop_length=80, n_mels=40),
        T.FrequencyMasking(freq_mask_param=8, iid_masks=True),  # one mask per clip
        T.TimeMasking(time_mask_param=12, iid_masks=True),
        T.AmplitudeToDB(stype="power", top_db=80.0),
        # One method per batch: mixup in the power domain, or a time-frequency CutMix box.
        audiomix.RandomChoiceMix(
            {
                "mixup": audiomix.SpectrogramMixup(
                    alpha=0.4, num_classes=3, scale="db", generator=args.seed
                ),
                "cutmix": audiomix.SpectrogramCutMix(
                    mode="box", num_classes=3, generator=args.seed + 1
                ),
            },
            generator=args.seed + 2,
        ),
    )
    print(chain)
    torch.manual_seed(args.seed)  # torchaudio's masks draw from the global RNG
    x, labels, lengths = pad_collate(clips(torch.Generator().manual_seed(args.seed)))
    print(f"\ninput  x {tuple(x.shape)}, labels {labels.tolist()}, lengths {lengths.tolist()}")
    for step in range(args.batches):
        specgram, targets, frames = chain(x, labels, lengths)
        switch = chain[5]
        params = switch.last_params
        print(f"\nbatch {step}: method {switch.last_name!r}")
        print(
            f"  specgram {tuple(specgram.shape)} (batch, n_mels, frames), valid frames "
            f"{frames.tolist()}"
        )
        print(
            f"  partners {params.perm.tolist()}, own weight lam "
            f"{[round(v, 3) for v in params.lam.tolist()]}"
        )
        if switch.last_name == "cutmix":
            cut = params.member  # the CutMix member's own parameters: the draw and the boxes
            print(
                f"  drawn lam {round(float(cut.lam_drawn[0]), 3)}; boxes (frames) "
                f"{list(zip(cut.time_start.tolist(), cut.time_end.tolist(), strict=True))}"
            )
        print(
            "  targets\n"
            + "\n".join("    " + str([round(v, 3) for v in row]) for row in targets.tolist())
        )

    chain.eval()
    specgram, targets, frames = chain(x, labels, lengths)
    front_end = chain[4](chain[1](chain[0](x)))  # resample, mel, dB: no masks, no mixing
    print(
        f"\nchain.eval(): the clean front end {torch.equal(specgram, front_end)}, valid frames "
        f"{frames.tolist()}, targets one-hot {targets.max(1).values.eq(1).all().item()}"
    )


if __name__ == "__main__":
    main()
