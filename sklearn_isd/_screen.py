"""HybridScreenCV: a hybrid screen by inference set design (paper Algorithm 1)."""

import copy
import json
import time
import warnings
from numbers import Integral, Real

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier
from sklearn.dummy import DummyClassifier
from sklearn.utils import check_random_state, get_tags, indexable
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from . import metrics as _m
from ._labels import (
    _KIND_NAMES,
    _check_groups,
    _check_library_labels,
    _fill_missing_cells,
    _label_kind,
    _missing,
    _nan_cells,
    _nan_rows,
    _numeric_matrix,
    _positions,
    _single_class,
)
from ._persist import (
    TRUSTED_MODULES,
    CampaignFileError,
    from_spec,
    library_fingerprint,
    read_campaign,
    save_campaign,
)
from ._pool import _AGGREGATES, _reduce_by_group, _score_chunk, _top_k
from .acquisition import get_acquisition
from .stopping import KLBound, _evidence, _round_records
from .utils._compat import (
    HasMethods,
    Interval,
    StrOptions,
    _fit_context,
    _num_samples,
    _safe_indexing,
)
from .utils._display import format_header, format_round, progress_bar

__all__ = ["CampaignFileError", "HybridScreenCV", "OracleError"]

#: Rows of the library predicted and scored per task of the pool pass.
POOL_CHUNK_SIZE = 65536


class OracleError(RuntimeError):
    """The oracle failed on a batch; the screen is left as it was before it."""


def _estimator_has(attr):
    """Delegate ``attr`` to the fitted estimator, else to the unfitted one."""

    def check(self):
        getattr(
            self.estimator_ if hasattr(self, "estimator_") else self.estimator, attr
        )
        return True

    return check


def _empty_history(keys):
    return {
        key: np.empty(0, dtype=np.intp if key.startswith("n_") else float)
        for key in keys
    }


