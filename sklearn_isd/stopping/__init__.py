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

from ._audit import betting_upper_bound, hypergeometric_upper_bound
from ._bounds import bernoulli_kl, clopper_pearson_lower_bound, kl_lower_bound
from ._evidence import Evidence, replay_stopping, round_evidence
from ._ppi import PredictionPoweredBound
from ._rules import (
    AnytimeKLBound,
    AuditBound,
    AuditPlan,
    Budget,
    InferenceSet,
    KLBound,
    PooledKLBound,
    StoppingCriterion,
)

__all__ = [
    "AnytimeKLBound",
    "AuditBound",
    "AuditPlan",
    "Budget",
    "Evidence",
    "InferenceSet",
    "KLBound",
    "PooledKLBound",
    "PredictionPoweredBound",
    "StoppingCriterion",
    "bernoulli_kl",
    "betting_upper_bound",
    "clopper_pearson_lower_bound",
    "hypergeometric_upper_bound",
    "kl_lower_bound",
    "replay_stopping",
    "round_evidence",
]
