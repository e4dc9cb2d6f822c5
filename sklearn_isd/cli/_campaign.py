"""The campaign directory: its layout, reading it, and committing a change.

A campaign directory holds:

- ``campaign.json``: what ``start`` fixed, written once (see ``_schema``);
- ``campaign.isd.npz``: the screen's state (:meth:`HybridScreenCV.save`) with
  the log of the results files told in its metadata. It is the one source of
  truth: status, round, pending batch, labels and bounds are read from it,
  and a ``tell`` changes the campaign by replacing it, in one atomic rename
  (:func:`commit`);
- ``library.csv`` (or ``.tsv``, ``.smi``, ``.sdf``, ``.parquet``: the
  extension of the library given): the library, byte for byte as ``start``
  read it;
- ``skipped.csv``: the invalid library rows ``start --skip-invalid`` left
  out (derived: campaign.json lists their positions);
- ``batch_NNN.csv``: the batch of round NNN, derived from the state: written
  before the commit that makes it pending, and written again by the next
  command if it is missing;
- ``.campaign.lock``: the lock that ``start``, ``tell`` and ``status`` (when
  it writes a missing batch file) hold while they write.

Every name read is confined to the directory: a name from campaign.json
that is a path, or a file that is a symbolic link leading out of the
directory, is refused.
"""

import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.base import is_classifier

from ..utils._files import remove_stale_temporaries
from ._errors import (
    CampaignStateError,
    DependencyError,
    InputError,
    one_line,
    screen_errors,
)
from ._inputs import read_bytes, sha256_of
from ._library import read_library
from ._models import DEFAULT_STOPPING, make_stopping
from ._outputs import now, write_rows
from ._schema import parse_campaign_json

CAMPAIGN_JSON = "campaign.json"
CAMPAIGN_FILE = "campaign.isd.npz"
LIBRARY_COPY = "library.csv"
SKIPPED_FILE = "skipped.csv"
#: Names of the library copy, by extension of the library given to start.
LIBRARY_COPIES = {
    ext: f"library{ext}"
    for ext in (".csv", ".tsv", ".tab", ".smi", ".smiles", ".sdf", ".sd")
    + (".parquet", ".pq")
}
LOCK_FILE = ".campaign.lock"
#: The metadata of the campaign file: the log of the results files told.
LOG_FORMAT = "sklearn-isd-cli-log"
#: Seconds a command waits for another one holding the campaign's lock.
LOCK_TIMEOUT = 10.0
_BATCH_NAME = "batch_{:03d}.csv"
#: Errors HybridScreenCV.load raises on a campaign file whose manifest or
#: arrays were damaged (beyond the CampaignFileError it raises itself).
_CORRUPTED = (
    ValueError,
    KeyError,
    TypeError,
    IndexError,
    AttributeError,
    RecursionError,
    OverflowError,
)


def batch_name(round_):
    """The file name of the batch of a round."""
    return _BATCH_NAME.format(round_)


def library_copy_name(library_path):
    """The name of the library copy: library + the library's extension."""
    return LIBRARY_COPIES.get(Path(library_path).suffix.lower(), LIBRARY_COPY)


def _is_campaign_file_name(name):
    """Names of the files a campaign's commands write (for stale temporaries)."""
    if name in (CAMPAIGN_JSON, CAMPAIGN_FILE, SKIPPED_FILE, *LIBRARY_COPIES.values()):
        return True
    return name.startswith("batch_") and name.endswith(".csv")


def _start_files():
    """The files start writes before the campaign file (an interrupted start)."""
    return {CAMPAIGN_JSON, SKIPPED_FILE, batch_name(0), *LIBRARY_COPIES.values()}


# --------------------------------------------------------------------------
# The lock
# --------------------------------------------------------------------------
@contextmanager
def campaign_lock(directory, timeout=LOCK_TIMEOUT):
    """Hold the campaign's lock; a held lock is waited for ``timeout`` seconds.

    Inside the block no other sklearn-isd command writes the campaign, so
    the temporary files that killed writers left behind are removed first.

    Raises
    ------
    CampaignStateError
        If another command still holds the lock after ``timeout`` seconds.
    OSError
        If the lock file cannot be created (e.g. a read-only folder).
    """
    try:
        from filelock import FileLock, Timeout
    except ImportError:
        raise DependencyError(
            "The campaign commands need the filelock package; install it with "
            "`pip install sklearn-isd[cli]` (or `pip install filelock`)."
        ) from None

    lock = FileLock(Path(directory) / LOCK_FILE, timeout=timeout)
    try:
        lock.acquire()
    except Timeout:
        raise CampaignStateError(
            f"{directory} is busy: another sklearn-isd command is working on this "
            f"campaign (waited {timeout:g} s for its lock, {LOCK_FILE}); nothing "
            "was written. Run the command again once the other has finished."
        ) from None
    try:
        remove_stale_temporaries(directory, _is_campaign_file_name)
        yield
    finally:
        lock.release()


