"""What the classifier and the regressor share: the skorch net of a committee."""

import functools
import math
import types
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import (
    check_array,
    check_consistent_length,
    check_is_fitted,
    validate_data,
)
from skorch.callbacks import EpochTimer, PassthroughScoring, PrintLog
from skorch.dataset import ValidSplit
from skorch.utils import to_numpy, to_tensor

from ..utils._compat import Interval, StrOptions
from ._callbacks import MemberEarlyStopping, MemberGradientNormClipping
from ._data import _ArrayDataset, _BatchLoader
from ._module import ARCHITECTURES, ResMLP, _MemberLinear

_SEED_MAX = np.iinfo(np.int32).max
#: What ``_seed_fit`` sets for one fit, and the fit removes when it ends.
_FIT_RANDOMNESS = (
    "_init_generator",
    "_dropout_generator",
    "_shuffle_rng",
    "_split_seed",
    "_valid_dataset",
)

_RESERVED_MODULE_KWARGS = {
    "n_features",
    "n_outputs",
    "n_members",
    "n_tasks",
    "generator",
}


def _ndim(y):
    """Dimensions of an array-like, without numpy's array functions."""
    shape = getattr(y, "shape", None)
    if shape is not None:
        return len(shape)
    try:
        return np.asarray(y).ndim
    except ValueError:  # ragged: left to the validation to reject
        return 1


