"""report.html: one self-contained page on a screen, to read and to mail.

The page holds everything inline (the plots as base64 PNG, the styles in a
``<style>`` element, no script, no link to fetch), so it can be mailed as
one file and opened offline. It has these sections, each a ``<section>``
whose ``id`` names it:

- ``decision``: the stop decision in words (where the rule stopped, the
  bound against the target, and in a simulation the true accuracy);
- ``plots``: the screen's rounds (:class:`~sklearn_isd.plotting.ScreenDisplay`)
  and the similarity of the predicted compounds to the measured set;
- ``rounds``: the table of rounds, ``history_`` row by row;
- ``domain``: the applicability domain: similarity to the nearest measured
  compound, and a summary by scaffold
  (:func:`~sklearn_isd.chem.scaffold_summary`);
- ``skipped``: library rows left out (``--skip-invalid``), when there are;
- ``provenance``: versions, files and their hashes, options, and the
  results files told.

It is written with the standard library only (:func:`html.escape`, no
template engine), through :func:`~sklearn_isd.utils._files.atomic_write`.
"""

import base64
import html
import math
import platform
from dataclasses import dataclass, field
from importlib import metadata

import numpy as np

from .. import __version__
from ..utils._files import atomic_write
from ._outputs import now, plain, plot_png

#: Columns of the table of rounds, in this order, when history_ has them.
ROUND_COLUMNS = {
    "n_observed": "measured",
    "fraction_observed": "fraction measured",
    "n_batch": "batch",
    "batch_score": "batch accuracy",
    "batch_lower_bound": "batch lower bound",
    "system_lower_bound": "system lower bound",
    "system_score": "true system accuracy",
    "inference_score": "true inference accuracy",
    "fit_time": "fit time (s)",
}
#: Distributions whose versions are reported, when installed.
PACKAGES = (
    "sklearn-isd",
    "numpy",
    "scipy",
    "scikit-learn",
    "joblib",
    "rdkit",
    "pandas",
    "pyarrow",
    "matplotlib",
    "torch",
    "skorch",
)
#: Scaffolds listed in the applicability-domain section (the largest first).
MAX_SCAFFOLDS = 25
#: Rows listed in the skipped section.
MAX_SKIPPED = 200
RULE_NAMES = {
    "ppi": "the prediction-powered audit (PredictionPoweredBound; an exact "
    "audit of the inference set, delta over the whole screen, no calibration "
    "assumption)",
    "kl": "the KL bound (KLBound, paper Eq. 5-6; its delta holds per round)",
    "anytime-kl": "the anytime KL bound (AnytimeKLBound; delta over the whole screen)",
    "pooled-kl": "the pooled anytime KL bound (PooledKLBound; delta over the "
    "whole screen)",
    "audit": "the audit bound (AuditBound; a uniform audit of each batch, no "
    "calibration assumption)",
    "none": "no stopping rule (the KL bound is reported for information)",
}

STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
  margin: 2em auto; max-width: 68em; padding: 0 1em; color: #1d2330; }
h1 { font-size: 1.6em; margin-bottom: 0.1em; }
h2 { font-size: 1.2em; border-bottom: 1px solid #c9d1dc; padding-bottom: 0.2em;
  margin-top: 1.8em; }
