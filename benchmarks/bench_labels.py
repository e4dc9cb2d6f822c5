"""Labels to reach a true system accuracy, and where the KL rule stops.

QM9 HOMO-LUMO gap classification (gap above the full-QM9 median,
``sklearn_isd.datasets.QM9_GAP_MEDIAN`` = 0.2494 Ha) from ECFP4 fingerprints,
screened with :class:`~sklearn_isd.HybridScreenCV` around a
``LogisticRegression(max_iter=1000)`` (``C=1.0``, not tuned) by three
acquisition strategies that share the model, the batches (1 % of the library
per round) and, per seed, the random initial batch:

- ``least_confidence``: the paper's acquisition (Eq. 3);
- ``random``: batches drawn uniformly from the inference set;
- ``cheating``: a clairvoyant acquisition that knows every true label and
  takes the items the current model *mispredicts* first (in random order),
  then the rest at random. It is an acquisition callable
  ``score(estimator, X) = 1.0 if mispredicted else 0.0``, with the screen's
  tie-breaking drawing at random among equal scores. To map the rows of a
  chunk back to their true labels, the library carries one extra last column
  holding each row's index, and the model is a pipeline whose first step
  (a ``FunctionTransformer``) drops that column, so every strategy fits the
  same ``LogisticRegression`` on the same 2048 bits.

Each screen runs with ``stopping=None`` (no stopping rule), recording in
``history_`` the true system accuracy of the readout (``system_score``:
measured labels plus predictions) and the KL lower bound on it
(``system_lower_bound``, :class:`~sklearn_isd.stopping.KLBound` with
``delta = 0.05``). A screen ends once its true system accuracy has reached
0.99 *and* its KL bound has passed 0.99 (so both stopping points below are
known), or when the whole library is measured.

Reported per strategy (mean over seeds, and per seed): the labels (% of the
library and count) measured when the true system accuracy first reached 0.95
and 0.99, and the round where the KL rule (target 0.95, then 0.99; delta
0.05; :func:`sklearn_isd.stopping.replay_stopping`) would have stopped, with
the true system accuracy there.

Usage::

    python benchmarks/bench_labels.py --seeds 0 1 2

The default library is the whole QM9 file (133,885 molecules; batches of
1,339); ``--n-rows`` samples fewer (with smaller batches the KL bound is
looser: a batch of ``b`` items that are all correct bounds the inference-set
accuracy by ``0.05 ** (1 / b)`` only). The logistic regression refits in a
fraction of a second, so three seeds take about two minutes on one core.

It prints a table and writes ``benchmarks/results/labels.json`` (settings,
versions, machine, per-seed per-round curves). Runs on one thread (BLAS and
OpenMP), printed next to every figure.
"""

import os

# Thread settings, before numpy is imported.
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
from _common import (  # noqa: E402
    DEFAULT_DATA,
    machine,
    meminfo_gib,
    qm9_sample,
    thread_settings,
    thread_tag,
    versions,
)
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import FunctionTransformer  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from sklearn_isd import HybridScreenCV, OracleError  # noqa: E402
from sklearn_isd.datasets import QM9_GAP_MEDIAN  # noqa: E402
from sklearn_isd.stopping import KLBound, replay_stopping  # noqa: E402

DEFAULT_OUTPUT = Path(__file__).parent / "results" / "labels.json"
STRATEGIES = ("least_confidence", "random", "cheating")
TARGETS = (0.95, 0.99)
DELTA = 0.05


# --------------------------------------------------------------------------
# The library with its row-index column, the model and the clairvoyant score
# --------------------------------------------------------------------------
def drop_index_column(X):
    """The fingerprint bits: every column but the last (the row index)."""
    return X[:, :-1]


def row_indices(X):
    """Library row of each item of ``X``, read from its last column."""
    return np.asarray(X[:, [-1]].toarray()).ravel().astype(np.intp)


