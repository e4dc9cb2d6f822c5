"""Acquisition scores: which library items to measure next.

An acquisition function is any callable ``score(estimator, X) -> ndarray of
shape (n_samples,)``, like a scikit-learn scorer: ``estimator`` is the model
fitted on the labels measured so far and ``X`` holds inference-set items.
Higher scores are acquired first; ties are broken at random by the screen's
``random_state``. A score may also be of shape (n_samples, n_outputs),
one per output of a multi-output model (a matrix screen); the screen then
reduces it to one score per item with its ``aggregate``.

Built-in scores, by name (see :func:`get_acquisition`):

==================  ==========  ==============================================
name                task        score
==================  ==========  ==============================================
least_confidence    classifier  ``1 - max_y p(y|x)`` (paper Eq. 3)
margin              classifier  ``1 - (p_(1) - p_(2))``, top-two gap
entropy             classifier  ``-sum_y p(y|x) log p(y|x)``
vote_entropy        classifier  entropy of the committee's votes (Eq. 4)
std                 regressor   spread of a committee (or predictive std)
bald                classifier  mutual information under MC dropout (BALD)
diversity           any         distance to the measured set (Tanimoto)
random              any         constant; the batch is drawn at random
==================  ==========  ==============================================

Objects for what a name cannot say: :class:`Diversity` (metric and
reduction), :class:`Mixture` (a batch composed from several acquisitions by
weights, e.g. 80 % least confidence and 20 % random, as in the paper's code)
and :class:`StochasticBatch` (a batch drawn with probabilities tilted by the
scores instead of the top scores, Kirsch et al., 2023). :func:`sample_batch`
draws such a batch from given scores and returns the inclusion probability of
every chosen item.

Acquisitions that need the measured items (``diversity``, and a
:class:`Mixture` or :class:`StochasticBatch` holding one) have a
``bind(estimator, X_measured)`` method returning the score of one round;
a screen calls it after refitting, before scoring the inference set.

Committees. ``vote_entropy`` and ``std`` read the members' predictions
through :func:`member_predictions`: an estimator exposing
``predict_members(X)`` (e.g. :class:`~sklearn_isd.ResMLPClassifier` with
``n_members > 1``), or a fitted scikit-learn ensemble exposing
``estimators_`` (bagging, random forests, extra trees, voting), possibly as the
last step of a :class:`~sklearn.pipeline.Pipeline`. ``std`` also accepts a
regressor whose ``predict`` takes ``return_std=True`` (Gaussian processes).
"""

import inspect
import warnings
from dataclasses import dataclass
from numbers import Integral, Real

import joblib
import numpy as np
import scipy.sparse as sp
from scipy.special import entr
from sklearn.base import BaseEstimator, is_classifier, is_regressor
from sklearn.ensemble import (
    BaggingClassifier,
    BaggingRegressor,
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
    VotingClassifier,
    VotingRegressor,
)
from sklearn.pipeline import Pipeline

__all__ = [
    "ACQUISITION_FUNCTIONS",
    "Diversity",
    "Mixture",
    "StochasticBatch",
    "bald",
    "distance_to_set",
    "entropy",
    "get_acquisition",
    "inclusion_probabilities",
    "least_confidence",
    "margin",
    "member_predictions",
    "random",
    "sample_batch",
    "std",
    "vote_entropy",
]

_COMMITTEES = (
    BaggingClassifier,
    BaggingRegressor,
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
    VotingClassifier,
    VotingRegressor,
)


# --------------------------------------------------------------------------
# Scores computed from class probabilities
# --------------------------------------------------------------------------
def _least_confidence_from_proba(proba):
    return 1.0 - proba.max(axis=1)


def _margin_from_proba(proba):
    if proba.shape[1] < 2:
        return np.zeros(proba.shape[0])
    top2 = np.partition(proba, proba.shape[1] - 2, axis=1)[:, -2:]
    return 1.0 - (top2[:, 1] - top2[:, 0])


def _entropy_from_proba(proba):
    return entr(proba).sum(axis=1)


def _constant_from_proba(proba):
    return np.zeros(proba.shape[0])


def _from_proba(proba, score):
    """Apply a score to ``predict_proba`` output, per output for multi-output.

    A multi-output classifier returns one probability array per output; the
    score is computed for each and stacked to shape (n_samples, n_outputs).
    """
    if isinstance(proba, list):
        return np.column_stack([score(np.asarray(p)) for p in proba])
    return score(np.asarray(proba))


