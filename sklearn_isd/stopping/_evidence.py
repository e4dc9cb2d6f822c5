"""The evidence a stopping rule receives each round, and replays of it."""

from dataclasses import dataclass

import numpy as np
from sklearn.base import clone

__all__ = ["Evidence", "replay_stopping", "round_evidence"]


#: The keyword arguments of ``update`` before rules took an Evidence object.
LEGACY_FIELDS = ("batch_correct", "audit_correct", "n_observed", "n_library")


@dataclass(frozen=True, eq=False)
class Evidence:
    """What a stopping rule learns from one round of a screen.

    A screen builds one per round, after the labels of the round's batch were
    told, and passes it to :meth:`StoppingCriterion.update
    <sklearn_isd.stopping.StoppingCriterion.update>`. A fitted screen keeps
    them in ``evidence_``, which is what :func:`replay_stopping` feeds to
    other rules, so a rule that reads only these fields can be replayed on
    any recorded screen.

    In a matrix screen (2-d labels) each labelled cell is one outcome, and
    ``n_observed`` and ``n_library`` count cells (or, for the rule of one
    output, that output's cells). A *unit* is what is acquired at once: an
    item, or a group of items (``groups``).

    Attributes
    ----------
    batch_correct : ndarray of bool of shape (n_outcomes,) or None
        Whether each prediction the model made on the round's batch *before*
        its labels were revealed was correct; None for a round without a
        model (the initial batch) or without a notion of correctness.
    audit_correct : ndarray of bool of shape (n_audit,) or None
        The part of ``batch_correct`` on the batch's audit items (drawn
        uniformly from the inference set for a rule that asks for them).
    n_observed : int
        Labels measured so far, this batch included.
    n_library : int
        Size of the library (items, or cells of a matrix screen).
    n_inference : int or None, default=None
        Units in the inference set the batch (and its audit) was drawn from.
    unit_size : int, default=1
        Most outcomes one unit holds (1 for items of a 1-d screen; the
        number of outputs for the cells of a matrix screen pooled; the
        largest group's outcomes for groups).
    predicted_errors : float, default=nan
        The model's own expectation of its wrong predictions on that
        inference set: the sum over its outcomes of one minus the
        probability of the predicted class (NaN without probabilities).
    batch_confidence : ndarray of float of shape (n_outcomes,) or None
        The probability the model gave each prediction of ``batch_correct``
        (NaN where it has none).
    audit_unit_errors : ndarray of int of shape (n_audit_units,) or None
        Wrong outcomes of each audit unit (what an audit of units counts).
    held : bool, default=False
        Whether the batch was predicted by a model the screen held, not
        refit, after the previous round (see
        :class:`PredictionPoweredBound`).
    """

    batch_correct: np.ndarray | None
    audit_correct: np.ndarray | None
    n_observed: int
    n_library: int
    n_inference: int | None = None
    unit_size: int = 1
    predicted_errors: float = float("nan")
    batch_confidence: np.ndarray | None = None
    audit_unit_errors: np.ndarray | None = None
    held: bool = False

    @classmethod
    def from_round(cls, correct, audit, n_observed, n_library, **context):
        """The evidence of a round from the correctness of its told items.

        Parameters
        ----------
        correct : ndarray of float of shape (n_told,) or (n_told, n_outputs)
            1.0 or 0.0 for a correct or wrong pre-reveal prediction, NaN
            where there is no evidence (no model yet, or a cell without a
            label); cells are pooled. None for no evidence at all.
        audit : ndarray of bool of shape (n_told,)
            The audit items among the told items.
        n_observed, n_library : int
            Labels measured so far, and the size of the library.
        **context
            ``n_inference``, ``unit_size``, ``predicted_errors``, ``held``,
            ``confidence`` (like ``correct``) and ``units`` (the unit of each
            told item, for audits of groups).

        Returns
        -------
        evidence : Evidence
        """
        confidence = context.pop("confidence", None)
        units = context.pop("units", None)
        if correct is None or correct.size == 0 or np.isnan(correct).all():
            return cls(None, None, int(n_observed), int(n_library), **context)
        known = ~np.isnan(correct)
        batch_correct = correct[known] == 1
        audit_known = known[audit]
        audit_correct = correct[audit][audit_known] == 1
        wrong = np.where(known, correct == 0, False)
        item_errors = wrong.reshape(wrong.shape[0], -1).sum(axis=1)[audit]
        if units is not None:
            unit_errors = np.bincount(
                np.unique(units[audit], return_inverse=True)[1], weights=item_errors
            ).astype(np.int64)
        else:
            unit_errors = item_errors.astype(np.int64)
        if confidence is not None:
            confidence = np.broadcast_to(confidence, correct.shape)[known]
        return cls(
            batch_correct,
            audit_correct,
            int(n_observed),
            int(n_library),
            batch_confidence=confidence,
            audit_unit_errors=unit_errors,
            **context,
        )

    def legacy_kwargs(self):
        """The keyword arguments ``update`` took before Evidence existed."""
        return {name: getattr(self, name) for name in LEGACY_FIELDS}


def as_evidence(evidence, kwargs):
    """``update``'s argument: an Evidence, or the legacy keyword arguments."""
    if evidence is not None:
        if kwargs:
            raise TypeError("Pass an Evidence object or keyword arguments, not both.")
        return evidence
    missing = {"batch_correct", "n_observed", "n_library"} - set(kwargs)
    if missing:
        raise TypeError(f"update() needs an Evidence object (missing {missing}).")
    return Evidence(
        kwargs.get("batch_correct"),
        kwargs.get("audit_correct"),
        int(kwargs["n_observed"]),
        int(kwargs["n_library"]),
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
        Per round, in order: ``batch_correct``, ``audit_correct`` (None for a
        round without a model), ``n_observed`` and ``n_library``, the
        keyword arguments ``update`` takes (all fields: ``screen.evidence_``).
    """
    for evidence in screen.evidence_:
        yield evidence.legacy_kwargs()


def replay_stopping(criterion, screen):
    """Round at which a stopping rule would have stopped a recorded screen.

    Replays the evidence of every round of a fitted screen (typically run
    with ``stopping=None`` to the end) through a fresh copy of
    ``criterion``, in order. This is how rules are compared on the same
    screens in the coverage study: one screen, several stopping times. The
    audit evidence of :class:`AuditBound` and
    :class:`PredictionPoweredBound` exists only in screens run with an audit
    rule, whose batches held audit items; a screen recorded without audits
    gives them nothing to certify with.

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
    from ._monitor import update_rule

    rule = clone(criterion).reset()
    for t, evidence in enumerate(screen.evidence_):
        if update_rule(rule, evidence):
            return t
    return None
