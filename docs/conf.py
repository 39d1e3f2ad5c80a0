"""Sphinx configuration of the audiomix documentation (``make docs``)."""

from __future__ import annotations

import sys
from pathlib import Path

import audiomix

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))

project = "audiomix"
author = "The audiomix developers"
copyright = "the audiomix developers, BSD-2-Clause"
release = version = audiomix.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "audiomix_api",
    "audiomix_recipe",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "gallery/README.rst", "**/GALLERY_HEADER.rst"]
myst_heading_anchors = 3
myst_enable_extensions = ["dollarmath"]
suppress_warnings = ["myst.header"]

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_class_signature = "separated"
autodoc_inherit_docstrings = False
autodoc_default_options = {"exclude-members": "forward, extra_repr, training, dump_patches"}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
# Attributes sections as fields: records (MixParams, ...) document their fields once.
napoleon_use_ivar = True

# The gallery: every docs/gallery/plot_*.py runs and its figures are shown; in quick mode
# (AUDIOMIX_DOCS_QUICK=1, what CI uses) each example gets `--quick` (see _ext/audiomix_gallery.py).
sphinx_gallery_conf = {
    "examples_dirs": ["gallery"],
    "gallery_dirs": ["auto_gallery"],
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"/_",
    "reset_argv": "audiomix_gallery.reset_argv",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "show_memory": False,
    "default_thumb_file": None,
}

html_theme = "furo"
html_title = f"audiomix {release}"
html_static_path = []
html_theme_options = {"navigation_with_keys": True}