# --------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------
def confined(directory, name, what):
    """The path of ``name`` in the campaign directory, refusing an escape.

    ``name`` must be a plain file name, and the file, symbolic links
    followed, must lie in the directory (a link to another file of the
    campaign is fine; one to another folder is not).
    """
    directory = Path(directory)
    path = directory / name
    if Path(name).name != name or name in ("", ".", ".."):
        raise CampaignStateError(
            f"{what} {name!r} is not a file name inside {directory}."
        )
    if path.is_symlink():
        target = path.resolve()
        if target.parent != directory.resolve():
            raise CampaignStateError(
                f"{what} {path} is a symbolic link leading out of the campaign "
                f"folder (to {target}); refusing to read it."
            )
    return path


def read_meta(directory):
    """Read and check campaign.json; return it as a dict."""
    directory = Path(directory)
    if not directory.is_dir():
        raise CampaignStateError(f"No campaign directory at {directory}.")
    path = confined(directory, CAMPAIGN_JSON, "The campaign description")
    if not path.is_file():
        raise CampaignStateError(
            f"{directory} is not an sklearn-isd campaign (no {CAMPAIGN_JSON}); "
            "create one with `sklearn-isd start`."
        )
    data = read_bytes(path, "The campaign description", CampaignStateError)
    return parse_campaign_json(data, path)


def library_path(directory, meta):
    """The library copy named by campaign.json (field library.file), confined."""
    return confined(
        directory, meta["library"]["file"], "campaign.json field 'library.file':"
    )


def read_state(directory, X=None):
    """Load the screen and the log of the campaign file, as one version.

    Readers do not take the lock: the file is replaced atomically, and if it
    was replaced while it was read (another command committed), it is read
    again, so the screen and the log always come from one version.

    Parameters
    ----------
    directory : path
        The campaign directory.
    X : sparse matrix, default=None
        The featurized library. Without it, the screen is loaded without the
        library (cheap: nothing is refit); with it, the file is first loaded
        without, so that a damaged file and a library that is not the
        campaign's get their own messages, then with the library.

    Returns
    -------
    screen : HybridScreenCV
    log : dict
        The campaign file's metadata: ``tells`` (the results files told,
        oldest first) and ``extensions`` (the ``extend`` commands run).
    """
    path = confined(directory, CAMPAIGN_FILE, "The campaign file")
    for _ in range(5):
        before = _version(path, directory)
        screen, metadata = _load(path)
        if X is not None:
            screen = _load_with_library(path, X)
        if _version(path, directory) == before:
            return screen, _check_log(metadata, path)
    raise CampaignStateError(f"{path} kept changing while it was read; try again.")


def _load(path):
    from .. import CampaignFileError, HybridScreenCV, read_campaign_metadata

    try:
        return HybridScreenCV.load(path), read_campaign_metadata(path)
    except CampaignFileError:
        raise
    except _CORRUPTED as exc:  # what a damaged manifest makes load raise
        raise CampaignStateError(
            f"The campaign file {path} is corrupted ({type(exc).__name__}: "
            f"{one_line(exc)[:200]})."
        ) from None


def _load_with_library(path, X):
    from .. import CampaignFileError, HybridScreenCV

    try:
        with screen_errors(CampaignStateError):
            return HybridScreenCV.load(path, X)
    except CampaignFileError as exc:
        raise CampaignStateError(
            "The library copy, read with campaign.json fields 'library.smiles_col' "
            f"and 'library.id_col', is not the campaign's library: {one_line(exc)}"
        ) from None


def _version(path, directory):
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise CampaignStateError(_missing_state_message(Path(directory))) from None
    return st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def _missing_state_message(directory):
    names = {p.name for p in directory.iterdir() if not _is_stale_temporary(p.name)}
    if names <= _start_files() | {LOCK_FILE}:
        return (
            f"The start of the campaign in {directory} was interrupted before its "
            f"state ({CAMPAIGN_FILE}) was written: run the same `sklearn-isd "
            f"start ... --out {directory}` again."
        )
    return f"The campaign file {directory / CAMPAIGN_FILE} is missing."


