"""Labels each acquisition needs to reach a true system accuracy of 0.95 / 0.99.

Two libraries, each screened by every agent with :class:`~sklearn_isd.HybridScreenCV`
(``stopping=None``), until the true system accuracy (paper Eq. 1,
``history_["system_score"]``) has reached 0.99 or the screen has measured
``max_fraction`` of the library:

- ``--part qm9``: all of QM9 (133,885 molecules), gap above the median,
  ECFP4 2,048 bits, ``LogisticRegression(max_iter=1000)``, a random initial
  batch of 1 % and batches of 1 % (1,339), the setting of
  ``bench_labels.py``; seeds 0, 1, 2.
- ``--part resmlp``: the reference's 4,000-molecule library (see
  ``bench_reference.py``: their split, 2,000 bits, their initial 200
  molecules), batches of 200, :class:`~sklearn_isd.ResMLPClassifier` with its
  defaults (the reference architecture, the held-out 10 % for early
  stopping), up to 60 % of the library; seeds 0, 1, 2.

Agents:

- ``least_confidence``, ``margin``, ``entropy``: paper Eq. 3 and the two
  usual variants (for two classes all three rank items the same way);
- ``bald``: mutual information under Monte Carlo dropout, 5 passes (ResMLP
  only: a logistic regression has no dropout);
- ``diversity``: Tanimoto distance to the nearest measured molecule (ResMLP
  part only: on all of QM9 every round would compare ~10^5 x 10^4 pairs);
- ``mixture``: ``Mixture([("least_confidence", 0.8), ("random", 0.2)])``,
  the weights of the paper's main script;
- ``stochastic``: ``StochasticBatch("least_confidence", mode="power",
  beta=1)`` and ``stochastic_softrank`` (``mode="softrank", beta=1``),
  Kirsch et al. (TMLR 2023);
- ``random``;
- ``clairvoyant``: knows the labels and measures the items the current
  model mispredicts first, then the rest at random (``cheating`` in
  ``bench_labels.py``): not an agent, the yardstick.

The clairvoyant score and the diversity agent read each row's library index
from one extra last column that the model's pipeline drops (as in
``bench_labels.py``). The screen scores the 4,000-molecule library's
inference set in one chunk, so the diversity agent takes the measured set as
the library minus that chunk and binds :class:`~sklearn_isd.acquisition.Diversity`
to it (what a screen calling ``bind`` does itself).

Usage::

    python benchmarks/bench_acquisition.py --part qm9
    python benchmarks/bench_acquisition.py --part resmlp

Prints a table (labels as % of the library, mean over seeds, and the ratio
to the clairvoyant order at 0.99) and writes
``benchmarks/results/acquisition_<part>.json``. One thread (BLAS, OpenMP,
torch), printed next to every figure.
"""

import os

# Thread settings, before numpy and torch are imported.
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
import sklearn  # noqa: E402
import torch  # noqa: E402
from _common import (  # noqa: E402
    DEFAULT_DATA,
    place_initial_batch,
    qm9_sample,
    reference_qm9_split,
    thread_settings,
    thread_tag,
)
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import FunctionTransformer  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import sklearn_isd  # noqa: E402
from sklearn_isd import HybridScreenCV, OracleError, ResMLPClassifier  # noqa: E402
from sklearn_isd.acquisition import Diversity, Mixture, StochasticBatch  # noqa: E402
from sklearn_isd.datasets import QM9_GAP_MEDIAN  # noqa: E402

torch.set_num_threads(1)
torch.set_num_interop_threads(1)

RESULTS = Path(__file__).parent / "results"
TARGETS = (0.95, 0.99)
AGENTS = {
    "qm9": (
        "least_confidence",
        "margin",
        "entropy",
        "mixture",
        "stochastic",
        "stochastic_softrank",
        "random",
        "clairvoyant",
    ),
    "resmlp": (
        "least_confidence",
        "margin",
        "entropy",
        "bald",
        "diversity",
        "mixture",
        "stochastic",
        "random",
        "clairvoyant",
    ),
}
NOT_RUN = {
    "qm9": {
        "bald": "a logistic regression has no dropout to sample",
        "diversity": "every round would compare ~10^5 inference x 10^4 measured "
        "fingerprints (too slow on 2 shared cores)",
    },
    "resmlp": {},
}


# --------------------------------------------------------------------------
# The library with its row-index column
# --------------------------------------------------------------------------
def drop_index_column(X):
    return X[:, :-1]


def row_indices(X):
    return np.asarray(X[:, [-1]].toarray()).ravel().astype(np.intp)


def with_index_column(X):
    index = np.arange(X.shape[0], dtype=np.float64)
    return sp.hstack([X, sp.csr_matrix(index[:, None])], format="csr")


class Mispredicted:
    """Clairvoyant: 1.0 for items the current model gets wrong, else 0.0."""

    def __init__(self, y):
        self.y = np.asarray(y)

    def __call__(self, estimator, X):
        return (estimator.predict(X) != self.y[row_indices(X)]).astype(float)


