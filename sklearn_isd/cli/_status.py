"""The status subcommand: where a campaign stands, read without a refit."""

import json
from pathlib import Path

import numpy as np

from ..utils._files import atomic_write
from ._campaign import (
    SKIPPED_FILE,
    batch_name,
    campaign_lock,
    confined,
    ensure_batch_file,
    load_campaign,
    measured_labels,
    status_of,
)
from ._errors import EXIT_OK, CampaignStateError, InputError
from ._inputs import read_csv
from ._lab import STOP_REASONS
from ._models import DEFAULT_STOPPING
from ._outputs import fmt, json_value, nan_if_none, plain


def cmd_status(args):
    """Print the status of a campaign (text, or JSON with --json)."""
    campaign = load_campaign(args.campaign, library=False)
    info = status_info(campaign)
    if info["pending_batch"] is not None and info["n_pending"] is None:
        _write_missing_batch(campaign.directory, args.lock_timeout)
        info = status_info(campaign)
        info["batch_file_rewritten"] = True
    text = json.dumps(info, indent=2) if args.json else _describe(info)
    if args.out is None:
        print(text)
    else:
        atomic_write(args.out, lambda h: h.write(text + "\n"))
        print(f"Status of {campaign.directory} written to {args.out}.")
    return EXIT_OK


def status_info(campaign):
    """The status of a loaded campaign as a JSON-ready dict.

    Everything comes from the campaign file (loaded without the library,
    so nothing is featurized or refit) and from the pending batch's file.
    """
    screen = campaign.screen
    history = screen.history_
    bounds = history["system_lower_bound"]
    pending_batch = None if screen.stop_ else batch_name(screen.n_iter_)
    return {
        "campaign": str(campaign.directory),
        "status": status_of(screen),
        "round": int(screen.n_iter_),
        "n_measured": int(screen.observed_mask_.sum()),
        "n_compounds": int(screen.observed_mask_.shape[0]),
        "system_lower_bound": json_value(bounds[-1]) if len(bounds) else None,
        "target": json_value(screen.target),
        "delta": json_value(screen.delta),
        "pending_batch": pending_batch,
        "n_pending": _n_pending(campaign, pending_batch),
        "n_results_files": len(campaign.log),
        "stopping": campaign.meta.get("stopping", DEFAULT_STOPPING),
        "max_fraction": json_value(screen.max_fraction),
        "outputs": campaign.outputs,
        "classes": campaign.meta.get("classes"),
        "classes_seen": _classes_seen(campaign),
        "skipped": _skipped(campaign),
        "extensions": campaign.extensions,
    }


def _skipped(campaign):
    """The rows start left out, with their problems.

    Status reads no SMILES, so the problem of a row skipped for its SMILES
    is taken from skipped.csv (written by start) when it is there.
    """
    rows = campaign.library.skipped_rows
    if not rows:
        return []
    listed = {}
    path = confined(campaign.directory, SKIPPED_FILE, "The list of skipped rows")
    if path.is_file():
        try:
            records = read_csv(path, ["row", "problem"], "The list of skipped rows")
            listed = {rec["row"]: rec["problem"] for _, rec in records}
        except InputError:
            listed = {}  # a derived listing: unreadable, it is not used
    return [
        {"row": where, "id": cid, "problem": listed.get(where) or problem}
        for where, cid, _, problem in rows
    ]


def _classes_seen(campaign):
    """The class labels measured so far (classification), from the campaign file."""
    if campaign.meta["task"] != "classification":
        return None
    labels = measured_labels(campaign.directory)
    if labels is None:
        return []
    labels = np.asarray(labels)
    if labels.ndim == 2:  # a matrix campaign: codes, NaN for a cell without label
        labels = labels[~np.isnan(labels)].astype(np.int64)
    return [plain(c) for c in np.unique(labels)]


def _n_pending(campaign, name):
    """Compounds of the batch file not measured yet; None if it is missing."""
    if name is None:
        return 0
    path = confined(campaign.directory, name, "The batch file")
    if not path.exists():
        return None
    try:
        records = read_csv(path, ["id"], "The batch file")
    except InputError as exc:
        raise CampaignStateError(
            f"{exc} Remove it: `sklearn-isd status` writes it again."
        ) from None
    position = {cid: i for i, cid in enumerate(campaign.library.ids)}
    measured = campaign.screen.observed_mask_
    return sum(
        1
        for _, rec in records
        if rec["id"] in position and not measured[position[rec["id"]]]
    )


