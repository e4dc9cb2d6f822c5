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

import math
from collections import deque
from numbers import Integral, Real

import numpy as np
from scipy.special import rel_entr
from sklearn.base import BaseEstimator

from .utils._compat import Interval, StrOptions

__all__ = [
    "AnytimeKLBound",
    "AuditBound",
    "Budget",
    "KLBound",
    "PooledKLBound",
    "StoppingCriterion",
    "bernoulli_kl",
    "clopper_pearson_lower_bound",
    "kl_lower_bound",
    "replay_stopping",
    "round_evidence",
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


def clopper_pearson_lower_bound(mean, n, delta):
    """One-sided exact binomial (Clopper-Pearson) lower bound on a mean.

    For ``k = mean * n`` successes in ``n`` independent Bernoulli(``mu``)
    trials, returns the ``delta`` quantile of ``Beta(k, n - k + 1)``, so that
    ``P(mu < bound) <= delta``; 0 when ``k = 0``. Tighter than
    :func:`kl_lower_bound`, which relaxes the same binomial tail by the
    Chernoff inequality.

    Parameters
    ----------
    mean : array-like of float in [0, 1]
        Observed fractions of successes.
    n : array-like of int > 0
        Number of trials.
    delta : array-like of float in (0, 1)
        Probability that the bound fails.

    Returns
    -------
    bound : ndarray or float

    Examples
    --------
    >>> from sklearn_isd.stopping import clopper_pearson_lower_bound
    >>> round(clopper_pearson_lower_bound(1.0, 50, 0.05), 4)  # = 0.05 ** (1/50)
    0.9418
    """
    from scipy.stats import beta

    mean = np.asarray(mean, dtype=float)
    n = np.asarray(n, dtype=float)
    delta = np.asarray(delta, dtype=float)
    if np.any(~((mean >= 0) & (mean <= 1))) or np.any(~(n > 0)):
        raise ValueError("mean must lie in [0, 1] and n must be positive.")
    if np.any(~((delta > 0) & (delta < 1))):
        raise ValueError(f"delta must lie in the open interval (0, 1); got {delta!r}.")
    k = np.round(mean * n)
    bound = np.where(k > 0, beta.ppf(delta, np.maximum(k, 1), n - k + 1), 0.0)
    return float(bound) if bound.ndim == 0 else bound


def _kl_lower_bound_scalar(mean, n, delta):
    """kl_lower_bound for Python scalars: the same bisection without arrays.

    The stopping rules call the bound once per round; plain floats make that
    call about ten times cheaper than 0-d arrays.
    """
    if not 0.0 <= mean <= 1.0:
        raise ValueError(f"mean must lie in [0, 1]; got {mean!r}.")
    if not n > 0:
        raise ValueError(f"n must be positive; got {n!r}.")
    if not 0.0 < delta < 1.0:
        raise ValueError(f"delta must lie in the open interval (0, 1); got {delta!r}.")
    budget = math.log(1.0 / delta) / n
    if mean == 0.0:
        return 0.0

    def kl(q):
        out = mean * math.log(mean / q) if q > 0 else math.inf
        if mean < 1.0:
            out += (1.0 - mean) * math.log((1.0 - mean) / (1.0 - q))
        return out

    lo, hi = 0.0, mean
    for _ in range(_BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        if kl(mid) <= budget:
            hi = mid
        else:
            lo = mid
    return lo


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
    0.8403
    """
    if all(isinstance(v, Real) for v in (mean, n, delta)):
        return _kl_lower_bound_scalar(float(mean), float(n), float(delta))
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

    def audit_size(self, batch_size):
        """Items of each batch the screen must draw uniformly at random.

        Rules that estimate the inference-set accuracy from a uniform sample
        (:class:`AuditBound`) return a positive number; the screen then fills
        that many places of the batch with items drawn uniformly from the
        inference set and passes their correctness as ``audit_correct``.

        Parameters
        ----------
        batch_size : int
            Size of the batch being proposed.

        Returns
        -------
        n_audit : int
            0 for rules that need no audit.
        """
        return 0

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

    def update(self, *, batch_correct, n_observed, n_library, audit_correct=None):
        """Take the evidence of one acquired batch and decide.

        Parameters
        ----------
        batch_correct : ndarray of bool of shape (n_batch,) or None
            Whether each prediction made on the batch before its labels were
            revealed was correct; ``None`` for a batch acquired without a
            model (the initial batch).
        audit_correct : ndarray of bool or None, default=None
            The part of ``batch_correct`` on the batch's audit items (drawn
            uniformly from the inference set, see :meth:`audit_size`).
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

    def update(self, *, batch_correct, n_observed, n_library, audit_correct=None):
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

    def update(self, *, batch_correct, n_observed, n_library, audit_correct=None):
        self.batch_lower_bound_ = np.nan
        self.system_lower_bound_ = n_observed / n_library
        # A small tolerance so that e.g. 0.3 * 1000 counts as reached at 300.
        self.stop_ = bool(n_observed >= self.max_fraction * n_library - 1e-9)
        return self.stop_


class AnytimeKLBound(StoppingCriterion):
    """The paper's bound with ``delta`` spent over rounds: valid for a whole screen.

    :class:`KLBound` tests a bound that fails with probability ``delta``
    again at every round, so the chance that *some* round's bound fails (and
    the screen stops too early) grows with the number of rounds. This rule
    gives round ``t`` (counting rounds with evidence from 1) the level
    ``delta_t = delta / (t (t + 1))``; these sum to ``delta``, so by the union
    bound all the rounds' bounds hold together with probability at least
    ``1 - delta``, however long the screen runs and whenever it stops.

    With ``window > 1`` the bound of round ``t`` pools the pre-reveal
    correctness of the last ``window`` batches instead of the last one only
    (more evidence, so a tighter bound). Pooling assumes that each of those
    batches still lower-bounds the accuracy on the current inference set:
    they were the hardest items when acquired, and the inference set only
    loses items while the model only gains labels.

    Like :class:`KLBound`, it relies on Lemma 1: a weakly calibrated model
    acquiring by least confidence makes the batch no easier than the rest of
    the inference set. An over-confident model breaks that assumption; see
    :class:`AuditBound` for a rule that needs no calibration.

    Parameters
    ----------
    target : float, default=0.95
        System accuracy to reach, in (0, 1).
    delta : float, default=0.05
        Probability, over the whole screen, that the bound fails.
    window : int, default=1
        Number of recent batches whose evidence is pooled.

    Attributes
    ----------
    batch_lower_bound_ : float
        Lower bound on the inference-set accuracy from the pooled evidence.
    system_lower_bound_ : float
        Lower bound on the system accuracy.
    n_rounds_ : int
        Rounds with evidence so far (``t``).
    stop_ : bool
        The last decision.
    """

    _parameter_constraints = {
        "target": [Interval(Real, 0, 1, closed="neither")],
        "delta": [Interval(Real, 0, 1, closed="neither")],
        "window": [Interval(Integral, 1, None, closed="left")],
    }
    _anytime = True

    def __init__(self, target=0.95, delta=0.05, window=1):
        self.target = target
        self.delta = delta
        self.window = window

    def reset(self):
        self._validate_params()
        self._evidence = deque(maxlen=self.window)
        self.n_rounds_ = 0
        return super().reset()

    def _round_delta(self):
        t = self.n_rounds_
        return self.delta / (t * (t + 1)) if self._anytime else self.delta

    def _lower_bound(self, pooled):
        return kl_lower_bound(pooled.mean(), pooled.size, self._round_delta())

    def _evidence_of(self, batch_correct, audit_correct):
        return batch_correct

    def update(self, *, batch_correct, n_observed, n_library, audit_correct=None):
        evidence = self._evidence_of(batch_correct, audit_correct)
        if evidence is not None and len(evidence):
            self.n_rounds_ += 1
            self._evidence.append(np.asarray(evidence, dtype=bool))
        if self._evidence:
            pooled = np.concatenate(self._evidence)
            alpha = self._lower_bound(pooled)
            bound = (n_observed + alpha * (n_library - n_observed)) / n_library
        else:
            alpha, bound = np.nan, n_observed / n_library
        self.batch_lower_bound_ = alpha
        self.system_lower_bound_ = bound
        self.stop_ = bool(bound > self.target)
        return self.stop_


class PooledKLBound(AnytimeKLBound):
    """:class:`AnytimeKLBound` pooling the last ``window`` batches (default 5).

    See :class:`AnytimeKLBound` for the guarantee and the assumption that
    pooling adds: every pooled batch, the hardest items of its round, still
    lower-bounds the accuracy on the current inference set.

    Parameters
    ----------
    target : float, default=0.95
        System accuracy to reach, in (0, 1).
    delta : float, default=0.05
        Probability, over the whole screen, that the bound fails.
    window : int, default=5
        Number of recent batches whose evidence is pooled.
    """

    def __init__(self, target=0.95, delta=0.05, window=5):
        super().__init__(target=target, delta=delta, window=window)


class AuditBound(AnytimeKLBound):
    """Stop on an unbiased audit of the inference set: no calibration needed.

    A share ``audit_fraction`` of every batch is drawn *uniformly at random*
    from the inference set instead of by the acquisition function (the rest
    of the batch is acquired as usual). The pre-reveal correctness of these
    audit items is an unbiased sample of the model's accuracy on the whole
    inference set, so an exact binomial (Clopper-Pearson) lower bound applies
    directly, whatever the calibration of the model; ``delta`` is spent over
    rounds as in :class:`AnytimeKLBound`, so the guarantee holds for the
    whole screen.

    Audits are small, so the bound pools the audits of the last ``window``
    rounds. Pooling assumes the accuracy on the inference set does not
    decrease over those rounds (the model gains labels and the inference set
    loses its hardest items); with ``window=1`` no such assumption is made.
    The audit measures the predictions of the model *before* each batch was
    added; the readout uses the model refit with it, which is no worse in
    practice but is not covered by the guarantee.

    Parameters
    ----------
    target : float, default=0.95
        System accuracy to reach, in (0, 1).
    delta : float, default=0.05
        Probability, over the whole screen, that the bound fails.
    audit_fraction : float, default=0.1
        Share of each batch drawn uniformly from the inference set, in
        (0, 1]; at least one item per batch.
    window : int, default=10
        Number of recent rounds whose audits are pooled.
    method : {"clopper_pearson", "kl"}, default="clopper_pearson"
        The binomial lower bound: exact (Clopper-Pearson) or the KL
        (Chernoff) bound of Eq. 5.

    Attributes
    ----------
    batch_lower_bound_ : float
        Lower bound on the inference-set accuracy from the pooled audits.
    system_lower_bound_ : float
        Lower bound on the system accuracy.
    n_rounds_ : int
        Rounds with audit evidence so far.
    stop_ : bool
        The last decision.
    """

    _parameter_constraints = {
        **AnytimeKLBound._parameter_constraints,
        "audit_fraction": [Interval(Real, 0, 1, closed="right")],
        "method": [StrOptions({"clopper_pearson", "kl"})],
    }

    def __init__(
        self,
        target=0.95,
        delta=0.05,
        audit_fraction=0.1,
        window=10,
        method="clopper_pearson",
    ):
        super().__init__(target=target, delta=delta, window=window)
        self.audit_fraction = audit_fraction
        self.method = method

    def audit_size(self, batch_size):
        return max(1, int(round(self.audit_fraction * batch_size)))

    def _evidence_of(self, batch_correct, audit_correct):
        return audit_correct

    def _lower_bound(self, pooled):
        bound = (
            clopper_pearson_lower_bound
            if self.method == "clopper_pearson"
            else kl_lower_bound
        )
        return bound(pooled.mean(), pooled.size, self._round_delta())


def _evidence(correct, audit, n_observed, n_library):
    """Keyword arguments of :meth:`StoppingCriterion.update` for one round.

    ``correct`` holds, per told item (and per output of a matrix screen),
    1.0 or 0.0 for a correct or wrong prediction made before the label was
    revealed, NaN where there is no evidence (no model yet, or a cell without
    a label), or is None; ``audit`` marks the audit items among them. Cells
    are pooled: each labelled cell is one Bernoulli outcome.
    """
    if correct is None or correct.size == 0 or np.isnan(correct).all():
        batch_correct = audit_correct = None
    elif correct.ndim == 2:
        known = ~np.isnan(correct)
        batch_correct = correct[known] == 1
        audit_correct = correct[audit][known[audit]] == 1
    else:
        batch_correct = correct == 1
        audit_correct = batch_correct[audit]
    return {
        "batch_correct": batch_correct,
        "audit_correct": audit_correct,
        "n_observed": int(n_observed),
        "n_library": int(n_library),
    }


def _round_records(screen):
    """Per round of a screen: its items' correctness, audit mask, labels so far.

    Yields ``(correct, audit, n_labelled)``: ``prereveal_correct_`` and
    ``audit_mask_`` of the items told in the round, and the number of labels
    measured up to that round (per output for a matrix screen).
    """
    acquired = screen.acquired_iter_
    labelled = screen._labelled_cells()
    order = np.argsort(acquired, kind="stable")
    order = order[acquired[order] >= 0]
    bounds = np.searchsorted(acquired[order], np.arange(screen.n_iter_ + 1))
    n_labelled = np.zeros(labelled.shape[1:], dtype=np.int64)
    for t in range(screen.n_iter_):
        in_round = order[bounds[t] : bounds[t + 1]]
        n_labelled = n_labelled + labelled[in_round].sum(axis=0)
        yield (
            screen.prereveal_correct_[in_round],
            screen.audit_mask_[in_round],
            n_labelled,
        )


def round_evidence(screen):
    """The evidence a stopping rule received at each round of a screen.

    In a matrix screen (2-d labels), each labelled cell is one outcome, and
    ``n_observed`` and ``n_library`` count cells.

    Parameters
    ----------
    screen : HybridScreenCV
        A started screen.

    Yields
    ------
    evidence : dict
        Per round, in order, the keyword arguments of
        :meth:`StoppingCriterion.update`: ``batch_correct``, ``audit_correct``
        (None for a round without a model), ``n_observed`` and ``n_library``.
    """
    n_library = screen.acquired_iter_.size * getattr(screen, "n_outputs_", 1)
    for correct, audit, n_labelled in _round_records(screen):
        yield _evidence(correct, audit, np.sum(n_labelled), n_library)


def replay_stopping(criterion, screen):
    """Round at which a stopping rule would have stopped a recorded screen.

    Replays the evidence of every round of a fitted screen (typically run
    with ``stopping=None`` to the end) through a fresh copy of
    ``criterion``, in order. This is how rules are compared on the same
    screens in the coverage study: one screen, several stopping times. The
    audit evidence of :class:`AuditBound` exists only in screens run with
    an audit rule, whose batches held audit items.

    Parameters
    ----------
    criterion : StoppingCriterion
        The rule to replay; it is cloned, not modified.
    screen : HybridScreenCV
        A fitted screen.

    Returns
    -------
    round : int or None
        Index of the first round (0 = initial batch, as in ``history_``) at
        which the rule stops, or None if it never would have.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_isd import HybridScreenCV
    >>> from sklearn_isd.stopping import KLBound, replay_stopping
    >>> X, y = make_classification(1000, random_state=0)
    >>> screen = HybridScreenCV(LogisticRegression(), batch_size=50,
    ...                         stopping=None, random_state=0).fit(X, y)
    >>> t = replay_stopping(KLBound(target=0.9), screen)
    >>> float(screen.history_["system_score"][t]) >= 0.9
    True
    """
    from sklearn.base import clone

    rule = clone(criterion).reset()
    for t, evidence in enumerate(round_evidence(screen)):
        if rule.update(**evidence):
            return t
    return None
