"""sklearn-isd, modAL and scikit-activeml running the same hybrid screen.

One hybrid screen, three tools: QM9 (HOMO-LUMO gap above its median, 0.2494
Ha) as ECFP4 fingerprints (Morgan radius 2, 2048 bits), a
``LogisticRegression(max_iter=1000)``, least-confidence acquisition, batches
of ``--batch-size`` items starting from the same random initial batch (the one
``HybridScreenCV(random_state=seed)`` draws), until ``--max-fraction`` of the
library is measured (no stopping rule). The tools:

- **sklearn-isd**: ``HybridScreenCV(..., stopping=None)`` driven with
  ``ask``/``tell``.
- **modAL** 0.4.2.1: ``ActiveLearner(estimator, uncertainty_sampling,
  X_training, y_training)``, ``query(X_pool, n_instances=...)``, ``teach``.
- **scikit-activeml** 1.0.1: ``SklearnClassifier`` (unlabelled items marked
  ``MISSING_LABEL``), ``clf.fit(X, y)`` then ``UncertaintySampling(
  method="least_confident").query(X, y, clf, fit_clf=False,
  batch_size=...)``.

A *round* is timed the same way for every tool: from the moment the labels of
a batch are revealed to the moment the tool has chosen the next batch, i.e.
refit on all labels so far, score the unlabelled pool and select (plus the
bookkeeping the tool's API asks of its user: slicing rows for modAL's
``teach`` and pool, writing the label vector for scikit-activeml). The last
round refits only (there is no next batch; ``HybridScreenCV.tell`` also
scores the remaining inference set for its readout). Wall clock
(``perf_counter``) and CPU time (``process_time``) per round.

After every round, outside the timed span, the true system accuracy of each
tool's hybrid readout is computed the same way for all three: measured labels
where the tool holds a label, its current model's ``predict`` elsewhere
(:func:`sklearn_isd.metrics.system_accuracy`). Labels to 0.95: the number of
measured items at the first round whose system accuracy reached 0.95.
Sanity checks that it is one screen: the Jaccard overlap of each round's
batch with sklearn-isd's batch of the same round and of the final labelled
sets, and, per seed, that ``HybridScreenCV.fit(X, y)`` records the same
``system_score`` per round as the ask/tell run.

Features: scikit-activeml 1.0.1 rejects sparse input (its ``check_array``
calls do not accept sparse matrices), so the main comparison feeds all three
tools the same dense float32 matrix (``--formats dense``). With ``sparse``
(CSR, what ``MorganFingerprint`` returns), sklearn-isd and modAL run on CSR
and scikit-activeml is skipped, its error recorded.

Setup, in a separate virtual environment (modAL pins ``skorch==0.9.0``,
which conflicts with sklearn-isd's ``skorch>=1.0``, and needs
scikit-learn < 1.8; see the comments of ``requirements-peers.txt``)::

    python -m venv benchmarks/.venv-peers
    benchmarks/.venv-peers/bin/pip install -r benchmarks/requirements-peers.txt
    benchmarks/.venv-peers/bin/pip install --no-deps -e .
    benchmarks/.venv-peers/bin/python benchmarks/bench_peers.py

Defaults: 10,000 molecules, batches of 100, up to 50 % measured (50
rounds), seeds 0 1 2, formats dense and sparse; 2.5-3 minutes
single-threaded on the shared 2-core development machine. It prints a
table and writes ``benchmarks/results/peers.json`` (settings, versions,
machine facts, per-round details). One thread (BLAS and OpenMP).
"""

import os

# Thread settings, before numpy is imported.
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from importlib.metadata import PackageNotFoundError, version  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
import sklearn  # noqa: E402
from _common import DEFAULT_DATA, qm9_sample  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from threadpoolctl import threadpool_info, threadpool_limits  # noqa: E402

from sklearn_isd import HybridScreenCV  # noqa: E402
from sklearn_isd.datasets import QM9_GAP_MEDIAN  # noqa: E402
from sklearn_isd.metrics import system_accuracy  # noqa: E402

