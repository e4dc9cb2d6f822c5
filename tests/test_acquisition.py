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
        "bald",
        "diversity",
        "random",
    }
    assert acq.get_acquisition("auto", LogisticRegression()).name == "least_confidence"
    assert acq.get_acquisition("auto", BaggingRegressor(Ridge())).name == "std"
    assert acq.get_acquisition("auto", GaussianProcessRegressor()).name == "std"
    with pytest.warns(UserWarning, match="random batches.*BaggingRegressor"):
        assert acq.get_acquisition("auto", Ridge()).name == "random"
    with pytest.raises(ValueError, match="BaggingRegressor"):
        acq.get_acquisition("std", Ridge())  # asked for by name: no fallback
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


# ---------------------------------------------------------------------------
# BALD
# ---------------------------------------------------------------------------


def test_bald_equals_the_mutual_information_of_the_mc_dropout_samples():
    pytest.importorskip("torch")
    from sklearn_isd.neural import ResMLPClassifier

    X, y = make_classification(n_samples=300, n_features=8, random_state=0)
    clf = ResMLPClassifier(
        module__hidden_size=16,
        module__dropout=0.3,
        n_members=2,
        max_epochs=5,
        batch_size=64,
        random_state=0,
    ).fit(X, y)
    scores = acq.bald(clf, X[:50], n_passes=7, random_state=3)
    samples = clf.predict_proba_mc(X[:50], n_passes=7, random_state=3)
    draws = samples.reshape(14, 50, 2)  # 7 passes x 2 members
    mean = draws.mean(axis=0)
    total = -(mean * np.log(mean)).sum(axis=1)
    expected = total + (draws * np.log(draws)).sum(axis=2).mean(axis=0)
    np.testing.assert_allclose(scores, expected, rtol=1e-10, atol=1e-12)
    assert np.all(scores >= 0) and scores.max() > 0
    # The registry name: 5 passes, seeded by the net, hence reproducible.
    name = acq.get_acquisition("bald", clf)
    np.testing.assert_array_equal(name(clf, X[:50]), name(clf, X[:50]))
    np.testing.assert_allclose(name(clf, X[:50]), acq.bald(clf, X[:50], n_passes=5))
    # Through a pipeline.
    pipe = make_pipeline(StandardScaler(), clf).fit(X, y)
    assert acq.bald(pipe, X[:5]).shape == (5,)


def test_bald_needs_mc_dropout():
    pytest.importorskip("torch")
    from sklearn_isd.neural import ResMLPClassifier

    with pytest.raises(ValueError, match="Monte Carlo dropout"):
        acq.get_acquisition("bald", LogisticRegression())
    with pytest.raises(ValueError, match="Monte Carlo dropout"):
        acq.get_acquisition("bald", ResMLPClassifier(module__dropout=0.0))
    acq.get_acquisition("bald", make_pipeline(StandardScaler(), ResMLPClassifier()))
    with pytest.raises(TypeError, match="predict_proba_mc"):
        acq.bald(FixedProba(PROBA), np.zeros((4, 1)))


# ---------------------------------------------------------------------------
# Diversity
# ---------------------------------------------------------------------------


def _dense_tanimoto(A, B):
    A, B = (np.asarray(A) != 0).astype(float), (np.asarray(B) != 0).astype(float)
    inter = A @ B.T
    union = A.sum(1)[:, None] + B.sum(1)[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 1.0)


