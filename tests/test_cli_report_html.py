"""report.html: one self-contained, well-formed page whose numbers are history_'s."""

import base64
import csv
import json
import shutil
import subprocess
from html.parser import HTMLParser

import numpy as np
import pytest

from sklearn_isd import HybridScreenCV
from sklearn_isd.__main__ import main

pytest.importorskip("rdkit")

N = 150
BATCH = "30"
SECTIONS = ["decision", "plots", "rounds", "domain", "provenance"]
VOID = {"meta", "img", "br", "hr", "link", "input", "wbr"}


class Page(HTMLParser):
    """Checks nesting and collects sections, tables (by id) and images."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors = [], []
        self.sections, self.images, self.tables = [], [], {}
        self.links = []
        self._table = self._row = self._cell = None
        self.text = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag not in VOID:
            self.stack.append(tag)
        if tag == "section":
            self.sections.append(attrs.get("id"))
        elif tag == "img":
            self.images.append(attrs)
        elif tag in ("a", "link", "script"):
            self.links.append((tag, attrs))
        elif tag == "table":
            self._table = self.tables.setdefault(attrs.get("id"), [])
        elif tag == "tr" and self._table is not None:
            self._row = []
            self._table.append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:]} ")
        else:
            self.stack.pop()
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def parse(path):
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    assert not page.errors, page.errors[:5]
    assert page.stack == [], page.stack
    return page


def _write(path, header, rows):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    from sklearn_isd.datasets import load_qm9

    data = load_qm9(subset="embedded", task="classification")
    ids = [f"Q{i:04d}" for i in range(N)]
    labels = [int(y) for y in data.target[:N]]
    rows = [[i, s, y] for i, s, y in zip(ids, data.data[:N], labels)]
    rows.append(["BAD", "C1CC", 1])  # left out with --skip-invalid
    path = tmp_path_factory.mktemp("lib") / "library.csv"
    _write(path, ["compound", "smiles", "active"], rows)
    return path, dict(zip(ids, labels))


@pytest.fixture(scope="module")
def simulated(library, tmp_path_factory):
    path, _ = library
    out = tmp_path_factory.mktemp("sim") / "out"
    argv = ["simulate", str(path), "--smiles-col", "smiles", "--id-col", "compound"]
    argv += ["--label-col", "active", "--batch-size", BATCH, "--target", "0.8"]
    assert main([*argv, "--skip-invalid", "--out", str(out), "--no-progress"]) == 0
    return out


@pytest.fixture(scope="module")
def reported(library, tmp_path_factory):
    """A campaign told twice, and its report."""
    path, truth = library
    tmp = tmp_path_factory.mktemp("campaign")
    campaign = tmp / "campaign"
    argv = ["start", str(path), "--smiles-col", "smiles", "--id-col", "compound"]
    assert (
        main([*argv, "--batch-size", BATCH, "--skip-invalid", "--out", str(campaign)])
        == 0
    )
    for round_ in range(2):
        with open(campaign / f"batch_{round_:03d}.csv", newline="") as handle:
            ids = [r["id"] for r in csv.DictReader(handle)]
        results = _write(
            tmp / f"r{round_}.csv", ["id", "value"], [[i, truth[i]] for i in ids]
        )
        assert main(["tell", str(campaign), str(results)]) == 0
    assert main(["report", str(campaign)]) == 0
    return campaign


def _history_of_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def _check_rounds(page, history):
    table = page.tables["rounds-table"]
    header, rows = table[0], table[1:]
    assert header[:4] == ["round", "measured", "fraction measured", "batch"]
    assert len(rows) == len(history["n_observed"])
    column = {name: j for j, name in enumerate(header)}
    for i, row in enumerate(rows):
        assert row[0] == str(i)
        assert int(row[column["measured"]]) == history["n_observed"][i]
        for key, name in [
            ("batch_score", "batch accuracy"),
            ("batch_lower_bound", "batch lower bound"),
            ("system_lower_bound", "system lower bound"),
            ("system_score", "true system accuracy"),
        ]:
            if key not in history:
                assert name not in column
                continue
            value = history[key][i]
            cell = row[column[name]]
            if np.isnan(value):
                assert cell == "–"
            else:
                assert float(cell) == pytest.approx(value, abs=5e-5)


def test_simulate_report_is_well_formed_and_matches_history(simulated):
    page = parse(simulated / "report.html")
    assert page.sections == [*SECTIONS[:4], "skipped", "provenance"]
    history = {
        key: np.array([float(r[key]) if r[key] else np.nan for r in rows])
        for rows in [_history_of_csv(simulated / "history.csv")]
        for key in rows[0]
    }
    _check_rounds(page, history)
    text = " ".join(page.text)
    bound, truth = history["system_lower_bound"][-1], history["system_score"][-1]
    assert "passed the target 0.8" in text
    assert f"true system accuracy at the stop is {truth:.4f}" in text
    assert f"{bound:.4f}" in text
    decision = dict(page.tables["decision-table"][1:])
    assert float(decision["system lower bound"]) == pytest.approx(bound, abs=5e-5)
    assert decision["status"] == "target_reached"
    assert page.tables["skipped-table"][1][:2] == ["row 152", "BAD"]


def test_campaign_report_is_self_contained_with_every_section(reported):
    path = reported / "report" / "report.html"
    page = parse(path)
    assert page.sections == [*SECTIONS[:4], "skipped", "provenance"]
    screen = HybridScreenCV.load(reported / "campaign.isd.npz")
    _check_rounds(page, screen.history_)
    # Self-contained: images inline, no script, no link to anything.
    assert page.links == []
    assert len(page.images) == 2
    for image in page.images:
        assert image["src"].startswith("data:image/png;base64,")
        png = base64.b64decode(image["src"].split(",", 1)[1])
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        assert image["alt"]
    assert "http://" not in path.read_text() and "https://" not in path.read_text()
    # Provenance: versions, files with their hashes, options, results told.
    versions = dict(page.tables["versions"][1:])
    assert {"python", "sklearn-isd", "numpy", "scikit-learn", "rdkit"} <= set(versions)
    meta = json.loads((reported / "campaign.json").read_text())
    files = {row[0]: row for row in page.tables["files-table"][1:]}
    assert files["library copy"][2] == meta["library"]["sha256"]
    assert files["campaign file"][2].startswith("sha256:")
    assert len(page.tables["tells-table"]) == 3  # a header, two results files
    options = dict(page.tables["options-table"][1:])
    assert options["stopping rule"] == "kl" and options["target"] == "0.95"
    # The applicability domain agrees with the readout.
    with open(reported / "report" / "readout.csv", newline="") as handle:
        readout = list(csv.DictReader(handle))
    predicted = [r for r in readout if r["source"] == "predicted"]
    inside = sum(r["in_domain"] == "true" for r in predicted)
    domain = dict(page.tables["domain-table"][1:])
    assert int(domain["predicted compounds"]) == len(predicted)
    assert int(domain["in the domain (similarity >= 0.4)"]) == inside
    scaffolds = page.tables["scaffold-table"]
    assert scaffolds[0][0] == "scaffold" and len(scaffolds) > 1
    text = " ".join(page.text)
    assert "The screen goes on" in text and "below the target 0.95" in text


def test_report_html_escapes_what_it_shows(library, reported, tmp_path):
    """A results file name with markup is shown as text."""
    campaign = tmp_path / "c"
    shutil.copytree(reported, campaign)
    _, truth = library
    with open(campaign / "batch_002.csv", newline="") as handle:
        ids = [r["id"] for r in csv.DictReader(handle)]
    results = _write(
        tmp_path / "<b>x&y.csv", ["id", "value"], [[i, truth[i]] for i in ids]
    )
    assert main(["tell", str(campaign), str(results)]) == 0
    assert main(["report", str(campaign), "--out", str(tmp_path / "r")]) == 0
    page = parse(tmp_path / "r" / "report.html")
    assert "<b>" not in (tmp_path / "r" / "report.html").read_text()
    assert any("<b>x&y.csv" in row[1] for row in page.tables["tells-table"][1:])


def test_report_html_without_matplotlib_says_so(
    reported, tmp_path, monkeypatch, capsys
):
    import builtins

    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    assert main(["report", str(reported), "--out", str(tmp_path / "r")]) == 0
    page = parse(tmp_path / "r" / "report.html")
    assert page.images == []
    assert "not drawn (matplotlib is not installed" in " ".join(page.text)
    assert not (tmp_path / "r" / "screen.png").exists()


def test_report_html_renders_in_chromium(reported, tmp_path):
    """Render the page once (skipped where Chromium is not installed)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Chromium is not installed")
    shot = tmp_path / "report.png"
    result = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1200,2400",
            f"--screenshot={shot}",
            (reported / "report" / "report.html").resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
