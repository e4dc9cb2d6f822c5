"""Tests of sklearn_isd.datasets: the QM9 loader and the corruptions."""

import gzip
import io
import os
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest

from sklearn_isd.datasets import (
    QM9_GAP_MEDIAN,
    _qm9,
    corrupt_labels,
    crop_images,
    load_qm9,
)

SMALL_CSV = "smiles,gap\nC,0.5048\nN,0.3399\nO,0.3615\nC#C,0.2000\nCC,0.2494\n"
# The full table the embedded subset was drawn from (in the developers' tree).
FULL_PARQUET = Path(__file__).resolve().parents[2] / "shared/data/qm9_gap.parquet"
SMALL_GAP = np.array([0.5048, 0.3399, 0.3615, 0.2, 0.2494])


@pytest.fixture
def no_network(monkeypatch):
    """Fail every download attempt, and count them."""
    calls = []

    def failing_urlopen(url, *args, **kwargs):
        calls.append(url)
        raise URLError("no internet in tests")

    monkeypatch.setattr(_qm9, "urlopen", failing_urlopen)
    return calls


# ---------------------------------------------------------------------------
# Embedded subset
# ---------------------------------------------------------------------------


def test_embedded_subset():
    qm9 = load_qm9()
    assert set(qm9) >= {
        "data",
        "target",
        "gap",
        "qm9_index",
        "frame",
        "feature_names",
        "target_names",
        "DESCR",
    }
    assert qm9.data.shape == qm9.target.shape == qm9.gap.shape == (10_000,)
    assert qm9.data.dtype == object and isinstance(qm9.data[0], str)
    assert qm9.frame is None
    assert qm9.feature_names == ["smiles"]
    assert len(qm9.target_names) == 2
    assert "Ramakrishnan" in qm9.DESCR
    # Classification target: gap above the median of the full set.
    np.testing.assert_array_equal(qm9.target, (qm9.gap > QM9_GAP_MEDIAN).astype(int))
    assert set(np.unique(qm9.target)) == {0, 1}
    assert abs(qm9.target.mean() - 0.5) < 0.02
    # A uniform sample of the full set, in its original order, no duplicates.
    assert np.all(np.diff(qm9.qm9_index) > 0)
    assert qm9.qm9_index.min() >= 0 and qm9.qm9_index.max() < 133_885
    assert len(set(qm9.data)) == 10_000
    assert 0.0 < qm9.gap.min() and qm9.gap.max() < 1.0
    # Gaps are stored with 4 decimals.
    np.testing.assert_allclose(qm9.gap, np.round(qm9.gap, 4), atol=0, rtol=0)


def test_embedded_subset_matches_source_recipe():
    path = os.environ.get("SKLEARN_ISD_QM9_PARQUET", str(FULL_PARQUET))
    if not os.path.exists(path):
        pytest.skip("full QM9 parquet not available")
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    full = pd.read_parquet(path)
    assert float(full["gap"].median()) == QM9_GAP_MEDIAN
    idx = np.sort(np.random.default_rng(0).choice(len(full), 10_000, replace=False))
    qm9 = load_qm9(task="regression")
    np.testing.assert_array_equal(qm9.qm9_index, idx)
    np.testing.assert_array_equal(qm9.data, full["smiles"].to_numpy(object)[idx])
    np.testing.assert_array_equal(qm9.target, full["gap"].to_numpy()[idx])


def test_drop_duplicates_keeps_the_first_of_each_fingerprint():
    pytest.importorskip("rdkit")
    from sklearn_isd.chem import MorganFingerprint

    full = load_qm9()
    kept = load_qm9(drop_duplicates=True)
    assert kept.data.size == 9997  # 3 molecules share an earlier fingerprint
    np.testing.assert_array_equal(
        kept.data, full.data[np.isin(full.qm9_index, kept.qm9_index)]
    )
    X = MorganFingerprint().transform(full.data).toarray().astype(bool)
    rows = {row.tobytes(): i for i, row in reversed(list(enumerate(X)))}
    first = np.sort(np.array(list(rows.values())))  # first row of each print
    np.testing.assert_array_equal(kept.qm9_index, full.qm9_index[first])
    np.testing.assert_array_equal(kept.target, full.target[first])
    coarse = load_qm9(drop_duplicates=MorganFingerprint(n_bits=64))
    assert coarse.data.size < kept.data.size
    with pytest.raises(ValueError, match="drop_duplicates"):
        load_qm9(drop_duplicates="yes")


def test_regression_and_return_X_y():
    X, y = load_qm9(task="regression", return_X_y=True)
    qm9 = load_qm9(task="regression")
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y, qm9.gap)
    np.testing.assert_array_equal(X, qm9.data)
    assert qm9.target_names == ["gap"]
    # The target is a copy: editing it leaves gap alone.
    qm9.target[0] = -1.0
    assert qm9.gap[0] > 0


