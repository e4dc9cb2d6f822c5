"""The torch module: a residual MLP whose weights carry a leading member axis."""

import math
from numbers import Integral

import torch
import torch.nn.functional as F

#: The two residual-block layouts of :class:`ResMLP` (see its docstring).
ARCHITECTURES = ("reference", "identity")


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


class _TaskLinear(torch.nn.Module):
    """One affine map per member and per task (a multi-task head layer).

    ``weight`` has shape ``(n_members, n_tasks, in_features, out_features)``
    and ``bias`` ``(n_members, n_tasks, 1, out_features)``. A 3-d input
    ``(n_members, batch, in)`` is shared by the tasks; a 4-d input
    ``(n_members, n_tasks, batch, in)`` gives each task its own. The output
    is ``(n_members, n_tasks, batch, out)``. Initialised with the law of
    :class:`torch.nn.Linear`.
    """

    def __init__(self, n_members, n_tasks, in_features, out_features, generator=None):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = torch.nn.Parameter(
            torch.empty(n_members, n_tasks, in_features, out_features)
        )
        self.bias = torch.nn.Parameter(torch.empty(n_members, n_tasks, 1, out_features))
        bound = 1.0 / math.sqrt(in_features)
        with torch.no_grad():
            self.weight.uniform_(-bound, bound, generator=generator)
            self.bias.uniform_(-bound, bound, generator=generator)

    def extra_repr(self):
        n_members, n_tasks = self.weight.shape[:2]
        return (
            f"n_members={n_members}, n_tasks={n_tasks}, "
            f"in_features={self.in_features}, out_features={self.out_features}"
        )

    def forward(self, h):
        if h.dim() == 3:
            return torch.einsum("mbi,mtio->mtbo", h, self.weight) + self.bias
        return torch.einsum("mtbi,mtio->mtbo", h, self.weight) + self.bias


class _ResidualBlock(torch.nn.Module):
    """Linear → LeakyReLU → Linear, added to the input; LeakyReLU after the sum
    for the ``"reference"`` layout, none for ``"identity"``."""

    def __init__(self, n_members, hidden_size, generator=None, activate_sum=False):
        super().__init__()
        self.linear1 = _MemberLinear(n_members, hidden_size, hidden_size, generator)
        self.linear2 = _MemberLinear(n_members, hidden_size, hidden_size, generator)
        self.activate_sum = activate_sum

    def forward(self, h):
        out = h + self.linear2(F.leaky_relu(self.linear1(h)))
        return F.leaky_relu(out) if self.activate_sum else out

    def __setstate__(self, state):
        # Blocks pickled before the "reference" layout existed are "identity".
        state.setdefault("activate_sum", False)
        super().__setstate__(state)


def _check_sizes(**sizes):
    """Raise unless each ``name=(value, low)`` is an integer ``>= low``."""
    for name, (value, low) in sizes.items():
        if not isinstance(value, Integral) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}.")


def _dropout(h, p, generator):
    """Inverted dropout with masks drawn from ``generator`` (or torch's)."""
    if generator is None:
        return F.dropout(h, p, training=True)
    keep = 1.0 - p
    mask = torch.empty_like(h).bernoulli_(keep, generator=generator)
    return h * mask / keep


