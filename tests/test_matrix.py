"""Matrix screens (items x outputs) and grouped libraries."""

import numpy as np
import pytest
from sklearn.datasets import make_multilabel_classification
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.multioutput import MultiOutputClassifier

from sklearn_isd import HybridScreenCV
from sklearn_isd.metrics import system_accuracy
from sklearn_isd.multioutput import (
    MaskedMultiOutputClassifier,
    MaskedMultiOutputRegressor,
)
from sklearn_isd.stopping import (
    AnytimeKLBound,
    AuditBound,
    Budget,
    StoppingCriterion,
    kl_lower_bound,
    round_evidence,
)


def _panel(n=3000, n_outputs=4, seed=0):
    X, Y = make_multilabel_classification(
        n_samples=n,
        n_features=20,
        n_classes=n_outputs,
        n_labels=2,
        random_state=seed,
    )
    return X, Y


def _model():
    return MultiOutputClassifier(LogisticRegression(max_iter=500))


def _first_reaching(history, target):
    reached = np.flatnonzero(history["system_score"] >= target)
    return history["n_observed_cells"][reached[0]] if reached.size else np.inf


@pytest.fixture(scope="module")
def qm9_panel():
    pytest.importorskip("rdkit")
    from sklearn_isd import MorganFingerprint
    from sklearn_isd.datasets import load_qm9_panel

    panel = load_qm9_panel(properties=("gap", "logp", "tpsa", "fsp3"))
    rows = np.random.default_rng(0).choice(panel.target.shape[0], 3000, False)
    X = MorganFingerprint(radius=2, n_bits=2048).fit_transform(panel.data[rows])
    return X, panel.target[rows]


def test_active_beats_random_on_qm9_property_matrix(qm9_panel):
    # The paper's mechanism over cells: acquiring the compounds the model is
    # least sure of (whole rows) leaves easier cells to predict.
    X, Y = qm9_panel
    screens = {
        acq: HybridScreenCV(
            _model(),
            acquisition=acq,
            batch_size=100,
            stopping=None,
            max_fraction=0.5,
            random_state=0,
        ).fit(X, Y)
        for acq in ("least_confidence", "random")
    }
    active, random = (screens[a].history_ for a in ("least_confidence", "random"))
    at_third = np.flatnonzero(active["fraction_observed"] >= 0.3)[0]
    assert active["system_score"][at_third] > random["system_score"][at_third] + 0.02
    assert _first_reaching(active, 0.95) < 0.8 * _first_reaching(random, 0.95)
    # Cells are the cost: every measured compound reveals its whole row.
    assert np.array_equal(active["n_observed_cells"], active["n_observed"] * 4)
    for name in screens["least_confidence"].output_names_:
        assert f"system_score_{name}" in active


def test_cell_bound_equals_independent_computation():
    X, Y = _panel()
    screen = HybridScreenCV(
        _model(), batch_size=60, target=0.97, delta=0.1, random_state=1
    ).fit(X, Y)
    h = screen.history_
    n_cells = Y.size
    for t in range(1, screen.n_iter_):
        cells = screen.prereveal_correct_[screen.acquired_iter_ == t].ravel()
        assert not np.isnan(cells).any()
        alpha = kl_lower_bound(cells.mean(), cells.size, 0.1)
        assert h["batch_lower_bound"][t] == pytest.approx(alpha)
        n_obs = h["n_observed"][t] * Y.shape[1]
        expected = (n_obs + alpha * (n_cells - n_obs)) / n_cells
        assert h["system_lower_bound"][t] == pytest.approx(expected)
        assert h["batch_score"][t] == pytest.approx(cells.mean())
    # The true system score is the accuracy over all cells.
    assert h["system_score"][-1] == pytest.approx(
        np.mean((screen.transduction_ == Y) | screen.observed_mask_[:, None])
    )
    # round_evidence (used by replay_stopping) pools the cells too.
    evidence = list(round_evidence(screen))
    assert evidence[-1]["n_library"] == n_cells
    assert evidence[-1]["n_observed"] == screen.observed_mask_.sum() * Y.shape[1]


