import math

import numpy as np
import pytest
from scipy.optimize import brentq
from sklearn.base import clone

from sklearn_isd.stopping import Budget, KLBound, bernoulli_kl, kl_lower_bound


def _independent_kl_bound(mean, n, delta):
    """Eq. 5 solved by a scalar root finder on the written-out formula."""
    c = math.log(1 / delta) / n
    if mean == 0:
        return 0.0

    def kl(a):
        out = mean * math.log(mean / a)
        if mean < 1:
            out += (1 - mean) * math.log((1 - mean) / (1 - a))
        return out - c

    if kl(1e-300) <= 0:  # the whole [0, mean] is inside the budget
        return 0.0
    return brentq(kl, 1e-300, mean, xtol=1e-14, rtol=1e-14)


GRID = [
    (mean, n, delta)
    for mean in (0.0, 1e-3, 0.1, 0.5, 0.9, 0.95, 0.999, 1.0)
    for n in (1, 10, 50, 1000, 100_000)
    for delta in (1e-6, 0.01, 0.05, 0.5)
]


@pytest.mark.parametrize(("mean", "n", "delta"), GRID)
def test_kl_lower_bound_matches_independent_root_finding(mean, n, delta):
    expected = _independent_kl_bound(mean, n, delta)
    got = kl_lower_bound(mean, n, delta)
    assert got == pytest.approx(expected, abs=1e-9)
    assert 0.0 <= got <= mean
    # A valid lower bound: it never exceeds the exact solution by rounding.
    if got > 0:
        assert bernoulli_kl(mean, got) >= math.log(1 / delta) / n - 1e-9


def test_kl_lower_bound_vectorised_equals_scalar():
    means, ns, deltas = (np.array(v, dtype=float) for v in zip(*GRID, strict=True))
    vec = kl_lower_bound(means, ns, deltas)
    assert vec.shape == means.shape
    scalar = [kl_lower_bound(m, n, d) for m, n, d in GRID]
    np.testing.assert_allclose(vec, scalar, rtol=0, atol=1e-12)
    # Broadcasting over a grid of means for one (n, delta).
    assert kl_lower_bound(np.linspace(0, 1, 11), 50, 0.05).shape == (11,)


def test_kl_lower_bound_edges_closed_form():
    # mean = 1: KL(1, a) = -log a <= log(1/delta)/n  <=>  a >= delta**(1/n).
    for n in (1, 7, 200):
        assert kl_lower_bound(1.0, n, 0.05) == pytest.approx(0.05 ** (1 / n), rel=1e-12)
    assert kl_lower_bound(0.0, 10, 0.05) == 0.0
    # More evidence or a larger delta gives a tighter (higher) bound.
    assert kl_lower_bound(0.9, 1000, 0.05) > kl_lower_bound(0.9, 100, 0.05)
    assert kl_lower_bound(0.9, 100, 0.2) > kl_lower_bound(0.9, 100, 0.01)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mean": 1.2, "n": 10, "delta": 0.05}, "mean must lie in"),
        ({"mean": np.nan, "n": 10, "delta": 0.05}, "mean must lie in"),
        ({"mean": 0.5, "n": 0, "delta": 0.05}, "n must be positive"),
        ({"mean": 0.5, "n": 10, "delta": 1.0}, "delta must lie"),
        ({"mean": 0.5, "n": 10, "delta": 0.0}, "delta must lie"),
    ],
)
def test_kl_lower_bound_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        kl_lower_bound(**kwargs)


def test_kl_bound_covers_a_binomial_mean():
    """The bound of Eq. 5 fails with frequency <= delta on i.i.d. batches."""
    rng = np.random.default_rng(0)
    mu, n, delta = 0.9, 50, 0.05
    means = rng.binomial(n, mu, size=20_000) / n
    failures = np.mean(kl_lower_bound(means, n, delta) > mu)
    assert failures <= delta


def test_klbound_update_is_equation_6():
    rule = KLBound(target=0.9, delta=0.05).reset()
    correct = np.array([True] * 45 + [False] * 5)
    stop = rule.update(batch_correct=correct, n_observed=300, n_library=1000)
    alpha = kl_lower_bound(0.9, 50, 0.05)
    assert rule.batch_lower_bound_ == pytest.approx(alpha)
    assert rule.system_lower_bound_ == pytest.approx((300 + alpha * 700) / 1000)
    assert stop is (rule.system_lower_bound_ > 0.9)
    # Without a model (initial batch) only measured labels count.
    rule.update(batch_correct=None, n_observed=100, n_library=1000)
    assert np.isnan(rule.batch_lower_bound_)
    assert rule.system_lower_bound_ == pytest.approx(0.1)
    assert rule.stop_ is False


def test_klbound_stops_strictly_above_target():
    rule = KLBound(target=0.5, delta=0.05).reset()
    # Everything measured but half: bound exactly 0.5 with alpha = 0.
    assert not rule.update(
        batch_correct=np.zeros(10, bool), n_observed=500, n_library=1000
    )
    assert rule.update(batch_correct=np.zeros(10, bool), n_observed=501, n_library=1000)


def test_stopping_validates_parameters_on_reset():
    with pytest.raises(ValueError, match="target"):
        KLBound(target=1.5).reset()
    with pytest.raises(ValueError, match="max_fraction"):
        Budget(max_fraction=0).reset()


def test_budget_and_clone():
    rule = clone(Budget(max_fraction=0.3)).reset()
    assert not rule.update(batch_correct=None, n_observed=299, n_library=1000)
    assert rule.update(batch_correct=None, n_observed=300, n_library=1000)
    assert rule.system_lower_bound_ == pytest.approx(0.3)
    assert Budget.termination_condition == "max_fraction"
    assert KLBound.termination_condition == "target_reached"
    assert clone(KLBound(0.99, 0.01)).get_params() == {"target": 0.99, "delta": 0.01}
