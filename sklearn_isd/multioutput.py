"""Multi-output models for label matrices with missing cells.

In a matrix screen (compounds x genes, compounds x assays), some cells were
never measurable: a compound that could not be tested against one target.
Those cells are NaN in the label matrix. scikit-learn's
:class:`~sklearn.multioutput.MultiOutputClassifier` and
:class:`~sklearn.multioutput.MultiOutputRegressor` fit one model per output
but refuse NaN targets; the two estimators here are the same, except that
each output's model is fit on the rows where that output has a label.
"""

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.multioutput import MultiOutputClassifier, MultiOutputRegressor
from sklearn.utils import indexable
from sklearn.utils.validation import check_array

from .utils._compat import (
    _check_sample_weight,
    _fit_context,
    _num_samples,
    _safe_indexing,
)

__all__ = ["MaskedMultiOutputClassifier", "MaskedMultiOutputRegressor"]


def _fit_output(estimator, X, y, sample_weight, fit_params):
    """Fit a clone of ``estimator`` on the rows where ``y`` has a label."""
    rows = np.flatnonzero(~np.isnan(y))
    if rows.size == 0:
        raise ValueError(
            "An output has no label (all NaN): nothing to fit its model on."
        )
    if sample_weight is not None:
        fit_params = {**fit_params, "sample_weight": sample_weight[rows]}
    return clone(estimator).fit(_safe_indexing(X, rows), y[rows], **fit_params)


class _MaskedFit:
    """The ``fit`` shared by the masked multi-output estimators."""

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, sample_weight=None, **fit_params):
        """Fit one model per output on the rows where it has a label.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Input data.
        y : array-like of shape (n_samples, n_outputs)
            Targets; NaN marks a missing cell.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights, passed to each output's model for its rows.
        **fit_params : dict
            Passed to each output's ``fit``.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y "
                "is None."
            )
        y = check_array(
            y, ensure_2d=False, ensure_all_finite="allow-nan", dtype=np.float64
        )
        if y.ndim == 1:
            raise ValueError(
                "y must have at least two dimensions for multi-output regression "
                "or classification; got a 1-d y."
            )
        # X is left to each output's model, as in MultiOutputClassifier; it
        # only needs to be indexable by rows.
        X = indexable(X)[0]
        if _num_samples(X) != y.shape[0]:
            raise ValueError(
                f"X has {_num_samples(X)} samples but y has {y.shape[0]}; pass one "
                "row of y per sample."
            )
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X)
        self.estimators_ = Parallel(n_jobs=self.n_jobs)(
            delayed(_fit_output)(self.estimator, X, y[:, j], sample_weight, fit_params)
            for j in range(y.shape[1])
        )
        if hasattr(self.estimators_[0], "n_features_in_"):
            self.n_features_in_ = self.estimators_[0].n_features_in_
        if hasattr(self.estimators_[0], "feature_names_in_"):
            self.feature_names_in_ = self.estimators_[0].feature_names_in_
        if hasattr(self, "_set_classes"):
            self._set_classes()
        return self


class MaskedMultiOutputClassifier(_MaskedFit, MultiOutputClassifier):
    """One classifier per output, each fit on the rows it has a label for.

    :class:`~sklearn.multioutput.MultiOutputClassifier` that accepts NaN in
    ``y`` (a cell that was never measured): the model of output ``j`` is fit
    on the rows where ``y[:, j]`` is not NaN. Class labels are numbers (NaN
    needs a float array).

    Parameters
    ----------
    estimator : estimator object
        A classifier implementing ``fit`` and ``predict``; cloned per output.
    n_jobs : int or None, default=None
        Outputs fitted in parallel, through :class:`joblib.Parallel`.

    Attributes
    ----------
    estimators_ : list of estimators
        One fitted model per output.
    classes_ : list of ndarray
        The classes of each output.
    n_features_in_ : int
        Number of features seen during fit (array input).

    See Also
    --------
    sklearn.multioutput.MultiOutputClassifier : the same without NaN targets.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_isd.multioutput import MaskedMultiOutputClassifier
    >>> X = np.arange(8.0).reshape(-1, 1)
    >>> y = np.array([[0, 0], [0, np.nan], [0, 0], [0, 0],
    ...               [1, 1], [1, 1], [1, np.nan], [1, 1]])
    >>> clf = MaskedMultiOutputClassifier(LogisticRegression()).fit(X, y)
    >>> clf.predict([[0.0], [7.0]])
    array([[0., 0.],
           [1., 1.]])
    """

    def __init__(self, estimator, *, n_jobs=None):
        super().__init__(estimator, n_jobs=n_jobs)

    def _set_classes(self):
        self.classes_ = [est.classes_ for est in self.estimators_]


class MaskedMultiOutputRegressor(_MaskedFit, MultiOutputRegressor):
    """One regressor per output, each fit on the rows it has a value for.

    :class:`~sklearn.multioutput.MultiOutputRegressor` that accepts NaN in
    ``y`` (a cell that was never measured): the model of output ``j`` is fit
    on the rows where ``y[:, j]`` is not NaN.

    Parameters
    ----------
    estimator : estimator object
        A regressor implementing ``fit`` and ``predict``; cloned per output.
    n_jobs : int or None, default=None
        Outputs fitted in parallel, through :class:`joblib.Parallel`.

    Attributes
    ----------
    estimators_ : list of estimators
        One fitted model per output.
    n_features_in_ : int
        Number of features seen during fit (array input).

    See Also
    --------
    sklearn.multioutput.MultiOutputRegressor : the same without NaN targets.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> from sklearn_isd.multioutput import MaskedMultiOutputRegressor
    >>> X = np.arange(4.0).reshape(-1, 1)
    >>> y = np.array([[0.0, 1.0], [1.0, np.nan], [2.0, 5.0], [3.0, 7.0]])
    >>> reg = MaskedMultiOutputRegressor(LinearRegression()).fit(X, y)
    >>> reg.predict([[1.0]]).round(2)
    array([[1., 3.]])
    """

    def __init__(self, estimator, *, n_jobs=None):
        super().__init__(estimator, n_jobs=n_jobs)
