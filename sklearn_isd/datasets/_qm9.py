"""QM9 HOMO-LUMO gaps: an embedded subset and a loader for the full set."""

import csv
import gzip
import io
from importlib import resources
from pathlib import Path
from urllib.request import urlopen

import numpy as np
from sklearn.datasets import get_data_home
from sklearn.utils import Bunch

from ..utils._files import atomic_write
from ._frames import import_pandas

__all__ = ["QM9_GAP_MEDIAN", "load_qm9"]

#: Median HOMO-LUMO gap (Hartree) of the full 133,885-molecule QM9 set: the
#: class boundary of the paper's QM9 classification task.
QM9_GAP_MEDIAN = 0.2494

QM9_URL = "https://deepchemdata.s3-us-west-1.amazonaws.com/datasets/qm9.csv"

_EMBEDDED_FILE = "qm9_gap_subset.csv.gz"
_CACHE_FILE = "qm9_gap.csv.gz"
_SUBSETS = ("embedded", "full")
_TASKS = ("classification", "regression")
_CLASS_NAMES = ["gap <= median", "gap > median"]

_DESCR = f"""\
.. _qm9_dataset:

QM9 HOMO-LUMO gap dataset
-------------------------

QM9 (Ramakrishnan et al., 2014) lists 133,885 small organic molecules with up
to nine heavy atoms (C, N, O, F) and properties computed by DFT at the
B3LYP/6-31G(2df,p) level. This loader keeps the SMILES and the HOMO-LUMO gap
(Hartree).

**Data Set Characteristics:**

=================  ===========================================================
Samples            10,000 (``subset="embedded"``), 133,885 (``subset="full"``)
Features           1: the SMILES string (featurize it, e.g. with
                   ``sklearn_isd.chem.MorganFingerprint``)
Target             classification: 1 if gap > {QM9_GAP_MEDIAN} Ha (the median of
                   the full set), else 0; regression: the gap (Hartree)
Classes            2, balanced (50.25 % positive in the embedded subset)
Gap range          0.0246-0.6221 Ha (full), 0.0709-0.3906 Ha (embedded)
=================  ===========================================================

The embedded subset is 10,000 molecules drawn uniformly without replacement
(``numpy.random.default_rng(0).choice(133885, 10000, replace=False)``) from
the full set, kept in the original order; ``qm9_index`` is the row of each
molecule in the full set. The paper's QM9 experiment classifies gaps above
the median from ECFP4 (Morgan radius 2) fingerprints; the paper gives no
length, its public code uses 2,000 bits.

**Duplicates.** No SMILES appears twice, but distinct molecules can share a
fingerprint: in the full set, 539 groups of molecules (1,170 molecules)
share their ECFP4 fingerprint at 2,000 bits (538 groups, 1,168 molecules
at 2,048 bits), and 18 of those groups hold both labels of the
classification task, so no model of the fingerprint can get all of them
right. The paper says duplicated fingerprints were removed; the file of its
code keeps them. ``load_qm9(drop_duplicates=True)`` keeps the first molecule
of each group (133,255 molecules at 2,048 bits, 133,254 at 2,000).

.. rubric:: References

- R. Ramakrishnan, P. O. Dral, M. Rupp, O. A. von Lilienfeld. Quantum
  chemistry structures and properties of 134 kilo molecules. Scientific Data
  1, 140022 (2014). https://doi.org/10.1038/sdata.2014.22 (CC BY 4.0)
"""


def _check_option(name, value, allowed):
    if value not in allowed:
        raise ValueError(
            f"Unknown {name}={value!r}; allowed values are "
            f"{', '.join(repr(a) for a in allowed)}."
        )


def _check_columns(source, columns):
    """Raise unless ``columns`` (of a file read) hold ``smiles`` and ``gap``."""
    missing = [c for c in ("smiles", "gap") if c not in columns]
    if missing:
        raise ValueError(
            f"{source} lacks the column(s) {missing}; it needs 'smiles' and "
            f"'gap' (Hartree), found {columns}."
        )


