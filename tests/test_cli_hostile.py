"""The command line under attack: concurrent commands, hostile campaign
folders, malformed campaign.json, hostile results values and OS errors.

Every command here must end with a documented exit code and at most a
one-line message on stderr (never a traceback), and a failed command must
leave the campaign's files exactly as they were.
"""

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
BATCH = 30


def _write(path, header, rows):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _batch_ids(path):
    with open(path, newline="") as handle:
        return [row["id"] for row in csv.DictReader(handle)]


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """120 QM9 molecules with ids, and their class labels by id."""
    from sklearn_isd.datasets import load_qm9

    data = load_qm9(subset="embedded", task="classification")
    path = tmp_path_factory.mktemp("lib") / "library.csv"
    ids = [f"Q{i:04d}" for i in range(N)]
    labels = [int(y) for y in data.target[:N]]
    _write(
        path,
        ["compound", "smiles", "active", "gap"],
        [[i, s, y, 0.1 * y] for i, s, y in zip(ids, data.data[:N], labels)],
    )
    return path, dict(zip(ids, labels))


def _start_argv(library, out, *extra):
    path, _ = library
    return [
        "start",
        str(path),
        "--smiles-col",
        "smiles",
        "--id-col",
        "compound",
        "--batch-size",
        str(BATCH),
        "--out",
        str(out),
        *extra,
    ]


@pytest.fixture(scope="module")
def template(library, tmp_path_factory):
    """A started campaign; tests work on copies (see ``campaign``)."""
    out = tmp_path_factory.mktemp("template") / "campaign"
    assert main(_start_argv(library, out)) == 0
    return out


@pytest.fixture
def campaign(template, tmp_path):
    copy = tmp_path / "campaign"
    shutil.copytree(template, copy)
    return copy


def _results(library, ids, path):
    _, truth = library
    return _write(path, ["id", "value"], [[i, truth[i]] for i in ids])


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def _assert_one_line(err):
    assert "Traceback" not in err
    assert err.count("\n") == 1, err


def _run(argv, **kwargs):
    """Run the command line in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "sklearn_isd", *map(str, argv)],
        capture_output=True,
        text=True,
        **kwargs,
    )


def _measured(campaign):
    """Measured library positions and the log, from the campaign file."""
    path = campaign / "campaign.isd.npz"
    screen = HybridScreenCV.load(path)
    return np.flatnonzero(screen.observed_mask_), read_campaign_metadata(path)["tells"]


# --------------------------------------------------------------------------
# Concurrent commands
# --------------------------------------------------------------------------
TRIALS = 10

#: A worker process: runs one command line per trial, each when the test
#: says go, so that the two workers' commands of a trial start together.
WORKER = """\
import contextlib, io, json, os, sys, time
from sklearn_isd.__main__ import main
commands, sync, me = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
for k, argv in enumerate(commands):
    open(os.path.join(sync, f"ready_{k}_{me}"), "w").close()
    while not os.path.exists(os.path.join(sync, f"go_{k}")):
        time.sleep(0.002)
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        code = main(argv)
    print(json.dumps({"code": code, "err": err.getvalue()}), flush=True)
"""


def _race(commands_a, commands_b, sync):
    """Run two lists of commands in two processes, trial k of each together.

    Returns, per trial, the two (exit code, stderr) pairs.
    """
    sync.mkdir()
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, json.dumps(commands), str(sync), name],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, commands in (("a", commands_a), ("b", commands_b))
    ]
    for k in range(len(commands_a)):
        while not all((sync / f"ready_{k}_{w}").exists() for w in "ab"):
            assert all(w.poll() is None for w in workers), workers[0].stderr.read()
        (sync / f"go_{k}").touch()
    outputs = [w.communicate(timeout=300) for w in workers]
    for w, (_, err) in zip(workers, outputs):
        assert w.returncode == 0, err
    lines = [[json.loads(line) for line in out.splitlines()] for out, _ in outputs]
    return [((a["code"], a["err"]), (b["code"], b["err"])) for a, b in zip(*lines)]


def test_two_partial_tells_at_once_lose_and_double_count_nothing(
    library, template, tmp_path
):
    """Two tells of the two halves of a batch, started together, 10 times."""
    ids = _batch_ids(template / "batch_000.csv")
    halves = [ids[: BATCH // 2], ids[BATCH // 2 :]]
    results = [
        _results(library, half, tmp_path / f"half{k}.csv")
        for k, half in enumerate(halves)
    ]
    campaigns = [tmp_path / f"campaign{k}" for k in range(TRIALS)]
    commands = [[], []]
    for k, campaign in enumerate(campaigns):
        shutil.copytree(template, campaign)
        # Odd trials do not wait for the lock, so that one tell may fail.
        wait = [] if k % 2 == 0 else ["--lock-timeout", "0"]
        for half in range(2):
            argv = ["tell", str(campaign), str(results[half]), "--partial", *wait]
            commands[half].append(argv)
    position = {f"Q{i:04d}": i for i in range(N)}
    outcomes = _race(*commands, tmp_path / "sync")
    for campaign, outcome in zip(campaigns, outcomes):
        codes = [code for code, _ in outcome]
        assert sorted(codes) in ([0, 0], [0, 4]), outcome
        for code, err in outcome:
            assert "Traceback" not in err
            if code == 4:
                _assert_one_line(err)
                assert "busy" in err
        told = sorted(
            position[i] for half, code in zip(halves, codes) if code == 0 for i in half
        )
        measured, log = _measured(campaign)
        assert measured.tolist() == told  # every label of a success, none twice
        assert sum(entry["n_labels"] for entry in log) == len(told)
        assert len(log) == codes.count(0)


def test_a_held_lock_makes_tell_wait_then_fail_with_exit_4(
    library, campaign, tmp_path, capsys
):
    from filelock import FileLock

    results = _results(
        library, _batch_ids(campaign / "batch_000.csv"), tmp_path / "r.csv"
    )
    before = _snapshot(campaign)
    with FileLock(campaign / ".campaign.lock"):
        argv = ["tell", str(campaign), str(results), "--lock-timeout", "0.3"]
        assert main(argv) == 4
    err = capsys.readouterr().err
    _assert_one_line(err)
    assert "busy" in err and "waited 0.3 s" in err
    assert _snapshot(campaign) == before
    assert main(["tell", str(campaign), str(results)]) == 0  # once it is free


def test_two_starts_on_one_folder_one_wins_the_other_exits_4(library, tmp_path, capsys):
    """Two starts on one folder (missing, or empty), started together."""
    outs = [tmp_path / f"campaign{k}" for k in range(4)]
    outs[1].mkdir()
    outs[3].mkdir()
    commands = [_start_argv(library, out) for out in outs]
    commands_b = [
        [*argv, "--lock-timeout", "0"] if k >= 2 else argv
        for k, argv in enumerate(commands)
    ]
    for out, outcome in zip(outs, _race(commands, commands_b, tmp_path / "sync")):
        assert sorted(code for code, _ in outcome) == [0, 4], outcome
        err = next(err for code, err in outcome if code == 4)
        _assert_one_line(err)
        assert "refusing to overwrite" in err or "busy" in err
        assert main(["status", str(out)]) == 0
