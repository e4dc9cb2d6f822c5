"""Behaviour of HybridScreenCV: the loop, its invariants and its errors."""

import copy
import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits, make_classification, make_regression
from sklearn.ensemble import BaggingRegressor, RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV, ShuffleSplit
from sklearn.svm import SVC

from sklearn_isd import HybridScreenCV, OracleError
from sklearn_isd.acquisition import least_confidence
from sklearn_isd.datasets import corrupt_labels
from sklearn_isd.metrics import make_screen_scorer, system_accuracy
from sklearn_isd.stopping import AuditBound, Budget, KLBound, kl_lower_bound


@pytest.fixture(scope="module")
def blobs():
    X, y = make_classification(
        n_samples=600, n_features=8, flip_y=0.05, class_sep=1.5, random_state=0
    )
    return X, y


@pytest.fixture(scope="module")
def noisy_digits():
    X, y = load_digits(return_X_y=True)
    y_noisy = corrupt_labels(y, [3, 8], random_state=0)
    return X / 16.0, y, y_noisy


def _screen(**kwargs):
    params = {"batch_size": 30, "random_state": 0}
    params.update(kwargs)
    return HybridScreenCV(LogisticRegression(), **params)


# ----------------------------------------------------------------------------
# The mechanism (paper Fig. 2-3)
# ----------------------------------------------------------------------------
def test_least_confidence_designs_an_easier_inference_set(noisy_digits):
    """With two digits' labels shuffled, least confidence prunes the noisy
    items from the inference set: higher inference accuracy than random at
    the same budget, and mislabelled images acquired at a higher rate."""
    X, y, y_noisy = noisy_digits
    mislabelled = y_noisy != y
    assert 0.05 < mislabelled.mean() < 0.15
    results = {}
    for acquisition in ("least_confidence", "random"):
        screen = HybridScreenCV(
            LogisticRegression(max_iter=200),
            acquisition=acquisition,
            batch_size=60,
            stopping=None,
            max_fraction=0.4,
            random_state=0,
        ).fit(X, y_noisy)
        assert screen.termination_condition_ == "max_fraction"
        results[acquisition] = screen
    active, random_ = results["least_confidence"], results["random"]
    np.testing.assert_array_equal(
        active.history_["n_observed"], random_.history_["n_observed"]
    )
    gain = (
        active.history_["inference_score"][-1] - random_.history_["inference_score"][-1]
    )
    assert gain > 0.08
    assert active.history_["system_score"][-1] > random_.history_["system_score"][-1]
    # Share of the mislabelled images that ended up measured.
    share_active = mislabelled[active.observed_mask_].sum() / mislabelled.sum()
    share_random = mislabelled[random_.observed_mask_].sum() / mislabelled.sum()
    assert share_active > 1.5 * share_random


# ----------------------------------------------------------------------------
# Determinism and the ask/tell loop
# ----------------------------------------------------------------------------
def test_same_random_state_same_screen(blobs):
    X, y = blobs
    a = _screen(random_state=3).fit(X, y)
    b = _screen(random_state=3).fit(X, y)
    c = _screen(random_state=4).fit(X, y)
    np.testing.assert_array_equal(a.acquired_iter_, b.acquired_iter_)
    np.testing.assert_array_equal(a.transduction_, b.transduction_)
    assert not np.array_equal(a.acquired_iter_, c.acquired_iter_)


def test_fit_equals_ask_tell_by_hand(blobs):
    X, y = blobs
    fitted = _screen(random_state=7).fit(X, y)
    manual = _screen(random_state=7)
    batches = []
    while True:
        batch = manual.ask(X)
        assert np.array_equal(batch, manual.ask())  # asking twice: same batch
        manual.tell(batch, y[batch])
        batches.append(batch)
        if manual.stop_:
            break
    np.testing.assert_array_equal(manual.acquired_iter_, fitted.acquired_iter_)
    np.testing.assert_array_equal(manual.transduction_, fitted.transduction_)
    assert manual.n_iter_ == fitted.n_iter_ == len(batches)
    assert manual.termination_condition_ == fitted.termination_condition_
    for key in ("n_observed", "batch_score", "system_lower_bound"):
        np.testing.assert_array_equal(manual.history_[key], fitted.history_[key])