try:  # the peers live in benchmarks/.venv-peers (see the docstring)
    import modAL.models.learners as _modal_learners
    from modAL.models import ActiveLearner
    from modAL.uncertainty import uncertainty_sampling
    from skactiveml.classifier import SklearnClassifier
    from skactiveml.pool import UncertaintySampling
    from skactiveml.utils import MISSING_LABEL, is_labeled
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise SystemExit(
        f"{exc}. Run this benchmark in its own environment:\n"
        "  python -m venv benchmarks/.venv-peers\n"
        "  benchmarks/.venv-peers/bin/pip install -r "
        "benchmarks/requirements-peers.txt\n"
        "  benchmarks/.venv-peers/bin/pip install --no-deps -e .\n"
        "  benchmarks/.venv-peers/bin/python benchmarks/bench_peers.py"
    ) from exc

DEFAULT_OUTPUT = Path(__file__).parent / "results" / "peers.json"
TARGET = 0.95
TOOLS = ("sklearn-isd", "modAL", "scikit-activeml")
ISD_SPLIT = ("fit_time_s", "score_time_s")
RATIOS = ("wall_ratio_vs_isd", "cpu_ratio_vs_isd", "batch_jaccard_vs_isd")

# modAL 0.4.2.1 passes check_X_y(force_all_finite=...) in ActiveLearner.teach:
# deprecated in scikit-learn 1.6 (a FutureWarning per call, silenced here) and
# removed in 1.8. requirements-peers.txt pins 1.7.2; on 1.8+ the keyword is
# renamed for modAL (recorded as modal_shim in the JSON).
warnings.filterwarnings(
    "ignore", message=".*force_all_finite.*", category=FutureWarning
)
MODAL_SHIM = tuple(int(p) for p in sklearn.__version__.split(".")[:2]) >= (1, 8)
if MODAL_SHIM:  # pragma: no cover - only with scikit-learn >= 1.8
    _check_X_y = _modal_learners.check_X_y

    def _modal_check_X_y(*args, force_all_finite=True, **kwargs):
        return _check_X_y(*args, ensure_all_finite=force_all_finite, **kwargs)

    _modal_learners.check_X_y = _modal_check_X_y


def make_model():
    return LogisticRegression(max_iter=1000)


def budget_of(n, max_fraction):
    """Items measured at most, as HybridScreenCV counts them."""
    return max(1, int(np.floor(max_fraction * n + 1e-9)))


def initial_batch(X, seed, args):
    """The random initial batch HybridScreenCV(random_state=seed) draws."""
    return make_screen(seed, args).ask(X)


def make_screen(seed, args):
    return HybridScreenCV(
        make_model(),
        acquisition="least_confidence",
        batch_size=args.batch_size,
        initial_batch_size=args.batch_size,
        stopping=None,
        max_fraction=args.max_fraction,
        random_state=seed,
    )


