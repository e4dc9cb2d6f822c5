"""Coverage study of the stopping rules: how often do they stop too early?

For many simulated screens per setting, every stopping rule is replayed on
the same recorded screen (``sklearn_isd.stopping.replay_stopping``): a screen
runs to the end with ``stopping=None`` and the rounds at which each rule
would have stopped are read off its evidence. Audit rules change what is
acquired (a share of each batch is drawn uniformly), so they get screens of
their own, run to the end with audits in every batch.

``ppi`` (:class:`~sklearn_isd.stopping.PredictionPoweredBound`, default
parameters, the target and delta of the row) acquires audits on top of its
batches and may hold its model, so it cannot be replayed either: for each
seed, setting, target and delta it runs a screen of its own,
``HybridScreenCV(model, batch_size=batch, stopping=PredictionPoweredBound(
target=t, delta=d), random_state=seed).fit(X, y)``, stopped by the rule. Its
violation and spent are read at its own stop (audits included: audited items
are measured); its oracle is the first crossing of the same seed's plain
``stopping=None`` screen (the one the replayed rules use), not its own, since
its audits and held rounds change its trajectory. Its rows also give the mean
number of audits, the mean fraction of the library audited, and the share of
screens the rule stopped (the others measured everything).

For each rule and setting the table reports:

- ``violation``: fraction of screens whose TRUE system accuracy at the
  rule's stop is below the target (a rule that claims ``delta`` must keep it
  at or below ``delta``), with the upper end of its 95 % Clopper-Pearson
  interval;
- ``spent``: mean fraction of the library measured at the stop;
- ``oracle``: mean fraction measured at the first round whose true system
  accuracy reached the target (what a clairvoyant stop would spend);
- ``ratio``: mean of spent / oracle per screen.

Settings (each with ``--seeds`` screens, 200 by default):

- ``synthetic-uniform``: 2,000 points, 2 classes, 3 % labels flipped at
  random (hard items spread everywhere);
- ``synthetic-overconfident``: the same points with the flipped labels
  placed far from the decision boundary, where the model is confident and
  wrong (Lemma 1's calibration assumption fails);
- ``synthetic-confidently-wrong``: the same construction with 3,000 points
  and 10 % of the labels flipped far from the boundary, batches of 60 (2 %
  of the pool, as above): the setting where the KL rule stops below its
  target;
- ``digits-shuffled``: scikit-learn's digits with the labels of 3 and 8
  shuffled among themselves (paper Fig. 2-3);
- ``qm9``: 3,000 molecules drawn from the embedded QM9 subset per seed,
  ECFP4, gap above the median (paper Sec. 4.2).

Run (about 40 minutes on 2 free cores; the last run's time is in the
results file)::

    OMP_NUM_THREADS=1 python benchmarks/bench_coverage.py --seeds 200 --n-jobs 2

After the per-setting tables it prints one table of the paper's rule,
the anytime rule, the 10 % audit and ppi side by side over the settings.

Results are written to ``benchmarks/results/coverage.json``. ``--deltas``
replays every rule at several ``delta`` on the same screens; ``--batch-scales``
reruns the screens with larger or smaller batches, e.g. the sweep in
``results/coverage_sweep.json``::

    OMP_NUM_THREADS=1 python benchmarks/bench_coverage.py --seeds 200 --n-jobs 2 \
        --settings synthetic-overconfident --deltas 0.01 0.05 0.2 \
        --batch-scales 0.5 2.5 --output benchmarks/results/coverage_sweep.json
"""

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import scipy
import sklearn
from joblib import Parallel, delayed
from scipy.stats import beta
from sklearn.datasets import load_digits, make_classification
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

import sklearn_isd
from sklearn_isd import HybridScreenCV
from sklearn_isd.datasets import corrupt_labels
from sklearn_isd.stopping import (
    AnytimeKLBound,
    AuditBound,
    KLBound,
    PooledKLBound,
    PredictionPoweredBound,
    replay_stopping,
)

TARGETS = (0.9, 0.95, 0.99)

