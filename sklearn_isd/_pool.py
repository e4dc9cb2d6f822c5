"""Refitting the model, scoring the inference set, choosing a batch (private).

One round of a screen, after its labels were told: :func:`refit` fits the
model on the measured labels, :func:`score_pool` predicts and scores the
inference set in chunks through joblib (``_score_chunk`` runs in the
workers), and :func:`readout` assembles the hybrid readout; the three make a
:class:`Fitted`. Before the next batch is told, :func:`choose_batch` picks it
from the cached scores. All randomness comes from the campaign's seed,
drawn once when it started.
"""

import copy
import time
from typing import NamedTuple

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.base import clone
from sklearn.dummy import DummyClassifier

from ._labels import _fill_missing_cells, _nan_cells, _positions, _single_class
from .metrics import correct as _correct
from .stopping import InferenceSet
from .stopping._monitor import plan_audit
from .utils._compat import _safe_indexing

#: Rows of the library predicted and scored per task of the pool pass.
POOL_CHUNK_SIZE = 65536

#: Reductions of per-cell (matrix screens) and per-item (groups) scores.
AGGREGATES = {"mean": np.mean, "max": np.max}


def _top_k(scores, k, rng):
    """Indices of the k highest scores, ties broken at random, highest first.

    Runs in O(n) with ``np.partition``; only the selected items are sorted.
    """
    n = scores.shape[0]
    if k <= 0:
        return np.empty(0, dtype=np.intp)
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

    For a multi-output model (a matrix screen), predictions and confidences
    have one column per output, and per-output scores are reduced to one per
    item with ``aggregate``.
    """
    if use_proba:
        proba = estimator.predict_proba(X)
        multi = isinstance(proba, list)  # multi-output: one array per output
        probas = [np.asarray(p) for p in (proba if multi else [proba])]
        classes = estimator.classes_ if multi else [estimator.classes_]
        preds, confidences = zip(
            *(_predict_from_proba(p, c) for p, c in zip(probas, classes, strict=True))
        )
        from_proba = getattr(acquisition, "score_from_proba", None)
        if constant_scores:
            scores = np.zeros(probas[0].shape[0])
        elif from_proba is None:
            scores = acquisition(estimator, X)
        else:
            per_output = [
                from_proba(p, c) for p, c in zip(probas, confidences, strict=True)
            ]
            scores = np.column_stack(per_output) if multi else per_output[0]
        pred = np.column_stack(preds) if multi else preds[0]
        confidence = np.column_stack(confidences) if multi else confidences[0]
    else:
        pred = np.asarray(estimator.predict(X))
        confidence = np.full(pred.shape, np.nan)
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


class Predictions(NamedTuple):
    """The model's predictions and scores on the inference set of a round."""

    inference: np.ndarray  # library indices of the inference set, sorted
    predictions: np.ndarray
    scores: np.ndarray
    confidence: np.ndarray  # probability of the predicted class (NaN if none)

    def at(self, indices):
        """Predictions for library ``indices`` of the inference set."""
        return self.predictions[np.searchsorted(self.inference, indices)]

    def without(self, indices):
        """The predictions on the inference set once ``indices`` are measured."""
        keep = ~np.isin(self.inference, indices)
        return Predictions(*(part[keep] for part in self))

    def predicted_errors(self):
        """Per output: the sum of one minus the confidence (NaN without any)."""
        if not self.confidence.size:
            return np.zeros(self.confidence.shape[1:])
        return np.sum(1.0 - self.confidence, axis=0)


class Prereveal(NamedTuple):
    """What the model knew of a told batch before its labels were revealed."""

    correct: np.ndarray | None  # 1/0 per told item (cell), NaN without label
    confidence: np.ndarray | None  # the model's probability of each prediction
    predicted: object  # predicted wrong predictions on the inference set


class Fitted(NamedTuple):
    """The model of a round and what it gives: readout and inference scores.

    ``held`` is the model a stopping rule holds, whose predictions are the
    readout and ``pool`` while ``estimator`` is refit on every label (None
    when no model is held: ``estimator`` made them).
    """

    estimator: object
    transduction: np.ndarray
    pool: Predictions
    single_class: bool
    held: object = None