def test_loop_picks_the_least_confident_items(blobs):
    """Independent recomputation of round 1: the batch is the top-b least
    confident items of a model trained on the initial batch."""
    X, y = blobs
    screen = _screen(stopping=None, max_fraction=0.2).fit(X, y)
    first = np.flatnonzero(screen.acquired_iter_ == 0)
    second = np.flatnonzero(screen.acquired_iter_ == 1)
    model = LogisticRegression().fit(X[first], y[first])
    rest = np.setdiff1d(np.arange(len(y)), first)
    scores = least_confidence(model, X[rest])
    expected = rest[np.argsort(-scores, kind="stable")[: second.size]]
    np.testing.assert_array_equal(np.sort(expected), second)


def test_invariants_between_rounds_budget_and_history(blobs):
    X, y = blobs
    screen = _screen(batch_size=0.05, initial_batch_size=50, stopping=None).fit(X, y)
    n = len(y)
    assert screen.termination_condition_ == "all_acquired"
    assert screen.observed_mask_.all() and (screen.acquired_iter_ >= 0).all()
    counts = np.bincount(screen.acquired_iter_)
    assert counts[0] == 50
    assert (counts[1:-1] == int(np.ceil(0.05 * n))).all()
    assert screen.n_iter_ == counts.size == screen.acquired_iter_.max() + 1
    h = screen.history_
    assert all(len(v) == screen.n_iter_ for v in h.values())
    np.testing.assert_array_equal(h["n_observed"], np.cumsum(counts))
    np.testing.assert_allclose(h["fraction_observed"], np.cumsum(counts) / n)
    assert np.isnan(h["batch_score"][0]) and not np.isnan(h["batch_score"][1:]).any()
    np.testing.assert_array_equal(screen.transduction_, y)  # all measured
    import pandas as pd

    frame = pd.DataFrame(h)
    assert frame.shape == (screen.n_iter_, len(h))


@pytest.mark.parametrize(
    ("n", "batch_size", "initial_batch_size", "max_fraction", "first", "size"),
    [
        (1000, 0.015, None, 0.1, 15, 15),  # exactly 15 items
        (1010, 0.015, None, 0.1, 16, 16),  # 15.15 items: rounded up
        (1010, 0.015, 0.0035, 0.1, 4, 16),  # 3.535 items: rounded up
        (300, 0.07, 0.03, 0.3, 9, 21),  # 21.000000000000004 in floats: still 21
    ],
)
def test_fractional_batch_sizes_are_rounded_up(
    n, batch_size, initial_batch_size, max_fraction, first, size
):
    X, y = make_classification(n_samples=n, n_features=5, random_state=0)
    screen = _screen(
        batch_size=batch_size,
        initial_batch_size=initial_batch_size,
        stopping=None,
        max_fraction=max_fraction,
    ).fit(X, y)
    assert screen.termination_condition_ == "max_fraction"
    budget = round(max_fraction * n)
    expected = [first]
    while sum(expected) < budget:
        expected.append(min(size, budget - sum(expected)))
    np.testing.assert_array_equal(screen.history_["n_batch"], expected)
    np.testing.assert_array_equal(
        np.bincount(screen.acquired_iter_[screen.observed_mask_]), expected
    )


def test_fractional_batch_sizes_of_a_grouped_library_count_groups():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(55), 3)  # 55 groups of 3 items
    X = rng.normal(size=(groups.size, 3))
    y = (X[:, 0] > 0).astype(int)
    screen = _screen(batch_size=0.1, stopping=None, max_fraction=0.5)
    screen.fit(X, y, groups=groups)
    # 5.5 groups: rounded up to 6 groups of 3 items, up to the 27 groups of
    # the budget (floor of 27.5).
    np.testing.assert_array_equal(screen.history_["n_batch"], [18, 18, 18, 18, 9])


def test_history_bounds_are_equation_5_and_6(blobs):
    """batch_score is the accuracy of the predictions made *before* the
    reveal, and the bounds follow from it (independent recomputation)."""
    X, y = blobs
    screen = _screen(target=0.97).fit(X, y)
    h = screen.history_
    for t in range(1, screen.n_iter_):
        observed_before = (screen.acquired_iter_ >= 0) & (screen.acquired_iter_ < t)
        batch = np.flatnonzero(screen.acquired_iter_ == t)
        model = LogisticRegression().fit(X[observed_before], y[observed_before])
        accuracy = np.mean(model.predict(X[batch]) == y[batch])
        assert h["batch_score"][t] == pytest.approx(accuracy)
        assert np.mean(screen.prereveal_correct_[batch]) == pytest.approx(accuracy)
        alpha = kl_lower_bound(accuracy, batch.size, 0.05)
        assert h["batch_lower_bound"][t] == pytest.approx(alpha)
        n_obs = h["n_observed"][t]
        bound = (n_obs + alpha * (len(y) - n_obs)) / len(y)
        assert h["system_lower_bound"][t] == pytest.approx(bound)
    assert h["system_lower_bound"][-1] > 0.97
    assert (h["system_lower_bound"][:-1] <= 0.97).all()
    assert screen.termination_condition_ == "target_reached"
    true_acc = system_accuracy(y, screen.transduction_, screen.observed_mask_)
    assert h["system_score"][-1] == pytest.approx(true_acc)