def _write_missing_batch(directory, timeout):
    """Write the pending batch's missing file (needs the library: a refit)."""
    with campaign_lock(directory, timeout):
        campaign = load_campaign(directory)
        ensure_batch_file(campaign, campaign.pending)


def _describe(info):
    """The status in words: one line per fact, for the terminal.

    Parameters
    ----------
    info : dict
        What :func:`status_info` returns.

    Returns
    -------
    text : str
    """
    directory = Path(info["campaign"])
    lines = _summary_lines(info, directory)
    if len(info["outputs"]) > 1:
        lines.append(
            f"Outputs (results columns): {', '.join(info['outputs'])}; an empty "
            "cell is a target without a label."
        )
    lines += _class_lines(info)
    lines += [_extension_line(extension) for extension in info["extensions"]]
    lines += _skipped_lines(info["skipped"], directory)
    lines.append(_pending_line(info, directory))
    return "\n".join(lines)


def _summary_lines(info, directory):
    """The state, what was measured, and the bound against the target.

    Parameters
    ----------
    info : dict
        What :func:`status_info` returns.
    directory : Path
        The campaign folder.

    Returns
    -------
    lines : list of str
    """
    if info["status"] == "awaiting_results":
        state = f"awaiting results for round {info['round']}"
    else:
        reason = STOP_REASONS.get(info["status"], info["status"])
        state = f"stopped, {info['status']} ({reason})"
    n, n_measured = info["n_compounds"], info["n_measured"]
    bound = fmt(nan_if_none(info["system_lower_bound"]), ".4f") or "-"
    return [
        f"Campaign {directory}: {state}.",
        f"Measured: {n_measured} of {n} compounds ({n_measured / n:.1%}) in "
        f"{info['round']} round(s); {info['n_results_files']} results file(s) told.",
        f"System accuracy lower bound: {bound} (target {info['target']}, delta "
        f"{info['delta']}; stopping rule {info['stopping']}, budget max_fraction "
        f"{info['max_fraction']}).",
    ]


def _class_lines(info):
    """The classes declared and those measured so far (classification only).

    Parameters
    ----------
    info : dict
        What :func:`status_info` returns.

    Returns
    -------
    lines : list of str
        One line, or none for a regression.
    """
    if info["classes"] is not None:
        seen = ", ".join(map(str, info["classes_seen"])) or "none yet"
        return [
            f"Classes (declared at start): {', '.join(map(str, info['classes']))}; "
            f"measured so far: {seen}."
        ]
    if info["classes_seen"] is not None:
        seen = ", ".join(map(str, info["classes_seen"])) or "none yet"
        return [
            f"Classes seen so far: {seen} (no classes were declared: tell accepts "
            "any integer class code; start --classes declares them)."
        ]
    return []


def _extension_line(extension):
    """One extension of the campaign, in words.

    Parameters
    ----------
    extension : dict
        An entry of the campaign's extensions.

    Returns
    -------
    line : str
    """
    return (
        f"Extended at round {extension.get('round', '?')}: target "
        f"{extension.get('from_target', '?')} -> {extension['target']}, "
        f"max_fraction {extension.get('from_max_fraction', '?')} -> "
        f"{extension['max_fraction']}."
    )


def _skipped_lines(skipped, directory):
    """The library rows the start left out (the first ten of them).

    Parameters
    ----------
    skipped : list of dict
        The rows left out.
    directory : Path
        The campaign folder.

    Returns
    -------
    lines : list of str
        One line, or none if no row was left out.
    """
    if not skipped:
        return []
    shown = ", ".join(s["row"] for s in skipped[:10])
    more = f" and {len(skipped) - 10} more" if len(skipped) > 10 else ""
    return [
        f"Skipped at start: {len(skipped)} invalid library row(s) ({shown}"
        f"{more}), listed in {directory / SKIPPED_FILE}."
    ]


def _pending_line(info, directory):
    """The pending batch and how much of it is left, or what to do next.

    Parameters
    ----------
    info : dict
        What :func:`status_info` returns.
    directory : Path
        The campaign folder.

    Returns
    -------
    line : str
    """
    if info["pending_batch"] is None:
        return (
            f"No pending batch: write the readout with `sklearn-isd report "
            f"{directory}`."
        )
    rewritten = (
        " (it was missing: written again)" if "batch_file_rewritten" in info else ""
    )
    return (
        f"Pending batch: {directory / info['pending_batch']}{rewritten}, "
        f"{info['n_pending']} compound(s) still to measure."
    )
