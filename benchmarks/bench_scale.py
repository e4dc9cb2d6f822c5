"""Seconds per round and peak memory of a screen, from 10^4 to 1.58 M compounds.

Libraries of 10^4, 10^5, 10^6 molecules drawn at random from MOSES, and all
1,584,663 MOSES molecules, as ECFP4 (radius 2, 2,048 bits, sparse CSR, float32)
from :class:`~sklearn_isd.MorganFingerprint`. Label: Crippen logP above its
median over the library. Model: ``SGDClassifier(loss="log_loss")``, least
confidence, a random initial batch of 1 % of the library, then batches of
0.1 %, so the model is trained on 1.0-1.3 % of the library. A round is what a
lab waits for between two plates: ``tell`` (refit on the measured labels,
predict and score the inference set) then ``ask`` (choose the next batch).

Each library size runs in its own process, which loads a file holding that
library alone (cached by ``_moses.py``), so that its peak RSS
(``VmHWM``) is that of the interpreter, the imports, the library and the
screen; the RSS after the imports and after loading the library are
reported next to it.
Featurization is excluded from the round times and reported separately (it
is done once and cached; see ``_moses.py``).

Usage::

    python benchmarks/bench_scale.py                       # all sizes
    python benchmarks/bench_scale.py --sizes 10000 100000  # quick

Writes ``benchmarks/results/scale.json``. One BLAS/OpenMP thread per
process; ``--n-jobs`` is the screen's ``n_jobs`` (pool scoring chunks of
``POOL_CHUNK_SIZE`` rows through joblib), printed next to each figure.
"""

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).parent
DEFAULT_OUTPUT = HERE / "results" / "scale.json"
SIZES = ["10000", "100000", "1000000", "all"]