def test_zero_rounds_equals_the_plain_estimator(blobs):
    X, y = blobs
    screen = _screen(initial_batch_size=len(y)).fit(X, y)
    assert screen.n_iter_ == 1
    assert screen.termination_condition_ == "all_acquired"
    plain = LogisticRegression().fit(X, y)
    np.testing.assert_allclose(screen.predict_proba(X), plain.predict_proba(X))
    np.testing.assert_array_equal(screen.predict(X), plain.predict(X))
    assert screen.score(X, y) == plain.score(X, y)


@pytest.mark.parametrize(
    ("kwargs", "condition"),
    [
        ({"target": 0.9}, "target_reached"),
        ({"stopping": None, "max_fraction": 0.25}, "max_fraction"),
        ({"stopping": Budget(max_fraction=0.2)}, "max_fraction"),
        ({"stopping": None}, "all_acquired"),
        ({"target": 0.999999, "delta": 1e-6}, "all_acquired"),
    ],
)
def test_every_termination_condition(blobs, kwargs, condition):
    X, y = blobs
    screen = _screen(**kwargs).fit(X, y)
    assert screen.termination_condition_ == condition
    assert screen.stop_
    if condition == "max_fraction":
        fraction = kwargs.get("max_fraction") or kwargs["stopping"].max_fraction
        assert screen.observed_mask_.sum() == int(fraction * len(y))


def test_stopping_object_is_cloned_and_used_with_its_parameters(blobs):
    X, y = blobs
    rule = KLBound(target=0.8, delta=0.2)
    screen = _screen(stopping=rule, target=0.99).fit(X, y)
    assert screen.stopping_ is not rule and not hasattr(rule, "stop_")
    assert screen.history_["system_lower_bound"][-1] > 0.8
    assert screen.history_["system_lower_bound"][-1] < 0.99


def test_the_stopping_rule_is_in_place_from_the_first_ask(blobs):
    """stopping_ names the rule in use as soon as the campaign starts,
    before any label is told (and so does a campaign loaded at that point)."""
    X, _ = blobs
    screen = HybridScreenCV(
        LogisticRegression(), batch_size=20, target=0.9, delta=0.1, random_state=0
    )
    screen.ask(X)
    rule = screen.stopping_
    assert isinstance(rule, KLBound)
    assert (rule.target, rule.delta) == (0.9, 0.1)
    audit = AuditBound(target=0.8, audit_fraction=0.2)
    screen = HybridScreenCV(LogisticRegression(), batch_size=20, stopping=audit)
    screen.ask(X)
    assert isinstance(screen.stopping_, AuditBound)
    assert screen.stopping_.get_params() == audit.get_params()


# ----------------------------------------------------------------------------
# Inputs
# ----------------------------------------------------------------------------
def test_sparse_dataframe_and_string_labels(blobs):
    pd = pytest.importorskip("pandas")
    import scipy.sparse as sp

    X, y = blobs
    labels = np.array(["inactive", "active"], dtype=object)[y]
    dense = _screen().fit(X, labels)
    sparse = _screen().fit(sp.csr_matrix(X), labels)
    frame = _screen().fit(pd.DataFrame(X, columns=[f"f{i}" for i in range(8)]), labels)
    for other in (sparse, frame):
        np.testing.assert_array_equal(other.acquired_iter_, dense.acquired_iter_)
        np.testing.assert_array_equal(other.transduction_, dense.transduction_)
    assert set(dense.transduction_) == {"inactive", "active"}
    assert list(frame.feature_names_in_) == [f"f{i}" for i in range(8)]
    assert dense.n_features_in_ == 8