def test_diversity_is_one_minus_the_nearest_tanimoto(monkeypatch):
    import scipy.sparse as sp

    rng = np.random.default_rng(0)
    pool = (rng.random((60, 40)) < 0.2).astype(float)
    measured = (rng.random((25, 40)) < 0.2).astype(float)
    pool[0] = measured[3]  # a measured fingerprint again: distance 0
    pool[1] = 0.0  # an empty fingerprint
    sim = _dense_tanimoto(pool, measured)
    expected = 1 - sim.max(axis=1)
    # Several blocks of rows: 25 measured items x 8 rows per block.
    monkeypatch.setattr(acq._diversity, "_BLOCK_ENTRIES", 200)
    score = acq.get_acquisition("diversity").bind(None, sp.csr_matrix(measured))
    np.testing.assert_allclose(score(None, sp.csr_matrix(pool)), expected)
    assert score(None, pool)[0] == 0.0
    # Counts are binarised; dense input gives the same.
    counts = pool * rng.integers(1, 4, size=pool.shape)
    np.testing.assert_allclose(score(None, counts), expected)
    # Mean distance (the reference's agents) and cosine.
    mean = acq.Diversity(reduce="mean").bind(None, measured)(None, pool)
    np.testing.assert_allclose(mean, 1 - sim.mean(axis=1))
    cos = acq.Diversity(metric="cosine").bind(None, measured)(None, pool)
    norms = np.linalg.norm(pool, axis=1)[:, None] * np.linalg.norm(measured, axis=1)
    cos_sim = np.divide(
        pool @ measured.T, norms, out=np.zeros((60, 25)), where=norms > 0
    )
    np.testing.assert_allclose(cos, 1 - cos_sim.max(axis=1))
    # Nothing measured: every item is at distance 1.
    np.testing.assert_array_equal(acq.distance_to_set(pool, measured[:0]), 1.0)


def test_diversity_goes_through_the_pipeline_and_needs_bind():
    from sklearn.preprocessing import FunctionTransformer

    rng = np.random.default_rng(1)
    raw = rng.random((30, 12))
    binarize = FunctionTransformer(lambda X: (X > 0.7).astype(float))
    pipe = make_pipeline(binarize, LogisticRegression()).fit(raw, raw[:, 0] > 0.5)
    score = acq.Diversity().bind(pipe, raw[:10])
    expected = 1 - _dense_tanimoto(raw[10:] > 0.7, raw[:10] > 0.7).max(axis=1)
    np.testing.assert_allclose(score(pipe, raw[10:]), expected)
    with pytest.raises(ValueError, match="measured items"):
        acq.get_acquisition("diversity")(pipe, raw)
    with pytest.raises(ValueError, match="metric"):
        acq.distance_to_set(raw, raw, metric="euclidean")


# ---------------------------------------------------------------------------
# Mixture
# ---------------------------------------------------------------------------


class Scores:
    """A stand-in model whose ``predict_proba`` follows one feature."""

    classes_ = np.array([0, 1])

    def predict_proba(self, X):
        p = np.asarray(X)[:, 0]
        return np.column_stack([1 - p, p])


def test_mixture_batch_composition_matches_its_weights():
    rng = np.random.default_rng(0)
    X = rng.random((1000, 1))
    high = lambda est, X: np.asarray(X)[:, 0]  # noqa: E731  prefers large x
    low = lambda est, X: -np.asarray(X)[:, 0]  # noqa: E731  prefers small x
    order = np.argsort(-X[:, 0])
    for weights, b in [((0.8, 0.2), 200), ((0.5, 0.5), 100), ((0.3, 0.7), 50)]:
        mixture = acq.Mixture([(high, weights[0]), (low, weights[1])], random_state=0)
        batch = _top_k(mixture(None, X), b, np.random.default_rng(0))
        n_high = int(round(weights[0] * b))
        np.testing.assert_array_equal(
            np.sort(batch), np.sort(np.r_[order[:n_high], order[::-1][: b - n_high]])
        )


def test_mixture_with_random_is_top_least_confidence_plus_random_items():
    rng = np.random.default_rng(0)
    X = rng.random((2000, 1))
    lc = 1 - np.maximum(X[:, 0], 1 - X[:, 0])
    mixture = acq.Mixture([("least_confidence", 0.8), ("random", 0.2)])
    batches = []
    for seed in range(3):
        mixture.set_params(random_state=seed)
        scores = mixture(Scores(), X)
        np.testing.assert_array_equal(scores, mixture(Scores(), X))  # seeded
        batch = _top_k(scores, 200, np.random.default_rng(0))
        in_top = np.isin(batch, np.argsort(-lc)[:160])
        assert in_top.sum() == 160  # the 160 least confident items...
        # ...and 40 others, spread over the rest of the library.
        others = lc[batch[~in_top]]
        assert others.size == 40 and others.min() < np.median(lc)
        batches.append(set(batch[~in_top]))
    assert batches[0] != batches[1]