def test_one_target_per_output_with_union_bound():
    X, Y = _panel(n_outputs=3)
    targets = [0.97, 0.9, 0.95]
    screen = HybridScreenCV(
        _model(), batch_size=50, target=targets, delta=0.06, random_state=0
    ).fit(X, Y)
    h = screen.history_
    assert screen.termination_condition_ == "target_reached"
    bounds = np.column_stack([h[f"system_lower_bound_{j}"] for j in "012"])
    for t in range(1, screen.n_iter_):
        told = screen.acquired_iter_ == t
        n_obs = (screen.acquired_iter_[screen.observed_mask_] <= t).sum()
        for j in range(3):
            cells = screen.prereveal_correct_[told, j]
            alpha = kl_lower_bound(cells.mean(), cells.size, 0.06 / 3)
            expected = (n_obs + alpha * (len(Y) - n_obs)) / len(Y)
            assert bounds[t, j] == pytest.approx(expected)
    reached = np.all(bounds > np.array(targets), axis=1)
    # Stops at the first round where every column passes its own target.
    assert reached[-1] and not reached[:-1].any()
    assert np.allclose(h["system_lower_bound"], bounds.min(axis=1))


def test_missing_cells_are_predicted_and_left_out_of_scores():
    X, Y = _panel(n_outputs=3)
    Y = Y.astype(float)
    rng = np.random.default_rng(0)
    holes = rng.random(Y.shape) < 0.1
    holes[holes.all(axis=1)] = False
    Y[holes] = np.nan
    screen = HybridScreenCV(
        MaskedMultiOutputClassifier(LogisticRegression(max_iter=500)),
        batch_size=100,
        stopping=None,
        max_fraction=0.3,
        random_state=0,
    ).fit(X, Y)
    h = screen.history_
    assert not np.isnan(screen.transduction_).any()
    # A measured cell without a label is neither evidence nor cost.
    measured = screen.observed_mask_[:, None] & ~holes
    assert h["n_observed_cells"][-1] == measured.sum()
    assert np.isnan(screen.prereveal_correct_[holes]).all()
    known = ~holes
    expected = np.mean(
        ((screen.transduction_ == Y) | screen.observed_mask_[:, None])[known]
    )
    assert h["system_score"][-1] == pytest.approx(expected)
    assert system_accuracy(Y, screen.transduction_, screen.observed_mask_) == (
        pytest.approx(expected)
    )


def _fixed_scores(table):
    """Acquisition returning fixed per-cell scores looked up by row id."""

    def score(estimator, X):
        return table[X[:, 0].astype(int)]

    return score


@pytest.mark.parametrize(
    "aggregate, reduce",
    [("mean", np.mean), ("max", np.max), (np.median, np.median)],
)
def test_aggregate_ranks_items_by_reduced_cell_scores(aggregate, reduce):
    rng = np.random.default_rng(0)
    n, k = 400, 5
    X = np.column_stack([np.arange(n), rng.normal(size=(n, 3))])
    Y = (X[:, 1:2] + rng.normal(size=(n, k)) > 0).astype(int)
    table = rng.random((n, k)) ** 3
    screen = HybridScreenCV(
        _model(),
        acquisition=_fixed_scores(table),
        aggregate=aggregate,
        batch_size=20,
        stopping=None,
        random_state=0,
    )
    first = screen.ask(X)
    screen.tell(first, Y[first])
    batch = screen.ask()
    inference = np.flatnonzero(~screen.observed_mask_)
    reduced = reduce(table[inference], axis=1)
    expected = inference[np.argsort(-reduced, kind="stable")[:20]]
    assert np.array_equal(batch, expected)