def with_index_column(X):
    """``X`` (CSR) with one more column holding each row's index."""
    index = np.arange(X.shape[0], dtype=np.float64)
    if X.shape[0] >= 2**24 and X.dtype == np.float32:  # not exact in float32
        X = X.astype(np.float64)
    return sp.hstack([X, sp.csr_matrix(index[:, None])], format="csr")


def make_model(C):
    return Pipeline(
        [
            ("drop_index", FunctionTransformer(drop_index_column)),
            ("logreg", LogisticRegression(C=C, max_iter=1000)),
        ]
    )


class Mispredicted:
    """Clairvoyant acquisition: 1.0 for items the model gets wrong, else 0.0.

    Knows the true labels ``y`` of the library and reads each item's row
    from the index column; the screen breaks ties at random, so the
    mispredicted items come first in random order, then the rest at random.
    """

    def __init__(self, y):
        self.y = np.asarray(y)

    def __call__(self, estimator, X):
        return (estimator.predict(X) != self.y[row_indices(X)]).astype(float)


class _Done(Exception):
    """Raised by the oracle to end a screen early (both stops are known)."""


def make_oracle(y, holder):
    """Reveal labels from ``y``; stop once 0.99 is reached and certified.

    The oracle is called for the next batch after the last round was
    recorded in ``history_``; raising there ends ``fit`` (as an
    ``OracleError``) with every recorded round kept.
    """

    def oracle(indices):
        history = holder["screen"].history_
        if np.any(history["system_score"] >= max(TARGETS)) and np.any(
            history["system_lower_bound"] > max(TARGETS)
        ):
            raise _Done
        return y[indices]

    return oracle


# --------------------------------------------------------------------------
# One screen
# --------------------------------------------------------------------------
def first_reached(history, target):
    """Round at which the true system accuracy first reached ``target``."""
    reached = np.flatnonzero(history["system_score"] >= target)
    return int(reached[0]) if reached.size else None


def point(history, t, n_library):
    if t is None:
        return None
    n_obs = int(history["n_observed"][t])
    return dict(
        round=t,
        n_observed=n_obs,
        fraction_observed=round(n_obs / n_library, 4),
        system_score=round(float(history["system_score"][t]), 4),
        system_lower_bound=round(float(history["system_lower_bound"][t]), 4),
    )


def run_screen(library, y, *, strategy, seed, args):
    holder = {}
    acquisition = Mispredicted(y) if strategy == "cheating" else strategy
    screen = HybridScreenCV(
        make_model(args.C),
        acquisition=acquisition,
        batch_size=args.batch_size,
        stopping=None,
        target=min(TARGETS),
        delta=DELTA,
        max_fraction=1.0,
        oracle=make_oracle(y, holder),
        random_state=seed,
    )
    holder["screen"] = screen
    start, cpu_start = time.perf_counter(), time.process_time()
    try:
        screen.fit(library, y)
        ended = screen.termination_condition_
    except OracleError as exc:
        if not isinstance(exc.__cause__, _Done):
            raise
        ended = "target_certified"
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    history = screen.history_
    n = library.shape[0]
    kl_stops = {}
    for target in TARGETS:
        t = replay_stopping(KLBound(target=target, delta=DELTA), screen)
        # The recorded bound is KLBound(delta) too: both must agree.
        above = np.flatnonzero(history["system_lower_bound"] > target)
        assert t == (int(above[0]) if above.size else None), (t, above[:1])
        kl_stops[f"{target:g}"] = point(history, t, n)
    batch_score = np.asarray(history["batch_score"])
    run = dict(
        strategy=strategy,
        seed=seed,
        ended=ended,
        n_rounds=int(screen.n_iter_),
        wall_time_s=round(wall, 2),
        cpu_time_s=round(cpu, 2),
        fit_time_total_s=round(float(np.sum(history["fit_time"])), 2),
        score_time_total_s=round(float(np.sum(history["score_time"])), 2),
        initial_batch=np.flatnonzero(screen.acquired_iter_ == 0).tolist()[:5],
        true_target={
            f"{target:g}": point(history, first_reached(history, target), n)
            for target in TARGETS
        },
        kl_stop=kl_stops,
        curves=dict(
            n_observed=[int(v) for v in history["n_observed"]],
            system_score=[round(float(v), 5) for v in history["system_score"]],
            system_lower_bound=[
                round(float(v), 5) for v in history["system_lower_bound"]
            ],
            inference_score=[round(float(v), 5) for v in history["inference_score"]],
            batch_score=[
                None if np.isnan(v) else round(float(v), 5) for v in batch_score
            ],
        ),
    )
    if strategy == "cheating":
        # Rounds (after the initial one) whose whole batch was mispredicted
        # before its labels were revealed: the clairvoyant score at work.
        run["rounds_all_mispredicted"] = int(np.sum(batch_score[1:] == 0.0))
    return run


