"""The argument parser of the ``sklearn-isd`` command."""

import argparse
import math
from argparse import SUPPRESS

from .. import __version__
from ..acquisition import ACQUISITION_FUNCTIONS
from ._campaign import LOCK_TIMEOUT
from ._errors import EXIT_CODES_EPILOG
from ._models import (
    DEFAULT_MODEL,
    DEFAULT_STOPPING,
    MODEL_HELP,
    MODELS,
    STOPPING_HELP,
    STOPPING_RULES,
)


def _argtype(func):
    """An argparse type from a parser raising ValueError."""

    def parse(text):
        try:
            return func(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = func.__name__.lstrip("_")
    return parse


@_argtype
def _positive_int(text):
    value = int(text)
    if value < 1:
        raise ValueError(f"must be a positive integer, got {text}")
    return value


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


@_argtype
def _separator(text):
    value = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";"}.get(text, text)
    if len(value) != 1 or value in '\r\n"':
        raise ValueError(
            f"must be one character (or tab, comma, semicolon), got {text!r}"
        )
    return value


class _Columns(argparse.Action):
    """A repeatable option whose values may also be comma lists: a,b -> [a, b]."""

    def __call__(self, parser, namespace, values, option_string=None):
        names = [name.strip() for name in values.split(",")]
        if not all(names):
            parser.error(f"{option_string}: an empty column name in {values!r}")
        current = list(getattr(namespace, self.dest) or [])
        setattr(namespace, self.dest, current + names)


LIBRARY_HELP = (
    "the library: CSV (a header row; .tsv/.tab files are tab-separated, or "
    "choose with --sep), SMILES file (.smi: SMILES then an optional name per "
    "line), SD file (.sdf), or Parquet (.parquet, needs the data extra)"
)


def _add_library_args(parser, *, labels):
    parser.add_argument("library", metavar="LIBRARY", help=LIBRARY_HELP)
    parser.add_argument(
        "--smiles-col",
        metavar="S",
        default=None,
        help="column of the SMILES (required for CSV, TSV and Parquet; SMILES and "
        "SD files hold the structures themselves)",
    )
    if labels:
        parser.add_argument(
            "--label-col",
            required=True,
            action=_Columns,
            metavar="Y",
            help="column of the known labels, revealed as the screen asks (required)"
            "; repeat it or give a comma list for a matrix screen (one column per "
            "target, empty cells allowed)",
        )
    parser.add_argument(
        "--id-col",
        metavar="ID",
        default=None,
        help="column of unique compound ids (default: the position of the row "
        "among the data rows, 0 for the first); for an SD file, the molecule "
        "property holding them (default: the title line, _Name); a SMILES file "
        "gives the name after each SMILES",
    )
    parser.add_argument(
        "--sep",
        type=_separator,
        default=None,
        metavar="C",
        help="separator of a CSV library: one character, or tab (default: a tab "
        "for .tsv/.tab files, else a comma)",
    )
    parser.add_argument(
        "--skip-invalid",
        action="store_true",
        help="leave invalid library rows (empty or duplicate ids, empty or invalid "
        "SMILES, unreadable records, invalid labels) out of the screen and list "
        "them, instead of refusing the library (every invalid row is reported "
        "either way)",
    )
    parser.add_argument(
        "--task",
        choices=sorted(DEFAULT_MODEL),
        default="classification",
        help="classification (labels are class codes) or regression (numeric "
        "values; needs --tolerance) (default: classification)",
    )
    parser.add_argument("--model", choices=list(MODELS), default=None, help=MODEL_HELP)


# Long by design: one flat add_argument call per option, in --help order; a split
# would scatter the group (target/budget/stopping interleave with batch options).
def _add_screen_args(parser):
    """Add the options of a screen (simulate and start) to ``parser``."""
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
    group.add_argument(
        "--stopping",
        choices=list(STOPPING_RULES),
        default=DEFAULT_STOPPING,
        metavar="RULE",
        help=STOPPING_HELP + f"; one of {', '.join(STOPPING_RULES)}",
    )


COMMON = {
    "epilog": EXIT_CODES_EPILOG,
    "formatter_class": argparse.RawDescriptionHelpFormatter,
}


