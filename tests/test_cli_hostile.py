"""The command line under attack: concurrent commands, hostile campaign
folders, malformed campaign.json, hostile results values and OS errors.

Every command here must end with a documented exit code and at most a
one-line message on stderr (never a traceback), and a failed command must
leave the campaign's files exactly as they were.
"""

import csv
import json
import os
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


# --------------------------------------------------------------------------
# Malformed campaign.json
# --------------------------------------------------------------------------
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

#: Values out of range (or inconsistent with the campaign file) per field.
OUT_OF_RANGE = {
    "format": ["sklearn-isd-campaign", ""],
    "format_version": [0, 1, 3, -1, 2.0, 10**30],
    "sklearn_isd_version": ["", "x" * 200, "0.1\n0.2"],
    "created": ["yesterday", "", "2026-13-45T00:00:00"],
    "library.file": [
        "../campaign/library.csv",
        "/etc/passwd",
        "sub/library.csv",
        "..",
        ".",
        "",
        "a\\b",
        "missing.csv",
        "campaign.isd.npz",
    ],
    "library.source": ["", "x" * 5000, "a\x00b"],
    "library.sha256": ["abc", "sha256:" + "0" * 63, "SHA256:" + "0" * 64]
    + ["sha256:" + "0" * 64],
    "library.n_compounds": [0, -5, 2**41, 10**30, N - 1, N + 1],
    "library.smiles_col": ["", "nope"],
    "library.id_col": ["", "nope"],
    "featurizer.name": ["AtomPair", ""],
    "featurizer.radius": [3, 2.0, -1],
    "featurizer.n_bits": [1024, 2**40],
    "task": ["regression", "clustering", ""],
    "model": ["svm", ""],
    "estimator": ["", "x" * 20_000],
    "screen.acquisition": ["random", ""],
    "screen.batch_size": [0, -1, 2.5, BATCH + 1, float(BATCH), 10**400 // 10**300],
    "screen.target": [1.5, 0, 0.9, -1],
    "screen.delta": [2, 0, 0.1],
    "screen.tolerance": [0.5, -1],
    "screen.max_fraction": [0, 2, 0.5],
    "screen.random_state": [-1, 2**32, 1, None, 0.5],
}
#: Nullable fields where null is a valid value (not a wrong type).
NULL_IS_VALID = {"library.id_col", "screen.tolerance", "screen.random_state"}
JSON_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(max_size=5),
    st.lists(st.integers(0, 3), max_size=2),
    st.dictionaries(st.text("abc", max_size=3), st.integers(0, 3), max_size=2),
)


def _paths(document, prefix=""):
    for key, value in document.items():
        yield prefix + key
        if isinstance(value, dict):
            yield from _paths(value, prefix + key + ".")


def _locate(document, path):
    *parents, key = path.split(".")
    for parent in parents:
        document = document[parent]
    return document, key


@st.composite
def _mutations(draw, document):
    """(mutated document, the field its error must name)."""
    document = json.loads(json.dumps(document))
    path = draw(st.sampled_from(sorted(_paths(document))))
    parent, key = _locate(document, path)
    kinds = ["missing", "extra", "wrong_type", "nested"]
    if path in OUT_OF_RANGE:
        kinds.append("out_of_range")
    kind = draw(st.sampled_from(kinds))
    original = parent[key]
    if kind == "missing":
        del parent[key]
    elif kind == "extra":
        extra = draw(
            st.text("xyz_", min_size=1, max_size=8).filter(lambda k: k not in parent)
        )
        parent[extra] = draw(JSON_VALUES)
        prefix = path.rpartition(".")[0]
        return document, f"{prefix}.{extra}" if prefix else extra
    elif kind == "wrong_type":
        parent[key] = draw(
            JSON_VALUES.filter(
                lambda v: (
                    type(v) is not type(original)
                    and not (v is None and path in NULL_IS_VALID)
                    and not (
                        isinstance(v, int | float) and type(original) in (int, float)
                    )
                )
            )
        )
    elif kind == "nested":
        parent[key] = draw(st.sampled_from([[original], {"value": original}]))
    else:
        parent[key] = draw(st.sampled_from(OUT_OF_RANGE[path]))
    return document, path