def test_groups_are_acquired_together():
    rng = np.random.default_rng(0)
    n_groups, per_group = 120, 4
    groups = np.repeat(np.arange(n_groups), per_group)
    n = groups.size
    X = np.column_stack([np.arange(n), rng.normal(size=(n, 3))])
    y = (X[:, 1] + 0.3 * rng.normal(size=n) > 0).astype(int)
    table = rng.random(n)
    screen = HybridScreenCV(
        LogisticRegression(),
        acquisition=lambda est, Xc: table[Xc[:, 0].astype(int)],
        aggregate="max",
        batch_size=10,
        stopping=None,
        max_fraction=0.25,
        random_state=0,
    ).fit(X, y, groups=groups)
    rounds = screen.acquired_iter_.reshape(n_groups, per_group)
    assert (rounds == rounds[:, :1]).all()  # a group shares its round
    per_round = np.bincount(rounds[rounds[:, 0] >= 0, 0])
    assert (per_round == 10).all()  # batch_size counts groups
    assert (rounds[:, 0] >= 0).sum() == 30  # max_fraction counts groups
    assert screen.termination_condition_ == "max_fraction"
    # Round 1 took the 10 groups with the highest max score.
    by_group = table.reshape(n_groups, per_group).max(axis=1)
    open_groups = np.flatnonzero(rounds[:, 0] != 0)
    top = open_groups[np.argsort(-by_group[open_groups])[:10]]
    assert set(np.flatnonzero(rounds[:, 0] == 1)) == set(top)


def test_mean_aggregate_ranks_groups_of_unequal_sizes_by_their_mean():
    """One group of 20 fairly confident items against single-item groups
    near the decision boundary: by the mean the single items go first; by
    the sum of its 20 scores the large group would."""
    rng = np.random.default_rng(0)
    n_single, n_large = 200, 20
    x = np.r_[rng.uniform(-3, 3, n_single), rng.uniform(0.8, 1.2, n_large)]
    X = np.column_stack([x, rng.normal(size=x.size)])
    y = (x + rng.normal(scale=0.8, size=x.size) > 0).astype(int)
    groups = np.r_[np.arange(n_single), np.full(n_large, n_single)]
    large = n_single
    screen = HybridScreenCV(
        LogisticRegression(),
        aggregate="mean",
        batch_size=5,
        initial_batch_size=30,
        stopping=None,
        random_state=0,
    )
    first = screen.ask(X, groups=groups)
    screen.tell(first, y[first])
    assert large not in groups[first]
    batch = screen.ask()
    # Independent recomputation: the model of the round, least confidence
    # per item, the mean per group, the 5 highest.
    observed = screen.observed_mask_
    model = LogisticRegression().fit(X[observed], y[observed])
    scores = 1.0 - model.predict_proba(X).max(axis=1)
    open_groups = np.unique(groups[~observed])
    means = np.array([scores[groups == g].mean() for g in open_groups])
    sums = np.array([scores[groups == g].sum() for g in open_groups])
    expected = open_groups[np.argsort(-means)[:5]]
    assert large not in expected
    assert open_groups[np.argmax(sums)] == large  # what a sum would pick first
    assert set(groups[batch]) == set(expected)
    assert batch.size == 5


@pytest.mark.parametrize(
    "aggregate, reduce",
    [("mean", np.mean), ("max", np.max), (np.median, np.median)],
)
def test_groups_are_ranked_by_the_aggregate_of_their_items(aggregate, reduce):
    """Groups of 1 to 5 items scattered over the library: the batch is the
    groups whose item scores reduce to the highest values, highest first,
    each group's items together (a callable aggregate included)."""
    rng = np.random.default_rng(1)
    groups = rng.permutation(np.repeat(np.arange(60), rng.integers(1, 6, size=60)))
    n = groups.size
    X = np.column_stack([np.arange(n), rng.normal(size=(n, 3))])
    y = (X[:, 1] + 0.3 * rng.normal(size=n) > 0).astype(int)
    table = rng.random(n)
    screen = HybridScreenCV(
        LogisticRegression(),
        acquisition=lambda est, Xc: table[Xc[:, 0].astype(int)],
        aggregate=aggregate,
        batch_size=8,
        initial_batch_size=10,
        stopping=None,
        random_state=0,
    )
    first = screen.ask(X, groups=groups)
    screen.tell(first, y[first])
    batch = screen.ask()
    open_groups = np.unique(groups[~screen.observed_mask_])
    reduced = np.array([reduce(table[groups == g]) for g in open_groups])
    expected = open_groups[np.argsort(-reduced)[:8]]
    in_batch = groups[batch]
    firsts = np.sort(np.unique(in_batch, return_index=True)[1])
    assert np.array_equal(in_batch[firsts], expected)  # highest first
    assert np.count_nonzero(np.diff(in_batch)) == expected.size - 1  # together
    assert batch.size == np.isin(groups, expected).sum()