def _add_demo(commands):
    demo = commands.add_parser(
        "demo",
        help="run a hybrid screen on the embedded QM9 subset",
        description=(
            "Run a least-confidence hybrid screen on the embedded QM9 subset\n"
            "(10,000 molecules, ECFP4, label = HOMO-LUMO gap above the full-set\n"
            "median), print a table of rounds and the stop in words, and write\n"
            "the hybrid readout as CSV (columns index, smiles, label, source,\n"
            "round, confidence). This is `simulate` on the embedded subset, with\n"
            "LogisticRegression(C=0.5) and the KL stopping rule unless --stopping\n"
            "names another. Needs RDKit (pip install sklearn-isd[chem])."
        ),
        **COMMON,
    )
    demo.add_argument(
        "--n-molecules",
        type=_positive_int,
        default=None,
        help="screen only the first N molecules of the subset (default: all)",
    )
    demo.add_argument(
        "--batch-size",
        type=_positive_int,
        default=100,
        help="molecules measured per round (default: 100)",
    )
    demo.add_argument(
        "--target",
        type=_unit_open,
        default=0.95,
        help="system accuracy to reach, in (0, 1) (default: 0.95)",
    )
    demo.add_argument(
        "--delta",
        type=_unit_open,
        default=0.05,
        help="probability that a round's bound fails, in (0, 1) (default: 0.05)",
    )
    demo.add_argument(
        "--out",
        default="hybrid_readout.csv",
        metavar="FILE",
        help="CSV file for the readout (default: hybrid_readout.csv)",
    )
    # The first spelling of --out, kept working but no longer shown.
    demo.add_argument("--output", dest="out", default=SUPPRESS, help=SUPPRESS)
    demo.add_argument(
        "--random-state", type=int, default=0, help="seed of the screen (default: 0)"
    )
    demo.add_argument(
        "--stopping",
        choices=list(STOPPING_RULES),
        default=DEFAULT_STOPPING,
        metavar="RULE",
        help=f"the stopping rule, as for simulate; one of {', '.join(STOPPING_RULES)} "
        f"(default: {DEFAULT_STOPPING})",
    )
    _add_progress_arg(demo)


def _add_progress_arg(parser):
    parser.add_argument(
        "--no-progress", action="store_true", help="do not show a progress bar"
    )


def _add_lock_arg(parser):
    parser.add_argument(
        "--lock-timeout",
        type=_non_negative,
        default=LOCK_TIMEOUT,
        metavar="SECONDS",
        help="how long to wait for another sklearn-isd command working on the "
        "campaign before giving up with exit code 4, nothing written (default: "
        f"{LOCK_TIMEOUT:g})",
    )


def _add_simulate(commands):
    simulate = commands.add_parser(
        "simulate",
        help="run a whole simulated screen on a library with known labels",
        description=(
            "Featurize the SMILES of LIBRARY (ECFP4, 2048 bits), run a whole\n"
            "hybrid screen in which the labels are revealed from --label-col as the\n"
            "screen asks for them, print the table of rounds, and write to --out:\n"
            "readout.csv (id, smiles, value, true_value, source, round, confidence;\n"
            "a matrix screen has value_<col> and true_value_<col> per label column),\n"
            "history.csv (one row per round, with the true system score),\n"
            "screen.png (skipped with a note without matplotlib) and report.html\n"
            "(one self-contained page: plots, rounds, provenance, applicability\n"
            "domain, and the stop decision against the true accuracy)."
        ),
        **COMMON,
    )
    _add_library_args(simulate, labels=True)
    _add_screen_args(simulate)
    simulate.add_argument(
        "--out", required=True, metavar="DIR", help="folder for the outputs (created)"
    )
    _add_progress_arg(simulate)


def _add_start(commands):
    start = commands.add_parser(
        "start",
        help="start a campaign and write the first batch to measure",
        description=(
            "Create CAMPAIGN_DIR with a copy of the library (later commands need\n"
            "only the directory), campaign.json (what the campaign fixes: library,\n"
            "columns, task, model, screen options; written once), the screen's state\n"
            "campaign.isd.npz (the one file later commands change), and the first\n"
            "batch to measure, batch_000.csv (columns id, smiles, round; drawn at\n"
            "random, as no model exists yet). Refuses an existing campaign: --out\n"
            "must not exist or be an empty directory (or an interrupted start,\n"
            "which is done again).\n\n"
            "Every invalid library row is reported in one error; with\n"
            "--skip-invalid they are left out and listed in skipped.csv, status and\n"
            "the report. --classes declares the class labels (tell then refuses any\n"
            "other); several --value-col make a matrix campaign (one results column\n"
            "per target, a multi-output model, empty cells allowed)."
        ),
        **COMMON,
    )
    _add_library_args(start, labels=False)
    start.add_argument(
        "--classes",
        action=_Columns,
        default=None,
        metavar="C1,C2,...",
        help="classification: the class labels of the campaign, a comma list (or "
        "repeated), e.g. 0,1 or inactive,active; tell refuses results naming "
        "another class (default: any integer class code, the classes seen are "
        "shown by status)",
    )
    start.add_argument(
        "--value-col",
        action=_Columns,
        default=None,
        metavar="V",
        help="the results column(s) tell reads by default; repeat it or give a "
        "comma list for a matrix campaign, one column per target (default: value)",
    )
    _add_screen_args(start)
    start.add_argument(
        "--out",
        required=True,
        metavar="CAMPAIGN_DIR",
        help="the campaign directory to create",
    )
    _add_lock_arg(start)


