"""start --classes, matrix campaigns, extend, and --out on every command."""

import csv
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from sklearn_isd import HybridScreenCV, read_campaign_metadata
from sklearn_isd.__main__ import main

pytest.importorskip("rdkit")

N = 120
BATCH = "30"


def _write(path, header, rows):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _read(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def _one_line_error(capsys):
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.count("\n") == 1, err
    return err


def _status(campaign, capsys):
    capsys.readouterr()
    assert main(["status", str(campaign), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """120 QM9 molecules: two class columns (the second with empty cells)."""
    from sklearn_isd.datasets import load_qm9

    data = load_qm9(subset="embedded", task="classification")
    ids = [f"Q{i:04d}" for i in range(N)]
    active = [int(y) for y in data.target[:N]]
    toxic = [
        "" if i % 7 == 0 else int(s.count("O") > 0) for i, s in enumerate(data.data)
    ]
    names = ["active" if y else "inactive" for y in active]
    path = tmp_path_factory.mktemp("lib") / "library.csv"
    rows = zip(ids, data.data[:N], active, toxic[:N], names)
    _write(path, ["compound", "smiles", "active", "toxic", "name"], rows)
    truth = {
        cid: {"active": a, "toxic": t, "name": n}
        for cid, a, t, n in zip(ids, active, toxic, names)
    }
    return path, truth


def _start(library, out, *extra):
    path, _ = library
    argv = ["start", str(path), "--smiles-col", "smiles", "--id-col", "compound"]
    return main([*argv, "--batch-size", BATCH, "--out", str(out), *extra])


def _results(library, batch_file, out, columns=("active",), rename=None):
    _, truth = library
    if rename is None:
        rename = ["value"] if len(columns) == 1 else columns
    header = ["id", *rename]
    rows = [[r["id"], *(truth[r["id"]][c] for c in columns)] for r in _read(batch_file)]
    return _write(out, header, rows)


# --------------------------------------------------------------------------
# --classes
# --------------------------------------------------------------------------
def test_declared_classes_refuse_another_class_by_row(library, tmp_path, capsys):
    campaign = tmp_path / "c"
    assert _start(library, campaign, "--classes", "0,1") == 0
    assert json.loads((campaign / "campaign.json").read_text())["classes"] == [0, 1]
    results = _results(library, campaign / "batch_000.csv", tmp_path / "r.csv")
    rows = results.read_text().splitlines()
    cid = rows[4].split(",")[0]
    rows[4] = f"{cid},2"  # row 5 of the file: a class not declared
    results.write_text("\n".join(rows) + "\n")
    before = _snapshot(campaign)
    assert main(["tell", str(campaign), str(results)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "nothing was written" in err
    assert (
        f"row 5: class '2' is not one of the classes declared at start (0, 1) for "
        f"id {cid!r}"
    ) in err
    assert _snapshot(campaign) == before
    rows[4] = f"{cid},1.0"  # a code however it is spelled
    results.write_text("\n".join(rows) + "\n")
    assert main(["tell", str(campaign), str(results)]) == 0
    status = _status(campaign, capsys)
    assert status["classes"] == [0, 1] and set(status["classes_seen"]) <= {0, 1}


def test_class_names_are_told_by_name(library, tmp_path, capsys):
    campaign = tmp_path / "c"
    argv = ["--classes", "inactive", "--classes", "active"]
    assert _start(library, campaign, *argv) == 0
    results = _results(
        library, campaign / "batch_000.csv", tmp_path / "r.csv", ("name",), ["value"]
    )
    assert main(["tell", str(campaign), str(results)]) == 0
    screen = HybridScreenCV.load(campaign / "campaign.isd.npz")
    assert screen.history_["n_observed"][-1] == 30
    status = _status(campaign, capsys)
    assert status["classes"] == ["inactive", "active"]
    assert set(status["classes_seen"]) <= {"inactive", "active"}
    assert main(["status", str(campaign)]) == 0
    assert "Classes (declared at start): inactive, active" in capsys.readouterr().out
    # A code is not a name.
    nxt = _results(
        library, campaign / "batch_001.csv", tmp_path / "r1.csv", ("active",), ["value"]
    )
    assert main(["tell", str(campaign), str(nxt)]) == 2
    assert "is not one of the classes declared at start" in capsys.readouterr().err


def test_without_classes_status_says_which_were_seen(library, tmp_path, capsys):
    campaign = tmp_path / "c"
    assert _start(library, campaign) == 0
    assert _status(campaign, capsys)["classes_seen"] == []
    results = _results(library, campaign / "batch_000.csv", tmp_path / "r.csv")
    assert main(["tell", str(campaign), str(results)]) == 0
    told = {int(r["value"]) for r in _read(results)}
    status = _status(campaign, capsys)
    assert status["classes"] is None and status["classes_seen"] == sorted(told)
    assert main(["status", str(campaign)]) == 0
    assert "Classes seen so far: 0, 1 (no classes were declared" in (
        capsys.readouterr().out
    )


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--classes", "1"], "at least 2 class labels"),
        (["--classes", "0,1,0"], "names '0' twice"),
        (["--classes", "1,1.0"], "one class code twice"),
        (["--classes", "0,1", "--task", "regression", "--tolerance", "1"], "only"),
        (["--classes", "a,b", "--value-col", "x,y"], "integer class codes"),
    ],
)
def test_bad_classes_are_exit_2_and_nothing_written(
    library, tmp_path, capsys, extra, message
):
    assert _start(library, tmp_path / "c", *extra) == 2
    assert message in _one_line_error(capsys)
    assert not (tmp_path / "c").exists()


def test_empty_class_name_is_a_usage_error(library, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        _start(library, tmp_path / "c", "--classes", "a,,b")
    assert exc.value.code == 2
    assert "an empty column name" in capsys.readouterr().err


# --------------------------------------------------------------------------
# Matrix campaigns
# --------------------------------------------------------------------------
def test_matrix_simulate_with_several_label_columns(library, tmp_path, capsys):
    path, truth = library
    out = tmp_path / "s"
    argv = ["simulate", str(path), "--smiles-col", "smiles", "--id-col", "compound"]
    argv += ["--label-col", "active", "--label-col", "toxic", "--target", "0.8"]
    assert main([*argv, "--batch-size", BATCH, "--out", str(out), "--no-progress"]) == 0
    readout = _read(out / "readout.csv")
    assert list(readout[0])[:6] == [
        "id",
        "smiles",
        "value_active",
        "value_toxic",
        "true_value_active",
        "true_value_toxic",
    ]
    for row in readout:
        assert row["true_value_toxic"] == str(truth[row["id"]]["toxic"])
        if row["source"] == "measured":
            assert row["value_active"] == row["true_value_active"]
    history = _read(out / "history.csv")
    assert "n_observed_cells" in history[0]
    # A comma list is the same as the repeated option.
    argv[6:10] = ["--label-col", "active,toxic"]
    out2 = tmp_path / "s2"
    assert (
        main([*argv, "--batch-size", BATCH, "--out", str(out2), "--no-progress"]) == 0
    )
    assert _read(out2 / "readout.csv") == readout


def test_matrix_labels_must_be_class_codes(library, tmp_path, capsys):
    path, _ = library
    argv = ["simulate", str(path), "--smiles-col", "smiles", "--label-col"]
    argv += ["active,name", "--out", str(tmp_path / "s"), "--no-progress"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "value 'inactive' is not a numeric class code" in err
    assert "in column 'name'" in err and not (tmp_path / "s").exists()
    argv[5] = "active,active"
    assert main(argv) == 2
    assert "names a column twice" in _one_line_error(capsys)


def test_matrix_campaign_start_tell_report(library, tmp_path, capsys):
    campaign = tmp_path / "c"
    assert _start(library, campaign, "--value-col", "active,toxic") == 0
    meta = json.loads((campaign / "campaign.json").read_text())
    assert meta["outputs"] == ["active", "toxic"]
    assert meta["estimator"].startswith("MaskedMultiOutputClassifier(")
    results = _results(
        library, campaign / "batch_000.csv", tmp_path / "r.csv", ("active", "toxic")
    )
    assert main(["tell", str(campaign), str(results)]) == 0
    screen = HybridScreenCV.load(campaign / "campaign.isd.npz")
    assert screen.n_outputs_ == 2
    # Other column names, in the campaign's order.
    renamed = _results(
        library,
        campaign / "batch_001.csv",
        tmp_path / "r1.csv",
        ("active", "toxic"),
        ["a", "t"],
    )
    assert main(["tell", str(campaign), str(renamed), "--value-col", "a,t"]) == 0
    assert main(["report", str(campaign)]) == 0
    readout = _read(campaign / "report" / "readout.csv")
    assert {"value_active", "value_toxic"} <= set(readout[0])
    assert all(r["value_active"] in ("0", "1") for r in readout)
    status = _status(campaign, capsys)
    assert status["outputs"] == ["active", "toxic"]
    assert set(status["classes_seen"]) <= {0, 1}


@pytest.mark.parametrize(
    "edit, message",
    [
        ("one_column", "the campaign has 2 output(s)"),
        ("all_missing", "every value is missing for id"),
        ("text", "value 'x' is not a numeric class code in column 'toxic'"),
    ],
)
def test_matrix_results_problems_are_exit_2_by_row(
    library, tmp_path, capsys, edit, message
):
    campaign = tmp_path / "c"
    assert _start(library, campaign, "--value-col", "active,toxic") == 0
    results = _results(
        library, campaign / "batch_000.csv", tmp_path / "r.csv", ("active", "toxic")
    )
    argv = ["tell", str(campaign), str(results)]
    if edit == "one_column":
        argv += ["--value-col", "active"]
    else:
        rows = results.read_text().splitlines()
        cid = rows[3].split(",")[0]
        rows[3] = f"{cid},," if edit == "all_missing" else f"{cid},1,x"
        results.write_text("\n".join(rows) + "\n")
    before = _snapshot(campaign)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    if edit != "one_column":
        assert "row 4:" in err
    assert _snapshot(campaign) == before


def test_matrix_regression_needs_random_acquisition(library, tmp_path, capsys):
    path, _ = library
    argv = ["start", str(path), "--smiles-col", "smiles", "--task", "regression"]
    argv += ["--tolerance", "0.5", "--value-col", "a,b", "--out", str(tmp_path / "c")]
    assert main(argv) == 2
    assert "pass --acquisition random" in _one_line_error(capsys)
    assert main([*argv, "--acquisition", "random", "--batch-size", BATCH]) == 0
    meta = json.loads((tmp_path / "c" / "campaign.json").read_text())
    assert meta["estimator"].startswith("MaskedMultiOutputRegressor(")


# --------------------------------------------------------------------------
# extend
# --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def stopped(library, tmp_path_factory):
    """A campaign stopped at its budget (max_fraction 0.25: one round)."""
    tmp = tmp_path_factory.mktemp("stopped")
    campaign = tmp / "campaign"
    assert _start(library, campaign, "--max-fraction", "0.25") == 0
    results = _results(library, campaign / "batch_000.csv", tmp / "r0.csv")
    assert main(["tell", str(campaign), str(results)]) == 0
    return campaign


def test_extend_raises_the_budget_and_writes_the_next_batch(
    stopped, library, tmp_path, capsys
):
    campaign = tmp_path / "campaign"
    shutil.copytree(stopped, campaign)
    assert _status(campaign, capsys)["status"] == "max_fraction"
    out = tmp_path / "next.csv"
    argv = ["extend", str(campaign), "--max-fraction", "0.5", "--target", "0.97"]
    assert main([*argv, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "extended: target 0.97, budget max_fraction 0.5" in printed
    status = _status(campaign, capsys)
    assert status["status"] == "awaiting_results" and status["round"] == 1
    assert status["pending_batch"] == "batch_001.csv" and status["n_pending"] == 30
    assert status["target"] == 0.97 and status["max_fraction"] == 0.5
    assert out.read_bytes() == (campaign / "batch_001.csv").read_bytes()
    metadata = read_campaign_metadata(campaign / "campaign.isd.npz")
    (entry,) = metadata["extensions"]
    assert entry["from_target"] == 0.95 and entry["target"] == 0.97
    assert entry["from_max_fraction"] == 0.25 and entry["max_fraction"] == 0.5
    assert entry["after"] == "max_fraction" and len(metadata["tells"]) == 1
    # campaign.json is written once: extend changes the campaign file only.
    assert (campaign / "campaign.json").read_bytes() == (
        stopped / "campaign.json"
    ).read_bytes()
    # The campaign goes on as usual, under its new budget (60 compounds).
    results = _results(library, campaign / "batch_001.csv", tmp_path / "r1.csv")
    assert main(["tell", str(campaign), str(results)]) == 0
    status = _status(campaign, capsys)
    assert status["n_measured"] == 60 and status["status"] == "max_fraction"
    assert main(["report", str(campaign)]) == 0
    page = (campaign / "report" / "report.html").read_text()
    assert 'id="extensions-table"' in page and "0.25 -&gt; 0.5" in page


@pytest.mark.parametrize(
    "argv, code, message",
    [
        ([], 2, "extend needs --target"),
        (["--target", "0.9"], 2, "below the campaign's target 0.95"),
        (["--max-fraction", "0.1"], 2, "below the campaign's budget 0.25"),
        (["--target", "0.99"], 2, "spent its budget"),
        (["--max-fraction", "0.255"], 2, "leaves no compound to measure"),
    ],
)
def test_extend_refuses_bad_values_and_writes_nothing(
    stopped, tmp_path, capsys, argv, code, message
):
    campaign = tmp_path / "campaign"
    shutil.copytree(stopped, campaign)
    before = _snapshot(campaign)
    assert main(["extend", str(campaign), *argv]) == code
    assert message in _one_line_error(capsys)
    assert _snapshot(campaign) == before


def test_extend_of_a_running_or_missing_campaign_is_exit_4(library, tmp_path, capsys):
    campaign = tmp_path / "c"
    assert _start(library, campaign) == 0
    before = _snapshot(campaign)
    assert main(["extend", str(campaign), "--target", "0.99"]) == 4
    assert "has not stopped" in _one_line_error(capsys)
    assert _snapshot(campaign) == before
    assert main(["extend", str(tmp_path / "nowhere"), "--target", "0.99"]) == 4
    assert "No campaign directory" in _one_line_error(capsys)


def test_extend_of_a_campaign_that_reached_its_target(library, tmp_path, capsys):
    """target_reached: a larger budget alone is refused, a target under the bound."""
    campaign = tmp_path / "c"
    assert _start(library, campaign, "--target", "0.2") == 0
    results = _results(library, campaign / "batch_000.csv", tmp_path / "r.csv")
    assert main(["tell", str(campaign), str(results)]) == 0
    status = _status(campaign, capsys)
    assert status["status"] == "target_reached"
    bound = status["system_lower_bound"]
    assert main(["extend", str(campaign), "--max-fraction", "1.0"]) == 2
    assert "raise --target" in _one_line_error(capsys)
    assert main(["extend", str(campaign), "--target", f"{bound - 0.01:.4f}"]) == 2
    assert "already passes --target" in _one_line_error(capsys)
    assert main(["extend", str(campaign), "--target", "0.99"]) == 0
    assert _status(campaign, capsys)["status"] == "awaiting_results"


def test_extend_takes_the_lock(stopped, tmp_path, capsys):
    from filelock import FileLock

    campaign = tmp_path / "campaign"
    shutil.copytree(stopped, campaign)
    before = _snapshot(campaign)
    with FileLock(campaign / ".campaign.lock"):
        argv = ["extend", str(campaign), "--max-fraction", "0.5", "--lock-timeout"]
        assert main([*argv, "0.2"]) == 4
    assert "is busy" in _one_line_error(capsys)
    assert _snapshot(campaign) == before


def test_extend_whose_commit_fails_removes_its_batch_files(
    stopped, tmp_path, capsys, monkeypatch
):
    from sklearn_isd.cli import _lab

    campaign = tmp_path / "campaign"
    shutil.copytree(stopped, campaign)
    before = _snapshot(campaign)

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device", str(campaign / "x"))

    monkeypatch.setattr(_lab, "commit", full_disk)
    out = tmp_path / "next.csv"
    argv = ["extend", str(campaign), "--max-fraction", "0.5", "--out", str(out)]
    assert main(argv) == 4
    assert "ENOSPC" in _one_line_error(capsys)
    assert _snapshot(campaign) == before and not out.exists()


def test_extend_with_a_stopping_object_raises_its_target(library, tmp_path, capsys):
    campaign = tmp_path / "c"
    argv = ["--max-fraction", "0.25", "--stopping", "anytime-kl"]
    assert _start(library, campaign, *argv) == 0
    results = _results(library, campaign / "batch_000.csv", tmp_path / "r.csv")
    assert main(["tell", str(campaign), str(results)]) == 0
    assert main(["extend", str(campaign), "--max-fraction", "0.5"]) == 0
    argv = ["extend", str(campaign), "--target", "0.99", "--max-fraction", "0.5"]
    screen = HybridScreenCV.load(campaign / "campaign.isd.npz")
    assert type(screen.get_params()["stopping"]).__name__ == "AnytimeKLBound"
    assert _status(campaign, capsys)["status"] == "awaiting_results"
    assert main(argv) == 4  # not stopped any more


# --------------------------------------------------------------------------
# --out on every command
# --------------------------------------------------------------------------
def test_every_command_that_writes_has_out(capsys):
    for command in ("demo", "simulate", "start", "tell", "extend", "status", "report"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert "--out" in capsys.readouterr().out, command


def test_tell_and_status_out(library, tmp_path, capsys):
    campaign = tmp_path / "c"
    assert _start(library, campaign) == 0
    results = _results(library, campaign / "batch_000.csv", tmp_path / "r.csv")
    out = tmp_path / "plate" / "next.csv"
    # A folder that does not exist: the user's file, exit 2, nothing told.
    before = _snapshot(campaign)
    assert main(["tell", str(campaign), str(results), "--out", str(out)]) == 2
    err = _one_line_error(capsys)
    assert "nothing was told" in err
    assert _snapshot(campaign) == before
    out.parent.mkdir()
    assert main(["tell", str(campaign), str(results), "--out", str(out)]) == 0
    assert out.read_bytes() == (campaign / "batch_001.csv").read_bytes()
    capsys.readouterr()
    assert main(["status", str(campaign), "--json", "--out", str(tmp_path / "s")]) == 0
    assert "written to" in capsys.readouterr().out
    assert json.loads((tmp_path / "s").read_text())["round"] == 1
    assert main(["status", str(campaign), "--out", str(tmp_path / "no" / "s")]) == 2
    _one_line_error(capsys)


def test_extend_runs_in_a_subprocess_without_traceback(stopped, tmp_path):
    campaign = tmp_path / "campaign"
    shutil.copytree(stopped, campaign)
    result = subprocess.run(
        [sys.executable, "-m", "sklearn_isd", "extend", str(campaign), "--target"]
        + ["0.3"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1
    assert np.isfinite(
        HybridScreenCV.load(campaign / "campaign.isd.npz").history_[
            "system_lower_bound"
        ][-1]
    )