def least_confidence(estimator, X):
    """Least-confidence score ``1 - max_y p(y|x)`` (paper Eq. 3).

    Parameters
    ----------
    estimator : fitted classifier with ``predict_proba``
        The model trained on the measured labels.
    X : array-like of shape (n_samples, ...)
        Items to score.

    Returns
    -------
    scores : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        One score per item; per item and output for a multi-output model.
        Higher for less confident predictions.
    """
    return _from_proba(estimator.predict_proba(X), _least_confidence_from_proba)


def margin(estimator, X):
    """Margin score ``1 - (p_(1) - p_(2))`` from the two most likely classes.

    Parameters
    ----------
    estimator : fitted classifier with ``predict_proba``
        The model trained on the measured labels.
    X : array-like of shape (n_samples, ...)
        Items to score.

    Returns
    -------
    scores : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        One score per item; per item and output for a multi-output model.
        Higher where the two most likely classes are closest.
    """
    return _from_proba(estimator.predict_proba(X), _margin_from_proba)


def entropy(estimator, X):
    """Entropy of the predicted class distribution, in nats.

    Parameters
    ----------
    estimator : fitted classifier with ``predict_proba``
        The model trained on the measured labels.
    X : array-like of shape (n_samples, ...)
        Items to score.

    Returns
    -------
    scores : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        One score per item; per item and output for a multi-output model.
        Higher for flatter predicted distributions.
    """
    return _from_proba(estimator.predict_proba(X), _entropy_from_proba)


def random(estimator, X):
    """Constant score: every item ties, so the screen draws the batch at random.

    The draw uses the screen's ``random_state``, so it is reproducible.

    Parameters
    ----------
    estimator : estimator
        Ignored.
    X : array-like of shape (n_samples, ...)
        Items to score.

    Returns
    -------
    scores : ndarray of shape (n_samples,)
        Zeros.
    """
    from .utils._compat import _num_samples

    return np.zeros(_num_samples(X))


# --------------------------------------------------------------------------
# Committees
# --------------------------------------------------------------------------
def _split_pipeline(estimator, X):
    """Return the final estimator and X transformed by the preceding steps."""
    while isinstance(estimator, Pipeline):
        if len(estimator.steps) > 1:
            X = estimator[:-1].transform(X)
        estimator = estimator.steps[-1][1]
    return estimator, X


def _final_estimator(estimator):
    while isinstance(estimator, Pipeline):
        estimator = estimator.steps[-1][1]
    return estimator


def member_predictions(estimator, X):
    """Predictions of every member of a fitted committee.

    Parameters
    ----------
    estimator : fitted estimator
        A committee: an estimator with ``predict_members(X)`` (the protocol of
        :class:`~sklearn_isd.ResMLPClassifier` and
        :class:`~sklearn_isd.ResMLPRegressor`), or a scikit-learn ensemble
        exposing ``estimators_`` (with ``estimators_features_`` for bagging
        on feature subsets), possibly as the last step of a pipeline.
    X : array-like of shape (n_samples, ...)
        Items to predict; passed through the pipeline's transformers first.

    Returns
    -------
    predictions : ndarray of shape (n_members, n_samples) or \
            (n_members, n_samples, n_outputs)
        Member predictions. Classifier members of scikit-learn ensembles
        predict encoded class indices, which is all that vote counting needs.

    Raises
    ------
    TypeError
        If ``estimator`` is not a committee.
    """
    final, Xt = _split_pipeline(estimator, X)
    if hasattr(final, "predict_members"):
        return np.asarray(final.predict_members(Xt))
    members = getattr(final, "estimators_", None)
    if members is None or len(members) == 0:
        raise TypeError(
            f"{type(final).__name__} is not a committee: it has neither "
            "predict_members(X) nor fitted members in estimators_. Wrap it in "
            "BaggingClassifier/BaggingRegressor or use a non-committee "
            "acquisition function."
        )
    from sklearn.utils import check_array

    Xt = check_array(Xt, accept_sparse="csr", ensure_all_finite=False)
    features = getattr(final, "estimators_features_", None)
    if features is None:
        features = [None] * len(members)
    return np.stack(
        [
            _as_member_output(m.predict(Xt if f is None else Xt[:, f]))
            for m, f in zip(members, features, strict=True)
        ]
    )


