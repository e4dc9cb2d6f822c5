"""Stopping rules on QM9: labels at the stop, against the crossing and the limit.

How many labels does a stopping rule spend, audits included, compared with
what the screen needed (the labels at which the true system accuracy of a
plain least-confidence screen first reached the target, "the crossing") and
with the limit a stopping rule can approach (a single well-timed audit)?

Settings (least confidence, ``delta = 0.05``, targets 0.95 and 0.99):

- ``qm9-full``: all of QM9 (133,885 molecules, ``--data``), ECFP4 (radius 2,
  2,048 bits), gap above the full-QM9 median
  (``sklearn_isd.datasets.QM9_GAP_MEDIAN``), ``LogisticRegression(
  max_iter=1000)`` (``C=1``), batches of 1 % (1,339), seeds 0-7;
- ``qm9-demo``: the 10,000 molecules embedded in the package
  (``load_qm9(subset="embedded", task="classification")``), the model and
  batches of ``sklearn-isd demo`` (``LogisticRegression(C=0.5,
  max_iter=1000)``, batches of 100), seeds 0-19.

Per seed:

1. A plain screen (``stopping=None``), driven with ``ask``/``tell``. After
   each round, from ``estimator_.predict_proba`` on the inference set and the
   true labels, the single-audit size ``m_ppi`` of
   ``../shared/tools/stop_limit.py`` (a prediction-powered estimate of the
   inference set's wrong predictions, importance sampling ``q`` proportional
   to ``sqrt(p (1 - p))`` mixed with 10 % uniform, one-sided CLT interval
   with the true variance: ``m = ceil(z^2 var / slack^2)``, ``slack`` =
   allowed minus actual wrong predictions). The LIMIT of a target is the
   cheapest round's ``labels + m_ppi``; it is reported over the crossing (what
   stop_limit prints as "best PPI total cost ... (x)") and is what PPI's labels
   are compared with. The same for a uniform audit (``m_uniform``, stop_limit's
   last column) is recorded for context. The paper's rule (``KLBound``) and
   ``AnytimeKLBound`` are replayed on this screen
   (:func:`~sklearn_isd.stopping.replay_stopping`). The screen runs until
   both rules have stopped at both targets, the true accuracy has crossed
   both targets and no later round can lower the limit (its labels alone
   exceed the best cost), or the library is measured.
2. An audit screen (``AuditBound(audit_fraction=0.1, window=10)``, 10 % of
   each batch drawn uniformly), driven the same way with a target it never
   reaches, and the rule replayed at each target, as in
   ``bench_coverage.py``.
3. For each target, a screen stopped by
   ``PredictionPoweredBound(target=t, delta=0.05)`` (default parameters),
   ``HybridScreenCV(model, batch_size=batch, stopping=rule,
   random_state=seed).fit(X, y)``: its labels at the stop (audits included)
   and the true accuracy of its readout there (``history_["system_score"]``
   at the last row).

Reported per setting, target and rule: labels at the stop (mean), the true
accuracy there (minimum), the ratio to the crossing and to the limit (mean
and median over seeds), and the per-seed values. The goal of the issue:
PPI's labels at the stop within 1.1x of the limit.

``--stop-limit`` also runs ``../shared/tools/stop_limit.py`` (on its own
trajectory: its own subset and model, ``C=1``) with ``133885 0 0.45 0.95``,
``... 0.99`` and ``10000 0 0.7 0.95``, and records the limits it prints;
``--stop-limit-log FILE`` reads them from a log of those runs instead (each
run's output after a line ``== python ../shared/tools/stop_limit.py ARGS``).

Usage (features are cached in ``benchmarks/.cache/``)::

    nice -n 19 python benchmarks/bench_stopping.py
    nice -n 19 python benchmarks/bench_stopping.py --settings qm9-full \
        --seeds-full 0 1 --ppi-only --out benchmarks/results/stopping_full.json

``--ppi-only`` leaves out the audit screen and the replayed KL rules, and
ends the plain screen once the limits are known, so all of QM9 runs in
about an hour per seed on one core rather than several.

It prints the tables and writes ``benchmarks/results/stopping.json``
(settings, versions, machine, thread settings, per-seed values and the
plain screens' per-round limit curves). One BLAS/OpenMP thread.
"""

