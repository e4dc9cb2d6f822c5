"""Residual MLPs and vectorised committees of them, as scikit-learn estimators.

:class:`ResMLPClassifier` and :class:`ResMLPRegressor` are the networks of the
paper (Appendix B, Table 1): a residual MLP trained with Adam, gradient-norm
clipping and early stopping on an internal validation split. Both are skorch
nets (:class:`skorch.NeuralNetClassifier`, :class:`skorch.NeuralNetRegressor`),
so ``set_params``, ``GridSearchCV``, pickling and skorch callbacks work as
usual.

A *committee* of ``n_members`` networks lives in one :class:`ResMLP` module
whose weights have a leading member axis and which is evaluated with batched
matrix products; members are trained together, each on its own bootstrap of
the training set, with per-member gradient clipping and per-member early
stopping, so that the committee behaves like ``n_members`` separately trained
nets at a fraction of the cost. ``predict_members`` exposes the member
predictions used by the ``vote_entropy`` and ``std`` acquisition functions.
"""

import math
import types
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, validate_data
from skorch import NeuralNetClassifier, NeuralNetRegressor
from skorch.callbacks import (
    EarlyStopping,
    EpochTimer,
    GradientNormClipping,
    PassthroughScoring,
    PrintLog,
)
from skorch.dataset import ValidSplit
from skorch.utils import to_numpy, to_tensor

from .utils._compat import Interval, StrOptions

__all__ = [
    "MemberEarlyStopping",
    "MemberGradientNormClipping",
    "ResMLP",
    "ResMLPClassifier",
    "ResMLPRegressor",
]

_SEED_MAX = np.iinfo(np.int32).max


# --------------------------------------------------------------------------
# The torch module
# --------------------------------------------------------------------------


class _MemberLinear(torch.nn.Module):
    """``n_members`` independent affine maps, evaluated with one batched matmul.

    ``weight`` has shape ``(n_members, in_features, out_features)`` and
    ``bias`` ``(n_members, 1, out_features)``. A 2-d input ``(batch, in)`` is
    shared by all members; a 3-d input ``(n_members, batch, in)`` gives each
    member its own input. The output is ``(n_members, batch, out)``.
    """

    def __init__(self, n_members, in_features, out_features, generator=None):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = torch.nn.Parameter(
            torch.empty(n_members, in_features, out_features)
        )
        self.bias = torch.nn.Parameter(torch.empty(n_members, 1, out_features))
        self.reset_parameters(generator)

    def reset_parameters(self, generator=None):
        # The law of torch.nn.Linear: kaiming_uniform_(a=sqrt(5)) for the
        # weight and the same bound for the bias, U(-1/sqrt(fan_in), +...).
        bound = 1.0 / math.sqrt(self.in_features) if self.in_features else 0.0
        with torch.no_grad():
            self.weight.uniform_(-bound, bound, generator=generator)
            self.bias.uniform_(-bound, bound, generator=generator)

    def extra_repr(self):
        n_members = self.weight.shape[0]
        return (
            f"n_members={n_members}, in_features={self.in_features}, "
            f"out_features={self.out_features}"
        )

    def forward(self, h):
        if h.dim() == 2:
            return torch.einsum("bi,mio->mbo", h, self.weight) + self.bias
        return torch.baddbmm(self.bias, h, self.weight)


class _ResidualBlock(torch.nn.Module):
    def __init__(self, n_members, hidden_size, generator=None):
        super().__init__()
        self.linear1 = _MemberLinear(n_members, hidden_size, hidden_size, generator)
        self.linear2 = _MemberLinear(n_members, hidden_size, hidden_size, generator)

    def forward(self, h):
        return h + self.linear2(F.leaky_relu(self.linear1(h)))


