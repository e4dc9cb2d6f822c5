"""Subcommands of the ``sklearn-isd`` command line: simulate, start, tell, report.

A lab runs a hybrid screen of a compound library from a shell::

    sklearn-isd start library.csv --smiles-col smiles --id-col id --out plate_run
    # measure plate_run/batch_000.csv, add a "value" column, then
    sklearn-isd tell plate_run batch_000_measured.csv
    # ... measure each new batch_NNN.csv and tell it, until the target is reached
    sklearn-isd report plate_run

``simulate`` runs a whole screen at once on a library whose labels are known
(a retrospective study), revealing them from a label column.

A campaign directory holds everything later commands need:

- ``library.csv``: a byte-for-byte copy of the library given to ``start``;
- ``campaign.isd.npz``: the screen's state (:meth:`HybridScreenCV.save`), the
  source of truth: measured labels, rounds, bounds and the pending batch;
- ``campaign.json``: the command-line options (columns, task, model name,
  screen parameters), a ``status`` (``"awaiting_results"``, or why the screen
  stopped: ``"target_reached"``, ``"max_fraction"``, ``"all_acquired"``) and a
  log of the results files told;
- ``batch_NNN.csv``: the batch to measure in round NNN (columns ``id``,
  ``smiles``, ``round``).

Every command re-featurizes the stored library (ECFP4, 2048 bits, with
:class:`~sklearn_isd.chem.MorganFingerprint`) and loads the campaign with
:meth:`HybridScreenCV.load`, whose library fingerprint check refuses a library
that changed; the model is rebuilt from the spec stored in the campaign file
and refit on the measured labels.

Expected errors raise a :class:`CLIError` subclass carrying the exit code;
:func:`run_command` prints them on one line of stderr.
"""

import csv
import hashlib
import json
import math
import os
import shutil
import sys
import tempfile
import traceback
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from . import __version__
from .acquisition import ACQUISITION_FUNCTIONS

__all__ = ["EXIT_CODES_EPILOG", "add_commands", "run_command"]

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_INPUT = 2
EXIT_DEPENDENCY = 3
EXIT_CAMPAIGN = 4

EXIT_CODES_EPILOG = """\
exit codes:
  0  success (for tell, also when the target is reached: see its output and
     the "status" field of campaign.json)
  1  unexpected error (a bug; the traceback is printed, please report it)
  2  invalid input: unreadable or malformed CSV, bad options, invalid SMILES,
     results that fail validation (nothing is written)
  3  missing optional dependency (RDKit; torch and skorch for --model resmlp)
  4  campaign state problem: the campaign exists already, is not found, is
     corrupted, has stopped, or its library changed"""

CAMPAIGN_FORMAT = "sklearn-isd-cli-campaign"
CAMPAIGN_FORMAT_VERSION = 1
REPORT_FORMAT = "sklearn-isd-report"
REPORT_FORMAT_VERSION = 1
CAMPAIGN_JSON = "campaign.json"
CAMPAIGN_FILE = "campaign.isd.npz"
LIBRARY_COPY = "library.csv"
#: Featurization of every command: ECFP4 folded to 2048 bits.
FEATURIZER = {"name": "MorganFingerprint", "radius": 2, "n_bits": 2048}
#: Strings read as a missing value in a results or label column.
MISSING = {"", "na", "n/a", "nan", "null", "none"}
#: Problems listed at most in one error message.
MAX_PROBLEMS = 20


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------
class CLIError(Exception):
    """An expected error: printed on stderr without a traceback."""

    exit_code = EXIT_UNEXPECTED


class InputError(CLIError):
    """Invalid input: bad CSV, bad options or values that fail validation."""

    exit_code = EXIT_INPUT


class DependencyError(CLIError):
    """An optional dependency is missing."""

    exit_code = EXIT_DEPENDENCY


class CampaignStateError(CLIError):
    """The campaign exists already, is missing, corrupted or has stopped."""

    exit_code = EXIT_CAMPAIGN


def _problems_error(cls, summary, problems):
    """One error listing problems, one per line, at most MAX_PROBLEMS."""
    lines = [f"{summary}:"] + [f"  {p}" for p in problems[:MAX_PROBLEMS]]
    if len(problems) > MAX_PROBLEMS:
        lines.append(f"  ... and {len(problems) - MAX_PROBLEMS} more")
    return cls("\n".join(lines))


# --------------------------------------------------------------------------
# Argument types
# --------------------------------------------------------------------------
def _argtype(func):
    import argparse

    def parse(text):
        try:
            return func(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = func.__name__.lstrip("_")
    return parse


@_argtype
def _unit_open(text):
    value = float(text)
    if not 0 < value < 1:
        raise ValueError(f"must lie in (0, 1), got {text}")
    return value


@_argtype
def _unit_right(text):
    value = float(text)
    if not 0 < value <= 1:
        raise ValueError(f"must lie in (0, 1], got {text}")
    return value


@_argtype
def _unit_closed(text):
    value = float(text)
    if not 0 <= value <= 1:
        raise ValueError(f"must lie in [0, 1], got {text}")
    return value


@_argtype
def _non_negative(text):
    value = float(text)
    if not value >= 0 or not math.isfinite(value):
        raise ValueError(f"must be a finite number >= 0, got {text}")
    return value


@_argtype
def _batch_size(text):
    try:
        value = int(text)
    except ValueError:
        value = float(text)
        if not 0 < value <= 1:
            raise ValueError(
                f"must be a count >= 1 or a fraction in (0, 1], got {text}"
            ) from None
        return value
    if value < 1:
        raise ValueError(f"must be a count >= 1 or a fraction in (0, 1], got {text}")
    return value


# --------------------------------------------------------------------------
# Models (a registry: name -> task -> factory)
# --------------------------------------------------------------------------
def _logreg_classifier():
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=1000)


