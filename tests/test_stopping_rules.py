"""The stopping rules beyond the paper's: anytime, pooled and audit bounds."""

import math

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.stats import binomtest
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from sklearn_isd import HybridScreenCV
from sklearn_isd.acquisition import least_confidence
from sklearn_isd.stopping import (
    AnytimeKLBound,
    AuditBound,
    Budget,
    KLBound,
    PooledKLBound,
    clopper_pearson_lower_bound,
    kl_lower_bound,
    replay_stopping,
)


@pytest.fixture(scope="module")
def data():
    return make_classification(
        n_samples=2000, n_features=8, flip_y=0.02, class_sep=2.0, random_state=0
    )


@pytest.mark.parametrize("n", [1, 10, 200])
@pytest.mark.parametrize("k_frac", [0.0, 0.3, 0.9, 1.0])
@pytest.mark.parametrize("delta", [0.001, 0.05])
def test_clopper_pearson_matches_scipy_binomtest(n, k_frac, delta):
    k = int(round(k_frac * n))
    expected = (
        binomtest(k, n, alternative="greater")
        .proportion_ci(confidence_level=1 - delta, method="exact")
        .low
    )
    assert clopper_pearson_lower_bound(k / n, n, delta) == pytest.approx(
        expected, abs=1e-10
    )
    # Exact binomial is tighter than the Chernoff (KL) relaxation.
    assert (
        clopper_pearson_lower_bound(k / n, n, delta)
        >= kl_lower_bound(k / n, n, delta) - 1e-12
    )


def test_anytime_spends_delta_over_rounds_and_pools_a_window():
    rng = np.random.default_rng(0)
    batches = [rng.random(40) < 0.9 for _ in range(6)]
    anytime = AnytimeKLBound(target=0.99, delta=0.05).reset()
    pooled = PooledKLBound(target=0.99, delta=0.05, window=3).reset()
    paper = KLBound(target=0.99, delta=0.05).reset()
    n_obs = 100
    for t, batch in enumerate(batches, start=1):
        n_obs += 40
        for rule in (anytime, pooled, paper):
            rule.update(batch_correct=batch, n_observed=n_obs, n_library=1000)
        delta_t = 0.05 / (t * (t + 1))
        assert anytime.batch_lower_bound_ == pytest.approx(
            kl_lower_bound(batch.mean(), 40, delta_t)
        )
        window = np.concatenate(batches[max(0, t - 3) : t])
        assert pooled.batch_lower_bound_ == pytest.approx(
            kl_lower_bound(window.mean(), window.size, delta_t)
        )
        assert paper.batch_lower_bound_ == pytest.approx(
            kl_lower_bound(batch.mean(), 40, 0.05)
        )
        assert anytime.batch_lower_bound_ <= paper.batch_lower_bound_
    assert sum(0.05 / (t * (t + 1)) for t in range(1, 10_000)) < 0.05
    # The initial batch (no model) is no evidence and spends no delta.
    rule = AnytimeKLBound().reset()
    rule.update(batch_correct=None, n_observed=10, n_library=100)
    assert rule.n_rounds_ == 0 and np.isnan(rule.batch_lower_bound_)


def test_audit_items_are_uniform_and_drive_the_bound(data):
    X, y = data
    rule = AuditBound(target=0.97, delta=0.05, audit_fraction=0.2, window=3)
    screen = HybridScreenCV(
        LogisticRegression(), batch_size=100, stopping=rule, random_state=0
    ).fit(X, y)
    audited = screen.audit_mask_
    per_round = np.bincount(screen.acquired_iter_[audited])
    assert per_round[0] == 0  # the initial batch is random anyway: no audit
    assert (per_round[1:-1] == 20).all()
    # Audit items were not chosen by the score: refit the round-1 model and
    # compare their least-confidence scores with the acquired ones.
    first = screen.acquired_iter_ == 0
    model = LogisticRegression().fit(X[first], y[first])
    round1 = screen.acquired_iter_ == 1
    scores_audit = least_confidence(model, X[round1 & audited])
    scores_chosen = least_confidence(model, X[round1 & ~audited])
    assert scores_chosen.min() >= np.median(scores_audit)
    # The bound of the last round: Clopper-Pearson on the pooled audits of
    # the last 3 rounds at level delta / (t (t + 1)).
    t_last = screen.n_iter_ - 1
    rounds = range(t_last - 2, t_last + 1)
    pooled = np.concatenate(
        [
            screen.prereveal_correct_[(screen.acquired_iter_ == r) & audited]
            for r in rounds
        ]
    )
    delta_t = 0.05 / (t_last * (t_last + 1))
    alpha = clopper_pearson_lower_bound(pooled.mean(), pooled.size, delta_t)
    assert screen.history_["batch_lower_bound"][-1] == pytest.approx(alpha)
    assert screen.termination_condition_ == "target_reached"


