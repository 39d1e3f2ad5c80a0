"""What a run measures: the settings every case shares and the sizes of a full and a quick run.

A case reads its sizes from :class:`Plan`. The reference table (``plan.tables[0]``, 256 × 1 s in
the full run) is the batch a new case mixes when it compares one way of mixing with another, so
that its figures sit next to section 1's; add a field here only when no existing size fits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SAMPLE_RATE = 16000
NUM_CLASSES = 12
ALPHA = 0.2
#: The recipe's front end: 30 ms windows, 10 ms hop, 40 mel bands from 20 Hz.
LOGMEL = dict(n_fft=480, win_length=480, hop_length=160, n_mels=40, f_min=20.0, top_db=80.0)


@dataclass(frozen=True, kw_only=True)
class MixTable:
    """One table of section 1: a batch mixed by audiomix, hand-written PyTorch and the peers."""

    title: str
    shape: tuple[int, ...]
    #: A log-mel batch in dB (the spectrogram modules and their targets) instead of waveforms.
    spectrogram: bool = False
    #: Its kernel's time against a copy is a target (the reference table and the one past L3).
    kernel_target: bool = False

    @property
    def label(self) -> str:
        """The shape as the targets table writes it, e.g. ``256×16000``."""
        return "×".join(map(str, self.shape))


@dataclass(frozen=True, kw_only=True)
class Plan:
    """Sizes and repetitions of one run, and the peers it found.

    The sections after section 1 time cases 10 to 100 times slower than a mix, so they take a
    fraction of the repetitions (``logmel_reps``, ``step_reps``, ``scaling_reps``).
    """

    quick: bool
    reps: int
    warmup: int
    #: Section 1, in order; the first is the reference table (module, lengths and CutMix
    #: targets, and the repeat with the other thread count).
    tables: tuple[MixTable, ...]
    #: Length of the two clips whose peak memory section 1 reports ("long clips").
    long_minutes: float
    logmel_batch: int
    step_batch: int
    #: Section 4: batch sizes of 1 s clips, and clip lengths at ``length_batch`` clips.
    scaling_batches: tuple[int, ...]
    scaling_seconds: tuple[float, ...]
    length_batch: int
    #: Time the ``torch.compile``d reference kernel (its first compilation takes seconds).
    compile: bool = True
    #: Peer modules by import name (``None`` when missing or skipped), filled by ``bench.py``.
    peers: dict[str, Any] = field(default_factory=dict)

    @property
    def reference(self) -> MixTable:
        return self.tables[0]

    @property
    def logmel_reps(self) -> int:
        return max(2, self.reps // 2)

    @property
    def step_reps(self) -> int:
        return max(2, self.reps // 3)

    @property
    def scaling_reps(self) -> int:
        return max(1, self.reps // 3)

    def peer(self, module: str) -> Any:
        """The peer's module, or ``None`` if it is not installed or skipped."""
        return self.peers.get(module)


FULL = Plan(
    quick=False,
    reps=25,
    warmup=3,
    tables=(
        MixTable(
            title="waveforms 256 × 1 s (16 MiB: fits the 32 MiB L3)",
            shape=(256, 16000),
            kernel_target=True,
        ),
        MixTable(title="waveforms 64 × 10 s (39 MiB)", shape=(64, 160000)),
        MixTable(
            title="log-mel spectrograms 256 × 40 × 101", shape=(256, 40, 101), spectrogram=True
        ),
        MixTable(
            title="waveforms 1024 × 1 s (62.5 MiB: bigger than the L3)",
            shape=(1024, 16000),
            kernel_target=True,
        ),
    ),
    long_minutes=10.0,
    logmel_batch=256,
    step_batch=256,
    scaling_batches=(16, 32, 64, 128, 256, 512, 1024),
    scaling_seconds=(1, 2, 5, 10, 20, 30),
    length_batch=64,
)

#: Tiny sizes and 1-2 repetitions: proves every case runs (the test suite); says nothing about
#: speed.
QUICK = Plan(
    quick=True,
    reps=2,
    warmup=1,
    tables=(
        MixTable(title="waveforms 16 × 0.1 s", shape=(16, 1600), kernel_target=True),
        MixTable(title="log-mel 8 × 40 × 21", shape=(8, 40, 21), spectrogram=True),
    ),
    long_minutes=0.01,
    logmel_batch=4,
    step_batch=8,
    scaling_batches=(4, 16),
    scaling_seconds=(0.1, 0.2),
    length_batch=4,
    compile=False,
)
