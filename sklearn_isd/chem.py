"""Chemistry helpers: SMILES fingerprints and energy reference correction.

Everything here needs RDKit (``pip install sklearn-isd[chem]``), but RDKit is
only imported when a function runs, so ``import sklearn_isd.chem`` works
without it.

- :class:`MorganFingerprint` turns SMILES into sparse ECFP bit (or count)
  vectors, so that ``make_pipeline(MorganFingerprint(), LogisticRegression())``
  works on a list of SMILES.
- :func:`scaffold_annotations` and :func:`scaffold_summary` describe a
  readout by chemotype: the generic Murcko scaffold of each compound, its
  similarity to the nearest measured compound, and per scaffold how much
  was measured;
- :func:`atom_counts`, :func:`fit_atomic_reference` and
  :func:`reference_correct` implement the reference correction of total
  energies of Appendix C of the paper: per-element atomic energies are fitted
  by a linear model on the atom counts and subtracted from the total energies.
"""

import re
from numbers import Integral

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import LinearRegression
from sklearn.utils import check_random_state

from .utils._compat import Interval, _fit_context, _get_output_config

__all__ = [
    "MorganFingerprint",
    "atom_counts",
    "fit_atomic_reference",
    "reference_correct",
    "scaffold_annotations",
    "scaffold_summary",
]

_MAX_REPORTED = 20


def _import_rdkit():
    """Import the RDKit modules used here, with an install hint on failure."""
    try:
        from rdkit import Chem, rdBase
        from rdkit.Chem import rdFingerprintGenerator
    except ImportError as exc:
        raise ImportError(
            "RDKit is required for sklearn_isd.chem; install it with "
            "`pip install sklearn-isd[chem]` (or `pip install rdkit`)."
        ) from exc
    return Chem, rdBase, rdFingerprintGenerator


def _as_smiles_array(X):
    """Return the SMILES of ``X`` as a 1-d object array.

    Accepts a 1-d sequence (list, tuple, numpy array, pandas Series) or a 2-d
    array-like / DataFrame with exactly one column.
    """
    if isinstance(X, (str, bytes)):
        raise ValueError(
            "Expected a sequence of SMILES, got a single string; wrap it in a "
            f"list: [{X!r}]."
        )
    if sp.issparse(X):
        raise TypeError("Expected SMILES strings, got a sparse matrix.")
    arr = np.asarray(X, dtype=object)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    elif arr.ndim != 1:
        raise ValueError(
            "Expected a 1-d sequence of SMILES or a 2-d input with exactly one "
            f"column, got an input of shape {arr.shape}."
        )
    return arr


def _is_blank(value):
    return not isinstance(value, str) or not value.strip()


def _invalid_smiles_error(rows, values):
    """Build the single ValueError reporting every invalid entry."""
    n_bad = len(rows)
    shown = ", ".join(
        f"{row}: {value!r}"
        for row, value in zip(rows[:_MAX_REPORTED], values[:_MAX_REPORTED])
    )
    more = f" ... and {n_bad - _MAX_REPORTED} more" if n_bad > _MAX_REPORTED else ""
    return ValueError(
        f"{n_bad} invalid SMILES at rows {list(rows[:_MAX_REPORTED])}{more} "
        "(unparsable, empty, missing or not a string): "
        f"{shown}."
    )


def _parse_valid_smiles(smiles, Chem, rdBase):
    """Parse SMILES into molecules, RDKit's logs silenced; raise on any invalid."""
    block = rdBase.BlockLogs()
    try:
        mols = [None if _is_blank(s) else Chem.MolFromSmiles(s) for s in smiles]
    finally:
        del block
    invalid = [i for i, mol in enumerate(mols) if mol is None]
    if invalid:
        raise _invalid_smiles_error(invalid, [smiles[i] for i in invalid])
    return mols


#: Rows per chunk of work: ``transform`` splits its input into chunks of about
#: this many SMILES (at least one per job, and a multiple of the number of
#: jobs), so that memory stays bounded and the jobs finish together.
_CHUNK_SIZE = 10_000

# SMILES that the fast parser of ``_smiles_parser`` leaves to MolFromSmiles:
# a bracket atom that is a hydrogen ([H], [2H], [H+], ...; not He, Hf, Hg, Ho,
# Hs), whose removal changes the graph, or whitespace (CXSMILES, a name).
_NEEDS_FULL_PARSE = re.compile(r"\[\d*H(?![efgos])|\s").search