class ResMLP(torch.nn.Module):
    """Residual MLP, or a vectorised committee of ``n_members`` of them.

    Linear → LeakyReLU → ``n_blocks`` residual blocks (Linear → LeakyReLU →
    Linear, added to the block input) → Dropout → Linear head. Every weight
    has a leading member axis, shape ``(n_members, in, out)``, and all members
    are evaluated at once with batched matrix products (no Python loop over
    members). Each member is initialised independently with the law of
    :class:`torch.nn.Linear`, ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``.

    Parameters
    ----------
    n_features : int
        Input width. :class:`ResMLPClassifier` and :class:`ResMLPRegressor`
        set it from ``X`` at fit time.
    n_outputs : int
        Output width: number of classes (logits) or 1 for regression.
    hidden_size : int, default=512
        Width of the hidden layers.
    n_blocks : int, default=2
        Number of residual blocks.
    dropout : float, default=0.1
        Dropout probability before the head.
    n_members : int, default=1
        Committee size.
    generator : torch.Generator, default=None
        CPU generator for the initial weights and nothing else; ``None`` draws
        from torch's global generator, as :class:`torch.nn.Linear` does.

    Attributes
    ----------
    input : torch.nn.Module
        First layer, weight of shape ``(n_members, n_features, hidden_size)``.
    blocks : torch.nn.ModuleList
        The residual blocks, each with ``linear1`` and ``linear2``.
    head : torch.nn.Module
        Output layer, weight of shape ``(n_members, hidden_size, n_outputs)``.

    Examples
    --------
    >>> import torch
    >>> from sklearn_isd.neural import ResMLP
    >>> net = ResMLP(8, 3, hidden_size=16, n_members=5)
    >>> net(torch.zeros(4, 8)).shape
    torch.Size([5, 4, 3])
    >>> net.input.weight.shape
    torch.Size([5, 8, 16])
    """

    def __init__(
        self,
        n_features,
        n_outputs,
        hidden_size=512,
        n_blocks=2,
        dropout=0.1,
        n_members=1,
        *,
        generator=None,
    ):
        super().__init__()
        for name, value, low in [
            ("n_features", n_features, 1),
            ("n_outputs", n_outputs, 1),
            ("hidden_size", hidden_size, 1),
            ("n_blocks", n_blocks, 0),
            ("n_members", n_members, 1),
        ]:
            if not isinstance(value, Integral) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}.")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}.")
        self.n_features = int(n_features)
        self.n_outputs = int(n_outputs)
        self.hidden_size = int(hidden_size)
        self.n_blocks = int(n_blocks)
        self.dropout = float(dropout)
        self.n_members = int(n_members)
        M, H = self.n_members, self.hidden_size
        self.input = _MemberLinear(M, self.n_features, H, generator)
        self.blocks = torch.nn.ModuleList(
            [_ResidualBlock(M, H, generator) for _ in range(self.n_blocks)]
        )
        self.head = _MemberLinear(M, H, self.n_outputs, generator)

    def forward(self, X, generator=None):
        """Member outputs for a batch.

        Parameters
        ----------
        X : torch.Tensor of shape (batch, n_features)
            Input batch, shared by all members.
        generator : torch.Generator, default=None
            Generator for the dropout masks in training mode, on the device of
            ``X``; ``None`` uses torch's global generator.

        Returns
        -------
        out : torch.Tensor of shape (n_members, batch, n_outputs)
        """
        h = F.leaky_relu(self.input(X))
        for block in self.blocks:
            h = block(h)
        if self.training and self.dropout > 0:
            if generator is None:
                h = F.dropout(h, self.dropout, training=True)
            else:
                keep = 1.0 - self.dropout
                mask = torch.empty_like(h).bernoulli_(keep, generator=generator)
                h = h * mask / keep
        return self.head(h)


# --------------------------------------------------------------------------
# Committee-aware callbacks
# --------------------------------------------------------------------------


def _n_members(net):
    return int(getattr(net.module_, "n_members", 1))


