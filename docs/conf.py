"""Sphinx configuration: MyST Markdown pages, API pages from numpydoc-style docstrings."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import refups  # noqa: E402

project = "refups"
author = "the refups developers"
release = refups.__version__
extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.mathjax"]
myst_enable_extensions = ["dollarmath"]
source_suffix = {".md": "markdown"}
napoleon_google_docstring = False
napoleon_numpy_docstring = True
autodoc_member_order = "bysource"
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_theme_options = {"page_width": "1180px", "sidebar_width": "220px"}
html_static_path = ["_static"]