def test_single_class_first_batch_does_not_crash():
    X, y = make_classification(n_samples=400, weights=[0.97], random_state=0)
    screen = HybridScreenCV(
        LogisticRegression(),
        batch_size=10,
        stopping=None,
        max_fraction=0.5,
        random_state=0,
    ).fit(X, y)
    # The first batches hold only the majority class: constant predictions,
    # random batches; once the minority shows up the model takes over.
    assert np.unique(y[screen.acquired_iter_ == 0]).size == 1
    assert isinstance(screen.estimator_, LogisticRegression)
    assert screen.termination_condition_ == "max_fraction"


def test_single_class_library_predicts_that_class():
    X = np.random.default_rng(0).normal(size=(50, 3))
    y = np.ones(50, dtype=int)
    with pytest.warns(UserWarning, match="single class"):
        screen = _screen(batch_size=10, target=0.9).fit(X, y)
    np.testing.assert_array_equal(screen.predict(X), y)


def test_clone_and_get_params_round_trip(blobs):
    screen = _screen(acquisition="margin", target=0.9, tolerance=None)
    cloned = clone(screen)
    assert cloned.get_params()["acquisition"] == "margin"
    assert cloned.get_params(deep=True)["estimator__C"] == 1.0
    cloned.set_params(estimator__C=0.5, batch_size=0.1)
    assert cloned.estimator.C == 0.5 and screen.estimator.C == 1.0
    X, y = blobs
    fitted = cloned.fit(X, y)
    assert clone(fitted).get_params()["batch_size"] == 0.1
    assert not hasattr(clone(fitted), "estimator_")


def test_pickle_drops_the_library_and_resume_reattaches_it(blobs):
    X, y = blobs
    screen = _screen(stopping=None, max_fraction=0.1)
    batch = screen.ask(X)
    screen.tell(batch, y[batch])
    restored = pickle.loads(pickle.dumps(screen))
    assert not hasattr(restored, "_library")
    with pytest.raises(ValueError, match="does not hold its library"):
        restored.tell(restored.ask(), [])
    restored.ask(X)
    np.testing.assert_array_equal(restored.ask(), screen.ask())


def test_grid_search_ranks_strategies_by_labels_to_target(noisy_digits):
    X, _, y_noisy = noisy_digits
    search = GridSearchCV(
        HybridScreenCV(
            LogisticRegression(max_iter=200),
            batch_size=60,
            stopping=None,
            max_fraction=0.5,
            random_state=0,
        ),
        {"acquisition": ["random", "least_confidence"]},
        scoring=make_screen_scorer(target=0.9),
        cv=ShuffleSplit(n_splits=1, test_size=0.1, random_state=0),
    ).fit(X, y_noisy)
    assert search.best_params_ == {"acquisition": "least_confidence"}
    scores = search.cv_results_["mean_test_score"]
    assert -1.0 <= scores.min() < scores.max() < 0


# ----------------------------------------------------------------------------
# Regression screens
# ----------------------------------------------------------------------------
def test_regression_screen_with_tolerance_and_committee():
    X, y = make_regression(n_samples=500, n_features=5, noise=5.0, random_state=0)
    screen = HybridScreenCV(
        BaggingRegressor(Ridge(), n_estimators=5),
        tolerance=15.0,
        batch_size=25,
        target=0.9,
        random_state=0,
    ).fit(X, y)
    h = screen.history_
    for key in ("batch_mse", "system_mse", "inference_mae", "system_score"):
        assert key in h and len(h[key]) == screen.n_iter_
    assert screen.termination_condition_ == "target_reached"
    within = np.abs(screen.transduction_ - y) <= 15.0
    assert h["system_score"][-1] == pytest.approx(within.mean())


def test_regressor_kl_without_tolerance_is_a_clear_error():
    X, y = make_regression(n_samples=100, random_state=0)
    with pytest.raises(ValueError, match="tolerance"):
        HybridScreenCV(BaggingRegressor(Ridge())).fit(X, y)


def test_auto_acquisition_on_a_regressor_without_members_measures_at_random():
    """A single regressor has no spread: 'auto' says so and measures the
    batches 'random' would, so the default screen works (check_estimator)."""
    X, y = make_regression(n_samples=100, random_state=0)
    params = dict(tolerance=1.0, batch_size=10, max_fraction=0.5, random_state=0)
    with pytest.warns(UserWarning, match=r"random batches.*committee"):
        auto = HybridScreenCV(Ridge(), **params).fit(X, y)
    chosen = HybridScreenCV(Ridge(), acquisition="random", **params).fit(X, y)
    np.testing.assert_array_equal(auto.acquired_iter_, chosen.acquired_iter_)
    screen = HybridScreenCV(
        Ridge(), acquisition="random", stopping=None, max_fraction=0.3, batch_size=10
    ).fit(X, y)
    assert "inference_score" in screen.history_  # R^2 without tolerance


