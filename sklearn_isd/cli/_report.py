"""The report subcommand: the hybrid readout of a campaign, with provenance."""

import sys
from pathlib import Path

import numpy as np

from .. import __version__
from ..utils._files import atomic_write
from ._campaign import CAMPAIGN_FILE, SKIPPED_FILE, load_campaign, status_of
from ._errors import EXIT_OK, CampaignStateError
from ._inputs import FEATURIZER
from ._lab import write_skipped
from ._models import DEFAULT_STOPPING
from ._outputs import (
    cell,
    fmt,
    json_value,
    max_confidence,
    nan_if_none,
    now,
    output_values,
    plain,
    screen_png,
    write_json,
    write_rows,
)
from ._report_html import campaign_report

REPORT_FORMAT = "sklearn-isd-report"
REPORT_FORMAT_VERSION = 1
SCAFFOLD_COLUMNS = [
    "scaffold",
    "n_members",
    "n_measured",
    "fraction_measured",
    "mean_confidence_predicted",
]


def cmd_report(args):
    """Write the readout, scaffolds, plot and manifest of a campaign."""
    campaign = load_campaign(args.campaign)
    screen = campaign.screen
    if not screen.observed_mask_.any():
        raise CampaignStateError(
            "No result has been told yet: there is no readout to report. Tell the "
            f"first batch with `sklearn-isd tell {campaign.directory} RESULTS.csv`."
        )
    # Loading refit the model on the measured labels (its ask); nothing of it
    # is saved: report changes nothing in the campaign.
    out = Path(args.out) if args.out else campaign.directory / "report"
    out.mkdir(parents=True, exist_ok=True)

    columns = readout_columns(campaign, args.domain_threshold)
    png = screen_png(screen, note="screen.png")
    written = [
        write_rows(out / "readout.csv", list(columns), _readout_rows(columns)),
        _write_parquet(out / "readout.parquet", columns),
        _write_scaffolds(out / "scaffolds.csv", columns),
        None
        if png is None
        else atomic_write(out / "screen.png", lambda h: h.write(png), binary=True),
    ]
    if campaign.library.skipped_rows:
        written.append(write_skipped(out / SKIPPED_FILE, campaign.library.skipped_rows))
    written = [p for p in written if p is not None]
    names = [p.name for p in written] + ["manifest.json", "report.html"]
    manifest = _manifest(campaign, columns, args.domain_threshold, names)
    written.append(write_json(out / "manifest.json", manifest))
    written.append(
        campaign_report(
            out / "report.html", campaign, columns, manifest, args.domain_threshold, png
        )
    )
    n, n_measured = len(campaign.library), manifest["n_measured"]
    n_outside = n - manifest["n_in_domain"]
    bound = fmt(nan_if_none(manifest["system_lower_bound"]), ".4f") or "-"
    print(
        f"Readout of {n} compounds: {n_measured} measured, {n - n_measured} "
        f"predicted ({n_outside} outside the applicability domain, similarity < "
        f"{args.domain_threshold}).\n"
        f"System accuracy lower bound: {bound} (target {screen.target}); status: "
        f"{manifest['status']}.\n"
        "Written: " + ", ".join(str(p) for p in written)
    )
    return EXIT_OK


def readout_columns(campaign, domain_threshold):
    """The columns of readout.csv, as lists of plain values (NaN for none)."""
    from ..chem import scaffold_annotations

    screen, library = campaign.screen, campaign.library
    measured = screen.observed_mask_
    scaffolds, similarity = scaffold_annotations(
        library.smiles,
        measured,
        radius=FEATURIZER["radius"],
        n_bits=FEATURIZER["n_bits"],
    )
    columns = {"id": library.ids, "smiles": library.smiles.tolist()}
    transduction = screen.transduction_
    if transduction.ndim == 1:
        columns["value"] = [plain(v) for v in transduction]
    else:  # a matrix campaign: one value column per output
        classification = campaign.meta["task"] == "classification"
        for j, name in enumerate(campaign.outputs):
            values = output_values(transduction[:, j], classification)
            columns[f"value_{name}"] = values
    return {
        **columns,
        "source": np.where(measured, "measured", "predicted").tolist(),
        "round": [
            int(r) if m else None for r, m in zip(screen.acquired_iter_, measured)
        ],
        "confidence": max_confidence(screen, campaign.X).tolist(),
        "scaffold": scaffolds,
        "max_similarity": similarity.tolist(),
        "in_domain": (similarity >= domain_threshold).tolist(),
    }


