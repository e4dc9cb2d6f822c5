"""Diversity: the distance of an item to the measured set."""

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator

from ._scores import _split_pipeline

#: Entries of one block of the similarity matrix (rows x measured items).
_BLOCK_ENTRIES = 2**22


def distance_to_set(X, Y, *, metric="tanimoto", reduce="min"):
    """Distance of each row of ``X`` to the set of rows ``Y``.

    Computed in blocks of rows of ``X`` (each block times all of ``Y`` holds
    at most about 4 million similarities), never as a full matrix; sparse
    inputs stay sparse.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Items to score.
    Y : {array-like, sparse matrix} of shape (n_reference, n_features)
        The set (e.g. the measured items).
    metric : {"tanimoto", "cosine"}, default="tanimoto"
        ``"tanimoto"``: ``1 - |a & b| / |a | b|`` on binary fingerprints
        (non-zero entries count as set bits; two empty fingerprints are at
        distance 0). ``"cosine"``: ``1 - a.b / (|a| |b|)`` (a zero row is at
        distance 1 from everything).
    reduce : {"min", "mean"}, default="min"
        ``"min"``: distance to the nearest item of ``Y``; ``"mean"``: mean
        distance to the items of ``Y`` (the diversity agents of the paper's
        code).

    Returns
    -------
    distances : ndarray of shape (n_samples,)
        In [0, 1]; 1 for every row when ``Y`` is empty.
    """
    if metric not in ("tanimoto", "cosine"):
        raise ValueError(f"metric must be 'tanimoto' or 'cosine', got {metric!r}.")
    if reduce not in ("min", "mean"):
        raise ValueError(f"reduce must be 'min' or 'mean', got {reduce!r}.")
    X = _as_csr(X)
    Y = _as_csr(Y)
    if X.shape[1] != Y.shape[1]:
        raise ValueError(f"X has {X.shape[1]} features but the set has {Y.shape[1]}.")
    n, m = X.shape[0], Y.shape[0]
    if m == 0:
        return np.ones(n)
    if metric == "tanimoto":
        X, Y = _binary(X), _binary(Y)
        x_norm = np.asarray(X.sum(axis=1)).ravel()
        y_norm = np.asarray(Y.sum(axis=1)).ravel()
    else:
        x_norm = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
        y_norm = np.sqrt(np.asarray(Y.multiply(Y).sum(axis=1)).ravel())
    Yt = Y.T.tocsr()
    rows = max(1, _BLOCK_ENTRIES // m)
    out = np.empty(n)
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        dots = (X[start:stop] @ Yt).toarray()
        a = x_norm[start:stop, None]
        if metric == "tanimoto":
            union = a + y_norm[None, :] - dots
            sim = np.divide(dots, union, out=np.ones_like(dots), where=union > 0)
        else:
            norms = a * y_norm[None, :]
            sim = np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)
        best = sim.max(axis=1) if reduce == "min" else sim.mean(axis=1)
        out[start:stop] = 1.0 - best
    return np.clip(out, 0.0, 1.0)


def _as_csr(X):
    if sp.issparse(X):
        return sp.csr_matrix(X, dtype=np.float64)
    return sp.csr_matrix(np.asarray(X, dtype=np.float64))


def _binary(X):
    X = X.copy()
    X.eliminate_zeros()
    X.data[:] = 1.0
    return X


class Diversity(BaseEstimator):
    """Distance to the measured set: acquire what is least like it.

    The score of an inference-set item is its distance to the measured
    items (:func:`distance_to_set`): by default the Tanimoto distance to the
    nearest measured compound, on binary fingerprints. The paper's code has
    such agents (``diversity_tanimoto``, ``diversity_cosine``) with the mean
    distance to the acquired set from a precomputed library x library
    matrix; here the distances are computed round by round in blocks,
    sparse, never as an N x N matrix. Inside a pipeline, both sets go
    through the pipeline's transformers first (e.g. SMILES to fingerprints).

    The measured items come through :meth:`bind`, which a screen calls once
    per round with the items measured so far; the bound object is the score
    of that round. ``acquisition="diversity"`` is ``Diversity()``.

    Parameters
    ----------
    metric : {"tanimoto", "cosine"}, default="tanimoto"
        See :func:`distance_to_set`.
    reduce : {"min", "mean"}, default="min"
        Distance to the nearest measured item, or the mean distance (the
        reference's agents).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_isd.acquisition import Diversity
    >>> measured = np.array([[1, 1, 0, 0]])
    >>> pool = np.array([[1, 1, 0, 0], [1, 0, 1, 0], [0, 0, 1, 1]])
    >>> Diversity().bind(None, measured)(None, pool)
    array([0.        , 0.66666667, 1.        ])
    """

    def __init__(self, metric="tanimoto", reduce="min"):
        self.metric = metric
        self.reduce = reduce

    def bind(self, estimator, X_measured):
        """The score of one round: distance to ``X_measured``.

        Parameters
        ----------
        estimator : fitted estimator or None
            The round's model; when it is a pipeline, its transformers map
            ``X_measured`` (and later the scored items) to features.
        X_measured : array-like of shape (n_measured, ...)
            The items measured so far.

        Returns
        -------
        score : callable
            ``score(estimator, X) -> ndarray of shape (n_samples,)``.
        """
        if estimator is not None:
            _, X_measured = _split_pipeline(estimator, X_measured)
        return _BoundDiversity(self, _as_csr(X_measured))

    def __call__(self, estimator, X):
        raise ValueError(
            "The diversity acquisition needs the measured items: call "
            "bind(estimator, X_measured) first (a screen does so every round), "
            "or use distance_to_set(X, X_measured)."
        )


class _BoundDiversity:
    """A :class:`Diversity` score bound to one round's measured items."""

    def __init__(self, diversity, measured):
        self.diversity = diversity
        self.measured = measured

    def __call__(self, estimator, X):
        if estimator is not None:
            _, X = _split_pipeline(estimator, X)
        return distance_to_set(
            X, self.measured, metric=self.diversity.metric, reduce=self.diversity.reduce
        )


def _bind(acquisition, estimator, X_measured):
    """``acquisition.bind(...)`` when it has one, else ``acquisition``."""
    bind = getattr(acquisition, "bind", None)
    return acquisition if bind is None else bind(estimator, X_measured)