import os

# Thread settings, before numpy is imported.
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
from _common import (  # noqa: E402
    DEFAULT_DATA,
    machine,
    thread_settings,
    thread_tag,
    versions,
)
from scipy.stats import norm  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from sklearn_isd import HybridScreenCV  # noqa: E402
from sklearn_isd.datasets import QM9_GAP_MEDIAN, load_qm9  # noqa: E402
from sklearn_isd.stopping import (  # noqa: E402
    AnytimeKLBound,
    AuditBound,
    KLBound,
    PredictionPoweredBound,
    replay_stopping,
)

HERE = Path(__file__).parent
DEFAULT_OUTPUT = HERE / "results" / "stopping.json"
CACHE = HERE / ".cache"
STOP_LIMIT = HERE.parent.parent / "shared" / "tools" / "stop_limit.py"
STOP_LIMIT_RUNS = ("133885 0 0.45 0.95", "133885 0 0.45 0.99", "10000 0 0.7 0.95")
TARGETS = (0.95, 0.99)
DELTA = 0.05
SETTINGS = {
    "qm9-full": dict(
        description="all of QM9, ECFP4, gap > QM9_GAP_MEDIAN, "
        "LogisticRegression(C=1, max_iter=1000), batches of 1 %",
        C=1.0,
        batch_size=0.01,
        seeds=list(range(8)),
    ),
    "qm9-demo": dict(
        description="the embedded 10,000-molecule QM9 subset (sklearn-isd demo), "
        "ECFP4, gap > QM9_GAP_MEDIAN, LogisticRegression(C=0.5, max_iter=1000), "
        "batches of 100",
        C=0.5,
        batch_size=100,
        seeds=list(range(20)),
    ),
}
REPLAYED = {
    "KL": lambda t: KLBound(target=t, delta=DELTA),
    "AnytimeKL": lambda t: AnytimeKLBound(target=t, delta=DELTA),
}
AUDIT = dict(audit_fraction=0.1, window=10)
RULES = ("KL", "AnytimeKL", "Audit 10%", "PPI")


# --------------------------------------------------------------------------
# Data (cached)
# --------------------------------------------------------------------------
def _fingerprints(smiles):
    from sklearn_isd.chem import MorganFingerprint

    return sp.csr_matrix(MorganFingerprint(radius=2, n_bits=2048).transform(smiles))


def load_setting(name, data_path, cache=CACHE):
    """``X`` (CSR ECFP4) and ``y`` (gap above the full-QM9 median) of a setting."""
    cache.mkdir(parents=True, exist_ok=True)
    features, labels = cache / f"{name}_ecfp4.npz", cache / f"{name}_gap.npy"
    if features.exists() and labels.exists():
        return sp.load_npz(features).tocsr(), np.load(labels)
    if name == "qm9-full":
        data = load_qm9(subset="full", task="regression", path=data_path)
        smiles, gap = data.data, data.gap
    else:
        data = load_qm9(subset="embedded", task="regression")
        smiles, gap = data.data, data.gap
    X = _fingerprints(smiles)
    sp.save_npz(features, X)
    np.save(labels, np.asarray(gap, dtype=float))
    return X, np.asarray(gap, dtype=float)


# --------------------------------------------------------------------------
# The limit of one round (as ../shared/tools/stop_limit.py computes it)
# --------------------------------------------------------------------------
def single_audit_sizes(proba, wrong, n_library, target, delta=DELTA):
    """``m_ppi`` and ``m_uniform`` of stop_limit.py for one round.

    ``proba``: the model's probabilities on the inference set; ``wrong``:
    1.0 where its prediction is wrong. Returns ``inf`` where the inference
    set already holds more wrong predictions than the target allows.
    """
    z = norm.ppf(1 - delta)
    p = proba.max(axis=1)
    r = 1 - p
    n_inf = p.size
    q = np.sqrt(np.clip(p * (1 - p), 1e-6, None))
    q = 0.9 * q / q.sum() + 0.1 / n_inf
    est = r.sum() + (wrong - r) / q
    mean = (q * est).sum()
    var = (q * (est - mean) ** 2).sum()
    slack = n_library * (1 - target) - wrong.sum()
    if slack <= 0:
        return math.inf, math.inf
    var_u = n_inf**2 * wrong.mean() * (1 - wrong.mean())
    # An audit larger than the inference set is no audit (and its size can
    # overflow an int64): such a round can never be the cheapest.
    m_ppi, m_uniform = (
        int(np.ceil(m)) if m <= n_inf else math.inf
        for m in (z**2 * var / slack**2, z**2 * var_u / slack**2)
    )
    return m_ppi, m_uniform


