import csv
import subprocess
import sys

import numpy as np
import pytest

from sklearn_isd.__main__ import main

pytest.importorskip("rdkit")


def test_demo_runs_and_writes_the_readout(tmp_path, capsys):
    out = tmp_path / "readout.csv"
    code = main(
        [
            "demo",
            "--n-molecules",
            "2000",
            "--batch-size",
            "50",
            "--output",
            str(out),
            "--no-progress",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "Labels used at stop:" in printed and "True system accuracy" in printed
    with out.open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2000
    assert rows[0].keys() == {
        "index",
        "smiles",
        "label",
        "source",
        "round",
        "confidence",
    }
    measured = [r for r in rows if r["source"] == "measured"]
    predicted = [r for r in rows if r["source"] == "predicted"]
    assert measured and predicted
    assert all(r["round"] != "" and r["confidence"] == "" for r in measured)
    confidence = np.array([float(r["confidence"]) for r in predicted])
    assert ((confidence >= 0.5) & (confidence <= 1.0)).all()
    n_line = next(line for line in printed.splitlines() if "Labels used" in line)
    assert f"{len(measured)} of 2000" in n_line


def test_cli_rejects_impossible_options():
    result = subprocess.run(
        [sys.executable, "-m", "sklearn_isd", "demo", "--target", "1.5"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "must lie in (0, 1)" in result.stderr
