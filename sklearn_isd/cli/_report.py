"""The report subcommand: the hybrid readout of a campaign, with provenance."""

import math
import sys
from pathlib import Path

import numpy as np

from .. import __version__
from ..utils._files import atomic_write
from ._campaign import _status, load_campaign
from ._errors import EXIT_OK, CampaignStateError
from ._files import (
    FEATURIZER,
    cell,
    fmt,
    import_rdkit,
    json_value,
    max_confidence,
    nan_if_none,
    now,
    plain,
    write_json,
    write_plot,
    write_rows,
)

REPORT_FORMAT = "sklearn-isd-report"
REPORT_FORMAT_VERSION = 1


def chem_annotations(smiles, measured_mask):
    """Generic Murcko scaffolds and max Tanimoto similarity to the measured set.

    Similarities are between ECFP4 bit vectors (2048 bits), computed with
    RDKit's ``BulkTanimotoSimilarity``; a measured compound's nearest
    measured compound is itself (similarity 1).
    """
    Chem, DataStructs, rdBase, rdFingerprintGenerator, MurckoScaffold = import_rdkit()
    generator = rdFingerprintGenerator.GetMorganGenerator(
        radius=FEATURIZER["radius"], fpSize=FEATURIZER["n_bits"]
    )
    block = rdBase.BlockLogs()  # noqa: F841 - silences RDKit while alive
    scaffolds, fps = [], []
    for smi in smiles:
        mol = Chem.MolFromSmiles(smi)
        core = MurckoScaffold.GetScaffoldForMol(mol)
        try:
            core = MurckoScaffold.MakeScaffoldGeneric(core)
        except Exception:  # noqa: BLE001 - keep the plain scaffold
            pass
        scaffolds.append(Chem.MolToSmiles(core) if core.GetNumAtoms() else "")
        fps.append(generator.GetFingerprint(mol))
    measured = [fps[i] for i in np.flatnonzero(measured_mask)]
    similarity = np.array(
        [max(DataStructs.BulkTanimotoSimilarity(fp, measured)) for fp in fps]
    )
    return scaffolds, similarity


def cmd_report(args):
    campaign = load_campaign(args.campaign)
    screen, meta, library = campaign.screen, campaign.meta, campaign.library
    if not screen.observed_mask_.any():
        raise CampaignStateError(
            "No result has been told yet: there is no readout to report. Tell the "
            f"first batch with `sklearn-isd tell {campaign.directory} RESULTS.csv`."
        )
    # ask() refits the model on the measured labels (loading does not); the
    # batch it returns is not saved: report changes nothing in the campaign.
    screen.ask()
    out = Path(args.out) if args.out else campaign.directory / "report"
    out.mkdir(parents=True, exist_ok=True)

    measured = screen.observed_mask_
    confidence = max_confidence(screen, campaign.X)
    scaffolds, similarity = chem_annotations(library.smiles, measured)
    in_domain = similarity >= args.domain_threshold
    columns = {
        "id": library.ids,
        "smiles": library.smiles.tolist(),
        "value": [plain(v) for v in screen.transduction_],
        "source": np.where(measured, "measured", "predicted").tolist(),
        "round": [
            int(r) if m else None for r, m in zip(screen.acquired_iter_, measured)
        ],
        "confidence": confidence.tolist(),
        "scaffold": scaffolds,
        "max_similarity": similarity.tolist(),
        "in_domain": in_domain.tolist(),
    }
    rows = [
        [
            columns["id"][i],
            columns["smiles"][i],
            cell(columns["value"][i]),
            columns["source"][i],
            cell(columns["round"][i]),
            fmt(confidence[i], ".4f"),
            scaffolds[i],
            fmt(similarity[i], ".4f"),
            str(bool(in_domain[i])).lower(),
        ]
        for i in range(len(library))
    ]
    written = [write_rows(out / "readout.csv", list(columns), rows)]
    written.append(_write_parquet(out / "readout.parquet", columns))

    table = _scaffold_table(scaffolds, measured, confidence)
    written.append(
        write_rows(
            out / "scaffolds.csv",
            [
                "scaffold",
                "n_members",
                "n_measured",
                "fraction_measured",
                "mean_confidence_predicted",
            ],
            table,
        )
    )
    written.append(write_plot(out / "screen.png", screen))

    h = screen.history_
    from .._persist import read_campaign

    stored, _ = read_campaign(campaign.directory / meta["campaign_file"])
    params = {
        k: json_value(v)
        for k, v in screen.get_params(deep=False).items()
        if k not in ("estimator", "oracle")
    }
    n_measured = int(measured.sum())
    manifest = {
        "format": REPORT_FORMAT,
        "format_version": REPORT_FORMAT_VERSION,
        "sklearn_isd_version": __version__,
        "created": now(),
        "campaign": str(campaign.directory.resolve()),
        "library": {
            "file": meta["library"]["file"],
            "source": meta["library"]["source"],
            "sha256": meta["library"]["sha256"],
            "n_compounds": len(library),
            "fingerprint": stored["library"]["fingerprint"],
            "featurizer": meta["featurizer"],
        },
        "task": meta["task"],
        "model": {"name": meta["model"], "estimator": repr(screen.estimator)},
        "parameters": params,
        "n_rounds": int(screen.n_iter_),
        "n_measured": n_measured,
        "n_predicted": len(library) - n_measured,
        "system_lower_bound": json_value(h["system_lower_bound"][-1]),
        "status": _status(screen),
        "termination_condition": screen.termination_condition_,
        "domain_threshold": args.domain_threshold,
        "n_in_domain": int(in_domain.sum()),
        "files": [p.name for p in written if p is not None],
    }
    written.append(write_json(out / "manifest.json", manifest))
    print(
        f"Readout of {len(library)} compounds: {n_measured} measured, "
        f"{len(library) - n_measured} predicted ({int((~in_domain).sum())} outside "
        f"the applicability domain, similarity < {args.domain_threshold}).\n"
        f"System accuracy lower bound: "
        f"{fmt(nan_if_none(manifest['system_lower_bound']), '.4f') or '-'} "
        f"(target {screen.target}); status: {manifest['status']}.\n"
        "Written: " + ", ".join(str(p) for p in written if p is not None)
    )
    return EXIT_OK


def _scaffold_table(scaffolds, measured, confidence):
    groups = {}
    for i, scaffold in enumerate(scaffolds):
        groups.setdefault(scaffold, []).append(i)
    table = []
    for scaffold, members in groups.items():
        members = np.asarray(members)
        n_measured = int(measured[members].sum())
        predicted = confidence[members[~measured[members]]]
        predicted = predicted[~np.isnan(predicted)]
        mean_conf = float(predicted.mean()) if predicted.size else math.nan
        table.append(
            [
                scaffold,
                members.size,
                n_measured,
                f"{n_measured / members.size:.4f}",
                fmt(mean_conf, ".4f"),
            ]
        )
    table.sort(key=lambda r: (-r[1], r[0]))
    return table


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