@pytest.fixture(scope="module")
def fuzzed(template, tmp_path_factory):
    copy = tmp_path_factory.mktemp("fuzz") / "campaign"
    shutil.copytree(template, copy)
    return copy


@settings(
    max_examples=150,
    deadline=None,
    # capsys is read before and after every command, so sharing it is safe.
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
@given(data=st.data(), command=st.sampled_from(["status", "tell", "report"]))
def test_every_malformed_campaign_json_is_exit_4_naming_the_field(
    fuzzed, library, data, command, capsys
):
    path = fuzzed / "campaign.json"
    original = path.read_bytes()
    document, field = data.draw(_mutations(json.loads(original)))
    try:
        path.write_text(json.dumps(document), encoding="utf-8")
        before = _snapshot(fuzzed)
        argv = [command, str(fuzzed)]
        if command == "tell":
            ids = _batch_ids(fuzzed / "batch_000.csv")
            argv.append(str(_results(library, ids, fuzzed.parent / "r.csv")))
        capsys.readouterr()
        assert main(argv) == 4
        err = capsys.readouterr().err
        _assert_one_line(err)
        assert f"'{field}" in err, (field, err)
        assert _snapshot(fuzzed) == before
    finally:
        path.write_bytes(original)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "not valid JSON"),
        (b'{"format": "sklearn-isd-cli-campaign"', "not valid JSON"),
        (b'{"format": "sklearn-isd-cli-\xff\xfe"}', "not UTF-8"),
        (b"\xef\xbb\xbf{}", "not valid JSON"),
        (b'{"format": NaN}', "NaN is not a JSON number"),
        (b'{"format": -Infinity}', "-Infinity is not a JSON number"),
        (b'{"format": 1e400}', "too large for a float"),
        (b'{"format": ' + b"9" * 5000 + b"}", "not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "nests too deeply"),
        (b'{"format": 1, "format": 2}', "appears twice"),
        (b"[]", "must hold a JSON object, got a list"),
        (b'"sklearn-isd-cli-campaign"', "must hold a JSON object"),
        (b"null", "must hold a JSON object, got null"),
        (b"3", "must hold a JSON object, got 3"),
        (b"{}", "field 'format'"),
        (b" " * (1 << 20) + b"{}", "too large"),
        (bytes(range(256)), "not UTF-8"),
    ],
)
def test_invalid_campaign_json_files_are_exit_4(campaign, content, message, capsys):
    (campaign / "campaign.json").write_bytes(content)
    before = _snapshot(campaign)
    for command in ("status", "report"):
        assert main([command, str(campaign)]) == 4
        err = capsys.readouterr().err
        _assert_one_line(err)
        assert message in err
    assert _snapshot(campaign) == before


def test_a_campaign_json_of_the_earlier_layout_is_refused_clearly(campaign, capsys):
    document = json.loads((campaign / "campaign.json").read_text())
    document.update(format_version=1, status="awaiting_results", tells=[])
    (campaign / "campaign.json").write_text(json.dumps(document))
    assert main(["status", str(campaign)]) == 4
    err = capsys.readouterr().err
    _assert_one_line(err)
    assert "'format_version' is 1" in err and "earlier sklearn-isd" in err


@pytest.mark.parametrize("column", ["gap", "compound"])
def test_a_smiles_col_naming_another_column_is_exit_4(
    column, library, campaign, tmp_path, capsys
):
    """tell and report featurize the library and notice; status reads no SMILES."""
    _set_field(campaign, "library.smiles_col", column)
    results = _results(
        library, _batch_ids(campaign / "batch_000.csv"), tmp_path / "r.csv"
    )
    before = _snapshot(campaign)
    for argv in (["tell", campaign, results], ["report", campaign]):
        assert main([str(a) for a in argv]) == 4
        err = capsys.readouterr().err
        _assert_one_line(err)
        assert "'library.smiles_col'" in err and "invalid SMILES" in err
    assert _snapshot(campaign) == before