def _as_member_output(pred):
    """A member's predictions: (n_samples,), or (n_samples, n_outputs)."""
    pred = np.asarray(pred)
    return pred.ravel() if pred.ndim == 2 and pred.shape[1] == 1 else pred


def vote_entropy(estimator, X):
    """Entropy of the committee's vote distribution (paper Eq. 4).

    For each item, the members' predicted classes form a distribution over
    classes; its entropy (in nats) is 0 when all members agree and largest
    when the votes are spread evenly.

    Parameters
    ----------
    estimator : fitted committee classifier
        See :func:`member_predictions`.
    X : array-like of shape (n_samples, ...)
        Items to score.

    Returns
    -------
    scores : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        One score per item; per item and output for a multi-output model.
        Vote entropies.
    """
    votes = member_predictions(estimator, X)
    if votes.ndim == 3:  # multi-output committee: one entropy per output
        return np.column_stack(
            [_vote_entropy(votes[:, :, j]) for j in range(votes.shape[2])]
        )
    return _vote_entropy(votes)


def _vote_entropy(votes):
    n_members = votes.shape[0]
    _, codes = np.unique(votes, return_inverse=True)
    codes = codes.reshape(votes.shape)
    n_classes = int(codes.max()) + 1 if codes.size else 1
    counts = np.zeros((votes.shape[1], n_classes))
    for member_codes in codes:
        counts[np.arange(votes.shape[1]), member_codes] += 1.0
    return entr(counts / n_members).sum(axis=1)


def _predict_accepts_return_std(estimator):
    final = _final_estimator(estimator)
    try:
        return "return_std" in inspect.signature(final.predict).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins
        return False


def std(estimator, X):
    """Spread of a regression committee: std of the members' predictions.

    For a regressor without members whose ``predict`` accepts
    ``return_std=True`` (e.g. a Gaussian process), the predictive standard
    deviation is used instead.

    Parameters
    ----------
    estimator : fitted committee regressor
        See :func:`member_predictions`.
    X : array-like of shape (n_samples, ...)
        Items to score.

    Returns
    -------
    scores : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        One score per item; per item and output for a multi-output model.
        Standard deviations across members.
    """
    if not _is_committee(estimator) and _predict_accepts_return_std(estimator):
        return np.asarray(estimator.predict(X, return_std=True)[1]).ravel()
    return np.asarray(member_predictions(estimator, X), dtype=float).std(axis=0)


def _is_committee(estimator):
    """Whether an (unfitted) estimator will expose committee members."""
    final = _final_estimator(estimator)
    if hasattr(final, "predict_members"):
        # ResMLP*(n_members=1) has the method but a single member.
        return getattr(final, "n_members", 2) > 1
    return isinstance(final, _COMMITTEES)


# --------------------------------------------------------------------------
# BALD: mutual information under Monte Carlo dropout
# --------------------------------------------------------------------------
def _bald_from_samples(samples):
    """BALD score from probability samples of shape (n_draws, n, n_classes)."""
    mean = samples.mean(axis=0)
    total = entr(mean).sum(axis=-1)
    expected = entr(samples).sum(axis=-1).mean(axis=0)
    return np.maximum(total - expected, 0.0)


def bald(estimator, X, *, n_passes=5, random_state=None):
    """BALD: mutual information between prediction and weights (Houlsby 2011).

    ``H[mean_s p_s(y|x)] - mean_s H[p_s(y|x)]`` over samples ``p_s`` of the
    class probabilities, here Monte Carlo dropout passes (Gal et al., 2017):
    high where the samples disagree, not merely where each is unsure. As the
    BALD agent of the paper's code (5 passes, dropout on, entropies in
    nats). With a committee (``n_members > 1``) every member gives a sample
    per pass, so member disagreement counts too.

    Parameters
    ----------
    estimator : fitted classifier with ``predict_proba_mc``
        A :class:`~sklearn_isd.ResMLPClassifier` trained with dropout
        (``module__dropout > 0``), possibly the last step of a pipeline.
    X : array-like of shape (n_samples, ...)
        Items to score.
    n_passes : int, default=5
        Stochastic forward passes. Use :func:`functools.partial` to change
        it in a screen: ``acquisition=partial(bald, n_passes=20)``.
    random_state : int, RandomState instance or None, default=None
        Seeds the dropout masks; None uses the net's ``random_state`` (the
        screen seeds it), so a seeded screen is reproducible.

    Returns
    -------
    scores : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        Mutual information in nats, >= 0; per output for a multi-output net.
    """
    final, Xt = _split_pipeline(estimator, X)
    if not hasattr(final, "predict_proba_mc"):
        raise TypeError(
            f"bald needs Monte Carlo dropout samples, which {type(final).__name__} "
            "does not provide (predict_proba_mc); use a ResMLPClassifier with "
            "dropout, or another acquisition."
        )
    samples = final.predict_proba_mc(Xt, n_passes=n_passes, random_state=random_state)
    if isinstance(samples, list):  # multi-output: one array per output
        return np.column_stack([_bald_from_samples(_flatten_draws(s)) for s in samples])
    return _bald_from_samples(_flatten_draws(samples))


