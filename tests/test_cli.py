import csv
import re
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
    assert "The screen stopped after round" in printed
    assert "Why then:" in printed and "true system accuracy is" in printed
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
    n_line = next(line for line in printed.splitlines() if "stopped after" in line)
    assert f"{len(measured)} of 2000" in n_line


def test_cli_rejects_impossible_options():
    result = subprocess.run(
        [sys.executable, "-m", "sklearn_isd", "demo", "--target", "1.5"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "must lie in (0, 1)" in result.stderr and "Traceback" not in result.stderr


def test_demo_out_is_the_primary_spelling_and_output_a_hidden_alias(tmp_path, capsys):
    args = ["demo", "--n-molecules", "400", "--batch-size", "40", "--no-progress"]
    assert main([*args, "--out", str(tmp_path / "a.csv")]) == 0
    assert main([*args, "--output", str(tmp_path / "b.csv")]) == 0
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    printed = capsys.readouterr().out
    assert "--out FILE" in printed and "--output" not in printed


def test_demo_stopping_names_the_rule_and_stops_by_it(tmp_path, capsys):
    """``demo --stopping ppi`` screens with PredictionPoweredBound: the header
    names it and its audit items are counted at the stop; a rule that is not
    built in is refused (exit 2) before any screen runs."""
    out = tmp_path / "r.csv"
    argv = ["demo", "--stopping", "ppi", "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "stopping rule ppi (an exact audit" in printed
    assert re.search(r"measured \(\d+\.\d%, \d+ of them as audit items\)", printed)
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--stopping", "magic", "--out", str(tmp_path / "x.csv")])
    assert exc.value.code == 2 and not (tmp_path / "x.csv").exists()


def test_demo_runs_the_simulate_code_path(tmp_path, monkeypatch):
    from sklearn_isd.cli import _simulate

    calls = []
    real = _simulate.run_simulation

    def spy(library, X, y, estimator, options, **kwargs):
        calls.append((len(library), type(estimator).__name__, options["batch_size"]))
        return real(library, X, y, estimator, options, **kwargs)

    monkeypatch.setattr(_simulate, "run_simulation", spy)
    out = tmp_path / "r.csv"
    argv = ["demo", "--n-molecules", "300", "--batch-size", "30", "--out", str(out)]
    assert main([*argv, "--no-progress"]) == 0
    assert calls == [(300, "LogisticRegression", 30)]