class Clock:
    """Wall and CPU seconds of one span."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


def record(rounds, clock, y, mask, predictions, batch):
    rounds.append(
        dict(
            n_observed=int(mask.sum()),
            wall_s=clock.wall,
            cpu_s=clock.cpu,
            system_accuracy=system_accuracy(y, predictions, mask),
            next_batch=np.asarray(batch, dtype=np.intp),
        )
    )


def run_isd(X, y, init, seed, args):
    screen = make_screen(seed, args)
    batch = screen.ask(X)  # the random initial batch: no model, not timed
    if not np.array_equal(batch, init):
        raise RuntimeError("HybridScreenCV drew a different initial batch.")
    rounds, readout_gap = [], 0
    while batch.size:
        labels = y[batch]  # the oracle
        with Clock() as clock:
            screen.tell(batch, labels)
            batch = screen.ask()
        mask = screen.observed_mask_
        predictions = screen.estimator_.predict(X)
        record(rounds, clock, y, mask, predictions, batch)
        # Its own split of the round (history_): refit, and predict + score.
        rounds[-1]["fit_time_s"] = float(screen.history_["fit_time"][-1])
        rounds[-1]["score_time_s"] = float(screen.history_["score_time"][-1])
        # The screen's own readout must agree with the common evaluation.
        readout_gap = max(
            readout_gap,
            abs(
                system_accuracy(y, screen.transduction_, mask)
                - rounds[-1]["system_accuracy"]
            ),
        )
    return rounds, mask.copy(), dict(readout_vs_predict_max_abs_diff=readout_gap)


def run_modal(X, y, init, seed, args):
    n = X.shape[0]
    budget = budget_of(n, args.max_fraction)
    mask = np.zeros(n, dtype=bool)
    batch, learner, rounds = init, None, []
    while batch.size:
        labels = y[batch]  # the oracle
        with Clock() as clock:
            if learner is None:  # ActiveLearner fits on the initial data
                learner = ActiveLearner(
                    estimator=make_model(),
                    query_strategy=uncertainty_sampling,
                    X_training=X[batch],
                    y_training=labels,
                )
            else:
                learner.teach(X[batch], labels)
            mask[batch] = True
            size = min(args.batch_size, budget - int(mask.sum()))
            if size > 0:
                pool = np.flatnonzero(~mask)
                query_idx, _ = learner.query(X[pool], n_instances=size)
                batch = pool[query_idx]
            else:
                batch = np.empty(0, dtype=np.intp)
        record(rounds, clock, y, mask, learner.predict(X), batch)
    return rounds, mask.copy(), {}


def run_skactiveml(X, y, init, seed, args):
    n = X.shape[0]
    budget = budget_of(n, args.max_fraction)
    y_partial = np.full(n, MISSING_LABEL)
    clf = SklearnClassifier(
        make_model(), classes=np.unique(y), missing_label=MISSING_LABEL
    )
    qs = UncertaintySampling(
        method="least_confident", missing_label=MISSING_LABEL, random_state=seed
    )
    batch, rounds = init, []
    while batch.size:
        labels = y[batch]  # the oracle
        with Clock() as clock:
            y_partial[batch] = labels
            clf.fit(X, y_partial)
            size = min(args.batch_size, budget - int(is_labeled(y_partial).sum()))
            if size > 0:
                batch = qs.query(X, y_partial, clf, fit_clf=False, batch_size=size)
            else:
                batch = np.empty(0, dtype=np.intp)
        mask = is_labeled(y_partial, missing_label=MISSING_LABEL)
        record(rounds, clock, y, mask, clf.predict(X), batch)
    return rounds, mask.copy(), {}


RUNNERS = {
    "sklearn-isd": run_isd,
    "modAL": run_modal,
    "scikit-activeml": run_skactiveml,
}


def jaccard(a, b):
    a, b = set(np.asarray(a).tolist()), set(np.asarray(b).tolist())
    return len(a & b) / len(a | b) if a | b else 1.0


def labels_to_target(rounds):
    for r in rounds:
        if r["system_accuracy"] >= TARGET:
            return r["n_observed"]
    return None


def check_fit_history(X, y, seed, args, isd_rounds):
    """Does HybridScreenCV.fit(X, y) record the ask/tell run's system scores?"""
    screen = make_screen(seed, args).fit(X, y)
    fit_scores = np.asarray(screen.history_["system_score"])
    ours = np.array([r["system_accuracy"] for r in isd_rounds])
    same_length = fit_scores.size == ours.size
    return dict(
        n_rounds=int(fit_scores.size),
        max_abs_diff=(
            float(np.max(np.abs(fit_scores - ours))) if same_length else None
        ),
    )


def run_format(X, y, fmt, args):
    runs = []
    for i, seed in enumerate(args.seeds):
        init = initial_batch(X, seed, args)
        # Rotate which tool runs first: the cores are shared, and a
        # neighbour's load should not always fall on the same tool.
        order = TOOLS[i % 3 :] + TOOLS[: i % 3]
        results = {}
        for tool in order:
            try:
                start = time.perf_counter()
                rounds, mask, extra = RUNNERS[tool](X, y, init, seed, args)
                total = time.perf_counter() - start
            except (TypeError, ValueError) as exc:  # scikit-activeml on CSR
                runs.append(dict(tool=tool, features=fmt, seed=seed, error=repr(exc)))
                print(f"{fmt:<6} seed {seed} {tool:<16} failed: {exc!r}", flush=True)
                continue
            results[tool] = (rounds, mask)
            runs.append(
                dict(
                    tool=tool,
                    features=fmt,
                    seed=seed,
                    n_rounds=len(rounds),
                    run_wall_s=round(total, 3),
                    final_n_observed=rounds[-1]["n_observed"],
                    final_system_accuracy=round(rounds[-1]["system_accuracy"], 5),
                    labels_to_target=labels_to_target(rounds),
                    rounds=rounds,
                    **extra,
                )
            )
            print(
                f"{fmt:<6} seed {seed} {tool:<16} {len(rounds)} rounds, "
                f"{sum(r['wall_s'] for r in rounds):6.2f} s in rounds "
                f"({total:.1f} s with evaluation), final system accuracy "
                f"{rounds[-1]['system_accuracy']:.4f}",
                flush=True,
            )
        isd_rounds, isd_mask = results["sklearn-isd"]
        for run in runs:
            if run["seed"] != seed or run["features"] != fmt or "error" in run:
                continue
            rounds, mask = results[run["tool"]]
            isd_t = [r["wall_s"] for r in isd_rounds]
            isd_c = [r["cpu_s"] for r in isd_rounds]
            for k, r in enumerate(rounds):
                if k < len(isd_rounds):
                    r["batch_jaccard_vs_isd"] = jaccard(
                        r["next_batch"], isd_rounds[k]["next_batch"]
                    )
                    r["wall_ratio_vs_isd"] = r["wall_s"] / isd_t[k]
                    r["cpu_ratio_vs_isd"] = r["cpu_s"] / isd_c[k] if isd_c[k] else None
            run["final_labelled_jaccard_vs_isd"] = round(
                jaccard(np.flatnonzero(mask), np.flatnonzero(isd_mask)), 4
            )
        if args.check_fit:
            check = check_fit_history(X, y, seed, args, isd_rounds)
            for run in runs:
                if (run["tool"], run["seed"], run["features"]) == (
                    "sklearn-isd",
                    seed,
                    fmt,
                ):
                    run["fit_history_check"] = check
    return runs