def _flatten_draws(samples):
    """(n_passes, n_members, n, k) -> (n_passes * n_members, n, k)."""
    samples = np.asarray(samples, dtype=float)
    return samples.reshape(-1, *samples.shape[-2:])


def _has_mc_dropout(estimator):
    final = _final_estimator(estimator)
    if not hasattr(final, "predict_proba_mc"):
        return False
    dropout = final.get_params().get("module__dropout", 0.0)
    return dropout is not None and dropout > 0


# --------------------------------------------------------------------------
# Diversity: distance to the measured set
# --------------------------------------------------------------------------
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


# --------------------------------------------------------------------------
# Randomised acquisitions: a mixture of scores, stochastic batches
# --------------------------------------------------------------------------
def _call_rng(random_state, X):
    """A generator for one call on ``X``.

    An int ``random_state`` gives the same draws for the same ``X`` and
    different ones for different ``X`` (the chunks of an inference set,
    which changes every round); a RandomState instance or None (numpy's
    global generator) gives a new base seed on every call.
    """
    if isinstance(random_state, Integral) and not isinstance(random_state, bool):
        base = int(random_state)
    elif isinstance(random_state, np.random.Generator):
        base = int(random_state.integers(2**31 - 1))
    else:
        from sklearn.utils import check_random_state

        base = int(check_random_state(random_state).randint(2**31 - 1))
    return np.random.default_rng([base, int(joblib.hash(X)[:15], 16)])


def _item_scores(acquisition, estimator, X, aggregate):
    """One score per item from a component acquisition."""
    scores = np.asarray(acquisition(estimator, X), dtype=float)
    if scores.ndim == 2:
        scores = np.asarray(_AGGREGATES.get(aggregate, aggregate)(scores, axis=1))
    return scores


_AGGREGATES = {"mean": np.mean, "max": np.max}


def _ranks(scores, rng):
    """0 for the highest score; ties in random order."""
    order = np.lexsort((rng.random(scores.size), -scores))
    ranks = np.empty(scores.size)
    ranks[order] = np.arange(scores.size)
    return ranks


