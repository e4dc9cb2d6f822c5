"""Can the batch serve as the audit? Audit designs at the certification round.

"Not paying twice": a certificate of the readout needs an audit of the
inference set, and the screen measures a batch anyway. This benchmark takes
the trajectory of a plain least-confidence screen on all of QM9 (gap above
the full-QM9 median, ECFP4, ``LogisticRegression(max_iter=1000)``, batches
of 1 %, seed 0, ``stopping=None``), picks the certification round (the round
whose single-audit cost ``labels + m_ppi`` of ``../shared/tools/stop_limit.py``
is lowest at target 0.95, as in ``bench_stopping.py``) and, on that round's
model and inference set ``I`` (``K`` = its true wrong predictions), compares
over ``--draws`` random draws (200) for each audit size ``m``:

(a) ``uniform+batch``: a separate uniform audit of ``m`` items of ``I``
    (without replacement) plus the round's least-confidence batch, chosen
    among the other items, as the screen does; the exact hypergeometric
    upper bound ``U`` on ``K``
    (:func:`sklearn_isd.stopping.hypergeometric_upper_bound`). Labels
    ``b + m``.
(b) ``IS batch``: the batch itself drawn with known probabilities, ``m``
    draws with replacement from ``q`` proportional to ``sqrt(r (1 - r))``
    (``r = 1 - confidence``, the model's error probability) mixed with a
    uniform share ``u = 0.3``; the prediction-powered (difference) estimate
    of ``K``, ``sum(r) + mean((e - r) / q)``, and a one-sided upper bound
    from (b1) the normal approximation, ``mean + z se``, or (b2) Hall's
    (1992) skewness-corrected transformation, ``mean - se x`` where ``x``
    solves ``x + a x^2 + a^2 x^3 / 3 + g / (6 sqrt(m)) = -z`` with
    ``a = g / (3 sqrt(m))`` and ``g`` the sample skewness. Labels: the
    distinct items drawn (no other batch).
(c) ``stochastic batch``: the batch drawn as a screen with a stochastic
    batch would draw it, :func:`sklearn_isd.acquisition.sample_batch` on the
    same weights ``q`` (``m`` distinct items by systematic sampling, each
    with its known inclusion probability ``pi_i``); the Horvitz-Thompson
    difference estimate ``sum(r) + sum_S (e - r) / pi`` and a normal upper
    bound whose variance treats the draw as with replacement (Hansen-Hurwitz,
    the usual conservative approximation for systematic samples). Labels
    ``m``.

Both designs certify the readout of the round's model: its wrong
predictions are ``K - D``, ``D`` the wrong predictions among the measured
items, so the round certifies target 0.95 if ``1 - (bound - D) / N > 0.95``
(strict, as :class:`~sklearn_isd.stopping.PredictionPoweredBound`). Reported
per design and ``m``: coverage of the bound (share of draws with
``bound >= K``; an honest bound at ``delta = 0.05`` has at least 0.95), the
labels spent (mean), and the share of draws that certify in that round.
``--round-offsets`` evaluates rounds around the certification round too.

Usage (features cached in ``benchmarks/.cache/`` by ``bench_stopping.py``)::

    nice -n 19 python benchmarks/bench_audit_designs.py

Writes ``benchmarks/results/audit_designs.json`` (settings, versions,
machine, thread settings). One BLAS/OpenMP thread.
"""

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from _common import (  # noqa: E402
    DEFAULT_DATA,
    machine,
    thread_settings,
    thread_tag,
    versions,
)
from bench_stopping import load_setting, single_audit_sizes  # noqa: E402
from scipy.stats import beta, norm  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from sklearn_isd import HybridScreenCV  # noqa: E402
from sklearn_isd.acquisition import sample_batch  # noqa: E402
from sklearn_isd.datasets import QM9_GAP_MEDIAN  # noqa: E402
from sklearn_isd.stopping import hypergeometric_upper_bound  # noqa: E402

DEFAULT_OUTPUT = Path(__file__).parent / "results" / "audit_designs.json"
TARGET = 0.95
DELTA = 0.05
UNIFORM_SHARE = 0.3


