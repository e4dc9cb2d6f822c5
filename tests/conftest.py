"""Test configuration: one BLAS/OpenMP thread and one torch thread.

The suite runs on small machines (CI has 2 cores); BLAS threads competing
with joblib workers or another process oversubscribe the cores and make fits
many times slower, so every test runs single-threaded.
"""

import os
from pathlib import Path

import pytest
from threadpoolctl import threadpool_limits

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True, scope="session")
def _single_thread():
    with threadpool_limits(limits=1):
        try:
            import torch
        except ImportError:
            yield
            return
        previous = torch.get_num_threads()
        torch.set_num_threads(1)
        yield
        torch.set_num_threads(previous)


def pytest_collection_modifyitems(config, items):
    if os.environ.get("SKLEARN_ISD_NETWORK_TESTS") == "1":
        return
    skip = pytest.mark.skip(reason="network test: set SKLEARN_ISD_NETWORK_TESTS=1")
    for item in items:
        if "network" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _no_traceback_from_the_command_line(request, monkeypatch):
    """In the command-line tests, no command may print a traceback.

    ``run_command`` prints one only for an unexpected error (exit code 1),
    through ``traceback.print_exc``: the tests of ``test_cli*.py`` fail if it
    is called, whatever they read of stderr. Commands run in a subprocess
    are checked on their stderr by the tests themselves.
    """
    if not request.module.__name__.rpartition(".")[2].startswith("test_cli"):
        yield
        return
    from sklearn_isd.cli import _run

    printed = []
    monkeypatch.setattr(_run.traceback, "print_exc", lambda *a, **k: printed.append(a))
    yield
    assert not printed, "a command printed a traceback (exit code 1)"
