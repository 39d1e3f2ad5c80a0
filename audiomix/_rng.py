"""One random stream per module, distinct per DataLoader worker and (if asked) per rank.

A generator copied into DataLoader workers has the same state in each of them, so every worker
would draw the same mixes (pytorch#5059, timm#1519); reseeding it from the worker's seed, which
the DataLoader draws anew each epoch, gives each worker and each epoch its own stream.
"""

from __future__ import annotations

import hashlib
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


def _seed_from_global_state(owner: str) -> int:
    # Reading the state does not advance torch's global RNG: building a module leaves the
    # draws of the rest of the program (model initialisation, dropout) as they would be.
    digest = hashlib.blake2b(torch.get_rng_state().numpy().tobytes(), digest_size=8)
    digest.update(owner.encode())
    return int.from_bytes(digest.digest(), "little") & (2**63 - 1)


class RandomStream:
    """Holds a module's CPU generator and reseeds it when the process context changes.

    Args:
        generator: ``None`` (seeded from the state of torch's global RNG, read without
            advancing it, so ``torch.manual_seed`` before building the module makes it
            reproducible and the rest of the program draws what it would draw without it), an
            int seed, or a CPU ``torch.Generator`` (used as it is in the main process).
        per_rank: under ``torch.distributed``, give each rank its own stream.
        owner: the owner's class name, mixed into a seed drawn from the global state so
            that different kinds of module built back to back get different streams.

    Pickling (spawn/forkserver DataLoader workers, checkpoints) and ``copy.deepcopy`` keep
    the stream: the generator travels as its state in bytes, not as a tensor that the
    DataLoader's pickler would try to move into shared memory.
    """

    def __init__(
        self,
        generator: torch.Generator | int | None = None,
        *,
        per_rank: bool = False,
        owner: str = "",
    ):
        if generator is None:
            generator = torch.Generator().manual_seed(_seed_from_global_state(owner))
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

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["generator"] = bytes(self.generator.get_state().numpy().tobytes())
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        rng_bytes = state.pop("generator")
        self.__dict__.update(state)
        self.generator = torch.Generator()
        self.generator.set_state(torch.frombuffer(bytearray(rng_bytes), dtype=torch.uint8))

    def state(self) -> dict[str, Any]:
        return {
            "rng_state": self.generator.get_state(),
            "base_seed": self.base_seed,
            "context": self._context,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["rng_state"])
        self.base_seed = int(state["base_seed"])
        worker, rank = state["context"]
        self._context = (worker, rank)
