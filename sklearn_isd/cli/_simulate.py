"""The simulate and demo subcommands: whole screens on labels known in advance.

``demo`` is ``simulate`` on the embedded QM9 subset: both run
:func:`run_simulation` (one ``HybridScreenCV.fit``, the loop of the screen
itself, whose verbose table is the table of rounds) and print the same
summary; they differ in where the library comes from and in the files they
write.
"""

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.base import is_classifier

from ..utils._display import progress_disabled
from ._errors import EXIT_OK, InputError, screen_errors
from ._library import Library, featurize, parse_labels
from ._models import (
    DEFAULT_STOPPING,
    STOPPING_SUMMARY,
    build_screen,
    make_model,
    screen_options,
)
from ._outputs import (
    cell,
    fmt,
    max_confidence,
    output_values,
    write_history,
    write_plot,
    write_rows,
)

#: Columns of simulate's readout.csv.
READOUT_COLUMNS = ["id", "smiles", "value", "true_value", "source", "round"]
#: The demo's readout: its column -> the column of simulate's readout.
DEMO_COLUMNS = {
    "index": "id",
    "smiles": "smiles",
    "label": "value",
    "source": "source",
    "round": "round",
    "confidence": "confidence",
}


@dataclass
class Simulation:
    """A finished simulated screen and what its outputs need."""

    library: Library
    y: np.ndarray
    screen: object
    confidence: np.ndarray
    elapsed: float
    #: The label columns (one per output).
    label_cols: list = None

    def readout(self):
        """The readout as columns of CSV cells (see READOUT_COLUMNS).

        A matrix screen has ``value_<col>`` and ``true_value_<col>`` per label
        column instead of ``value`` and ``true_value``.
        """
        screen, measured = self.screen, self.screen.observed_mask_
        columns = {"id": list(self.library.ids), "smiles": list(self.library.smiles)}
        transduction, y = screen.transduction_, self.y
        if transduction.ndim == 1:
            columns["value"] = [cell(v) for v in transduction]
            columns["true_value"] = [cell(v) for v in y]
        else:
            classification = is_classifier(screen)
            for prefix, values in (("value", transduction), ("true_value", y)):
                for j, name in enumerate(self.label_cols):
                    columns[f"{prefix}_{name}"] = [
                        cell(v) for v in output_values(values[:, j], classification)
                    ]
        columns["source"] = np.where(measured, "measured", "predicted").tolist()
        columns["round"] = [
            int(r) if m else "" for r, m in zip(screen.acquired_iter_, measured)
        ]
        columns["confidence"] = [fmt(c, ".4f") for c in self.confidence]
        return columns


def run_simulation(
    library,
    X,
    y,
    estimator,
    options,
    *,
    stopping=DEFAULT_STOPPING,
    progress=True,
    label_cols=None,
):
    """Run a whole screen revealing ``y``; print its rounds and a summary.

    Parameters
    ----------
    library : Library
        The compounds (ids and SMILES, for the readout).
    X : sparse matrix of shape (n_compounds, n_bits)
        Their fingerprints.
    y : ndarray of shape (n_compounds,)
        The labels, revealed as the screen asks for them.
    estimator : estimator object
        The model.
    options : dict
        Parameters of :class:`~sklearn_isd.HybridScreenCV`.
    stopping : str, default="kl"
        The stopping rule, a name of ``STOPPING_RULES``.
    progress : bool, default=True
        Show a progress bar (needs tqdm and a terminal).
    label_cols : list of str, default=None
        The label columns of a matrix screen.

    Returns
    -------
    simulation : Simulation
    """
    screen = build_screen(estimator, options, stopping, verbose=1)
    start = time.perf_counter()
    with progress_disabled(not progress), screen_errors():
        screen.fit(X, y)  # verbose=1 prints the table of rounds
    simulation = Simulation(
        library,
        y,
        screen,
        max_confidence(screen, X),
        time.perf_counter() - start,
        label_cols,
    )
    _print_summary(screen, len(library), simulation.elapsed)
    return simulation


def _print_summary(screen, n, elapsed):
    print(f"\nStopped after {screen.n_iter_} rounds in {elapsed:.1f} s.")
    print(stop_in_words(screen, n))