@pytest.mark.parametrize(
    "rule",
    [
        KLBound(target=0.97),
        AnytimeKLBound(target=0.97),
        PooledKLBound(target=0.97),
        AuditBound(target=0.97, audit_fraction=0.2),
    ],
)
def test_replay_finds_the_round_the_rule_stopped_at(data, rule):
    X, y = data
    screen = HybridScreenCV(
        LogisticRegression(), batch_size=100, stopping=rule, random_state=0
    ).fit(X, y)
    assert replay_stopping(rule, screen) == screen.n_iter_ - 1


def test_replay_on_a_screen_run_to_the_end(data):
    X, y = data
    screen = HybridScreenCV(
        LogisticRegression(), batch_size=100, stopping=None, random_state=0
    ).fit(X, y)
    t_paper = replay_stopping(KLBound(target=0.97), screen)
    t_anytime = replay_stopping(AnytimeKLBound(target=0.97), screen)
    assert t_paper is not None and t_anytime >= t_paper
    h = screen.history_
    assert h["system_score"][t_paper] >= 0.97
    # Once everything is measured the bound is 1: any rule stops there.
    assert replay_stopping(KLBound(target=0.999999, delta=1e-9), screen) == 19
    partial = HybridScreenCV(
        LogisticRegression(),
        batch_size=100,
        stopping=None,
        max_fraction=0.5,
        random_state=0,
    ).fit(X, y)
    assert replay_stopping(KLBound(target=0.999999, delta=1e-9), partial) is None


def test_audit_campaign_survives_save_and_load(tmp_path, data):
    X, y = data
    params = dict(batch_size=100, stopping=AuditBound(target=0.97), random_state=0)
    reference = HybridScreenCV(LogisticRegression(), **params).fit(X, y)
    screen = HybridScreenCV(LogisticRegression(), **params)
    for _ in range(3):
        batch = screen.ask(X)
        screen.tell(batch, y[batch])
    screen.ask()
    loaded = HybridScreenCV.load(screen.save(tmp_path / "a.isd.npz"), X)
    assert loaded.stopping_.n_rounds_ == screen.stopping_.n_rounds_
    while not loaded.stop_:
        batch = loaded.ask()
        loaded.tell(batch, y[batch])
    np.testing.assert_array_equal(loaded.acquired_iter_, reference.acquired_iter_)
    np.testing.assert_array_equal(loaded.audit_mask_, reference.audit_mask_)


def _independent_kl_bound(mean, n, delta):
    """Eq. 5 solved by a scalar root finder on the written-out KL."""
    if mean == 0:
        return 0.0
    budget = math.log(1 / delta) / n

    def excess(a):
        out = mean * math.log(mean / a)
        if mean < 1:
            out += (1 - mean) * math.log((1 - mean) / (1 - a))
        return out - budget

    return brentq(excess, 1e-300, mean, xtol=1e-14, rtol=1e-14)


def _independent_cp_bound(k, n, delta):
    return (
        binomtest(int(k), n, alternative="greater")
        .proportion_ci(confidence_level=1 - delta, method="exact")
        .low
    )


ANYTIME_RULES = [
    AnytimeKLBound(delta=0.05),
    PooledKLBound(delta=0.05, window=2),
    AuditBound(delta=0.05, window=2),
]
RULE_IDS = ["anytime", "pooled", "audit"]


