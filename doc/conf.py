"""Sphinx configuration of the sklearn-isd documentation.

Build it from the repository root with::

    python -m sphinx -W -b html doc doc/_build/html

Building executes the gallery examples (a few minutes on two cores, with one
BLAS/OpenMP thread unless ``OMP_NUM_THREADS`` is set). For a faster build:

- ``SKLEARN_ISD_DOCS_EXAMPLES=<regex>`` runs only the examples whose path
  matches the regular expression (e.g. ``plot_lab``); the others are
  rendered without their output;
- ``-D plot_gallery=0`` runs no example at all.
"""

import os
import re
import sys
from pathlib import Path

# The examples fit many small models: one BLAS/OpenMP thread per process is
# fastest, and keeps a build on a small shared machine from oversubscribing
# its cores. Set before numpy and torch are imported; override by exporting
# the variables.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

DOC = Path(__file__).resolve().parent
ROOT = DOC.parent
sys.path.insert(0, str(ROOT))  # the package of this checkout, installed or not
sys.path.insert(0, str(DOC / "_ext"))  # cli_reference

import sklearn_isd  # noqa: E402

# -- Project ----------------------------------------------------------------
project = "sklearn-isd"
author = "The sklearn-isd developers"
copyright = "The sklearn-isd developers"
release = sklearn_isd.__version__
version = release

# -- General ----------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.intersphinx",
    "numpydoc",
    "cli_reference",
    "sphinx_gallery.gen_gallery",
    "matplotlib.sphinxext.plot_directive",
]
templates_path = ["_templates"]
exclude_patterns = ["_build", "README.md", "**/sg_execution_times.rst"]
root_doc = "index"
default_role = "literal"
nitpicky = False

# -- API reference: autosummary + numpydoc ------------------------------------
autosummary_generate = True
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_validation_checks = set()

# -- Links to other projects' documentation ---------------------------------
# The build runs offline (CI has no network): each project's inventory is a
# small file vendored in doc/_intersphinx/, holding only the names these
# pages reference, with the project's stable URLs. Regenerate them with
# ``python doc/_intersphinx/make_inventories.py`` after adding a name there.
INVENTORIES = DOC / "_intersphinx"
intersphinx_mapping = {
    name: (url, str(INVENTORIES / f"{name}-objects.inv"))
    for name, url in {
        "sklearn": "https://scikit-learn.org/stable/",
        "numpy": "https://numpy.org/doc/stable/",
        "rdkit": "https://www.rdkit.org/docs/",
        "skorch": "https://skorch.readthedocs.io/en/stable/",
    }.items()
}
intersphinx_timeout = 1
intersphinx_cache_limit = -1

# -- Gallery ------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    # Examples whose path matches this pattern are executed.
    "filename_pattern": os.environ.get("SKLEARN_ISD_DOCS_EXAMPLES", r"/plot_"),
    "subsection_order": [
        f"../examples/{name}"
        for name in ("images", "molecules", "model_selection", "lab")
    ],
    "within_subsection_order": "FileNameSortKey",
    "doc_module": ("sklearn_isd",),
    "backreferences_dir": "gen_modules/backreferences",
    # An object without examples simply gets no mini-gallery.
    "log_level": {"backreference_missing": "debug"},
    "abort_on_example_error": True,
    "remove_config_comments": True,
    "show_memory": False,
    "min_reported_time": 1,
    "write_computation_times": False,
}

# -- matplotlib plot directive (benchmark figures) -----------------------------
plot_include_source = False
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 110)]
plot_rcparams = {"figure.autolayout": True}

# -- HTML -------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"sklearn-isd {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_static_path = []
html_show_sourcelink = False


# -- Docstring types ----------------------------------------------------------
# numpydoc renders parameter types as reST, where a word ending in "_" is a
# hyperlink reference: "ndarray of shape (n_features_in_,)" would point to an
# undefined target "n_features_in". Escape such underscores in shapes.
_SHAPE_UNDERSCORE = re.compile(r"(?<=[(, ])(\w+)_(?=[,)])")


def _escape_shape_underscores(app, what, name, obj, options, lines):
    for i, line in enumerate(lines):
        if "``" not in line and "shape" in line:
            lines[i] = _SHAPE_UNDERSCORE.sub(r"\1\\_", line)


def setup(app):
    app.connect("autodoc-process-docstring", _escape_shape_underscores)
