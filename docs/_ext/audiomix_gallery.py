"""The gallery's command line: ``--quick`` for every example when AUDIOMIX_DOCS_QUICK is set
(CI's documentation build). Examples with something slow to compute read it; the others ignore
it. A module-level function, named in conf.py, so Sphinx can cache the configuration."""

from __future__ import annotations

import os


def quick() -> bool:
    return os.environ.get("AUDIOMIX_DOCS_QUICK", "") not in ("", "0")


def reset_argv(gallery_conf, script_vars) -> list[str]:
    return ["--quick"] if quick() else []
