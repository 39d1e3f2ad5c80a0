"""Clips of different lengths through mixing: padding, lengths and masks.

A batch of variable-length clips is right-padded (``pad_collate``) and carries its valid
lengths. Every audiomix mixer takes those lengths: padding is treated as silence, never as
signal, and the lengths that come back say what is valid in the output. This script prints,
for each method, the lengths before and after and checks that nothing but silence sits beyond
them.

    python examples/variable_length.py
"""

from __future__ import annotations

import argparse

import torch

import audiomix
from audiomix.data import pad_collate
from audiomix.functional import lengths_to_mask


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    g = torch.Generator().manual_seed(args.seed)

    # Four clips: 1.0, 0.56, 0.25 and 0.75 s at 16 kHz, classes 0-3.
    items = [
        (0.1 * torch.randn(n, generator=g), label)
        for label, n in enumerate([16000, 9000, 4000, 12000])
    ]
    x, labels, lengths = pad_collate(items)
    mask = lengths_to_mask(lengths, x.shape[-1])
    print(f"padded batch {tuple(x.shape)}, lengths {lengths.tolist()}")
    print(f"mask {tuple(mask.shape)}: valid samples per clip {mask.sum(1).tolist()}\n")

    def report(name, out, before, after, partners, silence=None):
        """One line per method; checks that every position beyond `after` is silence."""
        beyond = ~lengths_to_mask(after, out.shape[-1])
        beyond = beyond.view(out.shape[0], *[1] * (out.ndim - 2), out.shape[-1])
        silence = torch.zeros(out.shape[0]) if silence is None else silence
        expected = silence.view(-1, *[1] * (out.ndim - 1)).expand_as(out)
        # Unmixed rows (own partner) are returned exactly as they came in, padding and all.
        mixed = torch.tensor(partners) != torch.arange(out.shape[0])
        ok = torch.where(beyond, out == expected, True).flatten(1).all(1)
        silent = bool(ok[mixed].all())
        print(
            f"{name:<26} partners {partners}  lengths {before.tolist()} -> "
            f"{after.tolist()}  mixed clips silent beyond: {silent}"
        )

    common = dict(num_classes=4, placement="center")
    # Waveform mixup: the mix lasts as long as the longer clip; the shorter one is centred.
    mixup = audiomix.WaveformMixup(alpha=0.4, generator=args.seed, **common)
    out, _, out_lengths = mixup(x, labels, lengths)
    report("WaveformMixup", out, lengths, out_lengths, mixup.last_params.perm.tolist())

    # SNR mixing: the partner is added at 0-10 dB below the clip, over the longer length.
    snr = audiomix.SNRMix(snr_db=(0.0, 10.0), generator=args.seed, **common)
    out, _, out_lengths = snr(x, labels, lengths)
    report("SNRMix", out, lengths, out_lengths, snr.last_params.perm.tolist())

    # BC mixing: gain-aware ratio; lengths as for mixup.
    bc = audiomix.BCMix(sample_rate=16000, generator=args.seed, **common)
    out, _, out_lengths = bc(x, labels, lengths)
    report("BCMix", out, lengths, out_lengths, bc.last_params.perm.tolist())

    # CutMix pastes only where both clips have content: each clip keeps its own length.
    cut = audiomix.WaveformCutMix(generator=args.seed, **common)
    out, _, out_lengths = cut(x, labels, lengths)
    report("WaveformCutMix", out, lengths, out_lengths, cut.last_params.perm.tolist())
    kept = [round(v, 3) for v in cut.last_params.lam.tolist()]
    print(f"{'':<26} own share of each clip (target weight): {kept}")

    # Spectrograms: lengths in samples become valid frames; padding frames are dB silence.
    logmel = audiomix.LogMelSpectrogram(sample_rate=16000, n_fft=400, hop_length=160, n_mels=40)
    specgram = logmel(x)
    frames = logmel.frame_lengths(lengths)
    print(f"\nlog-mel {tuple(specgram.shape)}, valid frames {frames.tolist()}")
    spec_mixup = audiomix.SpectrogramMixup(alpha=0.4, generator=args.seed, **common)
    out, _, out_frames = spec_mixup(specgram, labels, frames)
    floor = out.flatten(1).amin(1)  # padding frames of a mix hold its dB floor (silence)
    report(
        "SpectrogramMixup (dB)",
        out,
        frames,
        out_frames,
        spec_mixup.last_params.perm.tolist(),
        silence=floor,
    )
    spec_cut = audiomix.SpectrogramCutMix(mode="time", generator=args.seed, **common)
    out, _, out_frames = spec_cut(specgram, labels, frames)
    print(
        f"{'SpectrogramCutMix (time)':<26} partners {spec_cut.last_params.perm.tolist()}  "
        f"lengths {frames.tolist()} -> {out_frames.tolist()}  padding untouched: "
        f"{bool(torch.equal(out[..., -1], specgram[..., -1]))}"
    )


if __name__ == "__main__":
    main()
