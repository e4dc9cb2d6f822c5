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
random              any         constant; the batch is drawn at random
==================  ==========  ==============================================

Committees. ``vote_entropy`` and ``std`` read the members' predictions
through :func:`member_predictions`: an estimator exposing
``predict_members(X)`` (e.g. :class:`~sklearn_isd.ResMLPClassifier` with
``n_members > 1``), or a fitted scikit-learn ensemble exposing
``estimators_`` (bagging, random forests, extra trees, voting), possibly as the
last step of a :class:`~sklearn.pipeline.Pipeline`. ``std`` also accepts a
regressor whose ``predict`` takes ``return_std=True`` (Gaussian processes).
"""

import inspect
from dataclasses import dataclass

import numpy as np
from scipy.special import entr
from sklearn.base import is_classifier, is_regressor
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
    "entropy",
    "get_acquisition",
    "least_confidence",
    "margin",
    "member_predictions",
    "random",
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
        for regressors.
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
        return acquisition
    if acquisition == "auto":
        if estimator is None:
            raise ValueError("acquisition='auto' needs the estimator to resolve.")
        acquisition = "least_confidence" if is_classifier(estimator) else "std"
        if is_classifier(estimator) and not hasattr(estimator, "predict_proba"):
            acquisition = "vote_entropy" if _is_committee(estimator) else acquisition
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
