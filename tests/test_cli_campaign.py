"""The simulate/start/tell/report subcommands of the command line."""

import csv
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from sklearn_isd import read_campaign_metadata
from sklearn_isd.__main__ import main

pytest.importorskip("rdkit")

N = 300
BATCH = "30"


def _read(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def _write(path, header, rows):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """300 QM9 molecules with an id column, and their true labels by id."""
    from sklearn_isd.datasets import load_qm9

    data = load_qm9(subset="embedded", task="classification")
    path = tmp_path_factory.mktemp("lib") / "library.csv"
    ids = [f"Q{i:04d}" for i in range(N)]
    _write(
        path,
        ["compound", "smiles", "active"],
        [[i, s, int(y)] for i, s, y in zip(ids, data.data[:N], data.target[:N])],
    )
    return path, dict(zip(ids, (str(int(y)) for y in data.target[:N])))


def _status(campaign, capsys):
    """The status of a campaign (``status --json``), as a dict."""
    capsys.readouterr()
    assert main(["status", str(campaign), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _tells(campaign):
    """The log of results files, in the campaign file's metadata."""
    return read_campaign_metadata(campaign / "campaign.isd.npz")["tells"]


def _start(library, out, *extra):
    path, _ = library
    args = ["start", str(path), "--smiles-col", "smiles", "--id-col", "compound"]
    return main([*args, "--batch-size", BATCH, "--out", str(out), *extra])


def _results(library, batch_file, out):
    """A results CSV for a batch file, values from the true labels."""
    _, truth = library
    rows = [[r["id"], truth[r["id"]]] for r in _read(batch_file)]
    return _write(out, ["id", "value"], rows)


@pytest.fixture(scope="module")
def started(library, tmp_path_factory):
    """A campaign with its first batch pending (tests must not change it)."""
    out = tmp_path_factory.mktemp("started") / "campaign"
    assert _start(library, out) == 0
    return out


@pytest.fixture(scope="module")
def told(library, tmp_path_factory):
    """start -> tell -> tell -> report; returns (campaign, report, told values)."""
    tmp = tmp_path_factory.mktemp("told")
    campaign = tmp / "campaign"
    assert _start(library, campaign) == 0
    told = {}
    for round_ in range(2):
        results = _results(
            library, campaign / f"batch_{round_:03d}.csv", tmp / f"r{round_}.csv"
        )
        told.update((r["id"], (r["value"], round_)) for r in _read(results))
        assert main(["tell", str(campaign), str(results)]) == 0
    assert main(["report", str(campaign), "--out", str(tmp / "report")]) == 0
    return campaign, tmp / "report", told


def test_simulate_writes_readout_history_and_plot(library, tmp_path, capsys):
    path, truth = library
    out = tmp_path / "sim"
    code = main(
        [
            "simulate",
            str(path),
            "--smiles-col",
            "smiles",
            "--label-col",
            "active",
            "--id-col",
            "compound",
            "--batch-size",
            BATCH,
            "--target",
            "0.8",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    table = [line for line in printed.splitlines() if line[:5].strip().isdigit()]
    assert "system LB" in printed and "true system" in printed
    readout = _read(out / "readout.csv")
    assert [r["id"] for r in readout] == list(truth)
    measured = [r for r in readout if r["source"] == "measured"]
    assert measured and all(r["value"] == r["true_value"] for r in measured)
    assert all(r["value"] == truth[r["id"]] for r in measured)
    history = _read(out / "history.csv")
    assert len(history) == len(table)
    assert int(history[-1]["n_observed"]) == len(measured)
    assert "system_score" in history[0]
    assert (out / "screen.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_start_tell_tell_report_round_trip(told, library, capsys):
    campaign, report, values = told
    meta = _status(campaign, capsys)
    assert meta["status"] == "awaiting_results"
    assert meta["pending_batch"] == "batch_002.csv"
    assert [t["round"] for t in _tells(campaign)] == [0, 1]
    assert meta["n_measured"] == 2 * int(BATCH)
    assert (campaign / "batch_002.csv").is_file()

    readout = _read(report / "readout.csv")
    assert len(readout) == N
    measured = {r["id"]: r for r in readout if r["source"] == "measured"}
    assert measured.keys() == values.keys()
    for cid, (value, round_) in values.items():
        assert measured[cid]["value"] == value
        assert measured[cid]["round"] == str(round_)
        assert measured[cid]["confidence"] == ""
    predicted = [r for r in readout if r["source"] == "predicted"]
    assert all(r["round"] == "" for r in predicted)
    confidence = np.array([float(r["confidence"]) for r in predicted])
    assert ((confidence >= 0.5) & (confidence <= 1.0)).all()

    manifest = json.loads((report / "manifest.json").read_text())
    assert manifest["n_measured"] == 2 * int(BATCH)
    assert manifest["library"]["fingerprint"].startswith("sha256c:")
    assert 0 < manifest["system_lower_bound"] < 1
    assert manifest["status"] == "awaiting_results"
    assert (report / "screen.png").is_file()
    assert (report / "readout.parquet").is_file()


def test_report_similarity_domain_and_scaffolds(told):
    _, report, values = told
    readout = _read(report / "readout.csv")
    similarity = {r["id"]: float(r["max_similarity"]) for r in readout}
    assert all(similarity[cid] == 1.0 for cid in values)
    assert all(0.0 <= s <= 1.0 for s in similarity.values())
    assert all(
        (r["in_domain"] == "true") == (float(r["max_similarity"]) >= 0.4)
        for r in readout
    )
    scaffolds = _read(report / "scaffolds.csv")
    assert sum(int(s["n_members"]) for s in scaffolds) == N
    assert sum(int(s["n_measured"]) for s in scaffolds) == len(values)
    by_scaffold = {}
    for r in readout:
        by_scaffold[r["scaffold"]] = by_scaffold.get(r["scaffold"], 0) + 1
    assert {s["scaffold"]: int(s["n_members"]) for s in scaffolds} == by_scaffold
    assert "" in by_scaffold  # acyclic molecules have an empty scaffold


@pytest.mark.parametrize("defect", ["unknown", "duplicate", "missing", "text"])
def test_tell_rejects_bad_results_and_writes_nothing(
    defect, started, library, tmp_path, capsys
):
    _, truth = library
    rows = [[r["id"], truth[r["id"]]] for r in _read(started / "batch_000.csv")]
    row = 6  # the 5th data row; the header is row 1
    if defect == "unknown":
        rows[4][0] = "NOT-A-COMPOUND"
    elif defect == "duplicate":
        rows.insert(4, list(rows[0]))
    elif defect == "missing":
        rows[4][1] = ""
    else:
        rows[4][1] = "active"
    results = _write(tmp_path / "results.csv", ["id", "value"], rows)
    before = {p.name: p.read_bytes() for p in started.iterdir()}

    assert main(["tell", str(started), str(results)]) == 2
    err = capsys.readouterr().err
    assert f"row {row}:" in err and "nothing was written" in err
    expected = {
        "unknown": "unknown id 'NOT-A-COMPOUND'",
        "duplicate": "duplicate id",
        "missing": "missing value",
        "text": "not a numeric class code",
    }[defect]
    assert expected in err
    assert "Traceback" not in err
    assert {p.name: p.read_bytes() for p in started.iterdir()} == before


def test_tell_needs_the_whole_batch_unless_partial(library, tmp_path, capsys):
    campaign = tmp_path / "campaign"
    assert _start(library, campaign) == 0
    results = _results(library, campaign / "batch_000.csv", tmp_path / "r.csv")
    lines = results.read_text().splitlines()
    results.write_text("\n".join(lines[:11]) + "\n")  # 10 of the 30 compounds
    npz = (campaign / "campaign.isd.npz").read_bytes()
    assert main(["tell", str(campaign), str(results)]) == 2
    assert "20 of the 30 compounds" in capsys.readouterr().err
    assert (campaign / "campaign.isd.npz").read_bytes() == npz

    assert main(["tell", str(campaign), str(results), "--partial"]) == 0
    assert "Partial batch: 10 of 30" in capsys.readouterr().out
    meta = _status(campaign, capsys)
    assert meta["n_measured"] == 10 and _tells(campaign)[0]["partial"]
    # The 20 untold compounds stay pending: they are the next batch file.
    told = {line.split(",")[0] for line in lines[1:11]}
    first = (campaign / "batch_000.csv").read_text().splitlines()[1:]
    untold = {line.split(",")[0] for line in first} - told
    nxt = (campaign / meta["pending_batch"]).read_text().splitlines()[1:]
    assert {line.split(",")[0] for line in nxt} == untold


def test_tell_after_stop_and_report_before_any_tell(library, tmp_path, capsys):
    campaign = tmp_path / "campaign"
    assert _start(library, campaign, "--max-fraction", "0.1") == 0
    assert main(["report", str(campaign)]) == 4
    assert "No result has been told yet" in capsys.readouterr().err

    results = _results(library, campaign / "batch_000.csv", tmp_path / "r.csv")
    assert main(["tell", str(campaign), str(results)]) == 0
    assert "target not reached" in capsys.readouterr().out
    meta = _status(campaign, capsys)
    assert meta["status"] == "max_fraction" and meta["pending_batch"] is None
    assert not (campaign / "batch_001.csv").exists()
    assert main(["tell", str(campaign), str(results)]) == 4
    assert "has stopped (max_fraction)" in capsys.readouterr().err


def test_changed_library_copy_or_missing_campaign_is_a_state_error(
    library, tmp_path, capsys
):
    campaign = tmp_path / "campaign"
    assert _start(library, campaign) == 0
    with (campaign / "library.csv").open("a") as handle:
        handle.write("EXTRA,CCO,1\n")
    assert main(["report", str(campaign)]) == 4
    assert "changed since the campaign started" in capsys.readouterr().err
    assert main(["tell", str(tmp_path / "nowhere"), "r.csv"]) == 4


def test_start_refuses_an_existing_campaign(started):
    before = (started / "campaign.isd.npz").read_bytes()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sklearn_isd",
            "start",
            str(started / "library.csv"),
            "--smiles-col",
            "smiles",
            "--out",
            str(started),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 4 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and "refusing to overwrite" in result.stderr
    assert (started / "campaign.isd.npz").read_bytes() == before


@pytest.mark.parametrize(
    "command", [None, "demo", "simulate", "start", "tell", "status", "report"]
)
def test_help_of_every_subcommand(command, capsys):
    argv = ["--help"] if command is None else [command, "--help"]
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0
    printed = capsys.readouterr().out
    assert "exit codes:" in printed and "campaign state problem" in printed


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--batch-size", "400"], "batch_size=400 is larger than the library"),
        (["--acquisition", "vote_entropy"], "needs a committee"),
        (["--acquisition", "std"], "acquisition"),
    ],
)
def test_the_screen_validates_the_options_once(
    library, tmp_path, capsys, extra, message
):
    path, _ = library
    common = [str(path), "--smiles-col", "smiles", "--id-col", "compound"]
    argv = ["start", *common, "--out", str(tmp_path / "c"), *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "c").exists()
    argv = ["simulate", *common, "--label-col", "active", "--out", str(tmp_path / "s")]
    assert main([*argv, *extra, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_status_reads_the_campaign_file_and_campaign_json_is_written_once(
    library, tmp_path, capsys
):
    campaign = tmp_path / "campaign"
    assert _start(library, campaign, "--max-fraction", "0.2") == 0
    description = (campaign / "campaign.json").read_bytes()
    assert set(json.loads(description)) == {
        "format",
        "format_version",
        "sklearn_isd_version",
        "created",
        "library",
        "featurizer",
        "task",
        "model",
        "estimator",
        "screen",
    }
    capsys.readouterr()
    assert main(["status", str(campaign)]) == 0
    out = capsys.readouterr().out
    assert "awaiting results for round 0" in out
    assert "Measured: 0 of 300 compounds" in out
    assert "batch_000.csv, 30 compound(s) still to measure" in out
    assert _tells(campaign) == []
    for round_ in range(2):
        results = _results(
            library, campaign / f"batch_{round_:03d}.csv", tmp_path / f"r{round_}.csv"
        )
        assert main(["tell", str(campaign), str(results)]) == 0
    assert (campaign / "campaign.json").read_bytes() == description
    status = _status(campaign, capsys)
    assert status["status"] == "max_fraction" and status["round"] == 2
    assert status["n_measured"] == 60 and status["pending_batch"] is None
    assert 0 < status["system_lower_bound"] < status["target"] == 0.95
    assert [t["n_labels"] for t in _tells(campaign)] == [30, 30]
    assert main(["status", str(campaign)]) == 0
    out = capsys.readouterr().out
    assert "stopped, max_fraction" in out and "No pending batch" in out


def test_a_missing_batch_file_is_written_again(told, tmp_path, capsys):
    campaign = tmp_path / "campaign"
    shutil.copytree(told[0], campaign)
    before = (campaign / "batch_002.csv").read_bytes()
    (campaign / "batch_002.csv").unlink()
    assert main(["status", str(campaign)]) == 0
    assert "it was missing: written again" in capsys.readouterr().out
    assert (campaign / "batch_002.csv").read_bytes() == before


CRASH = """\
import os, sys
n, real, calls = int(sys.argv[1]), os.replace, [0]
def replace(*args, **kwargs):  # killed (no cleanup) before the n-th rename
    calls[0] += 1
    if calls[0] == n:
        os._exit(137)
    return real(*args, **kwargs)
os.replace = replace
from sklearn_isd.__main__ import main
sys.exit(main(sys.argv[2:]))
"""


def _killed(n, argv):
    """Run a command in a process killed before its n-th file rename."""
    result = subprocess.run(
        [sys.executable, "-c", CRASH, str(n), *map(str, argv)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 137, result.stderr
    assert "Traceback" not in result.stderr
    return result


def _files(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_start_killed_between_writes_is_started_again(n, library, tmp_path, capsys):
    """start writes campaign.json, library.csv, batch_000.csv, then the state."""
    path, _ = library
    campaign = tmp_path / "campaign"
    argv = ["start", path, "--smiles-col", "smiles", "--id-col", "compound"]
    argv += ["--batch-size", BATCH, "--out", campaign]
    _killed(n, argv)
    assert any(p.name.endswith(".tmp") for p in campaign.iterdir())
    assert main(["status", str(campaign)]) == 4
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert ("was interrupted" in err) == (n > 1)
    assert main([str(a) for a in argv]) == 0  # the interrupted start, done again
    reference = tmp_path / "reference"
    assert _start(library, reference) == 0
    assert not [p for p in campaign.iterdir() if p.name.endswith(".tmp")]
    assert _status(campaign, capsys) == {
        **_status(reference, capsys),
        "campaign": str(campaign),
    }
    for name in ("library.csv", "batch_000.csv"):
        assert (campaign / name).read_bytes() == (reference / name).read_bytes()


@pytest.mark.parametrize("n", [1, 2])
def test_tell_killed_between_writes_loses_nothing(n, told, library, tmp_path, capsys):
    """tell writes the next batch file, then the campaign file (the commit)."""
    campaign, reference = tmp_path / "campaign", tmp_path / "reference"
    shutil.copytree(told[0], campaign)
    shutil.copytree(told[0], reference)
    results = _results(library, campaign / "batch_002.csv", tmp_path / "r.csv")
    state = (campaign / "campaign.isd.npz").read_bytes()
    _killed(n, ["tell", campaign, results])
    assert (campaign / "campaign.isd.npz").read_bytes() == state  # not committed
    assert _status(campaign, capsys) == {
        **_status(reference, capsys),
        "campaign": str(campaign),
    }
    assert main(["tell", str(campaign), str(results)]) == 0
    assert main(["tell", str(reference), str(results)]) == 0
    assert not [p for p in campaign.iterdir() if p.name.endswith(".tmp")]
    assert _status(campaign, capsys) == {
        **_status(reference, capsys),
        "campaign": str(campaign),
    }
    assert len(_tells(campaign)) == 3
    assert (campaign / "batch_003.csv").read_bytes() == (
        reference / "batch_003.csv"
    ).read_bytes()


def test_campaign_files_get_the_permissions_of_the_umask(library, tmp_path):
    """Colleagues sharing a lab folder (umask 002) can read and write them."""
    import os
    import stat

    previous = os.umask(0o002)
    try:
        campaign = tmp_path / "campaign"
        assert _start(library, campaign) == 0
        results = _results(library, campaign / "batch_000.csv", tmp_path / "r.csv")
        assert main(["tell", str(campaign), str(results)]) == 0
        assert main(["report", str(campaign)]) == 0
    finally:
        os.umask(previous)
    # The lock file is filelock's, whose mode depends on its version.
    paths = [campaign, *(p for p in campaign.rglob("*") if p.name != ".campaign.lock")]
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in paths}
    expected = {p.name: 0o775 if p.is_dir() else 0o664 for p in paths}
    assert modes == expected
    assert {"campaign.isd.npz", "batch_001.csv", "readout.csv", "screen.png"} <= set(
        modes
    )
