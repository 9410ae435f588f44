"""Sphinx configuration: the API reference from the numpydoc docstrings, the
examples as a gallery whose scripts run during the build, the pages in Markdown.

Build (``pip install ".[docs]"`` first): ``python -m sphinx -W -b html docs
docs/_build/html``.
"""

from __future__ import annotations

import os
import warnings

import positive_mlp

project = "positive-mlp"
author = "the positive-mlp developers"
copyright = "2026, the positive-mlp developers"
release = positive_mlp.__version__
version = release

extensions = [
    "myst_parser",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx_gallery.gen_gallery",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = [
    "_build",
    "_templates",
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
]
templates_path = ["_templates"]
myst_heading_anchors = 3

# API reference: one page per public object, its docstring validated by numpydoc.
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False


def _skip_generated_routing_methods(app, what, name, obj, skip, options):
    """scikit-learn generates ``set_*_request`` methods (and routing's getter) on the
    class, with its own docstrings, whose glossary links resolve only in its docs."""
    if name == "get_metadata_routing" or (
        name.startswith("set_") and name.endswith("_request")
    ):
        return True
    return skip


def setup(app):
    app.connect("autodoc-skip-member", _skip_generated_routing_methods)


intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "numpy": ("https://numpy.org/doc/stable", None),
    "sklearn": ("https://scikit-learn.org/stable", None),
}
# Offline builds (this project's CI has no internet): no inventories to fetch.
if os.environ.get("POSITIVE_MLP_DOCS_OFFLINE", "1") == "1":
    intersphinx_mapping = {}

# The gallery: every example runs during the build; its printed output and figures
# appear on its page. readme_figures.py draws the README's pictures into the source
# tree, so it is shown but not run.
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/(?!readme_figures)[^/]+\.py$",
    "ignore_pattern": r"__init__\.py",
    "download_all_examples": False,
    "remove_config_comments": True,
    "reset_modules_order": "both",
    "capture_repr": (),
}
warnings.filterwarnings(
    "ignore", message="Matplotlib is currently using agg", category=UserWarning
)

html_theme = "pydata_sphinx_theme"
html_title = f"positive-mlp {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
html_static_path: list[str] = []
