"""Stopping rules for hybrid screens.

A hybrid screen stops measuring once it is confident that the accuracy of the
whole readout (measured labels on the observed set, predictions on the
inference set) passes a target. The paper's rule (Eq. 5-6) lower-bounds the
accuracy on the inference set by the accuracy of the model on the batch just
measured, made *before* its labels were revealed, and turns it into a bound on
the system accuracy::

    alpha_t = min { a in [0, 1] : KL(mu_t, a) <= log(1 / delta) / b }      (5)
    stop once (|X_obs| + alpha_t |X_inf|) / |X_target| > target           (6)

where ``mu_t`` is the batch accuracy, ``b`` the batch size and ``KL`` the
Kullback-Leibler divergence between Bernoulli distributions.

Stopping criteria are small objects in the style of skorch's callbacks:
parameters are stored untouched in ``__init__``, their state lives in
trailing-underscore attributes that :meth:`~StoppingCriterion.reset` clears at
the start of every screen, and :meth:`~StoppingCriterion.update` returns a
decision; it never raises to stop. :class:`~sklearn_isd.HybridScreenCV`
clones the criterion it is given, so one object can be reused across screens.
"""

from numbers import Real

import numpy as np
from scipy.special import rel_entr
from sklearn.base import BaseEstimator

from .utils._compat import Interval

__all__ = [
    "StoppingCriterion",
    "KLBound",
    "Budget",
    "bernoulli_kl",
    "kl_lower_bound",
]

_BISECTION_STEPS = 64


def bernoulli_kl(p, q):
    """Kullback-Leibler divergence ``KL(Bernoulli(p) || Bernoulli(q))``.

    Uses the conventions ``0 log 0 = 0`` and ``x log(x / 0) = inf`` for
    ``x > 0``, so it is exact at the edges ``p, q in {0, 1}``.

    Parameters
    ----------
    p, q : array-like of float in [0, 1]
        Success probabilities; broadcast against each other.

    Returns
    -------
    kl : ndarray or float
        The divergence in nats, ``>= 0``, ``inf`` where ``q`` puts zero mass
        on an outcome that ``p`` does not.

    Examples
    --------
    >>> from sklearn_isd.stopping import bernoulli_kl
    >>> float(bernoulli_kl(0.5, 0.5))
    0.0
    >>> round(float(bernoulli_kl(1.0, 0.5)), 6)
    0.693147
    """
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    return rel_entr(p, q) + rel_entr(1.0 - p, 1.0 - q)