RULES = {
    "paper (KLBound)": lambda t, d: KLBound(target=t, delta=d),
    "anytime": lambda t, d: AnytimeKLBound(target=t, delta=d),
    "pooled (5)": lambda t, d: PooledKLBound(target=t, delta=d, window=5),
}
PPI_RULE = "ppi"
AUDIT_RULES = {
    "audit 10% (w10)": (0.1, 10),
    "audit 25% (w10)": (0.25, 10),
}


def _synthetic(seed, overconfident, n_samples=2000, flip_share=0.03, batch=40):
    X, y = make_classification(
        n_samples=n_samples,
        n_features=8,
        n_informative=4,
        n_redundant=0,
        class_sep=1.5,
        flip_y=0.0,
        random_state=seed,
    )
    rng = np.random.default_rng(seed)
    n_flip = int(flip_share * len(y))
    if overconfident:
        # Flip the labels of items far from the boundary of a model fitted on
        # clean labels: the model is sure of them and wrong.
        margin = np.abs(LogisticRegression().fit(X, y).decision_function(X))
        candidates = np.flatnonzero(margin > np.quantile(margin, 0.5))
        flip = rng.choice(candidates, n_flip, replace=False)
    else:
        flip = rng.choice(len(y), n_flip, replace=False)
    y = y.copy()
    y[flip] = 1 - y[flip]
    return X, y, LogisticRegression(), batch


def _digits(seed):
    X, y = load_digits(return_X_y=True)
    y = corrupt_labels(y, [3, 8], random_state=seed)
    return X / 16.0, y, LogisticRegression(max_iter=200, tol=1e-3), 60


_QM9 = {}


def _qm9(seed):
    if "X" not in _QM9:
        from sklearn_isd.chem import MorganFingerprint
        from sklearn_isd.datasets import load_qm9

        smiles, y = load_qm9(return_X_y=True)
        _QM9["X"], _QM9["y"] = MorganFingerprint().transform(smiles), y
    rows = np.sort(np.random.default_rng(seed).choice(len(_QM9["y"]), 3000, False))
    return (
        _QM9["X"][rows],
        _QM9["y"][rows],
        LogisticRegression(C=0.5, max_iter=1000),
        60,
    )


SETTINGS = {
    "synthetic-uniform": lambda seed: _synthetic(seed, overconfident=False),
    "synthetic-overconfident": lambda seed: _synthetic(seed, overconfident=True),
    "synthetic-confidently-wrong": lambda seed: _synthetic(
        seed, overconfident=True, n_samples=3000, flip_share=0.1, batch=60
    ),
    "digits-shuffled": _digits,
    "qm9": _qm9,
}


SETTING_DETAILS = {
    "synthetic-uniform": "2,000 points, 3 % labels flipped at random, batches of 40",
    "synthetic-overconfident": "2,000 points, 3 % labels flipped among the half "
    "farthest from the boundary, batches of 40",
    "synthetic-confidently-wrong": "3,000 points, 10 % labels flipped among the "
    "half farthest from the boundary, batches of 60",
    "digits-shuffled": "digits, labels of 3 and 8 shuffled, batches of 60",
    "qm9": "3,000 molecules of the embedded QM9 subset per seed, ECFP4, gap "
    "above the median, batches of 60",
}


def _first_reach(history, target):
    reached = np.flatnonzero(history["system_score"] >= target)
    return reached[0] if reached.size else len(history["system_score"]) - 1


