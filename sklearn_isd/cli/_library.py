"""Compound libraries: the file formats read, and checking every row at once.

A library is read in three steps, so that every problem of every row is
reported in one run (:func:`read_library`):

1. :func:`read_records` parses the file into records (location, id, SMILES,
   label texts), whatever its format:

   - CSV (``,``) and TSV (tab; ``.tsv``/``.tab``) with a header row, or any
     one-character separator given with ``--sep``; rows are numbered as
     lines of the file, the header being row 1;
   - SMILES files (``.smi``/``.smiles``): per line, a SMILES then an optional
     name, separated by whitespace, as RDKit's ``SmilesMolSupplier`` reads
     them; a first line whose first field is ``SMILES`` (any case) is a
     header; lines are numbered from 1;
   - SD files (``.sdf``/``.sd``): parsed with RDKit's
     ``Chem.ForwardSDMolSupplier``; the id is a molecule property
     (``--id-col``), the title (``_Name``) by default; records are numbered
     from 1;
   - Parquet (``.parquet``/``.pq``), with pandas and pyarrow (the ``data``
     extra); rows are numbered from 1.

2. :func:`row_problems` checks each record: empty or duplicate id, empty
   SMILES, an SD record RDKit cannot read, invalid labels (simulate), and
   SMILES that RDKit cannot parse (found while featurizing).

3. Without ``skip_invalid`` any problem is one :class:`InputError` listing
   the rows (the first :data:`~._errors.MAX_PROBLEMS`, then a count); with
   it, the rows are left out and listed in :attr:`Library.skipped`.

A campaign's copy of its library is read again by every command with the
positions skipped at start (campaign.json field ``library.skipped``), so
that every position in the screen names the same compound.
"""

import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._errors import DependencyError, InputError, problems_error
from ._inputs import (
    FEATURIZER,
    MISSING,
    OUT_OF_RANGE,
    import_rdkit,
    parse_class,
    parse_csv,
    parse_number,
    read_bytes,
    sha256_of,
)

#: Library formats by file extension; any other extension is read as CSV.
EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".smi": "smi",
    ".smiles": "smi",
    ".sdf": "sdf",
    ".sd": "sdf",
    ".parquet": "parquet",
    ".pq": "parquet",
}
FORMATS = ("csv", "tsv", "smi", "sdf", "parquet")
#: Formats with named columns (the SMILES column must be named).
TABULAR = ("csv", "tsv", "parquet")
#: The property of an SD record that holds its title.
SDF_TITLE = "_Name"


def library_format(path, sep=None):
    """(format, separator) of a library file, from its extension and ``--sep``."""
    fmt = EXTENSIONS.get(Path(path).suffix.lower(), "csv")
    if sep is not None and fmt not in ("csv", "tsv"):
        raise InputError(
            f"--sep applies to CSV and TSV libraries; {Path(path).name} is read as "
            f"a {fmt} file (from its extension)."
        )
    if fmt not in ("csv", "tsv"):
        return fmt, None
    return fmt, default_sep(fmt) if sep is None else sep


def default_sep(fmt):
    """The separator of a CSV-like format when none is given."""
    return "\t" if fmt == "tsv" else ","


@dataclass
class Records:
    """The records of a library file, in file order, before any check."""

    where: list
    ids: list
    smiles: list
    labels: list | None
    #: Problems found while parsing, by position (an SD record RDKit refused).
    unreadable: dict = field(default_factory=dict)


@dataclass
class Library:
    """The compounds of a library, in file order, invalid rows left out."""

    path: Path
    ids: list
    smiles: np.ndarray
    #: Location of each compound in the file ("row 5", "record 3", "line 2").
    rows: list
    #: Label texts, one list per compound (one text per label column).
    labels: list | None = None
    #: The file's bytes (what start copies) and their SHA-256.
    data: bytes | None = None
    sha256: str | None = None
    format: str = "csv"
    sep: str = ","
    #: Positions (among the file's records) of the rows left out.
    skipped: list = field(default_factory=list)
    #: (location, id, SMILES, problem) of each row left out, if known.
    skipped_rows: list = field(default_factory=list)
    #: Fingerprints of the compounds, once featurized.
    X: object = None

    def __len__(self):
        return len(self.ids)