def test_tolerance_on_a_classifier_is_rejected(blobs):
    with pytest.raises(ValueError, match="regressors only"):
        _screen(tolerance=0.5).fit(*blobs)


# ----------------------------------------------------------------------------
# Bad input: clear errors, nothing lost
# ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"batch_size": 0}, r"batch_size.*range \[1, inf\).*\(0.0, 1.0\]"),
        ({"batch_size": -0.5}, r"batch_size"),
        ({"batch_size": 1.5}, r"batch_size"),
        ({"batch_size": 601}, r"batch_size=601 is larger than the library"),
        ({"initial_batch_size": 1000}, r"initial_batch_size=1000 is larger"),
        ({"target": 1.0}, r"target.*range \(0.0, 1.0\)"),
        ({"target": 0}, r"target"),
        ({"delta": 0.0}, r"delta.*range \(0.0, 1.0\)"),
        ({"delta": 1.2}, r"delta"),
        ({"max_fraction": 0}, r"max_fraction"),
        ({"stopping": "chernoff"}, r"stopping"),
        ({"acquisition": "uncertainty"}, r"Unknown acquisition 'uncertainty'"),
        ({"acquisition": "std"}, r"scores regressors"),
        ({"acquisition": "vote_entropy"}, r"needs a committee"),
    ],
)
def test_impossible_parameters_say_what_is_allowed(blobs, params, match):
    with pytest.raises(ValueError, match=match):
        _screen(**params).fit(*blobs)


@pytest.mark.parametrize(
    ("params", "groups", "message"),
    [
        (
            {"batch_size": 601},
            None,
            "batch_size=601 is larger than the library (600 items); pass an int in "
            "[1, 600] or a fraction in (0, 1].",
        ),
        (
            {"initial_batch_size": 201},
            np.arange(600) // 3,
            "initial_batch_size=201 is larger than the library (200 groups); pass "
            "an int in [1, 200] or a fraction in (0, 1].",
        ),
        (
            {"tolerance": 0.5},
            None,
            "tolerance applies to regressors only: a classifier's prediction is "
            "correct when it equals the label. Leave tolerance=None.",
        ),
    ],
)
def test_parameter_errors_in_full(blobs, params, groups, message):
    with pytest.raises(ValueError) as excinfo:
        _screen(**params).fit(*blobs, groups=groups)
    assert str(excinfo.value) == message


def test_a_fractional_batch_size_is_rounded_up_to_at_least_one_item(blobs):
    X, _ = blobs
    assert _screen(batch_size=1e-6).ask(X).size == 1
    assert _screen(batch_size=0.0101).ask(X).size == 7  # 6.06 items
    assert _screen(batch_size=0.01).ask(X).size == 6  # exactly 6: no rounding up


def test_a_tiny_max_fraction_still_measures_one_item(blobs):
    X, y = blobs
    with pytest.warns(UserWarning, match="single class"):
        screen = _screen(max_fraction=1e-6, batch_size=5, stopping=None).fit(X, y)
    assert screen.observed_mask_.sum() == 1
    assert screen.n_iter_ == 1
    assert screen.termination_condition_ == "max_fraction"


def test_least_confidence_needs_predict_proba(blobs):
    with pytest.raises(ValueError, match="needs predict_proba"):
        HybridScreenCV(SVC(), acquisition="least_confidence").fit(*blobs)


def test_y_none_without_oracle(blobs):
    with pytest.raises(ValueError, match="y is None.*oracle"):
        _screen().fit(blobs[0])


@pytest.mark.parametrize("missing", [np.nan, None])
def test_missing_labels_in_simulation(blobs, missing):
    X, y = blobs
    y = y.astype(object if missing is None else float)
    y[[3, 17]] = missing
    with pytest.raises(ValueError, match=r"2 missing labels at positions \[3, 17\]"):
        _screen().fit(X, y)


