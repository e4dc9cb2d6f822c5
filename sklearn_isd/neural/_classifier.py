"""The residual MLP classifier."""

import numpy as np
import torch
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNetClassifier

from ._module import _MemberLinear
from ._net import _COMMON_NOTES, _COMMON_PARAMS, _ResMLPBase


class ResMLPClassifier(_ResMLPBase, NeuralNetClassifier):
    _criterion = torch.nn.CrossEntropyLoss
    _stratify_split = True

    __doc__ = f"""Residual MLP classifier (or committee), paper Appendix B defaults.

    A skorch :class:`~skorch.NeuralNetClassifier` around :class:`ResMLP`,
    trained with cross-entropy on any labels (encoded as in
    :class:`~sklearn.preprocessing.LabelEncoder`). ``predict_proba`` is the
    mean of the members' softmax probabilities; ``predict_members`` gives each
    member's predicted label, for vote-entropy acquisition.

    Parameters
    ----------{_COMMON_PARAMS}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when ``X`` was a DataFrame with string column names.
    module_ : ResMLP
        The trained module.
    optimizer_ : torch.optim.Optimizer
        The optimizer, with its state.
    history_ : skorch.History
        Per-epoch ``train_loss``, ``valid_loss`` and timings.
    callbacks_ : list of (str, Callback)
        The initialised callbacks; ``dict(callbacks_)["early_stopping"]``
        holds each member's best epoch.

    Notes
    -----{_COMMON_NOTES}

    With ``warm_start=True``, a new fit keeps the learned weights; labels not
    seen before are added to ``classes_`` with freshly initialised output
    units (the optimizer state is then reset).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_isd.neural import ResMLPClassifier
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(200, 5))
    >>> y = np.where(X[:, 0] > 0, "active", "inactive")
    >>> clf = ResMLPClassifier(module__hidden_size=32, n_members=3,
    ...                        max_epochs=30, batch_size=32, random_state=0)
    >>> clf.fit(X, y).score(X, y) > 0.9
    True
    >>> clf.predict_members(X[:2]).shape
    (3, 2)
    """

    @property
    def classes_(self):
        try:
            return self.__dict__["classes_"]
        except KeyError:
            raise AttributeError(
                f"{type(self).__name__} has no attribute 'classes_' before fit."
            ) from None

    @classes_.setter
    def classes_(self, value):
        self.__dict__["classes_"] = value

    def _n_outputs(self):
        return len(self.classes_)

    def _pointwise_loss(self, y_pred, y_true):
        M, B, K = y_pred.shape
        return self.criterion_(y_pred.reshape(M * B, K), y_true.repeat(M)).view(M, B)

    def _prepare_targets(self, y, mode, classes=None):
        check_classification_targets(y)
        if mode == "reset":
            labels = y if classes is None else np.concatenate([classes, y])
            self.classes_ = LabelEncoder().fit(labels).classes_
        elif mode == "warm":
            old = self.classes_
            new = LabelEncoder().fit(np.concatenate([old, y])).classes_
            if len(new) != len(old):
                self._grow_classes(old, new)
            self.classes_ = new
        unseen = np.setdiff1d(y, self.classes_)
        if len(unseen):
            raise ValueError(
                f"y contains labels {unseen.tolist()} that are not in classes_ "
                f"{self.classes_.tolist()}; pass every class to the first "
                "partial_fit call."
            )
        encoder = LabelEncoder()
        encoder.classes_ = self.classes_
        return encoder.transform(y).astype(np.int64)

    def _prepare_valid_targets(self, y):
        """Rows of a fixed validation set with a known label, and their codes."""
        known = np.isin(y, self.classes_)
        encoder = LabelEncoder()
        encoder.classes_ = self.classes_
        codes = encoder.transform(y[known]).astype(np.int64)
        return (None if known.all() else np.flatnonzero(known)), codes

    def _grow_classes(self, old, new):
        positions = torch.as_tensor(np.searchsorted(new, old))

        def grow(head):
            M, H, _ = head.weight.shape
            grown = _MemberLinear(M, H, len(new), self._init_generator)
            with torch.no_grad():
                grown.weight[:, :, positions] = head.weight.detach().cpu()
                grown.bias[:, :, positions] = head.bias.detach().cpu()
            return grown

        if self._replace_head(grow):
            self.module_.n_outputs = len(new)
        else:
            raise ValueError(
                "warm_start cannot add classes to a module without a ResMLP "
                "head; refit with warm_start=False."
            )

    def fit(self, X, y):
        """Train the network (or committee) on ``X``, ``y``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,)
            Class labels, of any type.

        Returns
        -------
        self : ResMLPClassifier
        """
        return self._fit(X, y, incremental=False)

    def partial_fit(self, X, y, classes=None):
        """Train for ``max_epochs`` more epochs on ``X``, ``y``.

        The first call sizes the network; later calls continue from the
        current weights (skorch's ``partial_fit``, not one epoch).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,)
            Class labels.
        classes : array-like of shape (n_classes,), default=None
            All labels of the problem; needed on the first call when some are
            absent from its ``y``.

        Returns
        -------
        self : ResMLPClassifier
        """
        return self._fit(X, y, incremental=True, classes=classes)

    def predict_proba(self, X):
        """Mean of the members' softmax probabilities.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``.
        """
        logits = torch.from_numpy(self._member_outputs(X))
        return torch.softmax(logits.double(), dim=-1).mean(dim=0).numpy()

    def predict(self, X):
        """Label of highest mean probability.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def predict_proba_mc(self, X, n_passes=5, random_state=None):
        """Class probabilities under Monte Carlo dropout (Gal et al., 2016).

        The network runs ``n_passes`` times with dropout on, each pass with
        new dropout masks, as in the BALD agent of the paper's code. With a
        committee, every member gives one sample per pass.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        n_passes : int, default=5
            Stochastic forward passes (the paper's code uses 5).
        random_state : int, RandomState instance or None, default=None
            Seeds the dropout masks (a local torch generator); None uses the
            net's ``random_state``, so that a seeded net gives the same
            samples on every call.

        Returns
        -------
        proba : ndarray of shape (n_passes, n_members, n_samples, n_classes)
            Softmax probabilities of every pass and member; columns follow
            ``classes_``.

        Raises
        ------
        ValueError
            If the network has no dropout (``module__dropout=0``).
        """
        check_is_fitted(self)
        self._check_mc_dropout(n_passes)
        logits = self._member_outputs(
            X, n_passes=n_passes, random_state=self._mc_random_state(random_state)
        )
        return torch.softmax(torch.from_numpy(logits).double(), dim=-1).numpy()

    def predict_members(self, X):
        """Label predicted by each committee member.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        labels : ndarray of shape (n_members, n_samples)
            In the label space of ``classes_``.
        """
        return self.classes_[np.argmax(self._member_outputs(X), axis=-1)]