def test_as_frame():
    pd = pytest.importorskip("pandas")
    qm9 = load_qm9(as_frame=True)
    assert isinstance(qm9.data, pd.DataFrame) and list(qm9.data.columns) == ["smiles"]
    assert isinstance(qm9.target, pd.Series) and qm9.target.name == "target"
    assert list(qm9.frame.columns) == ["smiles", "gap", "target"]
    assert len(qm9.frame) == 10_000
    np.testing.assert_array_equal(qm9.target.to_numpy(), load_qm9().target)

    X, y = load_qm9(task="regression", as_frame=True, return_X_y=True)
    assert isinstance(X, pd.DataFrame) and isinstance(y, pd.Series)
    assert y.name == "gap"
    np.testing.assert_array_equal(y.to_numpy(), load_qm9().gap)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"subset": "small"}, r"subset='small'.*'embedded', 'full'"),
        ({"task": "ranking"}, r"task='ranking'.*'classification', 'regression'"),
        ({"path": "x.csv"}, "path is only used with subset='full'"),
    ],
)
def test_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_qm9(**kwargs)


# ---------------------------------------------------------------------------
# Full set: local files, cache, download
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".parquet"])
def test_full_from_local_file(tmp_path, suffix, no_network):
    path = tmp_path / f"qm9{suffix}"
    if suffix == ".csv":
        path.write_text(SMALL_CSV)
    elif suffix == ".csv.gz":
        with gzip.open(path, "wt") as f:
            f.write(SMALL_CSV)
    else:
        pd = pytest.importorskip("pandas")
        pytest.importorskip("pyarrow")
        frame = pd.DataFrame(
            {"mol_id": range(5), "smiles": list("CNO") + ["C#C", "CC"]}
        )
        frame["gap"] = SMALL_GAP
        frame.to_parquet(path)

    qm9 = load_qm9(subset="full", path=str(path), data_home=tmp_path / "home")
    np.testing.assert_array_equal(qm9.data, ["C", "N", "O", "C#C", "CC"])
    np.testing.assert_array_equal(qm9.gap, SMALL_GAP)
    # Strictly above the median is class 1; the median itself is class 0.
    np.testing.assert_array_equal(qm9.target, [1, 1, 1, 0, 0])
    np.testing.assert_array_equal(qm9.qm9_index, np.arange(5))
    X, y = load_qm9(subset="full", path=path, task="regression", return_X_y=True)
    np.testing.assert_array_equal(y, SMALL_GAP)
    assert not no_network  # a local file never touches the network
    assert not (tmp_path / "home" / "qm9").exists()


def test_full_csv_with_extra_columns(tmp_path):
    path = tmp_path / "deepchem_like.csv"
    path.write_text("mol_id,smiles,homo,gap,lumo\ngdb_1,C,-0.3877,0.5048,0.1171\n")
    qm9 = load_qm9(subset="full", path=path, task="regression")
    np.testing.assert_array_equal(qm9.data, ["C"])
    np.testing.assert_array_equal(qm9.target, [0.5048])


@pytest.mark.parametrize(
    "name, content, match",
    [
        ("no_gap.csv", "smiles,homo\nC,0.1\n", r"lacks the column\(s\) \['gap'\]"),
        ("empty.csv", "", "empty"),
        ("qm9.xlsx", "smiles,gap\n", r"expected a \.csv, \.csv\.gz or \.parquet"),
    ],
)
def test_full_bad_local_file(tmp_path, name, content, match):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(ValueError, match=match):
        load_qm9(subset="full", path=path)


def test_full_from_cache(tmp_path, no_network):
    cache = tmp_path / "qm9"
    cache.mkdir()
    with gzip.open(cache / "qm9_gap.csv.gz", "wt") as f:
        f.write(SMALL_CSV)
    qm9 = load_qm9(subset="full", data_home=tmp_path, download_if_missing=False)
    np.testing.assert_array_equal(qm9.gap, SMALL_GAP)
    qm9 = load_qm9(subset="full", data_home=tmp_path)  # cached: no download
    assert len(qm9.data) == 5
    assert not no_network


def test_full_download_failure_mentions_path(tmp_path, no_network):
    with pytest.raises(OSError, match=r"path=") as excinfo:
        load_qm9(subset="full", data_home=tmp_path)
    assert no_network == [_qm9.QM9_URL]
    assert isinstance(excinfo.value.__cause__, URLError)
    assert "no internet in tests" in str(excinfo.value)
    # Nothing half-written is left in the cache.
    assert list((tmp_path / "qm9").iterdir()) == []


def test_full_missing_without_download(tmp_path, no_network):
    with pytest.raises(OSError, match="download_if_missing is False.*path="):
        load_qm9(subset="full", data_home=tmp_path, download_if_missing=False)
    assert not no_network


