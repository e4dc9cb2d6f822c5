"""
===================================
A campaign from the command line
===================================

A lab that screens a compound library rarely runs Python: it runs commands
and exchanges files. ``sklearn-isd`` drives the same screen as
:class:`~sklearn_isd.HybridScreenCV` from a shell, one plate at a time::

    sklearn-isd start library.csv --smiles-col smiles --id-col id --out run
    # measure run/batch_000.csv, add a "value" column, then
    sklearn-isd tell run batch_000_measured.csv
    sklearn-isd status run
    # ... until tell says the target is reached; then
    sklearn-isd report run          # readout, provenance, report.html

Here the commands run in-process through :func:`sklearn_isd.cli.main` (the
function behind ``sklearn-isd``: it takes the same arguments and returns the
exit code), on 300 molecules of the embedded QM9 subset; the "lab" reads
each batch file and writes the measured values from the known labels. The
library has two broken rows, which ``--skip-invalid`` leaves out and lists.
Every command and option is on the :ref:`cli` page. The example runs in a
few seconds.
"""

# %%
# A library and a lab
# -------------------
import csv
import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt

from sklearn_isd.cli import main as sklearn_isd
from sklearn_isd.datasets import load_qm9

FULL = os.environ.get("SKLEARN_ISD_EXAMPLES_FULL") == "1"

#: Settings of :func:`main`; tests pass smaller ones.
SETTINGS = dict(n_molecules=300, batch_size=30, target=0.9, max_rounds=20)
if FULL:
    SETTINGS.update(n_molecules=2000, batch_size=100, target=0.95)


def write_library(path, n_molecules):
    """A library CSV (id, smiles) and the labels the lab will measure."""
    data = load_qm9(subset="embedded", task="classification")
    ids = [f"QM9-{i:05d}" for i in range(n_molecules)]
    rows = [[cid, smi] for cid, smi in zip(ids, data.data[:n_molecules])]
    rows[5][1] = "C1CC"  # an unclosed ring: not a molecule
    rows[9][0] = ""  # a row without an id
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "smiles"])
        writer.writerows(rows)
    return dict(zip(ids, (int(y) for y in data.target[:n_molecules])))


def measure(batch_file, results_file, truth):
    """The lab: the batch file with a "value" column added."""
    with open(batch_file, newline="") as handle:
        batch = list(csv.DictReader(handle))
    with open(results_file, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "smiles", "value"])
        for row in batch:
            writer.writerow([row["id"], row["smiles"], truth[row["id"]]])
    return len(batch)


def main(**settings):
    """Start, tell batch after batch, then report; return the campaign."""
    s = {**SETTINGS, **settings}
    folder = Path(s.get("folder") or tempfile.mkdtemp(prefix="sklearn-isd-"))
    library = folder / "library.csv"
    truth = write_library(library, s["n_molecules"])
    campaign = folder / "campaign"
    code = sklearn_isd(
        [
            "start",
            str(library),
            "--smiles-col",
            "smiles",
            "--id-col",
            "id",
            "--skip-invalid",
            "--classes",
            "0,1",
            "--batch-size",
            str(s["batch_size"]),
            "--target",
            str(s["target"]),
            "--out",
            str(campaign),
        ]
    )
    assert code == 0
    codes = []
    for round_ in range(s["max_rounds"]):
        batch_file = campaign / f"batch_{round_:03d}.csv"
        if not batch_file.exists():  # the screen stopped: no next batch
            break
        results = folder / f"measured_{round_:03d}.csv"
        measure(batch_file, results, truth)
        codes.append(sklearn_isd(["tell", str(campaign), str(results)]))
    assert codes and set(codes) == {0}
    assert sklearn_isd(["status", str(campaign)]) == 0
    assert sklearn_isd(["report", str(campaign)]) == 0
    return {"campaign": campaign, "report": campaign / "report", "truth": truth}


# %%
# Start, then tell each measured batch
# ------------------------------------
# ``start`` reports the two invalid rows and leaves them out; each ``tell``
# prints the round it recorded and the batch to measure next, until the
# lower bound on the system accuracy passes the target. ``status`` says
# where the campaign stands; ``report`` writes the readout.

if __name__ == "__main__":
    results = main()
    report = results["report"]
    print(sorted(p.name for p in report.iterdir()))

# %%
# The report
# ----------
# ``report`` writes ``readout.csv`` (a value for every compound: measured or
# predicted, with the model's confidence, the compound's scaffold and its
# similarity to the nearest measured compound), ``scaffolds.csv``,
# ``manifest.json`` (provenance), ``screen.png`` and ``report.html``: one
# self-contained page, plots inline, that a chemist can mail. Here is its
# plot of the rounds, and the first rows of the readout.

if __name__ == "__main__":
    image = plt.imread(report / "screen.png")
    fig, ax = plt.subplots(figsize=(9, 4.8))
    ax.imshow(image)
    ax.set_axis_off()
    with open(report / "readout.csv", newline="") as handle:
        readout = list(csv.DictReader(handle))
    measured = sum(row["source"] == "measured" for row in readout)
    correct = sum(int(row["value"]) == results["truth"][row["id"]] for row in readout)
    print(
        f"{len(readout)} compounds in the readout: {measured} measured, "
        f"{len(readout) - measured} predicted; true accuracy of the readout "
        f"(known here, not in a lab): {correct / len(readout):.3f}"
    )
    for row in readout[:5]:
        print({k: row[k] for k in ("id", "value", "source", "round", "confidence")})