# --------------------------------------------------------------------------
# Summary and table
# --------------------------------------------------------------------------
def summarise(runs, key, target):
    points = [r[key][f"{target:g}"] for r in runs]
    if any(p is None for p in points):
        return dict(reached_all=False, per_seed=points)

    def mean(key, digits):
        return round(float(np.mean([p[key] for p in points])), digits)

    return dict(
        reached_all=True,
        fraction_observed=mean("fraction_observed", 4),
        n_observed=mean("n_observed", 1),
        system_score=mean("system_score", 4),
        per_seed_n_observed=[p["n_observed"] for p in points],
        per_seed_system_score=[p["system_score"] for p in points],
        per_seed_below_target=int(sum(p["system_score"] < target for p in points)),
    )


def cell(summary, with_accuracy=False):
    if not summary["reached_all"]:
        return "not reached"
    text = f"{summary['fraction_observed']:.1%} ({summary['n_observed']:.0f})"
    if with_accuracy:
        text += f" acc {summary['system_score']:.4f}"
    return text


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=DEFAULT_DATA)
    parser.add_argument(
        "--n-rows",
        type=int,
        default=133885,
        help="molecules sampled from --data (default: all of QM9)",
    )
    parser.add_argument("--batch-size", type=float, default=0.01)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--C", type=float, default=1.0)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    if args.batch_size >= 1:
        args.batch_size = int(args.batch_size)

    total_start = time.perf_counter()
    cores, ram = os.cpu_count(), meminfo_gib()
    with threadpool_limits(limits=1):
        X, gap, source = qm9_sample(args.data, args.n_rows)
        y = (gap > QM9_GAP_MEDIAN).astype(int)
        library = with_index_column(X)
        assert np.array_equal(row_indices(library), np.arange(X.shape[0]))
        threads = thread_settings()
        tag = thread_tag(threads)
        print(
            f"{X.shape[0]} molecules ({source}), {cores} cores, {ram} GiB RAM {tag}",
            flush=True,
        )
        runs = []
        for i, seed in enumerate(args.seeds):
            # Rotate the order: the cores are shared with other processes.
            order = STRATEGIES[i % 3 :] + STRATEGIES[: i % 3]
            for strategy in order:
                run = run_screen(library, y, strategy=strategy, seed=seed, args=args)
                runs.append(run)
                reach = run["true_target"]
                print(
                    f"seed {seed} {strategy:<17}{run['n_rounds']:>4} rounds "
                    f"({run['ended']}), 0.95 at {reach['0.95']['n_observed']}, "
                    f"0.99 at {reach['0.99']['n_observed']}, "
                    f"{run['wall_time_s']:.1f} s {tag}",
                    flush=True,
                )
    total_wall = time.perf_counter() - total_start

    # The three strategies of a seed share the initial batch.
    for seed in args.seeds:
        firsts = {tuple(r["initial_batch"]) for r in runs if r["seed"] == seed}
        assert len(firsts) == 1, firsts

    summary = {}
    for strategy in STRATEGIES:
        mine = [r for r in runs if r["strategy"] == strategy]
        summary[strategy] = dict(
            true_target={f"{t:g}": summarise(mine, "true_target", t) for t in TARGETS},
            kl_stop={f"{t:g}": summarise(mine, "kl_stop", t) for t in TARGETS},
            wall_time_s=round(float(np.sum([r["wall_time_s"] for r in mine])), 1),
        )

    result = dict(
        benchmark="labels",
        description=(
            "QM9 gap > median (ECFP4), LogisticRegression: labels to reach true "
            "system accuracy 0.95 / 0.99 and KL-rule stopping points, least "
            "confidence vs random vs a clairvoyant 'cheating' acquisition"
        ),
        command="python benchmarks/bench_labels.py "
        + f"--n-rows {args.n_rows} --batch-size {args.batch_size} "
        + "--seeds "
        + " ".join(map(str, args.seeds)),
        data=source,
        n_library=int(X.shape[0]),
        n_features=int(X.shape[1]),
        positive_fraction=round(float(y.mean()), 4),
        task=f"QM9 gap > {QM9_GAP_MEDIAN} Ha",
        model=dict(
            pipeline="FunctionTransformer(drop index column) -> LogisticRegression",
            C=args.C,
            max_iter=1000,
            solver="lbfgs",
        ),
        strategies=dict(
            least_confidence="HybridScreenCV acquisition='least_confidence'",
            random="HybridScreenCV acquisition='random'",
            cheating=(
                "score = 1.0 if the current model mispredicts the item (true "
                "labels known) else 0.0; ties at random: mispredicted items "
                "first in random order, then the rest at random"
            ),
        ),
        batch_size=args.batch_size,
        initial_batch="random, batch_size, shared by the strategies of a seed",
        stopping=None,
        kl_rule=dict(rule="KLBound", targets=list(TARGETS), delta=DELTA),
        screens_end=(
            "once true system accuracy >= 0.99 and KL bound > 0.99, or all measured"
        ),
        seeds=args.seeds,
        threads=threads,
        summary=summary,
        runs=runs,
        total_wall_time_s=round(total_wall, 1),
        versions=versions(),
        machine=machine(),
    )

    n = X.shape[0]
    print(
        f"\nLabels benchmark: {n} molecules ({source}), ECFP4, gap > "
        f"{QM9_GAP_MEDIAN} Ha, LogisticRegression(C={args.C}), batches of "
        f"{args.batch_size}, seeds {args.seeds}, KL rule delta {DELTA}"
    )
    print(
        "Labels measured (% of library, mean count) when the true system "
        "accuracy first reached the target, and where the KL rule would stop "
        "(with the true system accuracy there); mean over seeds"
    )
    header = (
        f"{'strategy':<18}{'true 0.95':>16}{'true 0.99':>16}"
        f"{'KL stop 0.95':>30}{'KL stop 0.99':>30}"
    )
    print(header)
    for strategy, s in summary.items():
        print(
            f"{strategy:<18}{cell(s['true_target']['0.95']):>16}"
            f"{cell(s['true_target']['0.99']):>16}"
            f"{cell(s['kl_stop']['0.95'], True):>30}"
            f"{cell(s['kl_stop']['0.99'], True):>30}  {tag}"
        )
    print("\nPer seed (labels; KL stops with true system accuracy):")
    for strategy, s in summary.items():
        parts = []
        for key in ("true_target", "kl_stop"):
            for t in TARGETS:
                row = s[key][f"{t:g}"]
                if not row["reached_all"]:
                    continue
                label = f"{'true' if key == 'true_target' else 'KL'} {t:g}"
                counts = ", ".join(map(str, row["per_seed_n_observed"]))
                if key == "kl_stop":
                    accs = ", ".join(f"{a:.4f}" for a in row["per_seed_system_score"])
                    counts += f" (acc {accs})"
                parts.append(f"{label}: {counts}")
        print(f"  {strategy:<17} " + "; ".join(parts))
    print(f"\nTotal wall time {total_wall:.1f} s on {cores} cores, {ram} GiB RAM")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"Wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
