"""Mini-batches drawn from the training set: a seeded shuffle per epoch, like a PyTorch DataLoader with
shuffle=True and drop_last=False (the last batch of an epoch may be shorter). Same seed -> same batches."""

from __future__ import annotations

import numpy as np

from . import limits


class BatchSampler:
    def __init__(self, n: int, batch_size: int, seed: int):
        if n < 1:
            raise ValueError("the training set is empty")
        self.n = int(n)
        self.rng = np.random.default_rng(seed)
        self.set_batch_size(batch_size)
        self.epoch = 0  # completed passes over the training set
        self._order = self.rng.permutation(self.n)
        self._pos = 0

    def set_batch_size(self, batch_size: int) -> None:
        """Takes effect from the next batch; the current epoch continues where it was."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or \
                not 1 <= batch_size <= limits.MAX_BATCH:
            raise ValueError(f"batch_size must be an integer from 1 to {limits.MAX_BATCH}, not {batch_size!r}")
        self.batch_size = int(batch_size)

    def next(self) -> np.ndarray:
        """Indices into the training set. A batch size of n or more gives the whole set (in index order)."""
        if self.batch_size >= self.n:
            self.epoch += 1
            return np.arange(self.n)
        if self._pos >= self.n:
            self._order = self.rng.permutation(self.n)
            self._pos = 0
            self.epoch += 1
        idx = self._order[self._pos:self._pos + self.batch_size]
        self._pos += len(idx)
        return idx
