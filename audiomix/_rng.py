"""One random stream per module, distinct per DataLoader worker and (if asked) per rank.

A generator copied into DataLoader workers has the same state in each of them, so every worker
would draw the same mixes (pytorch#5059, timm#1519); reseeding it from the worker's seed, which
the DataLoader draws anew each epoch, gives each worker and each epoch its own stream.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import get_worker_info


def _derive_seed(base: int, *keys: int) -> int:
    # SeedSequence is a hash here, not a source of randomness: it spreads related integers
    # (base, worker seed, rank) into unrelated 63-bit seeds.
    words = np.random.SeedSequence([base % 2**64, *(k % 2**64 for k in keys)]).generate_state(2)
    return (int(words[0]) << 31 | int(words[1]) >> 1) & (2**63 - 1)


class RandomStream:
    """Holds a module's CPU generator and reseeds it when the process context changes.

    Args:
        generator: ``None`` (seeded from torch's global RNG at construction, so
            ``torch.manual_seed`` before building the module makes it reproducible), an int
            seed, or a CPU ``torch.Generator`` (used as it is in the main process).
        per_rank: under ``torch.distributed``, give each rank its own stream.
    """

    def __init__(self, generator: torch.Generator | int | None = None, *, per_rank: bool = False):
        if generator is None:
            seed = int(torch.randint(0, 2**62, (), dtype=torch.int64))
            generator = torch.Generator().manual_seed(seed)
        elif isinstance(generator, numbers.Integral) and not isinstance(generator, bool):
            if generator < 0:
                raise ValueError(f"`generator` seed must be >= 0, but got {generator}.")
            generator = torch.Generator().manual_seed(int(generator))
        elif not isinstance(generator, torch.Generator):
            raise TypeError(
                "`generator` must be None, an int seed or a torch.Generator, but got "
                f"{type(generator).__name__}."
            )
        if generator.device.type != "cpu":
            raise ValueError(
                f"`generator` must be a CPU generator (parameters are drawn on the CPU and "
                f"moved), but got one on {generator.device}."
            )
        self.generator = generator
        self.base_seed = generator.initial_seed()
        self.per_rank = per_rank
        self._context: tuple[int | None, int | None] = (None, None)

    def _current_context(self) -> tuple[int | None, int | None]:
        info = get_worker_info()
        worker = None if info is None else int(info.seed)
        rank = None
        if self.per_rank and dist.is_available() and dist.is_initialized():
            rank = dist.get_rank()
        return worker, rank

    def get(self) -> torch.Generator:
        """The generator to draw from, reseeded first if this is a new worker or rank."""
        context = self._current_context()
        if context != self._context:
            worker, rank = context
            keys = [-1 if worker is None else worker, -1 if rank is None else rank]
            self.generator.manual_seed(_derive_seed(self.base_seed, *keys))
            self._context = context
        return self.generator

    def state(self) -> dict[str, Any]:
        return {
            "rng_state": self.generator.get_state(),
            "base_seed": self.base_seed,
            "context": self._context,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["rng_state"])
        self.base_seed = int(state["base_seed"])
        self._context = tuple(state["context"])  # type: ignore[assignment]
