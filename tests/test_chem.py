"""Tests of sklearn_isd.chem: Morgan fingerprints and reference correction."""

import builtins
import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from joblib import parallel_config
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from sklearn_isd import chem
from sklearn_isd.chem import (
    MorganFingerprint,
    atom_counts,
    fit_atomic_reference,
    reference_correct,
    scaffold_annotations,
    scaffold_summary,
)
from sklearn_isd.datasets import load_qm9

# QM9 SMILES here carry no stereo marks; these make include_chirality matter.
CHIRAL = ["C[C@H](N)O", "C[C@@H](N)O", "N[C@@H](C)C(=O)O"]


@pytest.fixture(scope="module")
def qm9():
    return load_qm9()


@pytest.fixture(scope="module")
def smiles50(qm9):
    # Spread over the subset, so that rings, charges and stereo all show up.
    return list(qm9.data[::200][:50])


def _rdkit_reference(smiles, radius, n_bits, use_counts, include_chirality=False):
    from rdkit import Chem
    from rdkit.Chem import rdFingerprintGenerator

    gen = rdFingerprintGenerator.GetMorganGenerator(
        radius=radius, fpSize=n_bits, includeChirality=include_chirality
    )
    mols = [Chem.MolFromSmiles(s) for s in smiles]
    if use_counts:
        return np.vstack([gen.GetCountFingerprintAsNumPy(m) for m in mols])
    return np.vstack([gen.GetFingerprintAsNumPy(m) for m in mols])


@pytest.mark.parametrize(
    "radius, n_bits, use_counts, include_chirality",
    [
        (2, 2048, False, False),
        (2, 2048, True, False),
        (3, 1024, False, True),
        (1, 512, True, False),
        (0, 64, False, False),
    ],
)
def test_matches_rdkit_bit_for_bit(
    smiles50, radius, n_bits, use_counts, include_chirality
):
    pytest.importorskip("rdkit")
    fp = MorganFingerprint(
        radius, n_bits, use_counts=use_counts, include_chirality=include_chirality
    )
    smiles = smiles50 + CHIRAL
    X = fp.fit_transform(smiles)
    expected = _rdkit_reference(smiles, radius, n_bits, use_counts, include_chirality)

    assert sp.issparse(X) and X.format == "csr"
    assert X.dtype == np.float32
    assert X.shape == (len(smiles), n_bits)
    np.testing.assert_array_equal(X.toarray(), expected.astype(np.float32))
    # The sparse structure holds exactly the nonzero entries, sorted per row.
    assert X.nnz == np.count_nonzero(expected)
    assert X.has_sorted_indices
    if not use_counts:
        assert set(np.unique(X.data)) == {1.0}
    else:
        assert X.data.max() > 1  # some environment occurs more than once
    # Enantiomers differ only when chirality is included.
    chiral = X[len(smiles50) :].toarray()
    assert (chiral[0] != chiral[1]).any() == include_chirality


def test_default_is_ecfp4_2048(smiles50):
    pytest.importorskip("rdkit")
    X = MorganFingerprint().transform(smiles50[:5])
    np.testing.assert_array_equal(
        X.toarray(), _rdkit_reference(smiles50[:5], 2, 2048, False)
    )


def test_n_jobs_gives_identical_output(smiles50):
    pytest.importorskip("rdkit")
    sequential = MorganFingerprint().transform(smiles50)
    parallel = MorganFingerprint(n_jobs=2).transform(smiles50)
    np.testing.assert_array_equal(parallel.toarray(), sequential.toarray())
    np.testing.assert_array_equal(parallel.indptr, sequential.indptr)
    # n_jobs=None follows a joblib context (threads here: no process pool).
    with parallel_config(backend="threading", n_jobs=3):
        in_context = MorganFingerprint().transform(smiles50)
    np.testing.assert_array_equal(in_context.toarray(), sequential.toarray())


