"""The rule a screen runs: resolved once from its parameters, fed each round.

:func:`make_rule` turns a screen's ``stopping``, ``target`` and ``delta``
(and, for a matrix screen, its number of outputs) into the object that takes
the evidence of every round; :func:`feed_rule` gives it one round. A matrix
screen with one target per output runs a :class:`PerOutputRule`.
"""

import inspect

import numpy as np
from sklearn.base import clone

from ._ppi import PredictionPoweredBound
from ._rules import AuditPlan, KLBound

__all__ = ["PerOutputRule", "feed_rule", "make_rule", "plan_audit", "update_rule"]


def update_rule(rule, evidence):
    """``rule.update`` with the evidence of a round; True if it says stop.

    Rules written for the keyword arguments ``update`` took before
    :class:`Evidence` existed (``batch_correct``, ``audit_correct``,
    ``n_observed``, ``n_library``) get those.
    """
    parameters = inspect.signature(rule.update).parameters
    if "evidence" in parameters:
        return rule.update(evidence)
    return rule.update(**evidence.legacy_kwargs())


def plan_audit(rule, inference):
    """The audit a rule asks for in the next batch (:class:`AuditPlan`).

    Rules with only ``audit_size(batch_size)`` draw that many audit items
    within the batch.
    """
    if rule is None:
        return AuditPlan(0)
    plan = getattr(rule, "plan", None)
    if plan is not None:
        return plan(inference)
    return AuditPlan(rule.audit_size(inference.batch_size))


class PerOutputRule:
    """One stopping criterion per output of a matrix screen.

    The screen stops once every output's criterion stops; the reported
    bounds are the lowest over outputs.

    Parameters
    ----------
    criteria : list of StoppingCriterion
        One criterion per output, each with its own target.

    Attributes
    ----------
    criteria_ : list of StoppingCriterion
        The criteria, with their state.
    batch_lower_bound_, system_lower_bound_ : float
        The lowest bounds over outputs after the last round.
    """

    termination_condition = "target_reached"

    def __init__(self, criteria):
        self.criteria_ = criteria
        self.batch_lower_bound_ = np.nan
        self.system_lower_bound_ = np.nan

    def reset(self):
        for criterion in self.criteria_:
            criterion.reset()
        self.batch_lower_bound_ = self.system_lower_bound_ = np.nan
        return self

    def audit_size(self, batch_size):
        return max(c.audit_size(batch_size) for c in self.criteria_)

    def plan(self, inference):
        """The largest audit any output's rule asks for (see ``plan_audit``)."""
        plans = [
            plan_audit(c, inference.output(j)) for j, c in enumerate(self.criteria_)
        ]
        drawn = [p for p in plans if p.n_audit] or plans
        return AuditPlan(
            max(p.n_audit for p in plans), all(p.within_batch for p in drawn)
        )

    @property
    def stop_(self):
        """Whether every output's rule says stop."""
        return all(getattr(c, "stop_", False) for c in self.criteria_)

    @property
    def holds_model_(self):
        """Whether some output's rule holds the model (its predictions stay)."""
        return any(getattr(c, "holds_model_", False) for c in self.criteria_)

    @property
    def lower_bounds_(self):
        """The system lower bound of each output."""
        return np.array([c.system_lower_bound_ for c in self.criteria_], float)

    def update_outputs(self, record, n_items):
        """Feed each output's criterion its column of the round's evidence."""
        stops = [
            update_rule(criterion, record.evidence(n_items, output=j))
            for j, criterion in enumerate(self.criteria_)
        ]
        self.batch_lower_bound_ = float(
            np.min([c.batch_lower_bound_ for c in self.criteria_])
        )
        self.system_lower_bound_ = float(np.min(self.lower_bounds_))
        return all(stops)


#: Stopping rules by name: ``stopping="kl"`` is KLBound(target, delta).
_NAMED = {"kl": KLBound, "ppi": PredictionPoweredBound}