def _seed_nested_random_states(estimator, seed):
    """Seed every ``random_state`` left at None in ``estimator`` (nested too)."""
    to_set = {
        key: seed
        for key, value in estimator.get_params(deep=True).items()
        if value is None and (key == "random_state" or key.endswith("__random_state"))
    }
    if to_set:
        estimator.set_params(**to_set)
    return estimator


def _warm_start(estimator):
    """Whether ``estimator`` (or a step of it) sets warm_start."""
    return any(
        value is True and (key == "warm_start" or key.endswith("__warm_start"))
        for key, value in estimator.get_params(deep=True).items()
    )


def refit(estimator, previous, X_obs, labels, *, seed, is_classifier):
    """Fit the model of a round on the measured labels.

    Parameters
    ----------
    estimator : estimator object
        The screen's unfitted estimator, cloned (and seeded with ``seed``
        where its ``random_state`` is None).
    previous : Fitted or None
        The last round's model: with ``warm_start=True`` the new model
        continues from a copy of it.
    X_obs, labels : the measured items and their labels.
    seed : int
        The campaign's seed.
    is_classifier : bool

    Returns
    -------
    model : estimator
        Fitted; a :class:`~sklearn.dummy.DummyClassifier` while a classifier
        has seen fewer than two classes (of some output).
    single_class : bool
        Whether that is the case.
    """
    single_class = is_classifier and _single_class(labels)
    if single_class:
        model = DummyClassifier(strategy="prior")
        labels = _fill_missing_cells(labels)
    elif previous is not None and not previous.single_class and _warm_start(estimator):
        # Continue from the previous round's model (e.g. a neural net's
        # weights) on a copy, so a failed refit leaves it intact.
        model = copy.deepcopy(previous.estimator)
    else:
        model = _seed_nested_random_states(clone(estimator), seed)
    try:
        return model.fit(X_obs, labels), single_class
    except ValueError as exc:
        if labels.ndim == 2 and _nan_cells(labels).any():
            raise ValueError(
                f"{exc} The measured labels have cells without a label (NaN), "
                "which this model cannot fit: wrap it in "
                "sklearn_isd.multioutput.MaskedMultiOutputClassifier (or "
                "MaskedMultiOutputRegressor), which fits each output on the "
                "rows where it has a label."
            ) from exc
        raise


