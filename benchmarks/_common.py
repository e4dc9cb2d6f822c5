"""Helpers shared by the benchmark scripts: thread reports and QM9 samples.

Import it after the script has set the thread environment variables (the
scripts do that before importing numpy and torch).
"""

import os
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info

from sklearn_isd import MorganFingerprint
from sklearn_isd.datasets import load_qm9

DEFAULT_DATA = "/work/shared/data/qm9_gap.parquet"


def thread_settings():
    """Threads in use: threadpoolctl's pools (by library) and torch's."""
    import torch

    pools = {}
    for pool in threadpool_info():
        pools[f"{pool['user_api']}:{pool['internal_api']}"] = pool["num_threads"]
    return dict(
        threadpoolctl=pools,
        torch_num_threads=torch.get_num_threads(),
        torch_num_interop_threads=torch.get_num_interop_threads(),
        **{v: os.environ.get(v) for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")},
    )


def thread_tag(threads):
    """Short form printed next to every figure, e.g. 'blas=1 openmp=1 torch=1'."""
    apis = {}
    for key, n in threads["threadpoolctl"].items():
        apis.setdefault(key.split(":")[0], set()).add(n)
    parts = [f"{api}={'/'.join(map(str, sorted(n)))}" for api, n in apis.items()]
    parts.append(f"torch={threads['torch_num_threads']}")
    return "[threads " + " ".join(parts) + "]"


def qm9_sample(path, n_rows, seed=0):
    """``n_rows`` random QM9 molecules as ECFP4 (CSR) with their gaps (Hartree).

    Reads ``path`` (a parquet file with ``smiles`` and ``gap``) when it
    exists, else the 10,000-molecule subset embedded in the package.

    Returns
    -------
    X : sparse matrix of shape (n_rows, 2048)
    gap : ndarray of shape (n_rows,)
    source : str
        Where the molecules came from.
    """
    if path and Path(path).exists():
        data = load_qm9(subset="full", task="regression", path=path)
        source = str(path)
    else:
        data = load_qm9(task="regression")
        source = "sklearn_isd embedded subset (10,000 molecules)"
    n_rows = min(n_rows, data.data.size)
    rows = np.sort(np.random.default_rng(seed).choice(data.data.size, n_rows, False))
    X = MorganFingerprint(radius=2, n_bits=2048).fit_transform(data.data[rows])
    return X, data.gap[rows], source
