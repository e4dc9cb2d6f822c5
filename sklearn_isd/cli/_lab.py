"""The lab subcommands: start a campaign, and tell it measured results.

Both validate everything before they write, and write under the campaign's
lock, in an order that leaves a consistent campaign wherever they are
killed: derived files first (the library copy, campaign.json, the batch
file), the campaign file last (:func:`~._campaign.commit`, one rename).
"""

import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import __version__
from ..utils._display import format_header, format_round
from ..utils._files import atomic_write
from ._campaign import (
    CAMPAIGN_JSON,
    SKIPPED_FILE,
    campaign_lock,
    commit,
    ensure_batch_file,
    existing_campaign,
    known_classes,
    library_copy_name,
    load_campaign,
    log_entry,
    read_meta,
    reopen,
    write_batch,
)
from ._errors import (
    EXIT_OK,
    CampaignStateError,
    InputError,
    problems_error,
    screen_errors,
)
from ._inputs import (
    FEATURIZER,
    parse_class,
    parse_csv,
    read_bytes,
    results_sep,
    sha256_of,
)
from ._library import TABULAR, default_sep, library_format, read_library
from ._models import (
    DEFAULT_STOPPING,
    build_screen,
    make_model,
    make_stopping,
    screen_options,
)
from ._outputs import fmt, json_value, now, write_json, write_rows
from ._results import validate_results
from ._schema import CAMPAIGN_FORMAT, CAMPAIGN_FORMAT_VERSION

#: Columns of skipped.csv: the library rows left out at start.
SKIPPED_COLUMNS = ["row", "id", "smiles", "problem"]
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: Why a screen stopped, in words, by termination condition.
STOP_REASONS = {
    "target_reached": "the lower bound on the system accuracy passed the target",
    "max_fraction": "the measurement budget (max_fraction) is spent",
    "all_acquired": "every compound of the library is measured",
}


# --------------------------------------------------------------------------
# start
# --------------------------------------------------------------------------
def cmd_start(args):
    """Create a campaign directory and write its first batch."""
    out = Path(args.out)
    _refuse_existing(out)
    outputs = args.value_col or ["value"]
    classes = parse_declared_classes(args.classes, args.task, len(outputs))
    options = screen_options(args, len(outputs))
    model, estimator = make_model(args.model, args.task, len(outputs))
    library = read_campaign_library(args)
    screen = build_screen(estimator, options, args.stopping)
    with screen_errors():
        batch = screen.ask(library.X)
    meta = _description(args, library, model, estimator, options, classes, outputs)
    if out.exists() and not out.is_dir():
        _refuse_existing(out)
    out.mkdir(parents=True, exist_ok=True)
    with campaign_lock(out, args.lock_timeout):
        _refuse_existing(out)  # again: another start may have won the race
        write_json(out / CAMPAIGN_JSON, meta)  # first: marks the folder as ours
        copy = meta["library"]["file"]
        atomic_write(out / copy, lambda h: h.write(library.data), binary=True)
        if library.skipped_rows:
            write_skipped(out / SKIPPED_FILE, library.skipped_rows)
        batch_file = write_batch(out, screen.n_iter_, library, batch)
        commit(out, screen, [])  # the campaign exists from here on
    print(_skipped_note(library, out / SKIPPED_FILE), end="")
    columns = ", ".join(outputs)
    print(
        f"Campaign started in {out}: {len(library)} compounds, model {model}, "
        f"stopping rule {args.stopping}, target {args.target}.\n"
        f"Measure the {batch.size} compounds of {out / batch_file}, then run:\n"
        f"  sklearn-isd tell {out} RESULTS.csv\n"
        f"with RESULTS.csv holding the columns id and {columns} (the batch file with "
        f"{'those columns' if len(outputs) > 1 else 'a ' + columns + ' column'} "
        "added will do)."
    )
    return EXIT_OK


