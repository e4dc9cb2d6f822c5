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
    LIBRARY_COPY,
    campaign_lock,
    commit,
    ensure_batch_file,
    existing_campaign,
    known_classes,
    load_campaign,
    log_entry,
    read_meta,
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
    featurize,
    parse_csv,
    read_bytes,
    read_library,
    sha256_of,
)
from ._models import build_screen, make_model, screen_options
from ._outputs import fmt, json_value, now, write_json
from ._results import validate_results
from ._schema import CAMPAIGN_FORMAT, CAMPAIGN_FORMAT_VERSION

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
    options = screen_options(args)
    model, estimator = make_model(args.model, args.task)
    library = read_library(args.library, args.smiles_col, args.id_col)
    X = featurize(library)
    screen = build_screen(estimator, options)
    with screen_errors():
        batch = screen.ask(X)
    meta = _description(args, library, model, estimator, options)
    if out.exists() and not out.is_dir():
        _refuse_existing(out)
    out.mkdir(parents=True, exist_ok=True)
    with campaign_lock(out, args.lock_timeout):
        _refuse_existing(out)  # again: another start may have won the race
        write_json(out / CAMPAIGN_JSON, meta)  # first: marks the folder as ours
        atomic_write(out / LIBRARY_COPY, lambda h: h.write(library.data), binary=True)
        batch_file = write_batch(out, screen.n_iter_, library, batch)
        commit(out, screen, [])  # the campaign exists from here on
    print(
        f"Campaign started in {out}: {len(library)} compounds, model {model}, "
        f"target {args.target}.\n"
        f"Measure the {batch.size} compounds of {out / batch_file}, then run:\n"
        f"  sklearn-isd tell {out} RESULTS.csv\n"
        "with RESULTS.csv holding the columns id and value (the batch file with a "
        "value column added will do)."
    )
    return EXIT_OK


def _refuse_existing(out):
    why = existing_campaign(out)
    if why is not None:
        raise CampaignStateError(
            f"{why}; refusing to overwrite (choose another --out, or remove it "
            "yourself)."
        )


def _description(args, library, model, estimator, options):
    """campaign.json: what the campaign fixes at its start (see _schema)."""
    source = re.sub(r"[\x00-\x1f\x7f]", "?", str(library.path.resolve()))[:4096]
    return {
        "format": CAMPAIGN_FORMAT,
        "format_version": CAMPAIGN_FORMAT_VERSION,
        "sklearn_isd_version": __version__,
        "created": now(),
        "library": {
            "file": LIBRARY_COPY,
            "source": source,
            "sha256": library.sha256,
            "n_compounds": len(library),
            "smiles_col": args.smiles_col,
            "id_col": args.id_col,
        },
        "featurizer": FEATURIZER,
        "task": args.task,
        "model": model,
        "estimator": repr(estimator),
        "screen": options,
    }


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
    read_meta(args.campaign)  # a campaign, before its lock file is created
    data = read_bytes(args.results, "Results")
    columns = [args.id_col, args.value_col]
    records = [
        (row, {"id": rec[args.id_col], "value": rec[args.value_col]})
        for row, rec in parse_csv(data, args.results, columns, "Results")
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
            f"{campaign.directory}`."
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
    classification = campaign.meta["task"] == "classification"
    labels = np.asarray(labels, dtype=np.int64 if classification else float)
    if classification and screen.observed_mask_.any():
        new = sorted(set(labels.tolist()) - set(known_classes(screen)))
        if new:
            print(f"Note: new class code(s) {new} in this batch.", file=sys.stderr)
    round_ = screen.n_iter_
    with screen_errors():
        screen.tell(np.asarray(indices, dtype=np.intp), labels)
        batch = None if screen.stop_ else screen.ask()
    batch_file = None
    if batch is not None and batch.size:  # derived: written before the commit
        batch_file = write_batch(
            campaign.directory, screen.n_iter_, campaign.library, batch
        )
    entry = log_entry(round_, args.results, results_sha256, len(indices), pending.size)
    try:
        commit(campaign.directory, screen, [*campaign.log, entry])
    except BaseException:
        if batch_file is not None:  # the batch of a round that did not happen
            (campaign.directory / batch_file).unlink(missing_ok=True)
        raise
    return _Told(len(indices), int(pending.size), batch, batch_file)


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
