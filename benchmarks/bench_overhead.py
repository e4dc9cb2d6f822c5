"""Overhead of HybridScreenCV over a bare hand-written active-learning loop.

The bare loop is what one writes without the toolkit: refit the model on the
measured items, ``predict_proba`` on the rest, least-confidence scores and
``np.argpartition`` for the top batch. The screen's round is ``tell`` (refit,
predict and score the inference set, bounds, history, rollback snapshot)
then ``ask`` (top batch). Both run in the same process on the same data
with the same estimator, round after round on the *same* measured set (the
bare loop refits on the screen's observed items), alternating which goes
first, so that machine noise hits both alike. The ratio is total screen time
over total bare time; the goal is at most 1.03.

Data: a random sample of the MOSES library (ECFP4, 2048 bits, sparse CSR;
label Crippen logP above its median), cached by ``_moses.py``. Models:
``SGDClassifier(loss="log_loss")`` (a cheap fit, so the screen's fixed costs
show most) and ``LogisticRegression()``.

Usage::

    python benchmarks/bench_overhead.py --n-rows 100000 --rounds 40

Writes ``benchmarks/results/overhead.json``. One BLAS/OpenMP thread, screen
``n_jobs=1`` (the bare loop has no parallelism either).
"""

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from _moses import DEFAULT_CACHE, DEFAULT_MOSES, moses_library, subset  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.linear_model import LogisticRegression, SGDClassifier  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import sklearn_isd  # noqa: E402
from sklearn_isd import HybridScreenCV  # noqa: E402

HERE = Path(__file__).parent
MODELS = {
    "sgd": lambda seed: SGDClassifier(loss="log_loss", random_state=seed),
    "logreg": lambda seed: LogisticRegression(max_iter=1000),
}


def bare_round(estimator, X, y, observed_mask, batch_size):
    """One round of the hand-written loop; returns the batch it would take."""
    obs = np.flatnonzero(observed_mask)
    model = clone(estimator).fit(X[obs], y[obs])
    inference = np.flatnonzero(~observed_mask)
    proba = model.predict_proba(X[inference])
    scores = 1.0 - proba.max(axis=1)
    top = np.argpartition(-scores, batch_size - 1)[:batch_size]
    return inference[top]


def run(model_name, X, y, rounds, batch_size, initial, seed):
    estimator = MODELS[model_name](seed)
    screen = HybridScreenCV(
        estimator,
        acquisition="least_confidence",
        initial_batch_size=initial,
        batch_size=batch_size,
        stopping=None,
        n_jobs=1,
        random_state=seed,
    )
    batch = screen.ask(X)
    screen.tell(batch, y[batch])
    batch = screen.ask()
    screen_s, bare_s, overlap = [], [], []
    for r in range(rounds):
        # The screen's next tell refits on the measured items plus this
        # batch: the bare round does the same work on the same set.
        mask = screen.observed_mask_.copy()
        mask[batch] = True
        told = batch.copy()
        timings = {}
        for step in ("bare", "screen") if r % 2 == 0 else ("screen", "bare"):
            t0 = time.perf_counter()
            if step == "bare":
                chosen = bare_round(estimator, X, y, mask, told.size)
            else:
                screen.tell(told, y[told])
                batch = screen.ask()
            timings[step] = time.perf_counter() - t0
        bare_s.append(timings["bare"])
        screen_s.append(timings["screen"])
        overlap.append(float(np.isin(chosen, batch).mean()))
    return {
        "model": model_name,
        "screen_s": screen_s,
        "bare_s": bare_s,
        "ratio_total": float(np.sum(screen_s) / np.sum(bare_s)),
        "ratio_median": float(np.median(np.array(screen_s) / np.array(bare_s))),
        "batch_overlap": overlap,
        "fit_s": screen.history_["fit_time"][1:].tolist(),
        "score_s": screen.history_["score_time"][1:].tolist(),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--initial", type=float, default=0.01)
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default=DEFAULT_MOSES)
    parser.add_argument("--cache-dir", default=str(DEFAULT_CACHE))
    parser.add_argument("--out", default=str(HERE / "results" / "overhead.json"))
    args = parser.parse_args(argv)
    threadpool_limits(1)

    X_all, logp, info = moses_library(args.data, args.cache_dir)
    X, y = subset(X_all, logp, args.n_rows, args.seed)
    del X_all
    mem = Path("/proc/meminfo").read_text().split("\n")[0].split()[1]
    machine = {
        "cpu_count": os.cpu_count(),
        "ram_gb": round(int(mem) / 1024**2, 1),
        "python": platform.python_version(),
    }
    print(
        f"{X.shape[0]:,} MOSES molecules (ECFP4 CSR), logP > median; initial "
        f"{args.initial:.0%} random, batches of {args.batch_size}, {args.rounds} "
        f"rounds; {machine}  [threads blas=1 openmp=1, n_jobs=1]"
    )
    results = []
    print(
        "| model | screen s/round | bare s/round | ratio (total) | ratio (median) "
        "| goal <= 1.03 |"
    )
    print("|---|---|---|---|---|---|")
    for name in args.models:
        res = run(name, X, y, args.rounds, args.batch_size, args.initial, args.seed)
        results.append(res)
        print(
            f"| {name} | {np.median(res['screen_s']):.3f} | "
            f"{np.median(res['bare_s']):.3f} | {res['ratio_total']:.3f} | "
            f"{res['ratio_median']:.3f} | "
            f"{'holds' if res['ratio_total'] <= 1.03 else 'fails'} |",
            flush=True,
        )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(
        json.dumps(
            {
                "settings": vars(args),
                "machine": machine,
                "threads": "blas=1 openmp=1, screen n_jobs=1",
                "versions": {
                    "sklearn_isd": sklearn_isd.__version__,
                    "sklearn": sklearn.__version__,
                    "numpy": np.__version__,
                },
                "results": results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