def test_mixture_in_a_screen_and_a_grid_search():
    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV

    from sklearn_isd import HybridScreenCV

    X, y = make_classification(n_samples=400, n_features=6, random_state=0)
    mixture = acq.Mixture([("least_confidence", 0.8), ("random", 0.2)], random_state=0)
    screen = HybridScreenCV(
        LogisticRegression(),
        acquisition=mixture,
        batch_size=20,
        stopping=None,
        max_fraction=0.3,
        random_state=0,
    )
    fitted = clone(screen).fit(X, y)
    again = clone(screen).fit(X, y)
    np.testing.assert_array_equal(fitted.acquired_iter_, again.acquired_iter_)
    assert screen.get_params()["acquisition__components"][0][1] == 0.8
    search = GridSearchCV(
        screen,
        {"acquisition__components": [[("least_confidence", 1.0)], mixture.components]},
        cv=2,
    ).fit(X, y)
    assert len(search.cv_results_["mean_test_score"]) == 2
    with pytest.raises(ValueError, match="positive"):
        acq.Mixture([("least_confidence", 0.0)])(Scores(), X)
    with pytest.raises(ValueError, match="not a classifier"):
        acq.get_acquisition(acq.Mixture([("margin", 1.0)]), Ridge())


def test_mixture_binds_its_components():
    rng = np.random.default_rng(0)
    X = (rng.random((100, 20)) < 0.3).astype(float)
    mixture = acq.Mixture(
        [("diversity", 0.5), ("least_confidence", 0.5)], random_state=0
    )
    bound = mixture.bind(None, X[:10])
    far = acq.distance_to_set(X[10:], X[:10])
    batch = _top_k(bound(Scores(), X[10:]), 20, np.random.default_rng(0))
    # Half the batch is the 10 items farthest from the measured set (ties at
    # the 10th distance broken at random): every item farther is in it.
    tenth = np.sort(far)[::-1][9]
    assert np.isin(np.flatnonzero(far > tenth), batch).all()
    assert np.sum(far[batch] >= tenth) >= 10


# ---------------------------------------------------------------------------
# Stochastic batches
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mode, beta", [("power", 1.0), ("power", 3.0), ("softmax", 2.0), ("softrank", 1.0)]
)
def test_sample_batch_inclusion_probabilities_are_exact(mode, beta):
    rng = np.random.default_rng(0)
    scores = rng.random(40) ** 2
    scores[:3] = [5.0, 4.0, 3.0]  # taken with certainty for strong tilts
    k = 8
    weights = acq._tilt(scores, mode, beta)
    pi = acq.inclusion_probabilities(weights, k)
    assert np.isclose(pi.sum(), k) and np.all(pi <= 1)
    free = pi < 1
    # Below the cap, pi is proportional to the tilted weight.
    ratio = pi[free] / weights[free]
    np.testing.assert_allclose(ratio, ratio[0])
    counts = np.zeros(40)
    n_draws = 4000
    for seed in range(n_draws):
        idx, probs = acq.sample_batch(
            scores, k, mode=mode, beta=beta, random_state=seed
        )
        assert idx.size == k and np.unique(idx).size == k
        np.testing.assert_allclose(probs, pi[idx])
        assert np.all(np.diff(scores[idx]) <= 0)  # highest score first
        counts[idx] += 1
    freq = counts / n_draws
    # Binomial error: 4 standard deviations.
    tol = 4 * np.sqrt(pi * (1 - pi) / n_draws) + 1e-12
    assert np.all(np.abs(freq - pi) <= tol), np.max(np.abs(freq - pi) / tol)


def test_sample_batch_limits():
    scores = np.arange(10.0)
    idx, pi = acq.sample_batch(scores, 4, beta=0.0, random_state=0)
    np.testing.assert_allclose(pi, 0.4)  # beta = 0: uniform
    idx, pi = acq.sample_batch(scores, 3, mode="softmax", beta=100.0, random_state=0)
    np.testing.assert_array_equal(idx, [9, 8, 7])  # a strong tilt: the top-k
    np.testing.assert_allclose(pi, 1.0)
    # Fewer positive weights than k: those, plus a uniform draw of the rest.
    zeros = np.r_[np.zeros(8), 1.0, 2.0]
    idx, pi = acq.sample_batch(zeros, 4, random_state=0)
    assert {8, 9} <= set(idx.tolist())
    np.testing.assert_allclose(np.sort(pi), [0.25, 0.25, 1, 1])
    a = acq.sample_batch(scores, 5, random_state=np.random.default_rng(3))
    b = acq.sample_batch(scores, 5, random_state=np.random.default_rng(3))
    np.testing.assert_array_equal(a[0], b[0])
    for bad in (dict(k=11), dict(k=2, mode="linear"), dict(k=2, beta=-1)):
        with pytest.raises(ValueError):
            acq.sample_batch(scores, **bad)