def kl_lower_bound(mean, n, delta):
    """Lower confidence bound on a Bernoulli mean (paper Eq. 5).

    Returns ``alpha = min {a in [0, 1] : KL(mean, a) <= log(1 / delta) / n}``,
    the Chernoff (KL) lower bound: if ``mean`` is the average of ``n``
    independent Bernoulli(``mu``) draws, ``P(mu < alpha) <= delta``
    (Lattimore & Szepesvari 2020, p. 135).

    The bound is computed by bisection on ``[0, mean]``, where
    ``a -> KL(mean, a)`` decreases from ``KL(mean, 0)`` to 0, and the lower
    end of the final bracket is returned, so the result never exceeds the
    exact bound (width of the bracket below ``1e-15``). Edges are exact:
    ``mean = 0`` gives 0 and ``mean = 1`` gives ``delta ** (1 / n)``.

    Parameters
    ----------
    mean : array-like of float in [0, 1]
        Observed accuracies (fractions of successes).
    n : array-like of int or float > 0
        Number of trials behind each mean.
    delta : array-like of float in (0, 1)
        Probability that the bound fails.

    Returns
    -------
    alpha : ndarray or float
        The lower bounds, broadcast over the inputs; a float for scalar input.

    Raises
    ------
    ValueError
        If ``mean`` is outside [0, 1], ``n`` is not positive or ``delta`` is
        outside (0, 1).

    Examples
    --------
    >>> from sklearn_isd.stopping import kl_lower_bound
    >>> round(kl_lower_bound(1.0, 50, 0.05), 4)  # = 0.05 ** (1 / 50)
    0.9418
    >>> round(kl_lower_bound(0.9, 200, 0.05), 4)
    0.8611
    """
    mean = np.asarray(mean, dtype=float)
    n = np.asarray(n, dtype=float)
    delta = np.asarray(delta, dtype=float)
    if np.any(~((mean >= 0) & (mean <= 1))):
        raise ValueError(f"mean must lie in [0, 1]; got {mean!r}.")
    if np.any(~(n > 0)):
        raise ValueError(f"n must be positive; got {n!r}.")
    if np.any(~((delta > 0) & (delta < 1))):
        raise ValueError(f"delta must lie in the open interval (0, 1); got {delta!r}.")
    mean, n, delta = np.broadcast_arrays(mean, n, delta)
    budget = np.log(1.0 / delta) / n
    lo = np.zeros(mean.shape)
    hi = mean.copy()
    # Invariant: KL(mean, hi) <= budget and, unless lo == 0, KL(mean, lo) > budget.
    for _ in range(_BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        inside = bernoulli_kl(mean, mid) <= budget
        hi = np.where(inside, mid, hi)
        lo = np.where(inside, lo, mid)
    alpha = np.where(bernoulli_kl(mean, 0.0) <= budget, 0.0, lo)
    return float(alpha) if alpha.ndim == 0 else alpha


class StoppingCriterion(BaseEstimator):
    """Base class of the stopping rules of a hybrid screen.

    Subclasses implement :meth:`update`. After each acquired batch the screen
    calls ``update`` with the correctness of the predictions it had made on
    that batch *before* the labels were revealed; the criterion sets
    ``batch_lower_bound_`` and ``system_lower_bound_`` and returns whether to
    stop. The string in ``termination_condition`` becomes the screen's
    ``termination_condition_`` when this criterion stops it.
    """

    termination_condition = "target_reached"

    def reset(self):
        """Forget the state of a previous screen.

        Returns
        -------
        self : object
            The criterion, ready for a new screen.
        """
        self.batch_lower_bound_ = np.nan
        self.system_lower_bound_ = np.nan
        self.stop_ = False
        return self

    def update(self, *, batch_correct, n_observed, n_library):
        """Take the evidence of one acquired batch and decide.

        Parameters
        ----------
        batch_correct : ndarray of bool of shape (n_batch,) or None
            Whether each prediction made on the batch before its labels were
            revealed was correct; ``None`` for a batch acquired without a
            model (the initial batch).
        n_observed : int
            Number of measured items, this batch included.
        n_library : int
            Number of items in the library.

        Returns
        -------
        stop : bool
            True if the screen should stop measuring.
        """
        raise NotImplementedError


class KLBound(StoppingCriterion):
    """The paper's stopping rule: KL lower bound on system accuracy (Eq. 5-6).

    After each batch, the accuracy ``mu`` of the predictions made on the batch
    before its labels were revealed gives ``alpha = kl_lower_bound(mu, b,
    delta)``, a lower bound on the accuracy over the inference set, and the
    system accuracy is bounded by::

        system_lower_bound = (n_observed + alpha * n_inference) / n_library

    which counts measured labels as correct. The screen stops once this bound
    is strictly above ``target`` (Eq. 6).

    Assumptions. The batch stands in for the inference set: Lemma 1 of the
    paper shows that, for a *weakly calibrated* model acquiring by least
    confidence, the expected accuracy on the batch lower-bounds that on the
    rest of the inference set; the bound then treats the batch as ``b``
    independent draws. With ``delta = 0.05`` the bound of one round fails
    with probability at most 5 %; the rule tests it again every round, so
    its error rate over a whole screen can exceed ``delta``, and an
    over-confident model breaks the calibration assumption.

    Parameters
    ----------
    target : float, default=0.95
        System accuracy to reach, in (0, 1).
    delta : float, default=0.05
        Probability, per round, that the lower bound fails, in (0, 1).

    Attributes
    ----------
    batch_lower_bound_ : float
        ``alpha`` of the last batch (NaN when the batch had no model).
    system_lower_bound_ : float
        Lower bound on the system accuracy after the last batch.
    stop_ : bool
        The last decision.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_isd.stopping import KLBound
    >>> rule = KLBound(target=0.9, delta=0.05).reset()
    >>> rule.update(batch_correct=np.ones(100, bool), n_observed=500,
    ...             n_library=1000)
    True
    >>> round(rule.system_lower_bound_, 3)
    0.985
    """

    _parameter_constraints = {
        "target": [Interval(Real, 0, 1, closed="neither")],
        "delta": [Interval(Real, 0, 1, closed="neither")],
    }

    def __init__(self, target=0.95, delta=0.05):
        self.target = target
        self.delta = delta

    def reset(self):
        self._validate_params()
        return super().reset()

    def update(self, *, batch_correct, n_observed, n_library):
        n_inference = n_library - n_observed
        if batch_correct is None or len(batch_correct) == 0:
            alpha = np.nan
            bound = n_observed / n_library
        else:
            batch_correct = np.asarray(batch_correct, dtype=bool)
            alpha = kl_lower_bound(batch_correct.mean(), batch_correct.size, self.delta)
            bound = (n_observed + alpha * n_inference) / n_library
        self.batch_lower_bound_ = alpha
        self.system_lower_bound_ = bound
        self.stop_ = bool(bound > self.target)
        return self.stop_


class Budget(StoppingCriterion):
    """Stop once a fixed fraction of the library has been measured.

    No statistical evidence is used: the screen measures until
    ``n_observed / n_library >= max_fraction``. The reported system lower
    bound is the trivial ``n_observed / n_library``, which holds whatever
    the predictions are.

    Parameters
    ----------
    max_fraction : float, default=0.1
        Fraction of the library to measure, in (0, 1].

    Attributes
    ----------
    batch_lower_bound_ : float
        Always NaN.
    system_lower_bound_ : float
        ``n_observed / n_library``.
    stop_ : bool
        The last decision.

    Examples
    --------
    >>> from sklearn_isd.stopping import Budget
    >>> rule = Budget(max_fraction=0.2).reset()
    >>> rule.update(batch_correct=None, n_observed=100, n_library=1000)
    False
    >>> rule.update(batch_correct=None, n_observed=200, n_library=1000)
    True
    """

    termination_condition = "max_fraction"

    _parameter_constraints = {
        "max_fraction": [Interval(Real, 0, 1, closed="right")],
    }

    def __init__(self, max_fraction=0.1):
        self.max_fraction = max_fraction

    def reset(self):
        self._validate_params()
        return super().reset()

    def update(self, *, batch_correct, n_observed, n_library):
        self.batch_lower_bound_ = np.nan
        self.system_lower_bound_ = n_observed / n_library
        # A small tolerance so that e.g. 0.3 * 1000 counts as reached at 300.
        self.stop_ = bool(n_observed >= self.max_fraction * n_library - 1e-9)
        return self.stop_