# --------------------------------------------------------------------------
# 1. Records, by format
# --------------------------------------------------------------------------
def read_records(path, data, fmt, sep, smiles_col, id_col, label_cols=()):
    """Parse a library file into :class:`Records` (see the module docstring)."""
    label_cols = list(label_cols)
    if fmt in ("csv", "tsv"):
        return _csv_records(path, data, sep, smiles_col, id_col, label_cols)
    if fmt == "parquet":
        return _parquet_records(path, data, smiles_col, id_col, label_cols)
    if fmt == "smi":
        return _smi_records(path, data, id_col, label_cols)
    return _sdf_records(data, id_col, label_cols)


def _csv_records(path, data, sep, smiles_col, id_col, label_cols):
    columns = [c for c in (smiles_col, id_col, *label_cols) if c is not None]
    records = parse_csv(data, path, list(dict.fromkeys(columns)), "Library", sep=sep)
    return Records(
        where=[f"row {row}" for row, _ in records],
        ids=[
            str(i) if id_col is None else rec[id_col]
            for i, (_, rec) in enumerate(records)
        ],
        smiles=[rec[smiles_col] for _, rec in records],
        labels=[[rec[c] for c in label_cols] for _, rec in records]
        if label_cols
        else None,
    )


def _import_pandas(what):
    try:
        import pandas as pd
        import pyarrow  # noqa: F401
    except ImportError:
        raise DependencyError(
            f"{what} needs pandas and pyarrow; install them with "
            "`pip install sklearn-isd[data]` (the data extra)."
        ) from None
    return pd


def _text_of(value):
    """A Parquet cell as text: missing as "", numbers as written."""
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if value != value else repr(value)
    if isinstance(value, np.generic):
        return _text_of(value.item())
    return str(value).strip()


def _parquet_records(path, data, smiles_col, id_col, label_cols):
    pd = _import_pandas(f"Reading the Parquet library {path}")
    try:
        frame = pd.read_parquet(io.BytesIO(data), engine="pyarrow")
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many kinds
        raise InputError(
            f"Library {path} is not a readable Parquet file ({type(exc).__name__}: "
            f"{str(exc)[:200]})."
        ) from None
    header = [str(c) for c in frame.columns]
    columns = [c for c in (smiles_col, id_col, *label_cols) if c is not None]
    missing = [c for c in dict.fromkeys(columns) if c not in header]
    if missing:
        raise InputError(
            f"Library {path} has no column {', '.join(map(repr, missing))}; its "
            f"columns are {header}."
        )
    frame.columns = header
    cells = {
        c: [_text_of(v) for v in frame[c].tolist()] for c in dict.fromkeys(columns)
    }
    n = len(frame)
    return Records(
        where=[f"row {i + 1}" for i in range(n)],
        ids=[str(i) for i in range(n)] if id_col is None else cells[id_col],
        smiles=cells[smiles_col],
        labels=[[cells[c][i] for c in label_cols] for i in range(n)]
        if label_cols
        else None,
    )


