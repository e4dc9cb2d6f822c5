"""The state of a screening campaign, in one object (private).

A :class:`CampaignSetup` is what a campaign derives from the screen's
parameters and library once, at its start; a :class:`CampaignState` is what
the campaign has measured and decided since. A state is never changed in
place: every operation (:meth:`~CampaignState.propose`,
:meth:`~CampaignState.cancel`, :meth:`~CampaignState.commit`) returns a new
state and leaves the old one as it was, so a screen rolls back a failed step
by keeping the state it had, and a saved campaign is the state written out.
"""

import copy
from dataclasses import dataclass
from numbers import Integral
from typing import NamedTuple

import numpy as np
from sklearn.base import is_classifier
from sklearn.utils import check_random_state

from ._labels import _nan_cells
from ._pool import AGGREGATES
from .acquisition import get_acquisition
from .stopping import Evidence
from .stopping._monitor import feed_rule, make_rule

__all__ = [
    "CampaignSetup",
    "CampaignState",
    "RoundRecord",
    "history_keys",
    "resolve_setup",
]


@dataclass(frozen=True, eq=False)
class CampaignSetup:
    """What a campaign derives from the screen's parameters, once.

    Units of acquisition are items, or groups of items acquired together;
    ``batch``, ``initial_batch`` and ``budget`` count units.
    """

    n_items: int
    group_codes: np.ndarray | None
    batch: int
    initial_batch: int
    budget: int
    aggregate: object
    targets: np.ndarray
    is_classifier: bool
    tolerance: float | None
    acquisition: object
    seed: int
    y_true: np.ndarray | None
    decides: bool

    @property
    def has_correctness(self):
        """Whether a prediction can be correct (classifier, or a tolerance)."""
        return self.is_classifier or self.tolerance is not None

    @property
    def per_output_targets(self):
        return self.targets.ndim == 1

    def round_rng(self, round_):
        """The random generator of one round, drawn from the campaign's seed."""
        return np.random.default_rng([self.seed, round_])


def _n_units(size, n, name, unit):
    """A batch size in units: an int, or a fraction of ``n`` rounded up."""
    if isinstance(size, Integral):
        if size > n:
            raise ValueError(
                f"{name}={size} is larger than the library ({n} {unit}); pass "
                f"an int in [1, {n}] or a fraction in (0, 1]."
            )
        return int(size)
    return max(1, int(np.ceil(size * n - 1e-9)))


def _check_targets(target):
    targets = np.asarray(target, dtype=float)
    if targets.ndim > 1 or targets.size == 0:
        raise ValueError(
            "target must be a float, or a 1-d array of one target per output "
            f"of a matrix screen; got shape {targets.shape}."
        )
    if targets.ndim == 1 and not (np.all(targets > 0) and np.all(targets < 1)):
        raise ValueError(f"Every target must be in (0, 1); got {targets.tolist()}.")
    return targets


def resolve_setup(params, n, y, group_codes, seed):
    """Derive from a screen's parameters what a campaign on ``n`` items needs.

    ``params`` are the screen's parameters (``get_params(deep=False)``),
    validated; ``y`` the library's labels in a simulation, else None;
    ``seed`` is None for a new campaign (drawn from ``random_state``).
    Raises ``ValueError`` for parameters that cannot run together.
    """
    classifier = is_classifier(params["estimator"])
    if params["tolerance"] is not None and classifier:
        raise ValueError(
            "tolerance applies to regressors only: a classifier's prediction "
            "is correct when it equals the label. Leave tolerance=None."
        )
    # Units of acquisition: items, or groups of items acquired together.
    n_units = n if group_codes is None else int(group_codes.max()) + 1
    unit = "groups" if group_codes is not None else "items"
    batch = _n_units(params["batch_size"], n_units, "batch_size", unit)
    initial = params["initial_batch_size"]
    targets = _check_targets(params["target"])
    acquisition = get_acquisition(params["acquisition"], params["estimator"])
    has_correctness = classifier or params["tolerance"] is not None
    make_rule(
        params["stopping"],
        params["target"],
        params["delta"],
        n_outputs=None,
        has_correctness=has_correctness,
    )  # raises here, before any label is spent, if the rule cannot run
    if seed is None:
        seed = int(check_random_state(params["random_state"]).randint(2**31 - 1))
    return CampaignSetup(
        n_items=n,
        group_codes=group_codes,
        batch=batch,
        initial_batch=(
            batch
            if initial is None
            else _n_units(initial, n_units, "initial_batch_size", unit)
        ),
        budget=max(1, int(np.floor(params["max_fraction"] * n_units + 1e-9))),
        aggregate=AGGREGATES.get(params["aggregate"], params["aggregate"]),
        targets=targets,
        is_classifier=classifier,
        tolerance=params["tolerance"],
        acquisition=acquisition,
        seed=seed,
        y_true=y,
        decides=params["stopping"] is not None,
    )


