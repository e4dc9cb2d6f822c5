"""Without torch or skorch, sklearn_isd.neural says which extra to install.

Each test imports in a fresh interpreter where a finder placed first on
``sys.meta_path`` makes the import of the dependency fail as if it were not
installed, so the tests run whether or not torch and skorch are.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HINT = 'pip install "sklearn-isd[neural]"'


def _import_without(hidden, statement):
    """Run ``statement`` with the module ``hidden`` made unimportable.

    Returns the type name and message of the exception it raised, or None.
    """
    script = textwrap.dedent(
        f"""
        import sys

        class Hide:
            def find_spec(self, name, path=None, target=None):
                if name.partition(".")[0] == {hidden!r}:
                    raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)

        sys.meta_path.insert(0, Hide())
        import sklearn_isd  # the core works without it
        try:
            {statement}
        except BaseException as exc:
            print(type(exc).__name__)
            print(exc)
        """
    )
    pythonpath = [str(ROOT), os.environ.get("PYTHONPATH", "")]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, pythonpath)))
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=True,
    )
    lines = result.stdout.splitlines()
    return (lines[0], "\n".join(lines[1:])) if lines else None


@pytest.mark.parametrize("hidden", ["torch", "skorch"])
@pytest.mark.parametrize(
    "statement",
    [
        "from sklearn_isd.neural import ResMLPClassifier",
        "from sklearn_isd import ResMLPClassifier",
    ],
)
def test_missing_dependency_names_the_extra(hidden, statement):
    raised = _import_without(hidden, statement)
    assert raised is not None, f"{statement!r} worked without {hidden}"
    kind, message = raised
    assert kind == "ImportError"
    assert HINT in message
    assert "sklearn_isd.neural" in message