class _ResMLPBase:
    """What the classifier and the regressor share; mixed in before skorch."""

    # skorch's NeuralNet.__init__ sets these three; they are kept as class-level
    # defaults instead (and removed from the instance in __init__) so that
    # __init__ stores parameters only, as scikit-learn requires.
    history_ = None
    initialized_ = False
    virtual_params_ = types.MappingProxyType({})
    # Whether the last fit saw a label matrix (2-d y); fitted state.
    _multioutput = False

    _parameter_constraints = {
        "module": [type],
        "module__hidden_size": [Interval(Integral, 1, None, closed="left")],
        "module__n_blocks": [Interval(Integral, 0, None, closed="left")],
        "module__dropout": [Interval(Real, 0, 1, closed="left")],
        "module__architecture": [StrOptions(set(ARCHITECTURES))],
        "n_members": [Interval(Integral, 1, None, closed="left")],
        "bootstrap": ["boolean"],
        "optimizer": [type],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "patience": [Interval(Integral, 1, None, closed="left"), None],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither"), None],
        "train_split": [tuple, list, callable, None],
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
        module__architecture="reference",
        n_members=1,
        bootstrap=True,
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
        self.module__architecture = module__architecture
        self.n_members = n_members
        self.bootstrap = bootstrap
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.train_split = train_split
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
        tags.target_tags.multi_output = True
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
        if vars(self).get("_multioutput"):
            kwargs["n_tasks"] = self.n_outputs_
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
        valid = vars(self).get("_valid_dataset")
        if valid is not None:  # a fixed validation set (train_split)
            return dataset, (valid if len(valid) else None)
        n = len(dataset)
        if self.validation_fraction is None:
            return dataset, None
        n_valid = math.ceil(self.validation_fraction * n)
        if n - n_valid < 1:
            return dataset, None  # too few samples to hold any out
        stratify = None
        labels = None if dataset.y is None else dataset.y[dataset.indices]
        if labels is not None and labels.ndim == 2 and labels.shape[1] == 1:
            labels = labels[:, 0]  # one output: split as for a 1-d y
        if self._stratify_split and labels is not None and labels.ndim == 1:
            counts = np.bincount(labels[labels >= 0])
            counts = counts[counts > 0]
            complete = labels.min() >= 0
            if (
                complete
                and counts.min() >= 2
                and min(n_valid, n - n_valid) >= len(counts)
            ):
                stratify = labels
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
        device = self._fit_device()
        keep = (
            self.__sklearn_is_fitted__()
            and (incremental or self.warm_start)
            and getattr(self.module_, "n_members", None) == self.n_members
        )
        multi = y is not None and _ndim(y) == 2
        keep = keep and vars(self).get("_multioutput", False) == multi
        if multi:
            # A label matrix: one output per column, NaN (or None) where a
            # cell has no label; the loss skips those cells.
            X = validate_data(
                self, X, reset=not keep, accept_sparse="csr", dtype=np.float32
            )
            y = check_array(
                y,
                ensure_2d=True,
                ensure_all_finite="allow-nan",
                dtype=None if self._stratify_split else np.float64,
                input_name="y",
            )
            check_consistent_length(X, y)
        else:
            X, y = validate_data(
                self,
                X,
                y,
                reset=not keep,
                accept_sparse="csr",
                dtype=np.float32,
                y_numeric=not self._stratify_split,
            )
        self._multioutput = multi
        self.n_outputs_ = y.shape[1] if multi else 1
        rng = check_random_state(self.random_state)
        self._seed_fit(rng, device)
        try:
            y_train = self._prepare_fit(y, keep, incremental, classes)
            self._valid_dataset = self._validation_dataset()
            weights = self._bootstrap_weights(rng, X.shape[0])
            dataset = _ArrayDataset(X, y_train, weights)
            self.notify("on_train_begin", X=X, y=y)
            try:
                self.fit_loop(dataset, None)
            except KeyboardInterrupt:  # how skorch's early stopping ends a fit
                pass
            self.notify("on_train_end", X=X, y=y)
        finally:
            for name in _FIT_RANDOMNESS:
                vars(self).pop(name, None)
        return self

    def _validation_arrays(self):
        """``(X_val, y_val)`` of ``train_split``, or None for the internal split."""
        split = self.train_split
        if split is None:
            return None
        if isinstance(split, functools.partial) and "valid_ds" in split.keywords:
            # skorch.helper.predefined_split(Dataset(X_val, y_val))
            valid_ds = split.keywords["valid_ds"]
            if not hasattr(valid_ds, "X"):
                raise TypeError(
                    "train_split=predefined_split(...) needs a skorch Dataset "
                    "with X and y, got "
                    f"{type(valid_ds).__name__}."
                )
            return valid_ds.X, valid_ds.y
        if isinstance(split, tuple | list) and len(split) == 2:
            return split[0], split[1]
        raise TypeError(
            "train_split must be None (hold out validation_fraction of the "
            "training set), a tuple (X_val, y_val) of a fixed validation set, "
            "or skorch.helper.predefined_split(Dataset(X_val, y_val)); got "
            f"{type(split).__name__}."
        )

    def _validation_dataset(self):
        """The fixed validation set of ``train_split`` as a dataset, or None.

        Its targets are encoded like the training targets (class codes, or
        the standardised target of the regressor); classifier rows whose label
        is not among ``classes_`` cannot be scored and are left out.
        """
        arrays = self._validation_arrays()
        if arrays is None:
            return None
        X_val, y_val = arrays
        if y_val is None:
            raise ValueError("train_split=(X_val, y_val) needs the labels y_val.")
        X_val = check_array(X_val, accept_sparse="csr", dtype=np.float32)
        if X_val.shape[1] != self.n_features_in_:
            raise ValueError(
                f"The validation set of train_split has {X_val.shape[1]} features, "
                f"but {type(self).__name__} is fit on {self.n_features_in_}."
            )
        y_val = np.asarray(y_val)
        if y_val.shape[0] != X_val.shape[0]:
            raise ValueError(
                f"train_split has {X_val.shape[0]} validation samples but "
                f"{y_val.shape[0]} labels."
            )
        rows, y_enc = self._prepare_valid_targets(y_val)
        if rows is not None:
            X_val = X_val[rows]
        return _ArrayDataset(X_val, y_enc)

    def _fit_device(self):
        """The device to fit on; a ValueError if CUDA is asked for but absent."""
        device = torch.device(self.device)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(
                f"device={self.device!r} was requested but CUDA is not available; "
                "use device='cpu'."
            )
        return device

    def _seed_fit(self, rng, device):
        """Draw the fit's four seeds from ``rng`` and set its generators.

        They seed the initial weights, the dropout masks (on ``device``), the
        shuffling and the validation split, and live only during the fit (see
        ``_FIT_RANDOMNESS``).
        """
        seeds = [int(s) for s in rng.randint(_SEED_MAX, size=4)]
        self._init_generator = torch.Generator().manual_seed(seeds[0])
        self._dropout_generator = torch.Generator(device=device).manual_seed(seeds[1])
        self._shuffle_rng = np.random.default_rng(seeds[2])
        self._split_seed = seeds[3]

    def _prepare_fit(self, y, keep, incremental, classes):
        """Encode ``y`` and initialise the net; return the training targets.

        With ``keep`` the module, its weights and the optimizer are kept (a
        ``partial_fit``, or a warm start) and only the callbacks start afresh;
        otherwise everything is initialised anew.
        """
        if keep:
            mode = "partial" if incremental else "warm"
            self._validate_params()
            y_train = self._prepare_targets(y, mode, classes)
            self._initialize_callbacks()
        else:
            y_train = self._prepare_targets(y, "reset", classes)
            self.initialize()
        return y_train

    def _bootstrap_weights(self, rng, n):
        """Each member's bootstrap counts of the ``n`` samples, or None.

        Shape ``(n_members, n)``, float32; None for a single member or
        ``bootstrap=False``.
        """
        if not (self.n_members > 1 and self.bootstrap):
            return None
        return np.stack(
            [
                np.bincount(rng.randint(n, size=n), minlength=n)
                for _ in range(self.n_members)
            ]
        ).astype(np.float32)

    def _member_outputs(self, X, n_passes=None, random_state=None):
        """Raw module outputs for ``X`` as an array (n_members, n_samples, k).

        Every batch has exactly ``batch_size`` rows (the last one is padded
        with zeros), so a sample's output does not depend on which samples it
        is predicted with: float32 matrix products of different shapes round
        differently.

        With ``n_passes``, Monte Carlo dropout: the module runs in training
        mode (dropout on) ``n_passes`` times with masks drawn from a local
        generator seeded by ``random_state``, and the result has shape
        ``(n_passes, n_members, n_samples, k)``.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, accept_sparse="csr", dtype=np.float32)
        dataset = _ArrayDataset(X)
        batch_size = self.get_params_for("iterator_valid").get(
            "batch_size", self.batch_size
        )
        generator = None
        if n_passes is not None:
            seed = check_random_state(random_state).randint(_SEED_MAX)
            device = next(self.module_.parameters()).device
            generator = torch.Generator(device=device).manual_seed(int(seed))
        self._set_training(False)
        passes = []
        try:
            if generator is not None:
                self.module_.train()
            with torch.no_grad():
                for _ in range(1 if n_passes is None else n_passes):
                    outputs = []
                    for start in range(0, len(dataset), batch_size):
                        Xb, _ = dataset.get_batch(
                            np.arange(start, min(start + batch_size, len(dataset)))
                        )
                        n = len(Xb)
                        if n < batch_size:
                            Xb = torch.cat(
                                [Xb, Xb.new_zeros(batch_size - n, Xb.shape[1])]
                            )
                        if generator is None:
                            out = self.infer(Xb)
                        else:
                            Xb = to_tensor(Xb, device=self.device)
                            out = self.module_(Xb, generator=generator)
                        outputs.append(to_numpy(out[:, :n]))
                    passes.append(np.concatenate(outputs, axis=1))
        finally:
            self._set_training(False)
        return passes[0] if n_passes is None else np.stack(passes)

    def _mc_random_state(self, random_state):
        """Seed source of Monte Carlo dropout: ``random_state``, else the net's."""
        return self.random_state if random_state is None else random_state

    def _check_mc_dropout(self, n_passes):
        if not isinstance(n_passes, Integral) or n_passes < 1:
            raise ValueError(f"n_passes must be an integer >= 1, got {n_passes!r}.")
        if not getattr(self.module_, "dropout", 0) > 0:
            raise ValueError(
                "Monte Carlo dropout needs dropout: this network was trained with "
                f"module__dropout={getattr(self.module_, 'dropout', 0)!r}."
            )

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
        Number of residual blocks. The paper's Table 1 gives 2 "hidden
        layers", and 3 for QM9; the authors' public code builds
        ``n_res_block = n_hidden_layers = 2`` blocks for every task, QM9
        included, and 2 is what reproduces their QM9 curves (see
        :ref:`models`).
    module__dropout : float, default=0.1
        Dropout probability (paper: 0.1): after every residual block
        (``"reference"``) or once before the head (``"identity"``).
    module__architecture : {"reference", "identity"}, default="reference"
        Layout of the residual blocks (see :class:`ResMLP`).
        ``"reference"``: the network of the authors' public code, LeakyReLU
        after each residual sum and dropout after each block.
        ``"identity"``: the earlier layout of this package, no activation
        after the sum and one dropout before the head.
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
        samples without early stopping. Unused when ``train_split`` is given.
    train_split : tuple (X_val, y_val), skorch predefined_split or None, \
            default=None
        Where early stopping gets its validation loss. ``None`` (the honest
        default of a screen): the ``validation_fraction`` held out of the
        training set, so that no label outside the measured ones is used.
        A fixed validation set ``(X_val, y_val)`` (or skorch's
        ``predefined_split(Dataset(X_val, y_val))``): every training sample
        is trained on and the validation loss is computed on that set at
        every epoch, as in the paper's code (which early-stops on a labelled
        validation split apart from the library). Classifier rows whose label
        is not among the training classes are left out of it.
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
    A 2-d ``y`` (a label matrix: compounds x genes, compounds x assays) makes
    a multi-output net: one shared trunk and one head per column (see
    ``module__n_head_layers`` and ``module__head_hidden_size`` of
    :class:`ResMLP` for heads with hidden layers, as in the paper's
    multi-task network). A cell without a label (NaN, or None in an object
    array) adds nothing to the loss, so a matrix screen's partly measured
    rows train the net as they are; the loss of a mini-batch is the mean
    over its labelled cells.

    Inputs are validated with scikit-learn and cast to float32; a scipy.sparse
    matrix (e.g. ECFP fingerprints) is converted to CSR and densified one
    mini-batch at a time. Training losses are summed over members, so each
    member's gradient is the one it would have alone. The loss of a batch
    reported in ``history_`` is the mean over members. Predictions are
    computed in batches of exactly ``batch_size`` rows (the last one padded),
    so that a sample's prediction does not depend on the samples predicted
    with it."""
