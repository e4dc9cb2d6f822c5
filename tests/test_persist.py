"""Saving, loading and resuming campaigns."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_isd import CampaignFileError, HybridScreenCV
from sklearn_isd._persist import library_fingerprint
from sklearn_isd._spec import SpecLoader, to_spec
from sklearn_isd.stopping import AuditBound, Budget


@pytest.fixture(scope="module")
def data():
    return make_classification(n_samples=500, n_features=6, flip_y=0.05, random_state=0)


def _screen(**kwargs):
    params = {"batch_size": 25, "random_state": 0, "target": 0.97}
    params.update(kwargs)
    return HybridScreenCV(
        make_pipeline(StandardScaler(), LogisticRegression()), **params
    )


def _drive(screen, X, y, rounds):
    for _ in range(rounds):
        if getattr(screen, "stop_", False):
            break
        batch = screen.ask(X)
        screen.tell(batch, y[batch])
    return screen


def test_save_load_continues_identically(tmp_path, data):
    X, y = data
    reference = _screen().fit(X, y)
    screen = _drive(_screen(), X, y, 3)
    pending = screen.ask()  # a plate in flight is part of the state
    path = screen.save(tmp_path / "campaign.isd.npz")
    loaded = HybridScreenCV.load(path, X, oracle=lambda idx: y[idx])
    assert loaded.get_params()["target"] == 0.97
    assert isinstance(loaded.estimator.steps[1][1], LogisticRegression)
    np.testing.assert_array_equal(loaded.ask(), pending)
    np.testing.assert_array_equal(loaded.acquired_iter_, screen.acquired_iter_)
    for key, values in screen.history_.items():
        np.testing.assert_array_equal(loaded.history_[key], values)
    np.testing.assert_array_equal(loaded.transduction_, screen.transduction_)
    loaded.resume()  # the oracle measures the rest
    np.testing.assert_array_equal(loaded.acquired_iter_, reference.acquired_iter_)
    np.testing.assert_array_equal(loaded.transduction_, reference.transduction_)
    assert loaded.termination_condition_ == reference.termination_condition_
    np.testing.assert_allclose(
        loaded.history_["system_lower_bound"], reference.history_["system_lower_bound"]
    )


def test_load_without_library_then_attach(tmp_path, data):
    X, y = data
    path = _drive(_screen(), X, y, 2).save(tmp_path / "c.isd.npz")
    loaded = HybridScreenCV.load(path)
    with pytest.raises(ValueError, match="does not hold its library"):
        loaded.tell([0], [1])
    assert loaded.ask(X).size == 25
    loaded.save(path)  # saving again is fine


def test_load_refuses_a_different_library(tmp_path, data):
    X, y = data
    path = _drive(_screen(), X, y, 2).save(tmp_path / "c.isd.npz")
    other = X.copy()
    other[7, 2] += 1e-9
    with pytest.raises(CampaignFileError, match="not the library of this campaign"):
        HybridScreenCV.load(path, other)
    with pytest.raises(ValueError, match="library of 500 items"):
        HybridScreenCV.load(path, X[:-1])
    with pytest.raises(CampaignFileError, match="not the library"):
        HybridScreenCV.load(path, X[::-1])  # same rows, other order


def test_load_refuses_corrupted_and_unknown_files(tmp_path, data):
    X, y = data
    path = _drive(_screen(), X, y, 2).save(tmp_path / "c.isd.npz")
    truncated = tmp_path / "truncated.isd.npz"
    truncated.write_bytes(path.read_bytes()[:200])
    with pytest.raises(CampaignFileError, match="corrupted or truncated"):
        HybridScreenCV.load(truncated)
    garbage = tmp_path / "garbage.isd.npz"
    garbage.write_bytes(b"not a zip at all")
    with pytest.raises(CampaignFileError):
        HybridScreenCV.load(garbage)

    arrays = dict(np.load(path, allow_pickle=False))
    manifest = json.loads(str(arrays["manifest"]))
    manifest["format_version"] = 99
    arrays["manifest"] = np.array(json.dumps(manifest))
    future = tmp_path / "future.isd.npz"
    np.savez(future, **arrays)
    with pytest.raises(CampaignFileError, match="version 99"):
        HybridScreenCV.load(future)

    manifest["format_version"] = 1
    manifest["estimator"] = {"__estimator__": "os.system", "params": {}}
    arrays["manifest"] = np.array(json.dumps(manifest))
    hostile = tmp_path / "hostile.isd.npz"
    np.savez(hostile, **arrays)
    with pytest.raises(CampaignFileError, match="outside the modules"):
        HybridScreenCV.load(hostile)
    with pytest.raises(FileNotFoundError):
        HybridScreenCV.load(tmp_path / "missing.isd.npz")


def test_files_hold_no_pickle(tmp_path, data):
    X, y = data
    labels = np.array(["off", "on"], dtype=object)[y]
    screen = _drive(_screen(), X, labels, 2)
    path = screen.save(tmp_path / "c.isd.npz")
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    assert "manifest.npy" in names and "observed_labels.npy" in names
    loaded = HybridScreenCV.load(path, X)  # np.load(allow_pickle=False) inside
    assert set(loaded.ask()) == set(screen.ask())
    assert set(loaded.transduction_) <= {"off", "on"}


def test_save_is_atomic(tmp_path, data, monkeypatch):
    X, y = data
    screen = _drive(_screen(), X, y, 2)
    path = screen.save(tmp_path / "c.isd.npz")
    before = path.read_bytes()
    _drive(screen, X, y, 1)

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("power cut while writing")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        screen.save(path)
    assert path.read_bytes() == before  # the previous state is intact
    assert [p.name for p in tmp_path.iterdir()] == ["c.isd.npz"]  # no temp left


def test_callable_acquisition_must_be_passed_back(tmp_path, data):
    X, y = data

    def lowest_margin(estimator, X_pool):
        return -np.abs(estimator.decision_function(X_pool))

    screen = _drive(_screen(acquisition=lowest_margin), X, y, 2)
    path = screen.save(tmp_path / "c.isd.npz")
    with pytest.raises(ValueError, match="pass acquisition=... to load"):
        HybridScreenCV.load(path, X)
    loaded = HybridScreenCV.load(path, X, acquisition=lowest_margin)
    np.testing.assert_array_equal(loaded.ask(), screen.ask())


def test_stopping_state_is_replayed(tmp_path, data):
    X, y = data
    screen = _drive(_screen(stopping=Budget(max_fraction=0.3)), X, y, 3)
    loaded = HybridScreenCV.load(screen.save(tmp_path / "c.isd.npz"), X)
    assert isinstance(loaded.stopping_, Budget)
    assert loaded.stopping_.system_lower_bound_ == screen.stopping_.system_lower_bound_


def _final_state(screen):
    """The public state of a screen, without the timings of its history."""
    return {
        "acquired_iter_": screen.acquired_iter_,
        "observed_mask_": screen.observed_mask_,
        "audit_mask_": screen.audit_mask_,
        "prereveal_correct_": screen.prereveal_correct_,
        "transduction_": screen.transduction_,
        "n_iter_": screen.n_iter_,
        "stop_": screen.stop_,
        "termination_condition_": screen.termination_condition_,
        "history_": {
            key: values
            for key, values in screen.history_.items()
            if not key.endswith("_time")
        },
        "bounds": (
            screen.stopping_.batch_lower_bound_,
            screen.stopping_.system_lower_bound_,
        ),
    }


@pytest.mark.parametrize(
    "stopping",
    ["kl", AuditBound(target=0.97, audit_fraction=0.2, window=3)],
    ids=["kl", "audit"],
)
def test_a_partly_told_batch_survives_save_and_load(tmp_path, data, stopping):
    X, y = data

    def half_told():
        screen = _drive(_screen(stopping=stopping), X, y, 2)
        plate = screen.ask()
        screen.tell(plate[::2], y[plate[::2]])  # half the plate came back
        return screen, plate[1::2]

    reference, rest = half_told()
    screen, _ = half_told()
    loaded = HybridScreenCV.load(screen.save(tmp_path / "c.isd.npz"), X)
    np.testing.assert_array_equal(loaded.ask(), rest)  # not a new plate
    np.testing.assert_array_equal(reference.ask(), rest)
    for campaign in (reference, loaded):
        campaign.tell(rest, y[rest])
        while not campaign.stop_:
            batch = campaign.ask()
            campaign.tell(batch, y[batch])
    assert reference.n_iter_ > 5
    np.testing.assert_equal(_final_state(loaded), _final_state(reference))


def test_specs_and_fingerprints():
    est = make_pipeline(StandardScaler(), RandomForestClassifier(n_estimators=7))
    rebuilt = SpecLoader().load(json.loads(json.dumps(to_spec(est))))
    assert rebuilt.get_params()["randomforestclassifier__n_estimators"] == 7
    with pytest.raises(TypeError, match="cannot be stored"):
        to_spec(lambda x: x)
    dense = np.arange(12.0).reshape(4, 3)
    assert library_fingerprint(dense) == library_fingerprint(dense.copy())
    assert library_fingerprint(sp.csr_matrix(dense)) == library_fingerprint(
        sp.csc_matrix(dense)
    )
    assert library_fingerprint(["CCO", "c1ccccc1"]) != library_fingerprint(
        ["c1ccccc1", "CCO"]
    )


CAMPAIGN_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import numpy as np
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression
    from sklearn_isd import HybridScreenCV

    path = Path(sys.argv[1])
    X, y = make_classification(n_samples=500, n_features=6, flip_y=0.05,
                               random_state=0)
    if path.exists():
        screen = HybridScreenCV.load(path, X)
    else:
        screen = HybridScreenCV(LogisticRegression(), batch_size=25, target=0.97,
                                random_state=0)
    while not getattr(screen, "stop_", False):
        batch = screen.ask(X)
        screen.save(path)                  # the plate is on its way to the lab
        print("measuring", screen.n_iter_, flush=True)
        time.sleep(float(sys.argv[2]))     # the lab measures; SIGKILL lands here
        screen.tell(batch, y[batch])
        screen.save(path)                  # the results are in
    np.save(path.with_suffix(".acquired.npy"), screen.acquired_iter_)
    np.save(path.with_suffix(".readout.npy"), screen.transduction_)
    print("done", flush=True)
    """
)


