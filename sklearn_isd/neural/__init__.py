"""Residual MLPs and vectorised committees of them, as scikit-learn estimators.

:class:`ResMLPClassifier` and :class:`ResMLPRegressor` are the networks of the
paper (Appendix B, Table 1) as its public code builds them (the
``"reference"`` architecture of :class:`ResMLP`: LeakyReLU after every
residual sum, dropout after every block), trained with Adam, gradient-norm
clipping and early stopping, on a held-out part of the training labels by
default or on a fixed validation set (``train_split``, as the paper's code).
A 2-d ``y`` trains a multi-task net, one head per column, with a loss masked
on missing cells. Both are skorch nets (:class:`skorch.NeuralNetClassifier`,
:class:`skorch.NeuralNetRegressor`), so ``set_params``, ``GridSearchCV``,
pickling and skorch callbacks work as usual.

A *committee* of ``n_members`` networks lives in one :class:`ResMLP` module
whose weights have a leading member axis and which is evaluated with batched
matrix products; members are trained together, each on its own bootstrap of
the training set, with per-member gradient clipping and per-member early
stopping, so that the committee behaves like ``n_members`` separately trained
nets at a fraction of the cost. ``predict_members`` exposes the member
predictions used by the ``vote_entropy`` and ``std`` acquisition functions.

Everything here needs torch and skorch (``pip install "sklearn-isd[neural]"``);
importing this module without them raises an ImportError that says so.
"""

try:
    import skorch  # noqa: F401
    import torch  # noqa: F401
except ImportError as exc:
    raise ImportError(
        f"torch and skorch are required for sklearn_isd.neural ({exc}); install "
        'them with `pip install "sklearn-isd[neural]"`.'
    ) from exc

# The package follows skorch's own layout: the torch module (_module), the
# callbacks (_callbacks), the data (_data), the shared net (_net) and the
# classifier and regressor built on it.
from ._callbacks import MemberEarlyStopping, MemberGradientNormClipping
from ._classifier import ResMLPClassifier
from ._module import ResMLP, _MemberLinear, _ResidualBlock
from ._regressor import ResMLPRegressor

__all__ = [
    "MemberEarlyStopping",
    "MemberGradientNormClipping",
    "ResMLP",
    "ResMLPClassifier",
    "ResMLPRegressor",
]

# These classes keep the dotted path they had when this package was a single
# module: campaign files store an estimator's class by that path (see
# sklearn_isd._persist), and pickles of fitted nets store the torch modules'
# classes, _MemberLinear and _ResidualBlock included.
for _cls in (
    MemberEarlyStopping,
    MemberGradientNormClipping,
    ResMLP,
    ResMLPClassifier,
    ResMLPRegressor,
    _MemberLinear,
    _ResidualBlock,
):
    _cls.__module__ = __name__
del _cls
