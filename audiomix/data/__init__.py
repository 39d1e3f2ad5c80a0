"""DataLoader helpers: pad variable-length clips, mix in worker processes, mix per item, mix
with a bank of other audio.

Randomness in worker processes is the classic trap: a generator copied into every worker
draws the same numbers in each of them (pytorch#5059), and a worker RNG reseeded from a fixed
seed draws the same numbers every epoch (Lightning#20412). Every random draw here comes from an
audiomix stream that reseeds from the DataLoader's own per-worker seed, which the DataLoader
draws anew for each epoch (from its ``generator`` if given): workers differ, epochs differ, and
a seeded DataLoader repeats exactly.
"""

from ._bank import BankMixDataset
from ._collate import MixCollate, pad_collate
from ._dataset import MixupDataset
from ._folder import AudioFolder

__all__ = ["AudioFolder", "BankMixDataset", "MixCollate", "MixupDataset", "pad_collate"]