def _damage_state(path, damage):
    """Rewrite a campaign file with its manifest or metadata damaged."""
    arrays = dict(np.load(path, allow_pickle=False))
    manifest = json.loads(str(arrays["manifest"]))
    if damage == "missing_params":
        del manifest["params"]
    elif damage == "n_iter_text":
        manifest["n_iter"] = "x"
    elif damage == "history_keys_number":
        manifest["history_keys"] = 3
    elif damage == "no_log":
        manifest["metadata"] = None
    elif damage == "log_not_a_list":
        manifest["metadata"] = {"format": "sklearn-isd-cli-log", "tells": "x"}
    arrays["manifest"] = np.array(json.dumps(manifest))
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)


@pytest.mark.parametrize(
    "damage",
    [
        "missing_params",
        "n_iter_text",
        "history_keys_number",
        "no_log",
        "log_not_a_list",
        "truncated",
        "not_a_zip",
    ],
)
def test_a_damaged_campaign_file_is_exit_4(damage, campaign, capsys):
    path = campaign / "campaign.isd.npz"
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:500])
    elif damage == "not_a_zip":
        path.write_text("id,value\n")
    else:
        _damage_state(path, damage)
    before = _snapshot(campaign)
    for command in ("status", "report"):
        assert main([command, str(campaign)]) == 4
        err = capsys.readouterr().err
        _assert_one_line(err)
        assert "campaign.isd.npz" in err
    assert _snapshot(campaign) == before


# --------------------------------------------------------------------------
# Paths confined to the campaign folder
# --------------------------------------------------------------------------
def _set_field(campaign, path, value):
    document = json.loads((campaign / "campaign.json").read_text())
    parent, key = _locate(document, path)
    parent[key] = value
    (campaign / "campaign.json").write_text(json.dumps(document))


@pytest.mark.parametrize(
    "escape",
    ["../outside.csv", "/etc/passwd", "../../etc/passwd", "sub/../library.csv"],
)
def test_library_file_outside_the_campaign_is_refused(
    escape, library, campaign, tmp_path, capsys
):
    (tmp_path / "outside.csv").write_text("SECRET-HEADER,x\n1,2\n")
    _set_field(campaign, "library.file", escape)
    results = _results(
        library, _batch_ids(campaign / "batch_000.csv"), tmp_path / "r.csv"
    )
    before = _snapshot(campaign)
    for argv in (
        ["tell", campaign, results],
        ["status", campaign],
        ["report", campaign],
    ):
        assert main([str(a) for a in argv]) == 4
        err = capsys.readouterr().err
        _assert_one_line(err)
        assert "'library.file'" in err and "SECRET" not in err and "root:" not in err
    assert _snapshot(campaign) == before


@pytest.mark.parametrize("name", ["library.csv", "campaign.isd.npz", "campaign.json"])
def test_symbolic_links_leading_out_of_the_campaign_are_refused(
    name, library, template, tmp_path, capsys
):
    """A link to another campaign's file: reading it, or advancing it, is refused."""
    other, campaign = tmp_path / "other", tmp_path / "campaign"
    shutil.copytree(template, other)
    shutil.copytree(template, campaign)
    (campaign / name).unlink()
    (campaign / name).symlink_to(other / name)
    results = _results(
        library, _batch_ids(campaign / "batch_000.csv"), tmp_path / "r.csv"
    )
    before, others = _snapshot(campaign), _snapshot(other)
    for argv in (
        ["tell", campaign, results],
        ["status", campaign],
        ["report", campaign],
    ):
        assert main([str(a) for a in argv]) == 4
        err = capsys.readouterr().err
        _assert_one_line(err)
        assert "symbolic link leading out of the campaign folder" in err
    assert _snapshot(campaign) == before and _snapshot(other) == others


