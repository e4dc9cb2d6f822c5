"""The residual MLP regressor."""

import numpy as np
import torch
from sklearn.utils.metaestimators import available_if
from skorch import NeuralNetRegressor

from ._net import _COMMON_NOTES, _COMMON_PARAMS, _ndim, _ResMLPBase


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
    y_mean_ : float or ndarray of shape (n_outputs_,)
        Mean of the training target (per output, over its values).
    y_scale_ : float or ndarray of shape (n_outputs_,)
        Standard deviation of the training target (1 when it is constant).
    n_outputs_ : int
        Outputs: 1 for a 1-d ``y``, else the columns of the target matrix.
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
        if y_true.dim() == 1:
            pred = y_pred[..., 0]
            return self.criterion_(pred, y_true.expand_as(pred))
        # A target matrix: NaN cells add nothing; the batch mean of the loss
        # is the mean squared error over the batch's labelled cells.
        B = y_true.shape[0]
        labelled = ~torch.isnan(y_true)
        target = torch.where(labelled, y_true, torch.zeros_like(y_true))
        loss = self.criterion_(y_pred, target.expand_as(y_pred))
        loss = torch.where(labelled, loss, torch.zeros_like(loss))
        return loss.sum(dim=-1) * (B / max(int(labelled.sum()), 1))

    def _prepare_targets(self, y, mode, classes=None):
        if classes is not None:
            raise ValueError("classes is for classifiers only.")
        y = np.asarray(y, dtype=np.float64)
        if mode != "partial":
            if y.ndim == 2:
                empty = np.isnan(y).all(axis=0)
                if empty.any():
                    raise ValueError(
                        f"Outputs {np.flatnonzero(empty).tolist()} of y have no "
                        "value (every cell is NaN): there is nothing to learn "
                        "them from."
                    )
                mean, scale = np.nanmean(y, axis=0), np.nanstd(y, axis=0)
                scale = np.where(scale > 10 * np.finfo(np.float64).eps, scale, 1.0)
            else:
                mean, scale = float(y.mean()), float(y.std())
                scale = scale if scale > 10 * np.finfo(np.float64).eps else 1.0
            if mode == "warm":
                self._rescale_head(mean, scale)
            self.y_mean_, self.y_scale_ = mean, scale
        return ((y - self.y_mean_) / self.y_scale_).astype(np.float32)

    def _prepare_valid_targets(self, y):
        """A fixed validation set's target, standardised like the training one."""
        y = np.asarray(y, dtype=np.float64)
        if self._multioutput and (y.ndim != 2 or y.shape[1] != self.n_outputs_):
            raise ValueError(
                f"The validation targets of train_split have shape {y.shape}; "
                f"the net has {self.n_outputs_} outputs."
            )
        return None, ((y - self.y_mean_) / self.y_scale_).astype(np.float32)

    def _rescale_head(self, mean, scale):
        # out_new * scale + mean == out_old * y_scale_ + y_mean_, per output
        a = torch.as_tensor(np.asarray(self.y_scale_ / scale, dtype=np.float32))
        b = torch.as_tensor(np.asarray((self.y_mean_ - mean) / scale, dtype=np.float32))

        def rescale(head):
            with torch.no_grad():
                head.weight.mul_(a.to(head.weight.device))
                head.bias.mul_(a.to(head.weight.device)).add_(b.to(head.weight.device))
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
        y_members : ndarray of shape (n_members, n_samples) or \
                (n_members, n_samples, n_outputs)
            In the units of ``y``.
        """
        out = self._member_outputs(X).astype(np.float64)
        if not self._multioutput:
            out = out[..., 0]
        return out * self.y_scale_ + self.y_mean_

    def predict(self, X):
        """Mean prediction of the committee members.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        """
        return self.predict_members(X).mean(axis=0)

    def score(self, X, y, sample_weight=None):
        """R^2; for a target matrix, the mean R^2 of the outputs on their values.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            True values; in a matrix, NaN cells are left out.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        score : float
        """
        if _ndim(y) != 2:
            return super().score(X, y, sample_weight=sample_weight)
        from sklearn.metrics import r2_score

        y = np.asarray(y, dtype=np.float64)
        pred = self.predict(X)
        weights = None if sample_weight is None else np.asarray(sample_weight)
        scores = []
        for j in range(y.shape[1]):
            rows = ~np.isnan(y[:, j])
            w = None if weights is None else weights[rows]
            scores.append(r2_score(y[rows, j], pred[rows, j], sample_weight=w))
        return float(np.mean(scores))