def read_campaign_library(args, label_cols=()):
    """Read, check and featurize the library of start or simulate."""
    fmt, sep = library_format(args.library, args.sep)
    if fmt in TABULAR and args.smiles_col is None:
        raise InputError(
            f"--smiles-col is required for a {fmt} library: name the column of "
            "the SMILES."
        )
    if fmt not in TABULAR and args.smiles_col is not None:
        raise InputError(
            f"--smiles-col does not apply to a {fmt} library: its structures are "
            "read from the file itself."
        )
    return read_library(
        args.library,
        fmt=fmt,
        sep=sep,
        smiles_col=args.smiles_col,
        id_col=args.id_col,
        label_cols=label_cols,
        task=args.task,
        skip_invalid=args.skip_invalid,
    )


def _skipped_note(library, listing=None):
    """A note on the rows --skip-invalid left out ("" if none)."""
    rows = library.skipped_rows
    if not rows:
        return ""
    shown = ", ".join(where for where, *_ in rows[:10])
    more = f" and {len(rows) - 10} more" if len(rows) > 10 else ""
    where = f" (listed in {listing})" if listing is not None else ""
    return f"Skipped {len(rows)} invalid library row(s){where}: {shown}{more}.\n"


def write_skipped(path, rows):
    """Write the library rows left out: row, id, smiles, problem."""
    return write_rows(path, SKIPPED_COLUMNS, rows)


def parse_declared_classes(texts, task, n_outputs):
    """The class labels of ``start --classes``: int codes, or names; None."""
    if texts is None:
        return None
    if task != "classification":
        raise InputError("--classes applies to --task classification only.")
    if len(set(texts)) != len(texts):
        twice = next(c for c in texts if texts.count(c) > 1)
        raise InputError(f"--classes names {twice!r} twice.")
    if len(texts) < 2:
        raise InputError(
            f"--classes needs at least 2 class labels, got {texts}: a "
            "classification has two classes or more."
        )
    codes = [_class_code(text) for text in texts]
    if all(code is not None for code in codes):
        if len(set(codes)) != len(codes):
            raise InputError(f"--classes names one class code twice: {texts}.")
        return codes
    if n_outputs > 1:
        raise InputError(
            "--classes of a matrix campaign must be integer class codes (the "
            f"labels of a matrix screen are numbers), got {texts}."
        )
    bad = [text for text in texts if _CONTROL.search(text) or len(text) > 200]
    if bad:
        raise InputError(f"--classes: {bad[0][:40]!r} is not a printable class name.")
    return list(texts)


def _class_code(text):
    value, problem = parse_class(text, ())
    return None if problem is not None else int(value)


def _refuse_existing(out):
    why = existing_campaign(out)
    if why is not None:
        raise CampaignStateError(
            f"{why}; refusing to overwrite (choose another --out, or remove it "
            "yourself)."
        )


def _description(args, library, model, estimator, options, classes, outputs):
    """campaign.json: what the campaign fixes at its start (see _schema)."""
    source = re.sub(r"[\x00-\x1f\x7f]", "?", str(library.path.resolve()))[:4096]
    lib = {
        "file": library_copy_name(library.path),
        "source": source,
        "sha256": library.sha256,
        "n_compounds": len(library),
        "smiles_col": args.smiles_col,
        "id_col": args.id_col,
    }
    # Optional fields (see _schema), written when they are not the default.
    if library.format != "csv":
        lib["format"] = library.format
    if library.sep is not None and library.sep != default_sep(library.format):
        lib["sep"] = library.sep
    if library.skipped:
        lib["skipped"] = library.skipped
    meta = {
        "format": CAMPAIGN_FORMAT,
        "format_version": CAMPAIGN_FORMAT_VERSION,
        "sklearn_isd_version": __version__,
        "created": now(),
        "library": lib,
        "featurizer": FEATURIZER,
        "task": args.task,
        "model": model,
        "estimator": repr(estimator),
        "screen": options,
    }
    if classes is not None:
        meta["classes"] = classes
    if args.stopping != DEFAULT_STOPPING:
        meta["stopping"] = args.stopping
    if outputs != ["value"]:
        meta["outputs"] = outputs
    return meta