class _OutputMonitors:
    """One stopping criterion per output of a matrix screen.

    The screen stops once every output's criterion stops; the reported
    bounds are the lowest over outputs.
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

    @property
    def lower_bounds_(self):
        return np.array([c.system_lower_bound_ for c in self.criteria_], float)

    def update_outputs(self, correct, audit, n_labelled, n_library):
        stops = [
            criterion.update(
                **_evidence(
                    None if correct is None else correct[:, j],
                    audit,
                    n_labelled[j],
                    n_library,
                )
            )
            for j, criterion in enumerate(self.criteria_)
        ]
        self.batch_lower_bound_ = float(
            np.min([c.batch_lower_bound_ for c in self.criteria_])
        )
        self.system_lower_bound_ = float(np.min(self.lower_bounds_))
        return all(stops)


def _seed_nested_random_states(estimator, seed):
    """Seed every ``random_state`` left at None in ``estimator`` (nested too)."""
    to_set = {
        key: seed
        for key, value in estimator.get_params(deep=True).items()
        if value is None and (key == "random_state" or key.endswith("__random_state"))
    }
    if to_set:
        estimator.set_params(**to_set)
    return estimator


class HybridScreenCV(MetaEstimatorMixin, BaseEstimator):
    """Hybrid screen by inference set design (paper Algorithm 1).

    A library ``X`` is screened in rounds: the wrapped estimator is trained
    on the items measured so far, predicts the rest (the *inference set*),
    and the items it is least sure of are measured next, so that hard items
    leave the set that must be predicted. After each batch, the accuracy of
    the predictions made on the batch *before* its labels were revealed
    bounds the accuracy on the inference set; the screen stops once the
    resulting lower bound on the system accuracy (measured labels count as
    correct) passes ``target`` (paper Eq. 5-6). The readout
    ``transduction_`` holds measured labels and predictions for every item.

    Like ``LassoCV`` choosing its own alpha, the screen chooses its own
    budget: it validates itself on every batch it acquires.

    ``fit`` is a loop of the :meth:`ask` / :meth:`tell` steps that a lab
    drives by hand, so simulation and production share one code path.

    Parameters
    ----------
    estimator : estimator object
        The model, a classifier or a regressor (the screen becomes one too).
        Anything that accepts the library ``X``: arrays, sparse matrices,
        DataFrames, or SMILES strings for a pipeline starting with
        :class:`~sklearn_isd.MorganFingerprint`. Cloned every round.
    acquisition : str or callable, default="auto"
        How to choose the next batch: ``"least_confidence"`` (Eq. 3),
        ``"margin"``, ``"entropy"``, ``"vote_entropy"`` (Eq. 4, committees),
        ``"std"`` (regression committees), ``"random"``, or a callable
        ``score(estimator, X) -> ndarray`` (higher is acquired first).
        ``"auto"`` is least confidence for classifiers and committee ``std``
        for regressors. See :mod:`sklearn_isd.acquisition`.
    aggregate : {"mean", "max"} or callable, default="mean"
        Matrix screens (2-d ``y``, one column per target) and grouped
        libraries (``groups``): how the scores of an item's cells, and of a
        group's items, are reduced to the one score that ranks it: the
        ``"mean"`` or the ``"max"``, or a callable with the signature of a
        numpy reduction, ``aggregate(scores, axis=...) -> ndarray`` (e.g.
        ``np.median``). Unused for a 1-d ``y`` without groups.
    batch_size : int or float, default=0.01
        Items measured per round: an int, or a float in (0, 1] for a fraction
        of the library (rounded up).
    initial_batch_size : int, float or None, default=None
        Size of the first batch, drawn at random before any model exists;
        None uses ``batch_size``.
    stopping : {"kl"}, StoppingCriterion or None, default="kl"
        ``"kl"`` is :class:`~sklearn_isd.stopping.KLBound` with this screen's
        ``target`` and ``delta``; a criterion object from
        :mod:`sklearn_isd.stopping` is cloned and used with its own
        parameters; None measures until ``max_fraction``. ``history_``
        records the bounds of the criterion in use; with ``stopping=None``,
        those of ``KLBound(target, delta)`` (classifiers, or regressors with
        a tolerance).
    target : float or array-like of shape (n_outputs,), default=0.95
        System accuracy to reach, in (0, 1). For a matrix screen, a float is
        a target over all cells (the bound pools every cell of each batch);
        an array gives each output (column of ``y``) its own target, and the
        screen stops only once every column's own lower bound passes its
        target. The columns then share ``delta`` (each bound runs at
        ``delta / n_outputs``, a union bound), so all hold together with
        probability at least ``1 - delta``.
    delta : float, default=0.05
        Probability that the lower bound of a round fails, in (0, 1).
    tolerance : float or None, default=None
        Regression only: a prediction within ``tolerance`` of the measured
        value counts as correct, for the system accuracy and the stopping
        bound. Required for a regressor with ``stopping="kl"``.
    max_fraction : float, default=1.0
        Never measure more than this fraction of the library, in (0, 1].
    oracle : callable or None, default=None
        ``oracle(indices) -> labels``, called once per batch (a lab). None
        reveals the labels from ``y`` (a simulated screen).
    n_jobs : int or None, default=None
        Parallel jobs for predicting and scoring the inference set in
        chunks, through :class:`joblib.Parallel` (so
        ``joblib.parallel_config(backend="dask")`` spreads it on a cluster).
        None means 1 unless in a ``joblib.parallel_config`` context.
    random_state : int, RandomState instance or None, default=None
        Draws the initial batch, breaks ties between equal scores (so
        ``"random"`` acquisition is reproducible) and seeds every
        ``random_state`` of the wrapped estimator left at None.
    verbose : int, default=0
        When > 0, :meth:`fit` and :meth:`resume` print one line per round
        (labels used, batch accuracy, bounds, true scores in a simulation)
        under a progress bar of the items measured and the current bound
        (the bar needs tqdm: ``pip install sklearn-isd[cli]``).

    Attributes
    ----------
    n_outputs_ : int
        Outputs (columns) of the labels: 1 for a 1-d ``y``, else the number
        of columns of a matrix screen (items x targets, e.g. compounds x
        genes), where each item is measured against every target at once.
    output_names_ : ndarray of str of shape (n_outputs_,)
        Names of the outputs: the columns of a DataFrame ``y``, else
        ``"0"``, ``"1"``, ... Per-output keys of ``history_`` end with them.
    estimator_ : estimator object
        The model refit on the final observed set. Until two classes have
        been measured, a classifier screen uses a
        :class:`~sklearn.dummy.DummyClassifier` predicting the only class
        seen, and draws batches at random (all scores tie).
    transduction_ : ndarray of shape (n_samples,) or (n_samples, n_outputs_)
        The hybrid readout: measured labels where observed, predictions of
        ``estimator_`` elsewhere (in a matrix screen, also for the cells of
        measured items that have no label).
    observed_mask_ : ndarray of bool of shape (n_samples,)
        True where the label was measured.
    acquired_iter_ : ndarray of int of shape (n_samples,)
        Round in which each item was measured (0 = the initial batch), -1 if
        never (it is in the inference set).
    n_iter_ : int
        Batches acquired, the initial one included.
    termination_condition_ : {"target_reached", "max_fraction", \
            "all_acquired"} or None
        Why the screen stopped; None while it goes on.
    stop_ : bool
        Whether the screen has stopped.
    history_ : dict of ndarray
        One entry per acquired batch (the initial one included), recorded
        after the model was refit on the labels measured so far, so
        ``pandas.DataFrame(history_)`` is a table of rounds. Keys:

        - ``n_observed``, ``fraction_observed``: measured items so far.
        - ``n_batch``: items in this batch.
        - ``batch_score``: accuracy of the predictions made on the batch
          before its labels were revealed (regressors: share within
          ``tolerance``; NaN without tolerance, and for the initial batch).
        - ``batch_lower_bound``: KL lower bound on that accuracy (Eq. 5).
        - ``system_lower_bound``: lower bound on the system accuracy (Eq. 6).
        - ``fit_time``, ``score_time``: seconds to refit and to predict and
          score the inference set.
        - Regressors: ``batch_mse``, ``batch_mae``.
        - Matrix screens: ``n_observed_cells`` (the cost: labelled cells
          measured so far; ``n_observed`` counts items); scores and bounds
          are over cells. With one target per output,
          ``system_lower_bound_<name>`` per output, and
          ``system_lower_bound`` is their minimum. In a simulation,
          ``system_score_<name>`` per output.
        - Simulations (``y`` given to ``fit``): the true ``system_score`` and
          ``inference_score`` of the readout (accuracy; for regressors the
          share within tolerance, or R^2 without tolerance); regressors also
          ``system_mse``, ``inference_mse``, ``system_mae``,
          ``inference_mae``.
    prereveal_correct_ : ndarray of float of shape (n_samples,) or \
            (n_samples, n_outputs_)
        For each measured item, 1.0 if the prediction the model made for it
        before its label was revealed was correct (within ``tolerance`` for
        regressors), 0.0 if not; NaN for items measured without a model
        (the initial batch) and for unmeasured items (and cells without a
        label). The evidence behind every bound.
    audit_mask_ : ndarray of bool of shape (n_samples,)
        True for items acquired as audit items: drawn uniformly from the
        inference set for a stopping rule that asks for them
        (:class:`~sklearn_isd.stopping.AuditBound`), not by ``acquisition``.
    stopping_ : StoppingCriterion or None
        The criterion in use, with its state. With one target per output
        (a matrix screen with an array ``target``), an object whose
        ``criteria_`` holds one criterion per output (each at
        ``delta / n_outputs_``) and whose bounds are their minimum.
    acquisition_ : callable
        The resolved acquisition function.
    classes_ : ndarray
        Classes seen by ``estimator_`` (classifiers).
    n_features_in_ : int
        Delegated to ``estimator_`` when it defines it.

    See Also
    --------
    sklearn.semi_supervised.SelfTrainingClassifier : the precedent for the
        iterative meta-estimator conventions followed here.

    Notes
    -----
    Until two classes have been measured, a classifier screen cannot train
    its model: it predicts the single class seen and draws the next batch at
    random; the rounds go on as usual and the batch accuracy of those
    constant predictions still feeds the bound.

    Every round fits a fresh clone of ``estimator``, unless the estimator
    (or a step of a pipeline) has ``warm_start=True``: then each round
    refits a copy of the previous round's model, which for
    :class:`~sklearn_isd.ResMLPClassifier` and other neural nets continues
    from the previous weights. Mind what warm start means for your model:
    forests with ``warm_start=True`` only add trees when ``n_estimators``
    grows, so they would not learn from new labels.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_isd import HybridScreenCV
    >>> X, y = make_classification(n_samples=2000, random_state=0)
    >>> screen = HybridScreenCV(LogisticRegression(), batch_size=50,
    ...                         target=0.95, random_state=0).fit(X, y)
    >>> screen.termination_condition_
    'target_reached'
    >>> bool(screen.history_["system_score"][-1] >= 0.95)
    True
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "predict"])],
        "acquisition": [StrOptions({"auto"}), str, callable],
        "aggregate": [StrOptions({"mean", "max"}), callable],
        "batch_size": [
            Interval(Integral, 1, None, closed="left"),
            Interval(Real, 0, 1, closed="right"),
        ],
        "initial_batch_size": [
            Interval(Integral, 1, None, closed="left"),
            Interval(Real, 0, 1, closed="right"),
            None,
        ],
        "stopping": [StrOptions({"kl"}), HasMethods(["reset", "update"]), None],
        "target": [Interval(Real, 0, 1, closed="neither"), "array-like"],
        "delta": [Interval(Real, 0, 1, closed="neither")],
        "tolerance": [Interval(Real, 0, None, closed="left"), None],
        "max_fraction": [Interval(Real, 0, 1, closed="right")],
        "oracle": [callable, None],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        estimator,
        *,
        acquisition="auto",
        aggregate="mean",
        batch_size=0.01,
        initial_batch_size=None,
        stopping="kl",
        target=0.95,
        delta=0.05,
        tolerance=None,
        max_fraction=1.0,
        oracle=None,
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.estimator = estimator
        self.acquisition = acquisition
        self.aggregate = aggregate
        self.batch_size = batch_size
        self.initial_batch_size = initial_batch_size
        self.stopping = stopping
        self.target = target
        self.delta = delta
        self.tolerance = tolerance
        self.max_fraction = max_fraction
        self.oracle = oracle
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------
    # Public loop
    # ------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None, groups=None):
        """Run a whole hybrid screen over the library ``X``.

        Parameters
        ----------
        X : indexable of shape (n_samples, ...)
            The whole library, in any form the estimator accepts.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs), \
                default=None
            True labels of the whole library. Without ``oracle``, labels are
            revealed from ``y`` (a simulation); with an oracle, ``y`` (if
            given) is used only to record the true system score in
            ``history_``. Without both, there is nothing to measure with.
            A 2-d ``y`` makes a matrix screen: measuring an item reveals its
            whole row (e.g. a compound against every gene of a panel), the
            estimator must be multi-output, and accuracy and bounds are over
            cells. Matrix labels are numeric (class codes or values); NaN
            marks a cell that was never measurable (it is predicted, and left
            out of every score).
        groups : array-like of shape (n_samples,), default=None
            Group of each item: items sharing a group are acquired together
            (e.g. one compound at 8 concentrations) and their scores are
            reduced with ``aggregate``. ``batch_size``,
            ``initial_batch_size`` and ``max_fraction`` then count groups.

        Returns
        -------
        self : object
            The fitted screen.

        Raises
        ------
        OracleError
            If the oracle fails; the screen keeps every label measured
            before, and :meth:`resume` retries the batch.
        """
        if y is None and self.oracle is None:
            raise ValueError(
                "HybridScreenCV requires y to be passed, but the target y is None "
                "and there is no oracle: pass y (the labels to reveal in a "
                "simulated screen) or oracle=callable(indices) -> labels."
            )
        self._start(X, y, groups)
        return self._run()

    def resume(self, X=None):
        """Continue the screen from its current state until it stops.

        Use it after an oracle failure (once the oracle works again, e.g.
        after ``set_params(oracle=...)``) or to go on with a screen driven by
        :meth:`ask`/:meth:`tell`. It reveals labels with ``oracle`` or, in a
        simulation, from the ``y`` given to :meth:`fit`.

        Parameters
        ----------
        X : indexable of shape (n_samples, ...), default=None
            The library, needed if the screen does not hold it (after
            unpickling).

        Returns
        -------
        self : object
            The screen.
        """
        self._check_started()
        if X is not None:
            self._attach(X)
        if self.oracle is None and self._y_true is None:
            raise ValueError(
                "resume() needs an oracle (set_params(oracle=...)) for a screen "
                "started without y."
            )
        return self._run()

    def ask(self, X=None, *, groups=None):
        """Indices of the next batch to measure.

        The first call starts a campaign on the library ``X``. Calling
        ``ask`` again before :meth:`tell` returns the same batch.

        Parameters
        ----------
        X : indexable of shape (n_samples, ...), default=None
            The library. Required on the first call; later calls may omit it
            or pass the same library again.
        groups : array-like of shape (n_samples,), default=None
            Groups of items acquired together (see :meth:`fit`); read on the
            first call only.

        Returns
        -------
        indices : ndarray of int
            Positions in ``X`` to measure, most informative first. Empty once
            every item (or ``max_fraction`` of the library) is measured. While
            part of the last batch is still pending (results came back in
            parts), that part is returned and nothing new is proposed.
        """
        if not hasattr(self, "observed_mask_"):
            if X is None:
                raise ValueError("The first call to ask() needs the library X.")
            self._start(X, None, groups)
        elif groups is not None:
            raise ValueError(
                "groups are read on the first call to ask(), which starts the "
                "campaign; they cannot change afterwards."
            )
        elif X is not None:
            self._attach(X)
        self._refresh()
        if self._pending is None:
            self._pending = self._propose()
        return self._pending.copy()

    def tell(self, indices, labels, *, failed="raise"):
        """Record measured labels, refit the model and update the bound.

        The call is all or nothing: bad indices or labels raise before
        anything changes, and if refitting the model or scoring the
        inference set fails, the screen is rolled back to its state before
        the call, so the same ``tell`` can be retried once the cause is
        fixed. No partial update survives a failed call.

        Results may come back in parts: told items leave the pending batch,
        the rest stays pending, and :meth:`ask` returns it (and proposes
        nothing new) until it is told or released with :meth:`cancel`.

        Parameters
        ----------
        indices : array-like of int
            Positions in the library that were measured: the batch returned
            by :meth:`ask`, or part of it.
        labels : array-like of shape (n_indices,)
            The measured labels, in the same order. A missing value (None or
            NaN) marks a failed measurement, handled by ``failed``.
        failed : {"raise", "retry", "exclude"}, default="raise"
            What a missing value means. ``"raise"``: an error, nothing is
            recorded. ``"retry"``: the failed items are left out of this
            tell and stay pending, to be measured again. ``"exclude"``: the
            failed items are left out and released from the batch, back to
            the inference set (predicted, unless acquired again later). A
            failed measurement is never counted as a label.

        Returns
        -------
        self : object
            The screen, with its fitted attributes updated and ``stop_``
            telling whether to stop.
        """
        self._check_started()
        if failed not in ("raise", "retry", "exclude"):
            raise ValueError(
                f"failed must be 'raise', 'retry' or 'exclude'; got {failed!r}."
            )
        self._refresh()  # a campaign just loaded: rebuild the model first
        labels = np.asarray(labels)
        if failed != "raise" and labels.ndim in (1, 2):
            indices = self._validate_indices(indices)
            missing = None
            if labels.shape[:1] == indices.shape:
                missing = (
                    _missing(labels)
                    if labels.ndim == 1
                    else _nan_rows(_numeric_matrix(labels, "labels"))
                )
            if missing is not None and missing.any():
                failed_items = indices[missing]
                indices, labels = self._validate_batch(
                    indices[~missing], labels[~missing]
                )
                if indices.size:
                    self._tell_validated(indices, labels)
                if failed == "exclude":
                    self.cancel(failed_items)
                return self
        indices, labels = self._validate_batch(indices, labels)
        return self._tell_validated(indices, labels)

    def cancel(self, indices=None):
        """Release pending items: they go back to the inference set.

        Parameters
        ----------
        indices : array-like of int, default=None
            Items of the pending batch (from :meth:`ask`) that will not be
            measured; None releases the whole pending batch, so the next
            :meth:`ask` proposes a new one.

        Returns
        -------
        self : object
            The screen.
        """
        self._check_started(library=False)
        if self._pending is None:
            return self
        if indices is None:
            self._pending = None
            self._pending_audit = np.empty(0, dtype=np.intp)
            return self
        indices = np.asarray(indices, dtype=np.intp)
        unknown = ~np.isin(indices, self._pending)
        if unknown.any():
            raise ValueError(
                f"indices {indices[unknown][:10].tolist()} are not pending; "
                f"the pending batch is {self._pending[:10].tolist()}..."
            )
        remaining = self._pending[~np.isin(self._pending, indices)]
        self._pending = remaining if remaining.size else None
        self._pending_audit = np.setdiff1d(self._pending_audit, indices)
        return self

    _MUTABLE_STATE = (
        "observed_mask_",
        "acquired_iter_",
        "prereveal_correct_",
        "audit_mask_",
    )

    def _tell_validated(self, indices, labels):
        """Commit a validated batch and refit, rolling back if anything fails."""
        saved = dict(self.__dict__)
        arrays = {name: getattr(self, name).copy() for name in self._MUTABLE_STATE}
        monitor = copy.deepcopy(self._monitor)
        try:
            self._commit(indices, labels)
            self._refresh()
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved, **arrays)
            if saved["_monitor"] is saved["stopping_"]:
                self.stopping_ = monitor
            self._monitor = monitor
            raise
        return self

    # ------------------------------------------------------------------
    # Internals
    # ------------------------------------------------------------------
    def _start(self, X, y, groups=None):
        self._validate_params()
        # Sparse input becomes CSR (row indexing); other array-likes without
        # __getitem__ become arrays. Lists, arrays and DataFrames are kept.
        X = indexable(X)[0]
        n = _num_samples(X)
        if n == 0:
            raise ValueError("The library X is empty: there is nothing to screen.")
        names = None
        if y is not None:
            y, names = _check_library_labels(y, n)
        self._group_codes = None if groups is None else _check_groups(groups, n)
        self._configure(n, y)
        self._seed = int(check_random_state(self.random_state).randint(2**31 - 1))
        self._library = X
        self._fingerprint = None
        self.observed_mask_ = np.zeros(n, dtype=bool)
        self.acquired_iter_ = np.full(n, -1, dtype=np.intp)
        # Per item: was the prediction made before its label was revealed
        # correct (1/0)? NaN if measured without a model, or never measured.
        self.prereveal_correct_ = np.full(n, np.nan)
        self.audit_mask_ = np.zeros(n, dtype=bool)
        self.n_iter_ = 0
        self.stop_ = False
        self.termination_condition_ = None
        self._obs_idx = np.empty(0, dtype=np.intp)
        self._obs_y = None
        self._pending = None  # the batch proposed by ask, not yet told
        self._pending_audit = np.empty(0, dtype=np.intp)  # its audit items
        self._pending_row = None  # history row waiting for a successful refit
        self.history_ = _empty_history(self._history_keys())
        if y is not None:
            self._set_outputs(None if y.ndim == 1 else y.shape[1], names)

    def _configure(self, n, y):
        """Derive from the parameters what a campaign on n items needs."""
        self._is_classifier = is_classifier(self.estimator)
        if self.tolerance is not None and self._is_classifier:
            raise ValueError(
                "tolerance applies to regressors only: a classifier's prediction "
                "is correct when it equals the label. Leave tolerance=None."
            )
        # Units of acquisition: items, or groups of items acquired together.
        groups = getattr(self, "_group_codes", None)
        n_units = n if groups is None else int(groups.max()) + 1
        unit = "groups" if groups is not None else "items"
        self._batch = self._n_items(self.batch_size, n_units, "batch_size", unit)
        self._initial_batch = (
            self._batch
            if self.initial_batch_size is None
            else self._n_items(
                self.initial_batch_size, n_units, "initial_batch_size", unit
            )
        )
        self._budget = max(1, int(np.floor(self.max_fraction * n_units + 1e-9)))
        self._aggregate = _AGGREGATES.get(self.aggregate, self.aggregate)
        self._targets = np.asarray(self.target, dtype=float)
        if self._targets.ndim > 1 or self._targets.size == 0:
            raise ValueError(
                "target must be a float, or a 1-d array of one target per output "
                f"of a matrix screen; got shape {self._targets.shape}."
            )
        if self._targets.ndim == 1 and not (
            np.all(self._targets > 0) and np.all(self._targets < 1)
        ):
            raise ValueError(
                f"Every target must be in (0, 1); got {self._targets.tolist()}."
            )
        self.acquisition_ = get_acquisition(self.acquisition, self.estimator)
        stopping = self._make_stopping()  # validates, also per output
        self.stopping_ = None if self._targets.ndim else stopping
        self._monitor = self.stopping_
        if self._monitor is None and self._has_correctness() and not self._targets.ndim:
            self._monitor = KLBound(target=self.target, delta=self.delta)
        if self._monitor is not None:
            self._monitor.reset()
        self._y_true = y
        self._n = n
        self._pool = None  # inference indices, predictions, scores, confidences
        self._bar = None  # progress bar of a running fit/resume
        self._stale = False  # estimator_, transduction_ and scores out of date
        self._single_class = False
        # A new campaign: what the last one learnt of its labels goes too.
        for attr in ("estimator_", "transduction_", "n_outputs_", "output_names_"):
            if hasattr(self, attr):
                delattr(self, attr)

    def _n_items(self, size, n, name, unit="items"):
        if isinstance(size, Integral):
            if size > n:
                raise ValueError(
                    f"{name}={size} is larger than the library ({n} {unit}); pass "
                    f"an int in [1, {n}] or a fraction in (0, 1]."
                )
            return int(size)
        return max(1, int(np.ceil(size * n - 1e-9)))

    def _has_correctness(self):
        return self._is_classifier or self.tolerance is not None

    def _set_outputs(self, n_outputs, names=None):
        """Fix the shape of the labels: 1-d (None) or ``n_outputs`` columns.

        Called when the labels are first seen (``y`` in fit, or the first
        tell of a campaign driven by ask/tell); builds the per-output keys of
        ``history_`` and, for one target per output, the per-output rules.
        """
        width = 1 if n_outputs is None else int(n_outputs)
        if self._targets.ndim and self._targets.size != width:
            raise ValueError(
                f"target holds {self._targets.size} values, one per output, but "
                f"the labels have {width} output(s). Pass a float, or one target "
                "per column of a 2-d y."
            )
        if names is None:
            names = [str(j) for j in range(width)]
        self.n_outputs_ = width
        self.output_names_ = np.asarray(names, dtype=str)
        if self._n_outputs and self.prereveal_correct_.ndim == 1:
            self.prereveal_correct_ = np.full((self._n, width), np.nan)
        if list(self.history_) != self._history_keys():
            # Labels are first seen before any round is recorded.
            self.history_ = _empty_history(self._history_keys())
        if self._targets.ndim and (
            self.stopping is not None or self._has_correctness()
        ):
            monitors = _OutputMonitors(
                [self._output_criterion(t, width) for t in self._targets]
            ).reset()
            self._monitor = monitors
            self.stopping_ = monitors if self.stopping is not None else None

    def _output_criterion(self, target, n_outputs):
        """The stopping rule of one output: ``target``, delta split over outputs."""
        if self.stopping in ("kl", None):
            return KLBound(target=float(target), delta=self.delta / n_outputs)
        criterion = clone(self.stopping)
        params = criterion.get_params()
        if "target" not in params or "delta" not in params:
            raise ValueError(
                "A target per output needs a stopping rule with target and delta "
                f"parameters; {type(criterion).__name__} has none. Pass a float "
                "target, or stopping='kl'."
            )
        return criterion.set_params(
            target=float(target), delta=params["delta"] / n_outputs
        )

    @property
    def _n_outputs(self):
        """Columns of a matrix screen; None for 1-d labels or before any."""
        width = getattr(self, "n_outputs_", 1)
        return width if width > 1 else None

    def _labelled_cells(self):
        """Per item, 1 if labelled; per item and output for a matrix screen."""
        if not self._n_outputs:
            return self.observed_mask_.astype(np.int64)
        cells = np.zeros((self._n, self._n_outputs), dtype=np.int64)
        if self._obs_y is not None:
            cells[self._obs_idx] = ~_nan_cells(self._obs_y)
        return cells

    def _n_labelled(self):
        """Labels measured so far: items, or cells per output (matrix)."""
        if not self._n_outputs:
            return self._obs_idx.size
        if self._obs_y is None:
            return np.zeros(self._n_outputs, dtype=np.int64)
        return (~_nan_cells(self._obs_y)).sum(axis=0)

    def _feed_monitor(self, correct, audit, n_labelled):
        """Give the stopping rule the evidence of one round; True to stop."""
        if isinstance(self._monitor, _OutputMonitors):
            return self._monitor.update_outputs(correct, audit, n_labelled, self._n)
        n_library = self._n * (self._n_outputs or 1)
        return self._monitor.update(
            **_evidence(correct, audit, np.sum(n_labelled), n_library)
        )

    def _make_stopping(self):
        if self.stopping is None:
            return None
        if self.stopping == "kl":
            if not self._has_correctness():
                raise ValueError(
                    "stopping='kl' needs a notion of a correct prediction, which a "
                    "regressor only has with a tolerance: pass tolerance=... (a "
                    "prediction within it of the measured value counts as "
                    "correct), or stopping=None to measure up to max_fraction."
                )
            return KLBound(target=self.target, delta=self.delta)
        return clone(self.stopping)

    def _history_keys(self):
        keys = [
            "n_observed",
            "fraction_observed",
            "n_batch",
            "batch_score",
            "batch_lower_bound",
            "system_lower_bound",
            "fit_time",
            "score_time",
        ]
        if not self._is_classifier:
            keys += ["batch_mse", "batch_mae"]
        if self._y_true is not None:
            keys += ["system_score", "inference_score"]
            if not self._is_classifier:
                keys += ["system_mse", "inference_mse", "system_mae", "inference_mae"]
        if getattr(self, "_n_outputs", None):
            keys.append("n_observed_cells")
            names = self.output_names_
            if self._targets.ndim and self._has_correctness():
                keys += [f"system_lower_bound_{name}" for name in names]
            if self._y_true is not None:
                keys += [f"system_score_{name}" for name in names]
        return keys

    def _check_started(self, library=True):
        if not hasattr(self, "observed_mask_"):
            raise ValueError(
                "This screen has not started: call fit(X, y) or ask(X) first."
            )
        if library and getattr(self, "_library", None) is None:
            raise ValueError(
                "This screen does not hold its library (it was unpickled or "
                "loaded): pass it again with ask(X) or resume(X)."
            )

    def _attach(self, X):
        X = indexable(X)[0]
        n = _num_samples(X)
        if n != self._n:
            raise ValueError(
                f"This screen runs on a library of {self._n} items; got X with {n}."
            )
        current = getattr(self, "_library", None)
        if X is current:
            return
        if self._fingerprint is None and current is not None:
            self._fingerprint = library_fingerprint(current)
        if self._fingerprint is not None:
            fingerprint = library_fingerprint(X)
            if fingerprint != self._fingerprint:
                raise CampaignFileError(
                    "X is not the library of this campaign: its content differs "
                    f"(fingerprint {fingerprint[:19]}... instead of "
                    f"{self._fingerprint[:19]}...). Pass the same library, rows "
                    "in the same order."
                )
        self._library = X

    def _library_fingerprint(self):
        if self._fingerprint is None:
            self._check_started()
            self._fingerprint = library_fingerprint(self._library)
        return self._fingerprint

    # ------------------------------------------------------------------
    # Saving and loading campaigns
    # ------------------------------------------------------------------
    def save(self, path, *, metadata=None):
        """Save the campaign to ``path`` (a non-pickle ``.npz`` archive).

        Stores the parameters, the estimator as a JSON spec, a fingerprint
        of the library, the measured indices and labels in order, rounds,
        pending batch, bounds and ``history_``; not the fitted model, which
        :meth:`load` refits from the measured labels. The write is atomic: a
        crash while saving leaves the previous file intact. The format is
        described in :mod:`sklearn_isd._persist`.

        Parameters
        ----------
        path : str or path-like
            File to write (conventionally ``*.isd.npz``).
        metadata : dict or None, default=None
            JSON data stored with the campaign in the same atomic write (e.g.
            a lab's log of results files); read it back with
            :func:`sklearn_isd.read_campaign_metadata`.

        Returns
        -------
        path : pathlib.Path
            The file written.
        """
        self._check_started(library=False)
        return save_campaign(self, path, metadata=metadata)

    @classmethod
    def load(
        cls,
        path,
        X=None,
        *,
        estimator=None,
        acquisition=None,
        aggregate=None,
        stopping=None,
        oracle=None,
        trusted=(),
    ):
        """Load a campaign saved by :meth:`save`.

        Parameters
        ----------
        path : str or path-like
            The campaign file.
        X : indexable of shape (n_samples, ...), default=None
            The library. Its fingerprint must match the saved one. Without
            it, pass it later to :meth:`ask` or :meth:`resume`.
        estimator : estimator object, default=None
            The unfitted model; None rebuilds it from the saved spec.
        acquisition, aggregate, stopping : default=None
            Needed only when the campaign used a callable acquisition or
            aggregate, or a stopping object without a stored form; None uses
            the saved ones.
        oracle : callable, default=None
            The oracle for :meth:`resume` (never stored).
        trusted : sequence of str, default=()
            Extra module prefixes whose classes the estimator spec may import,
            besides scikit-learn, sklearn-isd, skorch, torch and numpy.

        Returns
        -------
        screen : HybridScreenCV
            The screen, in the state it was saved in; its model is refit
            from the measured labels on the next :meth:`ask`.

        Raises
        ------
        CampaignFileError
            If the file is corrupted, of an unknown format version, or ``X``
            is not the campaign's library.
        """
        manifest, arrays = read_campaign(path)
        trusted = (*TRUSTED_MODULES, *trusted)
        params = dict(manifest["params"])
        overrides = {
            "acquisition": acquisition,
            "aggregate": aggregate,
            "stopping": stopping,
        }
        for name, given in overrides.items():
            stored = params[name]
            if given is not None:
                params[name] = given
            elif isinstance(stored, dict) and "__callable__" in stored:
                raise ValueError(
                    f"The campaign used a callable {name} ({stored['__callable__']}),"
                    f" which cannot be stored: pass {name}=... to load()."
                )
            else:
                params[name] = from_spec(stored, trusted)
        if estimator is None:
            if manifest["estimator"] is None:
                raise ValueError(
                    "The campaign's estimator could not be stored as a spec ("
                    f"{manifest['estimator_repr']}): pass estimator=... to load()."
                )
            estimator = from_spec(manifest["estimator"], trusted)
        screen = cls(estimator, oracle=oracle, **params)
        screen._restore(manifest, arrays)
        if X is not None:
            screen._attach(X)
        return screen

    def _restore(self, manifest, arrays):
        self._validate_params()
        n = int(manifest["library"]["n_items"])
        groups = arrays.get("groups")
        self._group_codes = None if groups is None else groups.astype(np.intp)
        self._configure(n, arrays.get("y_true"))
        self._seed = int(manifest["seed"])
        self._fingerprint = manifest["library"]["fingerprint"]
        self._library = None
        self.acquired_iter_ = arrays["acquired_iter"].astype(np.intp)
        self.observed_mask_ = self.acquired_iter_ >= 0
        self.prereveal_correct_ = arrays["prereveal_correct"].astype(float)
        self.n_iter_ = int(manifest["n_iter"])
        self.stop_ = bool(manifest["stop"])
        self.termination_condition_ = manifest["termination_condition"]
        self._obs_idx = arrays["observed_indices"].astype(np.intp)
        self._obs_y = arrays.get("observed_labels")
        pending = arrays["pending"].astype(np.intp)
        self._pending = pending if pending.size else None
        self.audit_mask_ = arrays["audit_mask"].astype(bool)
        self._pending_audit = arrays["pending_audit"].astype(np.intp)
        row = arrays.get("pending_row")
        self._pending_row = None if row is None else json.loads(str(row))
        self.history_ = _empty_history(self._history_keys())
        labels = self._obs_y if self._obs_y is not None else self._y_true
        if labels is not None:
            self._set_outputs(
                labels.shape[1] if labels.ndim == 2 else None,
                manifest.get("output_names"),
            )
        self.history_ = {
            key: arrays[f"history__{key}"] for key in manifest["history_keys"]
        }
        if (
            self._obs_idx.size != self.observed_mask_.sum()
            or not self.observed_mask_[self._obs_idx].all()
            or (
                self._obs_y is not None and self._obs_y.shape[:1] != self._obs_idx.shape
            )
            or list(self.history_) != self._history_keys()
        ):
            raise CampaignFileError("The campaign file is inconsistent (corrupted).")
        # Replay the evidence of every round, so that stateful criteria end in
        # the state they had when the campaign was saved.
        if self._monitor is not None:
            for correct, audit, n_labelled in _round_records(self):
                self._feed_monitor(correct, audit, n_labelled)
        self._stale = self._obs_idx.size > 0

    def _round_rng(self, round_):
        return np.random.default_rng([self._seed, round_])

    def _propose(self):
        """Choose the next batch from the cached scores of the inference set."""
        inference = np.flatnonzero(~self.observed_mask_)
        scores = None if self._pool is None else self._pool[2]
        members = None  # grouped library: position of each item's group
        if self._group_codes is None:
            n_units = inference.size
        else:
            codes = self._group_codes[inference]
            units, members, unit_scores = _reduce_by_group(
                np.zeros(inference.size) if scores is None else scores,
                codes,
                self._aggregate,
            )
            scores = None if scores is None else unit_scores
            n_units = units.size
        size = self._initial_batch if self.n_iter_ == 0 else self._batch
        size = min(size, self._budget - self._n_units_observed(), n_units)
        self._pending_audit = np.empty(0, dtype=np.intp)
        if size <= 0:
            return np.empty(0, dtype=np.intp)
        rng = self._round_rng(self.n_iter_)
        if scores is None:  # no model yet: a uniform draw
            chosen = _top_k(np.zeros(n_units), size, rng)
            return self._items_of(chosen, inference, members)
        n_audit = min(size, self._monitor.audit_size(size)) if self._monitor else 0
        if n_audit == 0:
            return self._items_of(_top_k(scores, size, rng), inference, members)
        # Audit items: drawn uniformly from the inference set, so that their
        # correctness is an unbiased sample of the inference-set accuracy.
        audit = rng.choice(n_units, size=n_audit, replace=False)
        rest = np.setdiff1d(np.arange(n_units), audit, assume_unique=True)
        chosen = rest[_top_k(scores[rest], size - n_audit, rng)]
        self._pending_audit = self._items_of(audit, inference, members)
        return np.concatenate(
            [self._items_of(chosen, inference, members), self._pending_audit]
        )

    def _n_units_observed(self):
        """Measured units: items, or groups with a measured item."""
        if self._group_codes is None:
            return self._obs_idx.size
        return np.unique(self._group_codes[self._obs_idx]).size

    @staticmethod
    def _items_of(chosen, inference, members):
        """Library indices of the chosen units (items, or groups), in order."""
        if members is None:
            return inference[chosen]
        rank = np.full(members.max() + 1, -1)
        rank[chosen] = np.arange(chosen.size)
        item_rank = rank[members]
        taken = np.flatnonzero(item_rank >= 0)
        return inference[taken[np.argsort(item_rank[taken], kind="stable")]]

    def _validate_indices(self, indices):
        indices = np.asarray(indices)
        if indices.ndim != 1 or not (indices.dtype.kind in "iu" or (indices.size == 0)):
            raise TypeError(
                "indices must be a 1-d array of integer positions in the library; "
                f"got dtype {indices.dtype} and shape {indices.shape}."
            )
        indices = indices.astype(np.intp)
        out = (indices < 0) | (indices >= self._n)
        if out.any():
            raise ValueError(
                f"indices {indices[out][:10].tolist()} are outside the library "
                f"(valid positions are 0 to {self._n - 1})."
            )
        uniq, counts = np.unique(indices, return_counts=True)
        if (counts > 1).any():
            raise ValueError(
                f"indices {uniq[counts > 1][:10].tolist()} appear more than once "
                "in the batch."
            )
        seen = self.observed_mask_[indices]
        if seen.any():
            raise ValueError(
                f"indices {indices[seen][:10].tolist()} were already measured; "
                "each item is measured once."
            )
        asked = np.empty(0, np.intp) if self._pending is None else self._pending
        unasked = ~np.isin(indices, asked)
        if unasked.any():
            raise ValueError(
                f"indices {indices[unasked][:10].tolist()} are not in the batch "
                "proposed by ask(); tell() takes the batch ask() returned, or "
                "part of it (the bound assumes the batch was chosen by the "
                "screen)."
            )
        return indices

    def _validate_batch(self, indices, labels):
        indices = self._validate_indices(indices)
        labels = np.asarray(labels)
        if labels.ndim == 2 and labels.shape[1] == 1 and not self._n_outputs:
            labels = labels.ravel()
        known = hasattr(self, "n_outputs_")
        if labels.ndim == 2 and (self._n_outputs or not known):
            return indices, self._validate_matrix_batch(indices, labels)
        if labels.ndim != 1 or labels.shape[0] != indices.shape[0] or self._n_outputs:
            expected = (
                f"a row of {self._n_outputs} labels per index (one per output)"
                if self._n_outputs
                else "one label per index"
            )
            raise ValueError(
                f"Got {labels.shape[0] if labels.ndim else 'a scalar as'} labels "
                f"(shape {labels.shape}) for {indices.shape[0]} indices; pass "
                f"{expected}."
            )
        missing = _missing(labels)
        if missing.any():
            raise ValueError(
                f"labels are missing (None or NaN) at batch positions "
                f"{_positions(missing)} (library indices "
                f"{indices[missing][:10].tolist()}). Every measured item needs a "
                "label; leave failed measurements out of the batch."
            )
        if self._is_classifier:
            kind = _label_kind(labels)
            known = None if self._obs_y is None else _label_kind(self._obs_y[:1])
            if kind == "mixed" or (known is not None and kind != known):
                raise ValueError(
                    "Class labels must be all strings or all numbers, but "
                    + (
                        "this batch mixes them."
                        if kind == "mixed"
                        else f"this batch holds {_KIND_NAMES[kind]} and the "
                        f"labels measured so far are {_KIND_NAMES[known]}."
                    )
                )
        else:
            if labels.dtype.kind not in "biuf":
                try:
                    labels = labels.astype(float)
                except (TypeError, ValueError):
                    raise ValueError(
                        "A regression screen needs numeric labels; got values of "
                        f"dtype {labels.dtype}."
                    ) from None
            bad = ~np.isfinite(labels.astype(float))
            if bad.any():
                raise ValueError(
                    f"labels are not finite at batch positions {_positions(bad)}."
                )
        return indices, labels

    def _validate_matrix_batch(self, indices, labels):
        """Labels of a matrix screen: one numeric row per index, NaN cells ok."""
        width = self._n_outputs or labels.shape[1]
        if labels.shape != (indices.shape[0], width):
            raise ValueError(
                f"Got labels of shape {labels.shape} for {indices.shape[0]} indices "
                f"of a matrix screen with {width} outputs; pass shape "
                f"({indices.shape[0]}, {width})."
            )
        labels = _numeric_matrix(labels, "labels")
        if labels.dtype.kind == "f" and np.isinf(labels).any():
            rows = np.isinf(labels).any(axis=1)
            raise ValueError(
                f"labels are infinite in batch rows {_positions(rows)}; NaN marks "
                "a cell without a label."
            )
        unlabelled = _nan_rows(labels)
        if unlabelled.any():
            raise ValueError(
                f"labels are missing (None or NaN) in every column at batch "
                f"positions {_positions(unlabelled)} (library indices "
                f"{indices[unlabelled][:10].tolist()}). A row without any label "
                "is a failed measurement: leave it out of the batch, or pass "
                "failed='retry' or 'exclude'."
            )
        return labels

    def _commit(self, indices, labels):
        """Store validated labels, update the stopping rule and history row."""
        round_ = self.n_iter_
        if not hasattr(self, "n_outputs_"):  # the first labels of a campaign
            self._set_outputs(labels.shape[1] if labels.ndim == 2 else None)
        row = dict.fromkeys(self.history_, np.nan)
        correct = None  # per item (per cell): 1/0, NaN where no evidence
        if self._pool is not None and indices.size:
            positions = np.searchsorted(self._pool[0], indices)
            predictions = self._pool[1][positions]
            labelled = ~_nan_cells(labels)
            if self._has_correctness():
                correct = np.where(
                    labelled,
                    _m.correct(labels, predictions, tolerance=self.tolerance),
                    np.nan,
                )
                row["batch_score"] = float(np.nanmean(correct))
                self.prereveal_correct_[indices] = correct
            if not self._is_classifier:
                err = (predictions.astype(float) - labels.astype(float))[labelled]
                row["batch_mse"] = float(np.mean(err**2))
                row["batch_mae"] = float(np.mean(np.abs(err)))

        audit = np.isin(indices, self._pending_audit)
        self.audit_mask_[indices[audit]] = True
        self._pending_audit = np.setdiff1d(self._pending_audit, indices)
        self._obs_idx = np.concatenate([self._obs_idx, indices])
        self._obs_y = (
            labels if self._obs_y is None else np.concatenate([self._obs_y, labels])
        )
        self.observed_mask_[indices] = True
        self.acquired_iter_[indices] = round_
        self.n_iter_ = round_ + 1
        if self._pending is not None:  # what was not told stays pending
            remaining = self._pending[~np.isin(self._pending, indices)]
            self._pending = remaining if remaining.size else None
        self._pool = None  # the inference set changed: scores must be recomputed

        n_obs = self._obs_idx.size
        n_labelled = self._n_labelled()
        row.update(
            n_observed=n_obs, fraction_observed=n_obs / self._n, n_batch=indices.size
        )
        if self._n_outputs:
            row["n_observed_cells"] = int(np.sum(n_labelled))
        criterion_stop = False
        if self._monitor is not None:
            monitor_stop = self._feed_monitor(correct, audit, n_labelled)
            criterion_stop = monitor_stop and self.stopping_ is not None
            row["batch_lower_bound"] = self._monitor.batch_lower_bound_
            row["system_lower_bound"] = self._monitor.system_lower_bound_
            if isinstance(self._monitor, _OutputMonitors):
                for name, bound in zip(
                    self.output_names_, self._monitor.lower_bounds_, strict=True
                ):
                    row[f"system_lower_bound_{name}"] = bound
        if n_obs == self._n:
            self.termination_condition_ = "all_acquired"
        elif criterion_stop:
            self.termination_condition_ = self.stopping_.termination_condition
        elif self._n_units_observed() >= self._budget:
            self.termination_condition_ = "max_fraction"
        self.stop_ = self.termination_condition_ is not None
        self._pending_row = row
        self._stale = True

    def _warm_start(self):
        """Whether the wrapped estimator (or a step of it) sets warm_start."""
        return any(
            value is True and (key == "warm_start" or key.endswith("__warm_start"))
            for key, value in self.estimator.get_params(deep=True).items()
        )

    def _fit_estimator(self):
        labels = self._obs_y
        X_obs = _safe_indexing(self._library, self._obs_idx)
        was_single_class = self._single_class
        self._single_class = self._is_classifier and _single_class(labels)
        if self._single_class:
            estimator = DummyClassifier(strategy="prior")
            labels = _fill_missing_cells(labels)
        elif (
            self._warm_start() and hasattr(self, "estimator_") and not was_single_class
        ):
            # Continue from the previous round's model (e.g. a neural net's
            # weights) on a copy, so a failed refit leaves estimator_ intact.
            estimator = copy.deepcopy(self.estimator_)
        else:
            estimator = _seed_nested_random_states(clone(self.estimator), self._seed)
        try:
            return estimator.fit(X_obs, labels)
        except ValueError as exc:
            if labels.ndim == 2 and _nan_cells(labels).any():
                raise ValueError(
                    f"{exc} The measured labels have cells without a label (NaN), "
                    "which this model cannot fit: wrap it in "
                    "sklearn_isd.multioutput.MaskedMultiOutputClassifier (or "
                    "MaskedMultiOutputRegressor), which fits each output on the "
                    "rows where it has a label."
                ) from exc
            raise

    def _score_pool(self, estimator, inference):
        """Predict and score the inference set in chunks, through joblib."""
        use_proba = self._is_classifier and hasattr(estimator, "predict_proba")
        n_chunks = max(1, -(-inference.size // POOL_CHUNK_SIZE))
        chunks = np.array_split(inference, n_chunks)
        tasks = (
            delayed(_score_chunk)(
                estimator,
                _safe_indexing(self._library, chunk),
                self.acquisition_,
                use_proba,
                self._single_class,
                self._aggregate,
            )
            for chunk in chunks
        )
        if n_chunks == 1 or effective_n_jobs(self.n_jobs) == 1:
            # One worker (the default): run in this process, without the
            # dispatch of a Parallel call.
            results = [func(*args, **kwargs) for func, args, kwargs in tasks]
        else:
            results = Parallel(n_jobs=self.n_jobs)(tasks)
        pred, scores, confidence = (np.concatenate(part) for part in zip(*results))
        return inference, pred, scores, confidence

    def _refresh(self):
        """Refit on the measured labels and rescore the inference set if stale.

        Runs after each tell (rolled back with it if it fails) and after a
        saved campaign is loaded.
        """
        if not self._stale:
            return
        t0 = time.perf_counter()
        estimator = self._fit_estimator()
        t1 = time.perf_counter()
        inference = np.flatnonzero(~self.observed_mask_)
        shape = self._obs_y.shape[1:]
        if inference.size:
            pool = self._score_pool(estimator, inference)
        else:
            empty = np.empty((0, *shape), self._obs_y.dtype)
            pool = (inference, empty, np.empty(0), np.empty(0))
        t2 = time.perf_counter()

        dtype = np.result_type(self._obs_y.dtype, pool[1].dtype)
        transduction = np.empty((self._n, *shape), dtype=dtype)
        transduction[self._obs_idx] = self._obs_y
        transduction[inference] = pool[1]
        if shape:  # cells of measured items without a label are predicted
            gaps = _nan_cells(self._obs_y)
            rows = np.flatnonzero(gaps.any(axis=1))
            if rows.size:
                predicted = np.asarray(
                    estimator.predict(
                        _safe_indexing(self._library, self._obs_idx[rows])
                    )
                )
                filled = transduction[self._obs_idx[rows]]
                filled[gaps[rows]] = predicted[gaps[rows]]
                transduction[self._obs_idx[rows]] = filled

        self.estimator_ = estimator
        self.transduction_ = transduction
        self._pool = pool
        self._stale = False
        row = self._pending_row
        if row is None:  # a rebuild (e.g. after load): no new round to record
            return
        row.update(fit_time=t1 - t0, score_time=t2 - t1)
        if self._y_true is not None:
            row.update(self._true_scores(transduction))
        self.history_ = {
            key: np.append(values, row[key]) for key, values in self.history_.items()
        }
        self._pending_row = None
        if self.verbose:
            i = len(self.history_["n_observed"]) - 1
            write = print if self._bar is None else self._bar.write
            if i == 0:
                write(format_header(self.history_))
            write(format_round(self.history_, i))
            if self._bar is not None:
                self._bar.n = int(self.history_["n_observed"][i])
                self._bar.set_postfix(
                    bound=f"{self.history_['system_lower_bound'][i]:.4f}",
                    refresh=True,
                )
        if self.stop_ and self._single_class and self._is_classifier:
            warnings.warn(
                "The screen stopped having measured a single class; estimator_ "
                "is a DummyClassifier predicting it.",
                UserWarning,
                stacklevel=3,
            )

    def _true_scores(self, transduction):
        scores = self._scores_of(self._y_true, transduction, self.observed_mask_)
        for j, name in enumerate(self.output_names_ if self._n_outputs else ()):
            scores[f"system_score_{name}"] = self._column_score(transduction, j)
        return scores

    def _column_score(self, transduction, j):
        """True system score of one output (cells with a known truth)."""
        y = self._y_true[:, j]
        known = ~_nan_cells(y)
        return self._scores_of(
            y[known], transduction[known, j], self.observed_mask_[known]
        )["system_score"]

    def _scores_of(self, y, transduction, mask):
        if self._is_classifier or self.tolerance is not None:
            scores = {
                "system_score": _m.system_accuracy(
                    y, transduction, mask, tolerance=self.tolerance
                ),
                "inference_score": _m.inference_accuracy(
                    y, transduction, mask, tolerance=self.tolerance
                ),
            }
        else:
            scores = {
                "system_score": _m._system_r2(y, transduction, mask),
                "inference_score": _m._inference_r2(y, transduction, mask),
            }
        if not self._is_classifier:
            scores.update(
                system_mse=_m.system_mean_squared_error(y, transduction, mask),
                inference_mse=_m.inference_mean_squared_error(y, transduction, mask),
                system_mae=_m.system_mean_absolute_error(y, transduction, mask),
                inference_mae=_m.inference_mean_absolute_error(y, transduction, mask),
            )
        return scores

    def _run(self):
        """The loop of Algorithm 1, with a progress bar when verbose."""
        self._bar = progress_bar(self._n) if self.verbose else None
        try:
            return self._loop()
        finally:
            if self._bar is not None:
                self._bar.close()
            self._bar = None

    def _loop(self):
        """Ask, measure, tell, until the screen stops."""
        self._refresh()
        while not self.stop_:
            indices = self.ask()
            round_ = self.n_iter_
            if self.oracle is None:
                labels = self._y_true[indices]
            else:
                try:
                    labels = self.oracle(indices.copy())
                except Exception as exc:
                    raise OracleError(
                        f"The oracle failed on the batch of round {round_} "
                        f"({indices.size} items): {exc!r}. The screen keeps the "
                        f"{self._obs_idx.size} labels measured before; call "
                        "resume() to retry the batch."
                    ) from exc
            try:
                indices, labels = self._validate_batch(indices, labels)
            except (TypeError, ValueError) as exc:
                raise type(exc)(
                    f"The oracle returned invalid labels for the batch of round "
                    f"{round_}: {exc} The screen is unchanged; fix the oracle and "
                    "call resume()."
                ) from exc
            self._tell_validated(indices, labels)
        return self

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_library", None)  # the library is the user's data, not state
        return state

    def __sklearn_is_fitted__(self):
        return hasattr(self, "estimator_")

    # ------------------------------------------------------------------
    # Delegation to the fitted estimator
    # ------------------------------------------------------------------
    @property
    def classes_(self):
        """Classes known to ``estimator_``."""
        check_is_fitted(self)
        return self.estimator_.classes_

    @property
    def n_features_in_(self):
        """Number of features seen by ``estimator_`` (when it defines it)."""
        check_is_fitted(self)
        return self.estimator_.n_features_in_

    @property
    def feature_names_in_(self):
        """Feature names seen by ``estimator_`` (when it defines them)."""
        check_is_fitted(self)
        return self.estimator_.feature_names_in_

    @available_if(_estimator_has("predict"))
    def predict(self, X):
        """Predict new items with ``estimator_``.

        Parameters
        ----------
        X : indexable of shape (n_samples, ...)
            Items, in the form the estimator accepts.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Predictions.
        """
        check_is_fitted(self)
        return self.estimator_.predict(X)

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities of new items from ``estimator_``.

        Parameters
        ----------
        X : indexable of shape (n_samples, ...)
            Items, in the form the estimator accepts.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities, columns ordered as ``classes_``.
        """
        check_is_fitted(self)
        return self.estimator_.predict_proba(X)

    @available_if(_estimator_has("predict_log_proba"))
    def predict_log_proba(self, X):
        """Log class probabilities of new items from ``estimator_``.

        Parameters
        ----------
        X : indexable of shape (n_samples, ...)
            Items, in the form the estimator accepts.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Log-probabilities.
        """
        check_is_fitted(self)
        return self.estimator_.predict_log_proba(X)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X):
        """Decision function of ``estimator_`` on new items.

        Parameters
        ----------
        X : indexable of shape (n_samples, ...)
            Items, in the form the estimator accepts.

        Returns
        -------
        scores : ndarray
            As returned by ``estimator_.decision_function``.
        """
        check_is_fitted(self)
        return self.estimator_.decision_function(X)

    @available_if(_estimator_has("score"))
    def score(self, X, y):
        """Score of ``estimator_`` on new data (accuracy or R^2).

        Parameters
        ----------
        X : indexable of shape (n_samples, ...)
            Items, in the form the estimator accepts.
        y : array-like of shape (n_samples,)
            True labels.

        Returns
        -------
        score : float
            ``estimator_.score(X, y)``.
        """
        check_is_fitted(self)
        return self.estimator_.score(X, y)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator)
        tags.estimator_type = inner.estimator_type
        tags.classifier_tags = inner.classifier_tags
        tags.regressor_tags = inner.regressor_tags
        tags.input_tags.sparse = inner.input_tags.sparse
        tags.input_tags.string = inner.input_tags.string
        tags.input_tags.two_d_array = inner.input_tags.two_d_array
        tags.input_tags.allow_nan = inner.input_tags.allow_nan
        tags.input_tags.categorical = inner.input_tags.categorical
        tags.target_tags.required = True
        # A 2-d y makes a matrix screen, with a multi-output estimator.
        tags.target_tags.multi_output = inner.target_tags.multi_output
        tags.target_tags.single_output = True
        if tags.classifier_tags is not None:
            tags.classifier_tags.multi_label = False
        return tags