def test_a_batch_file_linked_out_of_the_campaign_is_neither_read_nor_written(
    library, campaign, tmp_path, capsys
):
    outside = tmp_path / "precious.csv"
    outside.write_text("id\nkeep me\n")
    results = _results(
        library, _batch_ids(campaign / "batch_000.csv"), tmp_path / "r.csv"
    )
    (campaign / "batch_001.csv").symlink_to(outside)  # the next batch's name
    assert main(["tell", str(campaign), str(results)]) == 0
    assert outside.read_text() == "id\nkeep me\n"
    assert not (campaign / "batch_001.csv").is_symlink()  # replaced, not followed
    (campaign / "batch_001.csv").unlink()
    (campaign / "batch_001.csv").symlink_to(outside)
    assert main(["status", str(campaign)]) == 4
    err = capsys.readouterr().err
    _assert_one_line(err)
    assert "symbolic link leading out" in err
    assert outside.read_text() == "id\nkeep me\n"


def test_a_campaign_folder_given_through_a_link_works(library, campaign, tmp_path):
    link = tmp_path / "link"
    link.symlink_to(campaign, target_is_directory=True)
    results = _results(
        library, _batch_ids(campaign / "batch_000.csv"), tmp_path / "r.csv"
    )
    assert main(["tell", str(link), str(results)]) == 0
    assert main(["status", str(link)]) == 0