.subtitle { color: #5a6475; margin-top: 0; }
.decision { background: #eef4fb; border-left: 4px solid #2f6fb5;
  padding: 0.6em 1em; }
.decision.stopped { border-color: #2e8540; background: #eef8f0; }
.decision.budget { border-color: #b5832f; background: #fbf6ee; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
th, td { border: 1px solid #d5dbe3; padding: 0.25em 0.6em; text-align: right; }
th { background: #f3f5f8; }
td.text, th.text { text-align: left; }
table.kv td:first-child { text-align: left; font-weight: 600;
  background: #f8f9fb; }
table.kv td { text-align: left; }
code, .hash { font-family: Menlo, Consolas, monospace; font-size: 0.85em;
  word-break: break-all; }
img { max-width: 100%; height: auto; display: block; margin: 0.6em 0; }
footer { margin-top: 2.5em; color: #5a6475; font-size: 0.85em; }
"""


@dataclass
class ReportData:
    """What report.html shows; built by :func:`campaign_report` and
    :func:`simulation_report`."""

    title: str
    subtitle: str
    screen: object
    n_compounds: int
    stopping: str
    status: str
    decision: str
    columns: dict
    domain_threshold: float
    plot: bytes | None
    skipped: list = field(default_factory=list)
    #: [(label, value)] rows of the provenance tables.
    files: list = field(default_factory=list)
    options: list = field(default_factory=list)
    tells: list = field(default_factory=list)
    extensions: list = field(default_factory=list)


# --------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------
def campaign_report(path, campaign, columns, manifest, domain_threshold, png):
    """Write the report.html of a campaign (``sklearn-isd report``)."""
    screen, meta = campaign.screen, campaign.meta
    library = meta["library"]
    files = [
        ("library copy", library["file"], library["sha256"]),
        ("library given to start", library["source"], library["sha256"]),
        ("library fingerprint (rows)", "", manifest["library"]["fingerprint"]),
        ("campaign file", "campaign.isd.npz", _sha256_file(campaign, "isd")),
        ("campaign description", "campaign.json", _sha256_file(campaign, "json")),
    ]
    data = ReportData(
        title=f"Hybrid screen report: {campaign.directory.name}",
        subtitle=(
            f"Campaign {campaign.directory.resolve()}, started "
            f"{meta['created']}; {meta['task']}, model {meta['model']}."
        ),
        screen=screen,
        n_compounds=len(campaign.library),
        stopping=manifest["stopping"],
        status=manifest["status"],
        decision=decision_text(screen, manifest["stopping"], manifest["status"]),
        columns=columns,
        domain_threshold=domain_threshold,
        plot=png,
        skipped=campaign.library.skipped_rows,
        files=files,
        options=_campaign_options(campaign, manifest),
        tells=campaign.log,
        extensions=campaign.extensions or [],
    )
    return write_report(path, data)


def simulation_report(path, simulation, args, model):
    """Write the report.html of a simulated screen (``sklearn-isd simulate``)."""
    from ..chem import scaffold_annotations
    from ._inputs import FEATURIZER
    from ._outputs import screen_png

    screen, library = simulation.screen, simulation.library
    measured = screen.observed_mask_
    scaffolds, similarity = scaffold_annotations(
        library.smiles,
        measured,
        radius=FEATURIZER["radius"],
        n_bits=FEATURIZER["n_bits"],
    )
    columns = {
        "id": list(library.ids),
        "source": np.where(measured, "measured", "predicted").tolist(),
        "confidence": list(simulation.confidence),
        "scaffold": scaffolds,
        "max_similarity": similarity.tolist(),
        "in_domain": (similarity >= 0.4).tolist(),
    }
    status = screen.termination_condition_ or "awaiting_results"
    options = [
        ("label column(s)", ", ".join(args.label_col)),
        ("task", args.task),
        ("model", f"{model}: {screen.estimator!r}"),
        ("stopping rule", args.stopping),
        *(
            (name, repr(value))
            for name, value in screen.get_params(deep=False).items()
            if name not in ("estimator", "oracle", "stopping", "verbose")
        ),
        ("featurizer", f"{FEATURIZER}"),
        ("skip invalid rows", str(bool(args.skip_invalid))),
    ]
    data = ReportData(
        title=f"Simulated hybrid screen: {library.path.name}",
        subtitle=(
            f"A retrospective study of {library.path.resolve()}: the labels "
            "were known and revealed as the screen asked for them."
        ),
        screen=screen,
        n_compounds=len(library),
        stopping=args.stopping,
        status=status,
        decision=decision_text(screen, args.stopping, status),
        columns=columns,
        domain_threshold=0.4,
        plot=screen_png(screen),
        skipped=library.skipped_rows,
        files=[("library", str(library.path.resolve()), library.sha256)],
        options=options,
    )
    return write_report(path, data)


def write_report(path, data):
    """Render ``data`` and write it atomically; return the path."""
    text = render(data)
    return atomic_write(path, lambda handle: handle.write(text))


# --------------------------------------------------------------------------
# The decision, in words
# --------------------------------------------------------------------------
def _number(value, spec=".4f"):
    value = plain(value)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, (bool, np.bool_)):
        return str(value)
    if isinstance(value, int):
        return str(value)
    return format(value, spec)


def decision_text(screen, stopping, status):
    """Where the rule stopped and why, the bound against the target, the truth."""
    h = screen.history_
    n = screen.observed_mask_.shape[0]
    n_measured = int(screen.observed_mask_.sum())
    bound = float(h["system_lower_bound"][-1]) if len(h["n_observed"]) else math.nan
    target, delta = screen.target, screen.delta
    rule = RULE_NAMES.get(stopping, stopping)
    rounds = int(screen.n_iter_)
    measured = f"{n_measured} of {n} compounds ({n_measured / n:.1%}) measured"
    where = f"after round {rounds - 1} ({rounds} batches, the initial one included)"
    if status == "target_reached":
        per = (
            "each round's bound holds with probability at least 1 - delta"
            if stopping == "kl"
            else "the bounds of all rounds hold together with probability at "
            "least 1 - delta"
        )
        text = (
            f"The screen stopped {where}: the lower bound on the system accuracy, "
            f"{_number(bound)}, passed the target {target} (delta {delta}), with "
            f"{measured}; the rest is predicted. The stopping rule is {rule}: "
            f"{per}, so the accuracy of the whole readout (measured and "
            f"predicted) is above {target} unless that bound failed."
        )
    elif status == "max_fraction":
        text = (
            f"The screen stopped {where} because its budget was spent "
            f"(max_fraction {screen.max_fraction}: {measured}). The lower bound "
            f"on the system accuracy, {_number(bound)}, did not reach the target "
            f"{target}: the readout is not certified at that target. The stopping "
            f"rule is {rule}."
        )
    elif status == "all_acquired":
        text = (
            f"Every compound was measured ({rounds} batches): the readout holds "
            "measured labels only, and is exact."
        )
    else:
        text = (
            f"The screen goes on: {where}, the lower bound on the system accuracy "
            f"is {_number(bound)}, below the target {target} (delta {delta}); "
            f"{measured}. The stopping rule is {rule}. Measure the pending batch "
            "and tell it."
        )
    if "system_score" in h and len(h["system_score"]):
        truth = float(h["system_score"][-1])
        holds = "held" if math.isnan(bound) or bound <= truth else "failed"
        text += (
            f" In this simulation the true system accuracy at the stop is "
            f"{_number(truth)}: the bound {holds} (the bound is "
            f"{_number(bound)})"
        )
        crossing = _first_crossing(h, target)
        text += (
            f", and the true accuracy first passed {target} with "
            f"{crossing:.1%} of the library measured."
            if crossing is not None
            else f", and the true accuracy never passed {target}."
        )
    return text


def _first_crossing(history, target):
    score = np.asarray(history["system_score"], dtype=float)
    above = np.flatnonzero(score > target)
    if not above.size:
        return None
    return float(history["fraction_observed"][above[0]])


# --------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------
def _e(value):
    return html.escape(str(value), quote=True)


def _table(headers, rows, *, table_id=None, text_columns=(), css=None):
    """An HTML table; every cell escaped. Columns in ``text_columns`` align left."""
    attrs = "" if table_id is None else f' id="{_e(table_id)}"'
    attrs += "" if css is None else f' class="{_e(css)}"'
    out = [f"<table{attrs}>"]
    if headers:
        cells = "".join(
            f'<th class="text">{_e(h)}</th>'
            if i in text_columns
            else f"<th>{_e(h)}</th>"
            for i, h in enumerate(headers)
        )
        out.append(f"<thead><tr>{cells}</tr></thead>")
    out.append("<tbody>")
    for row in rows:
        cells = "".join(
            f'<td class="text">{_e(c)}</td>'
            if i in text_columns
            else f"<td>{_e(c)}</td>"
            for i, c in enumerate(row)
        )
        out.append(f"<tr>{cells}</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def _image(png, alt):
    if png is None:
        return (
            f"<p><em>{_e(alt)}: not drawn (matplotlib is not installed; pip install "
            "sklearn-isd[plot]).</em></p>"
        )
    encoded = base64.b64encode(png).decode("ascii")
    return f'<img src="data:image/png;base64,{encoded}" alt="{_e(alt)}">'


def _section(section_id, title, body):
    return f'<section id="{_e(section_id)}">\n<h2>{_e(title)}</h2>\n{body}\n</section>'


def round_rows(history):
    """(headers, rows) of the table of rounds: one row per round of history_."""
    keys = [k for k in ROUND_COLUMNS if k in history]
    n = len(history["n_observed"])
    headers = ["round", *(ROUND_COLUMNS[k] for k in keys)]
    rows = [
        [
            str(i),
            *(
                _number(history[k][i], ".3f" if k == "fit_time" else ".4f")
                for k in keys
            ),
        ]
        for i in range(n)
    ]
    return headers, rows


def _domain_section(data):
    """The body of the ``domain`` section.

    Parameters
    ----------
    data : ReportData
        The report.

    Returns
    -------
    body : str
        The similarity of the predicted compounds, then the scaffolds.
    """
    columns, threshold = data.columns, data.domain_threshold
    similarity = np.asarray(columns["max_similarity"], dtype=float)
    predicted = np.asarray(columns["source"]) == "predicted"
    if not predicted.any():
        body = ["<p>Every compound was measured: nothing is predicted.</p>"]
    else:
        body = _similarity_parts(similarity[predicted], threshold)
    body += _scaffold_parts(columns)
    return "\n".join(body)


def _similarity_parts(values, threshold):
    """The applicability domain of the predicted compounds, in HTML.

    Parameters
    ----------
    values : ndarray
        The similarity of each predicted compound to its nearest measured one.
    threshold : float
        The similarity from which a compound is in the domain.

    Returns
    -------
    parts : list of str
        A paragraph, a table of quantiles and a histogram.
    """
    n_predicted = values.size
    inside = int(np.sum(values >= threshold))
    q = np.nanquantile(values, [0.1, 0.5, 0.9])
    text = (
        "<p>How far each prediction is from what was measured: the Tanimoto "
        "similarity (ECFP4 bits) of each predicted compound to its nearest "
        f"measured compound. {inside} of {n_predicted} predicted "
        f"compounds ({inside / n_predicted:.1%}) have a similarity of at "
        f"least {threshold} (in the applicability domain); the others are "
        "extrapolations, to be trusted less.</p>"
    )
    table = _table(
        ["", "value"],
        [
            ["predicted compounds", str(n_predicted)],
            [f"in the domain (similarity >= {threshold})", str(inside)],
            ["outside the domain", str(n_predicted - inside)],
            ["similarity, 10th percentile", _number(q[0])],
            ["similarity, median", _number(q[1])],
            ["similarity, 90th percentile", _number(q[2])],
        ],
        table_id="domain-table",
        css="kv",
    )

    def draw(ax):
        ax.hist(values, bins=np.linspace(0, 1, 21), color="#2f6fb5")
        ax.axvline(threshold, color="#b5332f", linestyle="--", label="threshold")
        ax.set_xlabel("similarity to the nearest measured compound")
        ax.set_ylabel("predicted compounds")
        ax.legend()

    image = _image(
        plot_png(draw, size=(7.0, 3.2)),
        "Similarity of the predicted compounds to the measured set",
    )
    return [text, table, image]


def _scaffold_parts(columns):
    """The summary by scaffold, in HTML.

    Parameters
    ----------
    columns : dict
        The readout's columns (``scaffold``, ``source``, ``confidence``).

    Returns
    -------
    parts : list of str
        A paragraph and the table of the largest scaffolds.
    """
    from ..chem import scaffold_summary

    summary = scaffold_summary(
        columns["scaffold"],
        np.asarray(columns["source"]) == "measured",
        columns["confidence"],
    )
    n_scaffolds = len(summary["scaffold"])
    n_shown = min(n_scaffolds, MAX_SCAFFOLDS)
    text = (
        f"<p>{n_scaffolds} generic Murcko scaffolds (an empty scaffold: acyclic "
        f"compounds); the {n_shown} largest:</p>"
    )
    rows = [
        [
            summary["scaffold"][i] or "(acyclic)",
            str(int(summary["n_members"][i])),
            str(int(summary["n_measured"][i])),
            _number(summary["fraction_measured"][i]),
            _number(summary["mean_confidence_predicted"][i]),
        ]
        for i in range(n_shown)
    ]
    table = _table(
        [
            "scaffold",
            "compounds",
            "measured",
            "fraction measured",
            "mean confidence (predicted)",
        ],
        rows,
        table_id="scaffold-table",
        text_columns=(0,),
    )
    return [text, table]


def _versions():
    rows = [("python", platform.python_version())]
    for name in PACKAGES:
        try:
            version = __version__ if name == "sklearn-isd" else metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
        rows.append((name, version))
    return rows


def render(data):
    """The HTML text of a report."""
    sections = [
        _section("decision", "Stop decision", _decision_body(data)),
        _section(
            "plots",
            "The screen, round by round",
            _image(data.plot, "Bounds and accuracies per round"),
        ),
        _section("rounds", "Table of rounds", _rounds_body(data.screen.history_)),
        _section("domain", "Applicability domain", _domain_section(data)),
    ]
    if data.skipped:
        sections.append(
            _section("skipped", "Library rows left out", _skipped_body(data.skipped))
        )
    sections.append(_section("provenance", "Provenance", _provenance_body(data)))
    return _page(data, sections)


def _decision_body(data):
    """The body of the ``decision`` section: the decision in words, and a table.

    Parameters
    ----------
    data : ReportData
        The report.

    Returns
    -------
    body : str
    """
    screen = data.screen
    bounds = screen.history_["system_lower_bound"]
    css = {"target_reached": "stopped", "max_fraction": "budget"}.get(data.status, "")
    return (
        f'<p class="decision {css}" id="decision-text">{_e(data.decision)}</p>\n'
        + _table(
            ["", "value"],
            [
                ["status", data.status],
                ["stopping rule", data.stopping],
                [
                    "system lower bound",
                    _number(bounds[-1] if len(bounds) else None),
                ],
                ["target", _number(screen.target, "g")],
                ["delta", _number(screen.delta, "g")],
                ["rounds", str(int(screen.n_iter_))],
                ["measured", str(int(screen.observed_mask_.sum()))],
                ["compounds", str(data.n_compounds)],
            ],
            table_id="decision-table",
            css="kv",
        )
    )


def _rounds_body(history):
    """The body of the ``rounds`` section: the table of rounds.

    Parameters
    ----------
    history : dict
        The screen's ``history_``.

    Returns
    -------
    body : str
    """
    headers, rows = round_rows(history)
    return (
        "<p>One row per measured batch (round 0 is the initial, random one; "
        "its batch accuracy is undefined), recorded after the model was refit."
        "</p>\n" + _table(headers, rows, table_id="rounds-table")
    )


def _skipped_body(skipped):
    """The body of the ``skipped`` section: the library rows left out.

    Parameters
    ----------
    skipped : list of tuple
        (row, id, SMILES, problem) of each row left out.

    Returns
    -------
    body : str
        At most :data:`MAX_SKIPPED` rows of them.
    """
    shown = skipped[:MAX_SKIPPED]
    more = len(skipped) - len(shown)
    return (
        f"<p>{len(skipped)} invalid library row(s) were left out of the "
        "screen (--skip-invalid): they are neither measured nor predicted."
        + (f" The first {len(shown)} are listed." if more else "")
        + "</p>\n"
        + _table(
            ["row", "id", "SMILES", "problem"],
            [list(r) for r in shown],
            table_id="skipped-table",
            text_columns=(0, 1, 2, 3),
        )
    )


def _provenance_body(data):
    """The body of the ``provenance`` section.

    Parameters
    ----------
    data : ReportData
        The report.

    Returns
    -------
    body : str
        Versions, files, options, then the results files told and the
        extensions, when there are.
    """
    provenance = [
        "<h3>Versions</h3>",
        _table(["package", "version"], _versions(), table_id="versions", css="kv"),
        "<h3>Files</h3>",
        _table(
            ["file", "name", "SHA-256"],
            data.files,
            table_id="files-table",
            text_columns=(0, 1, 2),
        ),
        "<h3>Options</h3>",
        _table(["option", "value"], data.options, table_id="options-table", css="kv"),
    ]
    if data.tells:
        provenance += ["<h3>Results files told</h3>", _tells_table(data.tells)]
    if data.extensions:
        provenance += ["<h3>Extensions</h3>", _extensions_table(data.extensions)]
    return "\n".join(provenance)


def _tells_table(tells):
    """The table of the results files told.

    Parameters
    ----------
    tells : list of dict
        The campaign's tells, one per results file.

    Returns
    -------
    table : str
    """
    return _table(
        ["round", "file", "SHA-256", "labels", "partial", "told"],
        [
            [
                str(t.get("round", "")),
                t.get("results_file", ""),
                t.get("results_sha256", ""),
                str(t.get("n_labels", "")),
                str(t.get("partial", "")),
                t.get("told", ""),
            ]
            for t in tells
        ],
        table_id="tells-table",
        text_columns=(1, 2, 5),
    )


def _extensions_table(extensions):
    """The table of the campaign's extensions.

    Parameters
    ----------
    extensions : list of dict
        The campaign's extensions, in order.

    Returns
    -------
    table : str
    """
    return _table(
        ["round", "target", "max_fraction", "after", "when"],
        [
            [
                str(x.get("round", "")),
                f"{x.get('from_target', '?')} -> {x['target']}",
                f"{x.get('from_max_fraction', '?')} -> {x['max_fraction']}",
                str(x.get("after", "")),
                str(x.get("extended", "")),
            ]
            for x in extensions
        ],
        table_id="extensions-table",
        text_columns=(1, 2, 3, 4),
    )


def _page(data, sections):
    """The whole HTML document around its sections.

    Parameters
    ----------
    data : ReportData
        The report (its title and subtitle).
    sections : list of str
        The ``<section>`` elements, in order.

    Returns
    -------
    text : str
    """
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{_e(data.title)}</title>",
            f"<style>{STYLE}</style>",
            "</head>",
            "<body>",
            "<header>",
            f"<h1>{_e(data.title)}</h1>",
            f'<p class="subtitle">{_e(data.subtitle)}</p>',
            "</header>",
            "<main>",
            *sections,
            "</main>",
            f"<footer>Written by sklearn-isd {_e(__version__)} on {_e(now())}. The "
            "method: Neporozhnii, Roy, Bengio &amp; Hartford, <em>Efficient "
            "biological data acquisition through inference set design</em>, "
            "arXiv:2410.19631.</footer>",
            "</body>",
            "</html>",
            "",
        ]
    )


# --------------------------------------------------------------------------
# Campaign details
# --------------------------------------------------------------------------
def _sha256_file(campaign, which):
    from ._campaign import CAMPAIGN_FILE, CAMPAIGN_JSON
    from ._inputs import sha256_of

    name = CAMPAIGN_FILE if which == "isd" else CAMPAIGN_JSON
    try:
        return sha256_of((campaign.directory / name).read_bytes())
    except OSError:
        return "(unreadable)"


def _campaign_options(campaign, manifest):
    meta = campaign.meta
    library = meta["library"]
    rows = [
        ("task", meta["task"]),
        ("model", f"{meta['model']}: {manifest['model']['estimator']}"),
        ("stopping rule", manifest["stopping"]),
        *((name, repr(value)) for name, value in manifest["parameters"].items()),
        ("featurizer", str(meta["featurizer"])),
        ("library format", library.get("format", "csv")),
        ("SMILES column", str(library["smiles_col"])),
        ("id column", str(library["id_col"])),
        ("results columns", ", ".join(campaign.outputs)),
        ("classes", str(meta.get("classes", "any integer class code"))),
        ("domain threshold", str(manifest["domain_threshold"])),
    ]
    return [(k, str(v)) for k, v in rows]
