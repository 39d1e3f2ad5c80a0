"""CTC with mixup: a small recogniser of multi-word utterances, trained with and without mixup.

Targets of a speech recogniser are transcripts, which cannot be added; mixup then mixes the
losses instead (MixSpeech, arXiv 2102.12664): a mixed utterance is scored against both
transcripts, ``λ·CTC(out, a) + (1 − λ)·CTC(out, b)`` with each sample's own λ, which is what
``audiomix.functional.mixed_ctc_loss`` computes from the mixer's ``last_params``.

The utterances (2-4 of the ten Speech Commands keywords, e.g. "left stop yes") are spoken by
the recipe's speech synthesis (eSpeak NG voices, the ``speech`` extra), with random leading and
trailing silence, level and a white-noise bed; the test voices are not among the training
voices. The model (five convolutions over log-mels) emits one of
the ten words or the CTC blank per output frame; greedy decoding gives the word error rate,
computed with jiwer (the ``recipe`` extra). The methods compared: no mixing, waveform mixup
before the front end, and spectrogram mixup after it (as MixSpeech mixes features).

    python examples/ctc_mixup.py              # the full comparison (make ctc)
    python examples/ctc_mixup.py --quick      # a tiny run, to check that everything works

Results go to ``--out`` (default ``runs/ctc``): ``metrics.json`` (word error rate per method
and seed, per epoch), ``wer.png``. The synthesised utterances are cached there, and each run
writes a checkpoint after every epoch, so an interrupted comparison resumes where it stopped.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import jiwer
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm import tqdm

import audiomix
from audiomix.data import pad_collate
from audiomix.functional import lengths_to_mask, mixed_ctc_loss

# The recipe's speech synthesis lives in recipes/, beside this folder.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from recipes.speech_commands.synth import (  # noqa: E402
    DEFAULT_ACCENTS,
    DEFAULT_VARIANTS,
    KEYWORDS,
    SAMPLE_RATE,
    synthesize,
)

BLANK = 0  # class k + 1 is KEYWORDS[k]
METHODS = ("none", "waveform", "spectrogram")
TEST_VOICES = DEFAULT_VARIANTS[3::4]
TRAIN_VOICES = tuple(v for v in DEFAULT_VARIANTS if v not in TEST_VOICES)


@dataclass
class Config:
    train: int = 1600  # training utterances
    test: int = 400  # test utterances (voices not seen in training)
    epochs: int = 30
    batch_size: int = 32
    lr: float = 3e-3  # peak learning rate, decayed along a cosine to 0
    alpha: float = 0.4  # Beta(α, α) of the mixers
    p: float = 0.5  # probability that an utterance is mixed (per utterance)
    width: int = 96
    seeds: list[int] = field(default_factory=lambda: [0, 1])
    methods: list[str] = field(default_factory=lambda: list(METHODS))


QUICK = Config(train=32, test=16, epochs=2, batch_size=16, width=32, seeds=[0])


# --------------------------------------------------------------------------- data


def _uniform(g: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand((), generator=g, dtype=torch.float64))


def _pick(g: torch.Generator, options) -> object:
    return options[int(torch.randint(len(options), (), generator=g))]


def make_utterances(n: int, voices: tuple[str, ...], seed: int) -> list[tuple[Tensor, list[int]]]:
    """``n`` utterances of 2-4 keywords: (waveform (time,) float32, word ids from 1)."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for k in tqdm(range(n), desc=f"synthesising {n} utterances", leave=False):
        words = torch.randint(
            len(KEYWORDS), (int(torch.randint(2, 5, (), generator=g)),), generator=g
        )
        speech = synthesize(
            " ".join(KEYWORDS[w] for w in words),
            accent=_pick(g, DEFAULT_ACCENTS),
            variant=_pick(g, voices),
            rate_wpm=_uniform(g, 140, 220),
            pitch=_uniform(g, 30, 70),
            pitch_range=_uniform(g, 30, 70),
            seed=seed * 100_000 + k,
        )
        speech = torch.from_numpy(speech).double()
        speech = speech / speech.abs().max().clamp_min(1e-6) * _uniform(g, 0.1, 0.9)
        lead, trail = (int(_uniform(g, 0.0, 0.3) * SAMPLE_RATE) for _ in range(2))
        clip = F.pad(speech, (lead, trail))
        rms = speech.pow(2).mean().sqrt()
        snr_db = _uniform(g, 10.0, 30.0)
        clip = clip + rms * 10 ** (-snr_db / 20) * torch.randn(
            clip.shape, generator=g, dtype=torch.float64
        )
        out.append((clip.float(), (words + 1).tolist()))
    return out


