"""Validation of the labels, groups and told batches a screen is given (private)."""

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


def check_told_indices(indices, state):
    """Positions told to a screen: 1-d ints, in the library, pending, new."""
    indices = np.asarray(indices)
    if indices.ndim != 1 or not (indices.dtype.kind in "iu" or (indices.size == 0)):
        raise TypeError(
            "indices must be a 1-d array of integer positions in the library; "
            f"got dtype {indices.dtype} and shape {indices.shape}."
        )
    if indices.size == 0:
        raise ValueError(
            "tell() got no indices: a round needs at least one measured item "
            "(nothing was recorded). Leave the batch pending, or release it "
            "with cancel()."
        )
    indices = indices.astype(np.intp)
    out = (indices < 0) | (indices >= state.acquired_iter.size)
    if out.any():
        raise ValueError(
            f"indices {indices[out][:10].tolist()} are outside the library "
            f"(valid positions are 0 to {state.acquired_iter.size - 1})."
        )
    uniq, counts = np.unique(indices, return_counts=True)
    if (counts > 1).any():
        raise ValueError(
            f"indices {uniq[counts > 1][:10].tolist()} appear more than once "
            "in the batch."
        )
    seen = state.observed_mask[indices]
    if seen.any():
        raise ValueError(
            f"indices {indices[seen][:10].tolist()} were already measured; "
            "each item is measured once."
        )
    asked = np.empty(0, np.intp) if state.pending is None else state.pending
    unasked = ~np.isin(indices, asked)
    if unasked.any():
        raise ValueError(
            f"indices {indices[unasked][:10].tolist()} are not in the batch "
            "proposed by ask(); tell() takes the batch ask() returned, or "
            "part of it (the bound assumes the batch was chosen by the "
            "screen)."
        )
    return indices


def check_told_batch(indices, labels, state, is_classifier):
    """Validate a told batch: its indices and one label (row) per index."""
    indices = check_told_indices(indices, state)
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] == 1 and not state.n_outputs:
        labels = labels.ravel()
    known = state.output_names is not None
    if labels.ndim == 2 and (state.n_outputs or not known):
        width = state.n_outputs or labels.shape[1]
        return indices, _check_matrix_labels(indices, labels, width)
    if labels.ndim != 1 or labels.shape[0] != indices.shape[0] or state.n_outputs:
        expected = (
            f"a row of {state.n_outputs} labels per index (one per output)"
            if state.n_outputs
            else "one label per index"
        )
        raise ValueError(
            f"Got {labels.shape[0] if labels.ndim else 'a scalar as'} labels "
            f"(shape {labels.shape}) for {indices.shape[0]} indices; pass "
            f"{expected}."
        )
    missing = _missing(labels)
    if missing.any():
        raise ValueError(
            f"labels are missing (None or NaN) at batch positions "
            f"{_positions(missing)} (library indices "
            f"{indices[missing][:10].tolist()}). Every measured item needs a "
            "label; leave failed measurements out of the batch."
        )
    if is_classifier:
        kind = _label_kind(labels)
        known = (
            None
            if state.observed_labels is None
            else _label_kind(state.observed_labels[:1])
        )
        if kind == "mixed" or (known is not None and kind != known):
            raise ValueError(
                "Class labels must be all strings or all numbers, but "
                + (
                    "this batch mixes them."
                    if kind == "mixed"
                    else f"this batch holds {_KIND_NAMES[kind]} and the "
                    f"labels measured so far are {_KIND_NAMES[known]}."
                )
            )
    else:
        if labels.dtype.kind not in "biuf":
            try:
                labels = labels.astype(float)
            except (TypeError, ValueError):
                raise ValueError(
                    "A regression screen needs numeric labels; got values of "
                    f"dtype {labels.dtype}."
                ) from None
        bad = ~np.isfinite(labels.astype(float))
        if bad.any():
            raise ValueError(
                f"labels are not finite at batch positions {_positions(bad)}."
            )
    return indices, labels


def _check_matrix_labels(indices, labels, width):
    """Labels of a matrix screen: one numeric row per index, NaN cells ok."""
    if labels.shape != (indices.shape[0], width):
        raise ValueError(
            f"Got labels of shape {labels.shape} for {indices.shape[0]} indices "
            f"of a matrix screen with {width} outputs; pass shape "
            f"({indices.shape[0]}, {width})."
        )
    labels = _numeric_matrix(labels, "labels")
    if labels.dtype.kind == "f" and np.isinf(labels).any():
        rows = np.isinf(labels).any(axis=1)
        raise ValueError(
            f"labels are infinite in batch rows {_positions(rows)}; NaN marks "
            "a cell without a label."
        )
    unlabelled = _nan_rows(labels)
    if unlabelled.any():
        raise ValueError(
            f"labels are missing (None or NaN) in every column at batch "
            f"positions {_positions(unlabelled)} (library indices "
            f"{indices[unlabelled][:10].tolist()}). A row without any label "
            "is a failed measurement: leave it out of the batch, or pass "
            "failed='retry' or 'exclude'."
        )
    return labels
