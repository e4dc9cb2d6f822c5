"""Golden screens: the redesigned core reproduces recorded screens exactly.

Each screen below runs with explicit parameters on small synthetic data. Its
``acquired_iter_``, ``transduction_`` and ``history_`` (times excluded) were
recorded into ``tests/data/golden.npz`` by the code before the screen's state
moved into one object (issue 12); any change of behaviour, however small
(a batch chosen differently, a bound computed in another order), fails here.

Record again only for an intended change of behaviour, saying why in the
commit: ``python tests/test_golden.py --record``.
"""

import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import make_classification, make_multilabel_classification
from sklearn.ensemble import BaggingRegressor, RandomForestClassifier
from sklearn.linear_model import LogisticRegression, Ridge

from sklearn_isd import HybridScreenCV
from sklearn_isd.multioutput import MaskedMultiOutputClassifier
from sklearn_isd.stopping import AnytimeKLBound, AuditBound

GOLDEN = Path(__file__).parent / "data" / "golden.npz"


def _classification(n=900, seed=0):
    return make_classification(
        n_samples=n, n_features=12, n_informative=6, flip_y=0.05, random_state=seed
    )


def _lc_kl():
    X, y = _classification()
    return HybridScreenCV(
        LogisticRegression(max_iter=500),
        acquisition="least_confidence",
        batch_size=0.02,
        stopping="kl",
        target=0.9,
        delta=0.05,
        random_state=0,
    ).fit(X, y)


def _margin_anytime():
    X, y = _classification(seed=1)
    return HybridScreenCV(
        LogisticRegression(max_iter=500),
        acquisition="margin",
        batch_size=30,
        initial_batch_size=50,
        stopping=AnytimeKLBound(target=0.9, delta=0.1, window=3),
        random_state=1,
    ).fit(X, y)


def _audit():
    X, y = _classification(seed=2)
    return HybridScreenCV(
        LogisticRegression(max_iter=500),
        batch_size=40,
        stopping=AuditBound(target=0.85, delta=0.1, audit_fraction=0.25, window=5),
        random_state=2,
    ).fit(X, y)


def _forest_vote():
    X, y = _classification(seed=3)
    return HybridScreenCV(
        RandomForestClassifier(n_estimators=8, max_depth=6),
        acquisition="vote_entropy",
        batch_size=0.03,
        target=0.88,
        random_state=3,
    ).fit(X, y)


def _bagging_std_tolerance():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(700, 8))
    y = X @ rng.normal(size=8) + 0.3 * rng.standard_t(3, size=700)
    return HybridScreenCV(
        BaggingRegressor(Ridge(alpha=1.0), n_estimators=6),
        acquisition="std",
        batch_size=25,
        tolerance=0.5,
        target=0.9,
        delta=0.1,
        random_state=4,
    ).fit(X, y)


def _random_budget():
    X, y = _classification(seed=5)
    return HybridScreenCV(
        LogisticRegression(max_iter=500),
        acquisition="random",
        batch_size=0.05,
        stopping=None,
        max_fraction=0.3,
        random_state=5,
    ).fit(X, y)


def _matrix_groups():
    X, Y = make_multilabel_classification(
        n_samples=800, n_features=15, n_classes=3, n_labels=2, random_state=6
    )
    Y = Y.astype(float)
    rng = np.random.default_rng(6)
    Y[rng.random(Y.shape) < 0.05] = np.nan
    Y[np.isnan(Y).all(axis=1), 0] = 1.0
    # Groups of unequal sizes (1 to 4 items), as plates of a compound.
    groups = np.repeat(np.arange(800), rng.integers(1, 5, size=800))[:800]
    return HybridScreenCV(
        MaskedMultiOutputClassifier(LogisticRegression(max_iter=300)),
        batch_size=20,
        aggregate="mean",
        target=[0.85, 0.8, 0.85],
        delta=0.1,
        random_state=6,
    ).fit(X, Y, groups=groups)


def _saved_and_resumed(tmp_path):
    X, y = _classification(seed=7)
    screen = HybridScreenCV(
        LogisticRegression(max_iter=500),
        batch_size=30,
        stopping=AuditBound(target=0.88, delta=0.1, audit_fraction=0.2),
        random_state=7,
    )
    for round_ in range(12):
        batch = screen.ask(X)
        if round_ == 3:  # results in two parts, saved in between
            half = batch[: batch.size // 2]
            screen.tell(half, y[half])
            screen.save(tmp_path / "c.isd.npz")
            screen = HybridScreenCV.load(tmp_path / "c.isd.npz", X)
            batch = screen.ask()
        elif round_ == 6:  # saved with a batch asked, not told
            screen.save(tmp_path / "c.isd.npz")
            screen = HybridScreenCV.load(tmp_path / "c.isd.npz", X)
            assert np.array_equal(screen.ask(), batch)
        screen.tell(batch, y[batch])
        if screen.stop_:
            break
    return screen


SCREENS = {
    "lc_kl": _lc_kl,
    "margin_anytime": _margin_anytime,
    "audit": _audit,
    "forest_vote": _forest_vote,
    "bagging_std_tolerance": _bagging_std_tolerance,
    "random_budget": _random_budget,
    "matrix_groups": _matrix_groups,
    "saved_and_resumed": _saved_and_resumed,
}


def _record_of(name, screen):
    out = {
        f"{name}/acquired_iter": screen.acquired_iter_,
        f"{name}/transduction": screen.transduction_,
        f"{name}/n_iter": np.array(screen.n_iter_),
        f"{name}/termination": np.array(str(screen.termination_condition_)),
    }
    for key, values in screen.history_.items():
        if not key.endswith("_time"):
            out[f"{name}/history/{key}"] = values
    return out


def _run(name, tmp_path):
    func = SCREENS[name]
    return func(tmp_path) if name == "saved_and_resumed" else func()


@pytest.fixture(scope="module")
def golden():
    with np.load(GOLDEN, allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}


@pytest.mark.parametrize("name", list(SCREENS))
def test_screen_reproduces_the_recorded_one(name, golden, tmp_path):
    record = _record_of(name, _run(name, tmp_path))
    expected = {k: v for k, v in golden.items() if k.startswith(f"{name}/")}
    assert sorted(record) == sorted(expected)
    for key, value in expected.items():
        np.testing.assert_array_equal(record[key], value, err_msg=key)


if __name__ == "__main__" and "--record" in sys.argv:
    import tempfile

    from threadpoolctl import threadpool_limits

    arrays = {}
    with threadpool_limits(1), tempfile.TemporaryDirectory() as tmp:
        for name in SCREENS:
            screen = _run(name, Path(tmp))
            arrays.update(_record_of(name, screen))
            print(name, screen.n_iter_, screen.termination_condition_)
    GOLDEN.parent.mkdir(exist_ok=True)
    np.savez_compressed(GOLDEN, **arrays)
    print("wrote", GOLDEN, GOLDEN.stat().st_size, "bytes")
