"""Screens, committees and fingerprints on a Dask cluster through joblib.

Every parallel loop of the package is a :class:`joblib.Parallel` call, so
``joblib.parallel_config(backend="dask")`` ships its tasks to a
``dask.distributed`` cluster. A small local cluster (two worker processes of
one thread, on the loopback interface) runs each piece of work, and the
result must equal that of the default backend. The scheduler's task stream
records every task the workers ran: the tests check that the expected tasks
are there, so that a silent fall-back to local execution fails them.

When Ray is installed (it is not a dependency), the same screen also runs on
Ray's joblib backend, on a local Ray node.
"""

import os
import re

import numpy as np
import pytest
import scipy.sparse as sp
from joblib import parallel_config
from joblib.pool import PicklingPool
from sklearn.datasets import make_classification
from sklearn.ensemble import BaggingClassifier
from sklearn.linear_model import LogisticRegression

from sklearn_isd import HybridScreenCV
from sklearn_isd import _pool as screen_module
from sklearn_isd.acquisition import least_confidence

distributed = pytest.importorskip("distributed")

#: Columns of ``history_`` that hold wall-clock times, which differ by backend.
TIMING = {"fit_time", "score_time"}
#: A sum of probabilities over chunks of another size: equal to rounding.
SUMMED = {"predicted_errors"}


@pytest.fixture(scope="module")
def client():
    """Two worker processes of one thread, listening on 127.0.0.1 only."""
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
        scheduler_kwargs={"dashboard": False},
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="module")
def library():
    X, y = make_classification(
        n_samples=1200,
        n_features=10,
        n_informative=5,
        flip_y=0.05,
        class_sep=1.0,
        random_state=0,
    )
    return X, y


@pytest.fixture
def small_pool_chunks(monkeypatch):
    """Pool chunks of 250 rows, so that a library of 1,200 makes several."""
    monkeypatch.setattr(screen_module, "POOL_CHUNK_SIZE", 250)


def _calls_on_cluster(task_stream, funcname):
    """How many calls of ``funcname`` the cluster ran, from joblib's task keys.

    joblib's dask backend submits batches of calls under the key
    ``batch_of_<funcname>_<n>_calls-<uuid>`` (``mixed_batch_of_...`` when a
    batch holds several functions).
    """
    pattern = re.compile(rf"^batch_of_{re.escape(funcname)}_(\d+)_calls-")
    calls = 0
    for task in task_stream.data:
        match = pattern.match(str(task["key"]))
        if match:
            calls += int(match.group(1))
    return calls