def test_each_output_runs_the_rule_given_with_its_target_and_a_share_of_delta():
    X, Y = _panel(n=600, n_outputs=3)
    screen = HybridScreenCV(
        _model(),
        batch_size=30,
        target=[0.9, 0.8, 0.7],
        stopping=AnytimeKLBound(target=0.5, delta=0.09, window=2),
        random_state=0,
    )
    batch = screen.ask(X)
    screen.tell(batch, Y[batch])
    criteria = screen.stopping_.criteria_
    assert [type(c) for c in criteria] == [AnytimeKLBound] * 3
    assert [c.target for c in criteria] == [0.9, 0.8, 0.7]
    assert [c.delta for c in criteria] == pytest.approx([0.03] * 3)
    assert [c.window for c in criteria] == [2] * 3


class _TargetOnly(StoppingCriterion):
    """A rule with a target but no delta: it cannot share delta over outputs."""

    def __init__(self, target=0.9):
        self.target = target

    def update(self, *, batch_correct, n_observed, n_library, audit_correct=None):
        self.batch_lower_bound_ = self.system_lower_bound_ = np.nan
        return False


def test_a_target_per_output_needs_a_rule_with_target_and_delta():
    X, Y = _panel(n=300, n_outputs=2)
    screen = HybridScreenCV(
        _model(), batch_size=30, target=[0.9, 0.8], stopping=_TargetOnly()
    )
    batch = screen.ask(X)
    with pytest.raises(
        ValueError,
        match=r"^A target per output needs a stopping rule with target and delta "
        r"parameters; _TargetOnly has none\. Pass a float target, or "
        r"stopping='kl'\.$",
    ):
        screen.tell(batch, Y[batch])


def test_per_output_audit_bounds_read_the_audit_cells_of_their_output():
    """Each output's AuditBound sees the pre-reveal correctness of its own
    column on the audit items only (recomputed here from public attributes)."""
    X, Y = _panel(n=1200, n_outputs=3)
    params = dict(audit_fraction=0.25, delta=0.06, window=2)
    screen = HybridScreenCV(
        _model(),
        batch_size=40,
        target=[0.95, 0.95, 0.95],
        stopping=AuditBound(target=0.9, **params),
        random_state=0,
    )
    batch = screen.ask(X)
    for _ in range(4):
        screen.tell(batch, Y[batch])
        batch = screen.ask()
    history, acquired = screen.history_, screen.acquired_iter_
    for j, name in enumerate(screen.output_names_):
        own = AuditBound(target=0.95, **{**params, "delta": 0.02}).reset()
        for t in range(screen.n_iter_):
            told = acquired == t
            audit = screen.prereveal_correct_[told & screen.audit_mask_, j]
            own.update(
                batch_correct=None,
                audit_correct=None if t == 0 else audit == 1,
                n_observed=int(np.sum((acquired >= 0) & (acquired <= t))),
                n_library=len(Y),
            )
            bound = history[f"system_lower_bound_{name}"][t]
            assert bound == pytest.approx(own.system_lower_bound_, nan_ok=True)
        assert own.n_rounds_ == screen.n_iter_ - 1


def test_a_two_output_screen_records_cells_and_per_output_bounds():
    X, Y = _panel(n=300, n_outputs=2)
    screen = HybridScreenCV(_model(), batch_size=30, target=[0.9, 0.9])
    batch = screen.ask(X)
    screen.tell(batch, Y[batch])
    history = screen.history_
    assert history["n_observed_cells"].tolist() == [60]
    assert {"system_lower_bound_0", "system_lower_bound_1"} <= set(history)
    for key in ("n_observed", "n_batch", "n_observed_cells"):
        assert history[key].dtype.kind == "i", key  # counts stay integers
    one_target = HybridScreenCV(_model(), batch_size=30, target=0.9)
    batch = one_target.ask(X)
    one_target.tell(batch, Y[batch])
    assert "n_observed_cells" in one_target.history_
    assert not any(key.startswith("system_lower_bound_") for key in one_target.history_)


