"""Section 2: the log-mel front end against torchaudio's chain and librosa, outputs compared."""

from __future__ import annotations

import numpy as np
import torch

import audiomix
from audiomix import functional as AF

from ..harness import Case, check, measure
from ..plan import LOGMEL, SAMPLE_RATE, Plan
from ..section import Section, Target, at_least, met

TORCHAUDIO = "torchaudio `MelSpectrogram` + `AmplitudeToDB`"
OURS = "audiomix `LogMelSpectrogram` (default checks)"
OURS_FAST = "audiomix `LogMelSpectrogram`, check_finite=False"
TA_MEL = "torchaudio `MelSpectrogram` + audiomix `power_to_db`"
LIBROSA = "librosa per clip: `stft` + cached mel basis + `power_to_db`"
LIBROSA_FEATURE = "librosa per clip: `feature.melspectrogram` + `power_to_db`"


def run(plan: Plan) -> Section:
    import torchaudio

    print("log-mel ...", flush=True)
    batch, reps = plan.logmel_batch, plan.logmel_reps
    g = torch.Generator().manual_seed(1)
    gains = 10 ** (torch.rand(batch, 1, generator=g) * 3 - 2)  # 40 dB of level differences
    x = torch.randn(batch, SAMPLE_RATE, generator=g) * gains
    ours = audiomix.LogMelSpectrogram(sample_rate=SAMPLE_RATE, **LOGMEL)
    ours_fast = audiomix.LogMelSpectrogram(sample_rate=SAMPLE_RATE, check_finite=False, **LOGMEL)
    kw = {k: v for k, v in LOGMEL.items() if k != "top_db"}
    ta_mel = torchaudio.transforms.MelSpectrogram(sample_rate=SAMPLE_RATE, **kw)
    ta_db = torchaudio.transforms.AmplitudeToDB(stype="power", top_db=LOGMEL["top_db"])

    def ta_chain() -> torch.Tensor:
        return ta_db(ta_mel(x))

    def ta_power_path() -> torch.Tensor:
        return AF.power_to_db(ours.mel(x), top_db=LOGMEL["top_db"])

    cases = [
        Case(OURS, lambda: ours(x)),
        Case(OURS_FAST, lambda: ours_fast(x)),
        Case(TA_MEL, ta_power_path),
        Case(TORCHAUDIO, ta_chain),
    ]
    librosa = plan.peer("librosa")
    xn = x.numpy()
    lib_kw = dict(
        sr=SAMPLE_RATE,
        n_fft=LOGMEL["n_fft"],
        hop_length=LOGMEL["hop_length"],
        win_length=LOGMEL["win_length"],
        window="hann",
        center=True,
        pad_mode="reflect",
        power=2.0,
        n_mels=LOGMEL["n_mels"],
        fmin=LOGMEL["f_min"],
        fmax=SAMPLE_RATE / 2,
        htk=True,
        norm=None,
    )
    if librosa is not None:
        # Build the filterbank once, as a training loop would: librosa caches nothing itself.
        mel_basis = librosa.filters.mel(
            sr=SAMPLE_RATE,
            n_fft=LOGMEL["n_fft"],
            n_mels=LOGMEL["n_mels"],
            fmin=LOGMEL["f_min"],
            fmax=SAMPLE_RATE / 2,
            htk=True,
            norm=None,
        )

        def librosa_per_clip() -> np.ndarray:
            out = []
            for clip in xn:
                spec = (
                    np.abs(
                        librosa.stft(
                            clip,
                            n_fft=LOGMEL["n_fft"],
                            hop_length=LOGMEL["hop_length"],
                            window="hann",
                            center=True,
                            pad_mode="reflect",
                        )
                    )
                    ** 2
                )
                out.append(
                    librosa.power_to_db(
                        mel_basis @ spec, ref=1.0, amin=1e-10, top_db=LOGMEL["top_db"]
                    )
                )
            return np.stack(out)

        def librosa_feature_per_clip() -> np.ndarray:
            return np.stack(
                [
                    librosa.power_to_db(
                        librosa.feature.melspectrogram(y=clip, **lib_kw),
                        ref=1.0,
                        amin=1e-10,
                        top_db=LOGMEL["top_db"],
                    )
                    for clip in xn
                ]
            )

        cases.append(Case(LIBROSA, librosa_per_clip, max_reps=max(2, reps // 2)))
        cases.append(Case(LIBROSA_FEATURE, librosa_feature_per_clip, max_reps=max(2, reps // 4)))
    stats = measure(cases, reps, plan.warmup)

    # Agreement. torchaudio's AmplitudeToDB takes one top_db floor over the whole batch; ours is
    # per clip, so compare above the batch floor (where both are the plain dB value).
    mine = ours(x).double()
    theirs = ta_chain().double()
    floor = theirs.amin()
    above = theirs > floor
    checks = [
        check_db(
            "audiomix vs torchaudio chain (dB, above its batch-wide floor)",
            mine[above],
            theirs[above],
            1e-3,
        ),
        check(f"audiomix == {TA_MEL}", ours(x), ta_power_path(), exact=True),
    ]
    if librosa is not None:
        lib = torch.from_numpy(librosa_per_clip()).double()
        checks.append(check_db("audiomix vs librosa per clip (dB)", mine, lib, 2e-3))
    lines = [
        f"Batch of {batch} clips × 1 s at 16 kHz (levels spread over 40 dB), float32; recipe "
        f"front end: n_fft=win={LOGMEL['n_fft']}, hop={LOGMEL['hop_length']}, "
        f"n_mels={LOGMEL['n_mels']}, f_min={LOGMEL['f_min']:g}, HTK mel, top_db=80 → "
        f"({batch}, {LOGMEL['n_mels']}, 101).",
        "",
        "| method | time (ms) | × audiomix |",
        "| --- | ---: | ---: |",
    ]
    ref = stats[cases[0].name].median
    for name, st in stats.items():
        n = len(st.times)
        lines.append(f"| {name} | {st.fmt()} (n={n}) | {st.median / ref:.2f} |")
    lines += ["", "Outputs compared in the same run:", ""] + [f"- {c}" for c in checks]
    medians = {k: v.median for k, v in stats.items()}
    targets = _targets(medians)
    return Section(
        title="Log-mel front end",
        body=lines,
        targets=targets,
        readings=[_reading(medians, targets)],
        checks=checks,
    )


def _targets(medians: dict[str, float]) -> list[Target]:
    ours = medians[OURS]
    out = [at_least("torchaudio chain / audiomix log-mel", medians[TORCHAUDIO] / ours, 1.0)]
    if LIBROSA in medians:
        out.append(
            at_least(
                "librosa (per clip, fastest form) / audiomix log-mel",
                medians[LIBROSA] / ours,
                2.0,
            )
        )
    return out


def _reading(medians: dict[str, float], targets: list[Target]) -> str:
    ours = medians[OURS]
    librosa = f", librosa per clip {medians[LIBROSA] / ours:.2f}×" if LIBROSA in medians else ""
    return (
        f"- **Log-mel**: torchaudio's chain takes {medians[TORCHAUDIO] / ours:.2f}× as long"
        f"{librosa} ({met(targets)})."
    )


def check_db(what: str, got: torch.Tensor, want: torch.Tensor, tol: float) -> str:
    diff = float((got - want).abs().max())
    ok = diff <= tol
    return f"{'PASS' if ok else 'FAIL'}: {what}: max |diff| {diff:.2e} dB (tolerance {tol:g} dB)"