def _limit(curve, n_key, m_key, crossing):
    cost = np.asarray(curve[n_key], dtype=float) + np.asarray(curve[m_key], float)
    best = int(np.argmin(cost))
    return dict(
        round=best,
        n_observed=int(curve[n_key][best]),
        audit=int(curve[m_key][best]),
        labels=float(cost[best]),
        over_crossing=float(cost[best] / crossing),
    )


# --------------------------------------------------------------------------
# Screens
# --------------------------------------------------------------------------
def _round_state(screen, y):
    """Labels measured and the true system accuracy of the readout."""
    n_obs = int(screen.observed_mask_.sum())
    return n_obs, float(np.mean(screen.transduction_ == y))


def plain_screen(X, y, model, batch, seed, wait_for_rules=True):
    """The plain screen, its per-round limit curves and the replayed stops.

    Without ``wait_for_rules`` (``--ppi-only``), the screen ends once the
    limits are known, whether or not the replayed rules have stopped.
    """
    n = y.size
    screen = HybridScreenCV(model, batch_size=batch, stopping=None, random_state=seed)
    curve = dict(n_observed=[], system_score=[])
    for t in TARGETS:
        curve[f"m_ppi_{t:g}"], curve[f"m_uniform_{t:g}"] = [], []
    stops = {name: {} for name in REPLAYED}
    start = time.perf_counter()
    while True:
        indices = screen.ask(X)
        if indices.size == 0:
            break
        screen.tell(indices, y[indices])
        n_obs, score = _round_state(screen, y)
        curve["n_observed"].append(n_obs)
        curve["system_score"].append(score)
        inference = np.flatnonzero(~screen.observed_mask_)
        done = True
        if inference.size:
            model_ = screen.estimator_
            proba = model_.predict_proba(X[inference])
            wrong = (model_.classes_[proba.argmax(1)] != y[inference]).astype(float)
        for t in TARGETS:
            m_ppi, m_unif = (
                single_audit_sizes(proba, wrong, n, t) if inference.size else (0, 0)
            )
            curve[f"m_ppi_{t:g}"].append(m_ppi)
            curve[f"m_uniform_{t:g}"].append(m_unif)
            for key in ("m_ppi", "m_uniform"):
                cost = np.add(curve["n_observed"], curve[f"{key}_{t:g}"])
                done &= n_obs >= cost.min()  # no later round can be cheaper
            done &= score >= t or bool(np.any(np.array(curve["system_score"]) >= t))
            for name, rule in REPLAYED.items():
                if t not in stops[name]:
                    stop = replay_stopping(rule(t), screen)
                    if stop is not None:
                        stops[name][t] = stop
                done &= t in stops[name] or not wait_for_rules
        if done:
            break
    wall = time.perf_counter() - start
    return screen, curve, stops, wall


def audit_screen(X, y, model, batch, seed):
    """The 10 % audit screen, driven until the rule stops at every target."""
    never = AuditBound(target=1 - 1e-12, delta=DELTA, **AUDIT)
    screen = HybridScreenCV(model, batch_size=batch, stopping=never, random_state=seed)
    n_observed, scores, stops = [], [], {}
    start = time.perf_counter()
    while len(stops) < len(TARGETS):
        indices = screen.ask(X)
        if indices.size == 0:
            break
        screen.tell(indices, y[indices])
        n_obs, score = _round_state(screen, y)
        n_observed.append(n_obs)
        scores.append(score)
        for t in TARGETS:
            if t not in stops:
                stop = replay_stopping(
                    AuditBound(target=t, delta=DELTA, **AUDIT), screen
                )
                if stop is not None:
                    stops[t] = stop
    last = len(n_observed) - 1
    out = {
        t: dict(
            n_observed=n_observed[stops.get(t, last)],
            system_score=scores[stops.get(t, last)],
            stopped=t in stops,
        )
        for t in TARGETS
    }
    return out, time.perf_counter() - start


