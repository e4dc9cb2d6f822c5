"""Input files of the command line: libraries and results (CSV), and their values."""

import csv
import hashlib
import io
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._errors import DependencyError, InputError, problems_error
from ._outputs import plain

#: Featurization of every command: ECFP4 folded to 2048 bits.
FEATURIZER = {"name": "MorganFingerprint", "radius": 2, "n_bits": 2048}
#: Strings read as a missing value in a results or label column.
MISSING = {"", "na", "n/a", "nan", "null", "none"}
#: Largest magnitude of a measured value: 1e150 squared is 1e300, so the
#: squared error of any prediction of such values is finite.
MAX_VALUE = 1e150
OUT_OF_RANGE = "out of range"
_INT64 = np.iinfo(np.int64)


def read_bytes(path, what, error=InputError):
    """The bytes of a file; a missing or unreadable file is an ``error``."""
    path = Path(path)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise error(f"{what} {path}: no such file.") from None
    except IsADirectoryError:
        raise error(f"{what} {path} is a folder, not a file.") from None
    except OSError as exc:
        raise error(f"{what} {path}: cannot be read ({exc.strerror}).") from None


def parse_csv(data, path, columns, what):
    """Parse CSV bytes with a header; return [(row_number, {column: text})].

    Rows are numbered as lines of the file, the header being row 1 (what a
    spreadsheet shows). Missing cells read as "".
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        row = data.count(b"\n", 0, exc.start) + 1
        raise InputError(f"{what} {path} is not UTF-8 text (row {row}).") from None
    reader = csv.reader(io.StringIO(text, newline=""))
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
        return [
            (reader.line_num, {c: _cell(cells, j) for c, j in where.items()})
            for cells in reader
            if any(cell.strip() for cell in cells)  # blank lines are skipped
        ]
    except csv.Error as exc:
        raise InputError(
            f"{what} {path} is not valid CSV (row {reader.line_num}): {exc}."
        ) from None


def _cell(cells, j):
    return cells[j].strip() if j < len(cells) else ""


def read_csv(path, columns, what):
    """Read a CSV file with a header: :func:`parse_csv` of its bytes."""
    return parse_csv(read_bytes(path, what), path, columns, what)


@dataclass
class Library:
    """The compounds of a library CSV, in file order."""

    path: Path
    ids: list
    smiles: np.ndarray
    rows: list
    labels: list | None = None
    #: The file's bytes (what start copies) and their SHA-256.
    data: bytes | None = None
    sha256: str | None = None

    def __len__(self):
        return len(self.ids)


def read_library(path, smiles_col, id_col=None, label_col=None, *, data=None):
    """Read and check a library CSV (ids unique and non-empty, SMILES present).

    The file is read once (``data``, if given, is its content): the library
    parsed, copied and hashed is one version of the file.
    """
    columns = [c for c in (smiles_col, id_col, label_col) if c is not None]
    data = read_bytes(path, "Library") if data is None else data
    records = parse_csv(data, path, list(dict.fromkeys(columns)), "Library")
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
    return Library(Path(path), ids, smiles, rows, labels, data, sha256_of(data))


def sha256_of(data):
    """The SHA-256 of bytes, as ``"sha256:<hex>"``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


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
    """(value, problem): a float, or None and why not.

    Values must be finite and at most ``MAX_VALUE`` in magnitude, so that
    the squared errors the screen computes (batch and system MSE) stay
    finite.
    """
    if text.strip().lower() in MISSING:
        return None, "missing value"
    try:
        value = float(text)
    except ValueError:
        return None, f"value {text[:40]!r} is not a number"
    if not math.isfinite(value):
        return None, f"value {text[:40]!r} is not finite"
    if abs(value) > MAX_VALUE:
        return None, (
            f"value {text[:40]!r} is {OUT_OF_RANGE} (|value| > {MAX_VALUE:g}, whose "
            "squared error overflows)"
        )
    return value, None


def parse_class(text, classes):
    """(label, problem) of a class label: a known class or an integer code.

    An integer code must fit the 64-bit integers the labels are stored in.
    """
    if text.strip().lower() in MISSING:
        return None, "missing value"
    for c in classes:
        if text == str(c):
            return c, None
    code = _integer(text)
    if code is not None and _INT64.min <= code <= _INT64.max:
        return code, None
    if code is not None:
        return None, f"class code {text[:40]!r} is {OUT_OF_RANGE} (a 64-bit integer)"
    known = f" (classes so far: {[plain(c) for c in classes]})" if classes else ""
    return None, f"value {text[:40]!r} is not a numeric class code{known}"


def _integer(text):
    """The integer a text spells ("12", "-3", "1e3", "2.0"), or None."""
    text = text.strip()
    if re.fullmatch(r"[+-]?[0-9]{1,4000}", text):
        return int(text)  # exact, however large
    try:
        value = float(text)
    except ValueError:
        return None
    if math.isfinite(value) and value == int(value):
        return int(value)
    if math.isinf(value) and re.fullmatch(r"[+-]?[0-9.]+(e[+-]?[0-9]+)?", text, re.I):
        return int(2**64)  # a finite number too large for a float: out of range
    return None


def parse_labels(library, task, label_col):
    """Labels of a simulated screen from the label column, checked."""
    problems, values = [], []
    for row, text in zip(library.rows, library.labels):
        if task == "regression":
            value, problem = parse_number(text)
        else:
            value, problem = parse_class(text, ())
            if (
                problem is not None
                and text.strip().lower() not in MISSING
                and OUT_OF_RANGE not in problem
            ):
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