def hall_upper(values, delta=DELTA):
    """Hall's (1992) skewness-corrected one-sided upper bound on the mean."""
    m = values.size
    mean = values.mean()
    sd = values.std(ddof=1)
    se = sd / np.sqrt(m)
    if sd == 0:
        return float(mean)
    g = float(np.mean((values - mean) ** 3) / values.std(ddof=0) ** 3)
    z = norm.ppf(1 - delta)
    c = -z - g / (6 * np.sqrt(m))
    a = g / (3 * np.sqrt(m))
    if abs(a) < 1e-12:
        x = c
    else:  # x + a x^2 + a^2 x^3 / 3 = ((1 + a x)^3 - 1) / (3 a), monotone in x
        x = (np.cbrt(1 + 3 * a * c) - 1) / a
    return float(mean - se * x)


def trajectory_round(X, y, seed, batch, offsets):
    """The plain screen's rounds around the cheapest single audit (target 0.95).

    Returns, per offset, the round's model state: inference indices, its
    probabilities and wrong predictions, and the round's LC scores.
    """
    n = y.size
    screen = HybridScreenCV(
        LogisticRegression(max_iter=1000),
        batch_size=batch,
        stopping=None,
        random_state=seed,
    )
    costs, states = [], []
    while True:
        indices = screen.ask(X)
        if indices.size == 0:
            break
        screen.tell(indices, y[indices])
        inference = np.flatnonzero(~screen.observed_mask_)
        proba = screen.estimator_.predict_proba(X[inference])
        pred = screen.estimator_.classes_[proba.argmax(1)]
        wrong = (pred != y[inference]).astype(float)
        n_obs = int(screen.observed_mask_.sum())
        m_ppi, _ = single_audit_sizes(proba, wrong, n, TARGET)
        costs.append(n_obs + m_ppi)
        states.append(
            dict(
                round=len(costs) - 1,
                n_observed=n_obs,
                inference=inference,
                confidence=proba.max(1),
                wrong=wrong,
                system_score=float((n_obs + (1 - wrong).sum()) / n),
                m_ppi=m_ppi,
            )
        )
        best = int(np.argmin(costs))
        if n_obs >= costs[best] and len(costs) > best + max(offsets):
            break
    best = int(np.argmin(costs))
    return best, [states[best + k] for k in offsets if 0 <= best + k < len(states)]


def designs(state, n, b, sizes, draws, seed):
    """Coverage, labels and certification of each design, per audit size."""
    allowed = n * (1 - TARGET)
    wrong, conf = state["wrong"], state["confidence"]
    n_inf = wrong.size
    K = int(wrong.sum())
    r = 1.0 - conf
    # The round's least-confidence order (lowest confidence first).
    rng = np.random.default_rng(seed)
    rows = []
    q = np.sqrt(np.clip(r * (1 - r), 1e-12, None))
    q = (1 - UNIFORM_SHARE) * q / q.sum() + UNIFORM_SHARE / n_inf
    base = r.sum()
    z = norm.ppf(1 - DELTA)
    for m in sizes:
        cells = {k: dict(covered=[], labels=[], certified=[]) for k in DESIGNS}
        for _ in range(draws):
            # (a) uniform audit of m items, then the LC batch among the rest.
            audit = rng.choice(n_inf, size=m, replace=False)
            rest = np.setdiff1d(np.arange(n_inf), audit, assume_unique=True)
            # ties at random, as the screen breaks them
            order = np.lexsort((rng.random(rest.size), conf[rest]))
            batch = rest[order[:b]]
            upper = hypergeometric_upper_bound(int(wrong[audit].sum()), m, n_inf, DELTA)
            measured = wrong[audit].sum() + wrong[batch].sum()
            _record(cells["uniform+batch"], upper, K, b + m, measured, n, allowed)
            # (b) the batch drawn with known probabilities, with replacement.
            drawn = rng.choice(n_inf, size=m, replace=True, p=q)
            values = base + (wrong[drawn] - r[drawn]) / q[drawn]
            mean, se = values.mean(), values.std(ddof=1) / np.sqrt(m)
            unique = np.unique(drawn)
            measured = wrong[unique].sum()
            labels = unique.size
            _record(cells["IS normal"], mean + z * se, K, labels, measured, n, allowed)
            _record(
                cells["IS Hall"], hall_upper(values), K, labels, measured, n, allowed
            )
            # (c) the batch of a stochastic-batch screen: m distinct items.
            chosen, pi = sample_batch(q, m, mode="power", beta=1.0, random_state=rng)
            z_values = m * (wrong[chosen] - r[chosen]) / pi
            se = z_values.std(ddof=1) / np.sqrt(m)
            upper = base + z_values.mean() + z * se
            measured = wrong[chosen].sum()
            _record(cells["stochastic batch"], upper, K, m, measured, n, allowed)
        for name, c in cells.items():
            rows.append(
                dict(
                    design=name,
                    m=int(m),
                    coverage=float(np.mean(c["covered"])),
                    labels=float(np.mean(c["labels"])),
                    certified=float(np.mean(c["certified"])),
                    draws=draws,
                )
            )
    pooled = {}
    for name in DESIGNS:
        mine = [row for row in rows if row["design"] == name]
        total = sum(row["draws"] for row in mine)
        covered = int(round(sum(row["coverage"] * row["draws"] for row in mine)))
        pooled[name] = dict(
            coverage=covered / total,
            draws=total,
            lower95=float(beta.ppf(0.025, covered, total - covered + 1)),
            upper95=1.0
            if covered == total
            else float(beta.ppf(0.975, covered + 1, total - covered)),
        )
    return dict(
        pooled_coverage=pooled,
        round=state["round"],
        n_observed=state["n_observed"],
        n_inference=int(n_inf),
        wrong=K,
        allowed=float(allowed),
        system_score=state["system_score"],
        m_ppi=state["m_ppi"],
        rows=rows,
    )


