"""Saving and loading screening campaigns without pickle.

A campaign file is a NumPy ``.npz`` archive (a zip of ``.npy`` arrays)
holding:

- ``manifest``: a JSON document (format name and version, the screen's
  parameters, the estimator as a *spec* (:mod:`sklearn_isd._spec`), the
  fingerprint of the library, counters, the stopping decision and the
  caller's ``metadata``);
- the state arrays: ``observed_indices`` and ``observed_labels`` (in the order
  they were measured), ``acquired_iter``, ``prereveal_correct``,
  ``audit_mask``, the pending batch (asked, not yet told) and its audit
  items, one ``history__<key>`` array per column of ``history_``, and, when
  the campaign had them, ``y_true`` (a simulation's labels) and ``groups``.

The fitted model is not stored: it is refit from the measured labels when
the campaign is loaded and its library attached, which gives the same model
because the screen seeds the estimator.

A campaign file is data, never code, and is read as hostile until checked:

- the estimator spec admits estimator classes and JSON values only, never a
  function (:mod:`sklearn_isd._spec`);
- only the members listed above are read, each member's ``.npy`` header is
  checked against the dtype and shape the manifest implies *before* its data
  is read, no member may hold Python objects (``allow_pickle=False``), and
  the archive may not inflate to more than :data:`MAX_INFLATION` times its
  size on disk (the writer stores members uncompressed);
- the manifest is checked field by field and the arrays for consistency (a
  measured item once, rounds in range, the pending batch unmeasured, ...).

Anything else is a :class:`CampaignFileError` naming the field.

Writes are atomic: the archive is written to a temporary file in the same
folder, flushed to disk, then renamed over the target, so a crash while
saving leaves the previous file intact.
"""

import hashlib
import json
import re
import zipfile
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator

from ._spec import SpecError, SpecLoader, to_spec
from .utils._files import atomic_write, remove_stale_temporaries

FORMAT = "sklearn-isd-campaign"
FORMAT_VERSION = 1
#: The archive may inflate to at most this many times its size on disk
#: (plus 1 MiB); the writer stores members uncompressed (ratio 1).
MAX_INFLATION = 4
#: Largest manifest read (the caller's metadata included).
MAX_MANIFEST_BYTES = 64 << 20

#: Parameters of HybridScreenCV stored as plain JSON values.
_PLAIN_PARAMS = (
    "batch_size",
    "initial_batch_size",
    "target",
    "delta",
    "tolerance",
    "max_fraction",
    "n_jobs",
    "random_state",
    "verbose",
)


class CampaignFileError(ValueError):
    """A campaign file is corrupted or of an unknown format, or X is not its library."""


# --------------------------------------------------------------------------
# Library fingerprint
# --------------------------------------------------------------------------
def library_fingerprint(X, scheme="sha256c"):
    """SHA-256 of a library's content, to check a campaign's library.

    Arrays and sparse matrices hash their values, shape and dtype; pandas
    objects hash their values (``pandas.util.hash_pandas_object``); sequences
    of strings (SMILES) hash the strings in order. The ``"sha256c"`` scheme
    hashes a canonical form, so that the same content gives the same
    fingerprint: a sparse matrix with its duplicates summed, explicit zeros
    dropped and indices sorted (whatever the index dtype), and ``-0.0`` as
    ``0.0``. ``"sha256"`` is the scheme of earlier versions, kept to check
    the campaigns they saved.

    Returns
    -------
    fingerprint : str
        ``"<scheme>:<hex>"``.
    """
    canonical = scheme == "sha256c"
    h = hashlib.sha256()
    if sp.issparse(X):
        X = X.tocsr(copy=canonical)
        if canonical:
            X.sum_duplicates()
            X.eliminate_zeros()
            X.sort_indices()
            parts = (X.indptr.astype(np.int64), X.indices.astype(np.int64), X.data)
        else:
            parts = (X.indptr, X.indices, X.data)
        h.update(f"csr{X.shape}{X.dtype}".encode())
        for part in parts:
            h.update(
                np.ascontiguousarray(_no_negative_zero(part, canonical)).view(np.uint8)
            )
    elif hasattr(X, "iloc"):
        import pandas as pd

        h.update(f"pandas{X.shape}".encode())
        h.update(pd.util.hash_pandas_object(X, index=False).to_numpy().view(np.uint8))
    else:
        arr = np.asarray(X)
        if arr.dtype.kind in "biufc":
            h.update(f"array{arr.shape}{arr.dtype}".encode())
            arr = _no_negative_zero(arr, canonical)
            h.update(np.ascontiguousarray(arr).view(np.uint8))
        else:
            h.update(f"strings{arr.shape}".encode())
            for value in arr.ravel():
                h.update(str(value).encode())
                h.update(b"\x00")
    return f"{scheme}:{h.hexdigest()}"