def one_seed(setting, seed, deltas=(0.05,), batch_scale=1.0):
    """Stopping rounds of every rule, target and delta on one seed's screens."""
    with threadpool_limits(1):
        X, y, model, batch = SETTINGS[setting](seed)
        batch = max(1, int(round(batch * batch_scale)))
        out = {}
        screen = HybridScreenCV(
            model, batch_size=batch, stopping=None, random_state=seed
        ).fit(X, y)
        screens = {name: screen for name in RULES}
        for name, (fraction, window) in AUDIT_RULES.items():
            # A target no screen reaches before the end: audits every round.
            never = AuditBound(target=1 - 1e-12, audit_fraction=fraction, window=window)
            screens[name] = HybridScreenCV(
                model, batch_size=batch, stopping=never, random_state=seed
            ).fit(X, y)
        for name, s in screens.items():
            h = s.history_
            for target in TARGETS:
                oracle = _first_reach(h, target)
                for delta in deltas:
                    if name in RULES:
                        rule = RULES[name](target, delta)
                    else:
                        fraction, window = AUDIT_RULES[name]
                        rule = AuditBound(
                            target=target,
                            delta=delta,
                            audit_fraction=fraction,
                            window=window,
                        )
                    t = replay_stopping(rule, s)
                    t = len(h["system_score"]) - 1 if t is None else t
                    out[(name, target, delta, batch)] = {
                        "violated": bool(h["system_score"][t] < target),
                        "spent": float(h["fraction_observed"][t]),
                        "oracle": float(h["fraction_observed"][oracle]),
                    }
        # PPI acquires audits on top of batches and holds its model: it runs
        # a screen of its own per target and delta, stopped by the rule. Its
        # oracle is the plain screen's first crossing (the one the replayed
        # rules use), not its own: its audits change its trajectory.
        h = screen.history_
        for target in TARGETS:
            oracle = float(h["fraction_observed"][_first_reach(h, target)])
            for delta in deltas:
                own = HybridScreenCV(
                    model,
                    batch_size=batch,
                    stopping=PredictionPoweredBound(target=target, delta=delta),
                    random_state=seed,
                ).fit(X, y)
                last = own.history_
                out[(PPI_RULE, target, delta, batch)] = {
                    "violated": bool(last["system_score"][-1] < target),
                    "spent": float(last["fraction_observed"][-1]),
                    "oracle": oracle,
                    "audits": int(own.stopping_.n_audits_),
                    "audit_fraction": float(own.audit_mask_.mean()),
                    "stopped": own.termination_condition_ == "target_reached",
                }
        return out


def summarise(results):
    rows = []
    for name, target, delta, batch in results[0]:
        cells = [r[(name, target, delta, batch)] for r in results]
        violated = np.array([c["violated"] for c in cells])
        spent = np.array([c["spent"] for c in cells])
        oracle = np.array([c["oracle"] for c in cells])
        k, n = violated.sum(), violated.size
        upper = 1.0 if k == n else float(beta.ppf(0.975, k + 1, n - k))
        rows.append(
            {
                "rule": name,
                "target": target,
                "delta": delta,
                "batch_size": batch,
                "violation": float(violated.mean()),
                "violation_upper95": upper,
                "spent": float(spent.mean()),
                "oracle": float(oracle.mean()),
                "ratio": float(np.mean(spent / oracle)),
                "screens": int(n),
            }
        )
        if "audits" in cells[0]:  # the rule with screens stopped by itself
            rows[-1].update(
                audits=float(np.mean([c["audits"] for c in cells])),
                audit_fraction=float(np.mean([c["audit_fraction"] for c in cells])),
                stopped=float(np.mean([c["stopped"] for c in cells])),
            )
    return rows


SIDE_BY_SIDE = ("paper (KLBound)", "anytime", "audit 10% (w10)", PPI_RULE)


