"""HybridScreenCV: a hybrid screen by inference set design (paper Algorithm 1).

The estimator holds its parameters, the campaign's setup (what it derived
from them once), the campaign's state (:mod:`sklearn_isd._state`) and the
model of the last round (:mod:`sklearn_isd._pool`). Every step builds a new
state and a new model and keeps them only once both succeeded, so a failed
step leaves the screen exactly as it was.
"""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin
from sklearn.utils import indexable

from ._delegate import DelegateToEstimatorMixin
from ._labels import (
    _check_groups,
    _check_library_labels,
    _missing,
    _nan_rows,
    _numeric_matrix,
    check_told_batch,
    check_told_indices,
)
from ._persist import (
    CampaignFileError,
    library_fingerprint,
    load_campaign,
    matches_fingerprint,
    save_campaign,
)
from ._pool import choose_batch, fit_round, hold_round, prereveal_scores
from ._state import CampaignState, history_keys, resolve_setup
from ._truth import readout_scores
from .stopping._monitor import make_rule
from .utils._compat import (
    HasMethods,
    Interval,
    StrOptions,
    _fit_context,
    _num_samples,
)
from .utils._display import print_round, progress_bar

__all__ = ["CampaignFileError", "HybridScreenCV", "OracleError"]


def _hold_start(held):
    """The round whose model is held: the first of the last run of holds."""
    run = held.size
    while run > 0 and held[run - 1]:
        run -= 1
    return run


class OracleError(RuntimeError):
    """The oracle failed on a batch; the screen is left as it was before it."""


def _state_property(name, doc):
    """A fitted attribute read from the campaign's state."""

    def get(self):
        self._check_started(library=False, error=AttributeError)
        return getattr(self._state, name)

    return property(get, doc=doc)


def _fitted_property(name, doc):
    """A fitted attribute read from the model of the last round."""

    def get(self):
        fitted = getattr(self, "_fitted", None)
        if fitted is None:
            raise AttributeError(
                f"{name}_ is not available yet: the screen has measured no label, "
                "or was loaded without its library (pass it to ask(X) or "
                "resume(X))."
            )
        return getattr(fitted, name)

    return property(get, doc=doc)


