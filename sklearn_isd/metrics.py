"""Metrics of hybrid screens.

The readout of a hybrid screen is measured on the observed set and predicted
on the inference set. Its *system accuracy* (paper Eq. 1) counts every
measured label as correct::

    ACC_sys = (|X_obs| + #{x in X_inf : y_hat(x) = y(x)}) / |X_target|

For regression, a prediction within ``tolerance`` of the truth counts as
correct (the extension that lets the stopping rule work on continuous
readouts); the squared and absolute errors of the readout are reported too,
with zero error on measured items.

:func:`make_screen_scorer` turns the record of a simulated screen into a
scorer for :class:`~sklearn.model_selection.GridSearchCV`, e.g. to rank
acquisition strategies by the labels they spent to reach the target.
"""

from numbers import Real

import numpy as np

from ._labels import _nan_cells
from .utils._compat import Interval, StrOptions, validate_params

__all__ = [
    "correct",
    "inference_accuracy",
    "inference_mean_absolute_error",
    "inference_mean_squared_error",
    "inference_r2_score",
    "labels_to_target",
    "make_screen_scorer",
    "system_accuracy",
    "system_mean_absolute_error",
    "system_mean_squared_error",
    "system_r2_score",
]


def correct(y_true, y_pred, *, tolerance=None):
    """Whether each prediction counts as correct.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        Measured and predicted labels.
    tolerance : float or None, default=None
        None: exact equality (classification). A float: ``|y_pred - y_true|
        <= tolerance`` (regression).

    Returns
    -------
    correct : ndarray of bool of shape (n_samples,)
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if tolerance is None:
        return y_true == y_pred
    return np.abs(y_pred.astype(float) - y_true.astype(float)) <= tolerance


def _check(y_true, y_pred, observed_mask):
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    observed_mask = np.asarray(observed_mask, dtype=bool)
    if y_true.ndim == 2 and y_true.shape == y_pred.shape:
        # A matrix screen: items x outputs. Scores are over cells; a 1-d mask
        # marks measured items (every cell of their row), and cells whose
        # truth is missing (NaN: never measurable) are left out.
        if observed_mask.shape == y_true.shape[:1]:
            observed_mask = np.broadcast_to(observed_mask[:, None], y_true.shape)
        if observed_mask.shape == y_true.shape:
            known = ~_nan_cells(y_true)
            return y_true[known], y_pred[known], observed_mask[known]
    if not (y_true.shape == y_pred.shape == observed_mask.shape) or y_true.ndim != 1:
        raise ValueError(
            "y_true, y_pred and observed_mask must be 1-d of the same length, or "
            "y_true and y_pred 2-d of the same shape (items x outputs) with a "
            "mask of one entry per item or per cell; got shapes "
            f"{y_true.shape}, {y_pred.shape} and {observed_mask.shape}."
        )
    return y_true, y_pred, observed_mask


def system_accuracy(y_true, y_pred, observed_mask, *, tolerance=None):
    """System accuracy of a hybrid readout (paper Eq. 1).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_outputs)
        True labels of the whole library; 2-d for a matrix screen, where
        the accuracy is over cells and NaN cells (never measurable) are left
        out.
    y_pred : array-like of the shape of ``y_true``
        Predictions for the library (entries of measured items are ignored),
        or the hybrid readout itself (``screen.transduction_``).
    observed_mask : array-like of bool of shape (n_samples,)
        True where the label was measured; these count as correct. For a
        matrix, one entry per item (its whole row) or one per cell.
    tolerance : float or None, default=None
        For regression, the distance within which a prediction is correct.

    Returns
    -------
    accuracy : float
        ``(n_observed + n_correct_on_inference) / n_samples``.

    Examples
    --------
    >>> from sklearn_isd.metrics import system_accuracy
    >>> system_accuracy([0, 1, 1, 0], [0, 0, 1, 1], [False, True, False, False])
    0.75
    """
    y_true, y_pred, observed_mask = _check(y_true, y_pred, observed_mask)
    ok = observed_mask | correct(y_true, y_pred, tolerance=tolerance)
    return float(ok.mean())


def inference_accuracy(y_true, y_pred, observed_mask, *, tolerance=None):
    """Accuracy of the predictions on the inference set (unmeasured items).

    Parameters
    ----------
    y_true, y_pred, observed_mask, tolerance
        As in :func:`system_accuracy`.

    Returns
    -------
    accuracy : float
        Accuracy over the items with ``observed_mask == False``; NaN if every
        item was measured.
    """
    y_true, y_pred, observed_mask = _check(y_true, y_pred, observed_mask)
    inf = ~observed_mask
    if not inf.any():
        return float("nan")
    return float(correct(y_true[inf], y_pred[inf], tolerance=tolerance).mean())


def _errors(y_true, y_pred, observed_mask, power, subset):
    y_true, y_pred, observed_mask = _check(y_true, y_pred, observed_mask)
    err = np.abs(y_pred.astype(float) - y_true.astype(float)) ** power
    if subset == "system":
        return float(np.where(observed_mask, 0.0, err).mean())
    if observed_mask.all():
        return float("nan")
    return float(err[~observed_mask].mean())


def system_mean_squared_error(y_true, y_pred, observed_mask):
    """Mean squared error of a hybrid readout, measured items counting 0.

    Parameters
    ----------
    y_true, y_pred, observed_mask
        As in :func:`system_accuracy`.

    Returns
    -------
    mse : float
    """
    return _errors(y_true, y_pred, observed_mask, 2, "system")


def inference_mean_squared_error(y_true, y_pred, observed_mask):
    """Mean squared error of the predictions on the inference set.

    Parameters
    ----------
    y_true, y_pred, observed_mask
        As in :func:`system_accuracy`.

    Returns
    -------
    mse : float
        NaN if every item was measured.
    """
    return _errors(y_true, y_pred, observed_mask, 2, "inference")


def system_mean_absolute_error(y_true, y_pred, observed_mask):
    """Mean absolute error of a hybrid readout, measured items counting 0.

    Parameters
    ----------
    y_true, y_pred, observed_mask
        As in :func:`system_accuracy`.

    Returns
    -------
    mae : float
    """
    return _errors(y_true, y_pred, observed_mask, 1, "system")


def inference_mean_absolute_error(y_true, y_pred, observed_mask):
    """Mean absolute error of the predictions on the inference set.

    Parameters
    ----------
    y_true, y_pred, observed_mask
        As in :func:`system_accuracy`.

    Returns
    -------
    mae : float
        NaN if every item was measured.
    """
    return _errors(y_true, y_pred, observed_mask, 1, "inference")


def _r2(y_true, y_pred):
    # The coefficient of determination, as sklearn.metrics.r2_score, without
    # its input validation: the screen calls it on every round.
    if y_true.size < 2:
        return float("nan")
    total = np.sum((y_true - y_true.mean()) ** 2)
    if total == 0:
        return float("nan")
    return float(1.0 - np.sum((y_true - y_pred) ** 2) / total)


def system_r2_score(y_true, y_pred, observed_mask):
    """Coefficient of determination (R^2) of a hybrid readout.

    Measured items hold their true value in the readout, so they count as
    exact predictions.

    Parameters
    ----------
    y_true, y_pred, observed_mask
        As in :func:`system_accuracy`.

    Returns
    -------
    r2 : float
        NaN for fewer than two items or a constant truth.
    """
    y_true, y_pred, observed_mask = _check(y_true, y_pred, observed_mask)
    y_true = y_true.astype(float)
    return _r2(y_true, np.where(observed_mask, y_true, y_pred.astype(float)))


def inference_r2_score(y_true, y_pred, observed_mask):
    """Coefficient of determination (R^2) of the predictions on the inference set.

    Parameters
    ----------
    y_true, y_pred, observed_mask
        As in :func:`system_accuracy`.

    Returns
    -------
    r2 : float
        NaN for fewer than two inference items or a constant truth.
    """
    y_true, y_pred, observed_mask = _check(y_true, y_pred, observed_mask)
    inf = ~observed_mask
    return _r2(y_true[inf].astype(float), y_pred[inf].astype(float))


def labels_to_target(history, target):
    """Fraction of the library measured when true system accuracy first passed target.

    Parameters
    ----------
    history : dict of arrays
        ``screen.history_`` of a *simulated* screen (fitted with the full
        ``y``), which records the true ``system_score`` of every round.
    target : float
        The system accuracy to reach.

    Returns
    -------
    fraction : float
        ``fraction_observed`` at the first round whose ``system_score >=
        target``; 1.0 if the screen never got there (measuring everything
        always reaches any target).

    Raises
    ------
    ValueError
        If the history holds no true system score.
    """
    if "system_score" not in history:
        raise ValueError(
            "history has no 'system_score': labels_to_target needs a simulated "
            "screen, fitted with the true labels y of the whole library."
        )
    reached = np.flatnonzero(np.asarray(history["system_score"]) >= target)
    if reached.size == 0:
        return 1.0
    return float(np.asarray(history["fraction_observed"])[reached[0]])


class _ScreenScorer:
    """Scorer reading the record of a fitted screen; see make_screen_scorer."""

    def __init__(self, metric, target):
        self.metric = metric
        self.target = target

    def __call__(self, estimator, X=None, y=None):
        history = estimator.history_
        if self.metric == "labels_to_target":
            target = estimator.target if self.target is None else self.target
            return -labels_to_target(history, target)
        if self.metric == "labels_at_stop":
            return -float(history["fraction_observed"][-1])
        if "system_score" not in history:
            raise ValueError(
                "metric='system_score' needs a simulated screen, fitted with y."
            )
        return float(history["system_score"][-1])

    def __repr__(self):
        return f"make_screen_scorer(metric={self.metric!r}, target={self.target!r})"


@validate_params(
    {
        "metric": [StrOptions({"labels_to_target", "labels_at_stop", "system_score"})],
        "target": [None, Interval(Real, 0, 1, closed="neither")],
    },
    prefer_skip_nested_validation=True,
)
def make_screen_scorer(metric="labels_to_target", *, target=None):
    """Make a scorer that ranks hybrid screens, for ``GridSearchCV``.

    The scorer ignores the data it is called with: it reads the record
    (``history_``) of the screen that ``GridSearchCV`` just fitted, on the
    training part of each split. Greater is better, as scikit-learn expects.

    - ``"labels_to_target"`` scores ``-f`` where ``f`` is the fraction of the
      (training) library measured at the first round whose *true* system
      accuracy reached the target (``target``, or the screen's own ``target``
      when None); 1.0 if never reached. It needs a simulated screen (fitted
      with full ``y``) and measures the acquisition strategy, independently
      of when the stopping rule fired.
    - ``"labels_at_stop"`` scores ``-f`` with ``f`` the fraction measured when
      the screen stopped (what the stopping rule spent).
    - ``"system_score"`` scores the true system accuracy (or, for regressors
      without tolerance, the system R^2) at the stop.

    Parameters
    ----------
    metric : {"labels_to_target", "labels_at_stop", "system_score"}, \
            default="labels_to_target"
        What to score.
    target : float, default=None
        Accuracy target for ``"labels_to_target"``; None uses the screen's.

    Returns
    -------
    scorer : callable
        ``scorer(screen, X, y) -> float``.

    Examples
    --------
    >>> from sklearn.model_selection import GridSearchCV, ShuffleSplit
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.datasets import make_classification
    >>> from sklearn_isd import HybridScreenCV
    >>> from sklearn_isd.metrics import make_screen_scorer
    >>> X, y = make_classification(600, random_state=0)
    >>> search = GridSearchCV(
    ...     HybridScreenCV(LogisticRegression(), batch_size=30, random_state=0),
    ...     {"acquisition": ["least_confidence", "random"]},
    ...     scoring=make_screen_scorer(target=0.95),
    ...     cv=ShuffleSplit(n_splits=1, test_size=0.1, random_state=0),
    ... ).fit(X, y)
    >>> search.best_params_
    {'acquisition': 'least_confidence'}
    """
    return _ScreenScorer(metric, target)
