"""The campaign directory: its files, and loading it."""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._errors import CampaignStateError, InputError
from ._files import Library, featurize, read_library, sha256, write_rows

CAMPAIGN_FORMAT = "sklearn-isd-cli-campaign"
CAMPAIGN_FORMAT_VERSION = 1
CAMPAIGN_JSON = "campaign.json"
CAMPAIGN_FILE = "campaign.isd.npz"
LIBRARY_COPY = "library.csv"


def _write_batch(directory, screen, library, batch):
    round_ = screen.n_iter_
    name = f"batch_{round_:03d}.csv"
    rows = [[library.ids[i], library.smiles[i], round_] for i in batch]
    write_rows(Path(directory) / name, ["id", "smiles", "round"], rows)
    return name


@dataclass
class Campaign:
    directory: Path
    meta: dict
    library: Library
    X: object
    screen: object


def load_campaign(directory):
    """Read campaign.json, re-featurize the library copy and load the screen."""
    from .. import CampaignFileError, HybridScreenCV

    directory = Path(directory)
    meta_path = directory / CAMPAIGN_JSON
    if not directory.is_dir():
        raise CampaignStateError(f"No campaign directory at {directory}.")
    if not meta_path.is_file():
        raise CampaignStateError(
            f"{directory} is not an sklearn-isd campaign (no {CAMPAIGN_JSON}); "
            "create one with `sklearn-isd start`."
        )
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("format") != CAMPAIGN_FORMAT:
            raise ValueError("not a campaign description")
        if meta.get("format_version") != CAMPAIGN_FORMAT_VERSION:
            raise ValueError(f"unknown format version {meta.get('format_version')}")
        lib_meta = meta["library"]
        library_path = directory / lib_meta["file"]
    except (ValueError, KeyError, TypeError, OSError) as exc:
        raise CampaignStateError(f"{meta_path} is corrupted: {exc}.") from None
    if not library_path.is_file():
        raise CampaignStateError(f"The library copy {library_path} is missing.")
    if sha256(library_path) != lib_meta.get("sha256"):
        raise CampaignStateError(
            f"The library copy {library_path} changed since the campaign started; "
            "restore it (a copy of the original is at "
            f"{lib_meta.get('source')!r} unless that changed too)."
        )
    try:
        library = read_library(library_path, lib_meta["smiles_col"], lib_meta["id_col"])
        X = featurize(library)
    except InputError as exc:
        raise CampaignStateError(f"The library copy is unusable: {exc}") from None
    try:
        screen = HybridScreenCV.load(directory / meta["campaign_file"], X)
    except FileNotFoundError:
        raise CampaignStateError(
            f"The campaign file {directory / meta['campaign_file']} is missing."
        ) from None
    except CampaignFileError as exc:
        raise CampaignStateError(str(exc)) from None
    return Campaign(directory, meta, library, X, screen)


def known_classes(screen):
    """Classes measured so far (after the refit done by ask)."""
    if not hasattr(screen, "transduction_"):
        return []
    return np.unique(screen.transduction_[screen.observed_mask_]).tolist()


def _status(screen):
    return screen.termination_condition_ if screen.stop_ else "awaiting_results"
