"""
=====================================
A lab in the loop: ask, measure, tell
=====================================

In a simulation, ``fit(X, y)`` reveals the labels from ``y``. In a lab the
labels come from measurements that take days, fail now and then, and outlive
the Python process that asked for them. The same screen is then driven by
hand:

1. :meth:`~sklearn_isd.HybridScreenCV.ask` proposes the next plate;
2. the lab measures it;
3. :meth:`~sklearn_isd.HybridScreenCV.tell` records the labels, refits the
   model and updates the lower bound on the system accuracy;
4. :meth:`~sklearn_isd.HybridScreenCV.save` keeps the campaign on disk, and
   :meth:`~sklearn_isd.HybridScreenCV.load` picks it up after a crash or a
   weekend;

until ``stop_`` says the readout is accurate enough. ``fit`` is a loop of
the same steps, so a campaign run by hand and a simulation with an oracle
make the same choices.

The library is 2,000 molecules of the embedded QM9 subset (labels: HOMO-LUMO
gap above the median), featurised once as Morgan fingerprints; the lab is
simulated by a small class that knows the labels and fails on a few wells of
each plate. The example runs in a few seconds.
"""

# %%
# A simulated lab
# ---------------
import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from sklearn_isd import HybridScreenCV, MorganFingerprint, OracleError
from sklearn_isd.datasets import load_qm9
from sklearn_isd.plotting import ScreenDisplay

FULL = os.environ.get("SKLEARN_ISD_EXAMPLES_FULL") == "1"

#: Settings of :func:`main`; tests pass smaller ones.
SETTINGS = dict(
    n_molecules=2000,
    plate_size=96,
    failure_rate=0.03,  # share of wells whose measurement fails
    target=0.9,
    random_state=0,
)
if FULL:
    SETTINGS.update(n_molecules=10_000)


class Lab:
    """Measures molecules; a few wells of every plate fail (NaN)."""

    def __init__(self, labels, failure_rate=0.0, random_state=0):
        self._labels = np.asarray(labels, dtype=float)
        self.failure_rate = failure_rate
        self._rng = np.random.default_rng(random_state)
        self.n_measured = 0

    def measure(self, indices):
        values = self._labels[indices].copy()
        values[self._rng.random(len(indices)) < self.failure_rate] = np.nan
        self.n_measured += len(indices)
        return values


def make_screen(plate_size, target, random_state):
    return HybridScreenCV(
        LogisticRegression(max_iter=1000),
        acquisition="least_confidence",
        batch_size=plate_size,
        target=target,  # stopping="kl": the paper's rule, delta=0.05
        random_state=random_state,
    )


# %%
# The campaign, plate by plate
# ----------------------------
# Failed wells are left out of ``tell``: every measured item needs a label,
# and an unmeasured one stays in the inference set, where a later plate may
# ask for it again. After every plate the campaign is saved; to show that a
# lost process loses nothing, the screen object is thrown away after every
# third plate and loaded back from its file. The file is a NumPy ``.npz``
# archive with a JSON manifest, not a pickle: the measured indices and
# labels, the rounds, the bounds and the screen's parameters. It does not
# hold the library, which is passed again to ``load``, nor the fitted model,
# which is refit from the measured labels.


def run_campaign(X, lab, path, *, plate_size, target, random_state):
    screen = make_screen(plate_size, target, random_state)
    plate_number = 0
    while not getattr(screen, "stop_", False):
        plate = screen.ask(X)
        labels = lab.measure(plate)
        ok = ~np.isnan(labels)
        if ok.any():  # failed wells stay pending: ask() returns them again
            screen.tell(plate[ok], labels[ok].astype(int))
        screen.save(path)
        plate_number += 1
        if plate_number % 3 == 0:  # the process dies; the file survives
            del screen
            screen = HybridScreenCV.load(path, X)
    return screen