class MemberGradientNormClipping(GradientNormClipping):
    """Gradient-norm clipping applied to each committee member separately.

    With ``n_members=1`` this is exactly skorch's
    :class:`~skorch.callbacks.GradientNormClipping`. With a committee, the norm
    is taken over each member's slice of the gradients (the leading axis of
    every parameter), so a member is clipped as if it were trained alone and
    one member's large gradient never shrinks the others' updates.

    Parameters
    ----------
    gradient_clip_value : float, default=None
        Maximum norm per member; ``None`` disables clipping.
    gradient_clip_norm_type : float, default=2
        Order of the norm (``float("inf")`` for the max-norm).
    """

    def on_grad_computed(self, net, named_parameters, **kwargs):
        if self.gradient_clip_value is None:
            return
        grads = [p.grad for _, p in named_parameters if p.grad is not None]
        if not grads:
            return
        M = _n_members(net)
        if any(g.dim() == 0 or g.shape[0] != M for g in grads):
            M = 1  # parameters without a member axis: clip them all together
        norm_type = float(self.gradient_clip_norm_type)
        norms = torch.stack(
            [
                torch.linalg.vector_norm(g.reshape(M, -1), norm_type, dim=1)
                for g in grads
            ],
            dim=1,
        )
        total = torch.linalg.vector_norm(norms, norm_type, dim=1)
        # The coefficient of torch.nn.utils.clip_grad_norm_, per member.
        coef = (self.gradient_clip_value / (total + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.mul_(coef.view(M, *([1] * (g.dim() - 1))))


class MemberEarlyStopping(EarlyStopping):
    """Early stopping on the validation loss, decided member by member.

    Each committee member keeps its own best validation loss, its own count of
    epochs without improvement and (``load_best=True``) its own best weights,
    so a committee stops like ``n_members`` separately early-stopped nets:
    training ends when every member has gone ``patience`` epochs without
    improving its validation loss by more than ``threshold``, and each member
    is restored to its best epoch. With ``n_members=1`` this is skorch's
    :class:`~skorch.callbacks.EarlyStopping` with ``load_best=True``. Epochs
    without validation data are ignored.

    Parameters
    ----------
    patience : int, default=50
        Epochs without improvement after which a member is done.
    threshold : float, default=1e-4
        Minimum improvement that counts.
    threshold_mode : {"rel", "abs"}, default="rel"
        Whether ``threshold`` is relative to the best loss or absolute.
    sink : callable, default=print
        Where the stopping message goes (when the net is verbose).
    load_best : bool, default=True
        Restore each member's weights from its best epoch at the end.

    Attributes
    ----------
    best_scores_ : ndarray of shape (n_members,)
        Best validation loss of each member.
    best_epochs_ : ndarray of shape (n_members,)
        Epoch (1-based, as in ``net.history``) of each member's best loss.
    misses_ : ndarray of shape (n_members,)
        Epochs since each member last improved.
    """

    def __init__(
        self,
        patience=50,
        threshold=1e-4,
        threshold_mode="rel",
        sink=print,
        load_best=True,
    ):
        super().__init__(
            monitor="valid_loss",
            patience=patience,
            threshold=threshold,
            threshold_mode=threshold_mode,
            lower_is_better=True,
            sink=sink,
            load_best=load_best,
        )

    def on_train_begin(self, net, **kwargs):
        super().on_train_begin(net, **kwargs)
        M = _n_members(net)
        self.misses_ = np.zeros(M, dtype=int)
        self.dynamic_threshold_ = np.full(M, np.inf)
        self.best_scores_ = np.full(M, np.inf)
        self.best_epochs_ = np.zeros(M, dtype=int)
        self.best_model_weights_ = None

    def on_epoch_begin(self, net, **kwargs):
        self.valid_loss_sum_ = None
        self.valid_count_ = 0

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        member_loss = kwargs.get("member_loss")
        if training or member_loss is None:
            return
        n = len(batch[0])
        loss = to_numpy(member_loss.detach()).astype(np.float64) * n
        self.valid_loss_sum_ = (
            loss if self.valid_loss_sum_ is None else (self.valid_loss_sum_ + loss)
        )
        self.valid_count_ += n

    def on_epoch_end(self, net, **kwargs):
        if not getattr(self, "valid_count_", 0):
            return
        score = self.valid_loss_sum_ / self.valid_count_
        improved = score < self.dynamic_threshold_
        step = (
            self.threshold * score if self.threshold_mode == "rel" else self.threshold
        )
        self.dynamic_threshold_ = np.where(
            improved, score - step, self.dynamic_threshold_
        )
        self.misses_ = np.where(improved, 0, self.misses_ + 1)
        self.best_scores_ = np.where(improved, score, self.best_scores_)
        self.best_epochs_[improved] = net.history[-1, "epoch"]
        if self.load_best and improved.any():
            self._store_best(net.module_, improved)
        if (self.misses_ >= self.patience).all():
            self._sink(
                f"Stopping since valid_loss has not improved in the last "
                f"{self.patience} epochs for any of the {len(self.misses_)} "
                "member(s).",
                verbose=net.verbose,
            )
            raise KeyboardInterrupt

    def _store_best(self, module, improved):
        state = module.state_dict()
        M = len(improved)
        if self.best_model_weights_ is None or improved.all():
            self.best_model_weights_ = {k: v.detach().clone() for k, v in state.items()}
            return
        idx = torch.as_tensor(np.flatnonzero(improved))
        for key, value in state.items():
            best = self.best_model_weights_[key]
            if value.dim() > 0 and value.shape[0] == M:
                best[idx.to(value.device)] = value.detach()[idx.to(value.device)]
            else:
                best.copy_(value.detach())

    def on_train_end(self, net, **kwargs):
        if self.load_best and self.best_model_weights_ is not None:
            net.module_.load_state_dict(self.best_model_weights_)


# --------------------------------------------------------------------------
# Data: float32 arrays or CSR matrices, densified one mini-batch at a time
# --------------------------------------------------------------------------


class _ArrayDataset(torch.utils.data.Dataset):
    """Rows ``indices`` of ``X`` (float32 ndarray or CSR), targets and weights.

    ``weights`` has shape ``(n_members, n_samples)`` (bootstrap counts) or is
    None. Batches are gathered with one fancy index, and a sparse batch is
    densified there, never the whole matrix.
    """

    def __init__(self, X, y=None, weights=None, indices=None):
        self.X = X
        self.y = y
        self.weights = weights
        self.indices = np.arange(X.shape[0]) if indices is None else indices

    def __len__(self):
        return len(self.indices)

    def subset(self, positions):
        positions = np.asarray(positions)
        return _ArrayDataset(self.X, self.y, self.weights, self.indices[positions])

    def get_batch(self, positions):
        rows = self.indices[positions]
        Xb = self.X[rows]
        Xb = Xb.toarray() if sp.issparse(Xb) else Xb
        Xb = torch.from_numpy(np.ascontiguousarray(Xb, dtype=np.float32))
        yb = None if self.y is None else torch.from_numpy(self.y[rows])
        wb = None if self.weights is None else torch.from_numpy(self.weights[:, rows])
        return Xb, (yb, wb)

    def __getitem__(self, i):
        Xb, (yb, wb) = self.get_batch(np.array([i]))
        return Xb[0], (None if yb is None else yb[0], None if wb is None else wb[:, 0])


class _BatchLoader:
    """Mini-batches of an :class:`_ArrayDataset`, reshuffled at each pass."""

    def __init__(self, dataset, batch_size, shuffle=False, rng=None):
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.rng = rng

    def __len__(self):
        return math.ceil(len(self.dataset) / self.batch_size)

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:
            rng = self.rng if self.rng is not None else np.random.default_rng()
            order = rng.permutation(n)
        else:
            order = np.arange(n)
        for start in range(0, n, self.batch_size):
            yield self.dataset.get_batch(order[start : start + self.batch_size])


# --------------------------------------------------------------------------
# The estimators
# --------------------------------------------------------------------------

_RESERVED_MODULE_KWARGS = {"n_features", "n_outputs", "n_members", "generator"}


class _ResMLPBase:
    """What the classifier and the regressor share; mixed in before skorch."""

    # skorch's NeuralNet.__init__ sets these three; they are kept as class-level
    # defaults instead (and removed from the instance in __init__) so that
    # __init__ stores parameters only, as scikit-learn requires.
    history_ = None
    initialized_ = False
    virtual_params_ = types.MappingProxyType({})

    _parameter_constraints = {
        "module": [type],
        "module__hidden_size": [Interval(Integral, 1, None, closed="left")],
        "module__n_blocks": [Interval(Integral, 0, None, closed="left")],
        "module__dropout": [Interval(Real, 0, 1, closed="left")],
        "n_members": [Interval(Integral, 1, None, closed="left")],
        "bootstrap": ["boolean"],
        "optimizer": [type],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "patience": [Interval(Integral, 1, None, closed="left"), None],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither"), None],
        "max_grad_norm": [Interval(Real, 0, None, closed="neither"), None],
        "callbacks": [list, StrOptions({"disable"}), None],
        "warm_start": ["boolean"],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        module=ResMLP,
        *,
        module__hidden_size=512,
        module__n_blocks=2,
        module__dropout=0.1,
        n_members=1,
        bootstrap=True,
        optimizer=torch.optim.Adam,
        lr=1e-3,
        max_epochs=1000,
        batch_size=1024,
        patience=50,
        validation_fraction=0.1,
        max_grad_norm=1.0,
        callbacks=None,
        warm_start=False,
        device="cpu",
        random_state=None,
        verbose=0,
        **kwargs,
    ):
        routed = {k: v for k, v in kwargs.items() if "__" in k}
        super().__init__(
            module,
            criterion=self._criterion,
            optimizer=optimizer,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            train_split=None,
            callbacks=callbacks,
            warm_start=warm_start,
            verbose=verbose,
            device=device,
            **routed,
        )
        # Any other keyword is stored as given and rejected by fit: a
        # constructor only stores its arguments.
        extra = {k: v for k, v in kwargs.items() if k not in routed}
        vars(self).update(extra)
        self._params_to_validate = self._params_to_validate | set(extra)
        self.module__hidden_size = module__hidden_size
        self.module__n_blocks = module__n_blocks
        self.module__dropout = module__dropout
        self.n_members = n_members
        self.bootstrap = bootstrap
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.max_grad_norm = max_grad_norm
        self.random_state = random_state
        for name in ("history_", "initialized_", "virtual_params_"):
            vars(self).pop(name, None)

    # -- parameters --------------------------------------------------------

    def _get_param_names(self):
        # The constructor's named parameters plus the routed ``prefix__name``
        # ones set through **kwargs or set_params (skorch's convention).
        # skorch's own default lists every attribute, including the fixed
        # criterion, iterator and dataset, which are not parameters here.
        named = BaseEstimator._get_param_names.__func__(type(self))
        routed = sorted(
            k
            for k in vars(self)
            if "__" in k and not k.startswith("_") and not k.endswith("_")
        )
        extra = sorted(
            k for k in self._params_to_validate if "__" not in k and k in vars(self)
        )
        return list(named) + [k for k in routed + extra if k not in named]

    def _check_params(self):
        """Reject unknown keywords, then check scikit-learn's constraints."""
        extra = sorted(k for k in self._params_to_validate if "__" not in k)
        if extra:
            raise TypeError(
                f"{type(self).__name__} got unexpected parameter(s) {extra}; "
                "beyond the named parameters only routed ones such as "
                "module__*, optimizer__* or callbacks__* are accepted."
            )
        BaseEstimator._validate_params(self)

    def _validate_params(self):
        # skorch calls this from initialize(), once the module, criterion and
        # optimizer are registered, to check the routed (prefix__name) keys.
        self._check_params()
        super()._validate_params()

    def set_params(self, **params):
        # skorch re-initialises the callbacks as soon as ``callbacks`` is set;
        # here every fit initialises them, so ``callbacks`` is stored only.
        if "callbacks" in params:
            vars(self)["callbacks"] = params.pop("callbacks")
        return super().set_params(**params)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        try:
            tags.non_deterministic = torch.device(self.device).type != "cpu"
        except (RuntimeError, TypeError):
            pass
        return tags

    def __sklearn_is_fitted__(self):
        return "n_features_in_" in vars(self) and "module_" in vars(self)

    # -- skorch hooks ------------------------------------------------------

    @property
    def _default_callbacks(self):
        early_stopping = None
        if self.patience is not None:
            early_stopping = MemberEarlyStopping(patience=self.patience)
        return [
            ("epoch_timer", EpochTimer()),
            ("train_loss", PassthroughScoring(name="train_loss", on_train=True)),
            ("valid_loss", PassthroughScoring(name="valid_loss")),
            (
                "gradient_clipping",
                MemberGradientNormClipping(gradient_clip_value=self.max_grad_norm),
            ),
            ("early_stopping", early_stopping),
            ("print_log", PrintLog()),
        ]

    def initialize_module(self):
        kwargs = self.get_params_for("module")
        reserved = sorted(_RESERVED_MODULE_KWARGS & set(kwargs))
        if reserved:
            raise ValueError(
                f"module__{reserved[0]} cannot be set: the input and output "
                "widths come from the data at fit time and the committee size "
                "from n_members."
            )
        if "n_features_in_" not in vars(self):
            raise ValueError(
                "The module is sized from X at fit time: call fit instead of "
                "initialize."
            )
        if isinstance(self.module, torch.nn.Module):
            raise TypeError(
                "module must be a class such as ResMLP, not an instance: its "
                "input width is set from X at fit time."
            )
        generator = getattr(self, "_init_generator", None)
        if generator is None:
            seed = check_random_state(self.random_state).randint(_SEED_MAX)
            generator = torch.Generator().manual_seed(int(seed))
        self.module_ = self.module(
            n_features=self.n_features_in_,
            n_outputs=self._n_outputs(),
            n_members=self.n_members,
            generator=generator,
            **kwargs,
        )
        return self

    def initialize_criterion(self):
        self.criterion_ = self.criterion(reduction="none")
        return self

    def check_data(self, X, y=None):
        # Inputs are validated in fit with scikit-learn's validate_data.
        pass

    def get_dataset(self, X, y=None):
        if isinstance(X, _ArrayDataset):
            return X
        if isinstance(X, torch.utils.data.Dataset):
            raise TypeError(
                f"{type(self).__name__} takes arrays or sparse matrices, not a "
                "torch Dataset."
            )
        X = check_array(X, accept_sparse="csr", dtype=np.float32)
        return _ArrayDataset(X, y)

    def get_split_datasets(self, X, y=None, **fit_params):
        dataset = self.get_dataset(X, y)
        n = len(dataset)
        if self.validation_fraction is None:
            return dataset, None
        n_valid = math.ceil(self.validation_fraction * n)
        if n - n_valid < 1:
            return dataset, None  # too few samples to hold any out
        stratify = None
        if self._stratify_split and dataset.y is not None:
            counts = np.bincount(dataset.y[dataset.indices])
            counts = counts[counts > 0]
            if counts.min() >= 2 and min(n_valid, n - n_valid) >= len(counts):
                stratify = dataset.y[dataset.indices]
        split = ValidSplit(
            self.validation_fraction,
            stratified=stratify is not None,
            random_state=getattr(self, "_split_seed", None),
        )
        train, valid = split(dataset, stratify)
        return dataset.subset(train.indices), dataset.subset(valid.indices)

    def get_iterator(self, dataset, training=False):
        dataset = self.get_dataset(dataset)
        prefix = "iterator_train" if training else "iterator_valid"
        kwargs = self.get_params_for(prefix)
        batch_size = kwargs.pop("batch_size", self.batch_size)
        if kwargs:
            raise ValueError(
                f"Only {prefix}__batch_size is supported, got "
                f"{sorted(prefix + '__' + k for k in kwargs)}."
            )
        rng = getattr(self, "_shuffle_rng", None) if training else None
        return _BatchLoader(dataset, batch_size, shuffle=training, rng=rng)

    def infer(self, x, **fit_params):
        x = to_tensor(x, device=self.device)
        generator = None
        if self.module_.training:
            generator = getattr(self, "_dropout_generator", None)
        return self.module_(x, generator=generator, **fit_params)

    def _member_loss(self, y_pred, y_true, weights=None):
        """Mean loss of each member over a batch, shape ``(n_members,)``.

        With bootstrap count ``weights`` of shape ``(n_members, batch)`` it is
        ``sum(w * loss) / batch``: the loss on the member's bootstrap sample.
        """
        losses = self._pointwise_loss(y_pred, to_tensor(y_true, device=self.device))
        if weights is None:
            return losses.mean(dim=1)
        weights = to_tensor(weights, device=self.device)
        return (losses * weights).sum(dim=1) / losses.shape[1]

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """Mean over members of each member's mean loss on the batch."""
        if isinstance(y_true, tuple):
            y_true, weights = y_true
        else:
            weights = None
        return self._member_loss(y_pred, y_true, weights).mean()

    def train_step_single(self, batch, **fit_params):
        self._set_training(True)
        Xi, (yi, wi) = batch
        y_pred = self.infer(Xi, **fit_params)
        member_loss = self._member_loss(y_pred, yi, wi)
        # Summing keeps each member's gradient what it would be alone.
        member_loss.sum().backward()
        return {"loss": member_loss.detach().mean(), "y_pred": y_pred}

    def validation_step(self, batch, **fit_params):
        self._set_training(False)
        Xi, (yi, _) = batch
        with torch.no_grad():
            y_pred = self.infer(Xi, **fit_params)
            member_loss = self._member_loss(y_pred, yi)
        return {
            "loss": member_loss.mean(),
            "y_pred": y_pred,
            "member_loss": member_loss,
        }

    def forward(self, X, training=False, device="cpu"):
        """Module output for ``X``, shape ``(n_members, n_samples, n_outputs)``.

        As skorch's ``forward``, but batches are joined along the sample axis,
        which is axis 1 for a committee.
        """
        return torch.cat(
            list(self.forward_iter(X, training=training, device=device)), dim=1
        )

    # -- fitting -----------------------------------------------------------

    def _fit(self, X, y, *, incremental, classes=None):
        self._check_params()
        device = torch.device(self.device)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(
                f"device={self.device!r} was requested but CUDA is not available; "
                "use device='cpu'."
            )
        keep = (
            self.__sklearn_is_fitted__()
            and (incremental or self.warm_start)
            and getattr(self.module_, "n_members", None) == self.n_members
        )
        X, y = validate_data(
            self,
            X,
            y,
            reset=not keep,
            accept_sparse="csr",
            dtype=np.float32,
            y_numeric=not self._stratify_split,
        )
        rng = check_random_state(self.random_state)
        seeds = [int(s) for s in rng.randint(_SEED_MAX, size=4)]
        self._init_generator = torch.Generator().manual_seed(seeds[0])
        self._dropout_generator = torch.Generator(device=device).manual_seed(seeds[1])
        self._shuffle_rng = np.random.default_rng(seeds[2])
        self._split_seed = seeds[3]
        try:
            if keep:
                mode = "partial" if incremental else "warm"
                self._validate_params()
                y_train = self._prepare_targets(y, mode, classes)
                self._initialize_callbacks()
            else:
                y_train = self._prepare_targets(y, "reset", classes)
                self.initialize()
            weights = None
            if self.n_members > 1 and self.bootstrap:
                n = X.shape[0]
                weights = np.stack(
                    [
                        np.bincount(rng.randint(n, size=n), minlength=n)
                        for _ in range(self.n_members)
                    ]
                ).astype(np.float32)
            dataset = _ArrayDataset(X, y_train, weights)
            self.notify("on_train_begin", X=X, y=y)
            try:
                self.fit_loop(dataset, None)
            except KeyboardInterrupt:  # how skorch's early stopping ends a fit
                pass
            self.notify("on_train_end", X=X, y=y)
        finally:
            for name in (
                "_init_generator",
                "_dropout_generator",
                "_shuffle_rng",
                "_split_seed",
            ):
                vars(self).pop(name, None)
        return self

    def _member_outputs(self, X):
        """Raw module outputs for ``X`` as an array (n_members, n_samples, k).

        Every batch has exactly ``batch_size`` rows (the last one is padded
        with zeros), so a sample's output does not depend on which samples it
        is predicted with: float32 matrix products of different shapes round
        differently.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, accept_sparse="csr", dtype=np.float32)
        dataset = _ArrayDataset(X)
        batch_size = self.get_params_for("iterator_valid").get(
            "batch_size", self.batch_size
        )
        self._set_training(False)
        outputs = []
        with torch.no_grad():
            for start in range(0, len(dataset), batch_size):
                Xb, _ = dataset.get_batch(
                    np.arange(start, min(start + batch_size, len(dataset)))
                )
                n = len(Xb)
                if n < batch_size:
                    Xb = torch.cat([Xb, Xb.new_zeros(batch_size - n, Xb.shape[1])])
                outputs.append(to_numpy(self.infer(Xb)[:, :n]))
        return np.concatenate(outputs, axis=1)

    def _replace_head(self, transform):
        """Swap the module's head for ``transform(old_head)``; False if no head."""
        head = getattr(self.module_, "head", None)
        if not isinstance(head, _MemberLinear):
            return False
        new = transform(head)
        if new is not head:
            self.module_.head = new.to(head.weight.device)
            self._initialize_optimizer()
        return True


_COMMON_PARAMS = """
    module : type, default=ResMLP
        The torch module class. It is built as ``module(n_features=...,
        n_outputs=..., n_members=..., generator=..., **module__kwargs)`` and
        its forward ``module(X, generator=None)`` returns an array of shape
        ``(n_members, batch, n_outputs)``; every parameter has the member axis
        first (see :class:`ResMLP`).
    module__hidden_size : int, default=512
        Width of the hidden layers (paper: 512).
    module__n_blocks : int, default=2
        Number of residual blocks (paper's "hidden layers": 2; 3 for QM9).
    module__dropout : float, default=0.1
        Dropout probability before the head (paper: 0.1).
    n_members : int, default=1
        Committee size. Members share one module and one optimizer and are
        trained in the same mini-batches, but each has its own initial
        weights, dropout masks, bootstrap sample, gradient clipping and early
        stopping.
    bootstrap : bool, default=True
        Whether each member trains on its own bootstrap sample of the training
        set (per-sample count weights in the loss) when ``n_members > 1``.
        With ``False`` the members differ only through their initial weights
        and dropout (a deep ensemble).
    optimizer : type, default=torch.optim.Adam
        Optimizer class; its options are routed with ``optimizer__*``.
    lr : float, default=1e-3
        Learning rate (paper: 1e-3).
    max_epochs : int, default=1000
        Maximum number of passes over the training set (paper: 1000, with
        early stopping). On a CPU, 20 to 100 epochs are usually enough.
    batch_size : int, default=1024
        Mini-batch size for training and prediction (paper: 1024).
    patience : int or None, default=50
        Early stopping: a member is done after ``patience`` epochs without a
        better validation loss and is restored to its best epoch; training
        stops when all members are done (paper: 50). ``None`` trains for
        ``max_epochs`` and keeps the last weights.
    validation_fraction : float or None, default=0.1
        Fraction of the training set held out (stratified for classifiers
        where every class has two samples) to monitor the validation loss.
        ``None``, or a set too small to hold out a sample, trains on all
        samples without early stopping.
    max_grad_norm : float or None, default=1.0
        Gradient-norm clipping threshold, applied per member (paper: 1.0).
    callbacks : list of skorch callbacks, "disable" or None, default=None
        Extra skorch callbacks, run after the defaults (``epoch_timer``,
        ``train_loss``, ``valid_loss``, ``gradient_clipping``,
        ``early_stopping``, ``print_log``).
    warm_start : bool, default=False
        If True, ``fit`` continues from the weights of the previous fit (also
        on more data, as in an acquisition loop) instead of starting afresh.
    device : str or torch.device, default="cpu"
        Where the module lives, e.g. ``"cuda"``.
    random_state : int, RandomState instance or None, default=None
        Seeds, drawn once per fit, of the initial weights, dropout masks,
        shuffling, validation split and bootstraps, which use local
        generators: torch's global generator is neither seeded nor consumed
        (``None`` draws the seeds from numpy's global generator, as
        scikit-learn does). With an int, training on the CPU is reproducible.
    verbose : int, default=0
        Print skorch's per-epoch table when positive.
    **kwargs
        Routed parameters, skorch's convention: ``module__*`` goes to the
        module, ``optimizer__*`` to the optimizer (e.g.
        ``optimizer__weight_decay``), ``callbacks__<name>__*`` to a callback
        (e.g. ``callbacks__early_stopping__threshold``),
        ``iterator_train__batch_size`` and ``iterator_valid__batch_size``
        override ``batch_size``. They are parameters like any other for
        ``get_params``, ``set_params`` and ``GridSearchCV``. Any other name
        is stored and makes ``fit`` raise a TypeError."""

_COMMON_NOTES = """
    Inputs are validated with scikit-learn and cast to float32; a scipy.sparse
    matrix (e.g. ECFP fingerprints) is converted to CSR and densified one
    mini-batch at a time. Training losses are summed over members, so each
    member's gradient is the one it would have alone. The loss of a batch
    reported in ``history_`` is the mean over members. Predictions are
    computed in batches of exactly ``batch_size`` rows (the last one padded),
    so that a sample's prediction does not depend on the samples predicted
    with it."""


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
