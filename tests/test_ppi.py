"""PredictionPoweredBound: exact audit bounds, the certificate, the screens it runs.

The bounds are checked against independent computations (a brute-force
inversion of the hypergeometric distribution) and by simulation (coverage);
the rule's certificate against a recomputation from a screen's public
attributes; and the rule on screens where the paper's rule fails (labels
confidently wrong), where it must keep its ``delta``.
"""

import numpy as np
import pytest
from scipy.stats import hypergeom
from sklearn.base import clone
from sklearn.datasets import make_classification, make_multilabel_classification
from sklearn.ensemble import BaggingRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.multioutput import MultiOutputClassifier

from sklearn_isd import HybridScreenCV
from sklearn_isd.stopping import (
    AuditPlan,
    Evidence,
    InferenceSet,
    KLBound,
    PredictionPoweredBound,
    betting_upper_bound,
    hypergeometric_upper_bound,
    replay_stopping,
)


# --------------------------------------------------------------------------
# The bounds
# --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "x, m, n, delta",
    [(0, 10, 50, 0.05), (3, 10, 50, 0.05), (10, 10, 50, 0.1), (7, 40, 400, 0.01)],
)
def test_hypergeometric_bound_equals_a_brute_force_inversion(x, m, n, delta):
    # The largest K a draw of x wrong in m does not reject: P(X <= x | K) > delta.
    not_rejected = [K for K in range(n + 1) if hypergeom.cdf(x, n, K, m) > delta]
    assert hypergeometric_upper_bound(x, m, n, delta) == max(not_rejected)


def test_hypergeometric_bound_covers_at_its_level():
    rng = np.random.default_rng(0)
    n, K, m, delta = 2000, 90, 150, 0.1
    population = np.zeros(n, dtype=bool)
    population[:K] = True
    fails = 0
    for _ in range(2000):
        x = int(population[rng.choice(n, m, replace=False)].sum())
        fails += hypergeometric_upper_bound(x, m, n, delta) < K
    # At most delta (the discreteness makes it smaller), with binomial slack.
    assert fails / 2000 <= delta
    with pytest.raises(ValueError, match="n_wrong <= n_drawn"):
        hypergeometric_upper_bound(5, 3, 10, 0.05)


def test_betting_bound_covers_bounded_totals_without_replacement():
    rng = np.random.default_rng(1)
    n, delta = 1500, 0.1
    values = rng.choice([0.0, 0.25, 0.5, 1.0], size=n, p=[0.85, 0.08, 0.05, 0.02])
    total = values.sum()
    bounds = np.array(
        [
            betting_upper_bound(values[rng.choice(n, 120, replace=False)], n, delta)
            for _ in range(400)
        ]
    )
    assert np.mean(bounds < total) <= delta
    assert np.all(bounds <= n) and np.median(bounds) < 3 * total
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        betting_upper_bound([1.5], 10, 0.1)


# --------------------------------------------------------------------------
# The rule, fed evidence by hand
# --------------------------------------------------------------------------
def _audit_round(n_library, n_inference, audit_errors, batch_wrong, held=False):
    audit = np.asarray(audit_errors)
    batch = np.concatenate([np.zeros(batch_wrong, bool), np.ones(50, bool)])
    return Evidence(
        batch_correct=np.concatenate([batch, audit == 0]),
        audit_correct=audit == 0,
        n_observed=n_library - n_inference + batch.size + audit.size,
        n_library=n_library,
        n_inference=n_inference,
        audit_unit_errors=audit,
        held=held,
    )


def test_certificate_is_the_exact_bound_less_the_measured_errors():
    rule = PredictionPoweredBound(target=0.9, delta=0.05, spend=0.1).reset()
    audit = np.zeros(400, dtype=int)
    audit[:12] = 1  # 12 wrong among 400 audited units
    evidence = _audit_round(10_000, 8_000, audit, batch_wrong=30)
    stop = rule.update(evidence)
    upper = hypergeometric_upper_bound(12, 400, 8_000, 0.05 * 0.9)
    removed = 30 + 12  # the batch's and the audit's wrong predictions
    expected = 1 - (upper - removed) / 10_000
    assert rule.system_lower_bound_ == pytest.approx(expected)
    assert rule.batch_lower_bound_ == pytest.approx(1 - upper / 8_000)
    assert stop == (expected > 0.9) and rule.n_audits_ == 1


