"""Figure: two clips of different lengths and five ways to mix them.

Clip A (0.6 s, a harmonic tone with vibrato) and clip B (1.0 s, a rising chirp over noise
bursts) are mixed with weight 0.5 by: waveform mixup, spectrogram mixup in the power domain,
spectrogram mixup linear in dB, spectrogram CutMix (a time-frequency box) and between-class
(BC) mixing. Log-mel spectrograms in dB; the dashed line marks each output's valid length.

    python examples/plot_mixing.py --out mixing.png
"""

from __future__ import annotations

import argparse
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

import audiomix  # noqa: E402
from audiomix.functional import (  # noqa: E402
    BCMixParams,
    CutMixParams,
    MixParams,
    pad_batch,
)

SR = 16000


def clip_a() -> torch.Tensor:
    t = torch.arange(int(0.6 * SR), dtype=torch.float64) / SR
    phase = 2 * math.pi * 330 * t + 3.0 * torch.sin(2 * math.pi * 5 * t)  # vibrato
    tone = sum(torch.sin(h * phase) / h for h in range(1, 7))
    env = torch.sin(math.pi * t / t[-1]).clamp_min(0) ** 0.5
    return (0.25 * tone * env).float()


def clip_b(generator: torch.Generator) -> torch.Tensor:
    t = torch.arange(SR, dtype=torch.float64) / SR
    chirp = torch.sin(2 * math.pi * (150 * t + 0.5 * 3000 * t * t))
    bursts = (torch.sin(2 * math.pi * 3 * t) > 0.7).double()
    noise = torch.randn(SR, generator=generator, dtype=torch.float64) * bursts
    return (0.2 * chirp + 0.08 * noise).float()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="mixing.png", help="PNG to write")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    x, lengths = pad_batch([clip_a(), clip_b(torch.Generator().manual_seed(args.seed))])
    logmel = audiomix.LogMelSpectrogram(sample_rate=SR, n_fft=512, hop_length=160, n_mels=64)
    frames = logmel.frame_lengths(lengths)
    specgram = logmel(x)

    # Fixed parameters (weight 0.5, A's partner is B, A starts at B's start) instead of draws,
    # so that every panel shows the same pair. `params=` replaces a module's random draw.
    half, pair = torch.full((2,), 0.5), torch.tensor([1, 0])
    yes, zero = torch.ones(2, dtype=torch.bool), torch.zeros(2, dtype=torch.int64)
    wave_params = MixParams(lam=half, perm=pair, applied=yes, offsets=zero)

    wave_mix, _, wave_len = audiomix.WaveformMixup()(x, None, lengths, params=wave_params)
    power_mix, _, spec_len = audiomix.SpectrogramMixup(scale="db", domain="power")(
        specgram, None, frames, params=wave_params
    )
    db_mix, _, _ = audiomix.SpectrogramMixup(scale="db", domain="input")(
        specgram, None, frames, params=wave_params
    )
    center = torch.full((2,), 0.5, dtype=torch.float64)
    cutmix = audiomix.SpectrogramCutMix(mode="box")
    cut_params = CutMixParams(
        lam=half, perm=pair, applied=yes, offsets=zero, time_center=center, freq_center=center
    )
    cut_mix, _, cut_len = cutmix(specgram, None, frames, params=cut_params)
    bc = audiomix.BCMix(sample_rate=SR)
    bc_mix, _, bc_len = bc(
        x, None, lengths, params=BCMixParams(lam=half, perm=pair, applied=yes, offsets=zero)
    )

    panels = [
        ("clip A (0.6 s)", specgram[0], frames[0]),
        ("clip B (1.0 s)", specgram[1], frames[1]),
        ("waveform mixup, λ = 0.5", logmel(wave_mix)[0], logmel.frame_lengths(wave_len)[0]),
        ("spectrogram mixup, power domain", power_mix[0], spec_len[0]),
        ("spectrogram mixup, linear in dB", db_mix[0], spec_len[0]),
        (f"CutMix box: kept {cutmix.last_params.lam[0]:.2f} of A", cut_mix[0], cut_len[0]),
        (
            f"BC mix: r = 0.5, p = {float(bc.last_params.mix_weight[0]):.2f}",
            logmel(bc_mix)[0],
            logmel.frame_lengths(bc_len)[0],
        ),
    ]
    fig = plt.figure(figsize=(11, 11), constrained_layout=True)
    grid = fig.add_gridspec(5, 2)
    vmin = float(specgram.amax()) - 80.0
    vmax = float(specgram.amax())
    hop_s = 160 / SR
    for k, (title, image, valid) in enumerate(panels):
        ax = fig.add_subplot(grid[k // 2, k % 2])
        ax.imshow(
            image.numpy(),
            origin="lower",
            aspect="auto",
            cmap="magma",
            vmin=vmin,
            vmax=vmax,
            extent=(0, image.shape[-1] * hop_s, 0, image.shape[-2]),
        )
        ax.axvline(float(valid) * hop_s, color="white", linestyle="--", linewidth=1)
        ax.set_title(title, fontsize=10)
        ax.set_ylabel("mel bin")
    ax = fig.add_subplot(grid[3, 1])
    t = torch.arange(x.shape[-1]) / SR
    ax.plot(t, x[0], linewidth=0.4, label="A", alpha=0.8)
    ax.plot(t, x[1], linewidth=0.4, label="B", alpha=0.6)
    ax.plot(t, wave_mix[0], linewidth=0.4, label="mixup (A, B)", color="black")
    ax.set_title("waveforms", fontsize=10)
    ax.legend(loc="upper right", fontsize=8)
    ax = fig.add_subplot(grid[4, :])
    ax.plot(t, wave_mix[0], linewidth=0.4, color="0.6", label="mixup (A, B)")
    ax.plot(t, bc_mix[0], linewidth=0.4, color="tab:green", alpha=0.7, label="BC mix (A, B)")
    ax.set_xlabel("time (s)")
    ax.set_title("BC mixing rescales by 1/sqrt(p² + (1-p)²) and weights by loudness", fontsize=10)
    ax.legend(loc="upper right", fontsize=8)
    fig.suptitle("Mixing two clips of different lengths (log-mel, dB; dashed: valid length)")
    fig.savefig(args.out, dpi=90)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