def main(**settings):
    """Run the campaign by hand, then the same screen with ``fit`` and an oracle."""
    s = {**SETTINGS, **settings}
    smiles, y = load_qm9(return_X_y=True)
    smiles, y = smiles[: s["n_molecules"]], y[: s["n_molecules"]]
    X = MorganFingerprint().transform(smiles)
    params = {k: s[k] for k in ("plate_size", "target", "random_state")}
    lab = Lab(y, s["failure_rate"], s["random_state"])
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "campaign.isd.npz"
        screen = run_campaign(X, lab, path, **params)
        campaign_size = path.stat().st_size
    # The same screen, run by fit with the lab as an oracle (no failures).
    reliable = Lab(y, 0.0, s["random_state"])
    by_fit = make_screen(**params).set_params(oracle=reliable.measure).fit(X)
    return {
        "screen": screen,
        "by_fit": by_fit,
        "lab": lab,
        "smiles": smiles,
        "y": y,
        "campaign_size": campaign_size,
    }


if __name__ == "__main__":
    results = main()
    screen, lab = results["screen"], results["lab"]
    print(
        f"stopped: {screen.termination_condition_} after {screen.n_iter_} plates; "
        f"{lab.n_measured} wells used, {screen.observed_mask_.sum()} labels "
        f"measured; campaign file {results['campaign_size'] / 1024:.0f} KiB"
    )

# %%
# What the lab knows, and what it does not
# ----------------------------------------
# Without the true labels of the inference set, a real campaign records the
# lower bound on the system accuracy and the batch accuracies behind it: the
# accuracy of the predictions made on each plate before it was measured.
# :class:`~sklearn_isd.plotting.ScreenDisplay` draws them from ``history_``.
# Here we can also compare the readout with the truth, which a lab cannot.

if __name__ == "__main__":
    ScreenDisplay.from_estimator(screen, label="lab campaign")
    truth = results["y"]
    accuracy = np.mean(screen.transduction_ == truth)
    print(
        f"lower bound at the stop: {screen.history_['system_lower_bound'][-1]:.3f}; "
        f"true system accuracy (unknown to the lab): {accuracy:.3f}"
    )

# %%
# The hybrid readout
# ------------------
# The result of the campaign is a table with a label for every molecule:
# measured ones and predictions, with the round each label was measured in.

if __name__ == "__main__":
    readout = pd.DataFrame(
        {
            "smiles": results["smiles"],
            "label": screen.transduction_,
            "source": np.where(screen.observed_mask_, "measured", "predicted"),
            "round": screen.acquired_iter_,  # -1: predicted
        }
    )
    print(readout.head(8).to_string())
    print(readout["source"].value_counts().to_string())

# %%
# When the instrument fails: ``OracleError`` and ``resume``
# ---------------------------------------------------------
# With an ``oracle``, :meth:`~sklearn_isd.HybridScreenCV.fit` runs the loop
# by itself. If the oracle raises, the screen raises
# :class:`~sklearn_isd.OracleError` and keeps every label measured before;
# :meth:`~sklearn_isd.HybridScreenCV.resume` retries the batch once the
# instrument works again. Without failed wells, this screen makes the same
# choices as the campaign run by hand would.


class FlakyInstrument:
    """Fails once, on its third plate."""

    def __init__(self, lab):
        self.lab, self.n_calls = lab, 0

    def __call__(self, indices):
        self.n_calls += 1
        if self.n_calls == 3:
            raise ConnectionError("instrument offline")
        return self.lab.measure(indices)


if __name__ == "__main__":
    X = MorganFingerprint().transform(results["smiles"])
    reliable = Lab(results["y"], 0.0)
    flaky = make_screen(SETTINGS["plate_size"], SETTINGS["target"], 0)
    flaky.set_params(oracle=FlakyInstrument(reliable))
    try:
        flaky.fit(X)
    except OracleError as error:
        print(f"{type(error).__name__}: {str(error)[:90]}...")
        print(f"labels kept: {flaky.observed_mask_.sum()}")
    flaky.resume()
    same = np.array_equal(flaky.acquired_iter_, results["by_fit"].acquired_iter_)
    print(f"resumed and stopped: {flaky.termination_condition_}; same plates: {same}")
    plt.show()
