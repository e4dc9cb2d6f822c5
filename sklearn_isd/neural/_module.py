"""The torch module: a residual MLP whose weights carry a leading member axis."""

import math
from numbers import Integral

import torch
import torch.nn.functional as F


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
