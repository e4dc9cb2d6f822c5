"""Campaign files under attack: no code runs, nothing but CampaignFileError.

A campaign file is data from a user's disk, hostile until checked. These
tests hand ``HybridScreenCV.load`` files built to run code (gadget callables
of trusted libraries, with a marker file that must never appear), to exhaust
memory (zip bombs, headers declaring huge arrays) and to corrupt the state
(every manifest field and array mutated by hypothesis); the only outcomes
allowed are :class:`CampaignFileError` or a campaign that loads and behaves
as the original.
"""

import io
import json
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from sklearn_isd import CampaignFileError, HybridScreenCV
from sklearn_isd._persist import library_fingerprint
from sklearn_isd.stopping import AuditBound

FAST = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    """A valid campaign file mid-screen (a batch pending), and its library."""
    X, y = make_classification(160, n_features=6, random_state=0)
    screen = HybridScreenCV(
        LogisticRegression(),
        batch_size=16,
        stopping=AuditBound(target=0.9, audit_fraction=0.25),
        random_state=0,
    )
    for _ in range(3):
        batch = screen.ask(X)
        screen.tell(batch, y[batch])
    screen.ask()
    path = tmp_path_factory.mktemp("campaign") / "c.isd.npz"
    screen.save(path, metadata={"log": [1, 2]})
    return path, X, y


