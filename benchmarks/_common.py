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

#: ``../shared/data`` beside the repository (``--data`` to point elsewhere).
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DEFAULT_DATA = str(SHARED_DATA / "qm9_gap.parquet")


def meminfo_gib():
    """MemTotal of /proc/meminfo in GiB (None elsewhere)."""
    try:
        line = Path("/proc/meminfo").read_text().splitlines()[0]
    except OSError:
        return None
    return round(int(line.split()[1]) / 1024**2, 1)


def versions():
    """Versions of Python and the libraries every result depends on."""
    import platform

    import scipy
    import sklearn

    import sklearn_isd

    return dict(
        python=platform.python_version(),
        sklearn_isd=sklearn_isd.__version__,
        sklearn=sklearn.__version__,
        numpy=np.__version__,
        scipy=scipy.__version__,
    )


def machine():
    """The machine: architecture, processor, cores and memory."""
    import platform

    return dict(
        arch=platform.machine(),
        processor=platform.processor() or platform.machine(),
        cpu_count=os.cpu_count(),
        ram_gib=meminfo_gib(),
    )


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


#: Rows of the reference's QM9 library (the notebook's split) screened by
#: ``bench_reference.py`` and ``bench_acquisition.py``.
REFERENCE_LIBRARY = 4000


def reference_qm9_split(path, n_library=REFERENCE_LIBRARY, n_bits=2000, valid_seed=0):
    """The QM9 library and validation set of the paper's public code.

    Its data notebook (``notebooks/data_processing/qm9.ipynb``) labels a
    molecule 1 when its gap is above the median of all 133,885 molecules,
    keeps ``frame.sample(frac=0.8, random_state=42)`` as the explorable set
    (the library, in that shuffled order), and splits the rest in half,
    ``rest.sample(frac=0.5)``, into a validation set (13,388 molecules) and a
    test set. A QM9 run with ``n_explorable_cmpds=n`` screens the first ``n``
    molecules of the explorable set and starts from its first
    ``n_init_train_cmpds``. The validation draw of the notebook is unseeded;
    here it uses ``random_state=valid_seed``. Features: RDKit Morgan radius
    2, ``n_bits`` bits (the authors' molfeat ``ecfp`` default is 2,000 bits;
    the two agree bit for bit).

    Returns
    -------
    X, y : sparse matrix of shape (n_library, n_bits), ndarray of int
        The library, in the reference's order.
    X_valid, y_valid : the validation set.
    info : dict
        Rows of the parquet file used, for the JSON record.
    """
    import pandas as pd

    frame = pd.read_parquet(path)
    median = float(frame["gap"].median())
    explorable = frame.sample(frac=0.8, random_state=42)
    library = explorable.iloc[:n_library]
    valid = frame.drop(index=explorable.index).sample(frac=0.5, random_state=valid_seed)
    fp = MorganFingerprint(radius=2, n_bits=n_bits)
    X = fp.fit_transform(library["smiles"].to_numpy())
    X_valid = fp.transform(valid["smiles"].to_numpy())
    y = (library["gap"].to_numpy() > median).astype(int)
    y_valid = (valid["gap"].to_numpy() > median).astype(int)
    info = dict(
        median_gap=median,
        library_rows_head=library.index[:5].tolist(),
        n_valid=int(len(valid)),
        valid_rows_head=valid.index[:5].tolist(),
        valid_seed=valid_seed,
        n_bits=n_bits,
        positive_fraction=round(float(y.mean()), 4),
    )
    return X, y, X_valid, y_valid, info


def initial_batch_positions(screen, n_items):
    """Where ``screen`` (unfitted) will put its random initial batch.

    The first :meth:`~sklearn_isd.HybridScreenCV.ask` of a clone on a
    library of ``n_items`` rows: it depends on the size and the seed only.
    """
    from sklearn.base import clone

    return np.sort(clone(screen).ask(np.zeros((n_items, 1))))


def place_initial_batch(screen, X, y, n_initial):
    """Reorder ``X``, ``y`` so that ``screen`` starts from rows ``:n_initial``.

    The screen draws its initial batch at random; the reference starts from
    the first ``n_initial`` molecules of its library. Moving those molecules
    to the positions of the screen's draw (and the others, in order, to the
    remaining positions) makes the screen start where the reference starts.

    Returns
    -------
    X_perm, y_perm, rows : the reordered library and, for each position, its
        row in ``X``.
    """
    n = X.shape[0]
    initial = initial_batch_positions(screen, n)
    if initial.size != n_initial:
        raise ValueError(f"the screen's initial batch has {initial.size} items")
    rows = np.empty(n, dtype=np.intp)
    rows[initial] = np.arange(n_initial)
    rest = np.setdiff1d(np.arange(n), initial)
    rows[rest] = np.arange(n_initial, n)
    return X[rows], y[rows], rows
