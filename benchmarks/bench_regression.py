"""Committee ``std`` vs ``random`` acquisition for QM9 gap regression (eV).

A regression screen of QM9 HOMO-LUMO gaps (in eV) from ECFP4 fingerprints,
with two committees: (a) a :class:`~sklearn.ensemble.RandomForestRegressor`
of 100 trees and (b) a vectorised :class:`~sklearn_isd.ResMLPRegressor`
committee of 5 members, scaled for a CPU (hidden 128, 2 blocks, at most 30
epochs, patience 5, mini-batches of 128). Each model screens the same library
twice, acquiring by committee spread (``acquisition="std"``) or at random,
with the same batch sizes (5 % of the library per round), no stopping
rule, up to 50 % measured. At 10, 20, 30 and 50 % measured, the mean squared
error of the predictions on the inference set (the items not measured) is
read from ``history_["inference_mse"]``; the ratio std / random below 1 says
that acquiring by committee spread left an easier set to predict.

Usage::

    python benchmarks/bench_regression.py --n-rows 3000 --seeds 0 1

It prints a table and writes ``benchmarks/results/regression.json``. Runs on
one thread (BLAS, OpenMP and torch), printed next to every figure.
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
import sklearn  # noqa: E402
import skorch  # noqa: E402
import torch  # noqa: E402
from _common import (  # noqa: E402
    DEFAULT_DATA,
    qm9_sample,
    thread_settings,
    thread_tag,
)
from sklearn.ensemble import RandomForestRegressor  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from sklearn_isd import HybridScreenCV, ResMLPRegressor  # noqa: E402

torch.set_num_threads(1)
torch.set_num_interop_threads(1)

DEFAULT_OUTPUT = Path(__file__).parent / "results" / "regression.json"
HARTREE_TO_EV = 27.211386245988
CHECKPOINTS = (0.1, 0.2, 0.3, 0.5)


def load_library(path, n_rows, seed=0):
    """QM9 sample (see ``_common.qm9_sample``) with this benchmark's target."""
    X, gap, source = qm9_sample(path, n_rows, seed)
    return X, gap * HARTREE_TO_EV, source


def make_models(args):
    """The two committees; random_state is left to the screen to seed."""
    return {
        "random_forest": RandomForestRegressor(
            n_estimators=100, n_jobs=1, random_state=None
        ),
        "resmlp": ResMLPRegressor(
            n_members=5,
            module__hidden_size=args.hidden_size,
            module__n_blocks=2,
            module__dropout=0.1,
            lr=1e-3,
            max_grad_norm=1.0,
            max_epochs=args.max_epochs,
            patience=args.patience,
            validation_fraction=0.1,
            batch_size=args.train_batch_size,
        ),
    }


def at_checkpoints(history, key):
    """``history[key]`` at the first round measuring each checkpoint fraction."""
    fractions = np.asarray(history["fraction_observed"])
    values = {}
    for f in CHECKPOINTS:
        reached = np.flatnonzero(fractions >= f - 1e-9)
        values[f"{f:.0%}"] = (
            dict(
                fraction_observed=round(float(fractions[reached[0]]), 4),
                value=float(history[key][reached[0]]),
            )
            if reached.size
            else None
        )
    return values


def run_screen(model, X, y, *, acquisition, seed, args):
    screen = HybridScreenCV(
        model,
        acquisition=acquisition,
        batch_size=args.batch_size,
        stopping=None,
        max_fraction=max(CHECKPOINTS),
        random_state=seed,
    )
    start = time.perf_counter()
    screen.fit(X, y)
    wall = time.perf_counter() - start
    history = screen.history_
    return dict(
        seed=seed,
        acquisition=acquisition,
        n_rounds=int(screen.n_iter_),
        wall_time_s=round(wall, 2),
        fit_time_total_s=round(float(np.sum(history["fit_time"])), 2),
        score_time_total_s=round(float(np.sum(history["score_time"])), 2),
        inference_mse=at_checkpoints(history, "inference_mse"),
        inference_mae=at_checkpoints(history, "inference_mae"),
        inference_mse_per_round=[round(float(v), 5) for v in history["inference_mse"]],
        fraction_observed_per_round=[
            round(float(v), 4) for v in history["fraction_observed"]
        ],
    )