def history_keys(setup, output_names):
    """The columns of ``history_`` (see :class:`~sklearn_isd.HybridScreenCV`).

    ``output_names`` is None for 1-d labels, or the names of the outputs of
    a matrix screen.
    """
    keys = [
        "n_observed",
        "fraction_observed",
        "n_batch",
        "batch_score",
        "predicted_errors",
        "batch_lower_bound",
        "system_lower_bound",
        "fit_time",
        "score_time",
    ]
    truth = setup.y_true is not None
    if not setup.is_classifier:
        keys += ["batch_mse", "batch_mae"]
    if truth:
        keys += ["system_score", "inference_score"]
        if not setup.is_classifier:
            keys += ["system_mse", "inference_mse", "system_mae", "inference_mae"]
    if output_names is not None:
        keys.append("n_observed_cells")
        if setup.per_output_targets and setup.has_correctness:
            keys += [f"system_lower_bound_{name}" for name in output_names]
        if truth:
            keys += [f"system_score_{name}" for name in output_names]
    return keys


class RoundRecord(NamedTuple):
    """What one round told a stopping rule, derived from the state's arrays."""

    correct: np.ndarray  # pre-reveal correctness of the told items (per cell)
    audit: np.ndarray  # the audit items among them
    n_labelled: object  # labels measured so far (per output of a matrix)
    confidence: np.ndarray  # the model's probability of each prediction
    units: np.ndarray | None  # the group of each told item (groups only)
    n_inference: int  # units in the inference set the batch came from
    unit_size: int  # most items of one such unit
    predicted: np.ndarray  # predicted wrong predictions there, per output
    held: bool  # predicted by a model held since the previous round

    def evidence(self, n_items, output=None):
        """The :class:`~sklearn_isd.stopping.Evidence` of the round.

        Cells of a matrix screen are pooled, or, with ``output``, the column
        of that output is taken.
        """
        correct, confidence = self.correct, self.confidence
        n_outputs = 1 if correct.ndim == 1 else correct.shape[1]
        context = {
            "n_inference": self.n_inference,
            "held": self.held,
            "units": self.units,
        }
        if output is None:
            return Evidence.from_round(
                correct,
                self.audit,
                np.sum(self.n_labelled),
                n_items * n_outputs,
                unit_size=self.unit_size * n_outputs,
                predicted_errors=float(np.sum(self.predicted)),
                confidence=confidence,
                **context,
            )
        return Evidence.from_round(
            correct[:, output],
            self.audit,
            np.ravel(self.n_labelled)[output],
            n_items,
            unit_size=self.unit_size,
            predicted_errors=float(np.ravel(self.predicted)[output]),
            confidence=confidence[:, output],
            **context,
        )


def _empty_history(keys):
    return {
        key: np.empty(0, dtype=np.intp if key.startswith("n_") else float)
        for key in keys
    }