def _expected_pool_chunks(screen, n_samples):
    """Chunks the screen scored: one pool pass per row of ``history_``."""
    remaining = n_samples - screen.history_["n_observed"]
    remaining = remaining[remaining > 0]
    return int(np.sum(-(-remaining // screen_module.POOL_CHUNK_SIZE)))


def _assert_same_screen(result, reference):
    assert result.n_iter_ == reference.n_iter_
    assert result.termination_condition_ == reference.termination_condition_
    np.testing.assert_array_equal(result.acquired_iter_, reference.acquired_iter_)
    np.testing.assert_array_equal(result.observed_mask_, reference.observed_mask_)
    np.testing.assert_array_equal(result.transduction_, reference.transduction_)
    np.testing.assert_array_equal(
        result.prereveal_correct_, reference.prereveal_correct_
    )
    assert result.history_.keys() == reference.history_.keys()
    for key in SUMMED:
        np.testing.assert_allclose(
            result.history_[key], reference.history_[key], rtol=1e-12, err_msg=key
        )
    for key in result.history_.keys() - TIMING - SUMMED:
        np.testing.assert_array_equal(
            result.history_[key], reference.history_[key], err_msg=key
        )


def _make_screen(estimator, **params):
    params = {
        "batch_size": 60,
        "target": 0.9,
        "max_fraction": 0.5,
        "n_jobs": 2,
        "random_state": 0,
        **params,
    }
    return HybridScreenCV(estimator, **params)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_screen_on_dask_equals_default_backend(
    client, library, small_pool_chunks, sparse
):
    X, y = library
    if sparse:
        X = sp.csr_matrix(X)
    reference = _make_screen(LogisticRegression()).fit(X, y)
    assert reference.n_iter_ >= 2

    with distributed.get_task_stream(client) as tasks:
        with parallel_config(backend="dask", client=client):
            screen = _make_screen(LogisticRegression()).fit(X, y)

    _assert_same_screen(screen, reference)
    # Every chunk of every pool pass was scored on the cluster, in several
    # chunks per pass.
    expected = _expected_pool_chunks(screen, len(y))
    assert expected > screen.n_iter_
    assert _calls_on_cluster(tasks, "_score_chunk") == expected
    workers = {task["worker"] for task in tasks.data}
    assert workers <= set(client.scheduler_info()["workers"])


def test_committee_screen_on_dask_equals_default_backend(
    client, library, small_pool_chunks
):
    X, y = library
    committee = BaggingClassifier(LogisticRegression(), n_estimators=4, n_jobs=2)
    reference = _make_screen(committee, acquisition="vote_entropy").fit(X, y)

    with distributed.get_task_stream(client) as tasks:
        with parallel_config(backend="dask", client=client):
            screen = _make_screen(committee, acquisition="vote_entropy").fit(X, y)

    _assert_same_screen(screen, reference)
    # The members were trained on the cluster (one fit per round) and the
    # pool was scored there too.
    assert _calls_on_cluster(tasks, "_parallel_build_estimators") >= screen.n_iter_
    assert _calls_on_cluster(tasks, "_score_chunk") == _expected_pool_chunks(
        screen, len(y)
    )


def test_morgan_fingerprint_on_dask_equals_default_backend(client, monkeypatch):
    pytest.importorskip("rdkit")
    from sklearn_isd import chem
    from sklearn_isd.datasets import load_qm9

    # Chunks of 50 SMILES where the transformer chunks by size (else one
    # chunk per job), so that 400 SMILES make several tasks.
    monkeypatch.setattr(chem, "_CHUNK_SIZE", 50, raising=False)
    smiles = load_qm9().data[:400]
    fingerprint = chem.MorganFingerprint(n_jobs=2)
    reference = fingerprint.transform(smiles)

    with distributed.get_task_stream(client) as tasks:
        with parallel_config(backend="dask", client=client):
            result = fingerprint.transform(smiles)

    assert sp.issparse(result) and result.format == "csr"
    assert result.dtype == reference.dtype
    np.testing.assert_array_equal(result.indptr, reference.indptr)
    np.testing.assert_array_equal(result.indices, reference.indices)
    np.testing.assert_array_equal(result.data, reference.data)
    assert _calls_on_cluster(tasks, "_fingerprint_chunk") >= 2


def test_ray_backend_equals_default_backend(
    library, small_pool_chunks, monkeypatch, tmp_path
):
    # Keep the local Ray node on the loopback interface: Ray binds to the
    # machine's address unless this is set (read at import and at start).
    monkeypatch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    ray = pytest.importorskip("ray")
    ray_joblib = pytest.importorskip("ray.util.joblib")
    ray_constants = pytest.importorskip("ray._private.ray_constants")
    monkeypatch.setattr(ray_constants, "ENABLE_RAY_CLUSTER", False, raising=False)
    X, y = library
    pid_dir = str(tmp_path)

    def least_confidence_leaving_pid(estimator, X):
        # A local function: cloudpickle ships it by value to Ray's workers.
        # Each process that scores a chunk leaves a file named by its pid.
        open(os.path.join(pid_dir, str(os.getpid())), "w").close()
        return least_confidence(estimator, X)

    # Two rounds: Ray's joblib backend starts a pool of actors for each call.
    params = {"acquisition": least_confidence_leaving_pid, "max_fraction": 0.1}
    reference = _make_screen(LogisticRegression(), **params).fit(X, y)
    for path in tmp_path.iterdir():
        path.unlink()

    ray_joblib.register_ray()
    started = not ray.is_initialized()
    if started:
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
    # Ray's backend rebases joblib's PicklingPool on Ray's pool: undo after.
    bases = PicklingPool.__bases__
    try:
        with parallel_config(backend="ray"):
            screen = _make_screen(LogisticRegression(), **params).fit(X, y)
    finally:
        PicklingPool.__bases__ = bases
        if started:
            ray.shutdown()

    _assert_same_screen(screen, reference)
    assert screen.n_iter_ == 2
    pids = {int(path.name) for path in tmp_path.iterdir()}
    assert pids and os.getpid() not in pids