def _read_csv_columns(stream, source):
    """Read ``smiles``, ``gap`` and the optional ``qm9_index`` from CSV text."""
    reader = csv.reader(stream)
    try:
        header = next(reader)
    except StopIteration:
        raise ValueError(f"{source} is empty; expected a CSV header.") from None
    columns = {name.strip(): j for j, name in enumerate(header)}
    _check_columns(source, list(columns))
    i_smiles, i_gap = columns["smiles"], columns["gap"]
    i_index = columns.get("qm9_index")
    smiles, gap, index = [], [], []
    for row in reader:
        if not row:
            continue
        smiles.append(row[i_smiles])
        gap.append(row[i_gap])
        if i_index is not None:
            index.append(row[i_index])
    smiles = np.asarray(smiles, dtype=object)
    gap = np.asarray(gap, dtype=np.float64)
    index = np.asarray(index, dtype=np.int64) if i_index is not None else None
    return smiles, gap, index


def _read_local(path):
    """Read smiles and gap from a local .csv, .csv.gz or .parquet file."""
    path = Path(path)
    name = path.name.lower()
    if name.endswith(".parquet"):
        try:
            import pandas as pd

            df = pd.read_parquet(path)
        except ImportError as exc:
            raise ImportError(
                "Reading a .parquet file needs pandas and pyarrow: "
                "`pip install sklearn-isd[data]`."
            ) from exc
        _check_columns(path, list(df.columns))
        smiles = df["smiles"].to_numpy(dtype=object)
        gap = df["gap"].to_numpy(dtype=np.float64)
        index = df["qm9_index"].to_numpy(dtype=np.int64) if "qm9_index" in df else None
        return smiles, gap, index
    if name.endswith(".csv.gz"):
        with gzip.open(path, "rt", newline="", encoding="utf-8") as f:
            return _read_csv_columns(f, path)
    if name.endswith(".csv"):
        with open(path, newline="", encoding="utf-8") as f:
            return _read_csv_columns(f, path)
    raise ValueError(
        f"Cannot read {path}: expected a .csv, .csv.gz or .parquet file with "
        "'smiles' and 'gap' columns."
    )


def _download_qm9(cache_path):
    """Download QM9, keep smiles and gap, and write them atomically to cache."""
    cache_path = Path(cache_path)
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with urlopen(QM9_URL, timeout=60) as response:
            text = io.TextIOWrapper(response, encoding="utf-8", newline="")
            smiles, gap, _ = _read_csv_columns(text, QM9_URL)
        if len(smiles) == 0:
            raise ValueError(f"{QM9_URL} returned no molecules.")
        atomic_write(
            cache_path, lambda handle: _write_gaps(handle, smiles, gap), binary=True
        )
    except OSError as exc:  # URLError, HTTPError, timeouts, disk errors
        raise OSError(
            f"Could not download QM9 from {QM9_URL} ({exc}). Without internet "
            "access, download that CSV (or any .csv, .csv.gz or .parquet file "
            "with 'smiles' and 'gap' columns) elsewhere and pass it with "
            "load_qm9(subset='full', path='/path/to/qm9.csv'), or copy it to "
            f"{cache_path} (gzip-compressed). subset='embedded' (10,000 "
            "molecules) works offline."
        ) from exc
    return smiles, gap


def _write_gaps(handle, smiles, gap):
    """Write smiles and gap as a gzip-compressed CSV to a binary ``handle``."""
    with gzip.open(handle, "wt", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["smiles", "gap"])
        writer.writerows(zip(smiles, (repr(float(g)) for g in gap)))