class Mixture(BaseEstimator):
    """A batch composed from several acquisitions, in proportion to weights.

    ``Mixture([("least_confidence", 0.8), ("random", 0.2)])`` fills 80 % of
    every batch with the items least confidence ranks first and 20 % with
    items drawn at random, like the paper's code, whose main script runs an
    uncertainty agent mixed with random picks at 0.8 / 0.2 (``ActiveAgent``
    with ``acq_weights``): the random part keeps exploring where the model
    is confidently wrong.

    It is a score, so it works in any screen: each component ranks the items
    it is given (ties in random order), and an item's score is
    ``-min_i (rank_i + 0.5) / (n * w_i)`` over the components ``i``. The
    top ``b`` scores are then the top ``w_i b`` items of each component,
    within one item, an item wanted by two components counting once (the
    reference instead lets the component of smallest weight choose first).
    Ranks are relative to the number ``n`` of items scored together, so a
    screen that scores its inference set in chunks gets the same proportions
    from every chunk.

    Parameters
    ----------
    components : list of (acquisition, weight)
        Acquisition names (see :data:`ACQUISITION_FUNCTIONS`) or callables,
        with positive weights, normalised to sum to 1.
    aggregate : {"mean", "max"} or callable, default="mean"
        Reduction of per-output component scores (matrix screens) to one
        score per item.
    random_state : int, RandomState instance or None, default=None
        Order of tied items (all of them for ``"random"``). An int gives
        reproducible batches: draws depend on it and on the items scored,
        which change every round.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_isd import HybridScreenCV
    >>> from sklearn_isd.acquisition import Mixture
    >>> screen = HybridScreenCV(
    ...     LogisticRegression(),
    ...     acquisition=Mixture([("least_confidence", 0.8), ("random", 0.2)],
    ...                         random_state=0),
    ... )
    """

    def __init__(self, components, *, aggregate="mean", random_state=None):
        self.components = components
        self.aggregate = aggregate
        self.random_state = random_state

    def _resolved(self):
        """``[(score callable, weight)]`` with weights summing to 1."""
        components = list(self.components)
        if not components:
            raise ValueError("Mixture needs at least one (acquisition, weight).")
        resolved, weights = [], []
        for item in components:
            try:
                acquisition, weight = item
            except (TypeError, ValueError):
                raise ValueError(
                    f"Mixture components are (acquisition, weight) pairs, got {item!r}."
                ) from None
            if not isinstance(weight, Real) or not weight > 0:
                raise ValueError(
                    f"Mixture weights must be positive numbers, got {weight!r}."
                )
            if isinstance(acquisition, Mixture):
                raise ValueError("A Mixture cannot hold another Mixture.")
            resolved.append(get_acquisition(acquisition))
            weights.append(float(weight))
        weights = np.asarray(weights) / np.sum(weights)
        return list(zip(resolved, weights, strict=True))

    def check(self, estimator):
        """Raise a clear error if a component cannot score with ``estimator``."""
        for acquisition, _ in self.components:
            get_acquisition(acquisition, estimator)

    def bind(self, estimator, X_measured):
        """The mixture of the components bound to one round (see :class:`Diversity`).

        Parameters
        ----------
        estimator : fitted estimator
        X_measured : array-like of shape (n_measured, ...)

        Returns
        -------
        mixture : Mixture
            A mixture of the bound components, same weights.
        """
        bound = [
            (_bind(acquisition, estimator, X_measured), weight)
            for acquisition, weight in self._resolved()
        ]
        return Mixture(bound, aggregate=self.aggregate, random_state=self.random_state)

    def __call__(self, estimator, X):
        from .utils._compat import _num_samples

        components = self._resolved()
        n = _num_samples(X)
        rng = _call_rng(self.random_state, X)
        key = np.full(n, np.inf)
        for acquisition, weight in components:
            if acquisition is ACQUISITION_FUNCTIONS["random"]:
                scores = np.zeros(n)
            else:
                scores = _item_scores(acquisition, estimator, X, self.aggregate)
            key = np.minimum(key, (_ranks(scores, rng) + 0.5) / (n * weight))
        return -key


def _tilt(scores, mode, beta):
    """Unnormalised sampling weights of ``scores`` (Kirsch et al., 2023)."""
    scores = np.asarray(scores, dtype=float)
    if mode == "power":
        return np.maximum(scores, 0.0) ** beta
    if mode == "softmax":
        return np.exp(beta * (scores - scores.max()))
    if mode == "softrank":
        ranks = np.empty(scores.size)
        ranks[np.argsort(-scores, kind="stable")] = np.arange(1, scores.size + 1)
        return ranks ** (-float(beta))
    raise ValueError(f"mode must be 'power', 'softmax' or 'softrank', got {mode!r}.")


def _check_beta(beta):
    if not isinstance(beta, Real) or beta < 0 or not np.isfinite(beta):
        raise ValueError(f"beta must be a finite number >= 0, got {beta!r}.")


def inclusion_probabilities(weights, k):
    """Inclusion probabilities proportional to ``weights``, summing to ``k``.

    ``pi_i = min(1, c w_i)``: items whose share would exceed 1 are taken
    with certainty and the rest is shared again. If fewer than ``k`` items
    have a positive weight, they are all certain and the remaining draws
    are shared equally among the others.

    Parameters
    ----------
    weights : array-like of shape (n_items,)
        Non-negative sampling weights.
    k : int
        Batch size, at most ``n_items``.

    Returns
    -------
    pi : ndarray of shape (n_items,)
        Inclusion probabilities in [0, 1], summing to ``k``.

    Examples
    --------
    >>> from sklearn_isd.acquisition import inclusion_probabilities
    >>> inclusion_probabilities([8.0, 1.0, 1.0, 0.0], 2).tolist()
    [1.0, 0.5, 0.5, 0.0]
    """
    weights = np.asarray(weights, dtype=float)
    n = weights.size
    pi = np.zeros(n)
    certain = np.zeros(n, dtype=bool)
    while True:
        rest = ~certain
        left = k - certain.sum()
        if left <= 0:
            break
        w = weights[rest]
        total = w.sum()
        share = left * w / total if total > 0 else np.full(w.size, left / w.size)
        pi[rest] = share
        over = np.zeros(n, dtype=bool)
        over[rest] = share >= 1.0
        if not over.any():
            break
        certain |= over
        pi[certain] = 1.0
    return pi