# --------------------------------------------------------------------------
# tell
# --------------------------------------------------------------------------
@dataclass
class _Told:
    """What a tell did, for its printout."""

    n_labels: int
    n_pending: int
    batch: np.ndarray | None
    batch_file: str | None


def cmd_tell(args):
    """Validate a results file, record its labels and write the next batch."""
    meta = read_meta(args.campaign)  # a campaign, before its lock file is created
    outputs = meta.get("outputs", ["value"])
    value_cols = args.value_col or outputs
    if len(value_cols) != len(outputs):
        raise InputError(
            f"--value-col names {len(value_cols)} column(s) ({', '.join(value_cols)}"
            f"), but the campaign has {len(outputs)} output(s) "
            f"({', '.join(outputs)}): give one column per output, in that order."
        )
    data = read_bytes(args.results, "Results")
    columns = list(dict.fromkeys([args.id_col, *value_cols]))
    records = [
        (row, {"id": rec[args.id_col], "values": [rec[c] for c in value_cols]})
        for row, rec in parse_csv(
            data, args.results, columns, "Results", results_sep(args.results)
        )
    ]
    with campaign_lock(args.campaign, args.lock_timeout):
        campaign = load_campaign(args.campaign)
        told = _tell(campaign, args, records, sha256_of(data))
    _print_told(campaign, told)
    return EXIT_OK


def _tell(campaign, args, records, results_sha256):
    """Validate, tell the screen, write the next batch, then commit."""
    screen = campaign.screen
    if screen.stop_:
        raise CampaignStateError(
            f"The campaign has stopped ({screen.termination_condition_}): there is "
            f"no batch to tell. Write its readout with `sklearn-isd report "
            f"{campaign.directory}`, or go on with `sklearn-isd extend "
            f"{campaign.directory} --target ... --max-fraction ...`."
        )
    pending = campaign.pending  # the batch stored in the campaign
    ensure_batch_file(campaign, pending)
    indices, labels, problems = validate_results(
        records, campaign, pending, args.partial
    )
    if problems:
        raise problems_error(
            InputError,
            f"{args.results}: {len(problems)} problem(s), nothing was written",
            problems,
        )
    labels = label_array(campaign, labels)
    classification = campaign.meta["task"] == "classification"
    declared = campaign.meta.get("classes")
    if classification and declared is None and screen.observed_mask_.any():
        seen = labels[~np.isnan(labels)] if labels.ndim == 2 else labels
        new = sorted(set(seen.astype(np.int64).tolist()) - set(known_classes(screen)))
        if new:
            print(f"Note: new class code(s) {new} in this batch.", file=sys.stderr)
    round_ = screen.n_iter_
    with screen_errors():
        screen.tell(np.asarray(indices, dtype=np.intp), labels)
        batch = None if screen.stop_ else screen.ask()
    entry = log_entry(round_, args.results, results_sha256, len(indices), pending.size)
    batch_file = _commit_with_batch(
        campaign, screen, batch, [*campaign.log, entry], campaign.extensions, args.out
    )
    return _Told(len(indices), int(pending.size), batch, batch_file)


def label_array(campaign, labels):
    """The told labels as the screen takes them: codes, names or values."""
    if campaign.matrix:
        return np.asarray(labels, dtype=float)
    if campaign.meta["task"] == "regression":
        return np.asarray(labels, dtype=float)
    declared = campaign.meta.get("classes")
    if declared is not None and isinstance(declared[0], str):
        return np.asarray(labels, dtype=str)
    return np.asarray(labels, dtype=np.int64)