def _rss_gb(field="VmHWM"):
    """Peak (``VmHWM``) or current (``VmRSS``) resident memory, in GB.

    Read from /proc/self/status: unlike ``ru_maxrss``, which Linux carries
    over ``execve`` from the forked parent, VmHWM belongs to this process.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024**2
    raise RuntimeError(f"{field} not in /proc/self/status")


def _machine():
    mem = Path("/proc/meminfo").read_text().split("\n")[0].split()[1]
    return {
        "cpu_count": os.cpu_count(),
        "ram_gb": round(int(mem) / 1024**2, 1),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


def run_worker(size, n_jobs, rounds, seed, cache_dir, profile):
    """One library size in this process; prints a JSON line of results."""
    from _moses import load_subset
    from sklearn.linear_model import SGDClassifier
    from threadpoolctl import threadpool_limits

    from sklearn_isd import HybridScreenCV

    threadpool_limits(1)
    rss_start = _rss_gb()
    X, y = load_subset(size)  # a file holding this library alone
    n_rows = X.shape[0]
    rss_loaded = _rss_gb()
    screen = HybridScreenCV(
        SGDClassifier(loss="log_loss", random_state=seed),
        acquisition="least_confidence",
        initial_batch_size=0.01,
        batch_size=0.001,
        stopping=None,
        n_jobs=n_jobs,
        random_state=seed,
    )
    batch = screen.ask(X)
    t0 = time.perf_counter()
    screen.tell(batch, y[batch])  # fit on the initial 1 %, score the rest
    batch = screen.ask()
    first = time.perf_counter() - t0
    walls = []
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
    for _ in range(rounds):
        t0 = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        screen.tell(batch, y[batch])
        batch = screen.ask()
        if profiler is not None:
            profiler.disable()
        walls.append(time.perf_counter() - t0)
    hist = screen.history_
    result = {
        "size": n_rows,
        "n_jobs": n_jobs,
        "nnz": int(X.nnz),
        "library_mb": round((X.data.nbytes + X.indices.nbytes + X.indptr.nbytes) / 1e6),
        "first_round_s": first,
        "round_s": walls,
        "fit_s": hist["fit_time"][1:].tolist(),
        "score_s": hist["score_time"][1:].tolist(),
        "fraction_observed": float(hist["fraction_observed"][-1]),
        "rss_start_gb": rss_start,
        "rss_loaded_gb": rss_loaded,
        "peak_rss_gb": _rss_gb(),
    }
    if profiler is not None:
        import io
        import pstats

        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
        result["profile"] = out.getvalue()
    print(json.dumps(result))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", default=SIZES)
    parser.add_argument("--n-jobs", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache-dir", default=str(HERE / ".cache"))
    moses = HERE.resolve().parents[1] / "shared" / "data" / "moses_train_smiles.csv.gz"
    parser.add_argument("--data", default=str(moses))
    parser.add_argument("--profile", action="store_true", help="cProfile the rounds")
    parser.add_argument("--out", default=str(DEFAULT_OUTPUT))
    parser.add_argument("--worker", nargs=2, metavar=("FILE", "N_JOBS"))
    args = parser.parse_args(argv)
    if args.worker:
        size, n_jobs = args.worker
        return run_worker(
            size, int(n_jobs), args.rounds, args.seed, args.cache_dir, args.profile
        )

    import sklearn
    from _moses import cached_subset, moses_library

    import sklearn_isd

    machine = _machine()
    print(f"machine: {machine}")
    t0 = time.perf_counter()
    X, _, info = moses_library(args.data, args.cache_dir)
    print(
        f"library: {X.shape[0]:,} MOSES molecules, ECFP4 {X.shape[1]} bits, "
        f"{X.nnz:,} non-zeros ({'cached' if info['cached'] else 'computed'} in "
        f"{time.perf_counter() - t0:.1f} s). Featurization, done once: "
        f"{info['featurize_s']:.0f} s fingerprints + {info['logp_s']:.0f} s logP "
        f"with n_jobs={info['n_jobs']} (excluded from the rounds below)."
    )
    X_shape0 = X.shape[0]
    del X
    rows = []
    for size in args.sizes:
        n_rows = X_shape0 if size == "all" else int(size)
        file = cached_subset(n_rows, args.seed, args.data, args.cache_dir)
        for n_jobs in args.n_jobs:
            cmd = [sys.executable, __file__, "--worker", str(file), str(n_jobs)]
            cmd += ["--rounds", str(args.rounds), "--seed", str(args.seed)]
            cmd += ["--cache-dir", args.cache_dir] + (["--profile"] * args.profile)
            out = subprocess.run(
                cmd, capture_output=True, text=True, check=True, cwd=HERE
            ).stdout
            row = json.loads(out.strip().splitlines()[-1])
            rows.append(row)
            med, fit, score = (
                np.median(row[k]) for k in ("round_s", "fit_s", "score_s")
            )
            print(
                f"{row['size']:>9,} n_jobs={n_jobs}  round {med:6.2f} s "
                f"(fit {fit:.2f}, score {score:.2f})  first "
                f"{row['first_round_s']:.2f} s  peak RSS {row['peak_rss_gb']:.2f} GB"
                f" (library loaded {row['rss_loaded_gb']:.2f} GB)",
                flush=True,
            )
            if args.profile:
                print(row["profile"])

    print("\n[threads blas=1 openmp=1 per process; n_jobs as shown]")
    header = (
        "| compounds | n_jobs | s / round (median) | fit s | score s | "
        "s per 10^6 | peak RSS GB | after imports GB | after load GB |"
    )
    print(header)
    print("|" + "---|" * 9)
    for row in rows:
        med = np.median(row["round_s"])
        print(
            f"| {row['size']:,} | {row['n_jobs']} | {med:.2f} | "
            f"{np.median(row['fit_s']):.2f} | {np.median(row['score_s']):.2f} | "
            f"{med / row['size'] * 1e6:.2f} | {row['peak_rss_gb']:.2f} | "
            f"{row['rss_start_gb']:.2f} | {row['rss_loaded_gb']:.2f} |"
        )
    # Growth with size: slope of log(time) and log(RSS) against log(size).
    growth = {}
    for n_jobs in args.n_jobs:
        sel = [r for r in rows if r["n_jobs"] == n_jobs]
        if len(sel) >= 2:
            size = np.log([r["size"] for r in sel])
            t = np.log([np.median(r["round_s"]) for r in sel])
            # Memory of the library and the screen: peak minus the imports.
            m = np.log([r["peak_rss_gb"] - r["rss_start_gb"] for r in sel])
            growth[n_jobs] = {
                "time_exponent": float(np.polyfit(size, t, 1)[0]),
                "rss_exponent": float(np.polyfit(size, m, 1)[0]),
            }
            g = growth[n_jobs]
            print(
                f"n_jobs={n_jobs}: time ~ size^{g['time_exponent']:.2f}, peak RSS "
                f"above the imports ~ size^{g['rss_exponent']:.2f} (1 = linear)"
            )
    biggest = [r for r in rows if r["size"] == max(x["size"] for x in rows)]
    for r in biggest:
        med = np.median(r["round_s"])
        print(
            f"goal at {r['size']:,} (n_jobs={r['n_jobs']}): round {med:.2f} s < 10 s "
            f"{'holds' if med < 10 else 'fails'}; peak RSS {r['peak_rss_gb']:.2f} GB "
            f"< 4 GB {'holds' if r['peak_rss_gb'] < 4 else 'fails'}"
        )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(
        json.dumps(
            {
                "settings": {
                    "model": "SGDClassifier(loss='log_loss')",
                    "acquisition": "least_confidence",
                    "initial_batch": "1 % random",
                    "batch": "0.1 %",
                    "rounds": args.rounds,
                    "seed": args.seed,
                    "label": "Crippen logP > median over the library",
                    "features": "ECFP4 2048 bits CSR float32",
                    "pool_chunk_size": sklearn_isd._pool.POOL_CHUNK_SIZE,
                },
                "featurization": info,
                "machine": machine,
                "versions": {
                    "sklearn_isd": sklearn_isd.__version__,
                    "sklearn": sklearn.__version__,
                    "numpy": np.__version__,
                },
                "threads": "blas=1 openmp=1 per process",
                "growth": growth,
                "rows": [{k: v for k, v in r.items() if k != "profile"} for r in rows],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
