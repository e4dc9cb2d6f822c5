"""Data: float32 arrays or CSR matrices, densified one mini-batch at a time."""

import math

import numpy as np
import scipy.sparse as sp
import torch


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
