"""PredictionPoweredBound: an audited certificate of the readout, timed by the model."""

import math
from numbers import Integral, Real

import numpy as np
from scipy.stats import norm
from sklearn.isotonic import IsotonicRegression

from ..utils._compat import Interval
from ._audit import betting_upper_bound, hypergeometric_upper_bound, planned_margin
from ._evidence import as_evidence
from ._rules import AuditPlan, StoppingCriterion

__all__ = ["PredictionPoweredBound"]

#: Bins of the predicted error probability for the calibration map.
_EDGES = np.concatenate([[0.0], np.geomspace(1e-4, 0.5, 14), [1.0 + 1e-9]])
#: Weight, in outcomes, of the model's own probability in each bin's rate.
_PRIOR = 2.0


class PredictionPoweredBound(StoppingCriterion):
    """Stop on an audit of the inference set, timed and sized by the model.

    The number of wrong predictions the readout holds is what must be small:
    ``(n_library - wrong) / n_library > target``. The model predicts it (the
    sum, over the inference set, of the probability that each prediction is
    wrong, recalibrated on every outcome the screen has seen), but a model
    can be wrong about its own errors, so this rule never trusts that
    prediction for the decision. It uses it to choose *when* to check and
    *how much* to measure, and checks with an audit:

    1. **Timing.** While the predicted errors are far from the allowed
       number, the screen runs as usual. Once an audit of the inference set,
       together with this round's batch, is predicted to certify the target
       (and waiting a round would not make it cheaper), the next batch
       carries an audit: units drawn uniformly at random from the whole
       inference set, on top of the batch the acquisition chooses.
    2. **Certificate.** The audit's wrong predictions give an exact upper
       confidence bound ``U`` on the wrong predictions in the whole inference
       set (hypergeometric for single outcomes, a betting bound for groups
       or pooled cells; :func:`hypergeometric_upper_bound`), valid whatever
       the model's calibration. Every measured item of that inference set
       has a known truth, so the readout's wrong predictions are at most
       ``U - D``, ``D`` being the wrong predictions among the items measured
       since (this round's batch and audit included).
    3. **Holding the model.** If ``U - D`` is not yet small enough but a
       batch or two more would close the gap, the screen *holds* its model:
       its predictions stay the readout and rank the next batches (the ones
       this model is least sure of; ``estimator_`` is still refit on every
       label), and each one's wrong predictions add to ``D``, so the same
       certificate closes without another audit. The readout is then the
       held model's predictions: those the audit certified.
    4. **Validity over the screen.** Each audit spends a share of ``delta``
       (``delta (1 - spend) spend^(k - 1)`` for the k-th), so all the
       certificates hold together with probability at least ``1 - delta``:
       the screen stops with a readout below ``target`` with probability at
       most ``delta``. An audit far off the mark releases the model and is
       followed, later, by a better-timed one.

    Audited items are measured: they count as labels in every cost figure
    and as correct in the readout. When the screen stops, ``transduction_``
    holds the certified predictions and ``estimator_`` is refit on every
    label.

    Parameters
    ----------
    target : float, default=0.95
        System accuracy to reach, in (0, 1).
    delta : float, default=0.05
        Probability, over the whole screen, that it stops below ``target``.
    spend : float, default=0.1
        How the audits share ``delta``: the first gets ``1 - spend`` of it,
        each later one ``spend`` times the one before. In (0, 1).
    power : float, default=0.8
        Audits are sized so that, if the model's recalibrated prediction of
        its errors is right, they certify with this probability (holding
        the model for up to ``max_hold`` rounds included). In (0, 1).
    max_hold : int, default=2
        Audits are planned to certify with at most this many held batches
        after the audit's own.
    forget : float, default=0.7
        Weight of the calibration outcomes of a round, relative to the next
        round's: the error rate at a given confidence drifts down as the
        hard items leave the inference set. In (0, 1]; 1 never forgets.
    patience : float, default=3
        After an audit that does not certify, the model stays held while
        the held batches are predicted to close the certificate within
        ``patience * max_hold`` batches; beyond, it is released and a later,
        better-timed audit tries again.

    Attributes
    ----------
    batch_lower_bound_ : float
        Lower bound on the accuracy of the held predictions on the audited
        inference set (NaN in rounds without a certificate).
    system_lower_bound_ : float
        Lower bound on the system accuracy: from the certificate when there
        is one, else the trivial ``n_observed / n_library``.
    n_audits_ : int
        Audits drawn so far.
    holds_model_ : bool
        Whether the screen must keep its model's predictions after the last
        round.
    stop_ : bool
        The last decision.

    See Also
    --------
    AuditBound : a uniform audit share of every batch.
    KLBound : the paper's rule, which assumes weak calibration.

    Notes
    -----
    Prediction-powered inference (Angelopoulos et al., Science 2023) writes
    the errors of the inference set as the model's predicted error mass
    plus a correction measured on an audit. With a uniform audit, bounding
    the correction is bounding the errors themselves, and the exact
    hypergeometric bound on them uses no model output at all: the
    certificate holds for any model. The prediction (recalibrated on the
    pre-reveal outcomes of every batch and audit, recent rounds weighing
    more) decides when an audit is worth its labels and how large it must
    be, and the held model's batches, ranked by its confidence, remove the
    errors that close the certificate. An importance-weighted audit tilted
    toward likely errors, as in active statistical inference (Zrnic &
    Candes, 2024), was measured too: on QM9 it needed about as many labels
    as a uniform one (the model's most confident predictions hold most of
    its errors) and its bound is only asymptotically valid, so the audit is
    uniform.
    """

    _parameter_constraints = {
        "target": [Interval(Real, 0, 1, closed="neither")],
        "delta": [Interval(Real, 0, 1, closed="neither")],
        "spend": [Interval(Real, 0, 1, closed="neither")],
        "power": [Interval(Real, 0, 1, closed="neither")],
        "max_hold": [Interval(Integral, 0, None, closed="left")],
        "patience": [Interval(Real, 0, None, closed="left")],
        "forget": [Interval(Real, 0, 1, closed="right")],
    }

    def __init__(
        self,
        target=0.95,
        delta=0.05,
        spend=0.1,
        power=0.8,
        max_hold=2,
        patience=3,
        forget=0.7,
    ):
        self.target = target
        self.delta = delta
        self.spend = spend
        self.power = power
        self.max_hold = max_hold
        self.patience = patience
        self.forget = forget

    def reset(self):
        self._validate_params()
        n_bins = _EDGES.size - 1
        self._bins = np.zeros((3, n_bins))  # outcomes, wrong, sum of r per bin
        self._certificate = None  # [upper bound, measured errors] of the held model
        self._held_rounds = 0
        self._last_batch_errors = np.nan  # error rate of the last batch
        self.n_audits_ = 0
        self.holds_model_ = False
        return super().reset()

    # ------------------------------------------------------------------
    # Planning: when to audit, and how much
    # ------------------------------------------------------------------
    def _delta_of(self, k):
        """Share of delta of the k-th audit (k from 1)."""
        return self.delta * (1 - self.spend) * self.spend ** (k - 1)

    def _calibrated(self, r):
        """Recalibrated error probabilities: binned rates, monotone in r.

        Each bin's rate is its observed rate shrunk toward a prior: the
        model's own probability, scaled by how overconfident the model was
        on the bins it has outcomes for (the ratio of observed to predicted
        errors grows as the confidence grows, a power law fitted on those
        bins and extended to the bins without outcomes: most confident).
        """
        n, wrong, sum_r = self._bins
        mean_r = np.where(n > 0, sum_r / np.maximum(n, 1), _mid_bins())
        prior = mean_r * _overconfidence(n, wrong, sum_r, mean_r)
        rate = (wrong + _PRIOR * prior) / (n + _PRIOR)
        rate = (
            IsotonicRegression(y_min=0.0, y_max=1.0)
            .fit(np.arange(rate.size), rate, sample_weight=n + _PRIOR)
            .predict(np.arange(rate.size))
        )
        return rate[_bin_of(r)]

    def _predicted(self, inference):
        """Predicted wrong units per unit of the inference set (or None)."""
        r = inference.error_probability
        if r is None:
            if not np.isfinite(self._last_batch_errors):
                return None
            return np.full(inference.n_units, self._last_batch_errors)
        r = np.asarray(r, dtype=float)
        per_item = self._calibrated(r).reshape(r.shape[0], -1).sum(axis=1)
        if inference.units is None:
            return per_item
        return np.bincount(inference.units, per_item, minlength=inference.n_units)

    def plan(self, inference):
        if self.holds_model_ or self.stop_:
            return AuditPlan(0, within_batch=False)
        errors = self._predicted(inference)
        if errors is None:
            return AuditPlan(0, within_batch=False)
        b = inference.batch_size
        allowed = inference.n_library * inference.n_outputs * (1 - self.target)
        errors = np.sort(errors)[::-1]  # the acquisition's order, roughly
        now, m = self._cost(errors, b, allowed, inference.unit_size)
        if not np.isfinite(now):
            return AuditPlan(0, within_batch=False)
        later, _ = self._cost(errors[b:], b, allowed, inference.unit_size)
        if now > b + later:  # waiting a round is predicted cheaper
            return AuditPlan(0, within_batch=False)
        return AuditPlan(int(m), within_batch=False)

    def _cost(self, errors, b, allowed, unit_size):
        """Predicted labels to certify from here, and the audit it takes.

        An audit now, with this round's batch, and ``k`` held batches after
        it (0 to ``max_hold``): the cheapest ``m + k b`` whose audit of ``m``
        units is predicted to certify with probability ``power``.
        """
        best = (math.inf, 0)
        removed = np.concatenate([[0.0], np.cumsum(errors)])
        for k in range(self.max_hold + 1):
            batches = min((k + 1) * b, errors.size)
            m = self._audit_size(errors, removed[batches], allowed, unit_size)
            if m + k * b < best[0]:
                best = (m + k * b, m)
        return best

    def _audit_size(self, errors, removed, allowed, unit_size):
        """Smallest audit predicted to certify with probability ``power``.

        ``removed`` are the errors the batches measured with it are
        predicted to remove. Infinite if no audit of at most a quarter of
        the inference set would.
        """
        n = errors.size
        if n < 4:  # no audit of at least one unit within a quarter
            return math.inf
        total = errors.sum()
        outcomes = n * unit_size
        p = min(max(total / outcomes, 1e-9), 0.5)
        delta = self._delta_of(self.n_audits_ + 1)
        z_power = norm.ppf(self.power)

        def certifies(m):
            # The audit's own errors, measured, are left out of the plan: an
            # audit certifies by its precision, not as a (poor) batch.
            margin = planned_margin(p, outcomes, m * unit_size, delta)
            spread = outcomes * z_power * math.sqrt(p * (1 - p) / (m * unit_size))
            return total + margin + spread - removed <= allowed

        lo, hi = 1, n // 4
        if not certifies(hi):
            return math.inf
        while hi - lo > 1:  # certifies(hi), and lo does not or is 1
            mid = (lo + hi) // 2
            if certifies(mid):
                hi = mid
            else:
                lo = mid
        return hi

    # ------------------------------------------------------------------
    # Update: calibration, certificate, hold
    # ------------------------------------------------------------------
    def update(self, evidence=None, **kwargs):
        evidence = as_evidence(evidence, kwargs)
        n_library = evidence.n_library
        self._learn(evidence)
        wrong, chosen_wrong = _wrong_counts(evidence)
        self.batch_lower_bound_ = np.nan
        audit = evidence.audit_unit_errors
        if self._certificate is not None and evidence.held:
            self._certificate[1] += wrong  # the held model's errors, now measured
            self._held_rounds += 1
        elif audit is not None and audit.size and evidence.n_inference:
            self._certify(evidence, audit, wrong)
        else:
            self._certificate = None
        stop = False
        if self._certificate is not None:
            upper, removed = self._certificate
            left = max(upper - removed, 0.0)
            self.system_lower_bound_ = 1.0 - left / n_library
            stop = self.system_lower_bound_ > self.target
            gap = left - n_library * (1 - self.target)
            # The held model's next batch is predicted to remove a little
            # fewer errors than its last one; release it only if far more
            # held batches than planned would be needed, where a later,
            # better-timed audit is cheaper.
            per_batch = 0.8 * chosen_wrong
            patience = self.patience * max(self.max_hold, 1) - self._held_rounds
            if not stop and gap > per_batch * patience:
                self._certificate = None  # released: a later audit will try again
        if self._certificate is None:
            self.system_lower_bound_ = evidence.n_observed / n_library
        self.holds_model_ = self._certificate is not None
        self.stop_ = bool(stop)
        return self.stop_

    def _learn(self, evidence):
        """Add the round's pre-reveal outcomes to the calibration bins.

        Older outcomes weigh ``forget`` times less each round: the screen
        keeps removing the hard items, so the error rate at a given
        confidence drifts down.
        """
        self._bins *= self.forget
        correct, confidence = evidence.batch_correct, evidence.batch_confidence
        if correct is None:
            return
        wrong = ~np.asarray(correct, dtype=bool)
        self._last_batch_errors = float(np.mean(wrong)) if wrong.size else np.nan
        if confidence is None:
            return
        r = 1.0 - np.asarray(confidence, dtype=float)
        known = np.isfinite(r)
        if not known.any():
            return
        k = _bin_of(r[known])
        n_bins = _EDGES.size - 1
        self._bins += np.stack(
            [
                np.bincount(k, minlength=n_bins),
                np.bincount(k, wrong[known], minlength=n_bins),
                np.bincount(k, r[known], minlength=n_bins),
            ]
        )

    def _certify(self, evidence, audit, wrong):
        """The certificate of an audit round (its batch's errors removed)."""
        self.n_audits_ += 1
        delta = self._delta_of(self.n_audits_)
        n, size = int(evidence.n_inference), int(evidence.unit_size)
        if size == 1:
            upper = hypergeometric_upper_bound(int(audit.sum()), audit.size, n, delta)
        else:
            upper = betting_upper_bound(audit / size, n, delta) * size
        self.batch_lower_bound_ = 1.0 - upper / (n * size)
        self._certificate = [float(upper), float(wrong)]
        self._held_rounds = 0