def ppi_screen(X, y, model, batch, seed, target):
    start = time.perf_counter()
    screen = HybridScreenCV(
        model,
        batch_size=batch,
        stopping=PredictionPoweredBound(target=target, delta=DELTA),
        random_state=seed,
    ).fit(X, y)
    h = screen.history_
    return dict(
        n_observed=int(h["n_observed"][-1]),
        system_score=float(h["system_score"][-1]),
        stopped=screen.termination_condition_ == "target_reached",
        n_rounds=int(screen.n_iter_),
        audits=int(screen.stopping_.n_audits_),
        audit_labels=int(screen.audit_mask_.sum()),
        wall_time_s=round(time.perf_counter() - start, 2),
    )


def one_seed(setting, X, y, seed, ppi_only=False):
    spec = SETTINGS[setting]
    model = LogisticRegression(C=spec["C"], max_iter=1000)
    n = y.size
    batch = spec["batch_size"]
    plain, curve, stops, plain_wall = plain_screen(
        X, y, model, batch, seed, wait_for_rules=not ppi_only
    )
    scores = np.asarray(curve["system_score"])
    run = dict(seed=seed, n_library=n, wall_time_s={}, targets={})
    run["wall_time_s"]["plain"] = round(plain_wall, 2)
    if not ppi_only:
        audit, audit_wall = audit_screen(X, y, model, batch, seed)
        run["wall_time_s"]["audit"] = round(audit_wall, 2)
    for t in TARGETS:
        crossed = np.flatnonzero(scores >= t)
        cross_round = int(crossed[0])
        crossing = curve["n_observed"][cross_round]
        limit = _limit(curve, "n_observed", f"m_ppi_{t:g}", crossing)
        limit_uniform = _limit(curve, "n_observed", f"m_uniform_{t:g}", crossing)
        rules = {}
        for name in () if ppi_only else REPLAYED:
            r = stops[name].get(t, scores.size - 1)
            rules[name] = dict(
                n_observed=int(curve["n_observed"][r]),
                system_score=float(scores[r]),
                stopped=t in stops[name],
            )
        if not ppi_only:
            rules["Audit 10%"] = audit[t]
        rules["PPI"] = ppi_screen(X, y, model, batch, seed, t)
        run["wall_time_s"][f"ppi_{t:g}"] = rules["PPI"]["wall_time_s"]
        for r in rules.values():
            r["over_crossing"] = r["n_observed"] / crossing
            r["over_limit"] = r["n_observed"] / limit["labels"]
        run["targets"][f"{t:g}"] = dict(
            crossing=int(crossing),
            crossing_round=cross_round,
            limit=limit,
            limit_uniform=limit_uniform,
            rules=rules,
        )
    run["curve"] = {
        k: [None if not np.isfinite(v) else v for v in vals]
        for k, vals in curve.items()
    }
    return run


# --------------------------------------------------------------------------
# stop_limit.py, as its authors run it
# --------------------------------------------------------------------------
_LIMIT_LINE = re.compile(
    r"N=(\d+) true crossing ([\d.]+); KL stop (\S+); best PPI total cost "
    r"([\d.]+) \(([\d.]+)x\); best uniform audit ([\d.]+) \(([\d.]+)x\)"
)


def parse_stop_limit(text):
    match = _LIMIT_LINE.search(text)
    if match is None:
        return dict(error="no summary line", tail=text[-2000:])
    n, cross, kl, ppi, ppi_x, unif, unif_x = match.groups()
    variants = {
        name: dict(cost=float(cost), over_crossing=float(x))
        for name, cost, x in re.findall(
            r"(m_\w+): best single-audit cost ([\d.]+) = ([\d.]+)x crossing", text
        )
    }
    return dict(
        n=int(n),
        crossing=float(cross),
        kl_stop=None if kl == "None" else float(kl),
        limit=float(ppi),
        limit_over_crossing=float(ppi_x),
        uniform=float(unif),
        uniform_over_crossing=float(unif_x),
        variants=variants,
        summary_line=match.group(0),
    )