def _smiles_parser(Chem, include_chirality):
    """Return a function mapping a SMILES to an RDKit molecule, or ``None``.

    With ``include_chirality``, that is ``Chem.MolFromSmiles``. Without it,
    molecules are parsed with ``sanitize=False`` and sanitized with
    ``Chem.SanitizeMol`` (all the default operations): the same molecule as
    ``MolFromSmiles`` gives but for its last step, the perception of
    stereocentres (``AssignStereochemistry`` with
    ``flagPossibleStereoCenters``, a quarter of the parse time of drug-like
    SMILES), which only sets chirality and double-bond stereo flags; Morgan
    fingerprints without chirality do not read them. SMILES with explicit
    hydrogen atoms or whitespace (``MolFromSmiles`` removes the hydrogens and
    reads CXSMILES extensions) still go through ``MolFromSmiles``. The same
    SMILES are rejected either way: parse and sanitization failures give
    ``None``.
    """
    full = Chem.MolFromSmiles
    if include_chirality:
        return full
    params = Chem.SmilesParserParams()
    params.sanitize = False
    params.removeHs = False
    sanitize = Chem.SanitizeMol
    sanitized = Chem.SanitizeFlags.SANITIZE_NONE

    def parse(smiles):
        if _NEEDS_FULL_PARSE(smiles):
            return full(smiles)
        mol = full(smiles, params)
        if mol is None:
            return None
        try:
            failed = sanitize(mol, catchErrors=True)
        except Exception:  # what MolFromSmiles turns into None
            return None
        return mol if failed == sanitized else None

    return parse


def _fingerprint_chunk(smiles, radius, n_bits, use_counts, include_chirality):
    """Fingerprint one contiguous chunk of SMILES (runs in a joblib worker).

    The RDKit generator is built here rather than stored on the transformer,
    so that the transformer itself stays picklable and cheap to ship.

    Bits and counts both come from ``GetCountFingerprint``: RDKit's
    ``GetFingerprint`` sets a bit for each nonzero folded count of the same
    computation, and the dict of nonzero counts is cheaper to read from
    Python than the list of on bits.

    Returns
    -------
    indptr : ndarray of int64
        The CSR row pointer of the chunk.
    indices : ndarray of uint16 or int32
        Column indices, sorted within each row (uint16 when ``n_bits`` allows,
        to halve what goes back from a worker).
    counts : ndarray of uint32 or None
        The counts when ``use_counts``, else ``None`` (all ones).
    invalid : list of int
        Positions, within the chunk, of entries that could not be parsed.
    """
    Chem, rdBase, rdFingerprintGenerator = _import_rdkit()
    generator = rdFingerprintGenerator.GetMorganGenerator(
        radius=radius, fpSize=n_bits, includeChirality=include_chirality
    )
    parse = _smiles_parser(Chem, include_chirality)
    count_fingerprint = generator.GetCountFingerprint
    lengths, indices, counts, invalid = [], [], [], []
    block = rdBase.BlockLogs()  # silences RDKit's parse errors while alive
    try:
        for i, value in enumerate(smiles):
            mol = None if _is_blank(value) else parse(value)
            if mol is None:
                invalid.append(i)
                lengths.append(0)
                continue
            nonzero = count_fingerprint(mol).GetNonzeroElements()
            indices.extend(nonzero)
            if use_counts:
                counts.extend(nonzero.values())
            lengths.append(len(nonzero))
    finally:
        del block
    indptr = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    indices = np.asarray(indices, dtype=np.int32)
    counts = np.asarray(counts, dtype=np.uint32) if use_counts else None
    # RDKit returns the counts as a dict in increasing bit order; make sure.
    chunk = sp.csr_matrix(
        (counts if use_counts else np.ones(len(indices), np.uint8), indices, indptr),
        shape=(len(lengths), n_bits),
    )
    if not chunk.has_sorted_indices:
        chunk.sort_indices()
        indices = chunk.indices.astype(np.int32, copy=False)
        if use_counts:
            counts = chunk.data
    if n_bits <= 2**16:
        indices = indices.astype(np.uint16)
    return indptr, indices, counts, invalid


