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