def _rf_classifier():
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=100, n_jobs=1)


def _rf_regressor():
    from sklearn.ensemble import RandomForestRegressor

    return RandomForestRegressor(n_estimators=100, n_jobs=1)


def _import_neural():
    try:
        from . import neural
    except ImportError as exc:
        raise DependencyError(
            f"--model resmlp needs torch and skorch ({exc}); install them with "
            "`pip install sklearn-isd[neural]`, or use --model logreg or rf."
        ) from None
    return neural


#: Small, CPU-friendly ResMLP settings (the paper's are for GPUs).
RESMLP_PARAMS = {
    "module__hidden_size": 128,
    "module__n_blocks": 2,
    "max_epochs": 100,
    "patience": 10,
    "batch_size": 256,
}


def _resmlp_classifier():
    return _import_neural().ResMLPClassifier(n_members=1, **RESMLP_PARAMS)


def _resmlp_regressor():
    # A committee of 5, so that the default 'std' acquisition has a spread.
    return _import_neural().ResMLPRegressor(n_members=5, **RESMLP_PARAMS)


MODELS = {
    "logreg": {"classification": _logreg_classifier},
    "rf": {"classification": _rf_classifier, "regression": _rf_regressor},
    "resmlp": {"classification": _resmlp_classifier, "regression": _resmlp_regressor},
}
DEFAULT_MODEL = {"classification": "logreg", "regression": "rf"}
MODEL_HELP = (
    "the model: logreg = LogisticRegression(max_iter=1000), classification "
    "only (logistic regression has no regression form, so it is not offered "
    "for --task regression); rf = RandomForestClassifier/Regressor("
    "n_estimators=100, n_jobs=1); resmlp = ResMLPClassifier (one net) or "
    "ResMLPRegressor (a committee of 5) with small CPU settings (hidden size "
    "128, 2 blocks, up to 100 epochs, patience 10), needs torch and skorch. "
    "Default: logreg for classification, rf for regression"
)


def make_model(name, task):
    """The unfitted estimator of a model name for a task."""
    name = DEFAULT_MODEL[task] if name is None else name
    factory = MODELS[name].get(task)
    if factory is None:
        offered = [m for m, tasks in MODELS.items() if task in tasks]
        raise InputError(
            f"--model {name} is not offered for --task {task} (logistic regression "
            f"is a classifier); use one of {', '.join(offered)}."
        )
    return name, factory()


def screen_options(args):
    """Validate the screen options of start/simulate; return them as a dict."""
    if args.task == "regression" and args.tolerance is None:
        raise InputError(
            "--task regression needs --tolerance T: the stopping rule counts a "
            "prediction within T of the measured value as correct."
        )
    if args.task == "classification" and args.tolerance is not None:
        raise InputError(
            "--tolerance applies to --task regression only: a class prediction "
            "is correct when it equals the label."
        )
    return {
        "acquisition": args.acquisition,
        "batch_size": args.batch_size,
        "target": args.target,
        "delta": args.delta,
        "tolerance": args.tolerance,
        "max_fraction": args.max_fraction,
        "random_state": args.random_state,
    }


def build_screen(estimator, options, *, verbose=0):
    """The HybridScreenCV of the options; acquisition checked against the model."""
    from . import HybridScreenCV
    from .acquisition import get_acquisition

    try:
        get_acquisition(options["acquisition"], estimator)
    except ValueError as exc:
        raise InputError(f"--acquisition {options['acquisition']}: {exc}") from None
    return HybridScreenCV(estimator, verbose=verbose, **options)


# --------------------------------------------------------------------------
# CSV input
# --------------------------------------------------------------------------
def read_csv(path, columns, what):
    """Read a CSV with a header; return [(row_number, {column: text})].

    Rows are numbered as lines of the file, the header being row 1 (what a
    spreadsheet shows). Missing cells read as "".
    """
    path = Path(path)
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"{what} {path}: no such file.") from None
    except OSError as exc:
        raise InputError(f"{what} {path}: cannot be read ({exc.strerror}).") from None
    records = []
    with handle:
        reader = csv.reader(handle)
        try:
            header = next(reader, None)
            if not header:
                raise InputError(f"{what} {path} is empty: a header row is needed.")
            header = [h.strip() for h in header]
            missing = [c for c in columns if c not in header]
            if missing:
                raise InputError(
                    f"{what} {path} has no column {', '.join(map(repr, missing))}; "
                    f"its columns are {header}."
                )
            where = {c: header.index(c) for c in columns}
            for cells in reader:
                if not any(cell.strip() for cell in cells):
                    continue  # a blank line
                records.append(
                    (
                        reader.line_num,
                        {
                            c: cells[j].strip() if j < len(cells) else ""
                            for c, j in where.items()
                        },
                    )
                )
        except csv.Error as exc:
            raise InputError(
                f"{what} {path} is not valid CSV (row {reader.line_num}): {exc}."
            ) from None
        except UnicodeDecodeError:
            raise InputError(
                f"{what} {path} is not UTF-8 text (row {reader.line_num + 1})."
            ) from None
    return records


@dataclass
class Library:
    """The compounds of a library CSV, in file order."""

    path: Path
    ids: list
    smiles: np.ndarray
    rows: list
    labels: list | None = None

    def __len__(self):
        return len(self.ids)