def _atomic_save(obj, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def load_data(cfg: Config, out: Path) -> tuple[list, list]:
    """The training and test utterances, synthesised once and cached in ``out``."""
    key = hashlib.sha1(json.dumps([cfg.train, cfg.test, TRAIN_VOICES, KEYWORDS]).encode())
    cache = out / f"utterances-{key.hexdigest()[:10]}.pt"
    if cache.exists():
        return torch.load(cache)
    data = (make_utterances(cfg.train, TRAIN_VOICES, 1), make_utterances(cfg.test, TEST_VOICES, 2))
    _atomic_save(data, cache)
    return data


def collate(items):
    """Pads waveforms and transcripts: (waveforms, transcripts, transcript lengths, lengths)."""
    waveforms, lengths = pad_collate([w for w, _ in items])
    words = [torch.tensor(t) for _, t in items]
    transcripts = nn.utils.rnn.pad_sequence(words, batch_first=True, padding_value=BLANK)
    return waveforms, transcripts, torch.tensor([len(t) for t in words]), lengths


# --------------------------------------------------------------------------- model


class Recogniser(nn.Module):
    """Log-mels (batch, n_mels, frames) -> (frames / 4, batch, words + blank) log-probs.

    Convolutions only (a GRU trains several times slower on a CPU): two strided ones bring
    the frame rate to 25 Hz, three more see about 0.7 s of context around each output frame.
    """

    def __init__(self, n_mels: int = 40, width: int = 96) -> None:
        super().__init__()

        def block(c_in: int, stride: int = 1, dilation: int = 1) -> list[nn.Module]:
            conv = nn.Conv1d(c_in, width, 5, stride, padding=2 * dilation, dilation=dilation)
            return [conv, nn.BatchNorm1d(width), nn.ReLU()]

        self.net = nn.Sequential(
            *block(n_mels, stride=2),
            *block(width, stride=2),
            *block(width),
            *block(width, dilation=2),
            *block(width, dilation=2),
            nn.Conv1d(width, len(KEYWORDS) + 1, 1),
        )

    @staticmethod
    def output_lengths(frames: Tensor) -> Tensor:
        for _ in range(2):  # kernel 5, stride 2, padding 2: ceil(n / 2)
            frames = (frames + 1) // 2
        return frames

    def forward(self, specgram: Tensor, frames: Tensor) -> tuple[Tensor, Tensor]:
        # Each utterance normalised over its valid frames: level and channel do not matter.
        mask = lengths_to_mask(frames, specgram.shape[-1]).unsqueeze(1)
        count = mask.sum(-1, keepdim=True)
        mean = (specgram * mask).sum(-1, keepdim=True) / count
        var = ((specgram - mean) * mask).pow(2).sum((1, 2), keepdim=True) / count.sum(1, True)
        x = torch.where(mask, (specgram - mean) / var.sqrt().clamp_min(1e-3), 0.0)
        return self.net(x).permute(2, 0, 1).log_softmax(-1), self.output_lengths(frames)


def front_end(method: str, alpha: float, p: float, seed: int) -> audiomix.Chain:
    logmel = audiomix.LogMelSpectrogram(
        sample_rate=SAMPLE_RATE, n_fft=400, hop_length=160, n_mels=40
    )
    if method == "none":
        return audiomix.Chain(logmel)
    if method == "waveform":
        mixer = audiomix.WaveformMixup(alpha, p=p, per_sample=True, generator=seed)
        return audiomix.Chain(mixer, logmel)
    mixer = audiomix.SpectrogramMixup(alpha, p=p, per_sample=True, generator=seed)
    return audiomix.Chain(logmel, mixer)


def greedy_decode(log_probs: Tensor, lengths: Tensor) -> list[str]:
    """Best path: the most likely class per frame, repeats merged, blanks dropped."""
    best = log_probs.argmax(-1).T  # (batch, frames)
    texts = []
    for row, n in zip(best, lengths.tolist(), strict=True):
        ids = torch.unique_consecutive(row[:n])
        texts.append(" ".join(KEYWORDS[i - 1] for i in ids.tolist() if i != BLANK))
    return texts


def word_error_rate(model: nn.Module, chain: audiomix.Chain, test: list, batch_size: int) -> float:
    model.eval()
    chain.eval()
    refs, hyps = [], []
    with torch.no_grad():
        for start in range(0, len(test), batch_size):
            waveforms, transcripts, n_words, lengths = collate(test[start : start + batch_size])
            specgram, _, frames = chain(waveforms, None, lengths)
            hyps += greedy_decode(*model(specgram, frames))
            refs += [
                " ".join(KEYWORDS[i - 1] for i in t[:n].tolist())
                for t, n in zip(transcripts, n_words.tolist(), strict=True)
            ]
    # An empty hypothesis is a valid output (every word deleted): jiwer counts it as such.
    return float(jiwer.wer(refs, hyps))


# --------------------------------------------------------------------------- training


def train_one(method: str, seed: int, cfg: Config, data, out: Path) -> dict:
    """One run, resumed from its checkpoint; returns its word error rate per epoch."""
    train, test = data
    # Checkpoints of another configuration are not resumed: the folder is named by its hash.
    settings = {k: v for k, v in asdict(cfg).items() if k not in ("methods", "seeds")}
    key = hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:10]
    ckpt = out / f"checkpoints-{key}" / f"{method}-seed{seed}.pt"
    ckpt.parent.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)  # model initialisation
    model = Recogniser(width=cfg.width)
    chain = front_end(method, cfg.alpha, cfg.p, seed)
    mixer = next((m for m in chain if isinstance(m, audiomix.transforms.Mixer)), None)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    order = torch.Generator().manual_seed(seed)
    history: list[float] = []
    if ckpt.exists():
        state = torch.load(ckpt, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        chain.load_state_dict(state["chain"])
        order.set_state(state["order"])
        history = state["history"]
    for epoch in range(len(history), cfg.epochs):
        for group in opt.param_groups:  # a cosine from the peak rate, set per epoch
            group["lr"] = cfg.lr * 0.5 * (1 + math.cos(math.pi * epoch / cfg.epochs))
        model.train()
        chain.train()
        perm = torch.randperm(len(train), generator=order).tolist()
        batches = [perm[i : i + cfg.batch_size] for i in range(0, len(perm), cfg.batch_size)]
        for idx in tqdm(batches, desc=f"{method} seed {seed} epoch {epoch + 1}", leave=False):
            waveforms, transcripts, n_words, lengths = collate([train[i] for i in idx])
            specgram, _, frames = chain(waveforms, None, lengths)
            log_probs, out_lengths = model(specgram, frames)
            if mixer is None:
                loss = F.ctc_loss(log_probs, transcripts, out_lengths, n_words, zero_infinity=True)
            else:
                loss = mixed_ctc_loss(
                    log_probs, transcripts, out_lengths, n_words, mixer.last_params,
                    zero_infinity=True,
                )  # fmt: skip
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
        history.append(word_error_rate(model, chain, test, cfg.batch_size))
        state = {
            "model": model.state_dict(),
            "opt": opt.state_dict(),
            "chain": chain.state_dict(),
            "order": order.get_state(),
            "history": history,
        }
        _atomic_save(state, ckpt)
    return {"method": method, "seed": seed, "wer": history}


def plot(runs: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    colours = dict(zip(METHODS, ("tab:gray", "tab:blue", "tab:orange"), strict=True))
    for run in runs:
        epochs = range(1, len(run["wer"]) + 1)
        label = f"{run['method']} (seed {run['seed']})"
        ax.plot(epochs, [100 * w for w in run["wer"]], color=colours[run["method"]], label=label)
    ax.set(xlabel="epoch", ylabel="test word error rate (%)", title="CTC with and without mixup")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def summary(runs: list[dict]) -> str:
    lines = ["method      | final WER (mean ± std over seeds) | per seed"]
    for method in dict.fromkeys(r["method"] for r in runs):
        final = torch.tensor([r["wer"][-1] for r in runs if r["method"] == method]) * 100
        std = float(final.std()) if final.numel() > 1 else 0.0
        seeds = ", ".join(f"{v:.1f}" for v in final.tolist())
        lines.append(f"{method:<11} | {float(final.mean()):5.1f} % ± {std:4.1f}{'':18}| {seeds}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a tiny run (seconds)")
    parser.add_argument("--out", type=Path, default=Path("runs/ctc"))
    parser.add_argument("--epochs", type=int, help="override the number of epochs")
    parser.add_argument("--methods", nargs="+", choices=METHODS, help="methods to compare")
    parser.add_argument("--seeds", nargs="+", type=int, help="seeds (one run each)")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    args = parser.parse_args(argv)
    cfg = replace(
        QUICK if args.quick else Config(),
        **{k: v for k in ("epochs", "methods", "seeds") if (v := getattr(args, k)) is not None},
    )
    torch.set_num_threads(args.threads)
    out = args.out / ("quick" if args.quick else "full")
    out.mkdir(parents=True, exist_ok=True)
    start = time.time()
    data = load_data(cfg, out)
    runs = [train_one(m, s, cfg, data, out) for m in cfg.methods for s in cfg.seeds]
    metrics = {"config": asdict(cfg), "runs": runs, "wall_time_s": round(time.time() - start)}
    tmp = out / "metrics.json.tmp"
    tmp.write_text(json.dumps(metrics, indent=2))
    os.replace(tmp, out / "metrics.json")
    plot(runs, out / "wer.png")
    print(f"{len(data[0])} training and {len(data[1])} test utterances, {cfg.epochs} epochs")
    print(summary(runs))
    print(f"results in {out}")


if __name__ == "__main__":
    main()