def _output_criterion(stopping, target, delta, n_outputs):
    """The stopping rule of one output: ``target``, delta split over outputs."""
    if stopping is None:
        return KLBound(target=float(target), delta=delta / n_outputs)
    if isinstance(stopping, str):
        return _NAMED[stopping](target=float(target), delta=delta / n_outputs)
    criterion = clone(stopping)
    params = criterion.get_params()
    if "target" not in params or "delta" not in params:
        raise ValueError(
            "A target per output needs a stopping rule with target and delta "
            f"parameters; {type(criterion).__name__} has none. Pass a float "
            "target, or stopping='kl'."
        )
    return criterion.set_params(target=float(target), delta=params["delta"] / n_outputs)


def _check_rule(stopping, has_correctness):
    """Raise if ``stopping`` cannot run; the single rule for a float target."""
    if isinstance(stopping, str) and not has_correctness:
        raise ValueError(
            f"stopping={stopping!r} needs a notion of a correct prediction, which a "
            "regressor only has with a tolerance: pass tolerance=... (a "
            "prediction within it of the measured value counts as "
            "correct), or stopping=None to measure up to max_fraction."
        )
    if stopping is None or stopping in _NAMED:
        return None
    return clone(stopping)


def make_rule(stopping, target, delta, *, n_outputs, has_correctness):
    """The rule a screen runs, and whether it decides when to stop.

    Parameters
    ----------
    stopping : {"kl"}, StoppingCriterion or None
        The screen's ``stopping`` parameter. None measures to the budget; the
        screen still reports the bounds of ``KLBound(target, delta)`` when it
        has a notion of a correct prediction.
    target : float or ndarray of shape (n_outputs,)
        The screen's ``target``; an array gives each output its own rule,
        at ``delta / n_outputs`` (a union bound).
    delta : float
        The screen's ``delta``.
    n_outputs : int or None
        Outputs of the labels, None while no label was seen (then a
        per-output rule is only checked, not built).
    has_correctness : bool
        Whether a prediction can be correct (classifiers, or regressors with
        a tolerance).

    Returns
    -------
    rule : StoppingCriterion, PerOutputRule or None
        The rule, reset; None when there is nothing to run (yet).
    decides : bool
        False when the rule only reports bounds (``stopping=None``).
    """
    decides = stopping is not None
    single = _check_rule(stopping, has_correctness)
    targets = np.asarray(target, dtype=float)
    if targets.ndim == 0:
        if isinstance(stopping, str):
            single = _NAMED[stopping](target=target, delta=delta)
        elif stopping is None and has_correctness:
            single = KLBound(target=target, delta=delta)
        return (None if single is None else single.reset()), decides
    if n_outputs is None:
        return None, decides
    if targets.size != n_outputs:
        raise ValueError(
            f"target holds {targets.size} values, one per output, but "
            f"the labels have {n_outputs} output(s). Pass a float, or one target "
            "per column of a 2-d y."
        )
    if stopping is None and not has_correctness:
        return None, decides
    criteria = [_output_criterion(stopping, t, delta, n_outputs) for t in targets]
    if n_outputs == 1:  # 1-d labels: the one rule, with the one target
        return criteria[0].reset(), decides
    return PerOutputRule(criteria).reset(), decides


def feed_rule(rule, record, n_items):
    """Give ``rule`` the evidence of one round; True if it says stop.

    Parameters
    ----------
    rule : StoppingCriterion or PerOutputRule
        The rule of the screen, updated in place.
    record : RoundRecord
        What the round told (:class:`sklearn_isd._state.RoundRecord`); its
        ``evidence(n_items, output=None)`` pools the cells of a matrix screen.
    n_items : int
        Items in the library.
    """
    if isinstance(rule, PerOutputRule):
        return rule.update_outputs(record, n_items)
    return update_rule(rule, record.evidence(n_items))
