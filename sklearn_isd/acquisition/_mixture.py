"""Mixture: a batch composed from several acquisitions by weights.

Also the randomness shared with :mod:`._stochastic`: the generator of one
scoring call and the reduction of a component's scores to one per item.
"""

from numbers import Integral, Real

import joblib
import numpy as np
from sklearn.base import BaseEstimator

from ._diversity import _bind
from ._registry import ACQUISITION_FUNCTIONS, get_acquisition


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
        from ..utils._compat import _num_samples

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