def sample_batch(scores, k, *, mode="power", beta=1.0, random_state=None):
    """Draw a batch with probabilities tilted by the scores, not the top-k.

    Stochastic batch acquisition (Kirsch et al., TMLR 2023): item ``i`` is
    included with probability ``pi_i`` proportional to a tilt of its score
    (capped at 1, see below), so that a large batch is not ``k`` near
    copies of the single most uncertain region. The batch is drawn by
    systematic sampling with probabilities proportional to size (items in
    random order, ``k`` equally spaced points on the cumulated ``pi``):
    exactly ``k`` distinct items, each with inclusion probability exactly
    ``pi_i``, which is what a stopping rule needs to weight the batch
    (Horvitz-Thompson weights ``1 / pi_i``).

    Parameters
    ----------
    scores : array-like of shape (n_items,)
        Acquisition scores, higher first.
    k : int
        Batch size, at most ``n_items``.
    mode : {"power", "softmax", "softrank"}, default="power"
        Tilt of the scores: ``max(s, 0) ** beta`` (the default of Kirsch et
        al. for non-negative scores), ``exp(beta * s)``, or
        ``rank ** -beta`` (rank 1 for the highest score).
    beta : float, default=1.0
        Inverse temperature, >= 0. 0 draws uniformly; a large ``beta``
        tends to the top-k.
    random_state : int, RandomState, Generator or None, default=None
        Source of the draw (a screen passes its round generator).

    Returns
    -------
    indices : ndarray of int of shape (k,)
        Positions in ``scores`` of the chosen items, highest score first.
    probabilities : ndarray of shape (k,)
        Their inclusion probabilities ``pi_i`` (1 for the items taken with
        certainty); over all items, ``pi`` sums to ``k``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_isd.acquisition import sample_batch
    >>> idx, pi = sample_batch([0.1, 0.4, 0.2, 0.3], 2, random_state=0)
    >>> idx.size, bool(np.all(pi > 0))
    (2, True)
    """
    scores = np.asarray(scores, dtype=float)
    if scores.ndim != 1 or not np.all(np.isfinite(scores)):
        raise ValueError("scores must be a 1-d array of finite numbers.")
    n = scores.size
    if not isinstance(k, Integral) or not 0 <= k <= n:
        raise ValueError(f"k must be an integer in [0, {n}], got {k!r}.")
    _check_beta(beta)
    rng = (
        random_state
        if isinstance(random_state, np.random.Generator)
        else np.random.default_rng(
            None if random_state is None else _seed_of(random_state)
        )
    )
    if k == 0:
        return np.empty(0, dtype=np.intp), np.empty(0)
    pi = inclusion_probabilities(_tilt(scores, mode, beta), k)
    order = rng.permutation(n)
    edges = np.cumsum(pi[order])
    edges *= k / edges[-1]  # the cumulated pi ends at k exactly
    points = rng.random() + np.arange(k)
    positions = np.minimum(np.searchsorted(edges, points, side="right"), n - 1)
    chosen = order[positions]
    if np.unique(chosen).size != k:  # pragma: no cover - float edge case
        raise RuntimeError("systematic sampling drew an item twice")
    chosen = chosen[np.lexsort((chosen, -scores[chosen]))]
    return chosen, pi[chosen]


def _seed_of(random_state):
    from sklearn.utils import check_random_state

    if isinstance(random_state, Integral):
        return int(random_state)
    return int(check_random_state(random_state).randint(2**31 - 1))