def _no_negative_zero(values, canonical):
    if canonical and values.dtype.kind in "fc":
        return values + 0.0  # -0.0 + 0.0 == +0.0, bit for bit
    return values


def matches_fingerprint(X, fingerprint):
    """Whether library ``X`` has the stored ``fingerprint`` (either scheme)."""
    scheme = fingerprint.partition(":")[0]
    return library_fingerprint(X, scheme) == fingerprint


# --------------------------------------------------------------------------
# Save / load
# --------------------------------------------------------------------------
def _storable_labels(labels):
    labels = np.asarray(labels)
    if labels.dtype.kind == "O":
        return labels.astype(str)
    return labels


_REQUIRED = (
    "observed_indices",
    "acquired_iter",
    "prereveal_correct",
    "pending",
    "audit_mask",
    "pending_audit",
)


def _screen_params(screen):
    """The screen's parameters as JSON values (the estimator apart)."""
    params = screen.get_params(deep=False)
    stored = {name: params[name] for name in _PLAIN_PARAMS}
    if not isinstance(stored["random_state"], int | type(None)):
        stored["random_state"] = None  # a RandomState instance: seed is stored
    if np.ndim(stored["target"]):  # one target per output
        stored["target"] = np.asarray(stored["target"], dtype=float).tolist()
    for name in ("acquisition", "aggregate", "stopping"):
        value = params[name]
        if value is None or isinstance(value, str | BaseEstimator):
            stored[name] = to_spec(value)
        else:  # a user's callable has no safe stored form: load() asks for it
            stored[name] = {"__callable__": getattr(value, "__qualname__", repr(value))}
    return stored


def _state_arrays(state):
    """The arrays of a campaign state, by member name of the file."""
    arrays = {
        "observed_indices": state.observed_indices,
        "acquired_iter": state.acquired_iter,
        "prereveal_correct": state.prereveal_correct,
        "audit_mask": state.audit_mask,
        "pending_audit": state.pending_audit,
        "pending": np.empty(0, np.intp) if state.pending is None else state.pending,
        "prereveal_confidence": state.prereveal_confidence,
        "held": state.held,
        "round_predicted": state.round_predicted,
    }
    if state.observed_labels is not None:
        arrays["observed_labels"] = _storable_labels(state.observed_labels)
    for key, values in state.history.items():
        arrays[f"history__{key}"] = values
    return arrays


def save_campaign(path, *, screen, setup, state, fingerprint, metadata=None):
    """Write a campaign (parameters, setup and state) to ``path`` atomically."""
    estimator = screen.get_params(deep=False)["estimator"]
    try:
        estimator_spec = to_spec(estimator)
    except TypeError:
        estimator_spec = None
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "library": {"n_items": setup.n_items, "fingerprint": fingerprint},
        "params": _screen_params(screen),
        "estimator": estimator_spec,
        "estimator_repr": repr(estimator),
        "seed": setup.seed,
        "n_iter": state.n_iter,
        "stop": bool(state.stop),
        "termination_condition": state.termination_condition,
        "is_classifier": bool(setup.is_classifier),
        "history_keys": list(state.history),
        "has_truth": setup.y_true is not None,
        "metadata": metadata,
        "output_names": (
            None if state.output_names is None else state.output_names.tolist()
        ),
    }
    arrays = {
        "manifest": np.array(json.dumps(manifest, allow_nan=True)),
        **_state_arrays(state),
    }
    if setup.y_true is not None:
        arrays["y_true"] = _storable_labels(setup.y_true)
    if setup.group_codes is not None:
        arrays["groups"] = setup.group_codes
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(
        path.parent, targets=lambda name: name == path.name, older_than=600
    )
    return atomic_write(path, lambda handle: np.savez(handle, **arrays), binary=True)