def test_full_download_writes_cache_once(tmp_path, monkeypatch):
    payload = (
        b"mol_id,smiles,A,homo,lumo,gap\n"
        b"gdb_1,C,157.7,-0.3877,0.1171,0.5048\n"
        b"gdb_2,N,293.6,-0.257,0.0829,0.3399\n"
    )
    calls = []

    def fake_urlopen(url, *args, **kwargs):
        calls.append(url)
        return io.BytesIO(payload)  # like an HTTP response: binary, closable

    monkeypatch.setattr(_qm9, "urlopen", fake_urlopen)
    qm9 = load_qm9(subset="full", data_home=tmp_path, task="regression")
    np.testing.assert_array_equal(qm9.data, ["C", "N"])
    np.testing.assert_array_equal(qm9.target, [0.5048, 0.3399])
    assert calls == [_qm9.QM9_URL]
    # The cache keeps only smiles and gap, and is used the next time.
    assert sorted(p.name for p in (tmp_path / "qm9").iterdir()) == ["qm9_gap.csv.gz"]
    with gzip.open(tmp_path / "qm9" / "qm9_gap.csv.gz", "rt") as f:
        assert f.readline().strip() == "smiles,gap"
    again = load_qm9(subset="full", data_home=tmp_path, task="regression")
    np.testing.assert_array_equal(again.target, qm9.target)
    assert len(calls) == 1


@pytest.mark.network
@pytest.mark.skipif(
    os.environ.get("SKLEARN_ISD_NETWORK_TESTS") != "1",
    reason="network tests run only with SKLEARN_ISD_NETWORK_TESTS=1",
)
def test_full_download_real(tmp_path):  # pragma: no cover - needs internet
    qm9 = load_qm9(subset="full", data_home=tmp_path)
    assert len(qm9.data) == 133_885
    assert abs(qm9.target.mean() - 0.5) < 0.01


# ---------------------------------------------------------------------------
# Corruptions
# ---------------------------------------------------------------------------


def test_corrupt_labels_only_touches_listed_classes():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, size=2000)
    y_before = y.copy()
    noisy = corrupt_labels(y, [6, 8, 9], random_state=0)

    np.testing.assert_array_equal(y, y_before)  # input untouched
    assert noisy is not y and noisy.shape == y.shape and noisy.dtype == y.dtype
    listed = np.isin(y, [6, 8, 9])
    np.testing.assert_array_equal(noisy[~listed], y[~listed])
    # Same multiset of labels among the listed items...
    np.testing.assert_array_equal(np.sort(noisy[listed]), np.sort(y[listed]))
    # ...but shuffled: about 1 - 1/3 of them change label.
    changed = np.mean(noisy[listed] != y[listed])
    assert 0.5 < changed < 0.8


def test_corrupt_labels_random_state_and_labels():
    y = np.array(["a", "b", "c", "a", "b", "c", "a", "d"] * 10)
    first = corrupt_labels(y, ["a", "b"], random_state=42)
    np.testing.assert_array_equal(first, corrupt_labels(y, ["a", "b"], random_state=42))
    assert not np.array_equal(first, corrupt_labels(y, ["a", "b"], random_state=7))
    assert np.all(first[np.isin(y, ["c", "d"])] == y[np.isin(y, ["c", "d"])])
    # A single class only permutes identical labels; an absent one is a no-op.
    np.testing.assert_array_equal(corrupt_labels(y, "a", random_state=0), y)
    np.testing.assert_array_equal(corrupt_labels(list(y), ["z"]), y)
    with pytest.raises(ValueError, match="1-d"):
        corrupt_labels(np.zeros((3, 2)), [0])


def test_crop_images_zeroes_bottom_rows():
    rng = np.random.default_rng(0)
    X = rng.random((5, 28 * 28)) + 0.1  # no zero pixel before cropping
    cropped = crop_images(X, 1 / 3)
    images, before = cropped.reshape(5, 28, 28), X.reshape(5, 28, 28)
    np.testing.assert_array_equal(images[:, :9], before[:, :9])  # round(28/3) = 9
    assert np.all(images[:, 9:] == 0)
    assert cropped.dtype == X.dtype and np.all(X > 0)  # X untouched


def test_crop_images_rectangular_and_edges():
    X = np.arange(1, 2 * 4 * 3 + 1).reshape(2, 12)  # two 4x3 images, ints
    cropped = crop_images(X, 0.5, image_shape=(4, 3))
    np.testing.assert_array_equal(cropped[:, :6], X[:, :6])
    np.testing.assert_array_equal(cropped[:, 6:], 0)
    assert cropped.dtype == X.dtype
    np.testing.assert_array_equal(crop_images(X, 1.0, image_shape=(4, 3)), X)
    np.testing.assert_array_equal(crop_images(X, 0.0, image_shape=(4, 3)), 0)
    # sklearn's 8x8 digits: shape inferred.
    digits = np.ones((3, 64))
    assert crop_images(digits, 0.25).reshape(3, 8, 8)[:, 2:].sum() == 0


@pytest.mark.parametrize(
    "X, kwargs, match",
    [
        (np.ones((2, 12)), {"keep_fraction": 0.5}, "not a square number"),
        (np.ones((2, 12)), {"keep_fraction": 0.5, "image_shape": (5, 3)}, "15 pixels"),
        (
            np.ones((2, 16)),
            {"keep_fraction": 1.5},
            r"keep_fraction must be in \[0, 1\]",
        ),
        (np.ones(16), {"keep_fraction": 0.5}, "2-d"),
    ],
)
def test_crop_images_errors(X, kwargs, match):
    with pytest.raises(ValueError, match=match):
        crop_images(X, **kwargs)
