"""The stopping rules: small objects with parameters, state and a decision."""

from collections import deque
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator

from ..utils._compat import Interval, StrOptions
from ._bounds import clopper_pearson_lower_bound, kl_lower_bound
from ._evidence import as_evidence

__all__ = [
    "AnytimeKLBound",
    "AuditBound",
    "AuditPlan",
    "Budget",
    "InferenceSet",
    "KLBound",
    "PooledKLBound",
    "StoppingCriterion",
]


@dataclass(frozen=True, eq=False)
class InferenceSet:
    """The inference set a batch is about to be drawn from, as a rule sees it.

    Passed to :meth:`StoppingCriterion.plan` before each batch is proposed.

    Attributes
    ----------
    n_units : int
        Units (items, or groups) in the inference set.
    batch_size : int
        Units the screen's acquisition will choose in this batch.
    error_probability : ndarray of shape (n_items,) or (n_items, n_outputs) \
            or None
        For each item of the inference set (and output of a matrix screen),
        one minus the probability the model gives its prediction; None
        without probabilities (regressors, or before any model).
    units : ndarray of int of shape (n_items,) or None
        The unit (0 to ``n_units - 1``) of each item when items are acquired
        in groups; None when each item is its own unit.
    unit_size : int
        Most outcomes one unit holds (see :class:`Evidence`).
    n_outputs : int
        Outcomes of one item: 1, or the outputs of a matrix screen whose
        cells are pooled.
    n_observed : int or ndarray of int
        Labels measured so far (per output for a matrix screen).
    n_library : int
        Items in the library.
    """

    n_units: int
    batch_size: int
    error_probability: np.ndarray | None
    units: np.ndarray | None
    unit_size: int
    n_outputs: int
    n_observed: object
    n_library: int

    def output(self, j):
        """The inference set as the rule of output ``j`` sees it."""
        r = self.error_probability
        n_outputs = 1 if r is None or r.ndim == 1 else r.shape[1]
        return InferenceSet(
            self.n_units,
            self.batch_size,
            None if r is None else (r[:, j] if r.ndim == 2 else r),
            self.units,
            self.unit_size // n_outputs,
            1,
            np.ravel(self.n_observed)[j],
            self.n_library,
        )


@dataclass(frozen=True)
class AuditPlan:
    """The audit a rule asks for in the next batch.

    Attributes
    ----------
    n_audit : int
        Units to draw uniformly at random from the inference set.
    within_batch : bool, default=True
        True: the audit units take places of the batch (the acquisition
        chooses the rest); False: they are measured on top of it.
    """

    n_audit: int
    within_batch: bool = True


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

    #: Whether the screen must keep its model, not refit it, after the last
    #: round (a rule whose certificate is about that model's predictions).
    holds_model_ = False

    def plan(self, inference):
        """The audit this rule asks for in the next batch.

        The default asks for :meth:`audit_size` units within the batch.

        Parameters
        ----------
        inference : InferenceSet
            The inference set the batch is about to be drawn from.

        Returns
        -------
        plan : AuditPlan
        """
        return AuditPlan(self.audit_size(inference.batch_size))

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

    def update(self, evidence=None, **kwargs):
        """Take the evidence of one acquired batch and decide.

        Parameters
        ----------
        evidence : Evidence
            What the round told: the correctness of the predictions made on
            the batch before its labels were revealed, its audit items,
            labels measured so far and the library's size, and the context
            of the inference set (see :class:`Evidence`).
        **kwargs
            Instead of ``evidence``, its first fields as keywords:
            ``batch_correct``, ``n_observed``, ``n_library`` and optionally
            ``audit_correct`` (how rules were called before Evidence).

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

    def update(self, evidence=None, **kwargs):
        evidence = as_evidence(evidence, kwargs)
        batch_correct = evidence.batch_correct
        n_observed, n_library = evidence.n_observed, evidence.n_library
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

    def update(self, evidence=None, **kwargs):
        evidence = as_evidence(evidence, kwargs)
        n_observed, n_library = evidence.n_observed, evidence.n_library
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

    def update(self, evidence=None, **kwargs):
        evidence = as_evidence(evidence, kwargs)
        n_observed, n_library = evidence.n_observed, evidence.n_library
        outcomes = self._evidence_of(evidence.batch_correct, evidence.audit_correct)
        if outcomes is not None and len(outcomes):
            self.n_rounds_ += 1
            self._evidence.append(np.asarray(outcomes, dtype=bool))
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
