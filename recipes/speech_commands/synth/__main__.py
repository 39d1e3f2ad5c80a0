"""``python -m recipes.speech_commands.synth``: see :func:`recipes.speech_commands.synth.main`."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
