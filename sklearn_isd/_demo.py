"""The demo: a hybrid screen of QM9 HOMO-LUMO gaps on the embedded subset.

``python -m sklearn_isd demo`` (or ``sklearn-isd demo``) featurizes the
embedded 10,000-molecule QM9 subset as ECFP4, then runs a least-confidence
hybrid screen with the paper's KL stopping rule, driving the same
:meth:`~sklearn_isd.HybridScreenCV.ask` / :meth:`~sklearn_isd.HybridScreenCV.tell`
steps a lab would. Labels (gap above the full-set median) are revealed from
the data set, so the true system accuracy can be shown next to the bound.
"""

import csv
import sys
import time
from pathlib import Path

import numpy as np

from .utils._display import format_header, format_round, progress_bar


def write_readout(path, screen, smiles, confidence):
    """Write the hybrid readout of a fitted screen as CSV.

    Columns: ``index`` (row in the library), ``smiles``, ``label`` (measured
    or predicted), ``source`` (``measured`` or ``predicted``), ``round`` (the
    round the label was measured in, empty if predicted) and ``confidence``
    (the model's probability for the predicted class; empty if measured).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["index", "smiles", "label", "source", "round", "confidence"])
        for i, (smi, label) in enumerate(
            zip(smiles, screen.transduction_, strict=True)
        ):
            measured = bool(screen.observed_mask_[i])
            writer.writerow(
                [
                    i,
                    smi,
                    label,
                    "measured" if measured else "predicted",
                    int(screen.acquired_iter_[i]) if measured else "",
                    "" if measured else f"{confidence[i]:.4f}",
                ]
            )
    return path


def run_demo(
    *,
    n_molecules=None,
    batch_size=100,
    target=0.95,
    delta=0.05,
    output="hybrid_readout.csv",
    random_state=0,
    progress=True,
    out=None,
):
    """Run the demo screen and write its readout.

    Parameters
    ----------
    n_molecules : int or None, default=None
        Screen the first ``n_molecules`` of the embedded subset (all 10,000
        when None).
    batch_size : int, default=100
        Molecules measured per round (1 % of the subset).
    target, delta : float, default=0.95, 0.05
        The stopping rule's target system accuracy and failure probability.
    output : str or path, default="hybrid_readout.csv"
        Where to write the readout (see :func:`write_readout`).
    random_state : int, default=0
        Seed of the screen.
    progress : bool, default=True
        Show a progress bar (needs tqdm).
    out : file-like, default=None
        Where the table and summary are printed; None means ``sys.stdout``.

    Returns
    -------
    screen : HybridScreenCV
        The fitted screen.
    """
    from sklearn.linear_model import LogisticRegression

    from . import HybridScreenCV

    out = sys.stdout if out is None else out
    from .chem import MorganFingerprint
    from .datasets import load_qm9
    from .metrics import labels_to_target

    data = load_qm9(subset="embedded", task="classification")
    smiles, y = data.data, data.target
    if n_molecules is not None:
        smiles, y = smiles[:n_molecules], y[:n_molecules]
    t0 = time.perf_counter()
    X = MorganFingerprint(radius=2, n_bits=2048).transform(smiles)
    print(
        f"QM9 HOMO-LUMO gap screen: {len(y)} molecules (embedded subset), label = "
        f"gap > full-set median; ECFP4 featurized in {time.perf_counter() - t0:.1f} s.",
        file=out,
    )
    print(
        f"Model: LogisticRegression on ECFP4; acquisition: least confidence; "
        f"batch {batch_size}; stop when the KL lower bound on system accuracy "
        f"> {target} (delta={delta}).\n",
        file=out,
    )

    screen = HybridScreenCV(
        LogisticRegression(C=0.5, max_iter=1000),
        acquisition="least_confidence",
        batch_size=batch_size,
        target=target,
        delta=delta,
        random_state=random_state,
    )
    bar = progress_bar(len(y), unit="mol") if progress else None
    true_system = []  # known here because the labels come from the data set
    start = time.perf_counter()
    batch = screen.ask(X)
    while True:
        # The lab measures the batch; here the labels come from the data set.
        screen.tell(batch, y[batch])
        round_ = screen.n_iter_ - 1
        true_system.append(float(np.mean(screen.transduction_ == y)))
        table = dict(screen.history_, system_score=np.array(true_system))
        line = format_round(table, round_)
        header = format_header(table) if round_ == 0 else None
        if bar is not None:
            bar.update(batch.size)
            if header:
                bar.write(header, file=out)
            bar.write(line, file=out)
        else:
            if header:
                print(header, file=out)
            print(line, file=out)
        if screen.stop_:
            break
        batch = screen.ask()
    if bar is not None:
        bar.close()
    elapsed = time.perf_counter() - start

    confidence = np.full(len(y), np.nan)
    predicted = ~screen.observed_mask_
    if predicted.any():
        confidence[predicted] = screen.predict_proba(X[predicted]).max(axis=1)
    path = write_readout(output, screen, smiles, confidence)

    h = dict(screen.history_, system_score=np.array(true_system))
    n_obs = int(h["n_observed"][-1])
    crossing = labels_to_target(h, target)
    print(
        f"\nStopped after {screen.n_iter_} rounds ({screen.termination_condition_}) "
        f"in {elapsed:.1f} s.\n"
        f"Labels used at stop: {n_obs} of {len(y)} ({n_obs / len(y):.1%}).\n"
        f"Lower bound on system accuracy at stop: {h['system_lower_bound'][-1]:.4f}\n"
        f"True system accuracy at stop: {h['system_score'][-1]:.4f} "
        f"(target {target}).\n"
        f"True system accuracy first passed {target} at "
        f"{crossing:.1%} of the library measured.\n"
        f"Hybrid readout written to {path} "
        f"({n_obs} measured, {len(y) - n_obs} predicted).",
        file=out,
    )
    return screen
