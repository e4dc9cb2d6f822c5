"""Saving and loading screening campaigns without pickle.

A campaign file is a NumPy ``.npz`` archive (a zip of ``.npy`` arrays, read
with ``allow_pickle=False``) holding:

- ``manifest``: a JSON document (format name and version, the screen's
  parameters, the estimator as a *spec* (see below), the fingerprint of the
  library, counters and the stopping decision);
- the state arrays: ``observed_indices`` and ``observed_labels`` (in the order
  they were measured), ``acquired_iter``, ``prereveal_correct``,
  ``audit_mask``, the pending batch (asked, not yet told) and its audit
  items, and one ``history__<key>`` array per column of ``history_``.

The fitted model is not stored: it is refit from the measured labels when
the campaign is loaded and its library attached, which gives the same model
because the screen seeds the estimator.

An estimator spec is JSON: ``{"__estimator__": "sklearn.linear_model.
LogisticRegression", "params": {...}}`` with nested estimators, tuples and
classes encoded likewise. Loading imports classes only from trusted module
prefixes (scikit-learn, sklearn-isd, skorch, torch, numpy and the ones the
caller adds), so a campaign file cannot make Python run arbitrary code.

Writes are atomic: the archive is written to a temporary file in the same
folder, flushed to disk, then renamed over the target, so a crash while
saving leaves the previous file intact.
"""

import hashlib
import importlib
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator

FORMAT = "sklearn-isd-campaign"
FORMAT_VERSION = 1
TRUSTED_MODULES = ("sklearn.", "sklearn_isd.", "skorch.", "torch.", "numpy.")

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
# Estimator specs
# --------------------------------------------------------------------------
def to_spec(obj):
    """Encode an estimator (or parameter value) as JSON-compatible data.

    Raises
    ------
    TypeError
        For values that have no safe JSON form (functions, arrays, ...).
    """
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, list):
        return [to_spec(v) for v in obj]
    if isinstance(obj, tuple):
        return {"__tuple__": [to_spec(v) for v in obj]}
    if isinstance(obj, dict):
        if not all(isinstance(k, str) for k in obj):
            raise TypeError("only dicts with string keys can be stored")
        return {"__dict__": {k: to_spec(v) for k, v in obj.items()}}
    if isinstance(obj, BaseEstimator):
        return {
            "__estimator__": f"{type(obj).__module__}.{type(obj).__qualname__}",
            "params": {k: to_spec(v) for k, v in obj.get_params(deep=False).items()},
        }
    if isinstance(obj, type):
        return {"__class__": f"{obj.__module__}.{obj.__qualname__}"}
    raise TypeError(f"a value of type {type(obj).__name__} cannot be stored as JSON")


def _import_trusted(path, trusted):
    module, _, name = path.rpartition(".")
    if not any((module + ".").startswith(prefix) for prefix in trusted):
        raise CampaignFileError(
            f"The campaign file refers to {path!r}, outside the trusted modules "
            f"{list(trusted)}; pass trusted=[...] to load() if you trust it, or "
            "pass the estimator yourself with estimator=..."
        )
    obj = importlib.import_module(module)
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


def from_spec(spec, trusted=TRUSTED_MODULES):
    """Rebuild what :func:`to_spec` encoded, importing only trusted modules."""
    if isinstance(spec, list):
        return [from_spec(v, trusted) for v in spec]
    if not isinstance(spec, dict):
        return spec
    if "__tuple__" in spec:
        return tuple(from_spec(v, trusted) for v in spec["__tuple__"])
    if "__dict__" in spec:
        return {k: from_spec(v, trusted) for k, v in spec["__dict__"].items()}
    if "__class__" in spec:
        return _import_trusted(spec["__class__"], trusted)
    if "__estimator__" in spec:
        cls = _import_trusted(spec["__estimator__"], trusted)
        params = {k: from_spec(v, trusted) for k, v in spec["params"].items()}
        return cls(**params)
    raise CampaignFileError(f"Unknown entry in the campaign file: {spec!r}")


# --------------------------------------------------------------------------
# Library fingerprint
# --------------------------------------------------------------------------
def library_fingerprint(X):
    """SHA-256 of a library's content, to check a campaign's library.

    Arrays and sparse matrices hash their values, shape and dtype; pandas
    objects hash their values (``pandas.util.hash_pandas_object``); sequences
    of strings (SMILES) hash the strings in order.

    Returns
    -------
    fingerprint : str
        ``"sha256:<hex>"``.
    """
    h = hashlib.sha256()
    if sp.issparse(X):
        X = X.tocsr()
        h.update(f"csr{X.shape}{X.dtype}".encode())
        for part in (X.indptr, X.indices, X.data):
            h.update(np.ascontiguousarray(part).view(np.uint8))
    elif hasattr(X, "iloc"):
        import pandas as pd

        h.update(f"pandas{X.shape}".encode())
        h.update(pd.util.hash_pandas_object(X, index=False).to_numpy().view(np.uint8))
    else:
        arr = np.asarray(X)
        if arr.dtype.kind in "biufc":
            h.update(f"array{arr.shape}{arr.dtype}".encode())
            h.update(np.ascontiguousarray(arr).view(np.uint8))
        else:
            h.update(f"strings{arr.shape}".encode())
            for value in arr.ravel():
                h.update(str(value).encode())
                h.update(b"\x00")
    return "sha256:" + h.hexdigest()


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
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