def score_pool(estimator, library, inference, label_shape, label_dtype, **options):
    """Predict and score the inference set in chunks, through joblib.

    ``options`` are ``acquisition``, ``use_proba``, ``single_class``,
    ``aggregate`` (passed to every chunk) and ``n_jobs``.

    Returns
    -------
    pool : Predictions
    """
    n_jobs = options.pop("n_jobs")
    if not inference.size:
        empty = np.empty((0, *label_shape), label_dtype)
        return Predictions(inference, empty, np.empty(0), np.empty(0))
    n_chunks = max(1, -(-inference.size // POOL_CHUNK_SIZE))
    tasks = (
        delayed(_score_chunk)(
            estimator,
            _safe_indexing(library, chunk),
            options["acquisition"],
            options["use_proba"],
            options["single_class"],
            options["aggregate"],
        )
        for chunk in np.array_split(inference, n_chunks)
    )
    if n_chunks == 1 or effective_n_jobs(n_jobs) == 1:
        # One worker (the default): run in this process, without the
        # dispatch of a Parallel call.
        results = [func(*args, **kwargs) for func, args, kwargs in tasks]
    else:
        results = Parallel(n_jobs=n_jobs)(tasks)
    pred, scores, confidence = (np.concatenate(part) for part in zip(*results))
    return Predictions(inference, pred, scores, confidence)


def readout(estimator, library, indices, labels, pool, n_items):
    """The hybrid readout: measured labels, predictions elsewhere.

    In a matrix screen, cells of measured items without a label are
    predicted too.
    """
    shape = labels.shape[1:]
    dtype = np.result_type(labels.dtype, pool.predictions.dtype)
    transduction = np.empty((n_items, *shape), dtype=dtype)
    transduction[indices] = labels
    transduction[pool.inference] = pool.predictions
    if shape:
        gaps = _nan_cells(labels)
        rows = np.flatnonzero(gaps.any(axis=1))
        if rows.size:
            predicted = np.asarray(
                estimator.predict(_safe_indexing(library, indices[rows]))
            )
            filled = transduction[indices[rows]]
            filled[gaps[rows]] = predicted[gaps[rows]]
            transduction[indices[rows]] = filled
    return transduction


def fit_round(estimator, setup, state, library, previous, *, n_jobs, before=None):
    """The model of a round and what it gives: refit, score, readout.

    ``previous`` is the last round's :class:`Fitted` (for warm starts). With
    ``before``, the model is fit on the labels of the rounds before that one
    only (the model a stopping rule has held since). Returns the
    :class:`Fitted` and the fit and score times.
    """
    t0 = time.perf_counter()
    train = state.observed_indices
    labels = state.observed_labels
    if before is not None:
        earlier = state.acquired_iter[train] < before
        train, labels = train[earlier], labels[earlier]
    X_train = _safe_indexing(library, train)
    model, single_class = refit(
        estimator,
        previous,
        X_train,
        labels,
        seed=setup.seed,
        is_classifier=setup.is_classifier,
    )
    t1 = time.perf_counter()
    acquisition = setup.acquisition
    bind = getattr(acquisition, "bind", None)
    if bind is not None and not single_class:
        # Scores that need the measured items (diversity) get them once per
        # round, as a bound score (see sklearn_isd.acquisition).
        measured = X_train
        if before is not None:  # the model saw fewer items than were measured
            measured = _safe_indexing(library, state.observed_indices)
        acquisition = bind(model, measured)
    pool = score_pool(
        model,
        library,
        np.flatnonzero(~state.observed_mask),
        labels.shape[1:],
        labels.dtype,
        acquisition=acquisition,
        use_proba=setup.is_classifier and hasattr(model, "predict_proba"),
        single_class=single_class,
        aggregate=setup.aggregate,
        n_jobs=n_jobs,
    )
    t2 = time.perf_counter()
    transduction = readout(
        model,
        library,
        state.observed_indices,
        state.observed_labels,
        pool,
        setup.n_items,
    )
    fitted = Fitted(model, transduction, pool, single_class)
    return fitted, {"fit_time": t1 - t0, "score_time": t2 - t1}


def hold_round(estimator, setup, state, library, held, pool):
    """Keep the model a stopping rule holds: its predictions stay the readout.

    The told items leave the cached predictions ``pool``, which keep
    ranking the next batch, and the readout keeps the held model's
    predictions, which the rule certifies. The model is still refit on every
    label, every round: ``estimator_`` stays the model of all the labels
    (for new items), and a label the model cannot fit fails the ``tell``
    that brought it, which is rolled back, as in a round without a hold.
    """
    pool = pool.without(state.observed_indices)
    held_model = held.estimator if held.held is None else held.held
    t0 = time.perf_counter()
    model, single_class = refit(
        estimator,
        None,
        _safe_indexing(library, state.observed_indices),
        state.observed_labels,
        seed=setup.seed,
        is_classifier=setup.is_classifier,
    )
    fit_time = time.perf_counter() - t0
    transduction = readout(
        held_model,
        library,
        state.observed_indices,
        state.observed_labels,
        pool,
        setup.n_items,
    )
    fitted = Fitted(model, transduction, pool, single_class, held=held_model)
    return fitted, {"fit_time": fit_time, "score_time": 0.0}


def _items_of(chosen, inference, members):
    """Library indices of the chosen units (items, or groups), in order."""
    if members is None:
        return inference[chosen]
    rank = np.full(members.max() + 1, -1)
    rank[chosen] = np.arange(chosen.size)
    item_rank = rank[members]
    taken = np.flatnonzero(item_rank >= 0)
    return inference[taken[np.argsort(item_rank[taken], kind="stable")]]


def choose_batch(setup, state, pool):
    """The next batch of a campaign and its audit items.

    The top scores of ``pool`` (one per unit: item, or group reduced with
    the campaign's ``aggregate``), ties broken at random; a uniform draw
    while there is no model (``pool`` is None). A stopping rule that asks for
    audit items gets them drawn uniformly from the inference set.

    Returns
    -------
    batch, audit : ndarray of int
        Library indices, the audit items last.
    """
    inference = np.flatnonzero(~state.observed_mask)
    scores = None if pool is None else pool.scores
    members = None  # grouped library: position of each item's group
    if setup.group_codes is None:
        n_units = inference.size
    else:
        units, members, unit_scores = _reduce_by_group(
            np.zeros(inference.size) if scores is None else scores,
            setup.group_codes[inference],
            setup.aggregate,
        )
        scores = None if scores is None else unit_scores
        n_units = units.size
    size = setup.initial_batch if state.n_iter == 0 else setup.batch
    size = min(size, setup.budget - state.n_units_observed(setup), n_units)
    no_audit = np.empty(0, dtype=np.intp)
    if size <= 0:
        return np.empty(0, dtype=np.intp), no_audit
    rng = setup.round_rng(state.n_iter)
    if scores is None:  # no model yet: a uniform draw
        chosen = _top_k(np.zeros(n_units), size, rng)
        return _items_of(chosen, inference, members), no_audit
    plan = plan_audit(state.rule, _inference_view(setup, state, pool, n_units, size))
    n_audit = plan.n_audit
    if plan.within_batch:
        n_audit, n_chosen = min(size, n_audit), size - min(size, n_audit)
    else:  # on top of the batch, within the budget
        room = setup.budget - state.n_units_observed(setup) - size
        n_audit, n_chosen = max(min(n_audit, n_units - size, room), 0), size
    if n_audit == 0:
        return _items_of(_top_k(scores, size, rng), inference, members), no_audit
    # Audit items: drawn uniformly from the inference set, so that their
    # correctness is an unbiased sample of the inference-set accuracy.
    audit = rng.choice(n_units, size=n_audit, replace=False)
    rest = np.setdiff1d(np.arange(n_units), audit, assume_unique=True)
    chosen = rest[_top_k(scores[rest], n_chosen, rng)]
    audit = _items_of(audit, inference, members)
    return np.concatenate([_items_of(chosen, inference, members), audit]), audit


def _inference_view(setup, state, pool, n_units, batch_size):
    """The inference set as a stopping rule sees it when planning an audit."""
    error, units = None, None
    if pool is not None and pool.confidence.size:
        if np.isfinite(pool.confidence).all():
            error = 1.0 - pool.confidence
        if setup.group_codes is not None:
            units = np.unique(setup.group_codes[pool.inference], return_inverse=True)[1]
    unit_size = 1
    if setup.group_codes is not None:
        unit_size = int(np.bincount(setup.group_codes).max())
    return InferenceSet(
        n_units=n_units,
        batch_size=batch_size,
        error_probability=error,
        units=units,
        unit_size=unit_size * (state.n_outputs or 1),
        n_outputs=state.n_outputs or 1,
        n_observed=state.n_labelled(),
        n_library=state.acquired_iter.size,
    )


def prereveal_scores(pool, indices, labels, *, is_classifier, tolerance):
    """How the predictions made on a batch before its reveal fared.

    Returns
    -------
    prereveal : Prereveal
        Per told item (per cell): 1.0 or 0.0 for a correct or wrong
        prediction, NaN for a cell without a label (None without a model or
        without a notion of correctness: a regressor without tolerance), the
        model's confidence in it, and the predicted errors of the inference
        set.
    scores : dict
        ``batch_score`` and, for regressors, ``batch_mse`` and ``batch_mae``.
    """
    correct, scores = None, {}
    if pool is None or not indices.size:
        return Prereveal(None, None, np.nan), scores
    predictions = pool.at(indices)
    labelled = ~_nan_cells(labels)
    if is_classifier or tolerance is not None:
        correct = np.where(
            labelled, _correct(labels, predictions, tolerance=tolerance), np.nan
        )
        scores["batch_score"] = float(np.nanmean(correct))
    if not is_classifier:
        err = (predictions.astype(float) - labels.astype(float))[labelled]
        scores["batch_mse"] = float(np.mean(err**2))
        scores["batch_mae"] = float(np.mean(np.abs(err)))
    positions = np.searchsorted(pool.inference, indices)
    prereveal = Prereveal(correct, pool.confidence[positions], pool.predicted_errors())
    return prereveal, scores