def _smi_records(path, data, id_col, label_cols):
    if label_cols:
        raise InputError(
            f"Library {path} is a SMILES file (SMILES, then a name): it has no "
            "label column; use a CSV, TSV, Parquet or SD file for simulate."
        )
    if id_col is not None:
        raise InputError(
            f"--id-col does not apply to the SMILES file {path}: the name after "
            "each SMILES is its id (the line number when there is none)."
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(f"Library {path} is not UTF-8 text (line {line}).") from None
    where, ids, smiles = [], [], []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue  # blank lines are skipped
        if not where and fields[0].lower() == "smiles":
            continue  # a header line
        where.append(f"line {number}")
        smiles.append(fields[0])
        ids.append(fields[1] if len(fields) > 1 else str(number))
    return Records(where, ids, smiles, None)


def _sdf_records(data, id_col, label_cols):
    Chem, rdBase = import_rdkit()
    id_col = SDF_TITLE if id_col is None else id_col
    block = rdBase.BlockLogs()  # noqa: F841 - silences RDKit while alive
    where, ids, smiles, labels, unreadable = [], [], [], [], {}
    supplier = Chem.ForwardSDMolSupplier(io.BytesIO(data), sanitize=True)
    for number, mol in enumerate(supplier, start=1):
        where.append(f"record {number}")
        if mol is None:
            ids.append("")
            smiles.append("")
            labels.append(["" for _ in label_cols])
            unreadable[len(where) - 1] = "RDKit cannot read the molecule"
            continue
        ids.append(mol.GetProp(id_col).strip() if mol.HasProp(id_col) else "")
        smiles.append(Chem.MolToSmiles(mol))
        labels.append(
            [mol.GetProp(c).strip() if mol.HasProp(c) else "" for c in label_cols]
        )
    return Records(where, ids, smiles, labels if label_cols else None, unreadable)


# --------------------------------------------------------------------------
# 2. Problems, row by row
# --------------------------------------------------------------------------
def row_problems(records, *, task="classification", label_cols=(), id_col=None):
    """Problems of each record, by position: id, SMILES and labels.

    Invalid SMILES are not looked for here: :func:`featurize_valid` finds
    them while featurizing.
    """
    problems = {}
    first = {}
    empty_id = (
        "empty id (the record has no title: pass --id-col PROPERTY)"
        if id_col is None and _is_sdf(records)
        else "empty id"
    )
    for i, cid in enumerate(records.ids):
        if i in records.unreadable:
            problems.setdefault(i, []).append(records.unreadable[i])
            continue
        if not cid:
            problems.setdefault(i, []).append(empty_id)
        elif cid in first:
            problems.setdefault(i, []).append(
                f"duplicate id {cid[:40]!r} (first in {records.where[first[cid]]})"
            )
        else:
            first[cid] = i
        if not records.smiles[i]:
            problems.setdefault(i, []).append("empty SMILES")
    if records.labels is not None:
        matrix = len(label_cols) > 1
        for i, texts in enumerate(records.labels):
            if i in records.unreadable:
                continue
            for name, text in zip(label_cols, texts):
                problem = _label_problem(text, task, matrix)
                if problem is not None:
                    where = f" in column {name!r}" if matrix else ""
                    problems.setdefault(i, []).append(f"{problem}{where}")
    return problems


def _is_sdf(records):
    return bool(records.where) and records.where[0].startswith("record")


def _label_problem(text, task, matrix):
    """Why a label text is invalid, or None (a missing cell is fine in a matrix)."""
    if matrix and text.strip().lower() in MISSING:
        return None
    if task == "regression":
        return parse_number(text)[1]
    _, problem = parse_class(text, ())
    if (
        problem is not None
        and not matrix
        and text.strip().lower() not in MISSING
        and OUT_OF_RANGE not in problem
    ):
        return None  # class names ("active") are fine in a 1-d screen
    if problem is not None and matrix and OUT_OF_RANGE not in problem:
        return (
            f"value {text[:40]!r} is not a numeric class code (the labels of a "
            "matrix screen are class codes)"
        )
    return problem


def featurize(smiles, where=None):
    """ECFP4 fingerprints of SMILES; (X, {position: problem}) of invalid ones.

    ``X`` is None when some SMILES are invalid.
    """
    Chem, rdBase = import_rdkit()
    from ..chem import MorganFingerprint

    transformer = MorganFingerprint(
        radius=FEATURIZER["radius"], n_bits=FEATURIZER["n_bits"]
    )
    smiles = np.asarray(smiles, dtype=object)
    try:
        return transformer.transform(smiles), {}
    except ValueError:
        block = rdBase.BlockLogs()  # noqa: F841 - silences RDKit while alive
        invalid = {
            i: f"invalid SMILES {smi[:60]!r}"
            for i, smi in enumerate(smiles)
            if Chem.MolFromSmiles(smi) is None
        }
        return None, invalid


def parse_labels(texts, task, label_cols):
    """The labels of a simulated screen from checked label texts.

    One column gives a 1-d array (class codes as int64, or class names, or
    float values); several give a float matrix with NaN for missing cells.
    """
    if len(label_cols) > 1:
        return np.array(
            [
                [np.nan if t.strip().lower() in MISSING else float(t) for t in row]
                for row in texts
            ],
            dtype=float,
        )
    values = [row[0] for row in texts]
    if task == "regression":
        return np.asarray([parse_number(v)[0] for v in values], dtype=float)
    parsed = [parse_class(v, ())[0] for v in values]
    if all(p is not None for p in parsed):
        return np.asarray(parsed, dtype=np.int64)
    return np.asarray([v for v in values], dtype=object)


# --------------------------------------------------------------------------
# 3. The library
# --------------------------------------------------------------------------
def read_library(
    path,
    *,
    fmt,
    sep=",",
    smiles_col=None,
    id_col=None,
    label_cols=(),
    task="classification",
    skip_invalid=False,
    featurize_it=True,
    skipped=None,
    data=None,
):
    """Read, check and (by default) featurize a library.

    Parameters
    ----------
    path : path-like
        The library file.
    fmt : {"csv", "tsv", "smi", "sdf", "parquet"}
        Its format.
    sep : str, default=","
        The separator of a CSV-like file.
    smiles_col, id_col : str or None
        Columns (or, for an SD file, the id property) read.
    label_cols : sequence of str, default=()
        Label columns (simulate).
    task : {"classification", "regression"}
        How labels are checked.
    skip_invalid : bool, default=False
        Leave invalid rows out (listed in ``Library.skipped_rows``) instead
        of raising.
    featurize_it : bool, default=True
        Featurize the compounds (``Library.X``); without, invalid SMILES are
        not looked for.
    skipped : list of int, default=None
        Positions to leave out without looking at them (a campaign's copy:
        the rows its start skipped). The other rows must all be valid.
    data : bytes, default=None
        The file's content, if read already.

    Returns
    -------
    library : Library

    Raises
    ------
    InputError
        Listing every invalid row (at most 20, then a count), unless
        ``skip_invalid``.
    """
    data = read_bytes(path, "Library") if data is None else data
    records = read_records(path, data, fmt, sep, smiles_col, id_col, label_cols)
    n_records = len(records.ids)
    if n_records == 0:
        raise InputError(f"Library {path} has no compound (only a header).")
    given = _given_positions(path, n_records, skipped)
    checks = {"task": task, "label_cols": label_cols, "id_col": id_col}
    problems, X = _find_problems(records, given, checks, featurize_it)
    if problems and not skip_invalid:
        _raise_problems(path, records, problems, suggest_skip=skipped is None)
    left_out = sorted(given | set(problems))
    reasons = dict(problems)
    if given:  # why the campaign's start left these rows out, checked again
        reasons.update(_given_reasons(records, given, checks, featurize_it))
    kept = [i for i in range(n_records) if i not in set(left_out)]
    if not kept:
        raise InputError(f"Library {path} has no valid compound.")
    if featurize_it and (problems or X is None):
        X = featurize([records.smiles[i] for i in kept])[0]
    return Library(
        path=Path(path),
        ids=[records.ids[i] for i in kept],
        smiles=np.array([records.smiles[i] for i in kept], dtype=object),
        rows=[records.where[i] for i in kept],
        labels=None if records.labels is None else [records.labels[i] for i in kept],
        data=data,
        sha256=sha256_of(data),
        format=fmt,
        sep=sep,
        skipped=left_out,
        skipped_rows=_skipped_rows(records, left_out, reasons, featurize_it),
        X=X,
    )


def _skipped_rows(records, left_out, reasons, featurize_it):
    """(row, id, SMILES, problem) of each record left out.

    Parameters
    ----------
    records : Records
        The file's records.
    left_out : list of int
        The positions left out, in order.
    reasons : dict
        Position -> list of problems.
    featurize_it : bool
        Whether the SMILES were parsed (the reason of a row without problem).

    Returns
    -------
    rows : list of tuple
    """
    default = "invalid SMILES" if featurize_it else "left out at start"
    return [
        (
            records.where[i],
            records.ids[i],
            records.smiles[i],
            "; ".join(reasons[i]) or default,
        )
        for i in left_out
    ]


def _given_positions(path, n_records, skipped):
    """The positions a campaign's start skipped, checked against the file.

    Parameters
    ----------
    path : path-like
        The library file (for the message).
    n_records : int
        Records in the file.
    skipped : list of int or None
        The positions skipped at start.

    Returns
    -------
    given : set of int
    """
    given = set() if skipped is None else set(skipped)
    if given and max(given) >= n_records:
        raise InputError(
            f"Library {path} has {n_records} records; the campaign skipped "
            f"record {max(given) + 1}."
        )
    return given


def _find_problems(records, given, checks, featurize_it):
    """The problems of every record not given, and the features of the valid.

    Parameters
    ----------
    records : Records
        The file's records.
    given : set of int
        Positions left out without looking at them.
    checks : dict
        Keyword arguments of :func:`row_problems`.
    featurize_it : bool
        Featurize the records (which finds invalid SMILES).

    Returns
    -------
    problems : dict
        Position -> list of problems.
    X : ndarray or None
        Features of the records not given and with a SMILES, or None
        without ``featurize_it``.
    """
    problems = {
        i: p for i, p in row_problems(records, **checks).items() if i not in given
    }
    X = None
    if featurize_it:
        candidates = [i for i in range(len(records.ids)) if i not in given]
        parsable = [i for i in candidates if records.smiles[i]]
        X, invalid = featurize([records.smiles[i] for i in parsable])
        for j, problem in invalid.items():
            problems.setdefault(parsable[j], []).append(problem)
    return problems, X


def _raise_problems(path, records, problems, *, suggest_skip):
    """Raise one InputError listing every invalid row.

    Parameters
    ----------
    path : path-like
        The library file.
    records : Records
        The file's records.
    problems : dict
        Position -> list of problems.
    suggest_skip : bool
        Suggest ``--skip-invalid`` (not for a campaign's copy).
    """
    lines = [f"{records.where[i]}: {'; '.join(problems[i])}" for i in sorted(problems)]
    hint = "; fix them, or pass --skip-invalid" if suggest_skip else ""
    raise problems_error(
        InputError,
        f"Library {path} has {len(problems)} invalid row(s){hint}",
        lines,
    )


def _given_reasons(records, given, checks, featurize_it):
    """Why the campaign's start left the given positions out, checked again.

    Parameters
    ----------
    records : Records
        The file's records.
    given : set of int
        The positions skipped at start.
    checks : dict
        Keyword arguments of :func:`row_problems`.
    featurize_it : bool
        Look for invalid SMILES too.

    Returns
    -------
    reasons : dict
        Position -> list of problems (possibly empty), for each given one.
    """
    found = row_problems(records, **checks)
    reasons = {i: list(found.get(i, [])) for i in given}
    with_smiles = [i for i in sorted(given) if records.smiles[i]]
    if featurize_it and with_smiles:
        invalid = featurize([records.smiles[i] for i in with_smiles])[1]
        for j, problem in invalid.items():
            reasons[with_smiles[j]].append(problem)
    return reasons
