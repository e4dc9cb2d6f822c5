"""Input files of the command line: CSV parsing, and the values of cells.

Libraries, in every format, are read by :mod:`._library`.
"""

import csv
import hashlib
import io
import math
import re
from pathlib import Path

import numpy as np

from ._errors import DependencyError, InputError
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


def parse_csv(data, path, columns, what, sep=","):
    """Parse CSV bytes with a header; return [(row_number, {column: text})].

    Rows are numbered as lines of the file, the header being row 1 (what a
    spreadsheet shows). Missing cells read as "". ``sep`` is the one-character
    separator (a tab for TSV).
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        row = data.count(b"\n", 0, exc.start) + 1
        raise InputError(f"{what} {path} is not UTF-8 text (row {row}).") from None
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
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


def read_csv(path, columns, what, sep=","):
    """Read a CSV file with a header: :func:`parse_csv` of its bytes."""
    return parse_csv(read_bytes(path, what), path, columns, what, sep)


def results_sep(path):
    """The separator of a results file: a tab for ``.tsv``/``.tab``, else a comma."""
    return "\t" if Path(path).suffix.lower() in (".tsv", ".tab") else ","


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


def parse_declared(text, classes):
    """(label, problem) of a class label among the classes declared at start.

    Integer codes match however they are spelled ("1", "1.0"); class names
    match exactly.
    """
    if text.strip().lower() in MISSING:
        return None, "missing value"
    if isinstance(classes[0], str):
        if text in classes:
            return text, None
    else:
        code = _integer(text)
        if code in classes:
            return code, None
    shown = ", ".join(str(c) for c in classes)
    return None, (
        f"class {text[:40]!r} is not one of the classes declared at start ({shown})"
    )


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
