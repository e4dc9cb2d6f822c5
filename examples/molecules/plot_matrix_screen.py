"""
=========================================================
Matrix screen: measure a compound against every target
=========================================================

In a phenomics or panel screen, the library is compounds x targets (genes,
assays, cell lines): measuring a compound runs it against every target and
reveals a whole row of the label matrix, and the readout is accurate when
its *cells* are (the paper's RxRx3 and proprietary experiments, Sec. 5).

Here the compounds are QM9 molecules and the targets are six binary
properties: the HOMO-LUMO gap of QM9 and five RDKit descriptors (logP, polar
surface, molar refractivity, fraction of sp3 carbons, Bertz complexity),
each split at its median (:func:`~sklearn_isd.datasets.load_qm9_panel`). Some
are easy to read off an ECFP4 fingerprint, others are not, as genes of a
panel differ. To mimic pairs that could never be measured, 5 % of the cells
are missing (NaN); they are predicted, but never count as labels or in any
score.

A :class:`~sklearn_isd.HybridScreenCV` with a 2-d ``y`` is a matrix screen:
``batch_size`` counts compounds, ``history_["n_observed_cells"]`` counts the
cost in cells, the acquisition score of each cell (least confidence of its
output's model) is averaged over the row (``aggregate="mean"``), and the
accuracy and the stopping bound are over cells. The model is
:class:`~sklearn_isd.multioutput.MaskedMultiOutputClassifier`, one logistic
regression per target, each trained on the rows where its target has a
label.

To screen a real phenomics matrix, pass the compounds' features as ``X``
(fingerprints, or embeddings of a molecular foundation model) and, in a
simulation, the compound x gene label matrix as ``y`` (a DataFrame keeps
the gene names in ``output_names_`` and the per-gene keys of ``history_``);
in the lab, ``ask`` returns compounds and ``tell`` takes their rows of
labels, NaN where a pair failed.
"""

# %%
# The label matrix
# ----------------
import os

import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import LogisticRegression

from sklearn_isd import HybridScreenCV, MorganFingerprint
from sklearn_isd.datasets import load_qm9_panel
from sklearn_isd.multioutput import MaskedMultiOutputClassifier

FULL = os.environ.get("SKLEARN_ISD_EXAMPLES_FULL") == "1"

#: Settings of :func:`main`; tests pass smaller ones.
SETTINGS = dict(
    n_molecules=None,  # all 10,000 molecules of the embedded subset
    missing=0.05,  # share of cells that could never be measured
    batch_size=100,  # compounds per round
    max_fraction=0.6,
    target=0.95,
    random_state=0,
)
if FULL:
    SETTINGS.update(batch_size=50, max_fraction=0.8)


def load_matrix(n_molecules=None, missing=0.05, random_state=0):
    """ECFP4 fingerprints, the label matrix (NaN cells) and the target names."""
    panel = load_qm9_panel()
    smiles = panel.data[:n_molecules]
    Y = panel.target[:n_molecules].astype(float)
    rng = np.random.default_rng(random_state)
    holes = rng.random(Y.shape) < missing
    holes[holes.all(axis=1), 0] = False  # every compound keeps one label
    Y[holes] = np.nan
    X = MorganFingerprint(radius=2, n_bits=2048).transform(smiles)
    return X, Y, panel.target_names


if __name__ == "__main__":
    X, Y, names = load_matrix(SETTINGS["n_molecules"], SETTINGS["missing"])
    print(f"{X.shape[0]} compounds x {Y.shape[1]} targets ({', '.join(names)})")
    print(f"{np.isnan(Y).mean():.1%} of the cells can never be measured")

# %%
# Active and random screens
# -------------------------
# Both screens run with ``stopping=None`` to ``max_fraction`` of the
# compounds, so that whole curves can be compared; ``history_`` still records
# the KL lower bound over cells of every round, and a second active screen
# gives each target its own target accuracy (``target=[0.95] * 6``): it stops
# only when every column's own bound passes it, with ``delta`` shared
# between the columns.