def _add_tell(commands):
    tell = commands.add_parser(
        "tell",
        help="ingest the measured labels of the pending batch",
        description=(
            "Validate RESULTS.csv against the pending batch, then record the labels,\n"
            "refit the model, update the lower bound on the system accuracy and\n"
            "either write the next batch (batch_NNN.csv) or say that the screen\n"
            "stopped (see `sklearn-isd status`). The campaign changes in one atomic\n"
            "rename of campaign.isd.npz, which also logs the results file.\n\n"
            "Everything is checked before anything is written: unknown or empty\n"
            "ids, duplicates, ids outside the pending batch, missing values (empty,\n"
            "NA, NaN), non-numeric or non-finite values, values above 1e150 in\n"
            "magnitude (their squared error would overflow), and, for\n"
            "classification, values that are neither an integer class code (a\n"
            "64-bit integer) nor a class used so far.\n"
            "Problems are listed with their row in RESULTS.csv (the header is row\n"
            "1), and the campaign is left untouched (exit code 2).\n\n"
            "The batch file itself, with a value column added, is a valid RESULTS.csv."
        ),
        **COMMON,
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
        action=_Columns,
        default=None,
        metavar="V",
        help="column(s) of the measured values, one per output of the campaign, in "
        "its order (default: the --value-col given to start, or value)",
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
    _add_batch_out_arg(tell)
    _add_lock_arg(tell)


def _add_batch_out_arg(parser):
    parser.add_argument(
        "--out",
        metavar="FILE",
        default=None,
        help="also write the next batch to FILE (a copy of the campaign's "
        "batch_NNN.csv, e.g. for the plate reader's folder)",
    )


def _add_extend(commands):
    extend = commands.add_parser(
        "extend",
        help="raise the target or budget of a stopped campaign",
        description=(
            "Go on with a campaign that stopped: raise its --target (the lower\n"
            "bound must pass the new one) and/or its --max-fraction (the budget),\n"
            "then write the next batch to measure, as tell does. The change is\n"
            "one atomic rename of campaign.isd.npz under the campaign's lock,\n"
            "logged in it (campaign.json keeps what start fixed). A target or\n"
            "budget can only be raised; a campaign that reached its target needs\n"
            "a higher --target, one that spent its budget a higher --max-fraction."
        ),
        **COMMON,
    )
    extend.add_argument(
        "campaign", metavar="CAMPAIGN_DIR", help="the campaign directory"
    )
    extend.add_argument(
        "--target",
        type=_unit_open,
        default=None,
        help="the new system accuracy to reach, above the current target, in (0, 1)",
    )
    extend.add_argument(
        "--max-fraction",
        type=_unit_right,
        default=None,
        metavar="F",
        help="the new budget, a fraction of the library above the current one, in "
        "(0, 1]",
    )
    _add_batch_out_arg(extend)
    _add_lock_arg(extend)


def _add_status(commands):
    status = commands.add_parser(
        "status",
        help="say where a campaign stands and which batch to measure",
        description=(
            "Print the status of a campaign (awaiting results, or stopped and why),\n"
            "its round, how many compounds are measured, the lower bound on the\n"
            "system accuracy and its target, and the pending batch file with the\n"
            "number of its compounds still to measure. Reads the campaign file\n"
            "without refitting the model; if the pending batch file is missing,\n"
            "writes it again (the only write, under the campaign's lock)."
        ),
        **COMMON,
    )
    status.add_argument(
        "campaign", metavar="CAMPAIGN_DIR", help="the campaign directory"
    )
    status.add_argument(
        "--json", action="store_true", help="print the status as a JSON object"
    )
    status.add_argument(
        "--out",
        metavar="FILE",
        default=None,
        help="write the status (text, or JSON with --json) to FILE instead of "
        "printing it",
    )
    _add_lock_arg(status)


def _add_report(commands):
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
            "n_members, n_measured, fraction_measured, mean_confidence_predicted),\n"
            "screen.png, skipped.csv (library rows left out at start, if any) and\n"
            "report.html: one self-contained page to mail (plots inline, the table\n"
            "of rounds, provenance with versions, files and hashes, the\n"
            "applicability domain, and the stop decision in words). The campaign\n"
            "itself is not changed."
        ),
        **COMMON,
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


def add_commands(commands):
    """Add the simulate, start, tell, extend, status and report subcommands."""
    for add in (
        _add_simulate,
        _add_start,
        _add_tell,
        _add_extend,
        _add_status,
        _add_report,
    ):
        add(commands)


def build_parser():
    """The argument parser of the ``sklearn-isd`` command."""
    parser = argparse.ArgumentParser(
        prog="sklearn-isd",
        description="Hybrid screens by inference set design.",
        epilog=EXIT_CODES_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    _add_demo(commands)
    add_commands(commands)
    return parser