def run_stop_limit():
    out = {}
    for run in STOP_LIMIT_RUNS:
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, str(STOP_LIMIT), *run.split()],
            capture_output=True,
            text=True,
            check=True,
            cwd=HERE.parent,
        )
        out[run] = parse_stop_limit(done.stdout)
        out[run]["wall_time_s"] = round(time.perf_counter() - start, 1)
    return out


def read_stop_limit_log(path):
    out = {}
    text = Path(path).read_text()
    for chunk in text.split("== python ")[1:]:
        head, _, body = chunk.partition("\n")
        run = head.split("stop_limit.py", 1)[1].strip()
        out[run] = parse_stop_limit(body)
        seconds = re.search(r"== exit \d+ after (\d+) s", body)
        if seconds:
            out[run]["wall_time_s"] = float(seconds.group(1))
    return out


# --------------------------------------------------------------------------
# Summary and tables
# --------------------------------------------------------------------------
def summarise(runs):
    summary = {}
    for t in TARGETS:
        key = f"{t:g}"
        cells = [r["targets"][key] for r in runs]
        limit_x = [c["limit"]["over_crossing"] for c in cells]
        rows = dict(
            crossing=float(np.mean([c["crossing"] for c in cells])),
            limit=float(np.mean([c["limit"]["labels"] for c in cells])),
            limit_over_crossing_mean=float(np.mean(limit_x)),
            limit_over_crossing_median=float(np.median(limit_x)),
            per_seed_crossing=[c["crossing"] for c in cells],
            per_seed_limit=[c["limit"]["labels"] for c in cells],
            per_seed_limit_over_crossing=limit_x,
            limit_uniform_over_crossing_mean=float(
                np.mean([c["limit_uniform"]["over_crossing"] for c in cells])
            ),
            rules={},
        )
        for name in [r for r in RULES if r in cells[0]["rules"]]:
            rs = [c["rules"][name] for c in cells]
            over_c = [r["over_crossing"] for r in rs]
            over_l = [r["over_limit"] for r in rs]
            rows["rules"][name] = dict(
                n_observed=float(np.mean([r["n_observed"] for r in rs])),
                system_score_min=float(np.min([r["system_score"] for r in rs])),
                below_target=int(sum(r["system_score"] < t for r in rs)),
                stopped=int(sum(r["stopped"] for r in rs)),
                over_crossing_mean=float(np.mean(over_c)),
                over_crossing_median=float(np.median(over_c)),
                over_limit_mean=float(np.mean(over_l)),
                over_limit_median=float(np.median(over_l)),
                per_seed_n_observed=[int(r["n_observed"]) for r in rs],
                per_seed_system_score=[round(r["system_score"], 5) for r in rs],
                per_seed_over_limit=[round(x, 4) for x in over_l],
            )
            if name == "PPI":
                rows["rules"][name]["audits_mean"] = float(
                    np.mean([r["audits"] for r in rs])
                )
                rows["rules"][name]["audit_labels_mean"] = float(
                    np.mean([r["audit_labels"] for r in rs])
                )
        summary[key] = rows
    return summary


def print_tables(setting, n, summary, tag):
    print(f"\n{setting}: {n} molecules ({SETTINGS[setting]['description']}) {tag}")
    for key, s in summary.items():
        print(
            f"  target {key}: crossing {s['crossing']:.0f} labels (mean); limit "
            f"{s['limit']:.0f} = {s['limit_over_crossing_mean']:.2f}x crossing "
            f"(median {s['limit_over_crossing_median']:.2f}x; uniform audit "
            f"{s['limit_uniform_over_crossing_mean']:.2f}x)"
        )
        print(
            f"  {'rule':<10}{'labels':>9}{'min acc':>9}{'below':>6}"
            f"{'x cross (mean/med)':>20}{'x limit (mean/med)':>20}"
        )
        for name, r in s["rules"].items():
            print(
                f"  {name:<10}{r['n_observed']:>9.0f}{r['system_score_min']:>9.4f}"
                f"{r['below_target']:>6d}"
                f"{r['over_crossing_mean']:>12.2f} / {r['over_crossing_median']:.2f}"
                f"{r['over_limit_mean']:>12.2f} / {r['over_limit_median']:.2f}"
            )
        ppi = s["rules"]["PPI"]
        print(
            "  PPI per seed, x limit: "
            + ", ".join(f"{x:.2f}" for x in ppi["per_seed_over_limit"])
            + f"; audits {ppi['audits_mean']:.2f}, audit labels "
            f"{ppi['audit_labels_mean']:.0f} (mean)"
        )