def _check_log(metadata, path):
    tells = metadata.get("tells") if isinstance(metadata, dict) else None
    extensions = metadata.get("extensions", []) if isinstance(metadata, dict) else None
    if (
        not isinstance(metadata, dict)
        or metadata.get("format") != LOG_FORMAT
        or not isinstance(tells, list)
        or not all(isinstance(entry, dict) for entry in tells)
        or not isinstance(extensions, list)
        or not all(_is_extension(entry) for entry in extensions)
    ):
        raise CampaignStateError(
            f"{path} holds no log of results files written by the command line "
            "(its metadata is missing or corrupted)."
        )
    return {"tells": tells, "extensions": extensions}


def _is_extension(entry):
    return (
        isinstance(entry, dict)
        and type(entry.get("target")) in (int, float)
        and type(entry.get("max_fraction")) in (int, float)
    )


def effective_options(meta, extensions):
    """The screen options in force: campaign.json's, then each extension's."""
    options = dict(meta["screen"])
    for entry in extensions:
        options["target"] = entry["target"]
        options["max_fraction"] = entry["max_fraction"]
    return options


def check_against_state(meta, screen, path, extensions=()):
    """Check what campaign.json records (and extend changed) against the screen."""
    n = screen.observed_mask_.shape[0]
    if meta["library"]["n_compounds"] != n:
        raise CampaignStateError(
            f"{path}: field 'library.n_compounds' ({meta['library']['n_compounds']})"
            f" disagrees with the campaign file ({n} compounds)."
        )
    params = screen.get_params(deep=False)
    for key, value in effective_options(meta, extensions).items():
        if value != params.get(key) or type(value) is not type(params.get(key)):
            raise CampaignStateError(
                f"{path}: field 'screen.{key}' ({one_line(repr(value))[:40]}) "
                f"disagrees with the campaign file ({params.get(key)!r})."
            )
    classifier = is_classifier(screen.estimator)
    if (meta["task"] == "classification") != classifier:
        raise CampaignStateError(
            f"{path}: field 'task' ({meta['task']!r}) disagrees with the campaign "
            f"file (a {'classifier' if classifier else 'regressor'})."
        )
    name = meta.get("stopping", DEFAULT_STOPPING)
    expected = make_stopping(name, params["target"], params["delta"])
    if not _same_rule(expected, params["stopping"]):
        raise CampaignStateError(
            f"{path}: field 'stopping' ({name!r}) disagrees with the campaign file "
            f"({one_line(repr(params['stopping']))[:60]})."
        )


def _same_rule(expected, stopping):
    if expected is None or isinstance(expected, str):
        return expected == stopping
    return type(stopping) is type(expected) and (
        stopping.get_params() == expected.get_params()
    )


@dataclass
class Campaign:
    """A loaded campaign: its description, screen, log and (maybe) library."""

    directory: Path
    meta: dict
    screen: object
    log: list
    library: object = None
    X: object = None
    pending: object = None
    #: The extend commands run, oldest first (campaign file metadata).
    extensions: list = None

    @property
    def outputs(self):
        """The results columns, one per output (campaign.json ``outputs``)."""
        return self.meta.get("outputs", ["value"])

    @property
    def matrix(self):
        """Whether the campaign has several outputs."""
        return len(self.outputs) > 1


def load_campaign(directory, *, library=True):
    """Read campaign.json, the library copy and the campaign file.

    With ``library=True`` the library is featurized and given to the screen
    (its fingerprint checked, its model refit) and, unless the campaign has
    stopped, ``ask`` returns the pending batch (``Campaign.pending``);
    without, only the library's ids are read and nothing is refit.
    """
    directory = Path(directory)
    meta = read_meta(directory)
    _version(confined(directory, CAMPAIGN_FILE, "The campaign file"), directory)
    lib = _read_library_copy(directory, meta, featurize_it=library)
    X = lib.X if library else None
    screen, log = read_state(directory, X)
    extensions = log["extensions"]
    check_against_state(meta, screen, directory / CAMPAIGN_JSON, extensions)
    campaign = Campaign(
        directory, meta, screen, log["tells"], lib, X, extensions=extensions
    )
    if library and not screen.stop_:
        with screen_errors(CampaignStateError):
            campaign.pending = screen.ask()
    return campaign


