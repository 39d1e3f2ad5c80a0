"""``python -m recipes.speech_commands [compare | train | synth] [args]``; compare by default.

python -m recipes.speech_commands                   # the comparison (same as make kws)
python -m recipes.speech_commands train --help      # one run
python -m recipes.speech_commands synth --help      # generate the built-in dataset only
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

COMMANDS = ("compare", "train", "synth")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    command = args.pop(0) if args and args[0] in COMMANDS else "compare"
    if command == "train":
        from .train import main as run
    elif command == "synth":
        from .synth import main as run
    else:
        from .compare import main as run
    return int(run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
