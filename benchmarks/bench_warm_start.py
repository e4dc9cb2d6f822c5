"""Warm-started vs cold ResMLP screens: fit time and accuracy per round.

The same hybrid screen is run twice on QM9 (HOMO-LUMO gap above its median,
ECFP4 fingerprints): once refitting a fresh :class:`~sklearn_isd.ResMLPClassifier`
every round (``warm_start=False``, the default) and once continuing from the
previous round's weights (``warm_start=True``; see the Notes of
:class:`~sklearn_isd.HybridScreenCV`). Least-confidence acquisition, a fixed
number of rounds (``stopping=None`` up to ``max_fraction``), batches of 1 % of
the library. The net follows the paper's Appendix B (Adam, lr 1e-3, gradient
clipping 1.0, dropout 0.1, early stopping on a 10 % validation split) scaled
for a CPU: hidden 256, 2 residual blocks, at most 30 epochs, patience 5,
mini-batches of 128.

Reported per strategy (mean over seeds, with each seed in the JSON): the
median and total refit time per round, epochs trained per round, the final
true system accuracy and inference accuracy, and the fraction of the library
measured when the true system accuracy first reached 0.95
(:func:`sklearn_isd.metrics.labels_to_target`; "not reached" if it never did
within ``max_fraction``).

Usage::

    python benchmarks/bench_warm_start.py --n-rows 5000 --seeds 0 1 2

It prints a table and writes ``benchmarks/results/warm_start.json``. Runs on
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
from skorch.callbacks import Callback  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from sklearn_isd import HybridScreenCV, ResMLPClassifier  # noqa: E402
from sklearn_isd.datasets import QM9_GAP_MEDIAN  # noqa: E402
from sklearn_isd.metrics import labels_to_target  # noqa: E402

torch.set_num_threads(1)
torch.set_num_interop_threads(1)

DEFAULT_OUTPUT = Path(__file__).parent / "results" / "warm_start.json"
TARGET = 0.95


class FitClock(Callback):
    """Send ``(epochs, cpu_s)`` of every fit to ``sink`` (survives clones).

    CPU time of the training loop only (not the copy of the previous model a
    warm screen makes), robust to other processes sharing the cores, unlike
    the wall-clock ``fit_time`` of ``history_``. Epochs are counted when they
    begin: early stopping ends the last one before later callbacks see it.
    """

    def __init__(self, sink):
        self.sink = sink

    def on_train_begin(self, net, **kwargs):
        self.epochs_ = 0
        self.start_ = time.process_time()

    def on_epoch_begin(self, net, **kwargs):
        self.epochs_ += 1

    def on_train_end(self, net, **kwargs):
        self.sink((self.epochs_, time.process_time() - self.start_))


def load_library(path, n_rows, seed=0):
    """QM9 sample (see ``_common.qm9_sample``) with this benchmark's target."""
    X, gap, source = qm9_sample(path, n_rows, seed)
    return X, (gap > QM9_GAP_MEDIAN).astype(int), source


def run_screen(X, y, *, warm_start, seed, args):
    fits = []
    net = ResMLPClassifier(
        module__hidden_size=args.hidden_size,
        module__n_blocks=args.n_blocks,
        module__dropout=0.1,
        lr=1e-3,
        max_grad_norm=1.0,
        max_epochs=args.max_epochs,
        patience=args.patience,
        validation_fraction=0.1,
        batch_size=args.train_batch_size,
        warm_start=warm_start,
        callbacks=[("clock", FitClock(fits.append))],
    )
    screen = HybridScreenCV(
        net,
        acquisition="least_confidence",
        batch_size=args.batch_size,
        stopping=None,
        max_fraction=args.max_fraction,
        random_state=seed,
    )
    start, cpu_start = time.perf_counter(), time.process_time()
    screen.fit(X, y)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    history = screen.history_
    epochs, fit_cpu = (np.array(v) for v in zip(*fits))
    reached = bool(np.any(history["system_score"] >= TARGET))
    return dict(
        seed=seed,
        warm_start=warm_start,
        n_rounds=int(screen.n_iter_),
        wall_time_s=round(wall, 3),
        cpu_time_s=round(cpu, 3),
        fit_time_median_s=round(float(np.median(history["fit_time"])), 4),
        fit_time_total_s=round(float(np.sum(history["fit_time"])), 3),
        score_time_total_s=round(float(np.sum(history["score_time"])), 3),
        train_cpu_median_s=round(float(np.median(fit_cpu)), 4),
        train_cpu_total_s=round(float(np.sum(fit_cpu)), 3),
        epochs_median=float(np.median(epochs)),
        epochs_total=int(np.sum(epochs)),
        final_fraction_observed=float(history["fraction_observed"][-1]),
        final_system_accuracy=round(float(history["system_score"][-1]), 4),
        final_inference_accuracy=round(float(history["inference_score"][-1]), 4),
        labels_to_target=(
            float(labels_to_target(history, TARGET)) if reached else None
        ),
        fit_time_per_round_s=[round(float(t), 4) for t in history["fit_time"]],
        epochs_per_round=[int(e) for e in epochs],
        train_cpu_per_round_s=[round(float(t), 4) for t in fit_cpu],
        system_accuracy_per_round=[round(float(s), 4) for s in history["system_score"]],
    )