def _commit_with_batch(campaign, screen, batch, log, extensions, out=None):
    """Write the next batch file (and its --out copy), then commit.

    The batch file of a round that did not happen (the commit failed) is
    removed again, and so is the copy.
    """
    batch_file = None
    written = []
    try:
        if batch is not None and batch.size:  # derived: written before the commit
            batch_file = write_batch(
                campaign.directory, screen.n_iter_, campaign.library, batch
            )
            written.append(campaign.directory / batch_file)
            if out is not None:
                written.append(_copy_batch(campaign.directory / batch_file, Path(out)))
        commit(campaign.directory, screen, log, extensions)
    except BaseException:
        for path in written:  # the files of a round that did not happen
            path.unlink(missing_ok=True)
        raise
    return batch_file


def _copy_batch(source, out):
    """Copy the batch file to ``--out`` (a user's file: an OSError is exit 2)."""
    data = source.read_bytes()
    return atomic_write(out, lambda h: h.write(data), binary=True)


# --------------------------------------------------------------------------
# extend
# --------------------------------------------------------------------------
def cmd_extend(args):
    """Raise the target or budget of a stopped campaign; write the next batch."""
    if args.target is None and args.max_fraction is None:
        raise InputError(
            "extend needs --target (a higher system accuracy to reach) and/or "
            "--max-fraction (a larger budget)."
        )
    read_meta(args.campaign)  # a campaign, before its lock file is created
    with campaign_lock(args.campaign, args.lock_timeout):
        campaign = load_campaign(args.campaign)
        screen, batch_file = _extend(campaign, args)
    print(
        f"Campaign {campaign.directory} extended: target {screen.target}, budget "
        f"max_fraction {screen.max_fraction}.\n"
        f"Next batch (round {screen.n_iter_}): measure the "
        f"{screen.ask().size} compounds of {campaign.directory / batch_file}, "
        f"then run: sklearn-isd tell {campaign.directory} RESULTS.csv"
    )
    return EXIT_OK


def _extend(campaign, args):
    """Check the new target and budget, reopen the screen, write, commit."""
    screen = campaign.screen
    condition = screen.termination_condition_
    target, max_fraction = _extension_limits(screen, args)
    before = {"target": screen.target, "max_fraction": screen.max_fraction}
    name = campaign.meta.get("stopping", DEFAULT_STOPPING)
    stopping = make_stopping(name, target, screen.delta)
    reopened = reopen(
        campaign, target=target, max_fraction=max_fraction, stopping=stopping
    )
    with screen_errors():
        batch = np.empty(0, dtype=np.intp) if reopened.stop_ else reopened.ask()
    if not batch.size:
        raise InputError(
            f"--max-fraction {max_fraction} leaves no compound to measure (one "
            "batch needs more of the library); raise it further."
        )
    entry = {
        "round": int(reopened.n_iter_),
        "from_target": json_value(before["target"]),
        "from_max_fraction": json_value(before["max_fraction"]),
        "target": json_value(target),
        "max_fraction": json_value(max_fraction),
        "after": condition,
        "extended": now(),
    }
    extensions = [*campaign.extensions, entry]
    batch_file = _commit_with_batch(
        campaign, reopened, batch, campaign.log, extensions, args.out
    )
    return reopened, batch_file