@pytest.mark.parametrize("rule", ANYTIME_RULES, ids=RULE_IDS)
def test_anytime_rules_stop_strictly_above_target(rule):
    """Eq. 6 stops on a bound *strictly* above target: a bound equal to it
    is not enough (closed form: all predictions wrong gives alpha = 0, so
    the bound is the measured share, 500 / 1000 = 0.5 exactly)."""
    rule = clone(rule).set_params(target=0.5).reset()
    wrong = np.zeros(10, bool)
    evidence = {"batch_correct": wrong, "audit_correct": wrong, "n_library": 1000}
    assert rule.update(n_observed=500, **evidence) is False
    assert rule.batch_lower_bound_ == 0.0
    assert rule.system_lower_bound_ == 0.5
    assert rule.stop_ is False
    assert rule.update(n_observed=501, **evidence) is True
    assert rule.stop_ is True


@pytest.mark.parametrize("rule", ANYTIME_RULES, ids=RULE_IDS)
def test_anytime_rules_do_not_stop_at_a_bound_equal_to_target(rule):
    """The same with a positive alpha: the target is set to the very float
    the rule computes (checked against an independent computation)."""
    rng = np.random.default_rng(0)
    rounds = [(rng.random(40) < 0.9, 100 + 40 * t) for t in (1, 2, 3)]

    def replay(target):
        criterion = clone(rule).set_params(target=target).reset()
        for correct, n_observed in rounds:
            stop = criterion.update(
                batch_correct=correct,
                audit_correct=correct[:8],
                n_observed=n_observed,
                n_library=1000,
            )
        return criterion, stop

    probe, _ = replay(0.5)
    bound = probe.system_lower_bound_
    # Independent computation of the last round (t = 3, delta / 12).
    delta_t = 0.05 / 12
    if isinstance(rule, AuditBound):
        pooled = np.concatenate([correct[:8] for correct, _ in rounds[-2:]])
        alpha = _independent_cp_bound(pooled.sum(), pooled.size, delta_t)
    else:
        pooled = np.concatenate([correct for correct, _ in rounds[-rule.window :]])
        alpha = _independent_kl_bound(pooled.mean(), pooled.size, delta_t)
    assert 0.3 < alpha < 0.95
    assert bound == pytest.approx((220 + alpha * 780) / 1000, abs=1e-9)

    at_target, stop = replay(bound)
    assert at_target.system_lower_bound_ == bound
    assert stop is False and at_target.stop_ is False
    just_below, stop = replay(np.nextafter(bound, 0.0))
    assert stop is True and just_below.stop_ is True


def test_rules_default_to_their_documented_parameters():
    assert PooledKLBound().get_params() == {"target": 0.95, "delta": 0.05, "window": 5}
    assert Budget().get_params() == {"max_fraction": 0.1}
    budget = Budget().reset()
    assert not budget.update(batch_correct=None, n_observed=99, n_library=1000)
    assert budget.update(batch_correct=None, n_observed=100, n_library=1000)


@pytest.mark.parametrize(
    "batch_size, expected", [(1, 1), (4, 1), (15, 2), (100, 10), (101, 10)]
)
def test_audit_size_is_a_share_of_the_batch_and_at_least_one_item(batch_size, expected):
    # round(0.4) = 0 would audit nothing: one item is audited all the same.
    assert AuditBound(audit_fraction=0.1).audit_size(batch_size) == expected


@pytest.mark.parametrize("method", ["kl", "clopper_pearson"])
def test_audit_bound_method_chooses_the_binomial_bound(method):
    rng = np.random.default_rng(1)
    audits = [rng.random(12) < 0.8 for _ in range(3)]
    rule = AuditBound(delta=0.05, window=2, method=method).reset()
    for t, audit in enumerate(audits, start=1):
        rule.update(
            batch_correct=np.ones(40, bool),  # never read by an audit rule
            audit_correct=audit,
            n_observed=100 * t,
            n_library=1000,
        )
    pooled = np.concatenate(audits[-2:])
    delta_t = 0.05 / 12  # round 3 of the anytime schedule
    if method == "kl":
        expected = _independent_kl_bound(pooled.mean(), pooled.size, delta_t)
    else:
        expected = _independent_cp_bound(pooled.sum(), pooled.size, delta_t)
    assert rule.batch_lower_bound_ == pytest.approx(expected, abs=1e-9)
    other = _independent_cp_bound if method == "kl" else _independent_kl_bound
    other_args = (pooled.sum() if method == "kl" else pooled.mean(), pooled.size)
    assert abs(rule.batch_lower_bound_ - other(*other_args, delta_t)) > 1e-3