def test_a_bound_equal_to_the_target_does_not_stop():
    audit = np.zeros(400, dtype=int)
    audit[:12] = 1
    evidence = _audit_round(10_000, 8_000, audit, batch_wrong=30)
    bound = PredictionPoweredBound(target=0.5).reset()
    bound.update(evidence)
    at = PredictionPoweredBound(target=bound.system_lower_bound_).reset()
    assert not at.update(evidence)
    below = np.nextafter(bound.system_lower_bound_, 0)
    assert PredictionPoweredBound(target=below).reset().update(evidence)


def test_held_batches_close_the_certificate_without_another_audit():
    # 10,000 items, target 0.97: at most 300 wrong in the readout.
    rule = PredictionPoweredBound(target=0.97, delta=0.05, max_hold=2).reset()
    audit = np.zeros(500, dtype=int)
    audit[:20] = 1
    upper = hypergeometric_upper_bound(20, 500, 9_000, 0.045)
    assert not rule.update(_audit_round(10_000, 9_000, audit, batch_wrong=60))
    gap = upper - 80 - 300
    assert gap > 0 and rule.holds_model_  # held: the next batches count
    held = Evidence(
        batch_correct=np.concatenate([np.zeros(gap // 2 + 1, bool), np.ones(9, bool)]),
        audit_correct=None,
        n_observed=2_000,
        n_library=10_000,
        held=True,
    )
    assert not rule.update(held) and rule.holds_model_
    assert rule.update(held)  # the errors measured since close the gap
    assert rule.n_audits_ == 1
    assert rule.system_lower_bound_ == pytest.approx(
        1 - (upper - 80 - 2 * (gap // 2 + 1)) / 10_000
    )


def test_a_far_audit_releases_the_model_and_the_next_one_spends_less():
    rule = PredictionPoweredBound(target=0.97, delta=0.05, spend=0.1).reset()
    audit = np.zeros(500, dtype=int)
    audit[:60] = 1  # far above the target: no few held batches close this
    assert not rule.update(_audit_round(10_000, 9_000, audit, batch_wrong=5))
    assert not rule.holds_model_
    assert rule.system_lower_bound_ == pytest.approx(1_555 / 10_000)  # trivial
    audit[:60] = 0
    rule.update(_audit_round(10_000, 7_000, audit, batch_wrong=5))
    upper = hypergeometric_upper_bound(0, 500, 7_000, 0.05 * 0.9 * 0.1)
    assert rule.batch_lower_bound_ == pytest.approx(1 - upper / 7_000)


def test_the_plan_audits_only_near_the_target():
    rule = PredictionPoweredBound(target=0.9).reset()
    far = InferenceSet(
        n_units=2_000,
        batch_size=50,
        error_probability=np.full(2_000, 0.4),
        units=None,
        unit_size=1,
        n_outputs=1,
        n_observed=0,
        n_library=2_000,
    )
    assert rule.plan(far) == AuditPlan(0, within_batch=False)
    r = np.concatenate([np.full(100, 0.3), np.full(1_900, 0.001)])
    near = InferenceSet(2_000, 50, r, None, 1, 1, 0, 2_000)
    plan = rule.plan(near)
    assert 0 < plan.n_audit <= 500 and not plan.within_batch
    assert PredictionPoweredBound().reset().plan(
        InferenceSet(2_000, 50, None, None, 1, 1, 0, 2_000)
    ) == AuditPlan(0, within_batch=False)  # no probabilities, no batch yet


def test_no_audit_is_planned_on_an_inference_set_too_small_for_one():
    """Fewer than 4 units left: a quarter holds no unit, so no audit is
    planned, and sizing one divides by nothing (no RuntimeWarning)."""
    import warnings

    rule = PredictionPoweredBound(target=0.5).reset()
    for n in (2, 3, 4):
        inference = InferenceSet(n, 1, np.full(n, 0.01), None, 1, 1, 100, 100 + n)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            plan = rule.plan(inference)
        assert plan.n_audit == (1 if n == 4 else 0)


def test_parameters_are_validated_on_reset():
    with pytest.raises(ValueError, match="spend"):
        PredictionPoweredBound(spend=1.5).reset()
    assert clone(PredictionPoweredBound(power=0.6)).get_params()["power"] == 0.6


# --------------------------------------------------------------------------
# Screens
# --------------------------------------------------------------------------
def _blobs(n=3000, seed=0, flip=0.02):
    return make_classification(
        n_samples=n, n_features=10, n_informative=5, flip_y=flip, random_state=seed
    )


def _audit_rounds(screen):
    rounds = np.unique(screen.acquired_iter_[screen.audit_mask_])
    return rounds[rounds >= 0]


def test_a_screen_certifies_and_its_bound_is_recomputed_from_public_attributes():
    X, y = _blobs(seed=3)
    screen = HybridScreenCV(
        LogisticRegression(), batch_size=30, stopping="ppi", target=0.93, random_state=0
    ).fit(X, y)
    h = screen.history_
    assert screen.termination_condition_ == "target_reached"
    assert h["system_lower_bound"][-1] > 0.93
    assert h["system_score"][-1] >= 0.93
    audits = _audit_rounds(screen)
    assert audits.size >= 1
    # The last audit's certificate, from the public record of the screen.
    t = audits[-1]
    k = audits.size
    acquired = screen.acquired_iter_
    audited = screen.audit_mask_ & (acquired == t)
    wrong = screen.prereveal_correct_ == 0
    n_inference = np.sum((acquired < 0) | (acquired >= t))
    delta = 0.05 * 0.9 * 0.1 ** (k - 1)
    upper = hypergeometric_upper_bound(
        int(wrong[audited].sum()), int(audited.sum()), int(n_inference), delta
    )
    removed = wrong[acquired >= t].sum()
    assert h["system_lower_bound"][-1] == pytest.approx(1 - (upper - removed) / len(y))
    # The readout holds the certified predictions; estimator_ is refit on all.
    refit = clone(screen.estimator).fit(
        X[screen.observed_mask_], y[screen.observed_mask_]
    )
    np.testing.assert_array_equal(screen.estimator_.predict(X), refit.predict(X))


def test_the_readout_is_the_held_model_s_predictions():
    X, y = _blobs(seed=4)
    screen = HybridScreenCV(
        LogisticRegression(), batch_size=30, stopping="ppi", target=0.93, random_state=1
    ).fit(X, y)
    t = _audit_rounds(screen)[-1]
    before = (screen.acquired_iter_ >= 0) & (screen.acquired_iter_ < t)
    held = clone(screen.estimator).fit(X[before], y[before])
    inference = ~screen.observed_mask_
    np.testing.assert_array_equal(
        screen.transduction_[inference], held.predict(X[inference])
    )
    np.testing.assert_array_equal(
        screen.transduction_[screen.observed_mask_], y[screen.observed_mask_]
    )


def test_replay_reproduces_the_stop_and_needs_audits():
    X, y = _blobs(seed=5)
    screen = HybridScreenCV(
        LogisticRegression(), batch_size=30, stopping="ppi", target=0.93, random_state=2
    ).fit(X, y)
    rule = PredictionPoweredBound(target=0.93)
    assert replay_stopping(rule, screen) == screen.n_iter_ - 1
    plain = HybridScreenCV(
        LogisticRegression(), batch_size=30, stopping=None, random_state=2
    ).fit(X, y)
    assert replay_stopping(rule, plain) is None  # no audit, no certificate


def test_save_and_load_in_the_middle_of_a_hold_continue_identically(tmp_path):
    # This screen holds its model for four rounds, releases it, and certifies
    # with a later audit.
    X, y = _blobs(seed=7)

    def screen():
        return HybridScreenCV(
            LogisticRegression(),
            batch_size=30,
            stopping=PredictionPoweredBound(target=0.97, max_hold=3),
            random_state=3,
        )

    reference = screen().fit(X, y)
    live = screen()
    saved_held = False
    while not getattr(live, "stop_", False):
        batch = live.ask(X)
        live.tell(batch, y[batch])
        if live.stopping_.holds_model_ and not live.stop_:
            live.save(tmp_path / "c.isd.npz")
            live = HybridScreenCV.load(tmp_path / "c.isd.npz", X)
            saved_held = True
    np.testing.assert_array_equal(live.acquired_iter_, reference.acquired_iter_)
    np.testing.assert_array_equal(live.transduction_, reference.transduction_)
    np.testing.assert_array_equal(
        live.history_["system_lower_bound"], reference.history_["system_lower_bound"]
    )
    assert saved_held and reference.stopping_.n_audits_ >= 2


def test_regressor_with_tolerance():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1500, 6))
    y = X @ rng.normal(size=6) + 0.2 * rng.normal(size=1500)
    screen = HybridScreenCV(
        BaggingRegressor(Ridge(), n_estimators=5),
        batch_size=30,
        tolerance=0.5,
        stopping="ppi",
        target=0.9,
        random_state=0,
    ).fit(X, y)
    assert screen.termination_condition_ == "target_reached"
    assert screen.history_["system_score"][-1] >= 0.9
    assert np.isnan(screen.history_["predicted_errors"]).all()  # no probabilities


def test_matrix_screens_per_output_and_pooled():
    X, Y = make_multilabel_classification(
        n_samples=2000, n_features=15, n_classes=3, n_labels=1, random_state=0
    )
    model = MultiOutputClassifier(LogisticRegression(max_iter=500))
    per_output = HybridScreenCV(
        model, batch_size=40, stopping="ppi", target=[0.9, 0.9, 0.9], random_state=0
    ).fit(X, Y)
    assert per_output.termination_condition_ == "target_reached"
    assert all(per_output.history_[f"system_score_{j}"][-1] >= 0.9 for j in range(3))
    pooled = HybridScreenCV(
        model, batch_size=40, stopping="ppi", target=0.9, random_state=0
    ).fit(X, Y)
    assert pooled.termination_condition_ == "target_reached"
    assert pooled.history_["system_score"][-1] >= 0.9


def test_groups_are_audited_as_units():
    X, y = _blobs(n=2000, seed=7)
    groups = np.repeat(np.arange(1000), 2)
    screen = HybridScreenCV(
        LogisticRegression(), batch_size=20, stopping="ppi", target=0.9, random_state=0
    ).fit(X, y, groups=groups)
    audited = np.unique(groups[screen.audit_mask_])
    assert audited.size and np.all(screen.audit_mask_[np.isin(groups, audited)])
    assert screen.history_["system_score"][-1] >= 0.9


# --------------------------------------------------------------------------
# Validity where the paper's rule fails
# --------------------------------------------------------------------------
def _confidently_wrong(seed, n=2000, share=0.1):
    """Labels flipped far from the decision boundary: the model is sure and wrong."""
    X, y = make_classification(
        n_samples=n,
        n_features=8,
        n_informative=4,
        n_redundant=0,
        class_sep=1.5,
        flip_y=0.0,
        random_state=seed,
    )
    margin = np.abs(LogisticRegression().fit(X, y).decision_function(X))
    far = np.flatnonzero(margin > np.quantile(margin, 0.5))
    flip = np.random.default_rng(seed).choice(far, int(share * n), replace=False)
    y = y.copy()
    y[flip] = 1 - y[flip]
    return X, y


@pytest.mark.slow
def test_ppi_keeps_delta_where_the_kl_rule_does_not():
    target, delta, n_screens = 0.93, 0.1, 24
    violations = {"ppi": 0, "kl": 0}
    for seed in range(n_screens):
        X, y = _confidently_wrong(seed)
        for name, rule in (
            ("ppi", PredictionPoweredBound(target=target, delta=delta)),
            ("kl", KLBound(target=target, delta=delta)),
        ):
            screen = HybridScreenCV(
                LogisticRegression(),
                batch_size=40,
                stopping=rule,
                max_fraction=0.9,
                random_state=seed,
            ).fit(X, y)
            if screen.termination_condition_ == "target_reached":
                violations[name] += screen.history_["system_score"][-1] < target
    # At delta = 0.1, 24 screens: more than 7 violations has probability < 1 %.
    assert violations["ppi"] <= 7
    assert violations["kl"] >= n_screens // 2  # the weak-calibration assumption fails