# --------------------------------------------------------------------------
# Reading: members, headers, manifest, consistency
# --------------------------------------------------------------------------
_MEMBERS = {
    "manifest",
    "pending_row",  # written by version 0.1 for a round waiting for a refit
    "observed_indices",
    "observed_labels",
    "acquired_iter",
    "prereveal_correct",
    "audit_mask",
    "pending",
    "pending_audit",
    "y_true",
    "groups",
    "prereveal_confidence",  # the members below were added in 0.2
    "held",
    "round_predicted",
}
_HISTORY_KEY = re.compile(r"[A-Za-z0-9_]{1,120}")
_INT, _FLOAT, _BOOL, _LABEL, _TEXT = "iu", "f", "b", "biufU", "U"


def _fail(path, message):
    return CampaignFileError(f"{path}: {message}")


def _open_members(path, archive):
    """The archive's members by name, checked for names and inflation."""
    members = {}
    total = 0
    for info in archive.infolist():
        name = info.filename
        if not name.endswith(".npy"):
            raise _fail(path, f"unexpected member {name[:80]!r} in the archive")
        key = name[:-4]
        if key not in _MEMBERS and not (
            key.startswith("history__") and _HISTORY_KEY.fullmatch(key[9:])
        ):
            raise _fail(path, f"unexpected member {name[:80]!r} in the archive")
        if key in members:
            raise _fail(path, f"member {name!r} appears twice in the archive")
        members[key] = info
        total += info.file_size
    limit = MAX_INFLATION * path.stat().st_size + (1 << 20)
    if total > limit:
        raise _fail(
            path,
            f"its members would inflate to {total} bytes, more than {limit} "
            "(a campaign file is stored uncompressed): refused",
        )
    return members


def _read_member(path, archive, info, kinds, shapes):
    """One ``.npy`` member, its header checked before its data is read.

    ``kinds`` are the admitted dtype kinds; ``shapes`` the admitted shapes
    (None in a shape for any length).
    """
    name = info.filename[:-4]
    with archive.open(info) as handle:
        try:
            version = np.lib.format.read_magic(handle)
            read_header = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, fortran, dtype = read_header(handle, max_header_size=10_000)
        except (ValueError, OSError, EOFError, SyntaxError) as exc:
            raise _fail(path, f"member {name!r} has no valid header: {exc}") from None
        if dtype.hasobject or dtype.kind not in kinds or dtype.fields:
            raise _fail(path, f"member {name!r} has dtype {dtype}, expected {kinds}")
        if not any(_shape_matches(shape, s) for s in shapes):
            raise _fail(path, f"member {name!r} has shape {shape}, expected {shapes}")
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if nbytes != info.file_size - handle.tell():
            raise _fail(path, f"member {name!r} is truncated or padded")
        data = handle.read()
    array = np.frombuffer(data, dtype=dtype)
    return array.reshape(shape, order="F" if fortran else "C").copy()


def _shape_matches(shape, expected):
    return len(shape) == len(expected) and all(
        e is None or e == s for s, e in zip(shape, expected, strict=True)
    )


