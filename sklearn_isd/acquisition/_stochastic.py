"""Stochastic batches: batches drawn with probabilities tilted by the scores.

:func:`sample_batch` draws a batch and returns the inclusion probability of
each chosen item (:func:`inclusion_probabilities`); :class:`StochasticBatch`
is a score whose top-k is such a draw (Kirsch et al., TMLR 2023).
"""

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator

from ._diversity import _bind
from ._mixture import _call_rng, _item_scores
from ._registry import get_acquisition


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
