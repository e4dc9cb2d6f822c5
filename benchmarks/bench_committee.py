"""Time a vectorised ResMLP committee against the same members trained apart.

Five separate :class:`~sklearn_isd.ResMLPClassifier` nets (``n_members=1``,
five fits) are compared with one ``n_members=5`` fit, on the same QM9 ECFP4
data (the paper's classification task: HOMO-LUMO gap above its median), for
the same number of epochs, without early stopping or a validation split, on
one torch thread. The committee draws a bootstrap per member, which weights
the loss and costs no extra arithmetic; the separate nets train on all rows.

Usage::

    python benchmarks/bench_committee.py --n-rows 20000 --epochs 3

It prints a table and writes ``benchmarks/results/committee.json``.
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
import torch  # noqa: E402

from sklearn_isd.neural import ResMLPClassifier  # noqa: E402

torch.set_num_threads(1)
torch.set_num_interop_threads(1)

GAP_MEDIAN = 0.2494  # Hartree
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DEFAULT_DATA = str(SHARED_DATA / "qm9_gap.parquet")
DEFAULT_OUTPUT = Path(__file__).parent / "results" / "committee.json"


def load_ecfp4(path, n_rows, seed=0):
    """``n_rows`` random QM9 molecules as CSR ECFP4 (2048 bits) and gap labels."""
    import pandas as pd
    from rdkit import Chem
    from rdkit.Chem import rdFingerprintGenerator

    frame = pd.read_parquet(path)
    frame = frame.sample(n=min(n_rows, len(frame)), random_state=seed)
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    bits = [
        np.asarray(gen.GetFingerprint(Chem.MolFromSmiles(s)).GetOnBits())
        for s in frame["smiles"]
    ]
    indptr = np.cumsum([0] + [len(b) for b in bits])
    X = sp.csr_matrix(
        (np.ones(indptr[-1], dtype=np.float32), np.concatenate(bits), indptr),
        shape=(len(bits), 2048),
    )
    return X, (frame["gap"].to_numpy() > GAP_MEDIAN).astype(int)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=DEFAULT_DATA)
    parser.add_argument("--n-rows", type=int, default=20_000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--n-members", type=int, default=5)
    parser.add_argument("--hidden-size", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)

    X, y = load_ecfp4(args.data, args.n_rows)
    n_train = int(0.8 * X.shape[0])
    X_train, y_train, X_test, y_test = (
        X[:n_train],
        y[:n_train],
        X[n_train:],
        y[n_train:],
    )
    settings = dict(
        module__hidden_size=args.hidden_size,
        max_epochs=args.epochs,
        batch_size=args.batch_size,
        patience=None,
        validation_fraction=None,
        device=args.device,
    )
    # One tiny fit first: the first optimizer imports torch._dynamo (seconds).
    ResMLPClassifier(**(settings | dict(max_epochs=1))).fit(X_train[:64], y_train[:64])

    start = time.perf_counter()
    separate = [
        ResMLPClassifier(n_members=1, random_state=seed, **settings).fit(
            X_train, y_train
        )
        for seed in range(args.n_members)
    ]
    time_separate = time.perf_counter() - start

    start = time.perf_counter()
    committee = ResMLPClassifier(
        n_members=args.n_members, random_state=0, **settings
    ).fit(X_train, y_train)
    time_committee = time.perf_counter() - start

    proba_separate = np.mean([net.predict_proba(X_test) for net in separate], axis=0)
    accuracy_separate = float(np.mean(proba_separate.argmax(axis=1) == y_test))
    accuracy_committee = float(committee.score(X_test, y_test))

    threads = dict(
        torch_num_threads=torch.get_num_threads(),
        torch_num_interop_threads=torch.get_num_interop_threads(),
        **{var: os.environ[var] for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")},
    )
    result = dict(
        benchmark="committee",
        description=(
            f"{args.n_members} separate ResMLP fits (n_members=1) vs one "
            f"n_members={args.n_members} vectorised fit"
        ),
        n_train=int(n_train),
        n_test=int(X.shape[0] - n_train),
        n_features=int(X.shape[1]),
        input="scipy.sparse CSR (ECFP4, radius 2, 2048 bits), densified per batch",
        task="QM9 gap > 0.2494 Ha",
        epochs=args.epochs,
        early_stopping=False,
        n_members=args.n_members,
        hidden_size=args.hidden_size,
        n_blocks=2,
        batch_size=args.batch_size,
        device=args.device,
        threads=threads,
        time_separate_s=round(time_separate, 3),
        time_vectorised_s=round(time_committee, 3),
        speedup=round(time_separate / time_committee, 3),
        test_accuracy_separate=round(accuracy_separate, 4),
        test_accuracy_vectorised=round(accuracy_committee, 4),
        torch=torch.__version__,
        python=platform.python_version(),
        machine=platform.machine(),
        processor=platform.processor() or platform.machine(),
    )

    print(
        f"Committee benchmark: {n_train} training rows x {X.shape[1]} features "
        f"(sparse ECFP4), {args.epochs} epochs, hidden {args.hidden_size}, "
        f"batch {args.batch_size}, device {args.device}"
    )
    print(
        "Threads: torch {torch_num_threads} (interop {torch_num_interop_threads}), "
        "OMP_NUM_THREADS={OMP_NUM_THREADS}, MKL_NUM_THREADS={MKL_NUM_THREADS}".format(
            **threads
        )
    )
    print(f"{'fit':<36}{'time (s)':>10}{'test acc.':>11}")
    print(
        f"{f'{args.n_members} separate nets (n_members=1)':<36}"
        f"{time_separate:>10.2f}{accuracy_separate:>11.3f}"
    )
    print(
        f"{f'1 vectorised (n_members={args.n_members})':<36}"
        f"{time_committee:>10.2f}{accuracy_committee:>11.3f}"
    )
    print(f"{'speed-up (separate / vectorised)':<36}{result['speedup']:>10.2f}")

    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"Wrote {args.output}")
    return result


if __name__ == "__main__":
    main()
