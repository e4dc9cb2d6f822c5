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

from ..utils._display import progress_disabled
from ._errors import EXIT_OK, screen_errors
from ._inputs import Library, featurize, parse_labels, read_library
from ._models import build_screen, make_model, screen_options
from ._outputs import (
    cell,
    fmt,
    max_confidence,
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

    def readout(self):
        """The readout as columns of CSV cells (see READOUT_COLUMNS)."""
        screen, measured = self.screen, self.screen.observed_mask_
        return {
            "id": list(self.library.ids),
            "smiles": list(self.library.smiles),
            "value": [cell(v) for v in screen.transduction_],
            "true_value": [cell(v) for v in self.y],
            "source": np.where(measured, "measured", "predicted").tolist(),
            "round": [
                int(r) if m else "" for r, m in zip(screen.acquired_iter_, measured)
            ],
            "confidence": [fmt(c, ".4f") for c in self.confidence],
        }


def run_simulation(library, X, y, estimator, options, *, progress=True):
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
    progress : bool, default=True
        Show a progress bar (needs tqdm and a terminal).

    Returns
    -------
    simulation : Simulation
    """
    screen = build_screen(estimator, options, verbose=1)
    start = time.perf_counter()
    with progress_disabled(not progress), screen_errors():
        screen.fit(X, y)  # verbose=1 prints the table of rounds
    simulation = Simulation(
        library, y, screen, max_confidence(screen, X), time.perf_counter() - start
    )
    _print_summary(screen, len(library), simulation.elapsed)
    return simulation


def _print_summary(screen, n, elapsed):
    from ..metrics import labels_to_target

    h, target = screen.history_, screen.target
    n_obs = int(h["n_observed"][-1])
    crossing = labels_to_target(h, target)
    print(
        f"\nStopped after {screen.n_iter_} rounds ({screen.termination_condition_}) "
        f"in {elapsed:.1f} s.\n"
        f"Labels used at stop: {n_obs} of {n} ({n_obs / n:.1%}).\n"
        f"Lower bound on system accuracy at stop: {h['system_lower_bound'][-1]:.4f}\n"
        f"True system accuracy at stop: {h['system_score'][-1]:.4f} "
        f"(target {target}).\n"
        f"True system accuracy first passed {target} at "
        f"{crossing:.1%} of the library measured."
    )


def cmd_simulate(args):
    """Run a simulated screen of a library CSV; write readout, history, plot."""
    options = screen_options(args)
    model, estimator = make_model(args.model, args.task)
    library = read_library(args.library, args.smiles_col, args.id_col, args.label_col)
    y = parse_labels(library, args.task, args.label_col)
    X = featurize(library)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(
        f"Simulated screen of {library.path.name}: {len(library)} compounds, "
        f"labels revealed from column {args.label_col!r}; model {model}, "
        f"acquisition {args.acquisition}, target {args.target} (delta "
        f"{args.delta}).\n"
    )
    simulation = run_simulation(
        library, X, y, estimator, options, progress=not args.no_progress
    )
    readout = simulation.readout()
    header = [*READOUT_COLUMNS, "confidence"]
    written = [
        write_rows(out / "readout.csv", header, zip(*(readout[c] for c in header))),
        write_history(out / "history.csv", simulation.screen.history_),
        write_plot(out / "screen.png", simulation.screen),
    ]
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
        rows=list(range(2, len(y) + 2)),
    )
    start = time.perf_counter()
    X = featurize(library)
    print(
        f"QM9 HOMO-LUMO gap screen: {len(y)} molecules (embedded subset), label = "
        f"gap > full-set median; ECFP4 featurized in "
        f"{time.perf_counter() - start:.1f} s.\n"
        f"Model: LogisticRegression on ECFP4; acquisition: least confidence; "
        f"batch {args.batch_size}; stop when the KL lower bound on system accuracy "
        f"> {args.target} (delta={args.delta}).\n"
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
        library, X, y, estimator, options, progress=not args.no_progress
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
