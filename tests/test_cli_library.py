"""Libraries of the command line: formats, every invalid row at once, skipping.

Each library format (CSV, TSV and --sep, SMILES files, SD files, Parquet)
gives the same campaign as the CSV of the same compounds; every invalid row
of a library is reported in one run, by row (or record, or line), and
--skip-invalid leaves them out and lists them in the campaign, in status and
in the report.
"""

import csv
import json

import numpy as np
import pytest

from sklearn_isd.__main__ import main

pytest.importorskip("rdkit")

N = 90
BATCH = "30"


def _write(path, header, rows, delimiter=","):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _read(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def molecules():
    """90 QM9 molecules: ids, SMILES and class labels."""
    from sklearn_isd.datasets import load_qm9

    data = load_qm9(subset="embedded", task="classification")
    ids = [f"Q{i:04d}" for i in range(N)]
    return ids, list(data.data[:N]), [int(y) for y in data.target[:N]]


@pytest.fixture(scope="module")
def csv_library(molecules, tmp_path_factory):
    ids, smiles, labels = molecules
    path = tmp_path_factory.mktemp("lib") / "library.csv"
    return _write(path, ["compound", "smiles", "active"], zip(ids, smiles, labels))


def _start(library, out, *extra):
    argv = ["start", str(library), *extra, "--batch-size", BATCH, "--out", str(out)]
    return main(argv)


def _status(campaign, capsys):
    capsys.readouterr()
    assert main(["status", str(campaign), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _one_line_error(capsys):
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.count("\n") == 1, err
    return err


def _batch(campaign):
    return [(r["id"], r["smiles"]) for r in _read(campaign / "batch_000.csv")]


@pytest.fixture(scope="module")
def reference(csv_library, tmp_path_factory):
    """The campaign of the CSV library (ids from the compound column)."""
    out = tmp_path_factory.mktemp("ref") / "campaign"
    assert (
        _start(csv_library, out, "--smiles-col", "smiles", "--id-col", "compound") == 0
    )
    return out


# --------------------------------------------------------------------------
# Formats
# --------------------------------------------------------------------------
def test_tsv_and_sep_give_the_campaign_of_the_csv(
    molecules, reference, tmp_path, capsys
):
    ids, smiles, labels = molecules
    tsv = _write(
        tmp_path / "library.tsv", ["compound", "smiles"], zip(ids, smiles), "\t"
    )
    semicolon = _write(
        tmp_path / "library.txt", ["compound", "smiles"], zip(ids, smiles), ";"
    )
    args = ["--smiles-col", "smiles", "--id-col", "compound"]
    assert _start(tsv, tmp_path / "tsv", *args) == 0
    assert _start(semicolon, tmp_path / "semi", *args, "--sep", ";") == 0
    for name in ("tsv", "semi"):
        assert _batch(tmp_path / name) == _batch(reference)
    meta = json.loads((tmp_path / "tsv" / "campaign.json").read_text())
    assert meta["library"]["file"] == "library.tsv"
    assert meta["library"]["format"] == "tsv" and "sep" not in meta["library"]
    meta = json.loads((tmp_path / "semi" / "campaign.json").read_text())
    assert meta["library"]["sep"] == ";"
    # Later commands read the copy with the same separator.
    assert _status(tmp_path / "semi", capsys)["n_compounds"] == N
    # A separator that does not split the header: no such column, exit 2.
    assert _start(semicolon, tmp_path / "wrong", *args) == 2
    assert "has no column 'smiles'" in _one_line_error(capsys)
    assert not (tmp_path / "wrong").exists()


def test_smiles_file_with_names_and_an_optional_header(
    molecules, reference, tmp_path, capsys
):
    ids, smiles, _ = molecules
    body = "".join(f"{s}\t{i}\n" for i, s in zip(ids, smiles))
    (tmp_path / "named.smi").write_text("SMILES Name\n" + body)
    (tmp_path / "plain.smi").write_text("\n".join(smiles) + "\n")
    assert _start(tmp_path / "named.smi", tmp_path / "named") == 0
    assert _batch(tmp_path / "named") == _batch(reference)
    assert _start(tmp_path / "plain.smi", tmp_path / "plain") == 0
    positions = [int(cid) for cid, _ in _batch(tmp_path / "plain")]
    assert [smiles[p - 1] for p in positions] == [s for _, s in _batch(reference)]
    # --smiles-col names a column: a SMILES file has none.
    assert _start(tmp_path / "plain.smi", tmp_path / "x", "--smiles-col", "s") == 2
    assert "does not apply to a smi library" in _one_line_error(capsys)


def _sdf(path, ids, smiles, *, title=True, prop=None, broken=()):
    from rdkit import Chem

    blocks = []
    for k, (cid, smi) in enumerate(zip(ids, smiles)):
        mol = Chem.MolFromSmiles(smi)
        if title:
            mol.SetProp("_Name", cid)
        if prop is not None:
            mol.SetProp(prop, cid)
        block = Chem.MolToMolBlock(mol)
        if k in broken:  # an atom count the atom block does not hold
            lines = block.splitlines()
            lines[3] = "999" + lines[3][3:]
            block = "\n".join(lines) + "\n"
        props = "".join(
            f">  <{name}>\n{mol.GetProp(name)}\n\n"
            for name in mol.GetPropNames()
            if name != "_Name"
        )
        blocks.append(block + props + "$$$$\n")
    path.write_text("".join(blocks))
    return path


def test_sd_file_ids_from_the_title_or_a_property(
    molecules, reference, tmp_path, capsys
):
    ids, smiles, _ = molecules
    titled = _sdf(tmp_path / "titled.sdf", ids, smiles)
    assert _start(titled, tmp_path / "titled") == 0
    batch = _batch(tmp_path / "titled")
    assert [cid for cid, _ in batch] == [cid for cid, _ in _batch(reference)]
    meta = json.loads((tmp_path / "titled" / "campaign.json").read_text())
    assert meta["library"]["format"] == "sdf" and meta["library"]["smiles_col"] is None
    assert (tmp_path / "titled" / "library.sdf").read_bytes() == titled.read_bytes()

    untitled = _sdf(tmp_path / "prop.sdf", ids, smiles, title=False, prop="CID")
    assert _start(untitled, tmp_path / "prop", "--id-col", "CID") == 0
    assert _batch(tmp_path / "prop") == batch
    # Without --id-col the titles are read: all empty, every record named.
    assert _start(untitled, tmp_path / "none") == 2
    err = capsys.readouterr().err
    assert "record 1: empty id (the record has no title" in err
    assert f"and {N - 20} more" in err and not (tmp_path / "none").exists()


def test_sd_records_rdkit_cannot_read_are_named_by_record(molecules, tmp_path, capsys):
    ids, smiles, _ = molecules
    sdf = _sdf(tmp_path / "broken.sdf", ids, smiles, broken=(2, 7))
    assert _start(sdf, tmp_path / "c") == 2
    err = capsys.readouterr().err
    assert "2 invalid row(s)" in err
    assert "record 3: RDKit cannot read the molecule" in err
    assert "record 8: RDKit cannot read the molecule" in err
    assert not (tmp_path / "c").exists()
    assert _start(sdf, tmp_path / "c", "--skip-invalid") == 0
    assert _status(tmp_path / "c", capsys)["n_compounds"] == N - 2


def test_parquet_library(molecules, reference, tmp_path, capsys, monkeypatch):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    ids, smiles, labels = molecules
    path = tmp_path / "library.parquet"
    frame = pd.DataFrame({"compound": ids, "smiles": smiles, "active": labels})
    frame.to_parquet(path)
    args = ["--smiles-col", "smiles", "--id-col", "compound"]
    assert _start(path, tmp_path / "pq", *args) == 0
    assert _batch(tmp_path / "pq") == _batch(reference)
    assert _status(tmp_path / "pq", capsys)["n_compounds"] == N
    # simulate reads its labels from a Parquet column too.
    argv = ["simulate", str(path), *args, "--label-col", "active", "--no-progress"]
    assert main([*argv, "--batch-size", BATCH, "--out", str(tmp_path / "s")]) == 0
    assert len(_read(tmp_path / "s" / "readout.csv")) == N


def test_parquet_without_the_data_extra_is_exit_3(tmp_path, capsys, monkeypatch):
    import builtins

    path = tmp_path / "library.parquet"
    path.write_bytes(b"PAR1")
    real_import = builtins.__import__

    def no_pyarrow(name, *args, **kwargs):
        if name in ("pyarrow", "pandas") or name.startswith("pyarrow."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyarrow)
    assert _start(path, tmp_path / "c", "--smiles-col", "smiles") == 3
    err = _one_line_error(capsys)
    assert "pip install sklearn-isd[data]" in err and "data extra" in err
    assert not (tmp_path / "c").exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--sep", "ab"], "must be one character"),
        (["--sep", ";", "--smiles-col", "smiles"], None),
    ],
)
def test_bad_separators(csv_library, tmp_path, capsys, argv, message):
    if message is not None:
        with pytest.raises(SystemExit) as exc:
            _start(csv_library, tmp_path / "c", *argv)
        assert exc.value.code == 2
        assert message in capsys.readouterr().err
    else:
        assert _start(csv_library, tmp_path / "c", *argv) == 2
        assert "has no column 'smiles'" in _one_line_error(capsys)
    assert not (tmp_path / "c").exists()


def test_sep_on_a_smiles_file_and_a_missing_smiles_col_are_exit_2(
    csv_library, tmp_path, capsys
):
    smi = tmp_path / "x.smi"
    smi.write_text("CCO a\n")
    assert _start(smi, tmp_path / "c", "--sep", ";") == 2
    assert "--sep applies to CSV and TSV" in _one_line_error(capsys)
    assert _start(csv_library, tmp_path / "c") == 2
    assert "--smiles-col is required for a csv library" in _one_line_error(capsys)
    assert not (tmp_path / "c").exists()


# --------------------------------------------------------------------------
# Every invalid row at once, and --skip-invalid
# --------------------------------------------------------------------------
@pytest.fixture
def bad_library(molecules, tmp_path):
    """The CSV library with one problem of each kind, in rows 4 to 9."""
    ids, smiles, labels = molecules
    rows = [list(r) for r in zip(ids, smiles, labels)]
    rows[2][1] = ""  # row 4: empty SMILES
    rows[3][1] = "C1CC"  # row 5: unparsable SMILES
    rows[4][0] = ids[0]  # row 6: duplicate id
    rows[5][0] = ""  # row 7: empty id
    rows[6][2] = "1e400"  # row 8: a label out of range (simulate)
    rows[7][1] = "not a molecule"  # row 9
    rows[7][0] = ""  # row 9: two problems
    return _write(tmp_path / "bad.csv", ["compound", "smiles", "active"], rows)


EXPECTED = {
    "row 4": "empty SMILES",
    "row 5": "invalid SMILES 'C1CC'",
    "row 6": "duplicate id 'Q0000' (first in row 2)",
    "row 7": "empty id",
    "row 9": "empty id; invalid SMILES 'not a molecule'",
}


def test_every_invalid_row_is_reported_in_one_run(bad_library, tmp_path, capsys):
    args = ["--smiles-col", "smiles", "--id-col", "compound"]
    assert _start(bad_library, tmp_path / "c", *args) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "5 invalid row(s)" in err
    assert "pass --skip-invalid" in err
    for row, problem in EXPECTED.items():
        assert f"  {row}: {problem}\n" in err
    assert "row 8" not in err  # start reads no label
    assert not (tmp_path / "c").exists()
    argv = ["simulate", str(bad_library), *args, "--label-col", "active"]
    assert main([*argv, "--out", str(tmp_path / "s"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "6 invalid row(s)" in err and "row 8: class code '1e400' is out of" in err
    assert not (tmp_path / "s").exists()


def test_many_invalid_rows_are_capped_with_a_count(molecules, tmp_path, capsys):
    ids, smiles, _ = molecules
    path = _write(tmp_path / "x.csv", ["id", "smiles"], [[i, "X"] for i in ids])
    assert _start(path, tmp_path / "c", "--smiles-col", "smiles") == 2
    err = capsys.readouterr().err
    assert f"{N} invalid row(s)" in err and f"... and {N - 20} more" in err
    assert err.count("invalid SMILES 'X'") == 20


def test_skip_invalid_lists_the_rows_in_campaign_status_and_report(
    bad_library, molecules, tmp_path, capsys
):
    ids, _, labels = molecules
    campaign = tmp_path / "c"
    args = ["--smiles-col", "smiles", "--id-col", "compound", "--skip-invalid"]
    assert _start(bad_library, campaign, *args) == 0
    out = capsys.readouterr().out
    assert "Skipped 5 invalid library row(s)" in out and "row 4, row 5" in out
    meta = json.loads((campaign / "campaign.json").read_text())
    assert meta["library"]["skipped"] == [2, 3, 4, 5, 7]
    assert meta["library"]["n_compounds"] == N - 5
    skipped = _read(campaign / "skipped.csv")
    assert {r["row"]: r["problem"] for r in skipped} == EXPECTED
    status = _status(campaign, capsys)
    assert {s["row"]: s["problem"] for s in status["skipped"]} == EXPECTED
    assert main(["status", str(campaign)]) == 0
    assert "Skipped at start: 5 invalid library row(s)" in capsys.readouterr().out
    # The ids of the batches are those of the valid rows, positions unchanged.
    truth = dict(zip(ids, labels))
    batch = _read(campaign / "batch_000.csv")
    assert {r["id"] for r in batch} <= set(ids) - {"Q0002", "Q0003"}
    results = _write(
        tmp_path / "r.csv", ["id", "value"], [[r["id"], truth[r["id"]]] for r in batch]
    )
    assert main(["tell", str(campaign), str(results)]) == 0
    assert main(["report", str(campaign)]) == 0
    report = campaign / "report"
    assert {r["row"]: r["problem"] for r in _read(report / "skipped.csv")} == EXPECTED
    assert len(_read(report / "readout.csv")) == N - 5
    manifest = json.loads((report / "manifest.json").read_text())
    assert manifest["n_skipped"] == 5
    page = (report / "report.html").read_text()
    assert 'id="skipped"' in page and "invalid SMILES &#x27;C1CC&#x27;" in page


def test_simulate_skips_invalid_labels_too(bad_library, tmp_path, capsys):
    argv = ["simulate", str(bad_library), "--smiles-col", "smiles"]
    argv += ["--id-col", "compound", "--label-col", "active", "--skip-invalid"]
    out = tmp_path / "s"
    argv += ["--batch-size", BATCH, "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    assert "Skipped 6 invalid library row(s)" in capsys.readouterr().out
    assert len(_read(out / "readout.csv")) == N - 6
    assert [r["row"] for r in _read(out / "skipped.csv")][4] == "row 8"


def test_a_library_with_no_valid_row_is_exit_2_even_when_skipping(
    molecules, tmp_path, capsys
):
    ids, _, _ = molecules
    path = _write(tmp_path / "x.csv", ["id", "smiles"], [[i, "X"] for i in ids[:5]])
    argv = ["--smiles-col", "smiles", "--skip-invalid"]
    assert _start(path, tmp_path / "c", *argv) == 2
    assert "has no valid compound" in _one_line_error(capsys)
    assert not (tmp_path / "c").exists()


def test_a_skipped_list_that_no_longer_matches_the_copy_is_exit_4(
    bad_library, tmp_path, capsys
):
    campaign = tmp_path / "c"
    args = ["--smiles-col", "smiles", "--id-col", "compound", "--skip-invalid"]
    assert _start(bad_library, campaign, *args) == 0
    meta = json.loads((campaign / "campaign.json").read_text())
    meta["library"]["skipped"] = [2, 3, 4, 5]  # row 9 is invalid, and kept
    (campaign / "campaign.json").write_text(json.dumps(meta))
    assert main(["report", str(campaign)]) == 4
    err = _one_line_error(capsys)
    assert "'library.skipped'" in err and "row 9" in err
    meta["library"]["skipped"] = [3, 2]
    (campaign / "campaign.json").write_text(json.dumps(meta))
    assert main(["status", str(campaign)]) == 4
    assert "increasing record positions" in _one_line_error(capsys)


# --------------------------------------------------------------------------
# --stopping
# --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, cls",
    [
        ("kl", None),
        ("anytime-kl", "AnytimeKLBound"),
        ("pooled-kl", "PooledKLBound"),
        ("audit", "AuditBound"),
        ("none", None),
    ],
)
def test_stopping_names_map_to_the_rules(csv_library, tmp_path, capsys, name, cls):
    from sklearn_isd import HybridScreenCV

    campaign = tmp_path / "c"
    args = ["--smiles-col", "smiles", "--target", "0.9", "--delta", "0.1"]
    assert _start(csv_library, campaign, *args, "--stopping", name) == 0
    screen = HybridScreenCV.load(campaign / "campaign.isd.npz")
    rule = screen.get_params()["stopping"]
    if cls is None:
        assert rule == ("kl" if name == "kl" else None)
    else:
        assert type(rule).__name__ == cls
        assert (rule.target, rule.delta) == (0.9, 0.1)
    meta = json.loads((campaign / "campaign.json").read_text())
    assert meta.get("stopping", "kl") == name
    assert ("stopping" in meta) == (name != "kl")
    assert _status(campaign, capsys)["stopping"] == name


def test_the_stopping_registry_is_one_dict_of_the_parser_and_schema():
    from sklearn_isd.cli import _models, _schema, build_parser

    assert list(_models.STOPPING_RULES) == ["ppi", "kl", "anytime-kl"] + [
        "pooled-kl",
        "audit",
        "none",
    ]
    start = build_parser()._subparsers._group_actions[0].choices["start"]
    action = next(a for a in start._actions if a.dest == "stopping")
    assert list(action.choices) == list(_models.STOPPING_RULES)
    assert _schema.SCHEMA["stopping"].check("audit") is None
    assert _schema.SCHEMA["stopping"].check("ppi") is None
    assert "must be one of" in _schema.SCHEMA["stopping"].check("bayes")


def test_unknown_stopping_rule_is_exit_2(csv_library, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        _start(csv_library, tmp_path / "c", "--smiles-col", "smiles", "--stopping", "x")
    assert exc.value.code == 2
    assert "invalid choice: 'x'" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


def test_a_campaign_json_stopping_that_disagrees_is_exit_4(
    csv_library, tmp_path, capsys
):
    campaign = tmp_path / "c"
    assert _start(csv_library, campaign, "--smiles-col", "smiles") == 0
    meta = json.loads((campaign / "campaign.json").read_text())
    meta["stopping"] = "audit"
    (campaign / "campaign.json").write_text(json.dumps(meta))
    assert main(["status", str(campaign)]) == 4
    assert "field 'stopping' ('audit') disagrees" in _one_line_error(capsys)


def test_regression_with_stopping_none_needs_no_tolerance(molecules, tmp_path, capsys):
    ids, smiles, labels = molecules
    path = _write(
        tmp_path / "r.csv",
        ["id", "smiles", "gap"],
        [
            [i, s, 0.5 * y + 0.01 * k]
            for k, (i, s, y) in enumerate(zip(ids, smiles, labels))
        ],
    )
    argv = ["simulate", str(path), "--smiles-col", "smiles", "--label-col", "gap"]
    argv += ["--task", "regression", "--batch-size", BATCH, "--no-progress"]
    assert main([*argv, "--out", str(tmp_path / "a")]) == 2
    assert "or pass --stopping none" in _one_line_error(capsys)
    argv += ["--stopping", "none", "--max-fraction", "0.4"]
    assert main([*argv, "--out", str(tmp_path / "b")]) == 0
    history = _read(tmp_path / "b" / "history.csv")
    assert int(history[-1]["n_observed"]) == 36
    assert np.isnan(float(history[-1]["system_lower_bound"] or "nan"))
