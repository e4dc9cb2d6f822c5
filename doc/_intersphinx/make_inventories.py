"""Write the intersphinx inventories vendored for an offline docs build.

Each inventory holds only the names the documentation references, with the
stable URL of its page (relative to the project's root URL in
``doc/conf.py``). Run ``python doc/_intersphinx/make_inventories.py`` after
adding a name below; Sphinx reads the files as it reads a downloaded
``objects.inv`` (format version 2: four header lines, then zlib-compressed
lines ``name domain:role priority uri display-name``, where ``-`` stands for
a display name equal to the name). In the table below, ``$`` in a URI stands
for the name; it is spelled out in the file (Sphinx expands only a final
``$``).
"""

import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
SKLEARN_GENERATED = "modules/generated/$.html#$"

INVENTORIES = {
    "sklearn": (
        "scikit-learn",
        "1.9",
        [
            ("sklearn.base.BaseEstimator", "py:class", SKLEARN_GENERATED),
            ("sklearn.datasets.fetch_openml", "py:function", SKLEARN_GENERATED),
            ("sklearn.datasets.get_data_home", "py:function", SKLEARN_GENERATED),
            ("sklearn.datasets.load_digits", "py:function", SKLEARN_GENERATED),
            ("sklearn.dummy.DummyClassifier", "py:class", SKLEARN_GENERATED),
            ("sklearn.ensemble.BaggingClassifier", "py:class", SKLEARN_GENERATED),
            ("sklearn.linear_model.LassoCV", "py:class", SKLEARN_GENERATED),
            ("sklearn.linear_model.LinearRegression", "py:class", SKLEARN_GENERATED),
            ("sklearn.linear_model.LogisticRegression", "py:class", SKLEARN_GENERATED),
            ("sklearn.model_selection.GridSearchCV", "py:class", SKLEARN_GENERATED),
            (
                "sklearn.multioutput.MultiOutputClassifier",
                "py:class",
                SKLEARN_GENERATED,
            ),
            ("sklearn.multioutput.MultiOutputRegressor", "py:class", SKLEARN_GENERATED),
            ("sklearn.pipeline.Pipeline", "py:class", SKLEARN_GENERATED),
            ("sklearn.preprocessing.LabelEncoder", "py:class", SKLEARN_GENERATED),
            (
                "sklearn.semi_supervised.SelfTrainingClassifier",
                "py:class",
                SKLEARN_GENERATED,
            ),
            ("sklearn.utils.Bunch", "py:class", SKLEARN_GENERATED),
            (
                "sklearn.utils.estimator_checks.check_estimator",
                "py:function",
                SKLEARN_GENERATED,
            ),
        ],
    ),
    "numpy": (
        "NumPy",
        "2.3",
        [
            ("numpy.ndarray", "py:class", "reference/generated/$.html#$"),
            ("numpy.partition", "py:function", "reference/generated/$.html#$"),
            ("numpy.random.RandomState", "py:class", "reference/random/legacy.html#$"),
        ],
    ),
    "rdkit": (
        "RDKit",
        "2026.09",
        [
            (
                "rdkit.Chem.rdmolfiles.ForwardSDMolSupplier",
                "py:class",
                "source/rdkit.Chem.rdmolfiles.html#$",
            ),
            (
                "rdkit.Chem.rdFingerprintGenerator.GetMorganGenerator",
                "py:function",
                "source/rdkit.Chem.rdFingerprintGenerator.html#$",
            ),
        ],
    ),
    "skorch": (
        "skorch",
        "1.4",
        [
            (
                "skorch.NeuralNetClassifier",
                "py:class",
                "classifier.html#skorch.classifier.NeuralNetClassifier",
            ),
            (
                "skorch.NeuralNetRegressor",
                "py:class",
                "regressor.html#skorch.regressor.NeuralNetRegressor",
            ),
            ("skorch.callbacks.EarlyStopping", "py:class", "callbacks.html#$"),
            ("skorch.callbacks.GradientNormClipping", "py:class", "callbacks.html#$"),
        ],
    ),
}


def inventory(project, version, entries):
    """The bytes of an objects.inv (format version 2)."""
    header = (
        "# Sphinx inventory version 2\n"
        f"# Project: {project}\n"
        f"# Version: {version}\n"
        "# The remainder of this file is compressed using zlib.\n"
    )
    body = "".join(
        f"{name} {role} 1 {uri.replace('$', name)} -\n" for name, role, uri in entries
    )
    return header.encode() + zlib.compress(body.encode())


def main():
    for name, (project, version, entries) in INVENTORIES.items():
        path = HERE / f"{name}-objects.inv"
        path.write_bytes(inventory(project, version, sorted(entries)))
        print(f"{path.name}: {len(entries)} names")


if __name__ == "__main__":
    main()