def _first_of_each_fingerprint(smiles, featurizer):
    """Rows of the first molecule of each group sharing a fingerprint."""
    if featurizer is True:
        from ..chem import MorganFingerprint

        featurizer = MorganFingerprint()
    if not hasattr(featurizer, "fit_transform"):
        raise ValueError(
            "drop_duplicates must be False, True or a transformer with "
            f"fit_transform (e.g. MorganFingerprint(n_bits=2000)); got "
            f"{featurizer!r}."
        )
    import scipy.sparse as sp

    X = featurizer.fit_transform(smiles)
    if sp.issparse(X):
        X = sp.csr_matrix(X)
        X.sort_indices()
        keys = [
            X.indices[X.indptr[i] : X.indptr[i + 1]].tobytes()
            + X.data[X.indptr[i] : X.indptr[i + 1]].tobytes()
            for i in range(X.shape[0])
        ]
    else:
        X = np.ascontiguousarray(X)
        keys = [row.tobytes() for row in X]
    _, first = np.unique(np.array(keys, dtype=object), return_index=True)
    return np.sort(first)


def load_qm9(
    *,
    subset="embedded",
    task="classification",
    path=None,
    data_home=None,
    as_frame=False,
    return_X_y=False,
    download_if_missing=True,
    drop_duplicates=False,
):
    """Load QM9 SMILES with their HOMO-LUMO gap (classification or regression).

    ===================  ====================================================
    Samples total        10,000 (``subset="embedded"``);
                         133,885 (``subset="full"``)
    Features             1: the SMILES string
    Classes              2 (gap above / at most ``QM9_GAP_MEDIAN`` = 0.2494
                         Ha), 50.25 % positive in the embedded subset
    Target (regression)  gap in Hartree, 0.0246-0.6221 (full),
                         0.0709-0.3906 (embedded)
    ===================  ====================================================

    The embedded subset ships with the package (10,000 molecules drawn at
    random from the full set) and loads offline with numpy only. The full set
    is read from ``path`` if given, else from a cached copy in
    ``get_data_home(data_home)/qm9``, else downloaded once from DeepChem's
    public QM9 CSV into that cache.

    Parameters
    ----------
    subset : {"embedded", "full"}, default="embedded"
        Which molecules to load.

    task : {"classification", "regression"}, default="classification"
        ``"classification"``: target is ``(gap > QM9_GAP_MEDIAN).astype(int)``,
        the paper's balanced binary task. ``"regression"``: target is the gap
        (Hartree).

    path : str or path-like, default=None
        ``subset="full"`` only: a local ``.csv``, ``.csv.gz`` or ``.parquet``
        file with ``smiles`` and ``gap`` (Hartree) columns, read instead of
        the cache or the network (``.parquet`` needs pandas and pyarrow).

    data_home : str or path-like, default=None
        Cache folder for the full set; see
        :func:`sklearn.datasets.get_data_home`.

    as_frame : bool, default=False
        If True, ``data`` is a pandas DataFrame with a ``smiles`` column,
        ``target`` a pandas Series and ``frame`` a DataFrame with smiles, gap
        and the target (needs pandas).

    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    download_if_missing : bool, default=True
        ``subset="full"`` only: if False, raise an :class:`OSError` instead of
        downloading when the data is neither given by ``path`` nor cached.

    drop_duplicates : bool or transformer, default=False
        Keep only the first molecule of each group of molecules that share a
        fingerprint (see Notes): True uses ECFP4 with 2,048 bits
        (:class:`~sklearn_isd.chem.MorganFingerprint` defaults, needs RDKit),
        a transformer (e.g. ``MorganFingerprint(n_bits=2000)``) its own
        features. ``qm9_index`` keeps the rows of the molecules kept.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        data : ndarray of object of shape (n_samples,) or DataFrame
            The SMILES strings.
        target : ndarray of shape (n_samples,) or Series
            Class labels (int, 0 or 1) or gaps (float, Hartree).
        gap : ndarray of shape (n_samples,)
            The HOMO-LUMO gap (Hartree), whatever the task.
        qm9_index : ndarray of int of shape (n_samples,)
            Row of each molecule in the full QM9 set (embedded subset) or in
            the file read (full set).
        frame : DataFrame or None
            Only when ``as_frame=True``: smiles, gap and target.
        feature_names : list of str
            ``["smiles"]``.
        target_names : list of str
            Class names for classification, ``["gap"]`` for regression.
        DESCR : str
            Description of the data set.

    (data, target) : tuple if ``return_X_y`` is True
        The SMILES and the target.

    Raises
    ------
    ValueError
        On an unknown ``subset`` or ``task``, or a file without ``smiles`` and
        ``gap`` columns.
    OSError
        If the full set must be downloaded and that fails (the message says
        how to pass a local file with ``path=``), or if it is missing and
        ``download_if_missing`` is False.

    Notes
    -----
    QM9: Ramakrishnan et al., Scientific Data 1, 140022 (2014), CC BY 4.0.

    No SMILES is repeated, but 539 groups of molecules of the full set
    (1,170 molecules) share their ECFP4 fingerprint at 2,000 bits, the
    features of the paper's code (538 groups at 2,048 bits), and 18 groups
    hold both classes: a fingerprint model cannot be right on all of them.
    The paper says duplicates were removed; the data of its code keeps them,
    and so does this loader unless ``drop_duplicates`` is set.

    Examples
    --------
    >>> from sklearn_isd.datasets import load_qm9
    >>> qm9 = load_qm9()
    >>> qm9.data.shape, qm9.target.shape
    ((10000,), (10000,))
    >>> qm9.data[:3]
    array(['O', 'CC(N)=O', 'O=CC#C'], dtype=object)
    >>> X, y = load_qm9(task="regression", return_X_y=True)
    >>> float(y[0])
    0.3615
    """
    _check_option("subset", subset, _SUBSETS)
    _check_option("task", task, _TASKS)
    smiles, gap, index = _read_molecules(subset, path, data_home, download_if_missing)
    if drop_duplicates is not False:
        keep = _first_of_each_fingerprint(smiles, drop_duplicates)
        smiles, gap, index = smiles[keep], gap[keep], index[keep]
    target, target_names, target_column = _target_of(gap, task)
    frame = None
    data = smiles
    if as_frame:
        pd = import_pandas("as_frame=True")
        frame = pd.DataFrame({"smiles": smiles, "gap": gap})
        if target_column != "gap":
            frame[target_column] = target
        data = frame[["smiles"]]
        target = frame[target_column]
    if return_X_y:
        return data, target
    return Bunch(
        data=data,
        target=target,
        gap=gap,
        qm9_index=index,
        frame=frame,
        feature_names=["smiles"],
        target_names=target_names,
        DESCR=_DESCR,
    )