class FlakyOracle:
    """Returns the true labels, but misbehaves on one call."""

    def __init__(self, y, fail_on_call, mode):
        self.y, self.fail_on_call, self.mode, self.calls = y, fail_on_call, mode, 0

    def __call__(self, indices):
        self.calls += 1
        labels = self.y[indices].astype(float)
        if self.calls == self.fail_on_call:
            if self.mode == "raise":
                raise ConnectionError("plate reader offline")
            if self.mode == "short":
                return labels[:-1]
            if self.mode == "nan":
                labels[2] = np.nan
        return labels


def _state(screen):
    return {
        "observed": screen.observed_mask_.copy(),
        "acquired": screen.acquired_iter_.copy(),
        "n_iter": screen.n_iter_,
        "history": {k: v.copy() for k, v in screen.history_.items()},
        "transduction": screen.transduction_.copy(),
    }


@pytest.mark.parametrize(
    ("mode", "error", "match"),
    [
        ("raise", OracleError, "plate reader offline.*resume"),
        ("short", ValueError, "29 labels.*30 indices"),
        ("nan", ValueError, r"missing \(None or NaN\) at batch positions \[2\]"),
    ],
)
def test_failing_oracle_leaves_the_screen_as_before_and_resume_retries(
    blobs, mode, error, match
):
    X, y = blobs
    reference = _screen(stopping=None, max_fraction=0.3).fit(X, y)

    oracle = FlakyOracle(y, fail_on_call=4, mode=mode)
    screen = _screen(stopping=None, max_fraction=0.3, oracle=oracle)
    with pytest.raises(error, match=match):
        screen.fit(X)
    # Three batches were measured before the failure: all kept, nothing else.
    assert screen.n_iter_ == 3 and screen.observed_mask_.sum() == 90
    before = _state(screen)
    with pytest.raises(error):  # still failing -> still unchanged
        oracle.calls = 3
        screen.resume()
    after = _state(screen)
    for key in ("observed", "acquired", "transduction"):
        np.testing.assert_array_equal(before[key], after[key])
    assert before["n_iter"] == after["n_iter"]
    # The oracle works again: the screen finishes exactly like an
    # uninterrupted one.
    screen.resume()
    np.testing.assert_array_equal(screen.acquired_iter_, reference.acquired_iter_)
    np.testing.assert_array_equal(screen.transduction_, reference.transduction_)


def test_tell_validates_before_changing_anything(blobs):
    X, y = blobs
    screen = _screen()
    batch = screen.ask(X)
    screen.tell(batch, y[batch])
    state = _state(screen)
    nxt = screen.ask()
    bad_calls = [
        ((nxt[:3], y[nxt]), ValueError, "labels"),
        (
            (np.r_[nxt[:2], nxt[:1]], y[np.r_[nxt[:2], nxt[:1]]]),
            ValueError,
            "more than once",
        ),
        ((batch[:2], y[batch[:2]]), ValueError, "already measured"),
        ((np.array([10_000]), [1]), ValueError, "outside the library"),
        ((nxt.astype(float), y[nxt]), TypeError, "integer positions"),
    ]
    for args, error, match in bad_calls:
        with pytest.raises(error, match=match):
            screen.tell(*args)
        after = _state(screen)
        np.testing.assert_array_equal(after["observed"], state["observed"])
        assert after["n_iter"] == state["n_iter"]
    np.testing.assert_array_equal(screen.ask(), nxt)


class FailingSecondFit(LogisticRegression):
    fits = 0

    def fit(self, X, y):
        type(self).fits += 1
        if type(self).fits == 2:
            raise RuntimeError("solver crashed")
        return super().fit(X, y)


def test_refit_failure_rolls_the_tell_back(blobs):
    X, y = blobs
    FailingSecondFit.fits = 0
    screen = HybridScreenCV(FailingSecondFit(), batch_size=30, random_state=0)
    batch = screen.ask(X)
    screen.tell(batch, y[batch])
    before = _state(screen)
    bound = screen.stopping_.system_lower_bound_
    second = screen.ask()
    with pytest.raises(RuntimeError, match="solver crashed"):
        screen.tell(second, y[second])
    after = _state(screen)
    for key in ("observed", "acquired", "transduction"):
        np.testing.assert_array_equal(before[key], after[key])
    assert after["n_iter"] == 1 and len(screen.history_["n_observed"]) == 1
    assert screen.stopping_.system_lower_bound_ == bound
    assert np.isnan(screen.prereveal_correct_[second]).all()
    # The same tell, retried, goes through.
    np.testing.assert_array_equal(screen.ask(), second)
    screen.tell(second, y[second])
    assert screen.observed_mask_.sum() == 60 and screen.n_iter_ == 2