def _chunk_bounds(n_samples, n_jobs):
    """Boundaries of the chunks: about ``_CHUNK_SIZE`` rows, a multiple of
    ``n_jobs`` chunks (so that the jobs get equal shares), at most one per row.
    """
    per_round = max(1, n_jobs) * _CHUNK_SIZE
    n_chunks = max(1, n_jobs) * max(1, -(-n_samples // per_round))
    n_chunks = max(1, min(n_samples, n_chunks))
    return np.linspace(0, n_samples, n_chunks + 1).astype(np.int64)


#: Largest fingerprint length accepted.
MAX_N_BITS = 2**24


class MorganFingerprint(TransformerMixin, BaseEstimator):
    """Morgan (ECFP) fingerprints of SMILES strings, sparse or dense.

    A stateless transformer: ``fit`` only validates the parameters, and
    ``transform`` maps each SMILES to the folded Morgan fingerprint computed
    by RDKit's ``rdFingerprintGenerator.GetMorganGenerator``. The defaults
    give ECFP4 with 2,048 bits, the usual length. The paper does not say how
    many bits its QM9 features have; its public code computes them with
    molfeat's ``ecfp`` defaults, radius 2 and 2,000 bits, which
    ``MorganFingerprint(radius=2, n_bits=2000)`` reproduces bit for bit.

    Parameters
    ----------
    radius : int, default=2
        Radius of the circular environments (``radius=2`` is ECFP4: the
        diameter is ``2 * radius``).

    n_bits : int, default=2048
        Length of the folded fingerprint (number of output columns), at most
        ``MAX_N_BITS`` (2**24).

    use_counts : bool, default=False
        If True, output how many times each (folded) environment occurs
        (RDKit's ``GetCountFingerprint``) instead of 0/1 bits.

    include_chirality : bool, default=False
        If True, include chirality in the atom invariants.

    sparse : bool, default=True
        If True, ``transform`` returns a :class:`scipy.sparse.csr_matrix`
        (a fingerprint sets a few dozen of its bits: a large library fits in
        memory); if False, a dense :class:`numpy.ndarray`, which models
        without sparse support need and which ``set_output(transform=
        "pandas")`` turns into a DataFrame whose columns are
        :meth:`get_feature_names_out`.

    n_jobs : int, default=None
        Number of parallel jobs. The input is split into contiguous chunks
        of about 10,000 SMILES (at least one per job), fingerprinted with
        :class:`joblib.Parallel` when there is more than one job.
        ``None`` means 1 unless in a :func:`joblib.parallel_config` context;
        ``-1`` means all processors. No process pool is owned by the
        transformer, so a Dask or Ray joblib backend can run the work.

    See Also
    --------
    sklearn_isd.datasets.load_qm9 : QM9 SMILES with HOMO-LUMO gap labels.

    Notes
    -----
    The input is text (SMILES), not a numeric 2-d array, so the transformer
    declares ``input_tags.string = True`` and ``input_tags.two_d_array =
    False``. For the same reason it cannot go through
    :func:`sklearn.utils.estimator_checks.check_estimator`, whose checks feed
    random numeric matrices; its own tests compare its output bit for bit
    with RDKit instead.

    Invalid entries (unparsable SMILES, ``None``, NaN, empty strings and
    non-strings) raise one :class:`ValueError` that lists their row
    positions and values. RDKit's own parse messages are silenced.

    The transformer supports :meth:`set_output` (pandas or polars output)
    with ``sparse=False``: a sparse matrix has no DataFrame form, so
    ``sparse=True`` with such an output raises a :class:`ValueError` that
    says to pass ``sparse=False``.

    Examples
    --------
    >>> from sklearn_isd.chem import MorganFingerprint
    >>> fp = MorganFingerprint(radius=2, n_bits=1024)
    >>> X = fp.fit_transform(["CCO", "c1ccccc1", "CC(=O)O"])
    >>> X.shape
    (3, 1024)
    >>> X.dtype
    dtype('float32')
    >>> fp.get_feature_names_out()[:2]
    array(['ecfp4_0', 'ecfp4_1'], dtype=object)
    >>> dense = MorganFingerprint(n_bits=1024, sparse=False).set_output(
    ...     transform="pandas")
    >>> frame = dense.fit_transform(["CCO", "c1ccccc1"])
    >>> frame.shape, frame.columns[:2].tolist()
    ((2, 1024), ['ecfp4_0', 'ecfp4_1'])
    """

    _parameter_constraints = {
        "radius": [Interval(Integral, 0, None, closed="left")],
        "n_bits": [Interval(Integral, 1, MAX_N_BITS, closed="both")],
        "use_counts": ["boolean"],
        "include_chirality": ["boolean"],
        "sparse": ["boolean"],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        radius=2,
        n_bits=2048,
        *,
        use_counts=False,
        include_chirality=False,
        sparse=True,
        n_jobs=None,
    ):
        self.radius = radius
        self.n_bits = n_bits
        self.use_counts = use_counts
        self.include_chirality = include_chirality
        self.sparse = sparse
        self.n_jobs = n_jobs

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X=None, y=None):
        """Validate the parameters; nothing is learned.

        Parameters
        ----------
        X : ignored
            Not used, present for API consistency.

        y : ignored
            Not used, present for API consistency.

        Returns
        -------
        self : MorganFingerprint
            The transformer itself.
        """
        return self

    def __sklearn_is_fitted__(self):
        # Stateless: ready to transform without being fitted.
        return True

    def transform(self, X):
        """Compute the fingerprints of SMILES strings.

        Parameters
        ----------
        X : sequence of str of length n_samples, or array-like of shape \
                (n_samples, 1)
            SMILES strings: a list, tuple, 1-d numpy array or pandas Series,
            or a 2-d array / DataFrame with exactly one column.

        Returns
        -------
        X_fp : scipy.sparse.csr_matrix or ndarray of shape (n_samples, n_bits)
            float32 fingerprints: 0/1 bits, or counts if ``use_counts``;
            a CSR matrix if ``sparse``, else a dense array (a DataFrame
            under ``set_output(transform="pandas")``).

        Raises
        ------
        ValueError
            If some entries are not valid SMILES; the message names their
            rows and values (the first 20). Also if ``sparse=True`` while
            :meth:`set_output` asks for a DataFrame.
        """
        self._validate_params()
        if self.sparse and _get_output_config("transform", self)["dense"] != "default":
            raise ValueError(
                "MorganFingerprint(sparse=True) returns a sparse matrix, which has "
                "no DataFrame form: pass sparse=False to use "
                "set_output(transform='pandas') (or 'polars')."
            )
        smiles = _as_smiles_array(X)
        n_samples = len(smiles)
        n_bits = int(self.n_bits)
        n_jobs = effective_n_jobs(self.n_jobs)
        bounds = _chunk_bounds(n_samples, n_jobs)
        params = (
            int(self.radius),
            n_bits,
            bool(self.use_counts),
            bool(self.include_chirality),
        )
        chunks = zip(bounds[:-1], bounds[1:])
        if n_jobs == 1 or len(bounds) == 2:
            results = [
                _fingerprint_chunk(smiles[start:stop], *params)
                for start, stop in chunks
            ]
        else:
            results = Parallel(n_jobs=self.n_jobs)(
                delayed(_fingerprint_chunk)(smiles[start:stop], *params)
                for start, stop in chunks
            )
        invalid = [
            int(start + i)
            for start, (*_, bad) in zip(bounds[:-1], results)
            for i in bad
        ]
        if invalid:
            raise _invalid_smiles_error(invalid, [smiles[i] for i in invalid])
        offsets = np.cumsum([0] + [len(r[1]) for r in results])
        indptr = np.concatenate(
            [np.zeros(1, dtype=np.int64)]
            + [r[0][1:] + off for r, off in zip(results, offsets[:-1])]
        )
        indices = np.empty(offsets[-1], dtype=np.int32)
        data = np.empty(offsets[-1], dtype=np.float32)
        for (_, chunk_indices, counts, _), start, stop in zip(
            results, offsets[:-1], offsets[1:]
        ):
            indices[start:stop] = chunk_indices
            data[start:stop] = 1 if counts is None else counts
        X_fp = sp.csr_matrix((data, indices, indptr), shape=(n_samples, n_bits))
        return X_fp if self.sparse else X_fp.toarray()

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns: ``ecfp{2*radius}_{bit}``.

        Parameters
        ----------
        input_features : ignored
            Not used, present for API consistency.

        Returns
        -------
        feature_names_out : ndarray of str objects of shape (n_bits,)
            ``["ecfp4_0", "ecfp4_1", ...]`` for the default radius 2.
        """
        self._validate_params()
        prefix = f"ecfp{2 * self.radius}"
        return np.asarray([f"{prefix}_{i}" for i in range(self.n_bits)], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        tags.requires_fit = False
        tags.transformer_tags.preserves_dtype = []
        return tags


# ---------------------------------------------------------------------------
# Reference correction of total energies (paper, Appendix C)
# ---------------------------------------------------------------------------


def atom_counts(smiles, elements=None):
    """Count the atoms of each element in molecules, hydrogens included.

    Implicit and explicit hydrogens are both counted (the molecule is
    hydrogen-completed with RDKit's ``AddHs`` before counting).

    Parameters
    ----------
    smiles : sequence of str of length n_samples
        SMILES strings (1-d, or 2-d with one column, as in
        :class:`MorganFingerprint`).

    elements : sequence of str, default=None
        Element symbols giving the columns, in this order. ``None`` uses the
        elements present, sorted by atomic number. A molecule with an element
        that is not listed raises a :class:`ValueError`.

    Returns
    -------
    counts : ndarray of shape (n_samples, n_elements), dtype int64
        ``counts[i, j]`` is the number of atoms of ``elements[j]`` in
        molecule ``i``.

    elements : list of str
        The element symbols of the columns.

    Examples
    --------
    >>> from sklearn_isd.chem import atom_counts
    >>> counts, elements = atom_counts(["CCO", "O"])
    >>> elements
    ['H', 'C', 'O']
    >>> counts
    array([[6, 2, 1],
           [2, 0, 1]])
    """
    Chem, rdBase, _ = _import_rdkit()
    smiles = _as_smiles_array(smiles)
    mols = _parse_valid_smiles(smiles, Chem, rdBase)

    per_molecule = []
    atomic_numbers = {}
    for mol in mols:
        mol_counts = {}
        for atom in Chem.AddHs(mol).GetAtoms():
            symbol = atom.GetSymbol()
            mol_counts[symbol] = mol_counts.get(symbol, 0) + 1
            atomic_numbers[symbol] = atom.GetAtomicNum()
        per_molecule.append(mol_counts)

    if elements is None:
        elements = sorted(atomic_numbers, key=atomic_numbers.__getitem__)
    else:
        elements = [str(e) for e in elements]
        unknown = sorted(set(atomic_numbers) - set(elements))
        if unknown:
            rows = [i for i, c in enumerate(per_molecule) if set(c) & set(unknown)]
            raise ValueError(
                f"Elements {unknown} occur in the molecules at rows "
                f"{rows[:_MAX_REPORTED]} but are not in elements={elements}."
            )
    column = {symbol: j for j, symbol in enumerate(elements)}
    counts = np.zeros((len(mols), len(elements)), dtype=np.int64)
    for i, mol_counts in enumerate(per_molecule):
        for symbol, count in mol_counts.items():
            counts[i, column[symbol]] = count
    return counts, list(elements)


def fit_atomic_reference(
    smiles, energies, *, sample_size=None, random_state=None, return_indices=False
):
    """Fit per-element atomic energies to total energies (paper, Appendix C).

    Total energies are modelled as a sum of atomic contributions,
    ``E_i ≈ sum_j counts[i, j] * e_j``, fitted by least squares
    (:class:`~sklearn.linear_model.LinearRegression` without intercept) on the
    atom counts of :func:`atom_counts`. Subtracting these contributions with
    :func:`reference_correct` leaves small, roughly centred energies that are
    easier to learn. The paper fits on a random sample of 100,000 molecules
    and then drops that sample from the data set to avoid leakage
    (``return_indices=True`` gives the sample).

    Parameters
    ----------
    smiles : sequence of str of length n_samples
        SMILES strings.

    energies : array-like of shape (n_samples,)
        Total energies, in any unit (the atomic energies come out in it).

    sample_size : int, default=None
        Fit on a random sample of this many molecules (drawn without
        replacement). ``None`` fits on all of them.

    random_state : int, RandomState instance or None, default=None
        Seeds the sample drawn when ``sample_size`` is given.

    return_indices : bool, default=False
        If True, also return the positions of the molecules used for the fit.

    Returns
    -------
    atomic_energies : dict of str to float
        Energy of each element present in the fitted molecules, e.g.
        ``{"H": -0.5, "C": -37.8, ...}``.

    indices : ndarray of int of shape (n_fit,)
        Sorted positions of the molecules used for the fit; only returned if
        ``return_indices`` is True.

    Examples
    --------
    >>> from sklearn_isd.chem import fit_atomic_reference, reference_correct
    >>> smiles = ["C", "CC", "O", "CO", "OO"]
    >>> energies = [-40.5, -79.8, -76.4, -115.7, -151.5]
    >>> atomic = fit_atomic_reference(smiles, energies)
    >>> sorted(atomic)
    ['C', 'H', 'O']
    >>> residual = reference_correct(smiles, energies, atomic)
    >>> residual.shape
    (5,)
    """
    smiles, energies = _smiles_and_energies(smiles, energies)
    n_samples = len(smiles)
    if sample_size is None:
        indices = np.arange(n_samples)
    else:
        if not isinstance(sample_size, Integral) or not 1 <= sample_size <= n_samples:
            raise ValueError(
                f"sample_size must be an int in [1, {n_samples}] (the number "
                f"of molecules) or None, got {sample_size!r}."
            )
        rng = check_random_state(random_state)
        indices = np.sort(rng.choice(n_samples, size=sample_size, replace=False))
    counts, elements = atom_counts(smiles[indices])
    model = LinearRegression(fit_intercept=False).fit(counts, energies[indices])
    atomic_energies = {e: float(c) for e, c in zip(elements, model.coef_)}
    if return_indices:
        return atomic_energies, indices
    return atomic_energies


def _smiles_and_energies(smiles, energies):
    """SMILES as an array and energies as floats, one energy per SMILES."""
    smiles = _as_smiles_array(smiles)
    energies = np.asarray(energies, dtype=np.float64)
    if energies.ndim != 1 or len(energies) != len(smiles):
        raise ValueError(
            f"energies must be 1-d with one value per SMILES ({len(smiles)}), "
            f"got shape {energies.shape}."
        )
    return smiles, energies


def reference_correct(smiles, energies, atomic_energies):
    """Subtract per-element atomic energies from total energies.

    Parameters
    ----------
    smiles : sequence of str of length n_samples
        SMILES strings.

    energies : array-like of shape (n_samples,)
        Total energies, in the unit of ``atomic_energies``.

    atomic_energies : mapping of str to float
        Energy per element symbol, e.g. from :func:`fit_atomic_reference` or a
        published table. Every element of the molecules must be present.

    Returns
    -------
    corrected : ndarray of shape (n_samples,)
        ``energies - counts @ atomic_energies``.

    Examples
    --------
    >>> from sklearn_isd.chem import reference_correct
    >>> reference_correct(["O"], [-76.5], {"H": -0.5, "O": -75.0})
    array([-0.5])
    """
    smiles, energies = _smiles_and_energies(smiles, energies)
    elements = list(atomic_energies)
    counts, elements = atom_counts(smiles, elements=elements)
    reference = np.array([atomic_energies[e] for e in elements], dtype=np.float64)
    return energies - counts @ reference


def scaffold_annotations(smiles, measured, *, radius=2, n_bits=2048):
    """Generic Murcko scaffolds and similarity to the nearest measured compound.

    Two annotations of a hybrid readout that tell a chemist how far to trust
    a prediction: the chemotype (generic Murcko scaffold: ring systems and
    linkers, every atom a carbon and every bond single) and the Tanimoto
    similarity, on ECFP bit vectors, to the most similar measured compound
    (an applicability-domain measure: a prediction far from everything
    measured is an extrapolation).

    Parameters
    ----------
    smiles : sequence of str of length n_samples
        SMILES strings (1-d, or 2-d with one column, as in
        :class:`MorganFingerprint`).
    measured : array-like of bool of shape (n_samples,)
        True for the measured compounds (e.g. ``screen.observed_mask_``).
    radius : int, default=2
        Radius of the Morgan fingerprints (2 is ECFP4).
    n_bits : int, default=2048
        Length of the bit vectors.

    Returns
    -------
    scaffolds : list of str
        Generic Murcko scaffold SMILES of each compound; ``""`` for an
        acyclic one.
    max_similarity : ndarray of shape (n_samples,)
        Tanimoto similarity of each compound to its nearest measured
        compound, computed with RDKit's ``BulkTanimotoSimilarity``; 1 for a
        measured compound (its nearest is itself); NaN for every compound
        when none is measured.

    Raises
    ------
    ValueError
        If a SMILES is invalid (every offending row is named) or
        ``measured`` does not have one entry per compound.

    Examples
    --------
    >>> from sklearn_isd.chem import scaffold_annotations
    >>> scaffolds, similarity = scaffold_annotations(
    ...     ["c1ccccc1O", "c1ccccc1N", "CCO"], [True, False, False]
    ... )
    >>> scaffolds
    ['C1CCCCC1', 'C1CCCCC1', '']
    >>> similarity.round(2)
    array([1.  , 0.38, 0.06])
    """
    Chem, rdBase, rdFingerprintGenerator = _import_rdkit()
    from rdkit import DataStructs
    from rdkit.Chem.Scaffolds import MurckoScaffold

    smiles = _as_smiles_array(smiles)
    measured = np.asarray(measured, dtype=bool)
    if measured.shape != smiles.shape:
        raise ValueError(
            f"measured has shape {measured.shape}; one entry per compound "
            f"({smiles.shape[0]}) is needed."
        )
    mols = _parse_valid_smiles(smiles, Chem, rdBase)
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)
    scaffolds = [_generic_scaffold(mol, Chem, MurckoScaffold) for mol in mols]
    fps = [generator.GetFingerprint(mol) for mol in mols]
    reference = [fps[i] for i in np.flatnonzero(measured)]
    if not reference:
        return scaffolds, np.full(len(fps), np.nan)
    similarity = np.array(
        [max(DataStructs.BulkTanimotoSimilarity(fp, reference)) for fp in fps]
    )
    return scaffolds, similarity


def _generic_scaffold(mol, Chem, MurckoScaffold):
    """SMILES of the generic Murcko scaffold of a molecule ("" if acyclic)."""
    core = MurckoScaffold.GetScaffoldForMol(mol)
    try:
        core = MurckoScaffold.MakeScaffoldGeneric(core)
    except Exception:  # noqa: BLE001 - RDKit refuses some cores: keep the plain one
        pass
    return Chem.MolToSmiles(core) if core.GetNumAtoms() else ""


def scaffold_summary(scaffolds, measured, confidence=None):
    """Per scaffold: how many compounds, how many measured, how confident.

    Parameters
    ----------
    scaffolds : sequence of str of length n_samples
        The scaffold of each compound (from :func:`scaffold_annotations`).
    measured : array-like of bool of shape (n_samples,)
        True for the measured compounds.
    confidence : array-like of shape (n_samples,), default=None
        The model's confidence in each prediction (e.g. its maximum
        predicted probability); NaN where there is none.

    Returns
    -------
    summary : dict of ndarray
        One entry per scaffold, the largest first (ties by scaffold), as
        equal-length arrays (``pandas.DataFrame(summary)`` works):
        ``scaffold``, ``n_members``, ``n_measured``, ``fraction_measured``
        and ``mean_confidence_predicted`` (mean confidence over the predicted
        members; NaN when they have none, or without ``confidence``).

    Examples
    --------
    >>> from sklearn_isd.chem import scaffold_summary
    >>> summary = scaffold_summary(["C1CCCCC1", "", "C1CCCCC1"], [True, False, False])
    >>> summary["scaffold"].tolist(), summary["n_measured"].tolist()
    (['C1CCCCC1', ''], [1, 0])
    """
    scaffolds = np.asarray(scaffolds, dtype=object)
    measured = np.asarray(measured, dtype=bool)
    if confidence is None:
        confidence = np.full(scaffolds.shape, np.nan)
    confidence = np.asarray(confidence, dtype=float)
    names, codes, sizes = np.unique(
        scaffolds.astype(str), return_inverse=True, return_counts=True
    )
    order = np.lexsort((names, -sizes))
    n_measured = np.bincount(codes, weights=measured, minlength=names.size)
    predicted = ~measured & ~np.isnan(confidence)
    total = np.bincount(codes[predicted], confidence[predicted], names.size)
    count = np.bincount(codes[predicted], minlength=names.size)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return {
        "scaffold": names[order].astype(object),
        "n_members": sizes[order],
        "n_measured": n_measured[order].astype(np.int64),
        "fraction_measured": (n_measured / sizes)[order],
        "mean_confidence_predicted": mean[order],
    }
