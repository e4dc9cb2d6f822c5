"""Hostile input: every case gets a clear error or a documented behaviour,
and no failed call leaves a partial update behind (property-based tests)."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression

from sklearn_isd import HybridScreenCV

FAST = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def _library(seed, n=60):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = (X[:, 0] + 0.3 * rng.normal(size=n) > 0).astype(int)
    return X, y


def _snapshot(screen):
    return (
        screen.observed_mask_.copy(),
        screen.acquired_iter_.copy(),
        screen.n_iter_,
        {k: v.copy() for k, v in screen.history_.items()},
        screen.ask().copy(),  # the pending batch
    )


def _assert_same(a, b):
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert a[2] == b[2]
    assert a[3].keys() == b[3].keys()
    for key in a[3]:
        np.testing.assert_array_equal(a[3][key], b[3][key])


@FAST
@given(seed=st.integers(0, 10_000), bad=st.sampled_from([np.nan, np.inf, -np.inf]))
def test_nan_or_inf_in_the_library_fails_the_first_refit_cleanly(seed, bad):
    X, y = _library(seed)
    X[seed % len(X), seed % 3] = bad
    screen = HybridScreenCV(LogisticRegression(), batch_size=10, random_state=seed)
    batch = screen.ask(X)
    before = _snapshot(screen)
    with pytest.raises(ValueError, match="NaN|infinity"):
        screen.tell(batch, y[batch])
    _assert_same(before, _snapshot(screen))  # nothing of the failed tell stays


@FAST
@given(
    seed=st.integers(0, 10_000),
    attack=st.sampled_from(
        [
            "negative",
            "out_of_range",
            "unasked",
            "duplicate",
            "twice",
            "float_idx",
            "short",
            "nan_label",
            "none_label",
            "2d_labels",
        ]
    ),
)
def test_bad_tells_leave_the_campaign_unchanged(seed, attack):
    X, y = _library(seed)
    screen = HybridScreenCV(LogisticRegression(), batch_size=10, random_state=seed)
    first = screen.ask(X)
    screen.tell(first, y[first])
    batch = screen.ask()
    before = _snapshot(screen)
    labels = y[batch].astype(object)
    indices = batch.copy()
    if attack == "negative":
        indices[0] = -1
    elif attack == "out_of_range":
        indices[0] = len(X)
    elif attack == "unasked":
        indices[0] = np.setdiff1d(np.flatnonzero(~screen.observed_mask_), batch)[0]
    elif attack == "duplicate":
        indices[1] = indices[0]
    elif attack == "twice":
        indices, labels = first, y[first]
    elif attack == "float_idx":
        indices = indices.astype(float)
    elif attack == "short":
        labels = labels[:-1]
    elif attack == "nan_label":
        labels[3] = np.nan
    elif attack == "none_label":
        labels[3] = None
    elif attack == "2d_labels":
        labels = np.c_[labels, labels]
    with pytest.raises((ValueError, TypeError)):
        screen.tell(indices, labels)
    _assert_same(before, _snapshot(screen))
    screen.tell(batch, y[batch])  # the genuine batch still goes through
    assert screen.n_iter_ == 2


@FAST
@given(seed=st.integers(0, 10_000), n=st.integers(1, 12), batch=st.integers(1, 12))
def test_tiny_libraries_and_batch_sizes_at_the_limits(seed, n, batch):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    y = rng.integers(0, 2, n)
    screen = HybridScreenCV(LogisticRegression(), batch_size=batch, random_state=seed)
    if batch > n:
        with pytest.raises(ValueError, match="larger than the library"):
            screen.fit(X, y)
        return
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # single-class warnings
        screen.fit(X, y)
    assert screen.stop_
    assert screen.observed_mask_.sum() <= n
    assert screen.transduction_.shape == (n,)
    np.testing.assert_array_equal(
        screen.transduction_[screen.observed_mask_], y[screen.observed_mask_]
    )


def test_empty_library():
    with pytest.raises(ValueError, match="empty"):
        HybridScreenCV(LogisticRegression()).fit(np.empty((0, 3)), np.empty(0))


def test_duplicate_rows_and_unseen_classes_from_the_oracle():
    X, y = _library(0, n=80)
    X = np.vstack([X, X])  # every compound twice
    y = np.r_[y, y]
    oracle_labels = y.copy()
    oracle_labels[np.random.default_rng(1).choice(len(y), 10, replace=False)] = 2
    screen = HybridScreenCV(
        LogisticRegression(),
        batch_size=20,
        stopping=None,
        max_fraction=0.6,
        oracle=lambda idx: oracle_labels[idx],
        random_state=0,
    ).fit(X)
    seen = set(oracle_labels[screen.observed_mask_])
    assert 2 in seen  # a class the first rounds had not seen
    assert set(screen.classes_) == seen
    assert set(screen.transduction_) <= seen


def test_labels_of_mixed_types_are_refused():
    X, y = _library(0)
    screen = HybridScreenCV(LogisticRegression(), batch_size=10, random_state=0)
    batch = screen.ask(X)
    screen.tell(batch, y[batch])
    nxt = screen.ask()
    before = _snapshot(screen)
    labels = y[nxt].astype(object)
    labels[0] = "cytotoxic"
    with pytest.raises(ValueError, match="all strings or all numbers"):
        screen.tell(nxt, labels)
    _assert_same(before, _snapshot(screen))


def test_float_labels_for_a_classifier_are_classes():
    X, y = _library(0)
    screen = HybridScreenCV(LogisticRegression(), batch_size=10, random_state=0)
    screen.fit(X, y.astype(float))
    assert screen.classes_.dtype.kind == "f"
    assert set(screen.transduction_) <= {0.0, 1.0}


def test_library_swapped_between_ask_and_tell():
    X, y = _library(0)
    screen = HybridScreenCV(LogisticRegression(), batch_size=10, random_state=0)
    batch = screen.ask(X)
    screen.tell(batch, y[batch])
    with pytest.raises(ValueError, match="60 items"):
        screen.ask(X[:-1])
    other = X.copy()
    other[0, 0] += 1.0
    with pytest.raises(ValueError, match="not the library of this campaign"):
        screen.ask(other)
    np.testing.assert_array_equal(screen.ask(X.copy()), screen.ask())  # same content


@pytest.mark.parametrize(
    "smiles",
    ["CC(=O)[O-].[Na+]", "C[C@H](N)C(=O)O", "[NH4+]", "F/C=C/F", "[2H]C([2H])[2H]"],
)
def test_salts_charges_stereo_and_isotopes_featurize(smiles):
    pytest.importorskip("rdkit")
    from sklearn_isd import MorganFingerprint

    X = MorganFingerprint().transform([smiles])
    assert X.shape == (1, 2048) and X.nnz > 0


@FAST
@given(garbage=st.text(alphabet="()[]=#@+-%0123456789xyzQ*", min_size=1, max_size=12))
def test_garbage_smiles_are_rejected_by_row_or_parsed(garbage):
    pytest.importorskip("rdkit")
    from rdkit import Chem, RDLogger

    from sklearn_isd import MorganFingerprint

    RDLogger.DisableLog("rdApp.*")
    valid = Chem.MolFromSmiles(garbage) is not None
    if valid:
        assert MorganFingerprint().transform(["CCO", garbage]).shape == (2, 2048)
    else:
        with pytest.raises(ValueError, match=r"invalid SMILES at rows \[1\]"):
            MorganFingerprint().transform(["CCO", garbage, "c1ccccc1"])


def test_huge_n_bits_is_refused_clearly():
    pytest.importorskip("rdkit")
    from sklearn_isd import MorganFingerprint

    with pytest.raises(ValueError, match="n_bits"):
        MorganFingerprint(n_bits=2**40).transform(["CCO"])


def test_numbers_after_string_classes_are_refused():
    X, y = _library(0)
    names = np.array(["inactive", "active"])[y]
    screen = HybridScreenCV(LogisticRegression(), batch_size=10, random_state=0)
    batch = screen.ask(X)
    screen.tell(batch, names[batch])
    nxt = screen.ask()
    before = _snapshot(screen)
    with pytest.raises(
        ValueError, match="holds numbers and the labels measured so far are strings"
    ):
        screen.tell(nxt, y[nxt])  # codes instead of names: would become '0', '1'
    _assert_same(before, _snapshot(screen))
