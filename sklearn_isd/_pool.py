"""Scoring the inference set and choosing a batch (private).

The functions here run inside joblib workers (``_score_chunk``) or on the
cached scores of a round (``_top_k``, ``_reduce_by_group``).
"""

import numpy as np

from ._labels import _positions
from .acquisition import _least_confidence_from_proba

#: Reductions of per-cell (matrix screens) and per-item (groups) scores.
_AGGREGATES = {"mean": np.mean, "max": np.max}


def _top_k(scores, k, rng):
    """Indices of the k highest scores, ties broken at random, highest first.

    Runs in O(n) with ``np.partition``; only the selected items are sorted.
    """
    n = scores.shape[0]
    if k >= n:
        selected = np.arange(n)
    else:
        kth = np.partition(scores, n - k)[n - k]
        above = np.flatnonzero(scores > kth)
        tied = np.flatnonzero(scores == kth)
        selected = np.concatenate(
            [above, rng.choice(tied, size=k - above.size, replace=False)]
        )
    order = np.lexsort((rng.random(selected.size), -scores[selected]))
    return selected[order]


def _reduce_by_group(scores, codes, aggregate):
    """One score per group: ``aggregate`` over the scores of its items.

    Returns the groups present in ``codes`` (sorted) and their scores.
    """
    units, inverse = np.unique(codes, return_inverse=True)
    if aggregate is np.mean:
        sums = np.bincount(inverse, weights=scores, minlength=units.size)
        return units, inverse, sums / np.bincount(inverse, minlength=units.size)
    if aggregate is np.max:
        reduced = np.full(units.size, -np.inf)
        np.maximum.at(reduced, inverse, scores)
        return units, inverse, reduced
    order = np.argsort(inverse, kind="stable")
    splits = np.split(scores[order], np.flatnonzero(np.diff(inverse[order])) + 1)
    reduced = np.array([float(aggregate(part, axis=0)) for part in splits])
    return units, inverse, reduced


def _predict_from_proba(proba, classes):
    """Predicted classes and their probabilities (the row-wise argmax and max).

    Two classes, the common case, take two element-wise operations instead
    of row-wise reductions over a 2-column array, which numpy runs slowly;
    ties go to the first class, as with ``argmax``.
    """
    if proba.shape[1] == 2:
        second = proba[:, 1] > proba[:, 0]
        return classes[second.view(np.int8)], np.where(second, proba[:, 1], proba[:, 0])
    best = np.argmax(proba, axis=1)
    return classes[best], np.take_along_axis(proba, best[:, None], axis=1)[:, 0]


def _score_chunk(estimator, X, acquisition, use_proba, constant_scores, aggregate):
    """Predictions, acquisition scores and confidences on one chunk of the pool.

    For a multi-output model (a matrix screen), predictions have one column
    per output, confidences are averaged over outputs and per-output scores
    are reduced to one per item with ``aggregate``.
    """
    if use_proba:
        proba = estimator.predict_proba(X)
        multi = isinstance(proba, list)  # multi-output: one array per output
        probas = [np.asarray(p) for p in (proba if multi else [proba])]
        classes = estimator.classes_ if multi else [estimator.classes_]
        preds, confidences = zip(
            *(_predict_from_proba(p, c) for p, c in zip(probas, classes, strict=True))
        )
        from_proba = getattr(acquisition, "from_proba", None)
        if constant_scores:
            scores = np.zeros(probas[0].shape[0])
        elif from_proba is None:
            scores = acquisition(estimator, X)
        else:
            per_output = (
                [1.0 - c for c in confidences]  # the same max, computed once
                if from_proba is _least_confidence_from_proba
                else [from_proba(p) for p in probas]
            )
            scores = np.column_stack(per_output) if multi else per_output[0]
        pred = np.column_stack(preds) if multi else preds[0]
        confidence = np.mean(confidences, axis=0)
    else:
        pred = np.asarray(estimator.predict(X))
        confidence = np.full(pred.shape[0], np.nan)
        scores = (
            np.zeros(pred.shape[0]) if constant_scores else acquisition(estimator, X)
        )
    scores = np.asarray(scores, dtype=float)
    if pred.ndim == 2 and scores.shape == pred.shape:
        scores = np.asarray(aggregate(scores, axis=1), dtype=float)
    if scores.shape != (pred.shape[0],):
        cells = f" or {pred.shape}, one per cell" if pred.ndim == 2 else ""
        raise ValueError(
            f"The acquisition function returned scores of shape {scores.shape}; "
            f"expected ({pred.shape[0]},), one score per item{cells}."
        )
    if not np.all(np.isfinite(scores)):
        raise ValueError(
            "The acquisition function returned non-finite scores at positions "
            f"{_positions(~np.isfinite(scores))} of a chunk; scores must be finite."
        )
    return pred, scores, confidence