class DiversityFromComplement:
    """``Diversity`` bound to the measured set: the library minus the chunk.

    Valid when the screen scores its whole inference set in one chunk (at
    most ``sklearn_isd._pool.POOL_CHUNK_SIZE`` rows), as on 4,000 molecules.
    """

    def __init__(self, library):
        self.library = library

    def __call__(self, estimator, X):
        inference = row_indices(X)
        measured = np.setdiff1d(np.arange(self.library.shape[0]), inference)
        return Diversity().bind(estimator, self.library[measured])(estimator, X)


def make_acquisition(agent, seed, y, library):
    if agent == "clairvoyant":
        return Mispredicted(y)
    if agent == "diversity":
        return DiversityFromComplement(library)
    if agent == "mixture":
        return Mixture([("least_confidence", 0.8), ("random", 0.2)], random_state=seed)
    if agent == "stochastic":
        return StochasticBatch(
            "least_confidence", mode="power", beta=1.0, random_state=seed
        )
    if agent == "stochastic_softrank":
        return StochasticBatch(
            "least_confidence", mode="softrank", beta=1.0, random_state=seed
        )
    return agent


class _Done(Exception):
    """Raised by the oracle once the true system accuracy reached 0.99."""


def make_oracle(y, holder):
    def oracle(indices):
        history = holder["screen"].history_
        if np.any(np.asarray(history["system_score"]) >= max(TARGETS)):
            raise _Done
        return y[indices]

    return oracle


# --------------------------------------------------------------------------
# The two parts
# --------------------------------------------------------------------------
def qm9_setup(args):
    X, gap, source = qm9_sample(args.data, 133885)
    y = (gap > QM9_GAP_MEDIAN).astype(int)
    model = Pipeline(
        [
            ("drop_index", FunctionTransformer(drop_index_column)),
            ("logreg", LogisticRegression(max_iter=1000)),
        ]
    )
    screen = dict(batch_size=0.01, max_fraction=1.0)
    return X, y, model, screen, dict(source=source, n_bits=X.shape[1])


def resmlp_setup(args):
    X, y, _, _, info = reference_qm9_split(args.data)
    model = Pipeline(
        [
            ("drop_index", FunctionTransformer(drop_index_column)),
            ("net", ResMLPClassifier()),
        ]
    )
    screen = dict(batch_size=200, initial_batch_size=200, max_fraction=0.6)
    return X, y, model, screen, info


def run(part, agent, seed, X, y, model, settings):
    holder = {}
    library = with_index_column(X)
    screen = HybridScreenCV(
        model,
        acquisition=make_acquisition(agent, seed, y, library),
        stopping=None,
        oracle=None,
        random_state=seed,
        **settings,
    )
    y_run = y
    if part == "resmlp":  # start from the reference's 200 molecules
        Xp, y_run, rows = place_initial_batch(screen, X, y, 200)
        library = with_index_column(Xp)
        screen.set_params(acquisition=make_acquisition(agent, seed, y_run, library))
    screen.set_params(oracle=make_oracle(y_run, holder))
    holder["screen"] = screen
    start, cpu = time.perf_counter(), time.process_time()
    try:
        screen.fit(library, y_run)
        ended = screen.termination_condition_
    except OracleError as exc:
        if not isinstance(exc.__cause__, _Done):
            raise
        ended = "reached 0.99"
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    history = screen.history_
    scores = np.asarray(history["system_score"])
    n_obs = np.asarray(history["n_observed"])
    reached = {}
    for target in TARGETS:
        hit = np.flatnonzero(scores >= target)
        reached[f"{target:g}"] = int(n_obs[hit[0]]) if hit.size else None
    return dict(
        agent=agent,
        seed=seed,
        ended=ended,
        n_rounds=int(screen.n_iter_),
        reached=reached,
        n_observed=n_obs.tolist(),
        system_score=[round(float(v), 5) for v in scores],
        inference_score=[round(float(v), 5) for v in history["inference_score"]],
        wall_time_s=round(wall, 1),
        cpu_time_s=round(cpu, 1),
    )


#: Fractions of the library at which the true system accuracy is reported.
AT = {"qm9": (0.1, 0.2, 0.3), "resmlp": (0.1, 0.2, 0.3, 0.4, 0.6)}


def accuracy_at(run, n_library, fraction):
    """True system accuracy once ``fraction`` of the library is measured.

    At the first round with at least that many labels (batches of 1 % of
    QM9 are 1,339 molecules: 10 batches are 10.001 %). None if the screen
    stopped before (it had reached 0.99).
    """
    n_obs = np.asarray(run["n_observed"])
    at = np.flatnonzero(n_obs >= round(fraction * n_library))
    return run["system_score"][at[0]] if at.size else None