def stop_in_words(screen, n):
    """Where the true crossing was, where the rule stopped, and why, in words."""
    h, target = screen.history_, screen.target
    n_obs = int(h["n_observed"][-1])
    audited = int(screen.audit_mask_.sum())
    reached = np.flatnonzero(h["system_score"] >= target)
    lines = []
    if reached.size:
        i = reached[0]
        lines.append(
            f"The true system accuracy first passed the target {target} after "
            f"round {i} ({int(h['n_observed'][i])} of {n} measured, "
            f"{h['fraction_observed'][i]:.1%})."
        )
    audits = f", {audited} of them as audit items" if audited else ""
    lines.append(
        f"The screen stopped after round {screen.n_iter_ - 1} with {n_obs} of "
        f"{n} measured ({n_obs / n:.1%}{audits})."
    )
    bound = h["system_lower_bound"][-1]
    condition = screen.termination_condition_
    if condition == "target_reached":
        lines.append(
            f"Why then: its lower bound on the system accuracy, {bound:.4f}, "
            f"passed {target}. The screen cannot see the true accuracy; the "
            "bound is what it can know without the labels, so it stops only "
            "once the evidence (batches, audits) proves the target, not when "
            "the target is first met."
        )
    elif condition == "max_fraction":
        lines.append(
            f"Why then: the measurement budget (max_fraction "
            f"{screen.max_fraction}) was spent before the lower bound "
            f"({bound:.4f}) passed {target}."
        )
    elif condition == "all_acquired":
        lines.append("Why then: every compound was measured.")
    lines.append(f"The readout's true system accuracy is {h['system_score'][-1]:.4f}.")
    return "\n".join(lines)


def cmd_simulate(args):
    """Run a simulated screen of a library; write readout, history, plot, report."""
    from ._lab import _skipped_note, read_campaign_library, write_skipped
    from ._report_html import simulation_report

    label_cols = args.label_col
    if len(set(label_cols)) != len(label_cols):
        raise InputError(f"--label-col names a column twice: {label_cols}.")
    options = screen_options(args, len(label_cols))
    model, estimator = make_model(args.model, args.task, len(label_cols))
    library = read_campaign_library(args, label_cols)
    y = parse_labels(library.labels, args.task, label_cols)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(_skipped_note(library, out / "skipped.csv"), end="")
    columns = ", ".join(repr(c) for c in label_cols)
    print(
        f"Simulated screen of {library.path.name}: {len(library)} compounds, "
        f"labels revealed from column{'s' if len(label_cols) > 1 else ''} "
        f"{columns}; model {model}, acquisition {args.acquisition}, stopping rule "
        f"{args.stopping}, target {args.target} (delta {args.delta}).\n"
    )
    simulation = run_simulation(
        library,
        library.X,
        y,
        estimator,
        options,
        stopping=args.stopping,
        progress=not args.no_progress,
        label_cols=label_cols,
    )
    readout = simulation.readout()
    header = list(readout)
    written = [
        write_rows(out / "readout.csv", header, zip(*(readout[c] for c in header))),
        write_history(out / "history.csv", simulation.screen.history_),
        write_plot(out / "screen.png", simulation.screen),
    ]
    if library.skipped_rows:
        written.append(write_skipped(out / "skipped.csv", library.skipped_rows))
    written.append(simulation_report(out / "report.html", simulation, args, model))
    print("Written: " + ", ".join(str(p) for p in written if p is not None))
    return EXIT_OK


def cmd_demo(args):
    """``simulate`` on the embedded QM9 subset, with the demo's model."""
    from sklearn.linear_model import LogisticRegression

    from ..datasets import load_qm9

    data = load_qm9(subset="embedded", task="classification")
    smiles, y = data.data[: args.n_molecules], data.target[: args.n_molecules]
    library = Library(
        Path("the embedded QM9 subset"),
        ids=[str(i) for i in range(len(y))],
        smiles=np.asarray(smiles, dtype=object),
        rows=[f"molecule {i}" for i in range(len(y))],
    )
    start = time.perf_counter()
    X = featurize(library.smiles)[0]
    print(
        f"QM9 HOMO-LUMO gap screen: {len(y)} molecules (embedded subset), label = "
        f"gap > full-set median; ECFP4 featurized in "
        f"{time.perf_counter() - start:.1f} s.\n"
        f"Model: LogisticRegression(C=0.5, max_iter=1000) on ECFP4; acquisition: "
        f"least confidence; batch {args.batch_size}; stopping rule "
        f"{args.stopping} ({STOPPING_SUMMARY[args.stopping]}), target "
        f"{args.target}, delta {args.delta}.\n"
    )
    options = {
        "acquisition": "least_confidence",
        "batch_size": args.batch_size,
        "target": args.target,
        "delta": args.delta,
        "random_state": args.random_state,
    }
    estimator = LogisticRegression(C=0.5, max_iter=1000)
    simulation = run_simulation(
        library,
        X,
        y,
        estimator,
        options,
        stopping=args.stopping,
        progress=not args.no_progress,
    )
    readout = simulation.readout()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = zip(*(readout[c] for c in DEMO_COLUMNS.values()))
    write_rows(out, list(DEMO_COLUMNS), rows)
    n_obs = int(simulation.screen.observed_mask_.sum())
    print(
        f"Hybrid readout written to {out} ({n_obs} measured, {len(y) - n_obs} "
        "predicted)."
    )
    return EXIT_OK
