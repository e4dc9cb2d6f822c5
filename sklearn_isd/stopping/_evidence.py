"""The evidence a stopping rule receives each round, and replays of it."""

from dataclasses import dataclass

import numpy as np
from sklearn.base import clone

__all__ = ["Evidence", "replay_stopping", "round_evidence"]


@dataclass(frozen=True, eq=False)
class Evidence:
    """What a stopping rule learns from one round of a screen.

    A screen builds one per round, after the labels of the round's batch were
    told, and passes its fields to :meth:`StoppingCriterion.update
    <sklearn_isd.stopping.StoppingCriterion.update>` as keyword arguments
    (``rule.update(**vars(evidence))``). A fitted screen keeps them in
    ``evidence_``, which is what :func:`replay_stopping` feeds to other rules.

    In a matrix screen (2-d labels) each labelled cell is one outcome, and
    ``n_observed`` and ``n_library`` count cells (or, for the rule of one
    output, that output's cells).

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
    """

    batch_correct: np.ndarray | None
    audit_correct: np.ndarray | None
    n_observed: int
    n_library: int

    @classmethod
    def from_round(cls, correct, audit, n_observed, n_library):
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

        Returns
        -------
        evidence : Evidence
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
        return cls(batch_correct, audit_correct, int(n_observed), int(n_library))


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
        (None for a round without a model), ``n_observed`` and ``n_library``
        (the fields of :class:`Evidence`).
    """
    for evidence in screen.evidence_:
        yield dict(vars(evidence))


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
    rule = clone(criterion).reset()
    for t, evidence in enumerate(screen.evidence_):
        if rule.update(**vars(evidence)):
            return t
    return None
