"""Sphinx configuration: MyST Markdown pages, API pages from numpydoc-style docstrings.

The pages work without a network connection: MathJax comes from the
``sphinx-mathjax-offline`` package (MathJax 3.2.2, copied into
``_static/mathjax`` of the built site) instead of a CDN, and nothing else is
loaded from outside the site. ``tests/test_browser.py`` checks both in a
headless browser.
"""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import refups  # noqa: E402

project = "refups"
author = "the refups developers"
copyright = f"2026, {author}"  # noqa: A001 (Sphinx's name for the footer line)
release = refups.__version__
extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    # Sets mathjax_path to the local copy and copies MathJax into the site.
    "sphinx-mathjax-offline",
]
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3  # links such as spec.md#s4-the-upsampling-filter
source_suffix = {".md": "markdown"}
napoleon_google_docstring = False
napoleon_numpy_docstring = True
autodoc_member_order = "bysource"
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_theme_options = {"page_width": "1180px", "sidebar_width": "220px"}
# _static/custom.css, which alabaster loads after its own sheet: code blocks
# wrap inside their column, and every code colour reaches a 4.5:1 contrast.
html_static_path = ["_static"]