# --------------------------------------------------------------------------
# Results values the labels or the model cannot hold
# --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value, message",
    [
        ("1e19", "class code '1e19' is out of range (a 64-bit integer)"),
        ("9223372036854775808", "is out of range (a 64-bit integer)"),
        ("-1e400", "out of range"),
        ("9" * 5000, "out of range"),
        ("2.5", "is not a numeric class code"),
        ("inf", "is not a numeric class code"),
    ],
)
def test_class_codes_out_of_range_are_refused_by_row(
    value, message, library, campaign, tmp_path, capsys
):
    ids = _batch_ids(campaign / "batch_000.csv")
    results = _results(library, ids, tmp_path / "r.csv")
    lines = results.read_text().splitlines()
    lines[3] = f"{ids[2]},{value}"  # row 4 of the file
    results.write_text("\n".join(lines) + "\n")
    before = _snapshot(campaign)
    assert main(["tell", str(campaign), str(results)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "row 4: " in err and message in err
    assert _snapshot(campaign) == before


@pytest.fixture(scope="module")
def regression_template(library, tmp_path_factory):
    out = tmp_path_factory.mktemp("regression") / "campaign"
    argv = _start_argv(library, out, "--task", "regression", "--tolerance", "0.05")
    assert main(argv) == 0
    return out


@pytest.mark.parametrize("value", ["1e308", "-1e151", "1.8e308", "nan", "-inf"])
def test_regression_values_whose_square_overflows_are_refused_by_row(
    value, regression_template, tmp_path, capsys
):
    campaign = tmp_path / "campaign"
    shutil.copytree(regression_template, campaign)
    ids = _batch_ids(campaign / "batch_000.csv")
    rows = [[cid, 0.1 * k] for k, cid in enumerate(ids)]
    rows[6][1] = value
    results = _write(tmp_path / "r.csv", ["id", "value"], rows)
    before = _snapshot(campaign)
    assert main(["tell", str(campaign), str(results)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "row 8: " in err and ids[6] in err
    assert _snapshot(campaign) == before
    rows[6][1] = "1e150"  # the largest magnitude accepted
    _write(tmp_path / "r.csv", ["id", "value"], rows)
    assert main(["tell", str(campaign), str(results)]) == 0
    status = json.loads(_status_json(campaign, capsys))
    assert status["n_measured"] == BATCH


def _status_json(campaign, capsys):
    capsys.readouterr()
    assert main(["status", str(campaign), "--json"]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize(
    "task, value", [("classification", "1e19"), ("regression", "1e308")]
)
def test_simulate_refuses_labels_out_of_range_by_row(
    task, value, library, tmp_path, capsys
):
    path, truth = library
    rows = [[cid, 1 if y else 0] for cid, y in truth.items()]
    from sklearn_isd.datasets import load_qm9

    smiles = load_qm9(subset="embedded", task="classification").data[:N]
    rows = [[cid, smi, y] for (cid, y), smi in zip(rows, smiles)]
    rows[9][2] = value
    lib = _write(tmp_path / "lib.csv", ["compound", "smiles", "y"], rows)
    argv = ["simulate", lib, "--smiles-col", "smiles", "--label-col", "y"]
    argv += ["--task", task, "--out", tmp_path / "out", "--no-progress"]
    if task == "regression":
        argv += ["--tolerance", "0.5"]
    assert main([str(a) for a in argv]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "row 11: " in err and "out of range" in err


# --------------------------------------------------------------------------
# OS errors: one line, a documented exit code, nothing lost
# --------------------------------------------------------------------------
#: Runs command lines one after the other in one process whose files may not
#: grow beyond a size (RLIMIT_FSIZE: EFBIG, even as root); prints one JSON
#: line per command.
SIZE_LIMITED = """\
import contextlib, io, json, resource, sys
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
from sklearn_isd.__main__ import main
for argv in json.loads(sys.argv[2]):
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        code = main(argv)
    print(json.dumps({"code": code, "err": err.getvalue()}), flush=True)
"""


def _no_temporaries(folder):
    return not [p for p in folder.rglob("*") if p.name.endswith(".tmp")]


def test_a_file_size_limit_is_one_line_naming_whose_file_and_loses_nothing(
    library, template, tmp_path, capsys
):
    """tell, start, report (in and out of the campaign) and simulate, each
    writing a file over 4 KiB: exit 4 for the campaign's, 2 for the user's."""
    path, _ = library
    campaign, told, new = (tmp_path / name for name in ("campaign", "told", "new"))
    shutil.copytree(template, campaign)
    shutil.copytree(template, told)
    results = _results(
        library, _batch_ids(campaign / "batch_000.csv"), tmp_path / "r.csv"
    )
    assert main(["tell", str(told), str(results)]) == 0
    simulate = ["simulate", path, "--smiles-col", "smiles", "--label-col", "active"]
    commands = {  # argv: the expected exit code
        ("tell", campaign, results): 4,
        tuple(_start_argv(library, new)): 4,
        ("report", told): 4,
        ("report", told, "--out", tmp_path / "report"): 2,
        (
            *simulate,
            "--batch-size",
            "30",
            "--out",
            tmp_path / "sim",
            "--no-progress",
        ): 2,
    }
    assert (campaign / "campaign.isd.npz").stat().st_size > 4096
    states = {c: _snapshot(c) for c in (campaign, told)}
    argvs = [[str(a) for a in argv] for argv in commands]
    result = subprocess.run(
        [sys.executable, "-c", SIZE_LIMITED, "4096", json.dumps(argvs)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    outcomes = [json.loads(line) for line in result.stdout.splitlines()]
    for argv, code, outcome in zip(argvs, commands.values(), outcomes):
        assert outcome["code"] == code, (argv, outcome)
        _assert_one_line(outcome["err"])
        assert "File too large (EFBIG)" in outcome["err"]
    assert all(_snapshot(c) == state for c, state in states.items())
    assert _no_temporaries(tmp_path)
    assert main(["tell", str(campaign), str(results)]) == 0  # without the limit
    assert main(["status", str(new)]) == 4  # an interrupted start...
    assert "was interrupted" in capsys.readouterr().err
    assert main(_start_argv(library, new)) == 0  # ...that start completes


@pytest.mark.parametrize("command", ["tell", "start"])
def test_a_full_disk_is_exit_4_and_loses_nothing(
    command, library, campaign, tmp_path, monkeypatch, capsys
):
    import errno

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    results = _results(
        library, _batch_ids(campaign / "batch_000.csv"), tmp_path / "r.csv"
    )
    out = tmp_path / "new"
    argv = (
        ["tell", campaign, results] if command == "tell" else _start_argv(library, out)
    )
    before = _snapshot(campaign)
    monkeypatch.setattr(os, "fsync", full)
    assert main([str(a) for a in argv]) == 4
    monkeypatch.undo()
    err = capsys.readouterr().err
    _assert_one_line(err)
    assert "No space left on device (ENOSPC)" in err
    assert _snapshot(campaign) == before and _no_temporaries(tmp_path)
    assert main([str(a) for a in argv]) == 0  # once there is space again


@pytest.mark.parametrize("command", ["tell", "start", "report"])
def test_a_read_only_folder_is_exit_4_and_loses_nothing(
    command, library, campaign, tmp_path, monkeypatch, capsys
):
    """Writes refused as in a read-only file system (EROFS), even as root."""
    import errno
    import tempfile

    def read_only(*args, dir=None, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(dir))

    results = _results(
        library, _batch_ids(campaign / "batch_000.csv"), tmp_path / "r.csv"
    )
    argv = {
        "tell": ["tell", campaign, results],
        "start": _start_argv(library, campaign / "sub"),
        "report": ["report", campaign],
    }[command]
    if command == "report":
        assert main(["tell", str(campaign), str(results)]) == 0
        (campaign / "report").mkdir()
    before = _snapshot(campaign)
    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    assert main([str(a) for a in argv]) == 4
    monkeypatch.undo()
    err = capsys.readouterr().err
    _assert_one_line(err)
    assert "Read-only file system (EROFS)" in err
    assert _snapshot(campaign) == before
    assert main(["status", str(campaign)]) == 0  # a read-only campaign reads


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0,
    reason="root writes into read-only folders",
)
def test_a_chmod_read_only_campaign_refuses_tell_but_reads(
    library, campaign, tmp_path, capsys
):
    results = _results(
        library, _batch_ids(campaign / "batch_000.csv"), tmp_path / "r.csv"
    )
    before = _snapshot(campaign)
    campaign.chmod(0o555)
    try:
        assert main(["tell", str(campaign), str(results)]) == 4
        err = capsys.readouterr().err
        _assert_one_line(err)
        assert "Permission denied (EACCES)" in err
        assert main(["status", str(campaign)]) == 0
        assert main(["report", str(campaign), "--out", str(tmp_path / "rep")]) == 4
    finally:
        campaign.chmod(0o755)
    assert _snapshot(campaign) == before


@pytest.mark.parametrize(
    "argv, code, message",
    [
        (["tell", "{campaign}", "{tmp}/missing.csv"], 2, "no such file"),
        (["tell", "{campaign}", "{tmp}"], 2, "is a folder, not a file"),
        (["status", "{tmp}/nowhere"], 4, "No campaign directory"),
        (["status", "{tmp}"], 4, "is not an sklearn-isd campaign"),
        (
            ["start", "{tmp}/missing.csv", "--smiles-col", "s", "--out", "{tmp}/c"],
            2,
            "no such file",
        ),
        (
            ["start", "{library}", "--smiles-col", "smiles", "--out", "{library}"],
            4,
            "is not a directory",
        ),
        (
            [
                "simulate",
                "{library}",
                "--smiles-col",
                "smiles",
                "--label-col",
                "active",
                "--out",
                "{library}",
            ],
            2,
            "File exists (EEXIST)",
        ),
        (["report", "{campaign}", "--out", "{library}"], 2, "File exists (EEXIST)"),
    ],
)
def test_missing_and_wrong_kinds_of_files_are_one_line_errors(
    argv, code, message, library, campaign, tmp_path, capsys
):
    if argv[0] == "report":
        ids = _batch_ids(campaign / "batch_000.csv")
        assert (
            main(
                ["tell", str(campaign), str(_results(library, ids, tmp_path / "r.csv"))]
            )
            == 0
        )
    names = {"campaign": campaign, "tmp": tmp_path, "library": library[0]}
    capsys.readouterr()
    assert main([a.format(**names) for a in argv]) == code
    err = capsys.readouterr().err
    _assert_one_line(err)
    assert message in err
