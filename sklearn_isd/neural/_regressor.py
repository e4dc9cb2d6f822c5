"""The residual MLP regressor."""

import numpy as np
import torch
from sklearn.utils.metaestimators import available_if
from skorch import NeuralNetRegressor

from ._net import _COMMON_NOTES, _COMMON_PARAMS, _ResMLPBase


class ResMLPRegressor(_ResMLPBase, NeuralNetRegressor):
    _criterion = torch.nn.MSELoss
    _stratify_split = False

    __doc__ = f"""Residual MLP regressor (or committee), paper Appendix B defaults.

    A skorch :class:`~skorch.NeuralNetRegressor` around :class:`ResMLP`,
    trained with the squared error on a standardised target: ``y`` is centred
    and scaled by its training mean and standard deviation (``y_mean_``,
    ``y_scale_``), so that the paper's learning rate and clipping threshold
    suit targets of any unit; predictions are mapped back. ``predict`` is the
    mean of the members; ``predict_members`` gives each member's prediction,
    whose spread drives the ``std`` acquisition.

    Parameters
    ----------{_COMMON_PARAMS}

    Attributes
    ----------
    y_mean_ : float
        Mean of the training target.
    y_scale_ : float
        Standard deviation of the training target (1 when it is constant).
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when ``X`` was a DataFrame with string column names.
    module_ : ResMLP
        The trained module.
    optimizer_ : torch.optim.Optimizer
        The optimizer, with its state.
    history_ : skorch.History
        Per-epoch ``train_loss``, ``valid_loss`` (standardised units) and
        timings.
    callbacks_ : list of (str, Callback)
        The initialised callbacks; ``dict(callbacks_)["early_stopping"]``
        holds each member's best epoch.

    Notes
    -----{_COMMON_NOTES}

    With ``warm_start=True``, a new fit keeps the learned weights; the target
    is re-standardised on the new ``y`` and the head is rescaled so that the
    network's predictions in the units of ``y`` are unchanged by it.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_isd.neural import ResMLPRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(200, 5))
    >>> y = 10 + 3 * X[:, 0]
    >>> reg = ResMLPRegressor(module__hidden_size=32, n_members=5,
    ...                       max_epochs=30, batch_size=32, random_state=0)
    >>> reg.fit(X, y).score(X, y) > 0.9
    True
    >>> reg.predict_members(X[:2]).shape
    (5, 2)
    """

    # skorch's NeuralNet has a predict_proba; a regressor must not.
    predict_proba = available_if(lambda self: False)(NeuralNetRegressor.predict_proba)

    def _n_outputs(self):
        return 1

    def _pointwise_loss(self, y_pred, y_true):
        pred = y_pred[..., 0]
        return self.criterion_(pred, y_true.expand_as(pred))

    def _prepare_targets(self, y, mode, classes=None):
        if classes is not None:
            raise ValueError("classes is for classifiers only.")
        y = np.asarray(y, dtype=np.float64)
        if mode != "partial":
            mean, scale = float(y.mean()), float(y.std())
            scale = scale if scale > 10 * np.finfo(np.float64).eps else 1.0
            if mode == "warm":
                self._rescale_head(mean, scale)
            self.y_mean_, self.y_scale_ = mean, scale
        return ((y - self.y_mean_) / self.y_scale_).astype(np.float32)

    def _prepare_valid_targets(self, y):
        """A fixed validation set's target, standardised like the training one."""
        y = np.asarray(y, dtype=np.float64)
        return None, ((y - self.y_mean_) / self.y_scale_).astype(np.float32)

    def _rescale_head(self, mean, scale):
        # out_new * scale + mean == out_old * y_scale_ + y_mean_
        a = self.y_scale_ / scale
        b = (self.y_mean_ - mean) / scale

        def rescale(head):
            with torch.no_grad():
                head.weight.mul_(a)
                head.bias.mul_(a).add_(b)
            return head

        if not self._replace_head(rescale):
            raise ValueError(
                "warm_start cannot re-standardise the target of a module "
                "without a ResMLP head; refit with warm_start=False."
            )

    def fit(self, X, y):
        """Train the network (or committee) on ``X``, ``y``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,)
            Target values.

        Returns
        -------
        self : ResMLPRegressor
        """
        return self._fit(X, y, incremental=False)

    def partial_fit(self, X, y):
        """Train for ``max_epochs`` more epochs on ``X``, ``y``.

        The first call sizes the network and fixes the target standardisation;
        later calls continue from the current weights (skorch's
        ``partial_fit``, not one epoch).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,)
            Target values.

        Returns
        -------
        self : ResMLPRegressor
        """
        return self._fit(X, y, incremental=True)

    def predict_members(self, X):
        """Prediction of each committee member.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y_members : ndarray of shape (n_members, n_samples)
            In the units of ``y``.
        """
        out = self._member_outputs(X)[..., 0].astype(np.float64)
        return out * self.y_scale_ + self.y_mean_

    def predict(self, X):
        """Mean prediction of the committee members.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        return self.predict_members(X).mean(axis=0)