class RefusesClassTwo(LogisticRegression):
    """A model whose refit fails once a label of class 2 is measured."""

    def fit(self, X, y, sample_weight=None):
        if np.any(np.asarray(y) == 2):
            raise RuntimeError("class 2 cannot be fitted")
        return super().fit(X, y, sample_weight=sample_weight)


def _public_state(screen, X):
    """Every public fitted attribute of a screen, copied."""
    state = {
        name: copy.deepcopy(getattr(screen, name))
        for name in (
            "observed_mask_",
            "acquired_iter_",
            "prereveal_correct_",
            "audit_mask_",
            "transduction_",
            "history_",
            "n_iter_",
            "stop_",
            "termination_condition_",
        )
    }
    state["stopping_"] = {
        name: getattr(screen.stopping_, name)
        for name in ("batch_lower_bound_", "system_lower_bound_", "stop_", "n_rounds_")
    }
    state["predict_proba"] = screen.predict_proba(X)
    return state


@pytest.mark.parametrize("how", ["whole", "part", "retry", "exclude"])
def test_failed_refit_rolls_back_the_audit_items_and_every_fitted_attribute(blobs, how):
    X, y = blobs
    rule = AuditBound(target=0.999, audit_fraction=0.3, window=3)
    screen = HybridScreenCV(
        RefusesClassTwo(), batch_size=30, stopping=rule, random_state=0
    )
    for _ in range(2):
        batch = screen.ask(X)
        screen.tell(batch, y[batch])
    assert screen.audit_mask_.sum() == 9  # round 1 held 9 audit items
    batch = screen.ask()
    before = _public_state(screen, X)
    told = batch[::2] if how == "part" else batch
    labels = y[told].astype(float)
    failed = {"whole": "raise", "part": "raise"}.get(how, how)
    if how in ("retry", "exclude"):
        labels[1] = np.nan  # a failed well, next to the label that fails the fit
    poisoned = labels.copy()
    poisoned[0] = 2
    with pytest.raises(RuntimeError, match="class 2 cannot be fitted"):
        screen.tell(told, poisoned, failed=failed)
    np.testing.assert_equal(_public_state(screen, X), before)
    np.testing.assert_array_equal(screen.ask(), batch)
    # The same tell with good labels goes through; its items held audit
    # items, so the rollback above had audit items to undo.
    screen.tell(told, labels, failed=failed)
    assert screen.n_iter_ == 3
    assert screen.audit_mask_[told].any()
    assert screen.stopping_.n_rounds_ == before["stopping_"]["n_rounds_"] + 1


def test_bad_acquisition_callable_is_reported(blobs):
    with pytest.raises(ValueError, match="one score per item"):
        _screen(acquisition=lambda est, X: np.zeros(3)).fit(*blobs)
    with pytest.raises(ValueError, match="non-finite"):
        _screen(acquisition=lambda est, X: np.full(X.shape[0], np.nan)).fit(*blobs)


def test_custom_callable_and_committee_acquisitions(blobs):
    X, y = blobs
    calls = []

    def far_from_boundary(estimator, X_pool):
        calls.append(X_pool.shape[0])
        return np.abs(estimator.decision_function(X_pool))

    screen = _screen(acquisition=far_from_boundary, stopping=None, max_fraction=0.2)
    screen.fit(X, y)
    assert calls and calls[0] == len(y) - 30
    forest = HybridScreenCV(
        RandomForestClassifier(n_estimators=15),
        acquisition="vote_entropy",
        batch_size=30,
        target=0.9,
        random_state=0,
    ).fit(X, y)
    # The forest's random_state was left None: the screen seeded it.
    assert forest.estimator_.random_state is not None
    again = clone(forest).fit(X, y)
    np.testing.assert_array_equal(again.acquired_iter_, forest.acquired_iter_)


def test_oracle_with_y_records_true_scores(blobs):
    X, y = blobs
    noisy = y.copy()
    noisy[:20] = 1 - noisy[:20]
    screen = _screen(oracle=lambda idx: noisy[idx], stopping=None, max_fraction=0.2)
    screen.fit(X, y)  # labels from the (noisy) oracle, truth from y
    observed = np.flatnonzero(screen.observed_mask_)
    np.testing.assert_array_equal(screen.transduction_[observed], noisy[observed])
    assert "system_score" in screen.history_


