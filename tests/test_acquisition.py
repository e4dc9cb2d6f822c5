import numpy as np
import pytest
from scipy.stats import entropy as scipy_entropy
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import (
    BaggingClassifier,
    BaggingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

from sklearn_isd import acquisition as acq
from sklearn_isd._pool import _top_k


class FixedProba:
    """A stand-in classifier returning given probabilities."""

    def __init__(self, proba):
        self.proba = np.asarray(proba, dtype=float)
        self.classes_ = np.arange(self.proba.shape[1])

    def predict_proba(self, X):
        return self.proba[: len(X)]


PROBA = [[0.9, 0.05, 0.05], [0.4, 0.35, 0.25], [0.5, 0.5, 0.0], [1 / 3, 1 / 3, 1 / 3]]


def test_uncertainty_scores_against_their_definitions():
    est, X = FixedProba(PROBA), np.zeros((4, 1))
    p = np.asarray(PROBA)
    np.testing.assert_allclose(acq.least_confidence(est, X), 1 - p.max(1))
    top = np.sort(p, axis=1)
    np.testing.assert_allclose(acq.margin(est, X), 1 - (top[:, -1] - top[:, -2]))
    np.testing.assert_allclose(acq.entropy(est, X), scipy_entropy(p, axis=1))
    # The uniform row is the most uncertain for all three (margin ties it
    # with the 50/50 row), the confident row the least.
    for score in (acq.least_confidence, acq.margin, acq.entropy):
        s = score(est, X)
        assert s[3] == s.max() and np.argmin(s) == 0
    np.testing.assert_array_equal(acq.random(est, X), 0)


def test_vote_entropy_counts_votes():
    class Votes:
        def predict_members(self, X):
            return np.array([[0, 0, 1], [0, 1, 2], [0, 1, 1], [0, 0, 2]])

    scores = acq.vote_entropy(Votes(), np.zeros((3, 1)))
    expected = [
        scipy_entropy([4]),  # all agree
        scipy_entropy([2, 2]),
        scipy_entropy([2, 2]),  # split between 1 and 2
    ]
    np.testing.assert_allclose(scores, expected)


def test_committee_scores_rank_the_ambiguous_region_first():
    """Members disagree where labels are random, agree where they are clean."""
    rng = np.random.default_rng(0)
    X = rng.uniform(-3, 3, size=(1500, 2))
    y = (X[:, 0] > 0).astype(int)
    noisy = np.abs(X[:, 0]) < 0.5
    y[noisy] = rng.integers(0, 2, noisy.sum())
    grid = np.c_[np.linspace(-3, 3, 61), np.zeros(61)]
    in_band = np.abs(grid[:, 0]) < 0.5
    for committee in (
        BaggingClassifier(DecisionTreeClassifier(), n_estimators=15, random_state=0),
        RandomForestClassifier(n_estimators=15, random_state=0),
    ):
        scores = acq.vote_entropy(committee.fit(X, y), grid)
        assert scores[in_band].mean() > 3 * scores[~in_band].mean() + 1e-9

    target = np.sin(X[:, 0]) + np.where(noisy, rng.normal(0, 1.0, len(X)), 0.0)
    for committee in (
        BaggingRegressor(Ridge(), n_estimators=10, random_state=0),
        RandomForestRegressor(n_estimators=15, random_state=0),
    ):
        committee.fit(X, target)
        spread = acq.std(committee, grid)
        assert spread.shape == (61,)
        assert (spread >= 0).all()
    forest = RandomForestRegressor(n_estimators=15, random_state=0).fit(X, target)
    spread = acq.std(forest, grid)
    assert spread[in_band].mean() > 2 * spread[~in_band].mean()


def test_member_predictions_through_pipeline_and_feature_subsets():
    X, y = make_classification(300, n_features=10, random_state=0)
    bag = make_pipeline(
        StandardScaler(),
        BaggingClassifier(
            LogisticRegression(), n_estimators=4, max_features=0.5, random_state=0
        ),
    ).fit(X, y)
    votes = acq.member_predictions(bag, X)
    assert votes.shape == (4, 300)
    inner = bag[-1]
    Xt = bag[0].transform(X)
    for m, f, v in zip(
        inner.estimators_, inner.estimators_features_, votes, strict=True
    ):
        np.testing.assert_array_equal(m.predict(Xt[:, f]), v)
    with pytest.raises(TypeError, match="not a committee"):
        acq.member_predictions(LogisticRegression().fit(X, y), X)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_std_uses_predictive_std_of_a_gaussian_process():
    X, y = make_regression(60, n_features=2, random_state=0)
    gp = GaussianProcessRegressor().fit(X, y)
    _, expected = gp.predict(X[:5] + 10, return_std=True)
    np.testing.assert_allclose(acq.std(gp, X[:5] + 10), expected)


def test_registry_and_auto_resolution():
    assert set(acq.ACQUISITION_FUNCTIONS) == {
        "least_confidence",
        "margin",
        "entropy",
        "vote_entropy",
        "std",
        "random",
    }
    assert acq.get_acquisition("auto", LogisticRegression()).name == "least_confidence"
    assert acq.get_acquisition("auto", BaggingRegressor(Ridge())).name == "std"
    assert acq.get_acquisition("auto", GaussianProcessRegressor()).name == "std"
    with pytest.raises(ValueError, match="BaggingRegressor"):
        acq.get_acquisition("auto", Ridge())
    custom = lambda est, X: np.ones(len(X))  # noqa: E731
    assert acq.get_acquisition(custom, Ridge()) is custom


def test_top_k_is_exact_and_breaks_ties_at_random():
    rng = np.random.default_rng(0)
    scores = rng.random(1000)
    top = _top_k(scores, 25, np.random.default_rng(1))
    np.testing.assert_array_equal(top, np.argsort(-scores)[:25])
    ties = np.r_[np.full(10, 2.0), np.ones(990)]
    draws = {
        tuple(sorted(_top_k(ties, 15, np.random.default_rng(s)))) for s in range(5)
    }
    for d in draws:
        assert set(range(10)) <= set(d)  # the strictly higher scores always win
    assert len(draws) > 1  # the remaining 5 are drawn at random among ties
    same = _top_k(ties, 15, np.random.default_rng(3))
    np.testing.assert_array_equal(same, _top_k(ties, 15, np.random.default_rng(3)))