class StochasticBatch(BaseEstimator):
    """A score whose top-k is a stochastic batch (Kirsch et al., TMLR 2023).

    The scores of ``acquisition`` are tilted into sampling weights ``w``
    (``mode``, ``beta``, as in :func:`sample_batch`) and returned as
    ``log w + Gumbel noise``: taking the top ``k`` of them (what a screen
    does) draws ``k`` items without replacement, successively in proportion
    to ``w`` (the Gumbel-top-k trick, the construction of Kirsch et al.).
    Large batches then spread over uncertain regions instead of piling up in
    the single most uncertain one. It works with any screen today; a loop
    that needs each item's inclusion probability (to weight a stopping
    bound) draws with :func:`sample_batch` instead.

    Parameters
    ----------
    acquisition : str or callable, default="least_confidence"
        The scores to tilt (non-negative for ``mode="power"``).
    mode : {"power", "softmax", "softrank"}, default="power"
        See :func:`sample_batch`.
    beta : float, default=1.0
        Inverse temperature; 0 draws uniformly.
    aggregate : {"mean", "max"} or callable, default="mean"
        Reduction of per-output scores (matrix screens).
    random_state : int, RandomState instance or None, default=None
        Source of the Gumbel noise; an int gives reproducible batches (the
        noise depends on it and on the items scored).

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_isd import HybridScreenCV
    >>> from sklearn_isd.acquisition import StochasticBatch
    >>> screen = HybridScreenCV(
    ...     LogisticRegression(),
    ...     acquisition=StochasticBatch("least_confidence", random_state=0),
    ... )
    """

    def __init__(
        self,
        acquisition="least_confidence",
        *,
        mode="power",
        beta=1.0,
        aggregate="mean",
        random_state=None,
    ):
        self.acquisition = acquisition
        self.mode = mode
        self.beta = beta
        self.aggregate = aggregate
        self.random_state = random_state

    def check(self, estimator):
        """Raise a clear error if the tilted acquisition cannot score."""
        _check_beta(self.beta)
        _tilt(np.zeros(1), self.mode, self.beta)
        get_acquisition(self.acquisition, estimator)

    def bind(self, estimator, X_measured):
        """The same stochastic batch over the tilted acquisition bound to a round.

        Parameters
        ----------
        estimator : fitted estimator
        X_measured : array-like of shape (n_measured, ...)

        Returns
        -------
        score : StochasticBatch
        """
        acquisition = _bind(get_acquisition(self.acquisition), estimator, X_measured)
        return StochasticBatch(
            acquisition,
            mode=self.mode,
            beta=self.beta,
            aggregate=self.aggregate,
            random_state=self.random_state,
        )

    def __call__(self, estimator, X):
        _check_beta(self.beta)
        scores = _item_scores(
            get_acquisition(self.acquisition), estimator, X, self.aggregate
        )
        weights = _tilt(scores, self.mode, self.beta)
        # log(0) items keep a finite, lowest key: drawn only once the
        # items of positive weight are exhausted.
        with np.errstate(divide="ignore"):
            log_w = np.log(weights)
        floor = np.min(log_w[np.isfinite(log_w)], initial=0.0) - 1e6
        log_w = np.where(np.isfinite(log_w), log_w, floor)
        rng = _call_rng(self.random_state, X)
        return log_w + rng.gumbel(size=scores.size)


# --------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class _Acquisition:
    """A built-in acquisition score with what it needs of the estimator.

    ``from_proba`` lets the screen compute the score from the
    ``predict_proba`` output it already has, instead of predicting again.
    """

    name: str
    func: object
    task: str | None = None  # "classifier", "regressor" or None for any
    from_proba: object = None
    needs: str | None = None  # "predict_proba", "committee", "spread"

    def __call__(self, estimator, X):
        return self.func(estimator, X)

    def bind(self, estimator, X_measured):
        """The score of one round, given the items measured so far.

        Scores that need the measured items (``diversity``) return an
        object bound to them; the others return themselves.
        """
        return _bind(self.func, estimator, X_measured)

    @property
    def score_from_proba(self):
        """``score(proba, confidence)`` from a ``predict_proba`` output, or None.

        ``confidence`` is the row-wise maximum of ``proba``, which the screen
        has already computed; least confidence reuses it.
        """
        if self.from_proba is None:
            return None
        if self.from_proba is _least_confidence_from_proba:
            return lambda proba, confidence: 1.0 - confidence
        return lambda proba, confidence: self.from_proba(proba)

    def check(self, estimator):
        """Raise a clear error if ``estimator`` cannot feed this score."""
        name = type(estimator).__name__
        if self.task == "classifier" and not is_classifier(estimator):
            raise ValueError(
                f"acquisition={self.name!r} scores classifiers, but {name} is not "
                "a classifier. For regressors use 'std' (a committee) or 'random'."
            )
        if self.task == "regressor" and not is_regressor(estimator):
            raise ValueError(
                f"acquisition={self.name!r} scores regressors, but {name} is not "
                "a regressor. For classifiers use 'least_confidence', 'margin', "
                "'entropy', 'vote_entropy' or 'random'."
            )
        if self.needs == "predict_proba" and not hasattr(estimator, "predict_proba"):
            raise ValueError(
                f"acquisition={self.name!r} needs predict_proba, which {name} does "
                "not provide (e.g. SVC(probability=False)). Use a probabilistic "
                "classifier, a committee with 'vote_entropy', or 'random'."
            )
        if self.needs == "committee" and not _is_committee(estimator):
            raise ValueError(
                f"acquisition={self.name!r} needs a committee, but {name} has no "
                "members. Wrap it, e.g. BaggingClassifier(estimator), use a random "
                "forest or ResMLPClassifier(n_members=5)."
            )
        if self.needs == "mc_dropout" and not _has_mc_dropout(estimator):
            raise ValueError(
                f"acquisition={self.name!r} needs Monte Carlo dropout, but {name} "
                "has none. Use ResMLPClassifier with module__dropout > 0, or "
                "another acquisition."
            )
        if self.needs == "spread" and not (
            _is_committee(estimator) or _predict_accepts_return_std(estimator)
        ):
            raise ValueError(
                f"acquisition={self.name!r} needs the spread of a committee, but "
                f"{name} has no members. Wrap it in a committee, e.g. "
                "BaggingRegressor(estimator) or ResMLPRegressor(n_members=5), or "
                "pass acquisition='random'."
            )