def read_library(path, smiles_col, id_col=None, label_col=None):
    """Read and check a library CSV (ids unique and non-empty, SMILES present)."""
    columns = [c for c in (smiles_col, id_col, label_col) if c is not None]
    records = read_csv(path, list(dict.fromkeys(columns)), "Library")
    if not records:
        raise InputError(f"Library {path} has no compound (only a header).")
    rows = [row for row, _ in records]
    if id_col is None:
        ids = [str(i) for i in range(len(records))]
    else:
        ids = [rec[id_col] for _, rec in records]
    problems = []
    first = {}
    for row, cid in zip(rows, ids):
        if not cid:
            problems.append(f"row {row}: empty id")
        elif cid in first:
            problems.append(
                f"row {row}: duplicate id {cid!r} (first in row {first[cid]})"
            )
        else:
            first[cid] = row
    for row, (_, rec) in zip(rows, records):
        if not rec[smiles_col]:
            problems.append(f"row {row}: empty SMILES")
    if problems:
        raise _problems_error(InputError, f"Library {path} is invalid", problems)
    smiles = np.array([rec[smiles_col] for _, rec in records], dtype=object)
    labels = None if label_col is None else [rec[label_col] for _, rec in records]
    return Library(Path(path), ids, smiles, rows, labels)


def _import_rdkit():
    try:
        from rdkit import Chem, DataStructs, rdBase
        from rdkit.Chem import rdFingerprintGenerator
        from rdkit.Chem.Scaffolds import MurckoScaffold
    except ImportError:
        raise DependencyError(
            "RDKit is needed to read SMILES; install it with "
            "`pip install sklearn-isd[chem]` (or `pip install rdkit`)."
        ) from None
    return Chem, DataStructs, rdBase, rdFingerprintGenerator, MurckoScaffold


def featurize(library):
    """ECFP4 fingerprints of the library; invalid SMILES named by CSV row."""
    Chem, _, rdBase, _, _ = _import_rdkit()
    from .chem import MorganFingerprint

    transformer = MorganFingerprint(
        radius=FEATURIZER["radius"], n_bits=FEATURIZER["n_bits"]
    )
    try:
        return transformer.transform(library.smiles)
    except ValueError:
        block = rdBase.BlockLogs()  # noqa: F841 - silences RDKit while alive
        problems = [
            f"row {row}: invalid SMILES {smi!r}"
            for row, smi in zip(library.rows, library.smiles)
            if Chem.MolFromSmiles(smi) is None
        ]
        raise _problems_error(
            InputError, f"Library {library.path} has invalid SMILES", problems
        ) from None


def _parse_number(text):
    """(value, problem): a float, or None and why not."""
    if text.strip().lower() in MISSING:
        return None, "missing value"
    try:
        value = float(text)
    except ValueError:
        return None, f"value {text!r} is not a number"
    if not math.isfinite(value):
        return None, f"value {text!r} is not finite"
    return value, None


def _parse_class(text, classes):
    """(label, problem) of a class label: a known class or an integer code."""
    if text.strip().lower() in MISSING:
        return None, "missing value"
    for c in classes:
        if text == str(c):
            return c, None
    value, problem = _parse_number(text)
    if problem is None and value == int(value):
        return int(value), None
    known = f" (classes so far: {[_plain(c) for c in classes]})" if classes else ""
    return None, f"value {text!r} is not a numeric class code{known}"


def _plain(value):
    """A numpy scalar as a plain Python value (for messages and JSON)."""
    return value.item() if isinstance(value, np.generic) else value


def parse_labels(library, task, label_col):
    """Labels of a simulated screen from the label column, checked."""
    problems, values = [], []
    for row, text in zip(library.rows, library.labels):
        if task == "regression":
            value, problem = _parse_number(text)
        else:
            value, problem = _parse_class(text, ())
            if problem is not None and text.strip().lower() not in MISSING:
                value, problem = text, None  # class names ("active") are fine
        if problem:
            problems.append(f"row {row}: {problem}")
        values.append(value)
    if problems:
        raise _problems_error(
            InputError, f"Column {label_col!r} of {library.path} is invalid", problems
        )
    if task == "regression":
        return np.asarray(values, dtype=float)
    if all(isinstance(v, int) for v in values):
        return np.asarray(values, dtype=np.int64)
    return np.asarray([str(v) for v in values], dtype=object)


# --------------------------------------------------------------------------
# Output helpers
# --------------------------------------------------------------------------
def _now():
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            h.update(block)
    return "sha256:" + h.hexdigest()