def read_campaign(path):
    """Read and check a campaign file; return (manifest, arrays).

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    CampaignFileError
        For anything but a well-formed campaign file of this format version.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No campaign file at {path}.")
    try:
        with zipfile.ZipFile(path) as archive:
            members = _open_members(path, archive)
            manifest = _read_manifest(path, archive, members)
            arrays = {
                key: _read_member(path, archive, members[key], *spec)
                for key, spec in _expected_members(path, manifest, members).items()
            }
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise _fail(
            path,
            f"not a readable sklearn-isd campaign file (corrupted or truncated?): "
            f"{exc}",
        ) from None
    except (NotImplementedError, RuntimeError) as exc:  # compression, encryption
        raise _fail(path, f"unsupported archive: {exc}") from None
    _check_arrays(path, manifest, arrays)
    return manifest, arrays


def _read_manifest(path, archive, members):
    info = members.get("manifest")
    if info is None:
        raise _fail(path, "not an sklearn-isd campaign file (no manifest)")
    if info.file_size > MAX_MANIFEST_BYTES:
        raise _fail(path, f"its manifest is larger than {MAX_MANIFEST_BYTES} bytes")
    text = _read_member(path, archive, info, _TEXT, [()])
    try:
        manifest = json.loads(str(text))
    except (ValueError, RecursionError) as exc:
        raise _fail(path, f"its manifest is not JSON: {exc}") from None
    _check_manifest(path, manifest)
    return manifest


def _field(path, manifest, dotted, kinds, check=None, what=None):
    """The value of a manifest field, of one of ``kinds`` (and ``check``)."""
    value = manifest
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            raise _fail(path, f"manifest field {dotted!r} is missing")
        value = value[part]
    ok = any(
        (type(value) is kind) if kind in (int, bool) else isinstance(value, kind)
        for kind in kinds
    )
    if not ok or (check is not None and not check(value)):
        expected = what or " or ".join(getattr(k, "__name__", str(k)) for k in kinds)
        raise _fail(
            path, f"manifest field {dotted!r} is {_short(value)}, expected {expected}"
        )
    return value


def _check_manifest(path, manifest):
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _fail(path, "not an sklearn-isd campaign file")
    version = manifest.get("format_version")
    if type(version) is not int or version != FORMAT_VERSION:
        raise _fail(
            path,
            f"campaign format version {_short(version)}; this version of "
            f"sklearn-isd reads version {FORMAT_VERSION}",
        )
    _field(path, manifest, "library.n_items", [int], lambda v: 1 <= v <= 1 << 40)
    _field(
        path,
        manifest,
        "library.fingerprint",
        [str],
        lambda v: re.fullmatch(r"sha256c?:[0-9a-f]{64}", v) is not None,
        "a sha256 fingerprint",
    )
    _field(path, manifest, "params", [dict])
    _field(path, manifest, "estimator", [dict, type(None)])
    _field(path, manifest, "estimator_repr", [str])
    _field(path, manifest, "seed", [int], lambda v: 0 <= v < 2**32, "a seed")
    _field(path, manifest, "n_iter", [int], lambda v: v >= 0)
    _field(path, manifest, "stop", [bool])
    _field(
        path,
        manifest,
        "termination_condition",
        [str, type(None)],
        lambda v: v is None or 0 < len(v) <= 100,
    )
    _field(path, manifest, "is_classifier", [bool])
    _field(path, manifest, "has_truth", [bool])
    _field(
        path,
        manifest,
        "history_keys",
        [list],
        lambda v: (
            all(isinstance(k, str) and _HISTORY_KEY.fullmatch(k) for k in v)
            and len(set(v)) == len(v)
        ),
        "a list of distinct column names",
    )
    names = manifest.get("output_names")
    if names is not None and not (
        isinstance(names, list)
        and names
        and all(isinstance(n, str) and len(n) <= 200 for n in names)
    ):
        raise _fail(path, f"manifest field 'output_names' is {_short(names)}")


def _expected_members(path, manifest, members):
    """Per member to read: admitted dtype kinds and shapes."""
    n = manifest["library"]["n_items"]
    rows = manifest["n_iter"]
    width = (
        None if manifest.get("output_names") is None else len(manifest["output_names"])
    )
    cells = [(n,)] if not width or width == 1 else [(n, width)]
    observed = [(None,)] if not width or width == 1 else [(None, width)]
    expected = {
        "observed_indices": (_INT, [(None,)]),
        "acquired_iter": (_INT, [(n,)]),
        "prereveal_correct": (_FLOAT, cells),
        "audit_mask": (_BOOL, [(n,)]),
        "pending": (_INT, [(None,)]),
        "pending_audit": (_INT, [(None,)]),
    }
    for key in _REQUIRED:
        if key not in members:
            raise _fail(path, f"corrupted: the member {key!r} is missing")
    if "observed_labels" in members:
        expected["observed_labels"] = (_LABEL, observed)
    if manifest["has_truth"]:
        if "y_true" not in members:
            raise _fail(
                path, "its manifest says it has the truth, but y_true is missing"
            )
        expected["y_true"] = (_LABEL, [(n,), (n, None)])
    elif "y_true" in members:
        raise _fail(path, "it holds y_true but its manifest says it has no truth")
    if "groups" in members:
        expected["groups"] = (_INT, [(n,)])
    if "prereveal_confidence" in members:
        expected["prereveal_confidence"] = (_FLOAT, cells)
    if "held" in members:
        expected["held"] = (_BOOL, [(rows,)])
    if "round_predicted" in members:
        expected["round_predicted"] = (_FLOAT, [(rows, width)])
    for key in manifest["history_keys"]:
        if f"history__{key}" not in members:
            raise _fail(path, f"corrupted: the history column {key!r} is missing")
        expected[f"history__{key}"] = ("biuf", [(rows,)])
    extra = {k for k in members if k.startswith("history__")} - set(expected)
    if extra:
        raise _fail(path, f"history columns {sorted(extra)} are not in its manifest")
    return expected


def _check_arrays(path, manifest, arrays):
    """The arrays agree with each other and the manifest."""
    n, n_iter = manifest["library"]["n_items"], manifest["n_iter"]
    observed = arrays["observed_indices"]
    acquired = arrays["acquired_iter"]
    mask = acquired >= 0
    problems = []
    if observed.size and (observed.min() < 0 or observed.max() >= n):
        problems.append("observed_indices outside the library")
    elif np.unique(observed).size != observed.size:
        problems.append("an item measured twice in observed_indices")
    elif observed.size != mask.sum() or not mask[observed].all():
        problems.append("observed_indices and acquired_iter disagree")
    if acquired.size and (acquired.min() < -1 or acquired.max() >= max(n_iter, 1)):
        problems.append("acquired_iter holds rounds that did not happen")
    if n_iter and observed.size == 0:
        problems.append("rounds without any measured item")
    pending, audit = arrays["pending"], arrays["pending_audit"]
    if pending.size and (
        pending.min() < 0
        or pending.max() >= n
        or np.unique(pending).size != pending.size
        or mask[pending].any()
    ):
        problems.append("the pending batch is not a set of unmeasured items")
    if not np.isin(audit, pending).all() or np.unique(audit).size != audit.size:
        problems.append("pending_audit is not part of the pending batch")
    correct = arrays["prereveal_correct"]
    if not np.all(np.isnan(correct) | (correct == 0) | (correct == 1)):
        problems.append("prereveal_correct holds values other than 0, 1 and NaN")
    labels = arrays.get("observed_labels")
    if (labels is None) != (observed.size == 0) or (
        labels is not None and labels.shape[0] != observed.size
    ):
        problems.append("observed_labels do not match observed_indices")
    groups = arrays.get("groups")
    if groups is not None and groups.size and (groups.min() < 0 or groups.max() >= n):
        problems.append("groups outside [0, n_items)")
    if bool(manifest["stop"]) != (manifest["termination_condition"] is not None):
        problems.append("stop and termination_condition disagree")
    if problems:
        raise _fail(path, "inconsistent (corrupted): " + "; ".join(problems))


def _short(value, limit=60):
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --------------------------------------------------------------------------
# From the file to a screen
# --------------------------------------------------------------------------
class StoredCampaign:
    """A campaign read from a file: what a screen needs to take it up again.

    ``params`` are the screen's parameters (the estimator included);
    :meth:`restore` turns the stored arrays into the campaign's state.
    """

    def __init__(self, path, manifest, arrays, params):
        self.path, self.manifest, self.arrays = path, manifest, arrays
        self.params = params
        library = manifest["library"]
        self.n_items = library["n_items"]
        self.fingerprint = library["fingerprint"]
        self.seed = manifest["seed"]
        self.y_true = arrays.get("y_true")
        groups = arrays.get("groups")
        self.group_codes = None if groups is None else groups.astype(np.intp)
        self.output_names = manifest.get("output_names")
        labels = arrays.get("observed_labels")
        self.labels_seen = labels if labels is not None else self.y_true

    def restore(self, setup, state):
        """The stored state, on top of a new ``state`` of the right shape.

        The stopping rule is given the evidence of every round again, so a
        stateful rule ends in the state it had when the campaign was saved.
        """
        arrays, manifest = self.arrays, self.manifest
        acquired_iter = arrays["acquired_iter"].astype(np.intp)
        pending = arrays["pending"].astype(np.intp)
        rows = manifest["n_iter"]
        history = {key: arrays[f"history__{key}"] for key in manifest["history_keys"]}
        if "predicted_errors" not in history and "predicted_errors" in state.history:
            # A campaign saved before this column existed.
            history["predicted_errors"] = np.full(rows, np.nan)
            history = {key: history[key] for key in state.history if key in history}
        if list(history) != list(state.history):
            raise _fail(
                self.path,
                f"its history columns {list(history)} are not those of its "
                f"parameters {list(state.history)}",
            )
        prereveal = arrays["prereveal_correct"].astype(float)
        if prereveal.shape != state.prereveal_correct.shape:
            raise _fail(self.path, "prereveal_correct has the wrong shape")
        restored = state.replace(
            acquired_iter=acquired_iter,
            observed_mask=acquired_iter >= 0,
            prereveal_correct=prereveal,
            audit_mask=arrays["audit_mask"].astype(bool),
            observed_indices=arrays["observed_indices"].astype(np.intp),
            observed_labels=arrays.get("observed_labels"),
            n_iter=manifest["n_iter"],
            termination_condition=manifest["termination_condition"],
            pending=pending if pending.size else None,
            pending_audit=arrays["pending_audit"].astype(np.intp),
            history=history,
            prereveal_confidence=arrays.get(
                "prereveal_confidence", np.full(prereveal.shape, np.nan)
            ).astype(float),
            held=arrays.get("held", np.zeros(rows, dtype=bool)).astype(bool),
            round_predicted=arrays.get(
                "round_predicted",
                np.full((rows, state.round_predicted.shape[1]), np.nan),
            ).astype(float),
        )
        return restored.with_rule_replayed(setup)


def load_campaign(path, overrides, estimators=(), trusted=()):
    """Read a campaign file for :meth:`HybridScreenCV.load`.

    ``overrides`` maps ``estimator``, ``acquisition``, ``aggregate`` and
    ``stopping`` to the objects the caller passes instead of the stored ones
    (None to use the stored one); ``estimators`` and ``trusted`` extend the
    classes a spec may name (:class:`~sklearn_isd._spec.SpecLoader`).

    Returns
    -------
    campaign : StoredCampaign
    """
    path = Path(path)
    manifest, arrays = read_campaign(path)
    loader = SpecLoader(estimators, trusted)
    params = dict(manifest["params"])
    expected = {*_PLAIN_PARAMS, "acquisition", "aggregate", "stopping"}
    if set(params) != expected:
        raise _fail(
            path,
            f"manifest field 'params' has the keys {sorted(params)[:20]}, expected "
            f"{sorted(expected)}",
        )
    try:
        for name in ("acquisition", "aggregate", "stopping"):
            stored, given = params[name], overrides[name]
            if given is not None:
                params[name] = given
            elif isinstance(stored, dict) and "__callable__" in stored:
                raise CampaignFileError(
                    f"The campaign used a callable {name} "
                    f"({_short(stored['__callable__'])}), which cannot be stored: "
                    f"pass {name}=... to load()."
                )
            else:
                params[name] = loader.load(stored, f"params.{name}")
        estimator = overrides["estimator"]
        if estimator is None:
            if manifest["estimator"] is None:
                raise CampaignFileError(
                    "The campaign's estimator could not be stored as a spec ("
                    f"{_short(manifest['estimator_repr'])}): pass estimator=... to "
                    "load()."
                )
            estimator = loader.load(manifest["estimator"])
    except SpecError as exc:
        raise _fail(path, str(exc)) from None
    params["estimator"] = estimator
    return StoredCampaign(path, manifest, arrays, params)


def read_campaign_metadata(path):
    """The ``metadata`` stored by ``HybridScreenCV.save(path, metadata=...)``.

    Parameters
    ----------
    path : str or path-like
        A campaign file.

    Returns
    -------
    metadata : dict or None
        The JSON data given to :meth:`~sklearn_isd.HybridScreenCV.save`.

    Raises
    ------
    CampaignFileError
        If the file is not a readable campaign file.
    """
    return read_campaign(path)[0].get("metadata")
