"""Files of the command line: reading CSV libraries and results, writing outputs."""

import csv
import hashlib
import json
import math
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..utils._files import atomic_write
from ._errors import DependencyError, InputError, problems_error

#: Featurization of every command: ECFP4 folded to 2048 bits.
FEATURIZER = {"name": "MorganFingerprint", "radius": 2, "n_bits": 2048}
#: Strings read as a missing value in a results or label column.
MISSING = {"", "na", "n/a", "nan", "null", "none"}


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
        raise problems_error(InputError, f"Library {path} is invalid", problems)
    smiles = np.array([rec[smiles_col] for _, rec in records], dtype=object)
    labels = None if label_col is None else [rec[label_col] for _, rec in records]
    return Library(Path(path), ids, smiles, rows, labels)


def import_rdkit():
    """RDKit's Chem and rdBase, or a DependencyError saying how to install it."""
    try:
        from rdkit import Chem, rdBase
    except ImportError:
        raise DependencyError(
            "RDKit is needed to read SMILES; install it with "
            "`pip install sklearn-isd[chem]` (or `pip install rdkit`)."
        ) from None
    return Chem, rdBase


def featurize(library):
    """ECFP4 fingerprints of the library; invalid SMILES named by CSV row."""
    Chem, rdBase = import_rdkit()
    from ..chem import MorganFingerprint

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
        raise problems_error(
            InputError, f"Library {library.path} has invalid SMILES", problems
        ) from None


def parse_number(text):
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


def parse_class(text, classes):
    """(label, problem) of a class label: a known class or an integer code."""
    if text.strip().lower() in MISSING:
        return None, "missing value"
    for c in classes:
        if text == str(c):
            return c, None
    value, problem = parse_number(text)
    if problem is None and value == int(value):
        return int(value), None
    known = f" (classes so far: {[plain(c) for c in classes]})" if classes else ""
    return None, f"value {text!r} is not a numeric class code{known}"


def plain(value):
    """A numpy scalar as a plain Python value (for messages and JSON)."""
    return value.item() if isinstance(value, np.generic) else value


def parse_labels(library, task, label_col):
    """Labels of a simulated screen from the label column, checked."""
    problems, values = [], []
    for row, text in zip(library.rows, library.labels):
        if task == "regression":
            value, problem = parse_number(text)
        else:
            value, problem = parse_class(text, ())
            if problem is not None and text.strip().lower() not in MISSING:
                value, problem = text, None  # class names ("active") are fine
        if problem:
            problems.append(f"row {row}: {problem}")
        values.append(value)
    if problems:
        raise problems_error(
            InputError, f"Column {label_col!r} of {library.path} is invalid", problems
        )
    if task == "regression":
        return np.asarray(values, dtype=float)
    if all(isinstance(v, int) for v in values):
        return np.asarray(values, dtype=np.int64)
    return np.asarray([str(v) for v in values], dtype=object)


def now():
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            h.update(block)
    return "sha256:" + h.hexdigest()


def write_json(path, data):
    """Write data as indented JSON (NaN is refused: pass it through json_value)."""
    return atomic_write(
        path, lambda h: h.write(json.dumps(data, indent=2, allow_nan=False) + "\n")
    )


def write_rows(path, header, rows):
    """Write a CSV file: a header row, then the rows."""

    def write(handle):
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)

    return atomic_write(path, write)


def cell(value):
    """A CSV cell: NaN and None as empty, numpy scalars as plain values."""
    value = plain(value)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return value


def json_value(value):
    value = plain(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_history(path, history):
    keys = list(history)
    n = len(history[keys[0]]) if keys else 0
    rows = [[i] + [cell(history[k][i]) for k in keys] for i in range(n)]
    return write_rows(path, ["round", *keys], rows)


def write_plot(path, screen):
    """Draw ScreenDisplay to path; print a note and return None without it."""
    from ..plotting import ScreenDisplay

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
    return atomic_write(
        path, lambda h: figure.savefig(h, format="png", dpi=100), binary=True
    )


def max_confidence(screen, X):
    """Max predicted probability per item (NaN where it has no meaning)."""
    confidence = np.full(X.shape[0], np.nan)
    predicted = ~screen.observed_mask_
    if predicted.any() and hasattr(screen, "predict_proba"):
        confidence[predicted] = screen.predict_proba(X[predicted]).max(axis=1)
    return confidence


def nan_if_none(value):
    return math.nan if value is None else value


def fmt(value, spec):
    return "" if value is None or math.isnan(value) else format(value, spec)