@pytest.mark.parametrize(
    "make_input",
    [
        lambda s: tuple(s),
        lambda s: np.asarray(s, dtype=object),
        lambda s: np.asarray(s, dtype=str),
        lambda s: np.asarray(s, dtype=object).reshape(-1, 1),
        lambda s: [[x] for x in s],
    ],
    ids=["tuple", "object-array", "str-array", "2d-column", "nested-list"],
)
def test_input_containers(smiles50, make_input):
    pytest.importorskip("rdkit")
    expected = MorganFingerprint().transform(smiles50[:10]).toarray()
    got = MorganFingerprint().transform(make_input(smiles50[:10])).toarray()
    np.testing.assert_array_equal(got, expected)


def test_pandas_inputs(smiles50):
    pytest.importorskip("rdkit")
    pd = pytest.importorskip("pandas")
    expected = MorganFingerprint().transform(smiles50[:10]).toarray()
    series = pd.Series(smiles50[:10], index=np.arange(100, 110))
    frame = pd.DataFrame({"smiles": smiles50[:10]})
    for X in (series, frame):
        np.testing.assert_array_equal(
            MorganFingerprint().transform(X).toarray(), expected
        )


@pytest.mark.parametrize(
    "bad_input, match",
    [
        ("CCO", "single string"),
        (np.array([["C", "O"], ["C", "O"]], dtype=object), "exactly one"),
        (np.empty((2, 2, 1), dtype=object), "exactly one"),
    ],
)
def test_bad_input_shapes(bad_input, match):
    with pytest.raises(ValueError, match=match):
        MorganFingerprint().transform(bad_input)


def test_two_column_dataframe_rejected():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"smiles": ["C", "O"], "other": ["C", "O"]})
    with pytest.raises(ValueError, match="exactly one column"):
        MorganFingerprint().transform(frame)


def test_invalid_smiles_error_names_rows_and_values(capfd):
    pytest.importorskip("rdkit")
    X = ["CCO", "c1ccccc1", "C1CC", "O", None, float("nan"), "", "xyz", 42, "N"]
    with pytest.raises(ValueError) as excinfo:
        MorganFingerprint().transform(X)
    message = str(excinfo.value)
    assert message.startswith("6 invalid SMILES at rows [2, 4, 5, 6, 7, 8]")
    for fragment in ("2: 'C1CC'", "4: None", "5: nan", "6: ''", "7: 'xyz'", "8: 42"):
        assert fragment in message
    assert "'CCO'" not in message and "'N'" not in message
    # RDKit's own parse errors are silenced.
    assert "SMILES Parse Error" not in capfd.readouterr().err


def test_invalid_smiles_rows_are_global_across_chunks():
    pytest.importorskip("rdkit")
    X = ["C"] * 30
    X[3], X[17], X[29] = "C(", "bad", "(("
    for n_jobs in (None, 2):
        with pytest.raises(ValueError, match=r"3 invalid SMILES at rows \[3, 17, 29\]"):
            MorganFingerprint(n_jobs=n_jobs).transform(X)


