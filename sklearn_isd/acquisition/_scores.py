"""The built-in scores computed from a fitted model, and committees.

Uncertainty scores from class probabilities (``least_confidence``,
``margin``, ``entropy``), committee scores read through
:func:`member_predictions` (``vote_entropy``, ``std``), ``bald`` under Monte
Carlo dropout, and the constant ``random``. Registered by name in
:mod:`._registry`; the public names come from :mod:`sklearn_isd.acquisition`.
"""

import inspect

import numpy as np
from scipy.special import entr
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
    from ..utils._compat import _num_samples

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