def summarise(runs, fmt):
    summary = {}
    for tool in TOOLS:
        tool_runs = [r for r in runs if r["tool"] == tool and r["features"] == fmt]
        ok = [r for r in tool_runs if "error" not in r]
        if not ok:
            if tool_runs:
                summary[tool] = dict(error=tool_runs[0]["error"])
            continue
        rounds = [x for r in ok for x in r["rounds"]]
        wall = np.array([x["wall_s"] for x in rounds])
        cpu = np.array([x["cpu_s"] for x in rounds])
        jac = [x["batch_jaccard_vs_isd"] for x in rounds if x["next_batch"].size]
        reached = [r["labels_to_target"] for r in ok]
        isd_total = {
            r["seed"]: sum(x["wall_s"] for x in r["rounds"])
            for r in runs
            if r["tool"] == "sklearn-isd" and r["features"] == fmt
        }
        if tool == "sklearn-isd":  # its own split of the round, from history_
            fit = np.array([x["fit_time_s"] for x in rounds])
            score = np.array([x["score_time_s"] for x in rounds])
            split = dict(
                history_fit_time_median_s=round(float(np.median(fit)), 5),
                history_score_time_median_s=round(float(np.median(score)), 5),
                rest_of_round_median_s=round(float(np.median(wall - fit - score)), 5),
            )
        else:
            split = {}
        summary[tool] = dict(
            n_runs=len(ok),
            **split,
            wall_per_round_median_s=round(float(np.median(wall)), 5),
            cpu_per_round_median_s=round(float(np.median(cpu)), 5),
            wall_total_mean_s=round(
                float(np.mean([sum(x["wall_s"] for x in r["rounds"]) for r in ok])), 3
            ),
            wall_ratio_vs_isd_median=round(
                float(np.median([x["wall_ratio_vs_isd"] for x in rounds])), 3
            ),
            cpu_ratio_vs_isd_median=round(
                float(
                    np.median(
                        [
                            x["cpu_ratio_vs_isd"]
                            for x in rounds
                            if x["cpu_ratio_vs_isd"] is not None
                        ]
                    )
                ),
                3,
            ),
            total_wall_ratio_vs_isd=round(
                float(
                    np.mean(
                        [
                            sum(x["wall_s"] for x in r["rounds"]) / isd_total[r["seed"]]
                            for r in ok
                        ]
                    )
                ),
                3,
            ),
            labels_to_target_mean=(
                float(np.mean(reached)) if None not in reached else None
            ),
            labels_to_target_per_seed=reached,
            final_system_accuracy_mean=round(
                float(np.mean([r["final_system_accuracy"] for r in ok])), 5
            ),
            batch_jaccard_vs_isd_mean=round(float(np.mean(jac)), 4),
            batch_jaccard_vs_isd_min=round(float(np.min(jac)), 4),
            final_labelled_jaccard_vs_isd_mean=round(
                float(np.mean([r["final_labelled_jaccard_vs_isd"] for r in ok])), 4
            ),
        )
    return summary