def _readout_rows(columns):
    """CSV rows of the readout: 4 decimals, empty cells for none."""
    formats = {
        "confidence": lambda v: fmt(v, ".4f"),
        "max_similarity": lambda v: fmt(v, ".4f"),
        "in_domain": lambda v: str(v).lower(),
    }
    cells = [[formats.get(name, cell)(v) for v in columns[name]] for name in columns]
    return [list(row) for row in zip(*cells)]


def _write_scaffolds(path, columns):
    from ..chem import scaffold_summary

    summary = scaffold_summary(
        columns["scaffold"],
        np.asarray(columns["source"]) == "measured",
        columns["confidence"],
    )
    rows = [
        [
            summary["scaffold"][i],
            int(summary["n_members"][i]),
            int(summary["n_measured"][i]),
            f"{summary['fraction_measured'][i]:.4f}",
            fmt(summary["mean_confidence_predicted"][i], ".4f"),
        ]
        for i in range(len(summary["scaffold"]))
    ]
    return write_rows(path, SCAFFOLD_COLUMNS, rows)


def _manifest(campaign, columns, domain_threshold, names):
    """Provenance of the report: library, model, parameters, bound, files."""
    screen, meta = campaign.screen, campaign.meta
    params = {
        k: json_value(v)
        for k, v in screen.get_params(deep=False).items()
        if k not in ("estimator", "oracle")
    }
    n, n_measured = len(campaign.library), int(screen.observed_mask_.sum())
    return {
        "format": REPORT_FORMAT,
        "format_version": REPORT_FORMAT_VERSION,
        "sklearn_isd_version": __version__,
        "created": now(),
        "campaign": str(campaign.directory.resolve()),
        "library": {
            "file": meta["library"]["file"],
            "source": meta["library"]["source"],
            "sha256": meta["library"]["sha256"],
            "n_compounds": n,
            "fingerprint": _fingerprint(campaign.directory / CAMPAIGN_FILE),
            "featurizer": meta["featurizer"],
        },
        "task": meta["task"],
        "model": {"name": meta["model"], "estimator": repr(screen.estimator)},
        "parameters": params,
        "n_rounds": int(screen.n_iter_),
        "n_measured": n_measured,
        "n_predicted": n - n_measured,
        "system_lower_bound": json_value(screen.history_["system_lower_bound"][-1]),
        "status": status_of(screen),
        "termination_condition": screen.termination_condition_,
        "domain_threshold": domain_threshold,
        "n_in_domain": int(sum(columns["in_domain"])),
        "files": names,
        "stopping": meta.get("stopping", DEFAULT_STOPPING),
        "classes": meta.get("classes"),
        "outputs": campaign.outputs,
        "n_skipped": len(campaign.library.skipped_rows),
        "extensions": campaign.extensions,
    }


def _fingerprint(path):
    """The library fingerprint the campaign file holds.

    The one private read of the command line: HybridScreenCV has no public
    attribute for the fingerprint it checks on load.
    """
    from .._persist import read_campaign

    return read_campaign(path)[0]["library"]["fingerprint"]


def _write_parquet(path, columns):
    try:
        import pandas as pd
        import pyarrow  # noqa: F401
    except ImportError:
        print(
            f"Note: pandas/pyarrow not installed, {Path(path).name} was skipped "
            "(pip install sklearn-isd[data]).",
            file=sys.stderr,
        )
        return None
    frame = pd.DataFrame(columns)
    frame["round"] = frame["round"].astype("Int64")
    return atomic_write(
        path,
        lambda h: frame.to_parquet(h, engine="pyarrow", index=False),
        binary=True,
    )