def test_linear_regression_needs_committee_for_std():
    X, y = make_regression(n_samples=60, random_state=0)
    with pytest.raises(ValueError, match="needs the spread of a committee"):
        HybridScreenCV(LinearRegression(), acquisition="std", tolerance=1.0).fit(X, y)


# ----------------------------------------------------------------------------
# Real lab batches: plates, results in parts, failed wells
# ----------------------------------------------------------------------------
def test_results_in_parts_stay_pending_until_told(blobs):
    X, y = blobs
    screen = _screen(batch_size=96)  # a plate
    plate = screen.ask(X)
    screen.tell(plate[:40], y[plate[:40]])  # the first part comes back
    assert screen.n_iter_ == 1 and screen.observed_mask_.sum() == 40
    rest = screen.ask()
    np.testing.assert_array_equal(rest, plate[40:])  # not a new plate
    screen.tell(rest, y[rest])
    assert screen.observed_mask_.sum() == 96
    new = screen.ask()
    assert new.size == 96 and not screen.observed_mask_[new].any()


def test_cancel_releases_pending_items(blobs):
    X, y = blobs
    screen = _screen(batch_size=30)
    plate = screen.ask(X)
    screen.tell(plate[:10], y[plate[:10]])
    screen.cancel(plate[10:20])
    np.testing.assert_array_equal(screen.ask(), plate[20:])
    with pytest.raises(ValueError, match="not pending"):
        screen.cancel(plate[:5])  # already told
    screen.cancel()
    fresh = screen.ask()
    assert fresh.size == 30 and not screen.observed_mask_[fresh].any()
    assert screen.acquired_iter_[plate[10:]].max() == -1  # never counted


@pytest.mark.parametrize("policy", ["retry", "exclude"])
def test_failed_wells_are_never_labels(blobs, policy):
    X, y = blobs
    screen = _screen(batch_size=30)
    plate = screen.ask(X)
    labels = y[plate].astype(float)
    labels[[3, 7]] = np.nan  # two wells failed
    with pytest.raises(ValueError, match="missing"):
        screen.tell(plate, labels)  # the default policy: raise
    assert not screen.observed_mask_.any()
    screen.tell(plate, labels, failed=policy)
    assert screen.observed_mask_.sum() == 28
    assert not screen.observed_mask_[plate[[3, 7]]].any()
    nxt = screen.ask()
    if policy == "retry":
        np.testing.assert_array_equal(nxt, plate[[3, 7]])  # measured again
    else:
        assert nxt.size == 30  # released: a new batch is proposed
    with pytest.raises(ValueError, match="failed must be"):
        screen.tell(nxt, y[nxt], failed="ignore")


def test_ask_on_a_stopped_screen_refuses_and_extend_goes_on(tmp_path):
    X, y = make_classification(n_samples=800, random_state=0)
    screen = HybridScreenCV(
        LogisticRegression(), batch_size=40, target=0.9, random_state=0
    ).fit(X, y)
    assert screen.termination_condition_ == "target_reached"
    before = screen.acquired_iter_.copy()
    with pytest.raises(ValueError, match="has stopped .*extend"):
        screen.ask()
    np.testing.assert_array_equal(screen.acquired_iter_, before)  # nothing changed
    # A loaded finished campaign has its readout and can predict.
    path = screen.save(tmp_path / "done.isd.npz")
    loaded = HybridScreenCV.load(path, X)
    np.testing.assert_array_equal(loaded.transduction_, screen.transduction_)
    np.testing.assert_array_equal(loaded.predict(X), screen.predict(X))
    # A higher target: the KL bound of the last round no longer suffices.
    loaded.extend(target=0.99)
    assert not loaded.stop_ and loaded.get_params()["target"] == 0.99
    batch = loaded.ask()
    assert batch.size == 40 and not loaded.observed_mask_[batch].any()
    loaded.set_params(oracle=lambda idx: y[idx]).resume()
    assert loaded.stop_ and loaded.n_iter_ > screen.n_iter_
    assert loaded.history_["system_lower_bound"][-1] > 0.99 or (
        loaded.termination_condition_ != "target_reached"
    )
    np.testing.assert_array_equal(
        loaded.acquired_iter_[before >= 0], before[before >= 0]
    )
    with pytest.raises(ValueError, match="takes target, max_fraction"):
        loaded.extend(batch_size=10)
    with pytest.raises(ValueError, match="target"):
        loaded.extend(target=1.5)
    assert loaded.get_params()["target"] == 0.99  # a refused extend changes nothing