def test_resume_after_sigkill_mid_round(tmp_path):
    script = tmp_path / "campaign.py"
    script.write_text(CAMPAIGN_SCRIPT)
    path = tmp_path / "campaign.isd.npz"
    # The child imports the sklearn_isd under test, not an installed one.
    root = str(Path(__file__).resolve().parents[1])
    pythonpath = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=pythonpath)
    child = subprocess.Popen(
        [sys.executable, str(script), str(path), "0.2"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    for line in child.stdout:
        if line.startswith("measuring 3"):
            break
    child.send_signal(signal.SIGKILL)  # in the middle of round 3
    child.wait()
    assert child.returncode == -signal.SIGKILL
    killed = HybridScreenCV.load(path)
    assert killed.n_iter_ == 3 and killed.observed_mask_.sum() == 75
    assert killed.ask().size == 25  # the batch of round 3, still pending

    finished = subprocess.run(
        [sys.executable, str(script), str(path), "0"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert "done" in finished.stdout

    X, y = make_classification(n_samples=500, n_features=6, flip_y=0.05, random_state=0)
    reference = HybridScreenCV(
        LogisticRegression(), batch_size=25, target=0.97, random_state=0
    ).fit(X, y)
    acquired = np.load(path.with_suffix(".acquired.npy"))
    np.testing.assert_array_equal(acquired, reference.acquired_iter_)
    np.testing.assert_array_equal(
        np.load(path.with_suffix(".readout.npy")), reference.transduction_
    )
    # No label lost or duplicated: every round has its batch, once.
    counts = np.bincount(acquired[acquired >= 0])
    np.testing.assert_array_equal(
        counts, np.bincount(reference.acquired_iter_[reference.acquired_iter_ >= 0])
    )


def test_metadata_is_saved_with_the_campaign(tmp_path):
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    from sklearn_isd import HybridScreenCV, read_campaign_metadata

    X, y = make_classification(200, random_state=0)
    screen = HybridScreenCV(LogisticRegression(), batch_size=20, random_state=0)
    batch = screen.ask(X)
    screen.tell(batch, y[batch])
    log = {"tells": [{"round": 0, "file": "r.csv"}], "note": "é"}
    path = screen.save(tmp_path / "c.isd.npz", metadata=log)
    assert read_campaign_metadata(path) == log
    screen.save(path)
    assert read_campaign_metadata(path) is None