def machine_facts():
    facts = dict(
        machine=platform.machine(),
        os_cpu_count=os.cpu_count(),
        cores_usable=len(os.sched_getaffinity(0)),
    )
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                facts["cpu_model"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                facts["ram_gib"] = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    facts["processor"] = facts.get("cpu_model") or platform.processor()
    return facts


def versions():
    out = dict(python=platform.python_version())
    for name in (
        "sklearn-isd",
        "modAL-python",
        "scikit-activeml",
        "scikit-learn",
        "numpy",
        "scipy",
        "joblib",
        "threadpoolctl",
        "rdkit",
        "pandas",
        "pyarrow",
    ):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def thread_settings():
    pools = {}
    for pool in threadpool_info():
        pools[f"{pool['user_api']}:{pool['internal_api']}"] = pool["num_threads"]
    return dict(
        threadpoolctl=pools,
        **{
            v: os.environ.get(v)
            for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
        },
    )


def thread_tag(threads):
    apis = {}
    for key, n in threads["threadpoolctl"].items():
        apis.setdefault(key.split(":")[0], set()).add(n)
    return (
        "[threads "
        + " ".join(f"{api}={'/'.join(map(str, sorted(n)))}" for api, n in apis.items())
        + "]"
    )


def warm_up(X, y, args):
    """One small screen per tool first, so no import lands in a timed round."""
    small = argparse.Namespace(**vars(args))
    small.max_fraction = 0.3
    Xs, ys = X[:1000], y[:1000]
    init = initial_batch(Xs, 0, small)
    for tool, runner in RUNNERS.items():
        if tool == "scikit-activeml" and sp.issparse(X):
            continue
        runner(Xs, ys, init, 0, small)


def fmt_labels(value, n):
    return "no" if value is None else f"{value:.0f} ({value / n:.1%})"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=DEFAULT_DATA)
    parser.add_argument("--n-rows", type=int, default=10000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--max-fraction", type=float, default=0.5)
    parser.add_argument(
        "--formats", nargs="+", choices=("dense", "sparse"), default=["dense", "sparse"]
    )
    parser.add_argument(
        "--no-check-fit",
        dest="check_fit",
        action="store_false",
        help="skip the per-seed HybridScreenCV.fit(X, y) consistency check",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)

    load_start = (os.getloadavg(), time.time())
    with threadpool_limits(limits=1):
        X_csr, gap, source = qm9_sample(args.data, args.n_rows)
        y = (gap > QM9_GAP_MEDIAN).astype(int)
        threads = thread_settings()
        tag = thread_tag(threads)
        facts = machine_facts()
        vers = versions()
        print(
            f"{facts['cores_usable']} usable cores ({facts['os_cpu_count']} on the "
            f"machine), {facts.get('ram_gib')} GiB RAM, {facts['processor']}, "
            f"load average {load_start[0][0]:.2f} {tag}"
        )
        print("versions: " + ", ".join(f"{k} {v}" for k, v in vers.items()))
        if MODAL_SHIM:
            print("note: scikit-learn >= 1.8, modAL's check_X_y keyword is remapped")
        runs = []
        for fmt in args.formats:
            X = X_csr.toarray() if fmt == "dense" else X_csr
            warm_up(X, y, args)
            runs += run_format(X, y, fmt, args)
    load_end = os.getloadavg()

    n = X_csr.shape[0]
    summary = {fmt: summarise(runs, fmt) for fmt in args.formats}
    for run in runs:  # JSON-friendly rounds
        for r in run.get("rounds", ()):
            r["next_batch_size"] = int(r.pop("next_batch").size)
            for key in ("wall_s", "cpu_s", "system_accuracy") + ISD_SPLIT:
                if key in r:
                    r[key] = round(float(r[key]), 6)
            for key in RATIOS:
                if r.get(key) is not None:
                    r[key] = round(float(r[key]), 4)
    result = dict(
        benchmark="peers",
        description=(
            "The same hybrid screen (QM9 gap > median, ECFP4, "
            "LogisticRegression(max_iter=1000), least confidence, same initial "
            "batch and batch size) run by sklearn-isd, modAL and scikit-activeml: "
            "per-round time and labels to 0.95 true system accuracy"
        ),
        data=source,
        n_library=int(n),
        n_features=int(X_csr.shape[1]),
        positive_fraction=round(float(y.mean()), 4),
        task=f"QM9 gap > {QM9_GAP_MEDIAN} Ha",
        model="LogisticRegression(max_iter=1000)",
        acquisition="least confidence (1 - max p)",
        batch_size=args.batch_size,
        initial_batch=(
            "random, drawn by HybridScreenCV(random_state=seed), the same for all"
        ),
        max_fraction=args.max_fraction,
        stopping=None,
        target=TARGET,
        seeds=args.seeds,
        formats=args.formats,
        round_span=(
            "labels of a batch revealed -> next batch chosen: refit on all labels, "
            "score the pool, select (last round: refit only; sklearn-isd's tell "
            "also scores the inference set)"
        ),
        modal_shim=MODAL_SHIM,
        threads=threads,
        machine=facts,
        load_average=dict(start=load_start[0], end=load_end),
        versions=vers,
        summary=summary,
        runs=runs,
    )

    print(
        f"\nPeers benchmark: {n} molecules ({source}), ECFP4, LogisticRegression, "
        f"least confidence, batches of {args.batch_size} from the same random "
        f"initial batch up to {args.max_fraction:.0%} measured, seeds {args.seeds}"
    )
    print(
        "s/round: median wall (cpu) seconds per round over rounds and seeds; "
        "ratio: per-round time / sklearn-isd's in the same round, median over "
        "rounds and seeds (wall, cpu; total: ratio of summed wall time); "
        f"to {TARGET}: labels measured when the true system accuracy first "
        "reached it (mean over seeds); Jaccard: overlap of each round's batch "
        "with sklearn-isd's (mean, min), and of the final labelled sets."
    )
    for fmt in args.formats:
        kind = "dense float32" if fmt == "dense" else "sparse CSR"
        print(f"\n{kind} ECFP4 {tag}")
        print(
            f"{'tool':<16}{'s/round':>9}{'(cpu)':>8}{'ratio':>7}{'(cpu)':>7}"
            f"{'total':>7}{'to 0.95':>15}{'per seed':>20}{'final acc':>10}"
            f"{'Jaccard batch':>15}{'final':>7}"
        )
        for tool, s in summary[fmt].items():
            if "error" in s:
                print(f"{tool:<16} not run: {s['error'][:90]}")
                continue
            per_seed = "/".join(
                "no" if v is None else str(v) for v in s["labels_to_target_per_seed"]
            )
            print(
                f"{tool:<16}{s['wall_per_round_median_s']:>9.4f}"
                f"{s['cpu_per_round_median_s']:>8.4f}"
                f"{s['wall_ratio_vs_isd_median']:>7.2f}"
                f"{s['cpu_ratio_vs_isd_median']:>7.2f}"
                f"{s['total_wall_ratio_vs_isd']:>7.2f}"
                f"{fmt_labels(s['labels_to_target_mean'], n):>15}{per_seed:>20}"
                f"{s['final_system_accuracy_mean']:>10.4f}"
                f"{s['batch_jaccard_vs_isd_mean']:>8.3f}"
                f"{s['batch_jaccard_vs_isd_min']:>7.3f}"
                f"{s['final_labelled_jaccard_vs_isd_mean']:>7.3f}"
            )
    for fmt in args.formats:
        s = summary[fmt].get("sklearn-isd", {})
        if "history_fit_time_median_s" in s:
            print(
                f"sklearn-isd rounds, {fmt} (median s, from history_): refit "
                f"{s['history_fit_time_median_s']:.4f}, predict + score the "
                f"inference set {s['history_score_time_median_s']:.4f}, rest "
                f"(bookkeeping, bound, readout, selection) "
                f"{s['rest_of_round_median_s']:.4f}"
            )
    checks = [
        (r["features"], r["seed"], r["fit_history_check"]["max_abs_diff"])
        for r in runs
        if "fit_history_check" in r
    ]
    if checks:
        print(
            "HybridScreenCV.fit vs ask/tell, max |system_score difference| per "
            "format and seed: " + ", ".join(f"{f} {s}: {d}" for f, s, d in checks)
        )
    print(
        f"load average {load_start[0][0]:.2f} at start, {load_end[0]:.2f} at end "
        f"({facts['cores_usable']} cores)"
    )

    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"Wrote {args.output}")
    return result


if __name__ == "__main__":
    main()
