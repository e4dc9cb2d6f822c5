"""The residual MLP classifier."""

import numpy as np
import torch
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNetClassifier

from .._labels import _missing
from ..utils._compat import StrOptions
from ._module import ResMLP, _MemberLinear
from ._net import _COMMON_NOTES, _COMMON_PARAMS, _ndim, _ResMLPBase

_HEAD, _TAIL = _COMMON_PARAMS.split("\n    optimizer : type", 1)
_CLASSIFIER_PARAMS = (
    _HEAD
    + """
    class_weight : "balanced", dict, list of dict or None, default=None
        Weights of the classes in the loss (training and validation).
        ``"balanced"`` weighs each labelled cell by ``n / (n_classes *
        count)`` of its class among the training labels of its output
        (scikit-learn's definition, per output), so that rare classes weigh
        as much as common ones, as the paper's multi-task network does for
        the phenomics matrix (its code computes class-balanced cross entropy
        on every mini-batch, pooled over all genes). A dict ``{label:
        weight}`` (one per output, in a list, for a label matrix) gives them
        explicitly; missing classes weigh 1. None weighs every cell 1."""
    + "\n    optimizer : type"
    + _TAIL
)


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
    ----------{_CLASSIFIER_PARAMS}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,) or list of ndarray
        Class labels; for a label matrix, one array per output.
    n_outputs_ : int
        Outputs: 1 for a 1-d ``y``, else the columns of the label matrix.
    class_weight_ : ndarray of shape (n_outputs_, max_n_classes) or None
        The class weights of ``class_weight="balanced"``.
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

    _parameter_constraints = {
        **_ResMLPBase._parameter_constraints,
        "class_weight": [StrOptions({"balanced"}), dict, list, None],
    }

    def __init__(
        self,
        module=ResMLP,
        *,
        module__hidden_size=512,
        module__n_blocks=2,
        module__dropout=0.1,
        module__architecture="reference",
        n_members=1,
        bootstrap=True,
        class_weight=None,
        optimizer=torch.optim.Adam,
        lr=1e-3,
        max_epochs=1000,
        batch_size=1024,
        patience=50,
        validation_fraction=0.1,
        train_split=None,
        max_grad_norm=1.0,
        callbacks=None,
        warm_start=False,
        device="cpu",
        random_state=None,
        verbose=0,
        **kwargs,
    ):
        super().__init__(
            module,
            module__hidden_size=module__hidden_size,
            module__n_blocks=module__n_blocks,
            module__dropout=module__dropout,
            module__architecture=module__architecture,
            n_members=n_members,
            bootstrap=bootstrap,
            optimizer=optimizer,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            patience=patience,
            validation_fraction=validation_fraction,
            train_split=train_split,
            max_grad_norm=max_grad_norm,
            callbacks=callbacks,
            warm_start=warm_start,
            device=device,
            random_state=random_state,
            verbose=verbose,
            **kwargs,
        )
        self.class_weight = class_weight

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
        if vars(self).get("_multioutput"):
            return max(len(c) for c in self.classes_)
        return len(self.classes_)

    def _output_classes(self):
        """The classes of each output: a list, one array per output."""
        return list(self.classes_) if self._multioutput else [self.classes_]

    def _pointwise_loss(self, y_pred, y_true):
        M, B, _ = y_pred.shape
        weights = vars(self).get("class_weight_")
        if y_true.dim() == 1:
            K = y_pred.shape[-1]
            loss = self.criterion_(y_pred.reshape(M * B, K), y_true.repeat(M))
            loss = loss.view(M, B)
            if weights is not None:
                loss = loss * torch.as_tensor(weights[0], device=loss.device)[y_true]
            return loss
        # A label matrix: cells coded -1 have no label and add nothing; the
        # loss of a sample is the sum over its labelled cells, scaled so that
        # the batch mean is the mean over the batch's labelled cells.
        T, K = y_true.shape[1], self._n_outputs()
        logits = y_pred.reshape(M, B, T, K)
        logits = logits.masked_fill(
            torch.as_tensor(self._invalid_logits(), device=logits.device), -torch.inf
        )
        labelled = y_true >= 0
        target = y_true.clamp(min=0)
        loss = self.criterion_(
            logits.reshape(M * B * T, K), target.expand(M, B, T).reshape(-1)
        ).view(M, B, T)
        if weights is not None:
            w = torch.as_tensor(weights, device=loss.device)
            loss = loss * w[torch.arange(T, device=loss.device), target]
        loss = torch.where(labelled, loss, torch.zeros_like(loss))
        return loss.sum(dim=-1) * (B / max(int(labelled.sum()), 1))

    def _invalid_logits(self):
        """(n_outputs, K): True for logit slots beyond an output's classes."""
        sizes = np.array([len(c) for c in self.classes_])
        return np.arange(self._n_outputs())[None, :] >= sizes[:, None]

    def _set_class_weight(self, codes):
        """Class weights per output and class (``class_weight_``), or None."""
        if self.class_weight is None:
            self.class_weight_ = None
            return
        codes = codes.reshape(codes.shape[0], -1)
        outputs = self._output_classes()
        given = self.class_weight
        if isinstance(given, dict):
            given = [given]
        if isinstance(given, list) and len(given) != len(outputs):
            raise ValueError(
                f"class_weight has {len(given)} dict(s) for {len(outputs)} "
                "output(s); pass one dict per output, or 'balanced'."
            )
        weights = np.ones((len(outputs), self._n_outputs()), dtype=np.float32)
        for j, classes in enumerate(outputs):
            if given == "balanced":
                labelled = codes[:, j][codes[:, j] >= 0]
                counts = np.bincount(labelled, minlength=len(classes))
                present = counts[: len(classes)] > 0
                weights[j, : len(classes)][present] = labelled.size / (
                    present.sum() * counts[: len(classes)][present]
                )
                continue
            unknown = set(given[j]) - set(classes.tolist())
            if unknown:
                raise ValueError(
                    f"class_weight names classes {sorted(map(str, unknown))} that "
                    f"are not in the training labels {classes.tolist()}."
                )
            for label, weight in given[j].items():
                weights[j, np.searchsorted(classes, label)] = weight
        self.class_weight_ = weights

    def _prepare_targets(self, y, mode, classes=None):
        codes = (
            self._prepare_matrix_targets(y, mode, classes)
            if y.ndim == 2
            else self._prepare_vector_targets(y, mode, classes)
        )
        if mode != "partial":
            self._set_class_weight(codes)
        return codes

    def _prepare_matrix_targets(self, y, mode, classes=None):
        """Per-output class codes of a label matrix, -1 where a cell is missing."""
        missing = np.column_stack([_missing(y[:, j]) for j in range(y.shape[1])])
        found = []
        for j in range(y.shape[1]):
            values = y[~missing[:, j], j]
            if values.size:
                check_classification_targets(values)
            if classes is not None:
                values = np.concatenate([np.asarray(classes[j]), values])
            labels = np.unique(values)
            if labels.size == 0:
                raise ValueError(
                    f"Output {j} of y has no label (every cell is missing): "
                    "there is nothing to learn it from."
                )
            found.append(labels)
        if mode == "reset":
            self.classes_ = found
        else:
            unseen = [
                j
                for j, (old, new) in enumerate(zip(self.classes_, found, strict=True))
                if np.setdiff1d(new, old).size
            ]
            if unseen:
                raise ValueError(
                    f"Outputs {unseen} of y have labels that are not in "
                    "classes_; a multi-output net cannot add classes when it "
                    "continues training (warm_start, partial_fit): refit it."
                )
        codes = np.full(y.shape, -1, dtype=np.int64)
        for j, labels in enumerate(self.classes_):
            rows = ~missing[:, j]
            codes[rows, j] = np.searchsorted(labels, y[rows, j])
        return codes

    def _prepare_vector_targets(self, y, mode, classes=None):
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
        if self._multioutput:
            if y.ndim != 2 or y.shape[1] != len(self.classes_):
                raise ValueError(
                    f"The validation labels of train_split have shape {y.shape}; "
                    f"the net has {len(self.classes_)} outputs."
                )
            codes = np.full(y.shape, -1, dtype=np.int64)
            for j, labels in enumerate(self.classes_):
                known = ~_missing(y[:, j]) & np.isin(y[:, j], labels)
                codes[known, j] = np.searchsorted(labels, y[known, j])
            return None, codes
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

    def _split_logits(self, logits):
        """Per-output softmax probabilities from raw outputs ``(..., T * K)``.

        Returns one array per output of shape ``(..., K_j)``: the softmax
        over that output's own classes.
        """
        logits = torch.from_numpy(logits).double()
        if not self._multioutput:
            return [torch.softmax(logits, dim=-1).numpy()]
        K = self._n_outputs()
        logits = logits.reshape(*logits.shape[:-1], len(self.classes_), K)
        return [
            torch.softmax(logits[..., j, : len(c)], dim=-1).numpy()
            for j, c in enumerate(self.classes_)
        ]

    def predict_proba(self, X):
        """Mean of the members' softmax probabilities.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes), or list of them
            Columns follow ``classes_``; for a label matrix, one array per
            output, columns following ``classes_[j]``.
        """
        probas = [p.mean(axis=0) for p in self._split_logits(self._member_outputs(X))]
        return probas if self._multioutput else probas[0]

    def predict(self, X):
        """Label of highest mean probability.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        """
        proba = self.predict_proba(X)
        if not self._multioutput:
            return self.classes_[np.argmax(proba, axis=1)]
        return np.column_stack(
            [c[np.argmax(p, axis=1)] for c, p in zip(self.classes_, proba, strict=True)]
        )

    def score(self, X, y, sample_weight=None):
        """Accuracy; for a label matrix, the share of labelled cells predicted.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            True labels; in a matrix, NaN (or None) cells are left out.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        score : float
        """
        if _ndim(y) != 2:
            return super().score(X, y, sample_weight=sample_weight)
        y = np.asarray(y)
        labelled = np.column_stack([~_missing(y[:, j]) for j in range(y.shape[1])])
        correct = (self.predict(X) == y) & labelled
        weights = np.ones(y.shape[0]) if sample_weight is None else sample_weight
        weights = np.asarray(weights, dtype=float)[:, None] * labelled
        return float((correct * weights).sum() / weights.sum())

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
            ``classes_``. For a label matrix, a list with one such array per
            output.

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
        probas = self._split_logits(logits)
        return probas if self._multioutput else probas[0]

    def predict_members(self, X):
        """Label predicted by each committee member.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        labels : ndarray of shape (n_members, n_samples) or \
                (n_members, n_samples, n_outputs)
            In the label space of ``classes_``.
        """
        probas = self._split_logits(self._member_outputs(X))
        labels = [
            c[np.argmax(p, axis=-1)]
            for c, p in zip(self._output_classes(), probas, strict=True)
        ]
        return np.stack(labels, axis=-1) if self._multioutput else labels[0]
