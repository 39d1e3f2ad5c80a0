"""Screenshots of the built documentation in headless Chromium: the index, one API page, one
gallery page. Run after ``make docs``:

    python docs/screenshots.py [--html docs/_build/html] [--out docs/screenshots]

Without a Chromium on PATH it says so and exits 0 (the committed PNGs stay as they are and
tests/test_docs.py checks them); ``--require`` makes that an error.
"""

from __future__ import annotations

import argparse
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parent
PAGES = {
    "index.png": "index.html",
    "api.png": "api/audiomix.html",
    "gallery.png": "auto_gallery/plot_lambda.html",
}
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--window-size=1280,1400",
]


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG's header."""
    header = path.read_bytes()[:24]
    if header[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path} is not a PNG")
    return struct.unpack(">II", header[16:24])


def shoot(chromium: str, page: Path, out: Path) -> None:
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [chromium, *FLAGS, f"--user-data-dir={profile}", f"--screenshot={out}", page.as_uri()],
            check=True,
            capture_output=True,
            timeout=120,
        )
    if not out.is_file():
        raise RuntimeError(f"Chromium wrote no screenshot of {page}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--html", type=Path, default=DOCS / "_build" / "html")
    parser.add_argument("--out", type=Path, default=DOCS / "screenshots")
    parser.add_argument("--require", action="store_true", help="fail without Chromium")
    args = parser.parse_args()
    chromium = find_chromium()
    if chromium is None:
        print("screenshots: no Chromium on PATH, skipped (apt-get install chromium)")
        return 1 if args.require else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, page in PAGES.items():
        source = args.html / page
        if not source.is_file():
            print(f"screenshots: {source} does not exist; build the docs first (make docs)")
            return 1
        shoot(chromium, source, args.out / name)
        width, height = png_size(args.out / name)
        print(f"screenshots: {args.out / name} ({width}x{height}) of {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