def summarise(runs, n_library, fractions):
    summary = {}
    for agent in dict.fromkeys(r["agent"] for r in runs):
        mine = [r for r in runs if r["agent"] == agent]
        row = {}
        for fraction in fractions:
            values = [accuracy_at(r, n_library, fraction) for r in mine]
            row[f"acc_at_{fraction:g}"] = dict(
                per_seed=values,
                mean=(
                    round(float(np.mean(values)), 4)
                    if all(v is not None for v in values)
                    else None
                ),
            )
        for target in TARGETS:
            counts = [r["reached"][f"{target:g}"] for r in mine]
            ok = all(c is not None for c in counts)
            row[f"{target:g}"] = dict(
                reached_all=ok,
                per_seed=counts,
                mean_fraction=(
                    round(float(np.mean(counts)) / n_library, 4) if ok else None
                ),
            )
        summary[agent] = row
    for row in summary.values():
        for target in TARGETS:
            ref = summary.get("clairvoyant", {}).get(f"{target:g}", {})
            cell = row[f"{target:g}"]
            cell["ratio_to_clairvoyant"] = (
                round(cell["mean_fraction"] / ref["mean_fraction"], 2)
                if cell["mean_fraction"] and ref.get("mean_fraction")
                else None
            )
    return summary


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=("qm9", "resmlp"), required=True)
    parser.add_argument("--data", default=DEFAULT_DATA)
    parser.add_argument("--agents", nargs="+")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path)
    parser.add_argument(
        "--combine", type=Path, nargs="+", help="summarise earlier result files"
    )
    args = parser.parse_args(argv)
    agents = args.agents or list(AGENTS[args.part])
    out = args.out or RESULTS / f"acquisition_{args.part}.json"

    total = time.perf_counter()
    with threadpool_limits(limits=1):
        setup = qm9_setup if args.part == "qm9" else resmlp_setup
        X, y, model, settings, info = setup(args)
        threads = thread_settings()
        tag = thread_tag(threads)
        n = X.shape[0]
        print(f"{args.part}: {n} molecules, {X.shape[1]} bits {tag}", flush=True)
        runs = []
        if args.combine:
            for path in args.combine:
                runs += json.loads(path.read_text())["runs"]
        for seed in [] if args.combine else args.seeds:
            for agent in agents:
                r = run(args.part, agent, seed, X, y, model, settings)
                runs.append(r)
                print(
                    f"seed {seed} {agent:<20} 0.95 at {r['reached']['0.95']}, "
                    f"0.99 at {r['reached']['0.99']} ({r['ended']}, "
                    f"{r['n_rounds']} rounds, {r['cpu_time_s']:.0f} s CPU) {tag}",
                    flush=True,
                )
    summary = summarise(runs, n, AT[args.part])
    seeds = sorted({r["seed"] for r in runs})
    print(
        f"\nLabels (% of the {n:,} molecules, mean over seeds {seeds}) when the "
        f"true system accuracy first reached 0.95 / 0.99; ratio to the "
        f"clairvoyant order at 0.99 {tag}"
    )
    print(
        f"{'agent':<22}{'0.95':>10}{'0.99':>10}{'ratio':>8}"
        + "".join(f"{f'acc@{f:.0%}':>10}" for f in AT[args.part])
        + "  per seed (0.99)"
    )
    for agent, row in summary.items():
        cells = ""
        for target in TARGETS:
            cell = row[f"{target:g}"]
            text = (
                f"{cell['mean_fraction']:.1%}"
                if cell["reached_all"]
                else f"> {settings['max_fraction']:.0%}"
            )
            cells += f"{text:>10}"
        ratio = row["0.99"]["ratio_to_clairvoyant"]
        accs = ""
        for f in AT[args.part]:
            mean = row[f"acc_at_{f:g}"]["mean"]
            accs += f"{'>=0.99' if mean is None else f'{mean:.4f}':>10}"
        print(
            f"{agent:<22}{cells}{'' if ratio is None else f'{ratio:.2f}':>8}"
            f"{accs}  {row['0.99']['per_seed']}"
        )
    for agent, why in NOT_RUN[args.part].items():
        print(f"{agent:<22} not run: {why}")
    wall = time.perf_counter() - total
    print(f"total wall time {wall / 60:.1f} min")

    result = dict(
        benchmark=f"acquisition_{args.part}",
        description=(
            "labels to reach true system accuracy 0.95 / 0.99 by acquisition, "
            + (
                "all of QM9, LogisticRegression"
                if args.part == "qm9"
                else "4,000 QM9 molecules (reference split), ResMLPClassifier"
            )
        ),
        command=(
            f"python benchmarks/bench_acquisition.py --part {args.part} --agents "
            + " ".join(dict.fromkeys(r["agent"] for r in runs))
            + " --seeds "
            + " ".join(map(str, seeds))
        ),
        data=info,
        n_library=int(n),
        model=repr(model),
        screen=settings,
        not_run=NOT_RUN[args.part],
        seeds=seeds,
        threads=threads,
        summary=summary,
        runs=runs,
        total_wall_time_s=round(wall, 1),
        versions=dict(
            python=platform.python_version(),
            sklearn_isd=sklearn_isd.__version__,
            sklearn=sklearn.__version__,
            torch=torch.__version__,
            numpy=np.__version__,
        ),
        machine=dict(arch=platform.machine(), cpu_count=os.cpu_count()),
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"Wrote {out}")
    return result


if __name__ == "__main__":
    main()
