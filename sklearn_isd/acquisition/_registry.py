"""The registry of built-in acquisitions by name, and their resolution.

:data:`ACQUISITION_FUNCTIONS` maps each name to an :class:`_Acquisition`,
which knows what the score needs of the estimator; :func:`get_acquisition`
resolves a name, ``"auto"`` or a callable and checks it fits the estimator.
"""

import warnings
from dataclasses import dataclass

from sklearn.base import is_classifier, is_regressor

from ._diversity import Diversity, _bind
from ._scores import (
    _constant_from_proba,
    _entropy_from_proba,
    _has_mc_dropout,
    _is_committee,
    _least_confidence_from_proba,
    _margin_from_proba,
    _predict_accepts_return_std,
    bald,
    entropy,
    least_confidence,
    margin,
    random,
    std,
    vote_entropy,
)


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
