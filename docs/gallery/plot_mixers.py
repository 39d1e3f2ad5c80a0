"""
What each mixer does to a pair of clips
=======================================

Two clips of different lengths, a 0.6 s whistle (a harmonic tone with vibrato) and a 1.0 s
rising chirp over noise bursts, go through every mixer of audiomix. Each figure shows the mix of
the whistle with the chirp as a waveform and as a log-mel spectrogram (dB), the dashed line
marking the valid length the mixer returns, and the target the whistle's row gets. The players
below each figure play the clips and the mix.

Every mixer is told to pair the two clips (``partner="other_class"``: each clip's partner is a
clip of another class), so that each figure shows the same pair.
"""

# %%
# The clips
# ---------
import base64
import io
import math
import wave

import matplotlib.pyplot as plt
import torch

import audiomix
from audiomix.functional import pad_batch

SR = 16000


def whistle() -> torch.Tensor:
    t = torch.arange(int(0.6 * SR), dtype=torch.float64) / SR
    phase = 2 * math.pi * 660 * t + 4.0 * torch.sin(2 * math.pi * 5 * t)  # vibrato
    tone = sum(torch.sin(h * phase) / h for h in range(1, 5))
    return (0.3 * tone * torch.sin(math.pi * t / t[-1]) ** 0.5).float()


def chirp_over_bursts(generator: torch.Generator) -> torch.Tensor:
    t = torch.arange(SR, dtype=torch.float64) / SR
    chirp = torch.sin(2 * math.pi * (150 * t + 0.5 * 3000 * t * t))
    bursts = (torch.sin(2 * math.pi * 3 * t) > 0.7).double()
    noise = torch.randn(SR, generator=generator, dtype=torch.float64) * bursts
    return (0.2 * chirp + 0.08 * noise).float()


class Audio:
    """An audio player in the rendered page (a WAV file inlined in the HTML)."""

    def __init__(self, waveform: torch.Tensor, title: str) -> None:
        pcm = (waveform.clamp(-1, 1) * 32767).to(torch.int16).numpy().tobytes()
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(SR)
            wav.writeframes(pcm)
        self.data = base64.b64encode(buffer.getvalue()).decode()
        self.title = title

    def _repr_html_(self) -> str:
        source = f"data:audio/wav;base64,{self.data}"
        return f'<p>{self.title}<br><audio controls src="{source}"></audio></p>'


class Players:
    def __init__(self, *players: Audio) -> None:
        self.players = players

    def _repr_html_(self) -> str:
        return "".join(p._repr_html_() for p in self.players)

    def __repr__(self) -> str:
        return ", ".join(p.title for p in self.players)


waveform, lengths = pad_batch([whistle(), chirp_over_bursts(torch.Generator().manual_seed(0))])
labels = torch.tensor([0, 1])  # whistle, chirp
logmel = audiomix.LogMelSpectrogram(sample_rate=SR, n_fft=512, hop_length=160, n_mels=64)
specgram, frames = logmel(waveform), logmel.frame_lengths(lengths)
TOP = float(specgram.amax())
HOP_S = 160 / SR


def show(title, wave_out=None, spec_out=None, valid=None, targets=None):
    """The whistle's row of a mixer's output: waveform (if any) and log-mel spectrogram."""
    rows = 2 if wave_out is not None else 1
    fig, axes = plt.subplots(rows, 1, figsize=(8, 2.2 * rows + 0.4), constrained_layout=True)
    axes = [axes] if rows == 1 else list(axes)
    if wave_out is not None:
        t = torch.arange(wave_out.shape[-1]) / SR
        axes[0].plot(t, wave_out[0], linewidth=0.4, color="black")
        axes[0].set_xlim(0, t[-1])
        axes[0].set_ylabel("amplitude")
        axes[0].axvline(float(valid) / SR, color="tab:red", linestyle="--", linewidth=1)
        spec_out = logmel(wave_out)
        valid = logmel.frame_lengths(valid.reshape(1))[0]
    image = spec_out[0]
    axes[-1].imshow(
        image.numpy(),
        origin="lower",
        aspect="auto",
        cmap="magma",
        vmin=TOP - 80,
        vmax=TOP,
        extent=(0, image.shape[-1] * HOP_S, 0, image.shape[-2]),
    )
    axes[-1].axvline(float(valid) * HOP_S, color="white", linestyle="--", linewidth=1)
    axes[-1].set_ylabel("mel bin")
    axes[-1].set_xlabel("time (s)")
    if targets is not None:
        title += (
            f"\ntarget of the whistle's row: whistle {targets[0, 0]:.2f}, chirp {targets[0, 1]:.2f}"
        )
    fig.suptitle(title, fontsize=10)
    plt.show()