# SMILES that exercise the parser: explicit and isotopic hydrogens (which
# MolFromSmiles removes or keeps), E/Z bonds, charges, isotopes, salts, a name
# and a CXSMILES extension after a space, and an element symbol starting with H.
SPECIAL = [
    "[H]N=C1NC(Nc2ccccc2C)=NC2(CCCC2)N1",
    "[H]C([H])([H])O",
    "[2H]C([2H])O",
    "[H][H]",
    "[H+].[Cl-]",
    "F/C=C/F",
    "F/C=C\\F",
    "C/C=N/O",
    "C[NH3+]",
    "[O-]C(=O)C",
    "[13CH3]O",
    "c1cc[nH]c1",
    "[Na+].[Cl-]",
    "CCO ethanol",
    "C[C@H](N)C(=O)O |&1:1|",
    "[Hg+2]",
    "O=[N+]([O-])c1ccccc1",
]


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of 7 rows, so that a few dozen SMILES make several chunks."""
    monkeypatch.setattr(chem, "_CHUNK_SIZE", 7)


@pytest.mark.parametrize(
    "radius, n_bits, use_counts, include_chirality, n_jobs",
    [
        (2, 2048, False, False, 1),
        (2, 2048, False, False, 2),
        (1, 512, True, False, 1),
        (3, 1024, True, False, 2),
        (2, 2048, False, True, 1),
        (2, 256, True, True, 2),
        (1, 70_000, False, False, 1),  # more columns than uint16 indices hold
    ],
)
def test_chunked_output_matches_rdkit_bit_for_bit(
    smiles50, small_chunks, radius, n_bits, use_counts, include_chirality, n_jobs
):
    pytest.importorskip("rdkit")
    smiles = smiles50 + CHIRAL + SPECIAL
    assert len(chem._chunk_bounds(len(smiles), n_jobs)) - 1 >= 10
    X = MorganFingerprint(
        radius,
        n_bits,
        use_counts=use_counts,
        include_chirality=include_chirality,
        n_jobs=n_jobs,
    ).transform(smiles)
    expected = _rdkit_reference(smiles, radius, n_bits, use_counts, include_chirality)
    assert X.format == "csr" and X.dtype == np.float32
    assert X.shape == (len(smiles), n_bits)
    np.testing.assert_array_equal(X.toarray(), expected.astype(np.float32))
    assert X.nnz == np.count_nonzero(expected)
    assert X.has_sorted_indices
    np.testing.assert_array_equal(np.diff(X.indptr), np.count_nonzero(expected, 1))


def test_every_chunk_is_fingerprinted_once(smiles50, small_chunks, monkeypatch):
    pytest.importorskip("rdkit")
    calls = []
    chunk = chem._fingerprint_chunk

    def spy(smiles, *args):
        calls.append(list(smiles))
        return chunk(smiles, *args)

    monkeypatch.setattr(chem, "_fingerprint_chunk", spy)
    assert len(set(smiles50)) == len(smiles50)
    expected = _rdkit_reference(smiles50, 2, 2048, False)
    for n_jobs in (1, 3):
        calls.clear()
        with parallel_config(backend="threading"):
            X = MorganFingerprint(n_jobs=n_jobs).transform(smiles50)
        np.testing.assert_array_equal(X.toarray(), expected)
        # Contiguous chunks of at most 7 rows, in order, a multiple of n_jobs.
        calls.sort(key=lambda c: smiles50.index(c[0]))  # threads finish in any order
        assert [s for c in calls for s in c] == smiles50
        assert len(calls) % n_jobs == 0 and max(map(len, calls)) <= 7


@pytest.mark.parametrize("n_samples", [0, 1, 5, 69, 70, 71, 1000])
@pytest.mark.parametrize("n_jobs", [1, 2, 3])
def test_chunk_bounds(small_chunks, n_samples, n_jobs):
    bounds = chem._chunk_bounds(n_samples, n_jobs)
    assert bounds[0] == 0 and bounds[-1] == n_samples
    sizes = np.diff(bounds)
    assert (sizes >= 0).all() and sizes.max() <= 7
    if n_samples >= n_jobs:
        assert len(sizes) % n_jobs == 0 and sizes.min() >= 1
        assert sizes.max() - sizes.min() <= 1


def test_transform_under_threading_backend(smiles50, small_chunks):
    pytest.importorskip("rdkit")
    expected = MorganFingerprint(use_counts=True).transform(smiles50)
    with parallel_config(backend="threading"):
        X = MorganFingerprint(use_counts=True, n_jobs=2).transform(smiles50)
    np.testing.assert_array_equal(X.toarray(), expected.toarray())
    np.testing.assert_array_equal(X.indptr, expected.indptr)
    np.testing.assert_array_equal(X.indices, expected.indices)


@pytest.mark.parametrize("n_jobs", [1, 2, "threading"])
def test_invalid_smiles_in_later_chunks_report_global_rows(small_chunks, n_jobs):
    pytest.importorskip("rdkit")
    X = ["CCO"] * 40
    # A parse error, sanitization errors (valence, kekulization), a parse error
    # after an explicit hydrogen, and a non-string, in the 2nd to 6th chunks.
    X[9], X[16], X[23], X[30], X[38] = "C1CC", "C(C)(C)(C)(C)C", "c1cccc1", "[H]C(", 7
    match = r"5 invalid SMILES at rows \[9, 16, 23, 30, 38\]"
    for include_chirality in (False, True):
        fp = MorganFingerprint(include_chirality=include_chirality)
        with pytest.raises(ValueError, match=match) as excinfo:
            if n_jobs == "threading":
                with parallel_config(backend="threading", n_jobs=2):
                    fp.transform(X)
            else:
                fp.set_params(n_jobs=n_jobs).transform(X)
        message = str(excinfo.value)
        for fragment in ("9: 'C1CC'", "23: 'c1cccc1'", "30: '[H]C('", "38: 7"):
            assert fragment in message


def test_fast_parser_gives_the_molecules_of_molfromsmiles():
    """Without chirality, SMILES are parsed without stereo perception."""
    Chem = pytest.importorskip("rdkit.Chem")
    parse = chem._smiles_parser(Chem, include_chirality=False)
    assert chem._smiles_parser(Chem, include_chirality=True) is Chem.MolFromSmiles
    for smiles in CHIRAL + SPECIAL + ["C1CC", "c1cccc1", "C(C)(C)(C)(C)C", "[H]C("]:
        reference, mol = Chem.MolFromSmiles(smiles), parse(smiles)
        assert (mol is None) == (reference is None), smiles
        if mol is not None:
            # Same graph and atoms (explicit hydrogens removed, [2H] kept) ...
            assert Chem.MolToSmiles(mol) == Chem.MolToSmiles(reference), smiles
            assert [a.GetTotalNumHs() for a in mol.GetAtoms()] == [
                a.GetTotalNumHs() for a in reference.GetAtoms()
            ], smiles
    # ... but no stereo perception: no CIP labels on the fast path.
    assert Chem.MolFromSmiles("C[C@H](N)O").GetAtomWithIdx(1).HasProp("_CIPCode")
    assert not parse("C[C@H](N)O").GetAtomWithIdx(1).HasProp("_CIPCode")


def test_invalid_smiles_error_truncates_after_20():
    pytest.importorskip("rdkit")
    X = ["C"] + [f"bad{i}(" for i in range(25)]
    with pytest.raises(ValueError) as excinfo:
        MorganFingerprint().transform(X)
    message = str(excinfo.value)
    assert message.startswith(f"25 invalid SMILES at rows {list(range(1, 21))}")
    assert "... and 5 more" in message
    assert "'bad19('" in message and "'bad20('" not in message


def test_empty_input():
    pytest.importorskip("rdkit")
    X = MorganFingerprint(n_bits=16).transform([])
    assert X.shape == (0, 16) and X.dtype == np.float32


@pytest.mark.parametrize(
    "params, match",
    [
        ({"radius": -1}, r"'radius' parameter .* range \[0, inf\)"),
        ({"n_bits": 0}, r"'n_bits' parameter .* range \[1, 16777216\]"),
        ({"radius": 1.5}, "'radius' parameter"),
        ({"use_counts": "yes"}, "'use_counts' parameter"),
    ],
)
def test_bad_parameters(params, match):
    fp = MorganFingerprint(**params)  # the constructor only stores them
    with pytest.raises(ValueError, match=match):
        fp.fit(["C"])
    with pytest.raises(ValueError, match=match):
        fp.transform(["C"])


def test_clone_get_params_pickle_round_trip():
    fp = MorganFingerprint(3, 1024, use_counts=True, include_chirality=True, n_jobs=2)
    params = fp.get_params()
    assert params == {
        "radius": 3,
        "n_bits": 1024,
        "use_counts": True,
        "include_chirality": True,
        "sparse": True,
        "n_jobs": 2,
    }
    assert clone(fp).get_params() == params
    assert pickle.loads(pickle.dumps(fp)).get_params() == params
    fp.set_params(radius=1)
    assert fp.radius == 1


def test_stateless_fit_and_tags():
    fp = MorganFingerprint()
    assert fp.fit(["C"]) is fp
    assert fp.__sklearn_is_fitted__()
    assert vars(fp) == vars(MorganFingerprint())  # fit stores nothing
    tags = fp.__sklearn_tags__()
    assert tags.input_tags.string is True
    assert tags.input_tags.two_d_array is False
    assert tags.requires_fit is False


@pytest.mark.parametrize("radius, prefix", [(2, "ecfp4"), (3, "ecfp6"), (0, "ecfp0")])
def test_feature_names(radius, prefix):
    names = MorganFingerprint(radius, n_bits=8).get_feature_names_out()
    assert names.dtype == object
    assert list(names) == [f"{prefix}_{i}" for i in range(8)]


def test_missing_rdkit_gives_install_hint(monkeypatch):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "rdkit" or name.startswith("rdkit."):
            raise ImportError("No module named 'rdkit'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=r"pip install sklearn-isd\[chem\]"):
        MorganFingerprint().transform(["C"])
    with pytest.raises(ImportError, match=r"pip install sklearn-isd\[chem\]"):
        atom_counts(["C"])


def test_pipeline_learns_qm9_gap_classes(qm9):
    pytest.importorskip("rdkit")
    X, y = qm9.data[:1000], qm9.target[:1000]
    model = make_pipeline(MorganFingerprint(), LogisticRegression(max_iter=1000))
    model.fit(X[:500], y[:500])
    accuracy = model.score(X[500:], y[500:])
    majority = max(np.mean(y[500:]), 1 - np.mean(y[500:]))
    assert accuracy > majority + 0.1, (accuracy, majority)


# ---------------------------------------------------------------------------
# Reference correction
# ---------------------------------------------------------------------------


def test_atom_counts_includes_implicit_hydrogens():
    pytest.importorskip("rdkit")
    counts, elements = atom_counts(["CCO", "O", "[H][H]", "[2H]C", "C(F)(F)F", "N"])
    assert elements == ["H", "C", "N", "O", "F"]
    expected = [
        [6, 2, 0, 1, 0],
        [2, 0, 0, 1, 0],
        [2, 0, 0, 0, 0],
        [4, 1, 0, 0, 0],
        [1, 1, 0, 0, 3],
        [3, 0, 1, 0, 0],
    ]
    np.testing.assert_array_equal(counts, expected)
    assert counts.dtype == np.int64


def test_atom_counts_with_given_elements():
    pytest.importorskip("rdkit")
    counts, elements = atom_counts(["CO"], elements=["O", "C", "H", "S"])
    assert elements == ["O", "C", "H", "S"]
    np.testing.assert_array_equal(counts, [[1, 1, 4, 0]])
    with pytest.raises(
        ValueError, match=r"\['N'\] occur in the molecules at rows \[1\]"
    ):
        atom_counts(["C", "CN"], elements=["C", "H"])
    with pytest.raises(ValueError, match=r"1 invalid SMILES at rows \[1\]"):
        atom_counts(["C", "C(("])


def test_reference_correction_recovers_atomic_energies(qm9):
    pytest.importorskip("rdkit")
    # Paper, Appendix C, Table 2 (eV).
    true = {
        "H": -26.765,
        "C": -1054.411,
        "N": -1483.001,
        "O": -2034.056,
        "F": -2687.455,
    }
    smiles = qm9.data[:3000]
    counts, elements = atom_counts(smiles, elements=list(true))
    rng = np.random.default_rng(0)
    residual = rng.normal(scale=0.05, size=len(smiles))
    energies = counts @ np.array([true[e] for e in elements]) + residual

    fitted = fit_atomic_reference(smiles, energies)
    assert set(fitted) == set(true)
    for element, energy in true.items():
        assert fitted[element] == pytest.approx(energy, abs=0.02), element

    corrected = reference_correct(smiles, energies, fitted)
    assert np.abs(corrected - residual).max() < 0.05
    assert abs(corrected.mean()) < 0.01
    # With the exact table, only the noise remains.
    np.testing.assert_allclose(reference_correct(smiles, energies, true), residual)


def test_fit_atomic_reference_sample(qm9):
    pytest.importorskip("rdkit")
    smiles = qm9.data[:600]
    true = {"H": -0.5, "C": -37.8, "N": -54.6, "O": -75.0, "F": -99.7}
    counts, elements = atom_counts(smiles, elements=list(true))
    energies = counts @ np.array([true[e] for e in elements])

    fitted, indices = fit_atomic_reference(
        smiles, energies, sample_size=300, random_state=0, return_indices=True
    )
    assert len(indices) == 300 and len(np.unique(indices)) == 300
    assert np.all(np.diff(indices) > 0)
    again, indices_again = fit_atomic_reference(
        smiles, energies, sample_size=300, random_state=0, return_indices=True
    )
    np.testing.assert_array_equal(indices, indices_again)
    for element in fitted:
        assert fitted[element] == pytest.approx(true[element], abs=1e-6)
    with pytest.raises(ValueError, match=r"sample_size must be an int in \[1, 600\]"):
        fit_atomic_reference(smiles, energies, sample_size=601)
    with pytest.raises(ValueError, match="one value per SMILES"):
        fit_atomic_reference(smiles, energies[:-1])


def test_fit_atomic_reference_exact_small_system():
    pytest.importorskip("rdkit")
    # H2, CH4 and H2O determine H, C and O exactly: no intercept in the model.
    smiles = ["[H][H]", "C", "O"]
    energies = [-1.0, -39.8, -76.0]
    fitted = fit_atomic_reference(smiles, energies)
    assert list(fitted) == ["H", "C", "O"]
    np.testing.assert_allclose(
        [fitted["H"], fitted["C"], fitted["O"]], [-0.5, -37.8, -75.0], atol=1e-9
    )
    np.testing.assert_allclose(
        reference_correct(smiles, energies, fitted), 0.0, atol=1e-9
    )


def test_reference_correct_unknown_element():
    pytest.importorskip("rdkit")
    with pytest.raises(ValueError, match=r"\['S'\] occur"):
        reference_correct(["CS"], [-1.0], {"C": -37.8, "H": -0.5})


def test_scaffold_annotations_match_a_direct_rdkit_computation(smiles50):
    pytest.importorskip("rdkit")
    from rdkit import Chem, DataStructs
    from rdkit.Chem import rdFingerprintGenerator
    from rdkit.Chem.Scaffolds import MurckoScaffold

    measured = np.zeros(len(smiles50), dtype=bool)
    measured[::7] = True
    scaffolds, similarity = scaffold_annotations(smiles50, measured)
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    fps = [gen.GetFingerprint(Chem.MolFromSmiles(s)) for s in smiles50]
    for i, smi in enumerate(smiles50):
        core = MurckoScaffold.GetScaffoldForMol(Chem.MolFromSmiles(smi))
        try:
            core = MurckoScaffold.MakeScaffoldGeneric(core)
        except Exception:  # noqa: BLE001 - as the function does
            pass
        assert scaffolds[i] == (Chem.MolToSmiles(core) if core.GetNumAtoms() else "")
        nearest = max(
            DataStructs.TanimotoSimilarity(fps[i], fps[j])
            for j in np.flatnonzero(measured)
        )
        assert similarity[i] == pytest.approx(nearest)
    assert (similarity[measured] == 1.0).all()
    assert "" in scaffolds and any(scaffolds)  # acyclic and ring molecules


def test_scaffold_annotations_refuse_bad_input_and_handle_nothing_measured():
    pytest.importorskip("rdkit")
    with pytest.raises(ValueError, match=r"invalid SMILES at rows \[1\]"):
        scaffold_annotations(["CCO", "C1CC", "c1ccccc1"], [True, False, False])
    with pytest.raises(ValueError, match="one entry per compound"):
        scaffold_annotations(["CCO", "CC"], [True])
    scaffolds, similarity = scaffold_annotations(["c1ccccc1", "CC"], [False, False])
    assert scaffolds == ["C1CCCCC1", ""] and np.isnan(similarity).all()


def test_scaffold_summary_counts_members_measured_and_confidence():
    scaffolds = ["A", "B", "A", "", "A", "B"]
    measured = [True, False, False, False, False, True]
    confidence = [np.nan, 0.9, 0.6, 0.7, 0.8, np.nan]
    summary = scaffold_summary(scaffolds, measured, confidence)
    assert summary["scaffold"].tolist() == ["A", "B", ""]  # largest first
    assert summary["n_members"].tolist() == [3, 2, 1]
    assert summary["n_measured"].tolist() == [1, 1, 0]
    np.testing.assert_allclose(summary["fraction_measured"], [1 / 3, 0.5, 0.0])
    np.testing.assert_allclose(summary["mean_confidence_predicted"], [0.7, 0.9, 0.7])
    lengths = {len(v) for v in summary.values()}
    assert lengths == {3}
    no_confidence = scaffold_summary(scaffolds, measured)
    assert np.isnan(no_confidence["mean_confidence_predicted"]).all()


@pytest.mark.parametrize("use_counts", [False, True])
@pytest.mark.parametrize("include_chirality", [False, True])
def test_dense_and_sparse_output_match_rdkit_bit_for_bit(
    smiles50, use_counts, include_chirality
):
    pytest.importorskip("rdkit")
    smiles = smiles50 + CHIRAL
    expected = _rdkit_reference(smiles, 2, 1024, use_counts, include_chirality)
    params = dict(use_counts=use_counts, include_chirality=include_chirality)
    sparse = MorganFingerprint(2, 1024, **params).transform(smiles)
    dense = MorganFingerprint(2, 1024, sparse=False, **params).transform(smiles)
    assert sp.issparse(sparse) and sparse.format == "csr"
    assert isinstance(dense, np.ndarray) and not sp.issparse(dense)
    assert dense.dtype == sparse.dtype == np.float32
    assert dense.shape == sparse.shape == (len(smiles), 1024)
    np.testing.assert_array_equal(dense, expected.astype(np.float32))
    np.testing.assert_array_equal(sparse.toarray(), expected.astype(np.float32))
    assert sparse.nnz == np.count_nonzero(dense)


def test_set_output_pandas_names_columns_by_bit(smiles50):
    pytest.importorskip("rdkit")
    pd = pytest.importorskip("pandas")
    fp = MorganFingerprint(3, 256, sparse=False).set_output(transform="pandas")
    frame = fp.fit_transform(pd.Series(smiles50[:7], index=np.arange(10, 17)))
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == [f"ecfp6_{i}" for i in range(256)]
    assert list(frame.columns) == list(fp.get_feature_names_out())
    np.testing.assert_array_equal(frame.index, np.arange(10, 17))
    np.testing.assert_array_equal(
        frame.to_numpy(), _rdkit_reference(smiles50[:7], 3, 256, False)
    )
    # In a pipeline, the next step sees the named columns.
    from sklearn.preprocessing import FunctionTransformer

    pipe = make_pipeline(fp, FunctionTransformer()).set_output(transform="pandas")
    assert list(pipe.fit_transform(smiles50[:3]).columns)[:2] == ["ecfp6_0", "ecfp6_1"]
    # The default output is back with set_output(transform="default").
    assert isinstance(fp.set_output(transform="default").transform(["C"]), np.ndarray)


def test_sparse_output_has_no_dataframe_form():
    pytest.importorskip("pandas")
    fp = MorganFingerprint(n_bits=16).set_output(transform="pandas")
    with pytest.raises(ValueError, match="pass sparse=False"):
        fp.transform(["CCO"])
    with pytest.raises(ValueError, match="sparse"):
        MorganFingerprint(sparse="yes").transform(["CCO"])


def test_dense_output_of_invalid_smiles_names_the_rows():
    pytest.importorskip("rdkit")
    with pytest.raises(ValueError, match=r"rows \[1, 2\]"):
        MorganFingerprint(sparse=False).transform(["CCO", "C1CC", ""])
