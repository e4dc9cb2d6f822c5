"""Time MorganFingerprint(n_jobs=...) against a plain per-molecule RDKit loop.

On the same SMILES (the MOSES library by default, 1.58 M drug-like
molecules), in one run: (1) the loop a user would write, one
``Chem.MolFromSmiles`` and one ``GetFingerprint`` per molecule, collecting
``list(fp.GetOnBits())`` and building a scipy CSR matrix at the end; (2)
``MorganFingerprint(n_jobs=1)``; (3) ``MorganFingerprint(n_jobs=<cores>)``,
through joblib's default (loky) backend. ECFP4: radius 2, 2048 bits. (2) and
(3) must equal (1) exactly (same CSR arrays), which the script asserts. The
speed-up of (3) over (1) is the figure of the goal "at least the number of
cores". Each method first runs once on 2,000 molecules (imports, the joblib
worker processes), and that warm-up is not timed into the result. Next to the
wall times it reports the CPU seconds of the parent process and of the joblib
workers (from /proc) and the CPU utilisation, CPU time / (wall time x cores
used), which falls below 100 % when other processes take the cores.

Usage::

    python benchmarks/bench_featurize.py                  # all 1.58 M, ~6 min
    python benchmarks/bench_featurize.py --n-rows 100000  # ~25 s

It prints a table and writes ``benchmarks/results/featurize.json``.
"""

import os

# Thread settings, before numpy is imported.
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import gc  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import joblib  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import scipy  # noqa: E402
import scipy.sparse as sp  # noqa: E402
import sklearn  # noqa: E402
from threadpoolctl import threadpool_info  # noqa: E402

from sklearn_isd import chem  # noqa: E402
from sklearn_isd.chem import MorganFingerprint  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DEFAULT_DATA = str(SHARED_DATA / "moses_train_smiles.csv.gz")
DEFAULT_OUTPUT = Path(__file__).parent / "results" / "featurize.json"
RADIUS, N_BITS = 2, 2048
N_WARMUP = 2_000


def plain_loop(smiles):
    """The per-molecule loop a user would write, to a CSR matrix."""
    from rdkit import Chem
    from rdkit.Chem import rdFingerprintGenerator

    gen = rdFingerprintGenerator.GetMorganGenerator(radius=RADIUS, fpSize=N_BITS)
    rows = []
    for s in smiles:
        mol = Chem.MolFromSmiles(s)
        fp = gen.GetFingerprint(mol)
        rows.append(list(fp.GetOnBits()))
    indptr = np.cumsum([0] + [len(r) for r in rows])
    indices = np.fromiter(
        itertools.chain.from_iterable(rows), dtype=np.int32, count=indptr[-1]
    )
    return sp.csr_matrix(
        (np.ones(len(indices), dtype=np.float32), indices, indptr),
        shape=(len(rows), N_BITS),
    )


def timed(function, smiles):
    """Run ``function(smiles)``: result, wall and parent-CPU seconds."""
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    X = function(smiles)
    return X, time.perf_counter() - wall, time.process_time() - cpu


def same_csr(A, B):
    """Exactly the same CSR matrix: shape, row pointers, columns, values."""
    return (
        A.shape == B.shape
        and np.array_equal(A.indptr, B.indptr)
        and np.array_equal(A.indices, B.indices)
        and np.array_equal(A.data, B.data)
        and A.dtype == B.dtype
    )


def _worker_peak_rss_mb():
    """(pid, peak RSS in MB) of the calling process, from /proc (VmHWM).

    ``ru_maxrss`` is not used here: Linux carries it over ``fork`` and
    ``exec``, so a joblib worker would report its parent's peak.
    """
    time.sleep(0.05)  # let every worker take one of these tasks
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return os.getpid(), int(line.split()[1]) / 1024
    return os.getpid(), float("nan")


