"""The schema of campaign.json, checked field by field before anything reads it.

``campaign.json`` is written once, by ``start``, and holds what a campaign
fixes at its start. Anyone can edit it, so every command parses it with
:func:`parse_campaign_json`, which refuses, with a one-line
:class:`~sklearn_isd.cli.CampaignStateError` naming the field, anything
``start`` would not have written: invalid JSON or UTF-8, NaN or infinite
numbers, duplicate keys, deep nesting, a file over 1 MiB, a top level that
is not an object, missing or unknown fields, values of the wrong type or out
of range, file names that are paths. The screen options it records are
checked against the campaign file once the screen is loaded (see
``_campaign.check_against_state``), not range by range here: the screen
validates its parameters itself.

Some fields are optional (:class:`Optional`): ``start`` writes them only
when they say something beyond the default, so a campaign started without
the options that add them has the same campaign.json as before they
existed. Absent, each reads as its default:

- ``library.format`` (``"csv"``) and ``library.sep`` (``","``; CSV and TSV
  only): how the library copy is read;
- ``library.skipped`` (none): positions, among the library's records, of
  the invalid rows ``start --skip-invalid`` left out;
- ``classes`` (none: any integer class code): the class labels declared with
  ``start --classes``;
- ``stopping`` (``"kl"``): the stopping rule, a name of
  :data:`~sklearn_isd.cli._models.STOPPING_RULES`;
- ``outputs`` (``["value"]``): the results columns of the campaign, one per
  output (several for a matrix campaign), from ``start --value-col``.

The checker is a few small functions over a literal schema rather than
``jsonschema``: the fields are fixed and few, and the command line needs no
new dependency for them.
"""

import json
import re
from datetime import datetime

from ._errors import CampaignStateError, one_line
from ._inputs import FEATURIZER
from ._library import FORMATS, TABULAR
from ._models import MODELS, STOPPING_RULES

CAMPAIGN_FORMAT = "sklearn-isd-cli-campaign"
CAMPAIGN_FORMAT_VERSION = 2
#: campaign.json is a few hundred bytes; anything much larger is not one.
MAX_BYTES = 1 << 20
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SHA256 = re.compile(r"sha256:[0-9a-f]{64}")


def _show(value):
    """A short description of a JSON value, for messages (never recursive)."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    text = json.dumps(value) if isinstance(value, bool | type(None)) else repr(value)
    return text if len(text) <= 40 else f"{text[:30]}... ({len(text)} characters)"


def _text(*, max_length=1000, choices=None, pattern=None):
    def check(value):
        if not isinstance(value, str):
            return f"must be a string, got {_show(value)}"
        if not value:
            return "must not be empty"
        if len(value) > max_length or _CONTROL.search(value):
            return (
                f"must be at most {max_length} printable characters, got {_show(value)}"
            )
        if choices is not None and value not in choices:
            return f"must be one of {', '.join(map(repr, choices))}, got {_show(value)}"
        if pattern is not None and not pattern.fullmatch(value):
            return f"must look like {pattern.pattern!r}, got {_show(value)}"
        return None

    return check


def _constant(expected):
    def check(value):
        same = type(value) is type(expected) and value == expected
        return None if same else f"must be {_show(expected)}, got {_show(value)}"

    return check


def _integer(low, high):
    def check(value):
        if type(value) is not int or not low <= value <= high:
            return f"must be an integer in [{low}, {high}], got {_show(value)}"
        return None

    return check


def _number(value):
    if type(value) not in (int, float):
        return f"must be a number, got {_show(value)}"
    return None


def _optional(check):
    def optional(value):
        return None if value is None else check(value)

    return optional


def _timestamp(value):
    problem = _text(max_length=64)(value)
    if problem is None:
        try:
            datetime.fromisoformat(value)
        except ValueError:
            problem = f"must be an ISO 8601 date and time, got {_show(value)}"
    return problem


class Optional:
    """A field ``start`` may leave out (absent: its default)."""

    def __init__(self, check):
        self.check = check


def _separator(value):
    if not isinstance(value, str) or len(value) != 1 or value in '\r\n"':
        return f"must be one character (not a quote or a line end), got {_show(value)}"
    return None


def _positions(value):
    """Positions of records: a list of increasing integers."""
    if not isinstance(value, list) or not value:
        return f"must be a non-empty list of record positions, got {_show(value)}"
    if not all(type(v) is int and 0 <= v < 2**40 for v in value):
        return "must hold record positions (integers >= 0)"
    if any(a >= b for a, b in zip(value, value[1:])):
        return "must hold increasing record positions"
    return None


def _classes(value):
    if not isinstance(value, list) or len(value) < 2:
        return f"must be a list of at least 2 class labels, got {_show(value)}"
    kinds = {type(v) for v in value}
    if kinds not in ({int}, {str}):
        return "must hold class labels that are all integers or all strings"
    if kinds == {int} and not all(-(2**63) <= v < 2**63 for v in value):
        return "must hold 64-bit integer class codes"
    if kinds == {str} and not all(v and _text()(v) is None for v in value):
        return "must hold non-empty printable class names"
    if len(set(value)) != len(value):
        return "must hold distinct class labels"
    return None


def _columns(value):
    if not isinstance(value, list) or not value:
        return f"must be a non-empty list of column names, got {_show(value)}"
    if any(_text()(v) is not None for v in value) or len(set(value)) != len(value):
        return "must hold distinct, non-empty column names"
    return None


def _file_name(value):
    """A plain file name in the campaign folder: no folder, no '..'."""
    problem = _text(max_length=255)(value)
    if problem is None and (value in (".", "..") or "/" in value or "\\" in value):
        problem = (
            f"must be a file name inside the campaign folder, got {_show(value)} "
            "(no folder, no '..', no absolute path)"
        )
    return problem


SCHEMA = {
    "format": _constant(CAMPAIGN_FORMAT),
    "format_version": _constant(CAMPAIGN_FORMAT_VERSION),
    "sklearn_isd_version": _text(max_length=100),
    "created": _timestamp,
    "library": {
        "file": _file_name,
        "source": _text(max_length=4096),
        "sha256": _text(pattern=_SHA256),
        "n_compounds": _integer(1, 2**40),
        "smiles_col": _optional(_text()),
        "id_col": _optional(_text()),
        "format": Optional(_text(choices=FORMATS)),
        "sep": Optional(_separator),
        "skipped": Optional(_positions),
    },
    "featurizer": {key: _constant(value) for key, value in FEATURIZER.items()},
    "task": _text(choices=("classification", "regression")),
    "model": _text(choices=tuple(MODELS)),
    "estimator": _text(max_length=10_000),
    "screen": {
        "acquisition": _text(max_length=100),
        "batch_size": _number,
        "target": _number,
        "delta": _number,
        "tolerance": _optional(_number),
        "max_fraction": _number,
        "random_state": _optional(_integer(0, 2**32 - 1)),
    },
    "classes": Optional(_classes),
    "stopping": Optional(_text(choices=tuple(STOPPING_RULES))),
    "outputs": Optional(_columns),
}


def _fail(path, message):
    raise CampaignStateError(f"{path}: {message}.")


def _check_object(document, schema, path, prefix=""):
    """Check an object against a schema level, in the schema's order."""
    for key, check in schema.items():
        field = f"{prefix}{key}"
        if isinstance(check, Optional):
            if key not in document:
                continue
            check = check.check
        if key not in document:
            _fail(path, f"field {field!r} is missing")
        value = document[key]
        if isinstance(check, dict):
            if not isinstance(value, dict):
                _fail(path, f"field {field!r} must be an object, got {_show(value)}")
            _check_object(value, check, path, prefix=f"{field}.")
            continue
        problem = check(value)
        if problem is not None:
            _fail(path, f"field {field!r} {problem}")
    unknown = [key for key in document if key not in schema]
    if unknown:
        field = f"{prefix}{unknown[0]}"
        _fail(path, f"field {field[:60]!r} is unknown (start does not write it)")


