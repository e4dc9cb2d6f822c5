"""QM9 molecules x several properties: a stand-in for a compound x gene matrix."""

import numpy as np
from sklearn.utils import Bunch

from ._frames import import_pandas
from ._qm9 import QM9_GAP_MEDIAN, load_qm9

#: Properties of :func:`load_qm9_panel`: name -> (RDKit function path, what it is).
PANEL_PROPERTIES = {
    "gap": (None, "HOMO-LUMO gap (DFT, from QM9), split at QM9_GAP_MEDIAN"),
    "logp": ("rdkit.Chem.Descriptors.MolLogP", "Crippen logP"),
    "tpsa": ("rdkit.Chem.rdMolDescriptors.CalcTPSA", "topological polar surface"),
    "mr": ("rdkit.Chem.Descriptors.MolMR", "Crippen molar refractivity"),
    "fsp3": ("rdkit.Chem.rdMolDescriptors.CalcFractionCSP3", "fraction of sp3 C"),
    "bertz": ("rdkit.Chem.Descriptors.BertzCT", "Bertz complexity index"),
    "labute_asa": ("rdkit.Chem.rdMolDescriptors.CalcLabuteASA", "Labute ASA"),
}

_DEFAULT = ("gap", "logp", "tpsa", "mr", "fsp3", "bertz")


def _descriptor(path):
    from importlib import import_module

    module, name = path.rsplit(".", 1)
    return getattr(import_module(module), name)


def load_qm9_panel(
    *,
    properties=_DEFAULT,
    subset="embedded",
    path=None,
    data_home=None,
    as_frame=False,
    return_X_y=False,
    download_if_missing=True,
):
    """Load QM9 molecules with a panel of binary properties (a label matrix).

    A stand-in for a compound x gene (or compound x assay) screen: each
    molecule is one row, each property one column, and measuring a molecule
    reveals its whole row. The HOMO-LUMO gap comes from QM9 (split at
    :data:`QM9_GAP_MEDIAN`, the paper's task); the other columns are RDKit
    descriptors computed from the SMILES, each split at its median over the
    molecules loaded (label 1 above the median). The columns differ in how
    hard they are to predict from a fingerprint, as genes of a panel do.

    ===================  ====================================================
    Samples total        10,000 (``subset="embedded"``);
                         133,885 (``subset="full"``)
    Features             1: the SMILES string
    Outputs              ``len(properties)`` binary columns (default 6),
                         about 50 % positive each
    ===================  ====================================================

    Parameters
    ----------
    properties : sequence of str, default=("gap", "logp", "tpsa", "mr", \
            "fsp3", "bertz")
        Columns, in order: names of :data:`PANEL_PROPERTIES`.
    subset, path, data_home, download_if_missing
        As in :func:`load_qm9`.
    as_frame : bool, default=False
        If True, ``data`` is a DataFrame with a ``smiles`` column and
        ``target`` a DataFrame with one column per property (needs pandas).
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        data : ndarray of object of shape (n_samples,) or DataFrame
            The SMILES strings.
        target : ndarray of int of shape (n_samples, n_properties) or DataFrame
            1 where the property is above its threshold, else 0.
        values : ndarray of float of shape (n_samples, n_properties)
            The property values before thresholding.
        thresholds : ndarray of float of shape (n_properties,)
            The threshold of each column.
        target_names : list of str
            The properties.
        DESCR : str
            Description of the data set.

    (data, target) : tuple if ``return_X_y`` is True

    Raises
    ------
    ValueError
        On an unknown property.
    ImportError
        If RDKit is missing (``pip install sklearn-isd[chem]``).

    Examples
    --------
    >>> from sklearn_isd.datasets import load_qm9_panel
    >>> panel = load_qm9_panel(properties=("gap", "logp", "tpsa"))
    >>> panel.target.shape
    (10000, 3)
    >>> panel.target_names
    ['gap', 'logp', 'tpsa']
    """
    properties = _check_properties(properties)
    qm9 = load_qm9(
        subset=subset,
        task="regression",
        path=path,
        data_home=data_home,
        download_if_missing=download_if_missing,
    )
    smiles = qm9.data
    values, thresholds = _property_values(qm9, properties)
    target = (values > thresholds).astype(int)
    data = smiles
    if as_frame:
        pd = import_pandas("as_frame=True")
        data = pd.DataFrame({"smiles": smiles})
        target = pd.DataFrame(target, columns=properties)
    if return_X_y:
        return data, target
    return Bunch(
        data=data,
        target=target,
        values=values,
        thresholds=thresholds,
        target_names=properties,
        DESCR=load_qm9_panel.__doc__.split("\n\n")[1],
    )


def _check_properties(properties):
    """The properties as a list, or a ValueError naming the unknown ones."""
    properties = list(properties)
    unknown = [p for p in properties if p not in PANEL_PROPERTIES]
    if unknown or not properties:
        raise ValueError(
            f"Unknown properties {unknown}; choose among "
            f"{sorted(PANEL_PROPERTIES)} (at least one)."
        )
    return properties


def _molecules(smiles):
    """RDKit molecules of the SMILES, parsed with RDKit's logs silenced."""
    try:
        from rdkit import Chem, rdBase
    except ImportError as exc:
        raise ImportError(
            "load_qm9_panel needs RDKit for its descriptor columns: "
            "`pip install sklearn-isd[chem]`."
        ) from exc
    block = rdBase.BlockLogs()
    mols = [Chem.MolFromSmiles(s) for s in smiles]
    del block
    return mols


def _property_values(qm9, properties):
    """Each property's values (one column each) and the threshold of each.

    The gap is split at :data:`QM9_GAP_MEDIAN`; an RDKit descriptor at its
    median over the molecules loaded.
    """
    values = np.empty((qm9.data.size, len(properties)))
    thresholds = np.empty(len(properties))
    if any(p != "gap" for p in properties):
        mols = _molecules(qm9.data)
    for j, name in enumerate(properties):
        if name == "gap":
            values[:, j] = qm9.gap
            thresholds[j] = QM9_GAP_MEDIAN
        else:
            func = _descriptor(PANEL_PROPERTIES[name][0])
            values[:, j] = [func(m) for m in mols]
            thresholds[j] = np.median(values[:, j])
    return values, thresholds