class CampaignState:
    """What a campaign has measured and decided (never changed in place).

    Attributes
    ----------
    acquired_iter : ndarray of int of shape (n_items,)
        Round of each item's measurement, -1 if never.
    observed_mask : ndarray of bool of shape (n_items,)
        ``acquired_iter >= 0``.
    prereveal_correct : ndarray of float of shape (n_items,) or \
            (n_items, n_outputs)
        1/0 for a correct/wrong prediction made before the reveal, else NaN.
    prereveal_confidence : ndarray of float, shaped as prereveal_correct
        The probability the model gave that prediction (NaN if none).
    audit_mask : ndarray of bool of shape (n_items,)
        Items acquired as audit items.
    observed_indices, observed_labels : ndarray
        The measured items and their labels, in the order they were told
        (``observed_labels`` is None before the first label).
    n_iter : int
        Batches told (the initial one included).
    termination_condition : str or None
        Why the campaign stopped; None while it goes on.
    pending, pending_audit : ndarray
        The batch proposed and not yet told (None when there is none), and
        its audit items.
    history : dict of ndarray
        The rounds, as in ``history_``.
    held : ndarray of bool of shape (n_iter,)
        Per round: the model was held (not refit) after its tell, because the
        stopping rule certifies that model's predictions.

    round_predicted : ndarray of float of shape (n_iter, n_outputs)
        Per round (and output): the model's predicted number of wrong
        predictions on the inference set the round's batch was drawn from
        (NaN without a model or probabilities).
    rule : object or None
        The stopping rule with its state (see
        :func:`~sklearn_isd.stopping._monitor.make_rule`).
    output_names : ndarray of str or None
        Names of the outputs once labels were seen; None before.
    """

    __slots__ = (
        "acquired_iter",
        "observed_mask",
        "prereveal_correct",
        "prereveal_confidence",
        "audit_mask",
        "observed_indices",
        "observed_labels",
        "n_iter",
        "termination_condition",
        "pending",
        "pending_audit",
        "history",
        "held",
        "round_predicted",
        "rule",
        "output_names",
    )

    def __init__(self, **fields):
        for name in self.__slots__:
            setattr(self, name, fields[name])

    @classmethod
    def new(cls, setup, rule):
        """The state of a campaign that has measured nothing."""
        n = setup.n_items
        return cls(
            acquired_iter=np.full(n, -1, dtype=np.intp),
            observed_mask=np.zeros(n, dtype=bool),
            prereveal_correct=np.full(n, np.nan),
            prereveal_confidence=np.full(n, np.nan),
            audit_mask=np.zeros(n, dtype=bool),
            observed_indices=np.empty(0, dtype=np.intp),
            observed_labels=None,
            n_iter=0,
            termination_condition=None,
            pending=None,
            pending_audit=np.empty(0, dtype=np.intp),
            history=_empty_history(history_keys(setup, None)),
            held=np.zeros(0, dtype=bool),
            round_predicted=np.empty((0, 1)),
            rule=rule,
            output_names=None,
        )

    def replace(self, **changes):
        """A copy with some fields replaced (arrays are shared, not copied)."""
        new = copy.copy(self)
        for name, value in changes.items():
            setattr(new, name, value)
        return new

    # ------------------------------------------------------------------
    # What the campaign knows, derived
    # ------------------------------------------------------------------
    @property
    def stop(self):
        return self.termination_condition is not None

    @property
    def n_outputs(self):
        """Columns of a matrix campaign; None for 1-d labels or before any."""
        names = self.output_names
        return None if names is None or names.size == 1 else names.size

    def n_units_observed(self, setup):
        """Measured units: items, or groups with a measured item."""
        if setup.group_codes is None:
            return self.observed_indices.size
        return np.unique(setup.group_codes[self.observed_indices]).size

    def labelled_cells(self):
        """Per item, 1 if labelled; per item and output for a matrix campaign."""
        if not self.n_outputs:
            return self.observed_mask.astype(np.int64)
        cells = np.zeros((self.acquired_iter.size, self.n_outputs), dtype=np.int64)
        if self.observed_labels is not None:
            cells[self.observed_indices] = ~_nan_cells(self.observed_labels)
        return cells

    def n_labelled(self):
        """Labels measured so far: items, or cells per output (matrix)."""
        if not self.n_outputs:
            return self.observed_indices.size
        if self.observed_labels is None:
            return np.zeros(self.n_outputs, dtype=np.int64)
        return (~_nan_cells(self.observed_labels)).sum(axis=0)

    def round_records(self, setup):
        """The :class:`RoundRecord` of every round, in order."""
        acquired = self.acquired_iter
        labelled = self.labelled_cells()
        order = np.argsort(acquired, kind="stable")
        order = order[acquired[order] >= 0]
        bounds = np.searchsorted(acquired[order], np.arange(self.n_iter + 1))
        codes = setup.group_codes
        sizes = None if codes is None else np.bincount(codes)
        seen = np.zeros(0 if sizes is None else sizes.size, dtype=bool)
        n_labelled = np.zeros(labelled.shape[1:], dtype=np.int64)
        n_inference, unit_size = acquired.size, 1
        for t in range(self.n_iter):
            in_round = order[bounds[t] : bounds[t + 1]]
            if sizes is not None:  # units: the groups without a measured item
                n_inference = int((~seen).sum())
                unit_size = int(sizes[~seen].max()) if n_inference else 1
                seen[codes[in_round]] = True
            n_labelled = n_labelled + labelled[in_round].sum(axis=0)
            yield RoundRecord(
                correct=self.prereveal_correct[in_round],
                audit=self.audit_mask[in_round],
                n_labelled=n_labelled,
                confidence=self.prereveal_confidence[in_round],
                units=None if codes is None else codes[in_round],
                n_inference=n_inference,
                unit_size=unit_size,
                predicted=self.round_predicted[t],
                held=bool(t > 0 and self.held[t - 1]),
            )
            if sizes is None:
                n_inference -= in_round.size

    def evidence(self, setup):
        """The pooled :class:`~sklearn_isd.stopping.Evidence` of every round."""
        n_items = self.acquired_iter.size
        return [record.evidence(n_items) for record in self.round_records(setup)]

    # ------------------------------------------------------------------
    # Operations: each returns a new state
    # ------------------------------------------------------------------
    def with_outputs(self, setup, n_outputs, names, rule):
        """Fix the shape of the labels when the first labels are seen.

        ``n_outputs`` is None for 1-d labels; ``rule`` is the stopping rule
        built for that shape. The history is empty at this point.
        """
        width = 1 if n_outputs is None else int(n_outputs)
        if names is None:
            names = [str(j) for j in range(width)]
        names = np.asarray(names, dtype=str)
        changes = {
            "output_names": names,
            "rule": rule,
            "round_predicted": np.empty((0, width)),
        }
        if width > 1 and self.prereveal_correct.ndim == 1:
            cells = (self.acquired_iter.size, width)
            changes["prereveal_correct"] = np.full(cells, np.nan)
            changes["prereveal_confidence"] = np.full(cells, np.nan)
        keys = history_keys(setup, names if width > 1 else None)
        if list(self.history) != keys:
            changes["history"] = _empty_history(keys)
        return self.replace(**changes)

    def with_rule_replayed(self, setup):
        """The state whose rule has been given the evidence of every round."""
        if self.rule is None:
            return self
        rule = copy.deepcopy(self.rule)
        for record in self.round_records(setup):
            feed_rule(rule, record, setup.n_items)
        return self.replace(rule=rule)

    def propose(self, batch, audit):
        """The state with ``batch`` (and its ``audit`` items) pending."""
        return self.replace(pending=batch, pending_audit=audit)

    def cancel(self, indices=None):
        """Release pending items (all of them for None)."""
        if self.pending is None:
            return self
        if indices is None:
            return self.replace(pending=None, pending_audit=np.empty(0, np.intp))
        remaining = self.pending[~np.isin(self.pending, indices)]
        return self.replace(
            pending=remaining if remaining.size else None,
            pending_audit=np.setdiff1d(self.pending_audit, indices),
        )

    def commit(self, setup, indices, labels, prereveal):
        """Record a told batch: labels, rounds, audit flags, the rule's update.

        ``prereveal`` is what the model knew before the reveal: a
        :class:`~sklearn_isd._pool.Prereveal` (correctness and confidence of
        the told items, predicted errors of the inference set). Returns the
        new state and the stopping rule's bounds for the history row.
        """
        round_ = self.n_iter
        correct_all, confidence_all = self.prereveal_correct, self.prereveal_confidence
        if prereveal.correct is not None:
            correct_all = correct_all.copy()
            correct_all[indices] = prereveal.correct
        if prereveal.confidence is not None:
            confidence_all = confidence_all.copy()
            confidence_all[indices] = prereveal.confidence
        audit_mask = self.audit_mask.copy()
        audit_mask[indices[np.isin(indices, self.pending_audit)]] = True
        observed_mask = self.observed_mask.copy()
        observed_mask[indices] = True
        acquired_iter = self.acquired_iter.copy()
        acquired_iter[indices] = round_
        predicted = np.broadcast_to(prereveal.predicted, self.round_predicted.shape[1:])
        state = self.replace(
            rule=copy.deepcopy(self.rule),  # the rule learns on a copy
            prereveal_correct=correct_all,
            prereveal_confidence=confidence_all,
            audit_mask=audit_mask,
            observed_mask=observed_mask,
            acquired_iter=acquired_iter,
            pending_audit=np.setdiff1d(self.pending_audit, indices),
            observed_indices=np.concatenate([self.observed_indices, indices]),
            observed_labels=(
                labels
                if self.observed_labels is None
                else np.concatenate([self.observed_labels, labels])
            ),
            n_iter=round_ + 1,
            round_predicted=np.vstack([self.round_predicted, predicted]),
        ).cancel(indices)
        stops, bounds = state._update_rule(setup, indices)
        held = bool(getattr(state.rule, "holds_model_", False))
        state = state.replace(held=np.append(self.held, held))
        return state.with_termination(setup, stops), bounds

    def _update_rule(self, setup, indices):
        """Feed the rule (this state's own copy) the last round; decision, bounds."""
        rule = self.rule
        if rule is None:
            return False, {}
        stops = feed_rule(rule, self._round_record(setup, indices), setup.n_items)
        bounds = {
            "batch_lower_bound": rule.batch_lower_bound_,
            "system_lower_bound": rule.system_lower_bound_,
        }
        if hasattr(rule, "lower_bounds_"):  # one rule per output
            for name, bound in zip(self.output_names, rule.lower_bounds_, strict=True):
                bounds[f"system_lower_bound_{name}"] = bound
        return stops and setup.decides, bounds

    def _round_record(self, setup, indices):
        """The record of the round just committed (as :meth:`round_records`)."""
        indices = np.sort(indices)  # the order of a replay
        codes = setup.group_codes
        before = self.observed_indices[: self.observed_indices.size - indices.size]
        if codes is None:
            units, n_inference, unit_size = (
                None,
                self.acquired_iter.size - before.size,
                1,
            )
        else:
            units = codes[indices]
            unseen = np.ones(codes.max() + 1, dtype=bool)
            unseen[codes[before]] = False
            n_inference = int(unseen.sum())
            unit_size = int(np.bincount(codes)[unseen].max())
        return RoundRecord(
            correct=self.prereveal_correct[indices],
            audit=self.audit_mask[indices],
            n_labelled=self.n_labelled(),
            confidence=self.prereveal_confidence[indices],
            units=units,
            n_inference=n_inference,
            unit_size=unit_size,
            predicted=self.round_predicted[-1],
            held=bool(self.held.size and self.held[-1]),
        )

    def with_termination(self, setup, rule_stops):
        """The state with its ``termination_condition`` set: the library is
        measured, the rule stops (``rule_stops``), the budget is spent, or
        None (the campaign goes on)."""
        if self.observed_indices.size == setup.n_items:
            condition = "all_acquired"
        elif rule_stops:
            condition = self.rule.termination_condition
        elif self.n_units_observed(setup) >= setup.budget:
            condition = "max_fraction"
        else:
            condition = None
        return self.replace(termination_condition=condition)

    def history_row(self, n_batch, scores):
        """The ``history_`` row of the round just committed.

        The one builder of rows: counts from the state, and ``scores`` (the
        batch's pre-reveal scores, the rule's bounds, fit and score times and,
        in a simulation, the true scores of the readout); keys without a
        value are NaN.
        """
        n_observed = self.observed_indices.size
        row = dict.fromkeys(self.history, np.nan)
        row.update(
            n_observed=n_observed,
            fraction_observed=n_observed / self.acquired_iter.size,
            n_batch=n_batch,
        )
        if self.n_outputs:
            row["n_observed_cells"] = int(np.sum(self.n_labelled()))
        row.update(scores)
        return row

    def record(self, row):
        """The state with one more row of history."""
        history = {
            key: np.append(values, row[key]) for key, values in self.history.items()
        }
        return self.replace(history=history)