class StoredCampaign:
    """A campaign read from a file: what a screen needs to take it up again.

    ``params`` are the screen's parameters (the estimator included);
    :meth:`restore` turns the stored arrays into the campaign's state.
    """

    def __init__(self, manifest, arrays, params):
        self.manifest, self.arrays, self.params = manifest, arrays, params
        library = manifest["library"]
        self.n_items = int(library["n_items"])
        self.fingerprint = library["fingerprint"]
        self.seed = int(manifest["seed"])
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
        try:
            history = {
                key: arrays[f"history__{key}"] for key in manifest["history_keys"]
            }
        except KeyError as exc:
            raise CampaignFileError(
                f"The campaign file is inconsistent (corrupted): no {exc}."
            ) from None
        restored = state.replace(
            acquired_iter=acquired_iter,
            observed_mask=acquired_iter >= 0,
            prereveal_correct=arrays["prereveal_correct"].astype(float),
            audit_mask=arrays["audit_mask"].astype(bool),
            observed_indices=arrays["observed_indices"].astype(np.intp),
            observed_labels=arrays.get("observed_labels"),
            n_iter=int(manifest["n_iter"]),
            termination_condition=manifest["termination_condition"],
            pending=pending if pending.size else None,
            pending_audit=arrays["pending_audit"].astype(np.intp),
        )
        observed, labels = restored.observed_indices, restored.observed_labels
        if (
            observed.size != restored.observed_mask.sum()
            or not restored.observed_mask[observed].all()
            or (labels is not None and labels.shape[:1] != observed.shape)
            or list(history) != list(state.history)
            or bool(manifest["stop"]) != restored.stop
        ):
            raise CampaignFileError("The campaign file is inconsistent (corrupted).")
        return restored.replace(history=history).with_rule_replayed(setup)


def load_campaign(path, overrides, trusted=()):
    """Read a campaign file for :meth:`HybridScreenCV.load`.

    ``overrides`` maps ``estimator``, ``acquisition``, ``aggregate`` and
    ``stopping`` to the objects the caller passes instead of the stored ones
    (None to use the stored one).

    Returns
    -------
    campaign : StoredCampaign
    """
    manifest, arrays = read_campaign(path)
    trusted = (*TRUSTED_MODULES, *trusted)
    params = dict(manifest["params"])
    for name in ("acquisition", "aggregate", "stopping"):
        stored, given = params[name], overrides[name]
        if given is not None:
            params[name] = given
        elif isinstance(stored, dict) and "__callable__" in stored:
            raise ValueError(
                f"The campaign used a callable {name} ({stored['__callable__']}),"
                f" which cannot be stored: pass {name}=... to load()."
            )
        else:
            params[name] = from_spec(stored, trusted)
    estimator = overrides["estimator"]
    if estimator is None:
        if manifest["estimator"] is None:
            raise ValueError(
                "The campaign's estimator could not be stored as a spec ("
                f"{manifest['estimator_repr']}): pass estimator=... to load()."
            )
        estimator = from_spec(manifest["estimator"], trusted)
    params["estimator"] = estimator
    return StoredCampaign(manifest, arrays, params)


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


def read_campaign(path):
    """Read and check a campaign file; return (manifest, arrays)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No campaign file at {path}.")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
        manifest = json.loads(str(arrays.pop("manifest")))
    except (zipfile.BadZipFile, OSError, KeyError, ValueError, EOFError) as exc:
        raise CampaignFileError(
            f"{path} is not a readable sklearn-isd campaign file (corrupted or "
            f"truncated?): {exc}"
        ) from exc
    if manifest.get("format") != FORMAT:
        raise CampaignFileError(f"{path} is not an sklearn-isd campaign file.")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise CampaignFileError(
            f"{path} has campaign format version {version}; this version of "
            f"sklearn-isd reads version {FORMAT_VERSION}."
        )
    missing = set(_REQUIRED) - set(arrays)
    if missing:
        raise CampaignFileError(f"{path} is corrupted: missing {sorted(missing)}.")
    return manifest, arrays
