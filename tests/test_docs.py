"""The documentation stays true to the code.

- The ``>>>`` examples of the user guide run and print what the pages say.
- The API reference lists every public name of the package's modules.

Building the documentation itself (``python -m sphinx -W -b html doc
doc/_build/html``) needs the ``docs`` extra and executes the gallery; it is
not part of the test suite.
"""

import doctest
import importlib
import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "doc"
GENERATED = {"_build", "auto_examples", "gen_modules"}  # written by the build
PAGES = sorted(p for p in DOC.rglob("*.rst") if not GENERATED & set(p.parts))
PAGES_WITH_EXAMPLES = [p for p in PAGES if ">>> " in p.read_text(encoding="utf-8")]

MODULES = [
    "sklearn_isd",
    "sklearn_isd.acquisition",
    "sklearn_isd.stopping",
    "sklearn_isd.metrics",
    "sklearn_isd.plotting",
    "sklearn_isd.neural",
    "sklearn_isd.chem",
    "sklearn_isd.datasets",
    "sklearn_isd.multioutput",
]
#: Public names documented in prose rather than with their own page.
DOCUMENTED_IN_TEXT = {
    "ACQUISITION_FUNCTIONS",
    "PANEL_PROPERTIES",
    "QM9_GAP_MEDIAN",
    "__version__",
}
#: Lazily exported from sklearn_isd, documented with their own module.
DOCUMENTED_ELSEWHERE = {
    ("sklearn_isd", "MorganFingerprint"),
    ("sklearn_isd", "ResMLPClassifier"),
    ("sklearn_isd", "ResMLPRegressor"),
}


def test_pages_with_examples_are_found():
    names = {p.name for p in PAGES_WITH_EXAMPLES}
    assert {"hybrid_screens.rst", "stopping.rst"} <= names


@pytest.mark.parametrize(
    "page", PAGES_WITH_EXAMPLES, ids=[p.name for p in PAGES_WITH_EXAMPLES]
)
def test_user_guide_examples_run(page):
    result = doctest.testfile(
        str(page),
        module_relative=False,
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        verbose=False,
    )
    assert result.attempted > 0
    assert result.failed == 0, f"{result.failed} doctest(s) failed in {page.name}"


def _documented_names():
    """(module, name) pairs listed in the autosummary tables of api.rst."""
    text = (DOC / "api.rst").read_text(encoding="utf-8")
    documented, module = set(), None
    for line in text.splitlines():
        current = re.match(r"\.\. currentmodule:: (\S+)", line)
        if current:
            module = current.group(1)
        elif re.match(r"   [A-Za-z_]\w*$", line) and module is not None:
            documented.add((module, line.strip()))
    return documented


@pytest.mark.parametrize("module_name", MODULES)
def test_api_reference_lists_every_public_name(module_name):
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:  # an optional dependency is missing
        pytest.skip(str(exc))
    documented = _documented_names()
    missing = [
        name
        for name in module.__all__
        if (module_name, name) not in documented
        and name not in DOCUMENTED_IN_TEXT
        and (module_name, name) not in DOCUMENTED_ELSEWHERE
    ]
    assert not missing, f"add {missing} to doc/api.rst"
    text = (DOC / "api.rst").read_text(encoding="utf-8")
    for name in DOCUMENTED_IN_TEXT & set(module.__all__) - {"__version__"}:
        assert f"``{name}``" in text