def side_by_side(report, delta):
    """One table: rules x targets, per setting violation / spent / ratio."""
    names = list(report["settings"])
    lines = [
        "\nSide by side (delta "
        f"{delta:g}; per setting: violation, spent, ratio to the plain "
        "screen's crossing)",
        f"{'rule':18s} {'target':>6s} " + " ".join(f"{name:>28s}" for name in names),
    ]
    for rule in SIDE_BY_SIDE:
        for target in TARGETS:
            cells = []
            for name in names:
                row = next(
                    (
                        r
                        for r in report["settings"][name]["rows"]
                        if r["rule"] == rule
                        and r["target"] == target
                        and r["delta"] == delta
                    ),
                    None,
                )
                cells.append(
                    "-"
                    if row is None
                    else f"{row['violation']:.3f} {row['spent']:.3f} "
                    f"{row['ratio']:5.2f}x"
                )
            lines.append(
                f"{rule:18s} {target:6.2f} " + " ".join(f"{c:>28s}" for c in cells)
            )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--settings", nargs="*", default=list(SETTINGS))
    parser.add_argument(
        "--deltas", nargs="*", type=float, default=[0.05], help="delta of every rule"
    )
    parser.add_argument(
        "--batch-scales",
        nargs="*",
        type=float,
        default=[1.0],
        help="multiply each setting's batch size by these factors",
    )
    parser.add_argument(
        "--output", default=str(Path(__file__).parent / "results" / "coverage.json")
    )
    parser.add_argument(
        "--merge",
        action="store_true",
        help="keep the other settings of an existing --output file (each "
        "setting keeps the command, seeds and time of the run that wrote it)",
    )
    args = parser.parse_args(argv)
    report = {
        "description": "violation = share of screens stopping with true system "
        "accuracy below target",
        "deltas": args.deltas,
        "batch_scales": args.batch_scales,
        "seeds": args.seeds,
        "threads": "1 BLAS thread per worker (threadpoolctl), "
        f"{args.n_jobs} joblib worker(s)",
        "thread_env": {
            v: os.environ.get(v)
            for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
        },
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "versions": {
            "python": platform.python_version(),
            "sklearn_isd": sklearn_isd.__version__,
            "sklearn": sklearn.__version__,
            "numpy": np.__version__,
            "scipy": scipy.__version__,
        },
        "command": "python benchmarks/bench_coverage.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "setting_details": {name: SETTING_DETAILS[name] for name in args.settings},
        "settings": {},
    }
    previous = {}
    if args.merge and Path(args.output).exists():
        previous = json.loads(Path(args.output).read_text())
        report["settings"] = previous.get("settings", {})
        report["setting_details"] = {
            **previous.get("setting_details", {}),
            **report["setting_details"],
        }
    total_start = time.perf_counter()
    jobs = [
        (setting, scale) for setting in args.settings for scale in args.batch_scales
    ]
    for setting, scale in jobs:
        start = time.perf_counter()
        results = Parallel(n_jobs=args.n_jobs)(
            delayed(one_seed)(setting, seed, tuple(args.deltas), scale)
            for seed in range(args.seeds)
        )
        rows = summarise(results)
        elapsed = time.perf_counter() - start
        key = setting if len(args.batch_scales) == 1 else f"{setting} x{scale:g}"
        report["settings"][key] = {
            "rows": rows,
            "seconds": elapsed,
            "seeds": args.seeds,
            "n_jobs": args.n_jobs,
            "command": report["command"],
        }
        print(f"\n{key}: {args.seeds} screens, {elapsed:.0f} s ({report['threads']})")
        print(
            f"{'rule':18s} {'target':>6s} {'delta':>5s} {'batch':>5s} "
            f"{'violation':>9s} {'(95% up)':>8s} {'spent':>6s} {'oracle':>6s} "
            f"{'ratio':>6s}"
        )
        for r in rows:
            print(
                f"{r['rule']:18s} {r['target']:6.2f} {r['delta']:5.2f} "
                f"{r['batch_size']:5d} {r['violation']:9.3f} "
                f"{r['violation_upper95']:8.3f} {r['spent']:6.3f} {r['oracle']:6.3f} "
                f"{r['ratio']:6.2f}"
                + (
                    f"  audits {r['audits']:.2f} ({r['audit_fraction']:.3f} of "
                    f"the library), stopped {r['stopped']:.0%}"
                    if "audits" in r
                    else ""
                )
            )
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(json.dumps(report, indent=2))
    report["seconds"] = time.perf_counter() - total_start
    Path(args.output).write_text(json.dumps(report, indent=2))
    for delta in args.deltas:
        print(side_by_side(report, delta))
    print(f"\nTotal {report['seconds']:.0f} s")


if __name__ == "__main__":
    main()