def make_model():
    return MaskedMultiOutputClassifier(LogisticRegression(max_iter=1000))


def run(X, Y, acquisition, **params):
    screen = HybridScreenCV(
        make_model(), acquisition=acquisition, stopping=None, **params
    ).fit(X, Y)
    return screen.history_


def labels_in_cells(history, target):
    """Cells measured when the true cell-level system accuracy reaches target."""
    reached = np.flatnonzero(history["system_score"] >= target)
    return int(history["n_observed_cells"][reached[0]]) if reached.size else None


def main(**settings):
    """Run the active and random screens and a per-target stopping screen."""
    s = {**SETTINGS, **settings}
    X, Y, names = load_matrix(s.pop("n_molecules"), s.pop("missing"))
    target = s.pop("target")
    histories = {
        "active": run(X, Y, "least_confidence", **s),
        "random": run(X, Y, "random", **s),
    }
    per_target = HybridScreenCV(
        make_model(),
        target=[target] * Y.shape[1],
        batch_size=s["batch_size"],
        random_state=s["random_state"],
    ).fit(X, Y)
    return {
        "histories": histories,
        "names": names,
        "n_cells": int(np.sum(~np.isnan(Y))),
        "cells_to_target": {
            name: labels_in_cells(h, target) for name, h in histories.items()
        },
        "per_target": per_target,
    }


if __name__ == "__main__":
    results = main()
    target = SETTINGS["target"]
    for name, cells in results["cells_to_target"].items():
        share = "not reached" if cells is None else f"{cells:,} cells"
        print(f"{name:>7}: cell-level system accuracy >= {target}: {share}")
    active = results["histories"]["active"]
    above = np.flatnonzero(active["system_lower_bound"] > target)
    if above.size:
        print(
            f"KL rule over cells would stop the active screen after "
            f"{active['n_observed_cells'][above[0]]:,} cells, true accuracy "
            f"{active['system_score'][above[0]]:.4f}"
        )
    screen = results["per_target"]
    print(
        f"per-target stop: {screen.termination_condition_} after "
        f"{screen.history_['n_observed_cells'][-1]:,} cells "
        f"({screen.history_['fraction_observed'][-1]:.0%} of the compounds)"
    )

# %%
# Accuracy over cells, and per target
# -----------------------------------
# Left: the system accuracy over all cells and its KL lower bound, against
# the cells measured. Right: the system accuracy of each target at the end
# of the active and random screens. Acquiring the compounds whose rows the
# models are least sure of removes the hard cells from the predicted part of
# the matrix, for every target.


def plot_cells(histories, names, target):
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    for name, h in histories.items():
        axes[0].plot(h["n_observed_cells"], h["system_score"], label=name)
    active = histories["active"]
    axes[0].plot(
        active["n_observed_cells"],
        active["system_lower_bound"],
        color="C0",
        ls="--",
        lw=1,
        label="active: KL lower bound",
    )
    axes[0].axhline(target, color="grey", lw=0.8)
    axes[0].set_xlabel("cells measured")
    axes[0].set_ylabel("system accuracy over cells")
    axes[0].set_ylim(0.5, 1.005)
    axes[0].legend(loc="lower right")
    width = 0.38
    positions = np.arange(len(names))
    for i, (name, h) in enumerate(histories.items()):
        final = [h[f"system_score_{j}"][-1] for j in range(len(names))]
        axes[1].bar(positions + (i - 0.5) * width, final, width, label=name)
    axes[1].set_xticks(positions, names)
    axes[1].set_ylim(0.8, 1.0)
    axes[1].set_ylabel("final system accuracy per target")
    for ax in axes:
        ax.grid(alpha=0.3)
    return fig


if __name__ == "__main__":
    plot_cells(results["histories"], results["names"], target)