def _atomic_write(path, write):
    """Call write(handle) on a temporary text file, then rename it to path."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def write_json(path, data):
    return _atomic_write(
        path, lambda h: h.write(json.dumps(data, indent=2, allow_nan=False) + "\n")
    )


def write_rows(path, header, rows):
    def write(handle):
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)

    return _atomic_write(path, write)


def _cell(value):
    """A CSV cell: NaN and None as empty, numpy scalars as plain values."""
    value = _plain(value)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return value


def _json_value(value):
    value = _plain(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_history(path, history):
    keys = list(history)
    n = len(history[keys[0]]) if keys else 0
    rows = [[i] + [_cell(history[k][i]) for k in keys] for i in range(n)]
    return write_rows(path, ["round", *keys], rows)


def write_plot(path, screen):
    """Draw ScreenDisplay to path; print a note and return None without it."""
    from .plotting import ScreenDisplay

    try:
        from matplotlib.figure import Figure
    except ImportError:
        print(
            f"Note: matplotlib is not installed, {Path(path).name} was skipped "
            "(pip install sklearn-isd[plot]).",
            file=sys.stderr,
        )
        return None
    figure = Figure(figsize=(9.0, 4.8), layout="constrained")
    ScreenDisplay.from_estimator(screen, ax=figure.add_subplot())
    figure.savefig(path, dpi=100)
    return Path(path)


def _confidence(screen, X):
    """Max predicted probability per item (NaN where it has no meaning)."""
    confidence = np.full(X.shape[0], np.nan)
    predicted = ~screen.observed_mask_
    if predicted.any() and hasattr(screen, "predict_proba"):
        confidence[predicted] = screen.predict_proba(X[predicted]).max(axis=1)
    return confidence


def _nan_if_none(value):
    return math.nan if value is None else value


def _fmt(value, spec):
    return "" if value is None or math.isnan(value) else format(value, spec)


# --------------------------------------------------------------------------
# simulate
# --------------------------------------------------------------------------
def cmd_simulate(args):
    options = screen_options(args)
    model, estimator = make_model(args.model, args.task)
    screen = build_screen(estimator, options, verbose=1)
    library = read_library(args.library, args.smiles_col, args.id_col, args.label_col)
    y = parse_labels(library, args.task, args.label_col)
    _check_batch_size(options, len(library))
    X = featurize(library)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    print(
        f"Simulated screen of {library.path.name}: {len(library)} compounds, "
        f"labels revealed from column {args.label_col!r}; model {model}, "
        f"acquisition {args.acquisition}, target {args.target} (delta "
        f"{args.delta}).\n"
    )
    screen.fit(X, y)  # verbose=1 prints the table of rounds
    h = screen.history_
    n_obs = int(h["n_observed"][-1])
    print(
        f"\nStopped after {screen.n_iter_} rounds ({screen.termination_condition_}): "
        f"{n_obs} of {len(library)} measured ({n_obs / len(library):.1%}).\n"
        f"Lower bound on system accuracy: {h['system_lower_bound'][-1]:.4f}; "
        f"true system score: {h['system_score'][-1]:.4f}."
    )

    confidence = _confidence(screen, X)
    rows = []
    for i in range(len(library)):
        measured = bool(screen.observed_mask_[i])
        rows.append(
            [
                library.ids[i],
                library.smiles[i],
                _cell(screen.transduction_[i]),
                _cell(y[i]),
                "measured" if measured else "predicted",
                int(screen.acquired_iter_[i]) if measured else "",
                _fmt(confidence[i], ".4f"),
            ]
        )
    header = ["id", "smiles", "value", "true_value", "source", "round", "confidence"]
    written = [
        write_rows(out / "readout.csv", header, rows),
        write_history(out / "history.csv", h),
        write_plot(out / "screen.png", screen),
    ]
    print("Written: " + ", ".join(str(p) for p in written if p is not None))
    return EXIT_OK


def _check_batch_size(options, n):
    size = options["batch_size"]
    if isinstance(size, int) and size > n:
        raise InputError(
            f"--batch-size {size} is larger than the library ({n} compounds)."
        )


# --------------------------------------------------------------------------
# start
# --------------------------------------------------------------------------
def _write_batch(directory, screen, library, batch):
    round_ = screen.n_iter_
    name = f"batch_{round_:03d}.csv"
    rows = [[library.ids[i], library.smiles[i], round_] for i in batch]
    write_rows(Path(directory) / name, ["id", "smiles", "round"], rows)
    return name


def cmd_start(args):
    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise CampaignStateError(
            f"{out} exists and is not an empty directory; refusing to overwrite "
            "(choose another --out, or remove it yourself)."
        )
    options = screen_options(args)
    model, estimator = make_model(args.model, args.task)
    screen = build_screen(estimator, options)
    library = read_library(args.library, args.smiles_col, args.id_col)
    _check_batch_size(options, len(library))
    X = featurize(library)
    batch = screen.ask(X)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        shutil.copyfile(library.path, tmp / LIBRARY_COPY)
        screen.save(tmp / CAMPAIGN_FILE)
        batch_file = _write_batch(tmp, screen, library, batch)
        meta = {
            "format": CAMPAIGN_FORMAT,
            "format_version": CAMPAIGN_FORMAT_VERSION,
            "sklearn_isd_version": __version__,
            "created": _now(),
            "updated": _now(),
            "library": {
                "file": LIBRARY_COPY,
                "source": str(library.path.resolve()),
                "sha256": _sha256(tmp / LIBRARY_COPY),
                "n_compounds": len(library),
                "smiles_col": args.smiles_col,
                "id_col": args.id_col,
            },
            "featurizer": FEATURIZER,
            "task": args.task,
            "model": model,
            "estimator": repr(estimator),
            "screen": options,
            "campaign_file": CAMPAIGN_FILE,
            "status": "awaiting_results",
            "termination_condition": None,
            "round": screen.n_iter_,
            "pending_batch": batch_file,
            "n_measured": 0,
            "system_lower_bound": None,
            "tells": [],
        }
        write_json(tmp / CAMPAIGN_JSON, meta)
        if out.exists():
            out.rmdir()  # an empty directory given as --out
        os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    print(
        f"Campaign started in {out}: {len(library)} compounds, model {model}, "
        f"target {args.target}.\n"
        f"Measure the {batch.size} compounds of {out / batch_file}, then run:\n"
        f"  sklearn-isd tell {out} RESULTS.csv\n"
        "with RESULTS.csv holding the columns id and value (the batch file with a "
        "value column added will do)."
    )
    return EXIT_OK


# --------------------------------------------------------------------------
# Loading a campaign (tell, report)
# --------------------------------------------------------------------------
@dataclass
class Campaign:
    directory: Path
    meta: dict
    library: Library
    X: object
    screen: object


def load_campaign(directory):
    """Read campaign.json, re-featurize the library copy and load the screen."""
    from . import CampaignFileError, HybridScreenCV

    directory = Path(directory)
    meta_path = directory / CAMPAIGN_JSON
    if not directory.is_dir():
        raise CampaignStateError(f"No campaign directory at {directory}.")
    if not meta_path.is_file():
        raise CampaignStateError(
            f"{directory} is not an sklearn-isd campaign (no {CAMPAIGN_JSON}); "
            "create one with `sklearn-isd start`."
        )
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("format") != CAMPAIGN_FORMAT:
            raise ValueError("not a campaign description")
        if meta.get("format_version") != CAMPAIGN_FORMAT_VERSION:
            raise ValueError(f"unknown format version {meta.get('format_version')}")
        lib_meta = meta["library"]
        library_path = directory / lib_meta["file"]
    except (ValueError, KeyError, TypeError, OSError) as exc:
        raise CampaignStateError(f"{meta_path} is corrupted: {exc}.") from None
    if not library_path.is_file():
        raise CampaignStateError(f"The library copy {library_path} is missing.")
    if _sha256(library_path) != lib_meta.get("sha256"):
        raise CampaignStateError(
            f"The library copy {library_path} changed since the campaign started; "
            "restore it (a copy of the original is at "
            f"{lib_meta.get('source')!r} unless that changed too)."
        )
    try:
        library = read_library(library_path, lib_meta["smiles_col"], lib_meta["id_col"])
        X = featurize(library)
    except InputError as exc:
        raise CampaignStateError(f"The library copy is unusable: {exc}") from None
    try:
        screen = HybridScreenCV.load(directory / meta["campaign_file"], X)
    except FileNotFoundError:
        raise CampaignStateError(
            f"The campaign file {directory / meta['campaign_file']} is missing."
        ) from None
    except CampaignFileError as exc:
        raise CampaignStateError(str(exc)) from None
    return Campaign(directory, meta, library, X, screen)


def known_classes(screen):
    """Classes measured so far (after the refit done by ask)."""
    if not hasattr(screen, "transduction_"):
        return []
    return np.unique(screen.transduction_[screen.observed_mask_]).tolist()


def _status(screen):
    return screen.termination_condition_ if screen.stop_ else "awaiting_results"


# --------------------------------------------------------------------------
# tell
# --------------------------------------------------------------------------
def validate_results(records, campaign, pending, partial, classification):
    """Indices, labels and the list of problems of a results file."""
    library, screen = campaign.library, campaign.screen
    position = {cid: i for i, cid in enumerate(library.ids)}
    in_batch = set(pending.tolist())
    classes = known_classes(screen) if classification else []
    problems, indices, labels, first = [], [], [], {}
    for row, rec in records:
        cid, text = rec["id"], rec["value"]
        if not cid:
            problems.append(f"row {row}: empty id")
            continue
        if cid in first:
            problems.append(
                f"row {row}: duplicate id {cid!r} (first in row {first[cid]})"
            )
            continue
        first[cid] = row
        i = position.get(cid)
        if i is None:
            problems.append(f"row {row}: unknown id {cid!r} (not in the library)")
            continue
        if i not in in_batch:
            if screen.observed_mask_[i]:
                why = f"already measured in round {screen.acquired_iter_[i]}"
            else:
                why = "not asked for"
            problems.append(
                f"row {row}: id {cid!r} is not in the pending batch ({why})"
            )
            continue
        if classification:
            value, problem = _parse_class(text, classes)
        else:
            value, problem = _parse_number(text)
        if problem:
            problems.append(f"row {row}: {problem} for id {cid!r}")
            continue
        indices.append(i)
        labels.append(value)
    if not records:
        problems.append("no result rows (only a header)")
    missing = [i for i in pending.tolist() if library.ids[i] not in first]
    if missing and not partial:
        shown = ", ".join(repr(library.ids[i]) for i in missing[:10])
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        problems.append(
            f"{len(missing)} of the {pending.size} compounds of the pending batch "
            f"have no result: {shown}{more} (give them all, or pass --partial)"
        )
    return indices, labels, problems


def cmd_tell(args):
    campaign = load_campaign(args.campaign)
    screen, meta = campaign.screen, campaign.meta
    if screen.stop_:
        raise CampaignStateError(
            f"The campaign has stopped ({screen.termination_condition_}): there is "
            f"no batch to tell. Write its readout with `sklearn-isd report "
            f"{campaign.directory}`."
        )
    pending = screen.ask()  # the batch stored in the campaign (and a refit)
    records = read_csv(args.results, [args.id_col, args.value_col], "Results")
    records = [
        (row, {"id": rec[args.id_col], "value": rec[args.value_col]})
        for row, rec in records
    ]
    classification = meta["task"] == "classification"
    indices, labels, problems = validate_results(
        records, campaign, pending, args.partial, classification
    )
    if problems:
        raise _problems_error(
            InputError,
            f"{args.results}: {len(problems)} problem(s), nothing was written",
            problems,
        )
    labels = np.asarray(labels, dtype=np.int64 if classification else float)
    if classification:
        new = sorted(set(labels.tolist()) - set(known_classes(screen)))
        if new and screen.observed_mask_.any():
            print(f"Note: new class code(s) {new} in this batch.", file=sys.stderr)

    round_ = screen.n_iter_
    screen.tell(np.asarray(indices, dtype=np.intp), labels)
    batch = None if screen.stop_ else screen.ask()
    batch_file = None
    if batch is not None and batch.size:
        batch_file = _write_batch(campaign.directory, screen, campaign.library, batch)
    screen.save(campaign.directory / meta["campaign_file"])
    h = screen.history_
    bound = _json_value(h["system_lower_bound"][-1])
    meta.update(
        updated=_now(),
        status=_status(screen),
        termination_condition=screen.termination_condition_,
        round=screen.n_iter_,
        pending_batch=batch_file,
        n_measured=int(screen.observed_mask_.sum()),
        system_lower_bound=bound,
    )
    meta["tells"].append(
        {
            "round": round_,
            "results_file": str(Path(args.results).resolve()),
            "results_sha256": _sha256(args.results),
            "n_labels": len(indices),
            "n_pending": int(pending.size),
            "partial": len(indices) < pending.size,
            "told": _now(),
        }
    )
    write_json(campaign.directory / CAMPAIGN_JSON, meta)

    from .utils._display import format_header, format_round

    print(format_header(h))
    print(format_round(h, len(h["n_observed"]) - 1))
    target = screen.target
    print(
        f"System accuracy lower bound: {_fmt(bound, '.4f') or '-'} (target {target}, "
        f"delta {screen.delta}); {meta['n_measured']} of {len(campaign.library)} "
        "compounds measured."
    )
    if len(indices) < pending.size:
        print(
            f"Partial batch: {len(indices)} of {pending.size} compounds told; the "
            "others stay pending and make up the next batch file. The stopping "
            "bound assumes full batches."
        )
    condition = screen.termination_condition_
    if condition == "target_reached":
        print(
            f"Target reached: the lower bound {bound:.4f} is above {target}. Stop "
            f"measuring; write the hybrid readout with: sklearn-isd report "
            f"{campaign.directory}"
        )
    elif condition is not None:
        why = {
            "max_fraction": f"the measurement budget (--max-fraction "
            f"{screen.max_fraction}) is spent",
            "all_acquired": "every compound of the library is measured",
        }.get(condition, condition)
        print(
            f"Screen stopped: {why}, target not reached. Write the readout with: "
            f"sklearn-isd report {campaign.directory}"
        )
    else:
        print(
            f"Next batch (round {screen.n_iter_}): measure the {batch.size} "
            f"compounds of {campaign.directory / batch_file}"
        )
    return EXIT_OK


# --------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------
def chem_annotations(smiles, measured_mask):
    """Generic Murcko scaffolds and max Tanimoto similarity to the measured set.

    Similarities are between ECFP4 bit vectors (2048 bits), computed with
    RDKit's ``BulkTanimotoSimilarity``; a measured compound's nearest
    measured compound is itself (similarity 1).
    """
    Chem, DataStructs, rdBase, rdFingerprintGenerator, MurckoScaffold = _import_rdkit()
    generator = rdFingerprintGenerator.GetMorganGenerator(
        radius=FEATURIZER["radius"], fpSize=FEATURIZER["n_bits"]
    )
    block = rdBase.BlockLogs()  # noqa: F841 - silences RDKit while alive
    scaffolds, fps = [], []
    for smi in smiles:
        mol = Chem.MolFromSmiles(smi)
        core = MurckoScaffold.GetScaffoldForMol(mol)
        try:
            core = MurckoScaffold.MakeScaffoldGeneric(core)
        except Exception:  # noqa: BLE001 - keep the plain scaffold
            pass
        scaffolds.append(Chem.MolToSmiles(core) if core.GetNumAtoms() else "")
        fps.append(generator.GetFingerprint(mol))
    measured = [fps[i] for i in np.flatnonzero(measured_mask)]
    similarity = np.array(
        [max(DataStructs.BulkTanimotoSimilarity(fp, measured)) for fp in fps]
    )
    return scaffolds, similarity


def cmd_report(args):
    campaign = load_campaign(args.campaign)
    screen, meta, library = campaign.screen, campaign.meta, campaign.library
    if not screen.observed_mask_.any():
        raise CampaignStateError(
            "No result has been told yet: there is no readout to report. Tell the "
            f"first batch with `sklearn-isd tell {campaign.directory} RESULTS.csv`."
        )
    # ask() refits the model on the measured labels (loading does not); the
    # batch it returns is not saved: report changes nothing in the campaign.
    screen.ask()
    out = Path(args.out) if args.out else campaign.directory / "report"
    out.mkdir(parents=True, exist_ok=True)

    measured = screen.observed_mask_
    confidence = _confidence(screen, campaign.X)
    scaffolds, similarity = chem_annotations(library.smiles, measured)
    in_domain = similarity >= args.domain_threshold
    columns = {
        "id": library.ids,
        "smiles": library.smiles.tolist(),
        "value": [_plain(v) for v in screen.transduction_],
        "source": np.where(measured, "measured", "predicted").tolist(),
        "round": [
            int(r) if m else None for r, m in zip(screen.acquired_iter_, measured)
        ],
        "confidence": confidence.tolist(),
        "scaffold": scaffolds,
        "max_similarity": similarity.tolist(),
        "in_domain": in_domain.tolist(),
    }
    rows = [
        [
            columns["id"][i],
            columns["smiles"][i],
            _cell(columns["value"][i]),
            columns["source"][i],
            _cell(columns["round"][i]),
            _fmt(confidence[i], ".4f"),
            scaffolds[i],
            _fmt(similarity[i], ".4f"),
            str(bool(in_domain[i])).lower(),
        ]
        for i in range(len(library))
    ]
    written = [write_rows(out / "readout.csv", list(columns), rows)]
    written.append(_write_parquet(out / "readout.parquet", columns))

    table = _scaffold_table(scaffolds, measured, confidence)
    written.append(
        write_rows(
            out / "scaffolds.csv",
            [
                "scaffold",
                "n_members",
                "n_measured",
                "fraction_measured",
                "mean_confidence_predicted",
            ],
            table,
        )
    )
    written.append(write_plot(out / "screen.png", screen))

    h = screen.history_
    from ._persist import read_campaign

    stored, _ = read_campaign(campaign.directory / meta["campaign_file"])
    params = {
        k: _json_value(v)
        for k, v in screen.get_params(deep=False).items()
        if k not in ("estimator", "oracle")
    }
    n_measured = int(measured.sum())
    manifest = {
        "format": REPORT_FORMAT,
        "format_version": REPORT_FORMAT_VERSION,
        "sklearn_isd_version": __version__,
        "created": _now(),
        "campaign": str(campaign.directory.resolve()),
        "library": {
            "file": meta["library"]["file"],
            "source": meta["library"]["source"],
            "sha256": meta["library"]["sha256"],
            "n_compounds": len(library),
            "fingerprint": stored["library"]["fingerprint"],
            "featurizer": meta["featurizer"],
        },
        "task": meta["task"],
        "model": {"name": meta["model"], "estimator": repr(screen.estimator)},
        "parameters": params,
        "n_rounds": int(screen.n_iter_),
        "n_measured": n_measured,
        "n_predicted": len(library) - n_measured,
        "system_lower_bound": _json_value(h["system_lower_bound"][-1]),
        "status": _status(screen),
        "termination_condition": screen.termination_condition_,
        "domain_threshold": args.domain_threshold,
        "n_in_domain": int(in_domain.sum()),
        "files": [p.name for p in written if p is not None],
    }
    written.append(write_json(out / "manifest.json", manifest))
    print(
        f"Readout of {len(library)} compounds: {n_measured} measured, "
        f"{len(library) - n_measured} predicted ({int((~in_domain).sum())} outside "
        f"the applicability domain, similarity < {args.domain_threshold}).\n"
        f"System accuracy lower bound: "
        f"{_fmt(_nan_if_none(manifest['system_lower_bound']), '.4f') or '-'} "
        f"(target {screen.target}); status: {manifest['status']}.\n"
        "Written: " + ", ".join(str(p) for p in written if p is not None)
    )
    return EXIT_OK


def _scaffold_table(scaffolds, measured, confidence):
    groups = {}
    for i, scaffold in enumerate(scaffolds):
        groups.setdefault(scaffold, []).append(i)
    table = []
    for scaffold, members in groups.items():
        members = np.asarray(members)
        n_measured = int(measured[members].sum())
        predicted = confidence[members[~measured[members]]]
        predicted = predicted[~np.isnan(predicted)]
        mean_conf = float(predicted.mean()) if predicted.size else math.nan
        table.append(
            [
                scaffold,
                members.size,
                n_measured,
                f"{n_measured / members.size:.4f}",
                _fmt(mean_conf, ".4f"),
            ]
        )
    table.sort(key=lambda r: (-r[1], r[0]))
    return table


def _write_parquet(path, columns):
    try:
        import pandas as pd
        import pyarrow  # noqa: F401
    except ImportError:
        print(
            f"Note: pandas/pyarrow not installed, {Path(path).name} was skipped "
            "(pip install sklearn-isd[data]).",
            file=sys.stderr,
        )
        return None
    frame = pd.DataFrame(columns)
    frame["round"] = frame["round"].astype("Int64")
    frame.to_parquet(path, engine="pyarrow", index=False)
    return Path(path)


# --------------------------------------------------------------------------
# Parser
# --------------------------------------------------------------------------
def _add_library_args(parser, *, labels):
    parser.add_argument(
        "library",
        metavar="LIBRARY.csv",
        help="the library, a CSV file with a header row",
    )
    parser.add_argument(
        "--smiles-col",
        required=True,
        metavar="S",
        help="column of the SMILES (required)",
    )
    if labels:
        parser.add_argument(
            "--label-col",
            required=True,
            metavar="Y",
            help="column of the known labels, revealed as the screen asks (required)",
        )
    parser.add_argument(
        "--id-col",
        metavar="ID",
        default=None,
        help="column of unique compound ids (default: the position of the row "
        "among the data rows, 0 for the first)",
    )
    parser.add_argument(
        "--task",
        choices=sorted(DEFAULT_MODEL),
        default="classification",
        help="classification (labels are class codes) or regression (numeric "
        "values; needs --tolerance) (default: classification)",
    )
    parser.add_argument("--model", choices=list(MODELS), default=None, help=MODEL_HELP)


def _add_screen_args(parser):
    group = parser.add_argument_group("screen options")
    group.add_argument(
        "--acquisition",
        choices=["auto", *ACQUISITION_FUNCTIONS],
        default="auto",
        metavar="NAME",
        help="how the next batch is chosen: auto (least_confidence for "
        "classification, committee std for regression), least_confidence, margin, "
        "entropy, vote_entropy (committees: --model rf), std (regression "
        "committees), random (default: auto)",
    )
    group.add_argument(
        "--target",
        type=_unit_open,
        default=0.95,
        help="system accuracy (measured labels count as correct) to reach, in "
        "(0, 1) (default: 0.95)",
    )
    group.add_argument(
        "--delta",
        type=_unit_open,
        default=0.05,
        help="probability that a round's lower bound fails, in (0, 1) (default: 0.05)",
    )
    group.add_argument(
        "--batch-size",
        type=_batch_size,
        default=0.01,
        metavar="N|FRACTION",
        help="compounds measured per round: a count, or a fraction of the library "
        "in (0, 1], rounded up (default: 0.01)",
    )
    group.add_argument(
        "--tolerance",
        type=_non_negative,
        default=None,
        metavar="T",
        help="regression only, required there: a prediction within T of the "
        "measured value counts as correct",
    )
    group.add_argument(
        "--max-fraction",
        type=_unit_right,
        default=1.0,
        metavar="F",
        help="never measure more than this fraction of the library, in (0, 1] "
        "(default: 1.0)",
    )
    group.add_argument(
        "--random-state",
        type=int,
        default=0,
        metavar="SEED",
        help="seed of the initial batch, of ties between scores and of the model "
        "(default: 0)",
    )


def add_commands(commands):
    """Add the simulate, start, tell and report subcommands to a subparsers."""
    import argparse

    common = {
        "epilog": EXIT_CODES_EPILOG,
        "formatter_class": argparse.RawDescriptionHelpFormatter,
    }
    simulate = commands.add_parser(
        "simulate",
        help="run a whole simulated screen on a library with known labels",
        description=(
            "Featurize the SMILES of LIBRARY.csv (ECFP4, 2048 bits), run a whole\n"
            "hybrid screen in which the labels are revealed from --label-col as the\n"
            "screen asks for them, print the table of rounds, and write to --out:\n"
            "readout.csv (id, smiles, value, true_value, source, round, confidence),\n"
            "history.csv (one row per round, with the true system score) and\n"
            "screen.png (skipped with a note without matplotlib)."
        ),
        **common,
    )
    _add_library_args(simulate, labels=True)
    _add_screen_args(simulate)
    simulate.add_argument(
        "--out", required=True, metavar="DIR", help="folder for the outputs (created)"
    )

    start = commands.add_parser(
        "start",
        help="start a campaign and write the first batch to measure",
        description=(
            "Create CAMPAIGN_DIR with a copy of the library (later commands need\n"
            "only the directory), the screen's state campaign.isd.npz, the options in\n"
            "campaign.json, and the first batch to measure, batch_000.csv (columns\n"
            "id, smiles, round; drawn at random, as no model exists yet). Refuses an\n"
            "existing campaign: --out must not exist or be an empty directory."
        ),
        **common,
    )
    _add_library_args(start, labels=False)
    _add_screen_args(start)
    start.add_argument(
        "--out",
        required=True,
        metavar="CAMPAIGN_DIR",
        help="the campaign directory to create",
    )

    tell = commands.add_parser(
        "tell",
        help="ingest the measured labels of the pending batch",
        description=(
            "Validate RESULTS.csv against the pending batch, then record the labels,\n"
            "refit the model, update the lower bound on the system accuracy and\n"
            "either write the next batch (batch_NNN.csv) or say that the screen\n"
            "stopped (status in campaign.json: awaiting_results, target_reached,\n"
            "max_fraction or all_acquired).\n\n"
            "Everything is checked before anything is written: unknown or empty\n"
            "ids, duplicates, ids outside the pending batch, missing values (empty,\n"
            "NA, NaN), non-numeric or non-finite values, and, for classification,\n"
            "values that are neither an integer class code nor a class used so far.\n"
            "Problems are listed with their row in RESULTS.csv (the header is row\n"
            "1), and the campaign is left untouched (exit code 2).\n\n"
            "The batch file itself, with a value column added, is a valid RESULTS.csv."
        ),
        **common,
    )
    tell.add_argument("campaign", metavar="CAMPAIGN_DIR", help="the campaign directory")
    tell.add_argument(
        "results", metavar="RESULTS.csv", help="measured values, one row per compound"
    )
    tell.add_argument(
        "--id-col", default="id", help="column of the compound ids (default: id)"
    )
    tell.add_argument(
        "--value-col",
        default="value",
        help="column of the measured values (default: value)",
    )
    tell.add_argument(
        "--partial",
        action="store_true",
        help="accept results for only part of the pending batch (results "
        "that come back in parts, failed wells); the other compounds stay "
        "pending and make up the next batch file. The stopping bound assumes "
        "full batches: if failures depend on the compound, the bound of a "
        "partial round can be optimistic",
    )

    report = commands.add_parser(
        "report",
        help="write the hybrid readout of a campaign with provenance",
        description=(
            "Write, for every library compound: id, smiles, value (measured or\n"
            "predicted), source (measured/predicted), round (when measured; empty\n"
            "if predicted), confidence (max predicted probability of a classifier;\n"
            "empty when measured, or for models without probabilities), scaffold\n"
            "(generic Murcko scaffold SMILES; empty for acyclic compounds),\n"
            "max_similarity (Tanimoto on ECFP4 bits to the nearest measured\n"
            "compound; 1 for measured ones) and in_domain (max_similarity >=\n"
            "--domain-threshold), as readout.csv and readout.parquet (when pandas\n"
            "and pyarrow are installed); plus manifest.json (library fingerprint,\n"
            "model, parameters, lower bound, termination), scaffolds.csv (scaffold,\n"
            "n_members, n_measured, fraction_measured, mean_confidence_predicted)\n"
            "and screen.png. The campaign itself is not changed."
        ),
        **common,
    )
    report.add_argument(
        "campaign", metavar="CAMPAIGN_DIR", help="the campaign directory"
    )
    report.add_argument(
        "--out",
        metavar="DIR",
        default=None,
        help="folder for the report (default: CAMPAIGN_DIR/report)",
    )
    report.add_argument(
        "--domain-threshold",
        type=_unit_closed,
        default=0.4,
        metavar="S",
        help="Tanimoto similarity to the nearest measured compound from which a "
        "prediction is in the applicability domain, in [0, 1] (default: 0.4)",
    )


COMMANDS = {
    "simulate": cmd_simulate,
    "start": cmd_start,
    "tell": cmd_tell,
    "report": cmd_report,
}


def run_command(args):
    """Run a parsed subcommand; return its exit code, errors printed on stderr."""
    from . import CampaignFileError

    prefix = f"sklearn-isd {args.command}"
    try:
        return COMMANDS[args.command](args)
    except CLIError as exc:
        print(f"{prefix}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except CampaignFileError as exc:
        print(f"{prefix}: error: {exc}", file=sys.stderr)
        return EXIT_CAMPAIGN
    except ImportError as exc:
        print(f"{prefix}: error: missing dependency: {exc}", file=sys.stderr)
        return EXIT_DEPENDENCY
    except Exception as exc:  # noqa: BLE001 - the exit code says it
        traceback.print_exc(file=sys.stderr)
        print(
            f"{prefix}: unexpected error: {type(exc).__name__}: {exc}",
            file=sys.stderr,
        )
        return EXIT_UNEXPECTED