def children_cpu_seconds():
    """CPU seconds (user + system) used so far by each live child process.

    Read from /proc/<pid>/stat; the children are joblib's worker processes
    (and its resource tracker). Empty where /proc is missing.
    """
    tick, me, cpu = os.sysconf("SC_CLK_TCK"), os.getpid(), {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        if int(fields[1]) == me:  # ppid; utime and stime follow
            cpu[int(stat.parent.name)] = (int(fields[11]) + int(fields[12])) / tick
    return cpu


def meminfo_gb():
    """MemTotal and MemAvailable of /proc/meminfo, in GiB (None elsewhere)."""
    try:
        lines = Path("/proc/meminfo").read_text().splitlines()
    except OSError:
        return None, None
    kb = {line.split(":")[0]: int(line.split()[1]) for line in lines}
    return kb["MemTotal"] / 2**20, kb.get("MemAvailable", 0) / 2**20


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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=DEFAULT_DATA)
    parser.add_argument("--n-rows", type=int, default=None, help="default: all")
    parser.add_argument("--n-jobs", type=int, default=os.cpu_count())
    parser.add_argument("--out", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)

    import rdkit

    start = time.perf_counter()
    smiles = pd.read_csv(args.data, usecols=["SMILES"])["SMILES"].to_numpy(object)
    read_s = time.perf_counter() - start
    if args.n_rows is not None:
        smiles = smiles[: args.n_rows]
    n = len(smiles)

    cores = os.cpu_count()
    ram_total, ram_available = meminfo_gb()
    threads = thread_settings()
    load_before = os.getloadavg()
    methods = {  # name: (function, cores it uses)
        "plain loop (MolFromSmiles + GetFingerprint)": (plain_loop, 1),
        "MorganFingerprint(n_jobs=1)": (
            MorganFingerprint(RADIUS, N_BITS, n_jobs=1).transform,
            1,
        ),
        f"MorganFingerprint(n_jobs={args.n_jobs})": (
            MorganFingerprint(RADIUS, N_BITS, n_jobs=args.n_jobs).transform,
            args.n_jobs,
        ),
    }

    print(
        f"Featurize benchmark: {n:,} SMILES from {args.data} (read in "
        f"{read_s:.1f} s), ECFP4 radius {RADIUS}, {N_BITS} bits"
    )
    print(
        f"Machine: {cores} cores (os.cpu_count), "
        f"{len(os.sched_getaffinity(0))} usable, RAM {ram_total:.1f} GiB "
        f"({ram_available:.1f} GiB available), load average "
        f"{' '.join(f'{x:.2f}' for x in load_before)}"
    )
    print(
        f"Threads: {threads['threadpoolctl']}, OMP/MKL/OPENBLAS_NUM_THREADS="
        f"{threads['OMP_NUM_THREADS']}/{threads['MKL_NUM_THREADS']}/"
        f"{threads['OPENBLAS_NUM_THREADS']}; joblib backend loky, "
        f"chunks of ~{chem._CHUNK_SIZE:,} rows"
    )

    warmup = {}
    for name, (function, _) in methods.items():
        _, warmup[name], _ = timed(function, smiles[:N_WARMUP])

    results, reference, loop_wall = [], None, None
    for name, (function, n_cores) in methods.items():
        before = children_cpu_seconds()
        X, wall, cpu = timed(function, smiles)
        after = children_cpu_seconds()
        workers_cpu = sum(t - before.get(pid, 0.0) for pid, t in after.items())
        if reference is None:
            reference, loop_wall = X, wall
        elif not same_csr(X, reference):
            raise AssertionError(f"{name} differs from the plain loop")
        results.append(
            dict(
                method=name,
                rows=n,
                seconds=round(wall, 3),
                parent_cpu_seconds=round(cpu, 3),
                workers_cpu_seconds=round(workers_cpu, 3),
                # CPU time used / (wall time x cores used): below 1 means the
                # processes waited for a core (other load) or for each other.
                cores_used=n_cores,
                cpu_utilisation=round(
                    (cpu + (workers_cpu if n_cores > 1 else 0.0)) / (wall * n_cores), 3
                ),
                molecules_per_s=round(n / wall, 1),
                speedup_vs_loop=round(loop_wall / wall, 3),
                warmup_seconds=round(warmup[name], 3),
                peak_rss_parent_mb=round(
                    resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
                ),
            )
        )
        del X
    nnz = int(reference.nnz)
    del reference
    workers = dict(
        joblib.Parallel(n_jobs=args.n_jobs)(
            joblib.delayed(_worker_peak_rss_mb)() for _ in range(4 * args.n_jobs)
        )
    )
    peak_children = max(workers.values())

    print(
        f"{'method':<46}{'rows':>11}{'seconds':>10}{'mol/s':>10}"
        f"{'speed-up':>10}{'CPU s parent':>14}{'workers':>9}{'CPU use':>9}"
    )
    for r in results:
        print(
            f"{r['method']:<46}{r['rows']:>11,}{r['seconds']:>10.2f}"
            f"{r['molecules_per_s']:>10,.0f}{r['speedup_vs_loop']:>10.2f}"
            f"{r['parent_cpu_seconds']:>14.2f}{r['workers_cpu_seconds']:>9.2f}"
            f"{r['cpu_utilisation']:>9.0%}"
        )
    speedup = results[-1]["speedup_vs_loop"]
    holds = speedup >= args.n_jobs
    print(
        f"all three give the same CSR matrix ({n:,} x {N_BITS}, {nnz:,} nonzeros): yes"
    )
    print(
        f"peak RSS: parent {results[-1]['peak_rss_parent_mb']:,.0f} MB, "
        f"largest of {len(workers)} joblib workers {peak_children:,.0f} MB"
    )
    print(
        f"goal: speed-up >= cores ({speedup:.2f} >= {args.n_jobs}): "
        f"{'holds' if holds else 'fails'}"
    )

    result = dict(
        benchmark="featurize",
        description=(
            "ECFP4 of SMILES: a plain per-molecule RDKit loop vs "
            "MorganFingerprint(n_jobs=1) and MorganFingerprint(n_jobs=cores), "
            "same SMILES, same output (asserted), one run"
        ),
        data=str(args.data),
        n_rows=n,
        radius=RADIUS,
        n_bits=N_BITS,
        n_jobs=args.n_jobs,
        nnz=nnz,
        identical_output=True,
        joblib_backend="loky (default)",
        chunk_size=chem._CHUNK_SIZE,
        warmup_rows=N_WARMUP,
        read_seconds=round(read_s, 3),
        results=results,
        goal=dict(
            statement="speed-up of MorganFingerprint(n_jobs=cores) over the "
            "plain loop >= number of cores",
            speedup=speedup,
            target=args.n_jobs,
            holds=bool(holds),
        ),
        peak_rss_parent_mb=results[-1]["peak_rss_parent_mb"],
        peak_rss_largest_worker_mb=round(peak_children, 1),
        machine=dict(
            cores=cores,
            usable_cores=len(os.sched_getaffinity(0)),
            ram_total_gib=round(ram_total, 2) if ram_total else None,
            ram_available_gib=round(ram_available, 2) if ram_available else None,
            load_average_before=[round(x, 2) for x in load_before],
            machine=platform.machine(),
            processor=platform.processor() or platform.machine(),
        ),
        threads=threads,
        versions=dict(
            rdkit=rdkit.__version__,
            numpy=np.__version__,
            scipy=scipy.__version__,
            joblib=joblib.__version__,
            sklearn=sklearn.__version__,
            pandas=pd.__version__,
            python=platform.python_version(),
        ),
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"Wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
