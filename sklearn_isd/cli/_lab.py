"""The lab subcommands: start a campaign, and tell it measured results."""

import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from .. import __version__
from ..utils._files import atomic_write, current_umask
from ._campaign import (
    CAMPAIGN_FILE,
    CAMPAIGN_FORMAT,
    CAMPAIGN_FORMAT_VERSION,
    CAMPAIGN_JSON,
    LIBRARY_COPY,
    _status,
    _write_batch,
    known_classes,
    load_campaign,
)
from ._errors import (
    EXIT_OK,
    CampaignStateError,
    InputError,
    problems_error,
    screen_errors,
)
from ._files import (
    FEATURIZER,
    featurize,
    fmt,
    json_value,
    now,
    parse_class,
    parse_number,
    read_csv,
    read_library,
    sha256,
    write_json,
)
from ._models import build_screen, make_model, screen_options


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
    X = featurize(library)
    with screen_errors():
        batch = screen.ask(X)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        os.chmod(tmp, 0o777 & ~current_umask())  # mkdtemp makes it 0o700
        content = library.path.read_bytes()
        atomic_write(tmp / LIBRARY_COPY, lambda h: h.write(content), binary=True)
        screen.save(tmp / CAMPAIGN_FILE)
        batch_file = _write_batch(tmp, screen, library, batch)
        meta = {
            "format": CAMPAIGN_FORMAT,
            "format_version": CAMPAIGN_FORMAT_VERSION,
            "sklearn_isd_version": __version__,
            "created": now(),
            "updated": now(),
            "library": {
                "file": LIBRARY_COPY,
                "source": str(library.path.resolve()),
                "sha256": sha256(tmp / LIBRARY_COPY),
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
            value, problem = parse_class(text, classes)
        else:
            value, problem = parse_number(text)
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
        raise problems_error(
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
    with screen_errors():
        screen.tell(np.asarray(indices, dtype=np.intp), labels)
        batch = None if screen.stop_ else screen.ask()
    batch_file = None
    if batch is not None and batch.size:
        batch_file = _write_batch(campaign.directory, screen, campaign.library, batch)
    screen.save(campaign.directory / meta["campaign_file"])
    h = screen.history_
    bound = json_value(h["system_lower_bound"][-1])
    meta.update(
        updated=now(),
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
            "results_sha256": sha256(args.results),
            "n_labels": len(indices),
            "n_pending": int(pending.size),
            "partial": len(indices) < pending.size,
            "told": now(),
        }
    )
    write_json(campaign.directory / CAMPAIGN_JSON, meta)

    from ..utils._display import format_header, format_round

    print(format_header(h))
    print(format_round(h, len(h["n_observed"]) - 1))
    target = screen.target
    print(
        f"System accuracy lower bound: {fmt(bound, '.4f') or '-'} (target {target}, "
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