show("the whistle, padded to the chirp's length", waveform, valid=lengths[0])
show("the chirp", waveform[[1, 0]], valid=lengths[1])
Players(Audio(waveform[0, : lengths[0]], "whistle"), Audio(waveform[1], "chirp"))

# %%
# Waveform mixup
# --------------
# ``λ·whistle + (1 − λ)·chirp`` sample by sample. The whistle is shorter: placed at the start of
# the chirp (``placement="start"``), the mix is valid over the chirp's whole length.
mixer = audiomix.WaveformMixup(alpha=1.0, num_classes=2, partner="other_class", generator=1)
mixed, targets, mixed_lengths = mixer(waveform, labels, lengths)
show(
    f"WaveformMixup, λ = {mixer.last_params.lam[0]:.2f}",
    mixed,
    valid=mixed_lengths[0],
    targets=targets,
)
Players(Audio(mixed[0], "waveform mixup"))

# %%
# Spectrogram mixup
# -----------------
# On log-mel input in dB, the default mixes in the power domain (dB → power → mix → dB):
# decibels do not add. ``domain="input"`` mixes the dB values linearly, as PANNs does, which
# lets quiet parts of one clip dim loud parts of the other.
for domain in ("power", "input"):
    mixer = audiomix.SpectrogramMixup(
        alpha=1.0, num_classes=2, scale="db", domain=domain, partner="other_class", generator=1
    )
    mixed, targets, mixed_frames = mixer(specgram, labels, frames)
    lam = mixer.last_params.lam[0]
    show(
        f"SpectrogramMixup(domain={domain!r}), λ = {lam:.2f}",
        spec_out=mixed,
        valid=mixed_frames[0],
        targets=targets,
    )

# %%
# CutMix
# ------
# A band of time, of frequency or a box of the partner is pasted in; the target weight is the
# share of the valid area actually pasted, not the drawn λ. On waveforms, a time segment,
# cross-faded at its edges (``fade`` samples) so that nothing clicks.
for mode in ("time", "freq", "box"):
    mixer = audiomix.SpectrogramCutMix(
        alpha=1.0, num_classes=2, mode=mode, partner="other_class", generator=2
    )
    mixed, targets, mixed_frames = mixer(specgram, labels, frames)
    show(
        f"SpectrogramCutMix(mode={mode!r})", spec_out=mixed, valid=mixed_frames[0], targets=targets
    )

mixer = audiomix.WaveformCutMix(
    alpha=1.0, num_classes=2, fade=80, partner="other_class", generator=2
)
mixed, targets, mixed_lengths = mixer(waveform, labels, lengths)
show("WaveformCutMix(fade=80)", mixed, valid=mixed_lengths[0], targets=targets)
Players(Audio(mixed[0], "waveform CutMix"))

# %%
# SNR mixing and between-class mixing
# ------------------------------------
# ``SNRMix`` adds the partner at a drawn signal-to-noise ratio below each clip (energies over
# the valid samples); the clip keeps the weight ``1 / (1 + 10^(-snr/10))``. ``BCMix``
# (Tokozume et al., 2018) weighs the pair by their A-weighted loudness, so that the drawn ratio
# is the ratio heard, and labels the mix with that ratio.
mixer = audiomix.SNRMix(snr_db=(0.0, 10.0), num_classes=2, partner="other_class", generator=3)
mixed, targets, mixed_lengths = mixer(waveform, labels, lengths)
show("SNRMix(snr_db=(0, 10))", mixed, valid=mixed_lengths[0], targets=targets)
snr_mixed = mixed

mixer = audiomix.BCMix(sample_rate=SR, num_classes=2, partner="other_class", generator=3)
mixed, targets, mixed_lengths = mixer(waveform, labels, lengths)
show("BCMix", mixed, valid=mixed_lengths[0], targets=targets)
Players(Audio(snr_mixed[0], "SNR mixing"), Audio(mixed[0], "between-class mixing"))
