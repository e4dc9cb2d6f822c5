"""The MOSES library as ECFP4 (sparse CSR) with a descriptor label, cached.

Featurizing 1.58 M SMILES takes minutes, so the scale benchmarks do it once
and keep the result in ``--cache-dir`` (``benchmarks/.cache`` by default,
ignored by git): ``moses_ecfp4.npz`` (the CSR arrays and Crippen logP per
molecule) and ``moses_ecfp4.json`` (how long each step took, and on what).

Label: Crippen logP (``rdkit.Chem.Crippen.MolLogP``) above its median over
the molecules used, a balanced binary task that a linear model on ECFP4
learns well, so the benchmark measures the machinery, not a hard task.
"""

import json
import os
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed

from sklearn_isd import MorganFingerprint

#: ``../shared/data`` beside the repository (``--data`` to point elsewhere).
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DEFAULT_MOSES = str(SHARED_DATA / "moses_train_smiles.csv.gz")
DEFAULT_CACHE = Path(__file__).parent / ".cache"


def _save_csr(file, X, **extra):
    np.savez(
        file,
        data=X.data,
        indices=X.indices,
        indptr=X.indptr,
        shape=np.array(X.shape),
        **extra,
    )


def _load_csr(file):
    """A CSR matrix saved by :func:`_save_csr`, and the archive's arrays."""
    arrays = np.load(file)
    X = sp.csr_matrix(
        (arrays["data"], arrays["indices"], arrays["indptr"]),
        shape=tuple(arrays["shape"]),
    )
    return X, arrays


def read_smiles(path):
    """The ``SMILES`` column of a MOSES csv(.gz), as an object array."""
    import pandas as pd

    return pd.read_csv(path, usecols=["SMILES"])["SMILES"].to_numpy(dtype=object)


def _logp_chunk(smiles):
    from rdkit import Chem, rdBase
    from rdkit.Chem import Crippen

    block = rdBase.BlockLogs()
    out = np.array([Crippen.MolLogP(Chem.MolFromSmiles(s)) for s in smiles])
    del block
    return out


def logp(smiles, n_jobs):
    """Crippen logP of every SMILES, in chunks through joblib."""
    chunks = np.array_split(smiles, max(1, len(smiles) // 50_000))
    return np.concatenate(
        Parallel(n_jobs=n_jobs)(delayed(_logp_chunk)(c) for c in chunks)
    )


def moses_library(path=DEFAULT_MOSES, cache_dir=DEFAULT_CACHE, n_jobs=None):
    """ECFP4 of the MOSES molecules and their logP, from the cache if there.

    Returns
    -------
    X : scipy.sparse.csr_matrix of shape (n, 2048), float32
    logp : ndarray of shape (n,)
    info : dict
        ``featurize_s`` and ``logp_s`` (seconds, when computed in this run or
        recorded in the cache), ``n_jobs`` and the source path.
    """
    cache_dir = Path(cache_dir)
    data, meta = cache_dir / "moses_ecfp4.npz", cache_dir / "moses_ecfp4.json"
    if data.exists() and meta.exists():
        X, arrays = _load_csr(data)
        return X, arrays["logp"], {**json.loads(meta.read_text()), "cached": True}
    n_jobs = n_jobs or os.cpu_count()
    smiles = read_smiles(path)
    t0 = time.perf_counter()
    X = MorganFingerprint(radius=2, n_bits=2048, n_jobs=n_jobs).transform(smiles)
    t1 = time.perf_counter()
    values = logp(smiles, n_jobs)
    t2 = time.perf_counter()
    info = {
        "source": str(path),
        "n_molecules": int(X.shape[0]),
        "featurize_s": t1 - t0,
        "logp_s": t2 - t1,
        "n_jobs": n_jobs,
        "featurizer": "MorganFingerprint(radius=2, n_bits=2048)",
    }
    cache_dir.mkdir(parents=True, exist_ok=True)
    _save_csr(data, X, logp=values)
    meta.write_text(json.dumps(info, indent=2))
    return X, values, {**info, "cached": False}


def subset(X, values, n_rows, seed=0):
    """``n_rows`` molecules drawn at random (all of them if n_rows >= n)."""
    if n_rows >= X.shape[0]:
        rows = np.arange(X.shape[0])
    else:
        rng = np.random.default_rng(seed)
        rows = np.sort(rng.choice(X.shape[0], n_rows, replace=False))
    Xs, v = X[rows], values[rows]
    return Xs, (v > np.median(v)).astype(np.int8)


def cached_subset(n_rows, seed=0, path=DEFAULT_MOSES, cache_dir=DEFAULT_CACHE):
    """:func:`subset` stored in its own file, so that a process can load it alone.

    Returns the path of ``moses_ecfp4_<n_rows>_<seed>.npz`` (CSR arrays and
    labels), written on first use from :func:`moses_library`.
    """
    target = Path(cache_dir) / f"moses_ecfp4_{n_rows}_{seed}.npz"
    if not target.exists():
        X, values, _ = moses_library(path, cache_dir)
        Xs, y = subset(X, values, n_rows, seed)
        _save_csr(target, Xs, y=y)
    return target


def load_subset(file):
    """Read a file written by :func:`cached_subset`: (X, y)."""
    X, arrays = _load_csr(file)
    return X, arrays["y"]
