"""Validation of the labels and groups a screen is given (private)."""

import numpy as np
from sklearn.utils.validation import assert_all_finite, column_or_1d


def _missing(values):
    """Boolean mask of missing labels (None or NaN) in a 1-d array."""
    if values.dtype.kind == "f":
        return np.isnan(values)
    if values.dtype.kind == "O":
        return np.array(
            [v is None or (isinstance(v, float) and v != v) for v in values], dtype=bool
        )
    return np.zeros(values.shape, dtype=bool)


_KIND_NAMES = {"str": "strings", "num": "numbers"}


def _label_kind(values):
    """'str', 'num' or 'mixed': the kind of the class labels of a 1-d array."""
    if values.dtype.kind in "US":
        return "str"
    if values.dtype.kind != "O":
        return "num"
    is_str = np.fromiter(
        (isinstance(v, str | bytes) for v in values), dtype=bool, count=len(values)
    )
    return "str" if is_str.all() else "num" if not is_str.any() else "mixed"


def _positions(mask, limit=10):
    """Format the positions where mask is True: '[1, 5, 9]' or '[1, ...] (+n)'."""
    where = np.flatnonzero(mask)
    shown = ", ".join(str(i) for i in where[:limit])
    more = f", ... and {where.size - limit} more" if where.size > limit else ""
    return f"[{shown}{more}]"


def _check_library_labels(y, n):
    """Validate the labels of a whole library: 1-d, or 2-d for a matrix screen.

    Returns the labels and the output names (columns of a DataFrame).
    """
    names = None
    if getattr(y, "ndim", None) == 2 and hasattr(y, "columns"):
        names = [str(c) for c in y.columns]
    array = np.asarray(y)
    if array.ndim == 2 and array.shape[1] > 1:
        y = _numeric_matrix(array, "y")
        if y.shape[0] != n:
            raise ValueError(
                f"X holds {n} items but y holds {y.shape[0]} rows of labels; a "
                "simulated screen needs the labels of every library item."
            )
        if y.dtype.kind == "f":
            assert_all_finite(y, allow_nan=True, input_name="y")
        unlabelled = _nan_rows(y)
        if unlabelled.any():
            raise ValueError(
                f"y has {unlabelled.sum()} rows without any label at positions "
                f"{_positions(unlabelled)}. In a matrix screen NaN marks a cell "
                "that was never measurable, but every item needs a label in at "
                "least one column."
            )
        empty = _nan_cells(y).all(axis=0)
        if empty.any():
            raise ValueError(
                f"columns {np.flatnonzero(empty).tolist()} of y hold no label."
            )
        return y, names
    y = column_or_1d(y, warn=True)
    if y.shape[0] != n:
        raise ValueError(
            f"X holds {n} items but y holds {y.shape[0]} labels; a "
            "simulated screen needs the label of every library item."
        )
    missing = _missing(y)
    if y.dtype.kind == "f" and np.isinf(y).any():
        assert_all_finite(y, input_name="y")
    if missing.any():
        raise ValueError(
            f"y has {missing.sum()} missing labels at positions "
            f"{_positions(missing)}. A simulated screen reveals labels "
            "from y, so every item needs one; to screen with unknown "
            "labels pass an oracle, or drive the screen with ask/tell."
        )
    return y, None


def _numeric_matrix(values, name):
    """2-d labels as numbers: class codes or values, NaN for missing cells."""
    if values.dtype.kind in "biuf":
        return values
    try:
        return np.where(
            np.vectorize(lambda v: v is None, otypes=[bool])(values), np.nan, values
        ).astype(float)
    except (TypeError, ValueError):
        raise ValueError(
            f"The labels of a matrix screen ({name} with several columns) must be "
            "numbers: class codes or measured values, NaN (or None) for a cell "
            f"without a label; got values of dtype {values.dtype}."
        ) from None


def _nan_cells(values):
    """Boolean mask of NaN entries (False everywhere for non-float dtypes)."""
    if values.dtype.kind == "f":
        return np.isnan(values)
    return np.zeros(values.shape, dtype=bool)


def _nan_rows(values):
    """Rows of a 2-d array without any label (all NaN)."""
    return _nan_cells(values).all(axis=1)


def _check_groups(groups, n):
    """Integer codes 0..n_groups-1 of the groups of the library items."""
    groups = column_or_1d(np.asarray(groups))
    if groups.shape[0] != n:
        raise ValueError(
            f"X holds {n} items but groups holds {groups.shape[0]} entries; pass "
            "one group per item."
        )
    missing = _missing(groups)
    if missing.any():
        raise ValueError(
            f"groups are missing (None or NaN) at positions {_positions(missing)}."
        )
    return np.unique(
        groups.astype(str) if groups.dtype.kind == "O" else groups, return_inverse=True
    )[1].astype(np.intp)


def _single_class(labels):
    """Whether some output has fewer than two classes measured so far."""
    if labels.ndim == 1:
        return np.unique(labels).size < 2
    known = ~_nan_cells(labels)
    return any(np.unique(col[k]).size < 2 for col, k in zip(labels.T, known.T))


def _fill_missing_cells(labels):
    """Fill cells without a label with the column's most frequent label."""
    if labels.ndim == 1 or not _nan_cells(labels).any():
        return labels
    labels = labels.copy()
    for col in labels.T:
        missing = np.isnan(col)
        values, counts = np.unique(col[~missing], return_counts=True)
        col[missing] = values[np.argmax(counts)]
    return labels