def test_matrix_campaign_save_load_continues_identically(tmp_path):
    X, Y = _panel(n=1200, n_outputs=3)
    groups = np.arange(len(Y)) // 2

    def make():
        return HybridScreenCV(
            _model(),
            batch_size=30,
            target=[0.95, 0.95, 0.95],
            stopping=AuditBound(audit_fraction=0.2, target=0.9, delta=0.05),
            random_state=3,
        )

    reference = make().fit(X, Y, groups=groups)
    screen = make()
    batch = screen.ask(X, groups=groups)
    for _ in range(4):
        screen.tell(batch, Y[batch])
        batch = screen.ask()
    screen.save(tmp_path / "m.isd.npz")
    loaded = HybridScreenCV.load(tmp_path / "m.isd.npz", X)
    while not loaded.stop_:
        batch = loaded.ask()
        loaded.tell(batch, Y[batch])
    assert np.array_equal(loaded.acquired_iter_, reference.acquired_iter_)
    assert np.array_equal(loaded.transduction_, reference.transduction_)
    assert np.array_equal(loaded.audit_mask_, reference.audit_mask_)
    for key in ("system_lower_bound", "system_lower_bound_2", "n_observed_cells"):
        assert np.allclose(loaded.history_[key], reference.history_[key])


def test_lab_rows_that_failed_entirely_are_retried():
    X, Y = _panel(n=600, n_outputs=3)
    screen = HybridScreenCV(_model(), batch_size=20, random_state=0)
    batch = screen.ask(X)
    labels = Y[batch].astype(float)
    labels[3, 1] = np.nan
    with pytest.raises(ValueError, match="MaskedMultiOutputClassifier"):
        screen.tell(batch, labels)  # the model cannot fit NaN cells
    assert screen.n_iter_ == 0 and not screen.observed_mask_.any()
    screen.set_params(estimator=MaskedMultiOutputClassifier(LogisticRegression()))
    labels = Y[batch].astype(float)
    labels[:3] = np.nan  # three wells failed on every target
    labels[3, 1] = np.nan  # one cell could not be measured
    with pytest.raises(ValueError, match="every column at batch positions"):
        screen.tell(batch, labels)
    assert screen.n_iter_ == 0 and not screen.observed_mask_.any()
    screen.tell(batch, labels, failed="retry")
    assert screen.n_outputs_ == 3
    assert np.array_equal(screen.ask(), batch[:3])
    assert screen.history_["n_observed_cells"][-1] == 17 * 3 - 1


def test_regression_matrix_with_committee_spread():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 4))
    Y = np.column_stack([X[:, 0] ** 2, np.sin(2 * X[:, 1]), X[:, 2]])
    screen = HybridScreenCV(
        RandomForestRegressor(n_estimators=10),
        batch_size=25,
        tolerance=0.3,
        stopping=None,
        max_fraction=0.2,
        random_state=0,
    ).fit(X, Y)
    assert screen.transduction_.shape == Y.shape
    assert {"system_mse", "system_score_2", "n_observed_cells"} <= set(screen.history_)
    assert screen.n_iter_ == 4


def test_masked_regressor_fits_each_output_on_its_rows():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    Y = np.column_stack([X[:, 0], 3 * X[:, 1]])
    Y[:50, 1] = np.nan
    from sklearn.linear_model import LinearRegression

    model = MaskedMultiOutputRegressor(LinearRegression()).fit(X, Y)
    assert np.allclose(model.estimators_[1].coef_, [0, 3], atol=1e-8)
    with pytest.raises(ValueError, match="no label"):
        MaskedMultiOutputRegressor(LinearRegression()).fit(X, np.full((200, 2), np.nan))