def _read_library_copy(directory, meta, *, featurize_it=True):
    lib_meta = meta["library"]
    path = library_path(directory, meta)
    what = "The library copy (campaign.json field 'library.file')"
    data = read_bytes(path, what, CampaignStateError)
    if sha256_of(data) != lib_meta["sha256"]:
        raise CampaignStateError(
            f"{what} {path} changed since the campaign started: it does not match "
            "campaign.json field 'library.sha256'; restore it (a copy of the "
            f"original is at {lib_meta['source']!r} unless that changed too)."
        )
    fmt = lib_meta.get("format", "csv")
    try:
        return read_library(
            path,
            fmt=fmt,
            sep=lib_meta.get("sep", "\t" if fmt == "tsv" else ","),
            smiles_col=lib_meta["smiles_col"],
            id_col=lib_meta["id_col"],
            skipped=lib_meta.get("skipped", []),
            featurize_it=featurize_it,
            data=data,
        )
    except InputError as exc:
        lines = str(exc).splitlines()
        first = one_line(" ".join(lines[:2]))[:300]
        raise CampaignStateError(
            "The library copy is unusable with campaign.json's fields "
            "'library.smiles_col', 'library.id_col', 'library.format' and "
            f"'library.skipped': {first}"
        ) from None


# --------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------
def write_batch(directory, round_, library, batch):
    """Write the batch file of a round (columns id, smiles, round)."""
    name = batch_name(round_)
    rows = [[library.ids[i], library.smiles[i], round_] for i in batch]
    write_rows(Path(directory) / name, ["id", "smiles", "round"], rows)
    return name


def ensure_batch_file(campaign, pending):
    """Write the pending batch's file if it is missing; return its name."""
    name = batch_name(campaign.screen.n_iter_)
    if pending.size and not (campaign.directory / name).exists():
        write_batch(
            campaign.directory, campaign.screen.n_iter_, campaign.library, pending
        )
    return name


def commit(directory, screen, log, extensions=()):
    """Save the screen with its log: the one rename that changes the campaign."""
    path = Path(directory) / CAMPAIGN_FILE
    metadata = {"format": LOG_FORMAT, "tells": log}
    if extensions:
        metadata["extensions"] = list(extensions)
    try:
        screen.save(path, metadata=metadata)
    except OSError as exc:
        if exc.filename is None:
            exc.filename = str(path)
        raise


def log_entry(round_, results, sha256, n_labels, n_pending):
    """One entry of the log of results files."""
    return {
        "round": int(round_),
        "results_file": str(Path(results).resolve()),
        "results_sha256": sha256,
        "n_labels": int(n_labels),
        "n_pending": int(n_pending),
        "partial": bool(n_labels < n_pending),
        "told": now(),
    }


def status_of(screen):
    """``"awaiting_results"``, or why the screen stopped."""
    return screen.termination_condition_ if screen.stop_ else "awaiting_results"


def known_classes(screen):
    """Classes measured so far (after the refit done by ask)."""
    if not hasattr(screen, "transduction_"):
        return []
    labels = screen.transduction_[screen.observed_mask_]
    if labels.ndim == 2:  # a matrix campaign: class codes, NaN for no label
        labels = labels[~np.isnan(labels)].astype(np.int64)
    return np.unique(labels).tolist()


def measured_labels(directory):
    """The labels measured so far, read from the campaign file (no refit).

    A private read: HybridScreenCV has no public attribute for the measured
    labels of a screen loaded without its library (``transduction_`` needs
    the refit model).
    """
    from .._persist import read_campaign

    path = confined(directory, CAMPAIGN_FILE, "The campaign file")
    return read_campaign(path)[1].get("observed_labels")


def reopen(campaign, *, target, max_fraction, stopping):
    """The campaign's stopped screen, going on with a new target and budget.

    :meth:`HybridScreenCV.extend` replays its stopping rule over every round
    under the new parameters and lifts its stop.
    """
    screen = campaign.screen
    screen.cancel()  # whatever a load proposed under the old budget
    with screen_errors():
        return screen.extend(
            target=target, max_fraction=max_fraction, stopping=stopping
        )


def existing_campaign(out):
    """Why ``start`` must not write into ``out``, or None if it may.

    ``out`` may be missing, an empty folder, or an interrupted start: a
    folder holding only files ``start`` writes before the campaign file,
    among them a campaign.json of this format (``start`` writes it first).
    """
    if not out.exists():
        return None
    if not out.is_dir():
        return f"{out} exists and is not a directory"
    names = {p.name for p in out.iterdir()} - {LOCK_FILE}
    names = {n for n in names if not _is_stale_temporary(n)}
    if not names:
        return None
    if CAMPAIGN_FILE in names:
        return f"{out} holds a campaign already"
    if names <= _start_files() and _our_json(out):
        return None  # an interrupted start: it is done again
    return f"{out} exists and is not an empty directory"


def _is_stale_temporary(name):
    return name.startswith(".") and name.endswith(".tmp")


def _our_json(out):
    try:
        parse_campaign_json((out / CAMPAIGN_JSON).read_bytes(), out / CAMPAIGN_JSON)
    except (CampaignStateError, OSError):
        return False
    return True