def _wrong_counts(evidence):
    """Wrong outcomes of the round's batch: all, and those the acquisition chose."""
    if evidence.batch_correct is None:
        return 0, 0
    wrong = int(np.sum(~np.asarray(evidence.batch_correct, dtype=bool)))
    audited = (
        0
        if evidence.audit_correct is None
        else int(np.sum(~np.asarray(evidence.audit_correct, dtype=bool)))
    )
    return wrong, wrong - audited


def _overconfidence(n, wrong, sum_r, mean_r, min_outcomes=20):
    """Per bin, observed over predicted errors, from a power law in r.

    Fitted (log ratio against log r, weighted by outcomes) on the bins with
    at least ``min_outcomes`` outcomes and one wrong; 1 where no such fit
    exists. The ratio is never below 1 where no outcome was seen.
    """
    ok = (n >= min_outcomes) & (wrong > 0) & (sum_r > 0)
    if ok.sum() < 2:
        return np.ones_like(mean_r)
    x, ratio = np.log(mean_r[ok]), np.log(wrong[ok] / sum_r[ok])
    slope, intercept = np.polyfit(x, ratio, 1, w=np.sqrt(n[ok]))
    fitted = np.exp(intercept + slope * np.log(mean_r))
    return np.where(n >= min_outcomes, fitted, np.maximum(fitted, 1.0))


def _mid_bins():
    return 0.5 * (_EDGES[:-1] + _EDGES[1:])


def _bin_of(r):
    return np.clip(np.searchsorted(_EDGES, r, side="right") - 1, 0, _EDGES.size - 2)