def _no_duplicates(pairs):
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        twice = next(key for key in keys if keys.count(key) > 1)
        raise ValueError(f"the key {twice[:60]!r} appears twice in one object")
    return dict(pairs)


def _finite(text):
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"the number {text[:40]} is too large for a float")
    return value


def _no_constant(name):
    raise ValueError(f"{name} is not a JSON number")


def parse_campaign_json(data, path):
    """Parse and check the bytes of a campaign.json; return it as a dict.

    Parameters
    ----------
    data : bytes
        The content of the file.
    path : str or path-like
        The file, for messages.

    Returns
    -------
    document : dict
        The campaign's fixed description, every field checked.

    Raises
    ------
    CampaignStateError
        If the file is not one ``start`` writes; the one-line message names
        the field at fault.
    """
    if len(data) > MAX_BYTES:
        _fail(path, f"{len(data)} bytes is too large for a campaign description")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        _fail(path, f"not UTF-8 text (byte {exc.start}: {exc.reason})")
    try:
        document = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_float=_finite,
            parse_constant=_no_constant,
        )
    except RecursionError:
        _fail(path, "not a campaign description: its JSON nests too deeply")
    except ValueError as exc:  # JSONDecodeError, and the hooks above
        _fail(path, f"not valid JSON ({one_line(exc)[:200]})")
    if not isinstance(document, dict):
        _fail(path, f"must hold a JSON object, got {_show(document)}")
    if document.get("format") != CAMPAIGN_FORMAT:
        _fail(path, f"field 'format' must be {CAMPAIGN_FORMAT!r}: not a campaign")
    version = document.get("format_version")
    if version == 1:
        _fail(
            path,
            "field 'format_version' is 1: the campaign was started by an earlier "
            "sklearn-isd, whose campaign.json also held the changing state; this "
            f"version reads format_version {CAMPAIGN_FORMAT_VERSION} (finish the "
            "campaign with the version that started it)",
        )
    _check_object(document, SCHEMA, path)
    _check_together(document, path)
    return document


def _check_together(document, path):
    """Fields that must agree with each other."""
    library = document["library"]
    fmt = library.get("format", "csv")
    if fmt in TABULAR and library["smiles_col"] is None:
        _fail(path, f"field 'library.smiles_col' must name a column of a {fmt} file")
    if fmt not in TABULAR and library["smiles_col"] is not None:
        _fail(path, f"field 'library.smiles_col' must be null for a {fmt} file")
    if "sep" in library and fmt not in ("csv", "tsv"):
        _fail(path, f"field 'library.sep' applies to csv and tsv files, not {fmt}")
    outputs = document.get("outputs", ["value"])
    classes = document.get("classes")
    if classes is not None and document["task"] != "classification":
        _fail(path, "field 'classes' applies to a classification campaign only")
    if classes is not None and len(outputs) > 1 and type(classes[0]) is not int:
        _fail(path, "field 'classes' must hold class codes in a matrix campaign")