ACQUISITION_FUNCTIONS = {
    a.name: a
    for a in (
        _Acquisition(
            "least_confidence",
            least_confidence,
            "classifier",
            _least_confidence_from_proba,
            "predict_proba",
        ),
        _Acquisition(
            "margin", margin, "classifier", _margin_from_proba, "predict_proba"
        ),
        _Acquisition(
            "entropy", entropy, "classifier", _entropy_from_proba, "predict_proba"
        ),
        _Acquisition("vote_entropy", vote_entropy, "classifier", None, "committee"),
        _Acquisition("std", std, "regressor", None, "spread"),
        _Acquisition("bald", bald, "classifier", None, "mc_dropout"),
        _Acquisition("diversity", Diversity(), None, None, None),
        _Acquisition("random", random, None, _constant_from_proba, None),
    )
}
"""Registry of the built-in acquisition scores, by name."""


def get_acquisition(acquisition, estimator=None):
    """Resolve an acquisition name or callable, checking it fits the estimator.

    Parameters
    ----------
    acquisition : str or callable
        A name of :data:`ACQUISITION_FUNCTIONS`, ``"auto"`` or a callable
        ``score(estimator, X) -> ndarray``. ``"auto"`` is the paper's choice:
        ``least_confidence`` for classifiers and ``std`` (committee spread)
        for regressors; a regressor that is no committee gets ``random``
        batches, with a warning that says how to rank by uncertainty.
    estimator : estimator, default=None
        The (unfitted) estimator the scores will be computed with; when given,
        a built-in score that cannot work with it raises here, before any
        label is spent.

    Returns
    -------
    score : callable
        ``score(estimator, X) -> ndarray of shape (n_samples,)``.

    Raises
    ------
    ValueError
        For an unknown name, or a built-in score that does not fit
        ``estimator``.
    """
    if callable(acquisition):
        check = getattr(acquisition, "check", None)
        if estimator is not None and check is not None:
            check(estimator)
        return acquisition
    if acquisition == "auto":
        if estimator is None:
            raise ValueError("acquisition='auto' needs the estimator to resolve.")
        acquisition = "least_confidence" if is_classifier(estimator) else "std"
        if is_classifier(estimator) and not hasattr(estimator, "predict_proba"):
            acquisition = "vote_entropy" if _is_committee(estimator) else acquisition
        if acquisition == "std":
            try:
                ACQUISITION_FUNCTIONS["std"].check(estimator)
            except ValueError as exc:
                warnings.warn(
                    "acquisition='auto' measures random batches: a single "
                    f"regressor has no uncertainty to rank by ({exc})",
                    UserWarning,
                    stacklevel=2,
                )
                acquisition = "random"
    try:
        resolved = ACQUISITION_FUNCTIONS[acquisition]
    except (KeyError, TypeError):
        allowed = ", ".join(repr(k) for k in ["auto", *ACQUISITION_FUNCTIONS])
        raise ValueError(
            f"Unknown acquisition {acquisition!r}; use one of {allowed} or a "
            "callable score(estimator, X)."
        ) from None
    if estimator is not None:
        resolved.check(estimator)
    return resolved