def _extension_limits(screen, args):
    """The new target and budget of a stopped screen, checked.

    Parameters
    ----------
    screen : HybridScreenCV
        The campaign's screen, as stopped.
    args : argparse.Namespace
        ``--target`` and ``--max-fraction`` (None: unchanged).

    Returns
    -------
    target, max_fraction : float

    Raises
    ------
    CampaignStateError
        The screen has not stopped, or measured every compound.
    InputError
        A value lowers the target or budget, or would stop the screen again
        at once.
    """
    condition = screen.termination_condition_
    if not screen.stop_:
        raise CampaignStateError(
            f"The campaign has not stopped (awaiting results for round "
            f"{screen.n_iter_}): extend goes on with a stopped campaign. Tell "
            "the pending batch first."
        )
    if condition == "all_acquired":
        raise CampaignStateError(
            "Every compound of the library is measured: there is nothing left to "
            "measure, and the readout is exact."
        )
    target = screen.target if args.target is None else args.target
    max_fraction = (
        screen.max_fraction if args.max_fraction is None else (args.max_fraction)
    )
    if target < screen.target:
        raise InputError(
            f"--target {target} is below the campaign's target {screen.target}: "
            "extend only raises a target (a lower one would have stopped the "
            "screen earlier; start a new campaign for it)."
        )
    if max_fraction < screen.max_fraction:
        raise InputError(
            f"--max-fraction {max_fraction} is below the campaign's budget "
            f"{screen.max_fraction}: extend only raises the budget."
        )
    _check_target_goes_on(screen, target)
    _check_budget_goes_on(screen, max_fraction)
    return target, max_fraction


def _check_target_goes_on(screen, target):
    """Refuse a target the screen's lower bound passes already.

    Parameters
    ----------
    screen : HybridScreenCV
        The campaign's screen, as stopped.
    target : float
        The new target.
    """
    bound = float(screen.history_["system_lower_bound"][-1])
    reached = screen.termination_condition_ == "target_reached"
    if reached and not target > screen.target:
        raise InputError(
            f"The campaign reached its target {screen.target} (lower bound "
            f"{bound:.4f}): a larger budget alone would stop it again at once; "
            "raise --target."
        )
    if bound == bound and target <= bound:
        raise InputError(
            f"The lower bound {bound:.4f} already passes --target {target}: the "
            f"screen would stop again at once; choose a target above {bound:.4f}."
        )


def _check_budget_goes_on(screen, max_fraction):
    """Refuse a budget the screen has spent already.

    Parameters
    ----------
    screen : HybridScreenCV
        The campaign's screen, as stopped.
    max_fraction : float
        The new budget.
    """
    fraction = float(screen.observed_mask_.mean())
    spent = screen.termination_condition_ == "max_fraction"
    if spent and not max_fraction > screen.max_fraction:
        raise InputError(
            f"The campaign spent its budget (max_fraction {screen.max_fraction}, "
            f"{fraction:.1%} of the library measured): raise --max-fraction too."
        )
    if max_fraction <= fraction:
        raise InputError(
            f"--max-fraction {max_fraction} is not above the {fraction:.4f} of the "
            "library measured already: there would be nothing to measure."
        )


def _print_told(campaign, told):
    screen, directory = campaign.screen, campaign.directory
    h = screen.history_
    bound = json_value(h["system_lower_bound"][-1])
    print(format_header(h))
    print(format_round(h, len(h["n_observed"]) - 1))
    print(
        f"System accuracy lower bound: {fmt(bound, '.4f') or '-'} (target "
        f"{screen.target}, delta {screen.delta}); {int(screen.observed_mask_.sum())}"
        f" of {len(campaign.library)} compounds measured."
    )
    if told.n_labels < told.n_pending:
        print(
            f"Partial batch: {told.n_labels} of {told.n_pending} compounds told; "
            "the others stay pending and make up the next batch file. The "
            "stopping bound assumes full batches."
        )
    condition = screen.termination_condition_
    if condition == "target_reached":
        print(
            f"Target reached: the lower bound {bound:.4f} is above {screen.target}. "
            f"Stop measuring; write the hybrid readout with: sklearn-isd report "
            f"{directory}"
        )
    elif condition is not None:
        why = STOP_REASONS.get(condition, condition)
        if condition == "max_fraction":
            why = (
                f"the measurement budget (max_fraction {screen.max_fraction}) is spent"
            )
        print(
            f"Screen stopped: {why}, target not reached. Write the readout with: "
            f"sklearn-isd report {directory}"
        )
    else:
        print(
            f"Next batch (round {screen.n_iter_}): measure the {told.batch.size} "
            f"compounds of {directory / told.batch_file}"
        )