def _read_molecules(subset, path, data_home, download_if_missing):
    """SMILES, gaps and QM9 rows of a subset: embedded, a file, cache or network."""
    if subset == "embedded":
        if path is not None:
            raise ValueError(
                "path is only used with subset='full'; pass subset='full' to "
                "read a local file."
            )
        source = resources.files("sklearn_isd.datasets") / "data" / _EMBEDDED_FILE
        with source.open("rb") as raw:
            with gzip.open(raw, "rt", newline="", encoding="utf-8") as f:
                smiles, gap, index = _read_csv_columns(f, _EMBEDDED_FILE)
    elif path is not None:
        smiles, gap, index = _read_local(path)
    else:
        smiles, gap, index = _read_cached(data_home, download_if_missing)
    if index is None:
        index = np.arange(len(smiles), dtype=np.int64)
    return smiles, gap, index


def _read_cached(data_home, download_if_missing):
    """The full set from the cache, downloaded into it first if allowed."""
    cache_path = Path(get_data_home(data_home)) / "qm9" / _CACHE_FILE
    if cache_path.exists():
        return _read_local(cache_path)
    if not download_if_missing:
        raise OSError(
            f"QM9 is not cached at {cache_path} and download_if_missing is "
            "False; pass a local file with load_qm9(subset='full', "
            "path=...) or allow the download."
        )
    smiles, gap = _download_qm9(cache_path)
    return smiles, gap, None


def _target_of(gap, task):
    """The target of a task, its names, and its column in ``frame``."""
    if task == "classification":
        return (gap > QM9_GAP_MEDIAN).astype(int), list(_CLASS_NAMES), "target"
    return gap.copy(), ["gap"], "gap"