class HybridScreenCV(DelegateToEstimatorMixin, MetaEstimatorMixin, BaseEstimator):
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
        for regressors; a regressor that is no committee (e.g. ``Ridge()``)
        gets random batches and a warning. See :mod:`sklearn_isd.acquisition`.
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
    evidence_ : list of :class:`~sklearn_isd.stopping.Evidence`
        What the stopping rule received at each round, in order (each
        labelled cell one outcome in a matrix screen); what
        :func:`~sklearn_isd.stopping.replay_stopping` feeds to other rules.
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
        "stopping": [StrOptions({"kl", "ppi"}), HasMethods(["reset", "update"]), None],
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
        if self.oracle is None and self._setup.y_true is None:
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
        if not hasattr(self, "_state"):
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
        if self._state.stop and self._state.pending is None:
            raise ValueError(
                f"The screen has stopped ({self._state.termination_condition}): "
                "there is no next batch. Its readout is transduction_; to go on "
                "measuring, raise the target or the budget with extend(target=..., "
                "max_fraction=...)."
            )
        if self._state.pending is None:
            self._ensure_fitted()
            pool = None if self._fitted is None else self._fitted.pool
            self._state = self._state.propose(
                *choose_batch(self._setup, self._state, pool)
            )
        return self._state.pending.copy()

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
        self._ensure_fitted()  # a campaign just loaded: rebuild the model first
        labels = np.asarray(labels)
        if failed != "raise" and labels.ndim in (1, 2):
            indices = check_told_indices(indices, self._state)
            missing = None
            if labels.shape[:1] == indices.shape:
                missing = (
                    _missing(labels)
                    if labels.ndim == 1
                    else _nan_rows(_numeric_matrix(labels, "labels"))
                )
            if missing is not None and missing.any():
                failed_items = indices[missing]
                if not missing.all():
                    told = self._check_told(indices[~missing], labels[~missing])
                    self._tell_validated(*told)
                if failed == "exclude":
                    self.cancel(failed_items)
                return self
        indices, labels = self._check_told(indices, labels)
        return self._tell_validated(indices, labels)

    def extend(self, **params):
        """Go on with a screen that stopped, under a higher target or budget.

        The campaign keeps every label measured; the new parameters apply
        from now on, and the stopping rule is given the evidence of every
        round again under them (a certificate that no longer suffices is
        kept, not renewed). The next :meth:`ask` proposes a batch.

        Parameters
        ----------
        **params
            New values of ``target``, ``max_fraction``, ``stopping`` or
            ``delta``.

        Returns
        -------
        self : object
            The screen, no longer stopped (unless the new parameters stop it
            at once, e.g. a budget already spent).

        Raises
        ------
        ValueError
            For another parameter, a value the screen refuses, or a new
            ``target`` of another shape than the old one.
        """
        self._check_started(library=False)
        unknown = set(params) - {"target", "max_fraction", "stopping", "delta"}
        if unknown:
            raise ValueError(
                f"extend() takes target, max_fraction, stopping and delta; got "
                f"{sorted(unknown)}."
            )
        old = self.get_params(deep=False)
        self.set_params(**params)
        try:
            self._validate_params()
            setup, state = self._extended(self._state)
        except Exception:
            self.set_params(**{name: old[name] for name in params})
            raise
        self._setup = setup
        if state.held.size and state.held[-1] != self._state.held[-1]:
            self._fitted = None  # the model is refit (or held again) on ask
        self._state = state
        return self

    def _extended(self, state):
        """The setup and state of this campaign under the current parameters."""
        old = self._setup
        setup = self._campaign_setup(
            old.n_items, old.y_true, old.group_codes, seed=old.seed
        )
        outputs = state.output_names
        if outputs is None:
            rule = self._rule(setup, None)
        else:
            rule = self._rule(setup, outputs.size)
        names = outputs if state.n_outputs else None
        if list(state.history) != history_keys(setup, names):
            raise ValueError(
                "The new parameters change the columns of history_ (a target per "
                "output where there was one target, or the reverse)."
            )
        state = state.replace(rule=rule, termination_condition=None)
        state = state.with_rule_replayed(setup)
        held = state.held.copy()
        if held.size:
            held[-1] = bool(getattr(state.rule, "holds_model_", False))
        state = state.replace(held=held)
        decided = bool(state.rule is not None and setup.decides and state.rule.stop_)
        return setup, state.with_termination(setup, decided)

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
        pending = self._state.pending
        if pending is None or indices is None:
            self._state = self._state.cancel()
            return self
        indices = np.asarray(indices, dtype=np.intp)
        unknown = ~np.isin(indices, pending)
        if unknown.any():
            raise ValueError(
                f"indices {indices[unknown][:10].tolist()} are not pending; "
                f"the pending batch is {pending[:10].tolist()}..."
            )
        self._state = self._state.cancel(indices)
        return self

    # ------------------------------------------------------------------
    # Fitted attributes: views of the campaign's state and last model
    # ------------------------------------------------------------------
    observed_mask_ = _state_property("observed_mask", "Measured items (bool).")
    acquired_iter_ = _state_property("acquired_iter", "Round of each measurement.")
    prereveal_correct_ = _state_property(
        "prereveal_correct", "Correctness of the pre-reveal predictions."
    )
    audit_mask_ = _state_property("audit_mask", "Items acquired as audit items.")
    n_iter_ = _state_property("n_iter", "Batches acquired.")
    termination_condition_ = _state_property(
        "termination_condition", "Why the screen stopped, or None."
    )
    stop_ = _state_property("stop", "Whether the screen has stopped.")
    history_ = _state_property("history", "One entry per acquired batch.")
    estimator_ = _fitted_property("estimator", "The model of the last round.")
    transduction_ = _fitted_property("transduction", "The hybrid readout.")

    @property
    def stopping_(self):
        """The stopping criterion in use, with its state (None if none)."""
        self._check_started(library=False, error=AttributeError)
        return self._state.rule if self._setup.decides else None

    @property
    def acquisition_(self):
        """The resolved acquisition function."""
        self._check_started(library=False, error=AttributeError)
        return self._setup.acquisition

    @property
    def n_outputs_(self):
        """Outputs (columns) of the labels, once labels were seen."""
        return self._output_names().size

    @property
    def output_names_(self):
        """Names of the outputs, once labels were seen."""
        return self._output_names()

    @property
    def evidence_(self):
        """The :class:`~sklearn_isd.stopping.Evidence` of every round, in order."""
        self._check_started(library=False, error=AttributeError)
        return self._state.evidence(self._setup)

    def _output_names(self):
        names = getattr(getattr(self, "_state", None), "output_names", None)
        if names is None:
            raise AttributeError("The screen has seen no label yet.")
        return names

    # ------------------------------------------------------------------
    # Starting a campaign
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
        codes = None if groups is None else _check_groups(groups, n)
        setup = self._campaign_setup(n, y, codes, seed=None)
        state = CampaignState.new(setup, self._rule(setup, None))
        if y is not None:
            state = self._with_outputs(setup, state, y, names)
        self._setup, self._state, self._fitted = setup, state, None
        self._library, self._fingerprint = X, None

    def _campaign_setup(self, n, y, group_codes, seed):
        """What a campaign on ``n`` items derives from the parameters."""
        return resolve_setup(self.get_params(deep=False), n, y, group_codes, seed)

    def _rule(self, setup, n_outputs):
        return make_rule(
            self.stopping,
            self.target,
            self.delta,
            n_outputs=n_outputs,
            has_correctness=setup.has_correctness,
        )[0]

    def _with_outputs(self, setup, state, labels, names=None):
        """The state once the shape of the labels is known (first labels)."""
        n_outputs = labels.shape[1] if labels.ndim == 2 else None
        rule = self._rule(setup, n_outputs or 1)
        return state.with_outputs(setup, n_outputs, names, rule)

    def _check_started(self, library=True, error=ValueError):
        if not hasattr(self, "_state"):
            raise error("This screen has not started: call fit(X, y) or ask(X) first.")
        if library and getattr(self, "_library", None) is None:
            raise ValueError(
                "This screen does not hold its library (it was unpickled or "
                "loaded): pass it again with ask(X) or resume(X)."
            )

    def _attach(self, X):
        X = indexable(X)[0]
        n = _num_samples(X)
        if n != self._setup.n_items:
            raise ValueError(
                f"This screen runs on a library of {self._setup.n_items} items; got "
                f"X with {n}."
            )
        current = getattr(self, "_library", None)
        if X is current:
            return
        if self._fingerprint is None and current is not None:
            self._fingerprint = library_fingerprint(current)
        if self._fingerprint is not None and not matches_fingerprint(
            X, self._fingerprint
        ):
            raise CampaignFileError(
                "X is not the library of this campaign: its content differs "
                f"(its fingerprint is not {self._fingerprint[:24]}...). Pass the "
                "same library, rows in the same order."
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
        return save_campaign(
            path,
            screen=self,
            setup=self._setup,
            state=self._state,
            fingerprint=self._library_fingerprint(),
            metadata=metadata,
        )

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
        estimators=(),
        trusted=(),
    ):
        """Load a campaign saved by :meth:`save`.

        A campaign file is data, never code: its estimator is rebuilt from a
        spec that names estimator classes (of scikit-learn, sklearn-isd and
        skorch, or passed in ``estimators``) and JSON parameters, and loading
        it calls no function the file names.

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
        estimators : sequence of classes, default=()
            Your own estimator classes (or torch modules) that the saved spec
            names, e.g. ``estimators=[MyClassifier]``.
        trusted : sequence of str, default=()
            Extra module prefixes where the spec may look up estimator
            classes (subclasses of ``BaseEstimator`` only; a function is
            never admitted, whatever its module).

        Returns
        -------
        screen : HybridScreenCV
            The screen, in the state it was saved in. Given ``X``, its model
            is refit from the measured labels at once, so ``estimator_`` and
            ``transduction_`` are those of the screen that was saved;
            without it, on the first :meth:`tell` or :meth:`resume` after
            the library is passed.

        Raises
        ------
        CampaignFileError
            If the file is corrupted, of an unknown format version, or ``X``
            is not the campaign's library.
        """
        overrides = {
            "estimator": estimator,
            "acquisition": acquisition,
            "aggregate": aggregate,
            "stopping": stopping,
        }
        campaign = load_campaign(path, overrides, estimators, trusted)
        screen = cls(oracle=oracle, **campaign.params)
        try:
            screen._take_up(campaign)
        except (TypeError, ValueError, IndexError, KeyError) as exc:
            if isinstance(exc, CampaignFileError):
                raise
            raise CampaignFileError(
                f"{campaign.path}: its parameters and state cannot run together: {exc}"
            ) from None
        if X is not None:
            screen._attach(X)
            try:
                screen._ensure_fitted()
            except ValueError as exc:
                raise CampaignFileError(
                    f"{campaign.path}: the model cannot be refit on the campaign's "
                    f"measured labels and this library: {exc}"
                ) from exc
        return screen

    def _take_up(self, campaign):
        """Set this screen to the state of a campaign read from a file."""
        self._validate_params()
        setup = self._campaign_setup(
            campaign.n_items, campaign.y_true, campaign.group_codes, campaign.seed
        )
        state = CampaignState.new(setup, self._rule(setup, None))
        labels = campaign.labels_seen
        if labels is not None:
            state = self._with_outputs(setup, state, labels, campaign.output_names)
        self._setup = setup
        self._state = campaign.restore(setup, state)
        self._fitted = None
        self._library, self._fingerprint = None, campaign.fingerprint

    # ------------------------------------------------------------------
    # One round: commit the told batch, refit, record
    # ------------------------------------------------------------------
    def _check_told(self, indices, labels):
        return check_told_batch(indices, labels, self._state, self._setup.is_classifier)

    def _tell_validated(self, indices, labels, bar=None):
        """Commit a validated batch and refit; keep both only if both succeed."""
        setup, state = self._setup, self._state
        if state.output_names is None:  # the first labels of a campaign
            state = self._with_outputs(setup, state, labels)
        pool = None if self._fitted is None else self._fitted.pool
        prereveal, batch_scores = prereveal_scores(
            pool,
            indices,
            labels,
            is_classifier=setup.is_classifier,
            tolerance=setup.tolerance,
        )
        batch_scores["predicted_errors"] = float(np.sum(prereveal.predicted))
        state, bounds = state.commit(setup, indices, labels, prereveal)
        if state.held[-1]:
            fitted, times = self._hold_round(state, pool)
        else:
            fitted, times = self._fit_round(state)
        truth = {}
        if setup.y_true is not None:
            truth = readout_scores(
                setup.y_true,
                fitted.transduction,
                state.observed_mask,
                is_classifier=setup.is_classifier,
                tolerance=setup.tolerance,
                output_names=state.output_names if state.n_outputs else None,
            )
        row = state.history_row(
            n_batch=indices.size, scores={**batch_scores, **bounds, **times, **truth}
        )
        self._state, self._fitted = state.record(row), fitted
        self._report_round(bar)
        return self

    def _fit_round(self, state, before=None):
        """Refit on the measured labels and score the inference set."""
        return fit_round(
            self.estimator,
            self._setup,
            state,
            self._library,
            self._fitted,
            n_jobs=self.n_jobs,
            before=before,
        )

    def _hold_round(self, state, pool):
        """Keep the model the stopping rule holds (see ``_pool.hold_round``)."""
        return hold_round(
            self.estimator, self._setup, state, self._library, self._fitted, pool
        )

    def _ensure_fitted(self):
        """Rebuild the model of a campaign just loaded (or unpickled)."""
        state = self._state
        if self._fitted is not None or not state.observed_indices.size:
            return
        self._check_started()
        if not (state.held.size and state.held[-1]):
            self._fitted = self._fit_round(state)[0]
            return
        # The rule holds the model of the round the hold began at: refit it
        # on the labels measured before, then as in a held round.
        start = _hold_start(state.held)
        before = self._fit_round(state, before=start)[0]
        self._fitted = before
        self._fitted = self._hold_round(state, before.pool)[0]

    def _report_round(self, bar):
        """Print the round just recorded (verbose), warn of a one-class stop."""
        if self.verbose:
            print_round(self._state.history, bar)
        if self._state.stop and self._fitted.single_class and self._setup.is_classifier:
            warnings.warn(
                "The screen stopped having measured a single class; estimator_ "
                "is a DummyClassifier predicting it.",
                UserWarning,
                stacklevel=4,
            )

    def _run(self):
        """The loop of Algorithm 1, with a progress bar when verbose."""
        bar = progress_bar(self._setup.n_items) if self.verbose else None
        try:
            return self._loop(bar)
        finally:
            if bar is not None:
                bar.close()

    def _loop(self, bar):
        """Ask, measure, tell, until the screen stops."""
        self._ensure_fitted()
        while not self._state.stop:
            indices = self.ask()
            round_ = self._state.n_iter
            labels = self._measure(indices, round_)
            try:
                indices, labels = self._check_told(indices, labels)
            except (TypeError, ValueError) as exc:
                raise type(exc)(
                    f"The oracle returned invalid labels for the batch of round "
                    f"{round_}: {exc} The screen is unchanged; fix the oracle and "
                    "call resume()."
                ) from exc
            self._tell_validated(indices, labels, bar)
        return self

    def _measure(self, indices, round_):
        """Labels of a batch: from the oracle, or revealed from ``y``."""
        if self.oracle is None:
            return self._setup.y_true[indices]
        try:
            return self.oracle(indices.copy())
        except Exception as exc:
            raise OracleError(
                f"The oracle failed on the batch of round {round_} "
                f"({indices.size} items): {exc!r}. The screen keeps the "
                f"{self._state.observed_indices.size} labels measured before; call "
                "resume() to retry the batch."
            ) from exc

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_library", None)  # the library is the user's data, not state
        return state

    def __sklearn_is_fitted__(self):
        return getattr(self, "_fitted", None) is not None