class ResMLP(torch.nn.Module):
    """Residual MLP, or a vectorised committee of ``n_members`` of them.

    Two layouts of the same layers (``architecture``):

    - ``"reference"`` (default), the network of the paper's public code
      (``ResMLP`` in its ``models/mlps.py``, which its QM9 runs use with
      ``n_res_block=2``): Linear → LeakyReLU → ``n_blocks`` times [residual
      block: Linear → LeakyReLU → Linear, added to the block input, then
      LeakyReLU; then Dropout] → Linear head. Dropout follows every block.
    - ``"identity"``, the earlier layout of sklearn-isd, kept for models and
      results recorded with it: the residual path stays an identity map (no
      activation after the sum) and a single Dropout comes before the head:
      Linear → LeakyReLU → ``n_blocks`` times [x + Linear(LeakyReLU(Linear(x)))]
      → Dropout → Linear head.

    LeakyReLU has slope 0.01 in both, as in the reference. Every weight has a
    leading member axis, shape ``(n_members, in, out)``, and all members are
    evaluated at once with batched matrix products (no Python loop over
    members). Each member is initialised independently with the law of
    :class:`torch.nn.Linear`, ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``, which
    is also the reference's.

    With ``n_tasks > 1`` (multi-output estimators) the trunk is shared and
    each task has its own head: with ``n_head_layers=0`` one linear map per
    task (stored as one ``head`` of width ``n_tasks * n_outputs``), else
    ``n_head_layers`` hidden layers per task (Linear → LeakyReLU → Dropout,
    width ``head_hidden_size``) before the task's output layer, all tasks
    evaluated with batched products, as the reference's multi-task network
    does with its per-task heads.

    Parameters
    ----------
    n_features : int
        Input width. :class:`ResMLPClassifier` and :class:`ResMLPRegressor`
        set it from ``X`` at fit time.
    n_outputs : int
        Output width per task: number of classes (logits) or 1 for
        regression.
    hidden_size : int, default=512
        Width of the hidden layers.
    n_blocks : int, default=2
        Number of residual blocks.
    dropout : float, default=0.1
        Dropout probability: after every block (``"reference"``) or once
        before the head (``"identity"``); also after every hidden layer of
        the task heads.
    n_members : int, default=1
        Committee size.
    architecture : {"reference", "identity"}, default="reference"
        Layout of the blocks and of dropout, see above.
    n_tasks : int, default=1
        Number of tasks (outputs of a multi-output estimator), each with its
        own head; the output has ``n_tasks * n_outputs`` columns, task by
        task.
    n_head_layers : int, default=0
        Hidden layers of each task's head (multi-task only).
    head_hidden_size : int or None, default=None
        Width of those layers; None uses ``hidden_size``.
    generator : torch.Generator, default=None
        CPU generator for the initial weights and nothing else; ``None`` draws
        from torch's global generator, as :class:`torch.nn.Linear` does.

    Attributes
    ----------
    input : torch.nn.Module
        First layer, weight of shape ``(n_members, n_features, hidden_size)``.
    blocks : torch.nn.ModuleList
        The residual blocks, each with ``linear1`` and ``linear2``.
    head_layers : torch.nn.ModuleList
        Hidden layers of the task heads (empty unless ``n_head_layers``).
    head : torch.nn.Module
        Output layer: weight of shape ``(n_members, hidden_size, n_tasks *
        n_outputs)``, or ``(n_members, n_tasks, head_hidden_size,
        n_outputs)`` after head layers.

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
        architecture="reference",
        n_tasks=1,
        n_head_layers=0,
        head_hidden_size=None,
        generator=None,
    ):
        super().__init__()
        if head_hidden_size is None:
            head_hidden_size = hidden_size
        _check_sizes(
            n_features=(n_features, 1),
            n_outputs=(n_outputs, 1),
            hidden_size=(hidden_size, 1),
            n_blocks=(n_blocks, 0),
            n_members=(n_members, 1),
            n_tasks=(n_tasks, 1),
            n_head_layers=(n_head_layers, 0),
            head_hidden_size=(head_hidden_size, 1),
        )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}.")
        if architecture not in ARCHITECTURES:
            raise ValueError(
                f"architecture must be one of {ARCHITECTURES}, got {architecture!r}."
            )
        self.n_features = int(n_features)
        self.n_outputs = int(n_outputs)
        self.hidden_size = int(hidden_size)
        self.n_blocks = int(n_blocks)
        self.dropout = float(dropout)
        self.n_members = int(n_members)
        self.architecture = architecture
        self.n_tasks = int(n_tasks)
        self.n_head_layers = int(n_head_layers)
        self.head_hidden_size = int(head_hidden_size)
        M, H = self.n_members, self.hidden_size
        self.input = _MemberLinear(M, self.n_features, H, generator)
        activate_sum = architecture == "reference"
        self.blocks = torch.nn.ModuleList(
            [
                _ResidualBlock(M, H, generator, activate_sum=activate_sum)
                for _ in range(self.n_blocks)
            ]
        )
        self.head_layers, self.head = self._build_head(generator)

    def _build_head(self, generator):
        """The task heads: hidden layers (multi-task only) and the output map."""
        M, H, T = self.n_members, self.hidden_size, self.n_tasks
        head_layers = torch.nn.ModuleList()
        if T == 1 or not self.n_head_layers:
            return head_layers, _MemberLinear(M, H, T * self.n_outputs, generator)
        width = H
        for _ in range(self.n_head_layers):
            layer = _TaskLinear(M, T, width, self.head_hidden_size, generator)
            head_layers.append(layer)
            width = self.head_hidden_size
        return head_layers, _TaskLinear(M, T, width, self.n_outputs, generator)

    def __setstate__(self, state):
        # Modules pickled before these options existed.
        defaults = dict(architecture="identity", n_tasks=1, n_head_layers=0)
        for key, value in defaults.items():
            state.setdefault(key, value)
        state.setdefault("head_hidden_size", state.get("hidden_size", 1))
        super().__setstate__(state)
        if "head_layers" not in self._modules:
            self.head_layers = torch.nn.ModuleList()

    def forward(self, X, generator=None):
        """Member outputs for a batch.

        Parameters
        ----------
        X : torch.Tensor of shape (batch, n_features)
            Input batch, shared by all members.
        generator : torch.Generator, default=None
            Generator for the dropout masks in training mode (also used for
            Monte Carlo dropout), on the device of ``X``; ``None`` uses
            torch's global generator.

        Returns
        -------
        out : torch.Tensor of shape (n_members, batch, n_tasks * n_outputs)
        """
        drop = self.training and self.dropout > 0
        h = F.leaky_relu(self.input(X))
        for block in self.blocks:
            h = block(h)
            if drop and self.architecture == "reference":
                h = _dropout(h, self.dropout, generator)
        if drop and self.architecture == "identity":
            h = _dropout(h, self.dropout, generator)
        if not self.head_layers:
            return self.head(h)
        for layer in self.head_layers:
            h = F.leaky_relu(layer(h))
            if drop:
                h = _dropout(h, self.dropout, generator)
        out = self.head(h)  # (members, tasks, batch, n_outputs)
        M, T, B, K = out.shape
        return out.permute(0, 2, 1, 3).reshape(M, B, T * K)