def mean_at(runs, key, checkpoint):
    return float(np.mean([r[key][checkpoint]["value"] for r in runs]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=DEFAULT_DATA)
    parser.add_argument("--n-rows", type=int, default=3000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--models", nargs="+", default=["random_forest", "resmlp"])
    parser.add_argument("--hidden-size", type=int, default=128)
    parser.add_argument("--max-epochs", type=int, default=30)
    parser.add_argument("--patience", type=int, default=5)
    parser.add_argument("--train-batch-size", type=int, default=128)
    parser.add_argument("--batch-size", type=float, default=0.05)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)

    with threadpool_limits(limits=1):
        X, y, source = load_library(args.data, args.n_rows)
        # One tiny fit first: the first optimizer imports torch._dynamo (seconds).
        ResMLPRegressor(max_epochs=1).fit(X[:64], y[:64])
        threads = thread_settings()
        tag = thread_tag(threads)
        models = make_models(args)
        runs = {name: [] for name in args.models}
        for name in args.models:
            for i, seed in enumerate(args.seeds):
                order = ("std", "random") if i % 2 == 0 else ("random", "std")
                for acquisition in order:
                    run = run_screen(
                        models[name],
                        X,
                        y,
                        acquisition=acquisition,
                        seed=seed,
                        args=args,
                    )
                    runs[name].append(run)
                    print(
                        f"{name} seed {seed} {acquisition:<6} {run['n_rounds']} "
                        f"rounds, {run['wall_time_s']:.1f} s {tag}",
                        flush=True,
                    )

    summary = {}
    for name, model_runs in runs.items():
        by = {
            a: [r for r in model_runs if r["acquisition"] == a]
            for a in ("std", "random")
        }
        summary[name] = {}
        for c in (f"{f:.0%}" for f in CHECKPOINTS):
            mse = {a: mean_at(by[a], "inference_mse", c) for a in by}
            summary[name][c] = dict(
                inference_mse_std=round(mse["std"], 5),
                inference_mse_random=round(mse["random"], 5),
                ratio_std_random=round(mse["std"] / mse["random"], 4),
                ratio_per_seed=[
                    round(
                        s["inference_mse"][c]["value"] / r["inference_mse"][c]["value"],
                        4,
                    )
                    for s, r in zip(by["std"], by["random"])
                ],
            )

    result = dict(
        benchmark="regression",
        description=(
            "QM9 gap regression (eV): inference-set MSE of committee-std vs "
            "random acquisition at equal budget"
        ),
        data=source,
        n_library=int(X.shape[0]),
        n_features=int(X.shape[1]),
        target="HOMO-LUMO gap, eV",
        target_mean=round(float(y.mean()), 4),
        target_std=round(float(y.std()), 4),
        batch_size=args.batch_size,
        max_fraction=max(CHECKPOINTS),
        stopping=None,
        checkpoints=[f"{f:.0%}" for f in CHECKPOINTS],
        seeds=args.seeds,
        models=dict(
            random_forest=dict(n_estimators=100, max_features=1.0, n_jobs=1),
            resmlp=dict(
                n_members=5,
                hidden_size=args.hidden_size,
                n_blocks=2,
                dropout=0.1,
                lr=1e-3,
                max_grad_norm=1.0,
                max_epochs=args.max_epochs,
                patience=args.patience,
                validation_fraction=0.1,
                train_batch_size=args.train_batch_size,
                bootstrap=True,
            ),
        ),
        threads=threads,
        summary=summary,
        runs=runs,
        versions=dict(
            python=platform.python_version(),
            torch=torch.__version__,
            skorch=skorch.__version__,
            sklearn=sklearn.__version__,
            numpy=np.__version__,
        ),
        machine=platform.machine(),
        processor=platform.processor() or platform.machine(),
    )

    print(
        f"\nRegression benchmark: {X.shape[0]} molecules ({source}), ECFP4, gap "
        f"in eV (std {y.std():.3f}), batches of {args.batch_size} up to 50 %, "
        f"seeds {args.seeds}"
    )
    print(
        "Inference-set MSE (eV^2) at each fraction measured, mean over seeds; "
        "ratio < 1: std beats random"
    )
    print(f"{'model':<15}{'measured':>9}{'std':>9}{'random':>9}{'ratio':>8}")
    for name, rows in summary.items():
        for c, row in rows.items():
            print(
                f"{name:<15}{c:>9}{row['inference_mse_std']:>9.4f}"
                f"{row['inference_mse_random']:>9.4f}{row['ratio_std_random']:>8.3f}"
                f"  {tag}"
            )

    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"Wrote {args.output}")
    return result


if __name__ == "__main__":
    main()