def meminfo_gib():
    try:
        line = Path("/proc/meminfo").read_text().splitlines()[0]
    except OSError:
        return None
    return round(int(line.split()[1]) / 1024**2, 1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=DEFAULT_DATA)
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS))
    parser.add_argument("--seeds-full", type=int, nargs="+", default=None)
    parser.add_argument("--seeds-demo", type=int, nargs="+", default=None)
    parser.add_argument("--stop-limit", action="store_true")
    parser.add_argument("--stop-limit-log", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument(
        "--ppi-only",
        action="store_true",
        help="only PPI against the crossing and the limit: no audit screen, no "
        "replayed KL rules, and the plain screen ends once the limits are known "
        "(all of QM9 in a fraction of the time)",
    )
    args = parser.parse_args(argv)
    seeds = {
        "qm9-full": args.seeds_full or SETTINGS["qm9-full"]["seeds"],
        "qm9-demo": args.seeds_demo or SETTINGS["qm9-demo"]["seeds"],
    }
    total_start = time.perf_counter()
    threads = thread_settings()
    tag = thread_tag(threads)
    result = dict(
        benchmark="stopping",
        description="labels at the stop of each rule (audits included) against "
        "the plain least-confidence screen's first true crossing and the limit "
        "of a single well-timed audit (stop_limit.py's m_ppi on the same "
        "trajectory)",
        command="python benchmarks/bench_stopping.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        targets=list(TARGETS),
        delta=DELTA,
        rules=dict(
            KL="KLBound(target, delta=0.05), replayed on the plain screen",
            AnytimeKL="AnytimeKLBound(target, delta=0.05), replayed on the plain "
            "screen",
            **{
                "Audit 10%": "AuditBound(target, delta=0.05, audit_fraction=0.1, "
                "window=10), replayed on a screen of its own"
            },
            PPI="PredictionPoweredBound(target, delta=0.05), default parameters, a "
            "screen of its own per target",
        ),
        settings={},
        threads=threads,
        versions=versions(),
        machine=machine(),
    )
    if args.stop_limit:
        result["stop_limit"] = run_stop_limit()
    elif args.stop_limit_log:
        result["stop_limit"] = read_stop_limit_log(args.stop_limit_log)
    with threadpool_limits(limits=1):
        for setting in args.settings:
            start = time.perf_counter()
            X, gap = load_setting(setting, args.data)
            y = (gap > QM9_GAP_MEDIAN).astype(int)
            print(
                f"{setting}: {y.size} molecules, {y.mean():.4f} positive, features "
                f"in {time.perf_counter() - start:.1f} s {tag}",
                flush=True,
            )
            runs = []
            for seed in seeds[setting]:
                run = one_seed(setting, X, y, seed, ppi_only=args.ppi_only)
                runs.append(run)
                cells = run["targets"]
                print(
                    f"  seed {seed}: "
                    + "; ".join(
                        f"{k}: cross {c['crossing']} limit {c['limit']['labels']:.0f} "
                        + " ".join(
                            f"{name} {r['n_observed']}"
                            for name, r in c["rules"].items()
                        )
                        for k, c in cells.items()
                    )
                    + f" ({sum(run['wall_time_s'].values()):.0f} s)",
                    flush=True,
                )
            summary = summarise(runs)
            result["settings"][setting] = dict(
                description=SETTINGS[setting]["description"],
                n_library=int(y.size),
                positive_fraction=round(float(y.mean()), 4),
                C=SETTINGS[setting]["C"],
                batch_size=SETTINGS[setting]["batch_size"],
                seeds=seeds[setting],
                summary=summary,
                runs=runs,
                wall_time_s=round(time.perf_counter() - start, 1),
            )
            print_tables(setting, y.size, summary, tag)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(result, indent=1) + "\n")
    if "stop_limit" in result:
        print("\nstop_limit.py on its own trajectory:")
        for run, r in result["stop_limit"].items():
            print(f"  {run}: {r.get('summary_line', r)}")
    result["total_wall_time_s"] = round(time.perf_counter() - total_start, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"\nTotal wall time {result['total_wall_time_s']:.0f} s; wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