@pytest.mark.parametrize(
    "kwargs, y_change, match",
    [
        ({"target": [0.9, 0.9]}, None, "target holds 2 values"),
        ({"target": [0.9, 1.2, 0.9]}, None, r"Every target must be in \(0, 1\)"),
        ({"target": [0.9, 1.0, 0.9]}, None, r"Every target must be in \(0, 1\)"),
        ({"target": [0.0, 0.9, 0.9]}, None, r"Every target must be in \(0, 1\)"),
        (
            {"target": [[0.9, 0.9, 0.9]]},
            None,
            r"^target must be a float, or a 1-d array of one target per output "
            r"of a matrix screen; got shape \(1, 3\)\.$",
        ),
        ({"target": []}, None, r"^target must be a float, .*; got shape \(0,\)\.$"),
        ({"target": [0.9] * 3, "stopping": Budget(0.5)}, None, "target and delta"),
        ({}, "empty_row", "rows without any label"),
        ({}, "strings", "must be numbers"),
    ],
)
def test_matrix_errors(kwargs, y_change, match):
    X, Y = _panel(n=300, n_outputs=3)
    Y = Y.astype(object if y_change == "strings" else float)
    if y_change == "empty_row":
        Y[7] = np.nan
    if y_change == "strings":
        Y[0, 0] = "active"
    with pytest.raises(ValueError, match=match):
        HybridScreenCV(_model(), batch_size=30, **kwargs).fit(X, Y)


def test_tell_checks_matrix_shape_and_groups_length():
    X, Y = _panel(n=300, n_outputs=3)
    screen = HybridScreenCV(_model(), batch_size=30, random_state=0)
    batch = screen.ask(X)
    screen.tell(batch, Y[batch])
    batch = screen.ask()
    with pytest.raises(ValueError, match=r"pass shape \(30, 3\)"):
        screen.tell(batch, Y[batch][:, :2])
    with pytest.raises(ValueError, match="row of 3 labels per index"):
        screen.tell(batch, Y[batch, 0])
    with pytest.raises(ValueError, match="one group per item"):
        HybridScreenCV(_model()).fit(X, Y, groups=np.arange(10))


def test_callable_aggregate_is_asked_for_on_load(tmp_path):
    X, Y = _panel(n=300, n_outputs=3)
    screen = HybridScreenCV(_model(), aggregate=np.median, batch_size=30)
    batch = screen.ask(X)
    screen.tell(batch, Y[batch])
    screen.save(tmp_path / "c.isd.npz")
    with pytest.raises(ValueError, match="callable aggregate"):
        HybridScreenCV.load(tmp_path / "c.isd.npz", X)
    loaded = HybridScreenCV.load(tmp_path / "c.isd.npz", X, aggregate=np.median)
    assert np.array_equal(loaded.ask(), screen.ask())


def test_groups_are_fixed_when_the_campaign_starts():
    X, Y = _panel(n=300, n_outputs=3)
    groups = np.arange(300) // 3
    screen = HybridScreenCV(_model(), batch_size=5, random_state=0)
    batch = screen.ask(X, groups=groups)
    assert batch.size == 15 and np.unique(groups[batch]).size == 5
    with pytest.raises(ValueError, match="cannot change"):
        screen.ask(groups=groups)


def test_a_new_campaign_forgets_the_shape_of_the_last_labels():
    X, Y = _panel(n=300, n_outputs=3)
    screen = HybridScreenCV(_model(), batch_size=30, max_fraction=0.2, random_state=0)
    screen.fit(X, Y)
    assert screen.n_outputs_ == 3
    # Refit with an oracle and no y: the outputs are read from the labels.
    screen.set_params(oracle=lambda idx: Y[idx, :2]).fit(X)
    assert screen.n_outputs_ == 2 and screen.prereveal_correct_.shape == (300, 2)
    assert screen.transduction_.shape == (300, 2)
    screen.set_params(oracle=None)
    # And a 1-d screen after a matrix one.
    screen.set_params(estimator=LogisticRegression()).fit(X, Y[:, 0])
    assert screen.n_outputs_ == 1 and screen.transduction_.shape == (300,)