DESIGNS = ("uniform+batch", "IS normal", "IS Hall", "stochastic batch")


def _record(cell, upper, K, labels, measured, n, allowed):
    cell["covered"].append(upper >= K)
    cell["labels"].append(labels)
    left = max(upper - measured, 0.0)
    cell["certified"].append(1 - left / n > TARGET)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=DEFAULT_DATA)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[500, 1000, 1339, 2000, 3000, 5000]
    )
    parser.add_argument("--round-offsets", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    threads = thread_settings()
    tag = thread_tag(threads)
    with threadpool_limits(limits=1):
        X, gap = load_setting("qm9-full", args.data)
        y = (gap > QM9_GAP_MEDIAN).astype(int)
        n = y.size
        b = int(np.ceil(0.01 * n))
        best, states = trajectory_round(X, y, args.seed, 0.01, args.round_offsets)
        rounds = [
            designs(s, n, min(b, s["inference"].size), args.sizes, args.draws, k)
            for k, s in enumerate(states)
        ]
    result = dict(
        benchmark="audit_designs",
        description=__doc__.split("\n\n")[0],
        command="python benchmarks/bench_audit_designs.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        n_library=int(n),
        batch_size=b,
        target=TARGET,
        delta=DELTA,
        uniform_share=UNIFORM_SHARE,
        seed=args.seed,
        certification_round=best,
        rounds=rounds,
        stochastic_batch="sample_batch(q, m, mode='power', beta=1.0), "
        "Horvitz-Thompson, normal bound with the Hansen-Hurwitz variance",
        threads=threads,
        versions=versions(),
        machine=machine(),
        wall_time_s=round(time.perf_counter() - start, 1),
    )
    for rd in rounds:
        print(
            f"\nRound {rd['round']} (certification round {best}): "
            f"{rd['n_observed']} labels, inference set {rd['n_inference']} with "
            f"K = {rd['wrong']} wrong (allowed {rd['allowed']:.0f}), true system "
            f"accuracy {rd['system_score']:.4f}, stop_limit m_ppi {rd['m_ppi']} "
            f"{tag}"
        )
        print(f"{'design':<15}{'m':>6}{'coverage':>10}{'labels':>9}{'certified':>11}")
        for row in rd["rows"]:
            print(
                f"{row['design']:<15}{row['m']:>6}{row['coverage']:>10.3f}"
                f"{row['labels']:>9.0f}{row['certified']:>11.3f}"
            )
        for name, c in rd["pooled_coverage"].items():
            print(
                f"  {name}: coverage over every m {c['coverage']:.3f} "
                f"({c['draws']} draws, 95 % CI {c['lower95']:.3f}-{c['upper95']:.3f})"
            )
    print(f"\n{args.draws} draws per cell; wall time {result['wall_time_s']:.0f} s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"Wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