def test_stochastic_batch_top_one_is_a_draw_in_proportion_to_the_tilt():
    X = np.array([[0.1], [0.2], [0.3], [0.4]])
    tilted = acq.StochasticBatch(lambda est, X: np.asarray(X)[:, 0], beta=1.0)
    wins = np.zeros(4)
    for seed in range(4000):
        tilted.random_state = seed
        wins[np.argmax(tilted(None, X))] += 1
    np.testing.assert_allclose(wins / 4000, [0.1, 0.2, 0.3, 0.4], atol=0.03)
    # Reproducible with an int seed; zero weights come last.
    tilted.random_state = 0
    np.testing.assert_array_equal(tilted(None, X), tilted(None, X))
    zero = acq.StochasticBatch(lambda est, X: np.r_[0.0, 1.0, 2.0], random_state=0)
    assert np.argmin(zero(None, np.zeros((3, 1)))) == 0
    assert np.all(np.isfinite(zero(None, np.zeros((3, 1)))))


def test_stochastic_batch_in_a_screen():
    from sklearn_isd import HybridScreenCV

    X, y = make_classification(n_samples=400, n_features=6, random_state=0)
    screens = [
        HybridScreenCV(
            LogisticRegression(),
            acquisition=acq.StochasticBatch("least_confidence", random_state=seed),
            batch_size=40,
            stopping=None,
            max_fraction=0.3,
            random_state=0,
        ).fit(X, y)
        for seed in (0, 0, 1)
    ]
    np.testing.assert_array_equal(screens[0].acquired_iter_, screens[1].acquired_iter_)
    assert not np.array_equal(screens[0].acquired_iter_, screens[2].acquired_iter_)
    with pytest.raises(ValueError, match="mode"):
        acq.get_acquisition(acq.StochasticBatch(mode="linear"), LogisticRegression())


def test_diversity_in_a_screen_takes_the_farthest_items():
    from sklearn_isd import HybridScreenCV

    rng = np.random.default_rng(0)
    X = (rng.random((300, 30)) < 0.2).astype(float)
    y = (X[:, :5].sum(axis=1) > 1).astype(int)
    screen = HybridScreenCV(
        LogisticRegression(),
        acquisition="diversity",
        batch_size=10,
        stopping=None,
        max_fraction=0.2,
        random_state=0,
    ).fit(X, y)
    for round_ in range(1, screen.n_iter_):
        before = (screen.acquired_iter_ >= 0) & (screen.acquired_iter_ < round_)
        batch = np.flatnonzero(screen.acquired_iter_ == round_)
        pool = np.flatnonzero(~before)
        far = acq.distance_to_set(X[pool], X[before])
        tenth = np.sort(far)[::-1][9]
        chosen = far[np.isin(pool, batch)]
        assert chosen.min() >= tenth  # the batch is 10 of the farthest


def test_acquisition_objects_are_stored_in_a_campaign(tmp_path):
    from sklearn.base import clone

    from sklearn_isd import HybridScreenCV

    X, y = make_classification(n_samples=300, n_features=6, random_state=0)
    for acquisition in (
        acq.Mixture([("least_confidence", 0.8), ("random", 0.2)], random_state=0),
        acq.StochasticBatch("margin", mode="softmax", beta=3.0, random_state=1),
    ):
        screen = HybridScreenCV(
            LogisticRegression(),
            acquisition=acquisition,
            batch_size=30,
            stopping=None,
            max_fraction=0.3,
            random_state=0,
        )
        screen.ask(X)
        screen.tell(screen.ask(), y[screen.ask()])
        path = tmp_path / f"{type(acquisition).__name__}.isd.npz"
        screen.save(path)
        loaded = HybridScreenCV.load(path, X)
        assert repr(loaded.acquisition) == repr(acquisition)
        np.testing.assert_array_equal(loaded.ask(), screen.ask())
        assert repr(clone(acquisition)) == repr(acquisition)