def summarise(runs):
    def mean(key):
        return float(np.mean([r[key] for r in runs]))

    reached = [r["labels_to_target"] for r in runs]
    return dict(
        fit_time_median_s=round(mean("fit_time_median_s"), 4),
        fit_time_total_s=round(mean("fit_time_total_s"), 3),
        train_cpu_median_s=round(mean("train_cpu_median_s"), 4),
        train_cpu_total_s=round(mean("train_cpu_total_s"), 3),
        cpu_time_s=round(mean("cpu_time_s"), 3),
        epochs_median=round(mean("epochs_median"), 2),
        final_system_accuracy=round(mean("final_system_accuracy"), 4),
        final_inference_accuracy=round(mean("final_inference_accuracy"), 4),
        labels_to_target=(
            round(float(np.mean(reached)), 4) if None not in reached else None
        ),
        labels_to_target_per_seed=reached,
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=DEFAULT_DATA)
    parser.add_argument("--n-rows", type=int, default=5000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--hidden-size", type=int, default=256)
    parser.add_argument("--n-blocks", type=int, default=2)
    parser.add_argument("--max-epochs", type=int, default=30)
    parser.add_argument("--patience", type=int, default=5)
    parser.add_argument("--train-batch-size", type=int, default=128)
    parser.add_argument("--batch-size", type=float, default=0.01)
    parser.add_argument("--max-fraction", type=float, default=0.3)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    if args.batch_size >= 1:
        args.batch_size = int(args.batch_size)

    with threadpool_limits(limits=1):
        X, y, source = load_library(args.data, args.n_rows)
        # One tiny fit first: the first optimizer imports torch._dynamo (seconds).
        ResMLPClassifier(max_epochs=1).fit(X[:64], y[:64])
        threads = thread_settings()
        tag = thread_tag(threads)
        runs = []
        for i, seed in enumerate(args.seeds):
            # Alternate which strategy runs first: the cores are shared, and
            # a neighbour's load should not always fall on the same one.
            for warm_start in (False, True) if i % 2 == 0 else (True, False):
                run = run_screen(X, y, warm_start=warm_start, seed=seed, args=args)
                runs.append(run)
                print(
                    f"seed {seed} warm_start={warm_start!s:<5} "
                    f"{run['n_rounds']} rounds, {run['wall_time_s']:.1f} s wall, "
                    f"{run['cpu_time_s']:.1f} s cpu {tag}",
                    flush=True,
                )

    summary = {
        ("warm" if warm else "cold"): summarise(
            [r for r in runs if r["warm_start"] is warm]
        )
        for warm in (False, True)
    }
    result = dict(
        benchmark="warm_start",
        description=(
            "HybridScreenCV(ResMLPClassifier) on QM9 gap > median (ECFP4), "
            "least confidence, fixed rounds: warm_start=False vs True"
        ),
        data=source,
        n_library=int(X.shape[0]),
        n_features=int(X.shape[1]),
        positive_fraction=round(float(y.mean()), 4),
        task=f"QM9 gap > {QM9_GAP_MEDIAN} Ha",
        acquisition="least_confidence",
        batch_size=args.batch_size,
        max_fraction=args.max_fraction,
        stopping=None,
        target=TARGET,
        seeds=args.seeds,
        net=dict(
            hidden_size=args.hidden_size,
            n_blocks=args.n_blocks,
            dropout=0.1,
            lr=1e-3,
            max_grad_norm=1.0,
            max_epochs=args.max_epochs,
            patience=args.patience,
            validation_fraction=0.1,
            train_batch_size=args.train_batch_size,
            n_members=1,
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

    n_rounds = runs[0]["n_rounds"]
    print(
        f"\nWarm-start benchmark: {X.shape[0]} molecules ({source}), ECFP4, "
        f"{n_rounds} rounds of {args.batch_size} up to {args.max_fraction:.0%}, "
        f"seeds {args.seeds}, hidden {args.hidden_size} x {args.n_blocks} blocks, "
        f"<= {args.max_epochs} epochs, patience {args.patience}"
    )
    print(
        "Mean over seeds. fit: wall-clock refit time per round from history_ "
        "(median, total; includes the copy of the previous model when warm); "
        "cpu: CPU time of the training loops (median, total); to 0.95: "
        "fraction measured when the true system accuracy first reached 0.95."
    )
    print(
        f"{'':<5}{'fit med':>8}{'fit tot':>8}{'cpu med':>8}{'cpu tot':>8}"
        f"{'epochs':>7}{'sys acc':>8}{'inf acc':>8}{'to 0.95':>8}"
    )
    for name, s in summary.items():
        to_target = (
            f"{s['labels_to_target']:.1%}"
            if s["labels_to_target"] is not None
            else "no"
        )
        print(
            f"{name:<5}{s['fit_time_median_s']:>8.3f}{s['fit_time_total_s']:>8.2f}"
            f"{s['train_cpu_median_s']:>8.3f}{s['train_cpu_total_s']:>8.2f}"
            f"{s['epochs_median']:>7.1f}{s['final_system_accuracy']:>8.4f}"
            f"{s['final_inference_accuracy']:>8.4f}{to_target:>8}  {tag}"
        )
    cold, warm = summary["cold"], summary["warm"]
    print(
        f"cold / warm: fit wall total "
        f"{cold['fit_time_total_s'] / warm['fit_time_total_s']:.2f}, training cpu "
        f"total {cold['train_cpu_total_s'] / warm['train_cpu_total_s']:.2f}  {tag}"
    )
    print(
        f"labels to {TARGET} per seed: cold "
        f"{summary['cold']['labels_to_target_per_seed']}, warm "
        f"{summary['warm']['labels_to_target_per_seed']}"
    )

    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"Wrote {args.output}")
    return result


if __name__ == "__main__":
    main()