def _members(path):
    with np.load(path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    manifest = json.loads(str(arrays.pop("manifest")))
    return manifest, arrays


def _write(path, manifest, arrays):
    np.savez(path, manifest=np.array(json.dumps(manifest)), **arrays)
    return path


def _state(screen):
    return (
        screen.acquired_iter_.tolist(),
        screen.audit_mask_.tolist(),
        screen.n_iter_,
        screen.termination_condition_,
        screen.ask().tolist(),
        {k: v.tobytes() for k, v in screen.history_.items() if "time" not in k},
    )


# --------------------------------------------------------------------------
# No code runs
# --------------------------------------------------------------------------
class MyLogistic(LogisticRegression):
    """A user's own estimator class."""


def _gadgets(marker):
    command = ["touch", str(marker)]
    code = f"open({str(marker)!r}, 'w').close()"
    return [
        {"__estimator__": "sklearn.utils._testing.check_output", "params": {}},
        {
            "__estimator__": "sklearn.utils._testing.check_output",
            "params": {"args": command},
        },
        {"__estimator__": "numpy.testing._private.utils.runstring", "params": {}},
        {
            "__estimator__": "numpy.testing._private.utils.runstring",
            "params": {"astr": code, "dict": {"__dict__": {}}},
        },
        {"__estimator__": "subprocess.check_output", "params": {"args": command}},
        {"__estimator__": "os.system", "params": {"command": f"touch {marker}"}},
        {"__estimator__": "builtins.exec", "params": {"source": code}},
        {"__estimator__": "numpy.load", "params": {"file": str(marker)}},
        {"__estimator__": "joblib.load", "params": {"filename": str(marker)}},
        {"__estimator__": "sklearn.utils._joblib.load", "params": {}},
        {"__estimator__": "torch.load", "params": {"f": str(marker)}},
        {"__estimator__": "sklearn.utils.fixes.parse_version", "params": {}},
        {"__class__": "sklearn.utils._testing.check_output"},
        {"__class__": "numpy.testing._private.utils.runstring"},
        {"__class__": "subprocess.Popen"},
        {"__class__": "torch.load"},
        {"__class__": "numpy.load"},
        {"__class__": "builtins.eval"},
        {  # a function hidden as a parameter of a genuine estimator
            "__estimator__": "sklearn.linear_model.LogisticRegression",
            "params": {"class_weight": {"__class__": "subprocess.check_output"}},
        },
        {  # ... or as a step of a pipeline
            "__estimator__": "sklearn.pipeline.Pipeline",
            "params": {
                "steps": [
                    {"__tuple__": ["a", {"__class__": "os.system"}]},
                ]
            },
        },
        {  # a pipeline that would write a cache anywhere
            "__estimator__": "sklearn.pipeline.Pipeline",
            "params": {
                "steps": [
                    {
                        "__tuple__": [
                            "m",
                            {
                                "__estimator__": "sklearn.linear_model.Ridge",
                                "params": {},
                            },
                        ]
                    }
                ],
                "memory": str(marker.parent / "cache"),
            },
        },
        {"__estimator__": "sklearn.linear_model.LogisticRegression", "params": []},
        {"__estimator__": "sklearn..x", "params": {}},
        {"__estimator__": ["sklearn.linear_model.LogisticRegression"], "params": {}},
        {"__dict__": {"a": {"__class__": "os.system"}}, "extra": 1},
    ]


@pytest.mark.parametrize("field", ["estimator", "stopping", "acquisition", "aggregate"])
def test_no_gadget_runs_on_load(campaign, tmp_path, field):
    path, X, _ = campaign
    manifest, arrays = _members(path)
    marker = tmp_path / "pwned"
    refused = 0
    for i, gadget in enumerate(_gadgets(marker)):
        hostile = json.loads(json.dumps(manifest))
        if field == "estimator":
            hostile["estimator"] = gadget
        else:
            hostile["params"][field] = gadget
        target = _write(tmp_path / f"g{i}.isd.npz", hostile, arrays)
        with pytest.raises(CampaignFileError):
            HybridScreenCV.load(target, X)
        refused += 1
        assert not marker.exists(), f"gadget {i} ran: {gadget}"
        assert not (tmp_path / "cache").exists()
    assert refused == len(_gadgets(marker))


def test_own_estimator_classes_are_admitted_when_passed(campaign, tmp_path):
    path, X, _ = campaign
    manifest, arrays = _members(path)
    manifest["estimator"]["__estimator__"] = f"{__name__}.MyLogistic"
    target = _write(tmp_path / "own.isd.npz", manifest, arrays)
    with pytest.raises(CampaignFileError, match="outside the modules"):
        HybridScreenCV.load(target, X)
    screen = HybridScreenCV.load(target, X, estimators=[MyLogistic])
    assert type(screen.estimator_) is MyLogistic
    with pytest.raises(TypeError, match="takes classes"):
        HybridScreenCV.load(target, X, estimators=[MyLogistic()])


# --------------------------------------------------------------------------
# Memory: zip bombs and huge headers
# --------------------------------------------------------------------------
BOMB_SCRIPT = textwrap.dedent(
    """
    import resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[2]), int(sys.argv[2])))
    from sklearn_isd import CampaignFileError, HybridScreenCV
    try:
        HybridScreenCV.load(sys.argv[1])
    except CampaignFileError as exc:
        print("refused:", exc)
    """
)


def _bomb(path, campaign_path, member, payload_bytes):
    """The campaign with one more member that inflates to ``payload_bytes``."""
    with (
        zipfile.ZipFile(campaign_path) as source,
        zipfile.ZipFile(
            path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1
        ) as out,
    ):
        for info in source.infolist():
            out.writestr(info.filename, source.read(info))
        with out.open(member, "w", force_zip64=True) as handle:
            header = io.BytesIO()
            n = payload_bytes // 8
            np.lib.format.write_array_header_1_0(
                header, {"descr": "<f8", "fortran_order": False, "shape": (n,)}
            )
            handle.write(header.getvalue())
            chunk = bytes(1 << 24)
            for _ in range(payload_bytes // len(chunk)):
                handle.write(chunk)
    return path


@pytest.mark.parametrize("member", ["payload.npy", "history__payload.npy"])
def test_zip_bombs_are_refused_within_a_memory_cap(campaign, tmp_path, member):
    path, _, _ = campaign
    bomb = _bomb(tmp_path / "bomb.isd.npz", path, member, 1 << 30)
    assert bomb.stat().st_size < 8 << 20  # a few MB on disk, 1 GiB inflated
    script = tmp_path / "load.py"
    script.write_text(BOMB_SCRIPT)
    cap = 1200 << 20  # address space: the interpreter and libraries, no GiB
    done = subprocess.run(
        [sys.executable, str(script), str(bomb), str(cap)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "refused:" in done.stdout
    assert "Traceback" not in done.stderr


def test_a_header_declaring_a_huge_array_is_refused(campaign, tmp_path):
    path, X, _ = campaign
    manifest, arrays = _members(path)
    buffer = io.BytesIO()
    np.save(buffer, arrays["acquired_iter"])
    raw = buffer.getvalue()
    n = arrays["acquired_iter"].size
    forged = raw.replace(f"({n},)".encode(), f"({2**40},)".encode().ljust(8), 1)
    target = tmp_path / "huge.isd.npz"
    _write(target, manifest, arrays)
    with zipfile.ZipFile(target) as archive:
        members = {i.filename: archive.read(i) for i in archive.infolist()}
    members["acquired_iter.npy"] = forged
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(CampaignFileError, match="acquired_iter"):
        HybridScreenCV.load(target, X)


# --------------------------------------------------------------------------
# Corruption: every field of the manifest, every array
# --------------------------------------------------------------------------
_BAD_VALUES = st.sampled_from(
    [None, True, -1, 0, 2**70, 1.5, float("nan"), "", "x" * 300, [], [1], {}, {"a": 1}]
)
_MANIFEST_FIELDS = [
    "format",
    "format_version",
    "library",
    "library.n_items",
    "library.fingerprint",
    "params",
    "params.batch_size",
    "params.target",
    "params.delta",
    "params.stopping",
    "params.acquisition",
    "params.random_state",
    "estimator",
    "estimator.params",
    "estimator.__estimator__",
    "estimator_repr",
    "seed",
    "n_iter",
    "stop",
    "termination_condition",
    "is_classifier",
    "history_keys",
    "has_truth",
    "output_names",
]


def _set(manifest, dotted, value, action):
    *parents, last = dotted.split(".")
    node = manifest
    for part in parents:
        node = node[part]
    if action == "missing":
        node.pop(last, None)
    elif action == "nested":
        node[last] = {"value": node.get(last)}
    elif action == "listed":
        node[last] = [node.get(last)]
    else:
        node[last] = value


@FAST
@given(
    field=st.sampled_from(_MANIFEST_FIELDS),
    action=st.sampled_from(["value", "missing", "nested", "listed"]),
    value=_BAD_VALUES,
)
def test_a_corrupted_manifest_is_a_campaign_file_error(
    campaign, tmp_path, field, action, value
):
    path, X, _ = campaign
    manifest, arrays = _members(path)
    _set(manifest, field, value, action)
    target = _write(tmp_path / "bad.isd.npz", manifest, arrays)
    try:
        screen = HybridScreenCV.load(target, X)
    except CampaignFileError:
        return
    # Accepted (e.g. another valid stopping rule): no label is lost, and the
    # campaign runs on.
    original = HybridScreenCV.load(path, X)
    np.testing.assert_array_equal(screen.acquired_iter_, original.acquired_iter_)
    _, _, y = campaign
    batch = screen.ask()
    if batch.size:
        screen.tell(batch, y[batch])


_ARRAYS = [
    "observed_indices",
    "observed_labels",
    "acquired_iter",
    "prereveal_correct",
    "audit_mask",
    "pending",
    "pending_audit",
    "history__n_observed",
    "history__system_lower_bound",
]


def _mutate(array, how, rng):
    if how == "missing":
        return None
    if how == "dtype_object":
        return array.astype(str)
    if how == "dtype_float":
        return array.astype(float) + 0.5
    if how == "shorter":
        return array[:-1]
    if how == "longer":
        return np.concatenate([array, array[:1]])
    if how == "2d":
        return np.stack([array, array], axis=1)
    if how == "scalar":
        return np.asarray(array.ravel()[0] if array.size else 0)
    out = array.copy()
    if out.size == 0:
        return np.array([0], dtype=array.dtype)
    i = rng.integers(out.size)
    if how == "duplicate":
        out.flat[i] = out.flat[(i + 1) % out.size]
    elif how == "negative":
        out.flat[i] = -7 if out.dtype.kind != "b" else True
    elif how == "huge":
        out.flat[i] = 10**9 if out.dtype.kind in "iuf" else not out.flat[i]
    return out


@FAST
@given(
    member=st.sampled_from(_ARRAYS),
    how=st.sampled_from(
        [
            "missing",
            "dtype_object",
            "dtype_float",
            "shorter",
            "longer",
            "2d",
            "scalar",
            "duplicate",
            "negative",
            "huge",
        ]
    ),
    seed=st.integers(0, 1000),
)
def test_a_corrupted_array_is_a_campaign_file_error(
    campaign, tmp_path, member, how, seed
):
    path, X, y = campaign
    manifest, arrays = _members(path)
    mutated = _mutate(arrays[member], how, np.random.default_rng(seed))
    if mutated is None:
        del arrays[member]
    else:
        arrays[member] = mutated
    target = _write(tmp_path / "bad.isd.npz", manifest, arrays)
    try:
        screen = HybridScreenCV.load(target, X)
    except CampaignFileError:
        return
    # Accepted (the mutation kept the file consistent): it must still run,
    # with labels of the kind it holds.
    batch = screen.ask()
    screen.tell(batch, y[batch].astype(screen.transduction_.dtype))
    assert screen.n_iter_ == manifest["n_iter"] + 1


def test_unknown_members_and_format_versions_are_refused(campaign, tmp_path):
    path, X, _ = campaign
    manifest, arrays = _members(path)
    target = _write(tmp_path / "extra.isd.npz", manifest, {**arrays, "extra": [1]})
    with pytest.raises(CampaignFileError, match="unexpected member"):
        HybridScreenCV.load(target, X)
    for version in ("1", 1.0, True, 2, None):
        manifest["format_version"] = version
        target = _write(tmp_path / "v.isd.npz", manifest, arrays)
        with pytest.raises(CampaignFileError, match="format version"):
            HybridScreenCV.load(target, X)


def test_a_duplicated_observed_index_is_refused(campaign, tmp_path):
    path, X, _ = campaign
    manifest, arrays = _members(path)
    observed = arrays["observed_indices"].copy()
    observed[-1] = observed[0]
    arrays["observed_indices"] = observed
    target = _write(tmp_path / "dup.isd.npz", manifest, arrays)
    with pytest.raises(CampaignFileError, match="measured twice"):
        HybridScreenCV.load(target, X)


def test_an_empty_tell_records_nothing(campaign):
    path, X, _ = campaign
    screen = HybridScreenCV.load(path, X)
    before = _state(screen)
    for _ in range(5):
        with pytest.raises(ValueError, match="no indices"):
            screen.tell([], [])
    assert _state(screen) == before


def test_the_fingerprint_is_of_the_content(campaign, tmp_path):
    dense = np.array([[0.0, 1.5], [-0.0, 2.0]])
    assert library_fingerprint(dense) == library_fingerprint(np.abs(dense))
    csr = sp.csr_matrix(dense)
    explicit = csr.copy()
    explicit.data[0] = 0.0  # an explicit zero: the same matrix as ...
    assert explicit.nnz == csr.nnz
    dropped = sp.csr_matrix(explicit.toarray())  # ... this one, without it
    assert dropped.nnz == csr.nnz - 1
    assert library_fingerprint(explicit) == library_fingerprint(dropped)
    assert library_fingerprint(explicit) != library_fingerprint(csr)
    wide = sp.csr_matrix(csr)
    wide.indices = wide.indices.astype(np.int64)
    assert library_fingerprint(wide) == library_fingerprint(csr)
    assert library_fingerprint(csr) != library_fingerprint(csr * 2)
    # A campaign is taken up with the same library stored another way.
    path, X, y = campaign
    X_sparse = sp.csr_matrix(X)
    screen = HybridScreenCV(LogisticRegression(), batch_size=20, random_state=0)
    batch = screen.ask(X_sparse)
    screen.tell(batch, y[batch])
    target = screen.save(tmp_path / "s.isd.npz")
    negzero = X_sparse.copy()
    negzero.data[negzero.data == 0] = -0.0
    negzero.eliminate_zeros()
    assert HybridScreenCV.load(target, negzero).n_iter_ == 1


def test_a_one_element_target_with_1d_labels(campaign):
    _, X, y = campaign
    screens = [
        HybridScreenCV(LogisticRegression(), batch_size=16, target=t, random_state=0)
        for t in ([0.9], 0.9)
    ]
    for screen in screens:
        screen.fit(X, y)
    np.testing.assert_array_equal(
        screens[0].history_["system_lower_bound"],
        screens[1].history_["system_lower_bound"],
    )
