"""Nearest-neighbour queries that stay fast in any dimension: a k-d tree in few, matrix products in many.

A k-d tree prunes well in the 2-D latent spaces of the paper but degrades to a
slow brute force in the hundreds of dimensions of a contrastive embedding.
`NearestNeighbours` answers cKDTree's queries (`query`, `query_ball_point`,
`query_pairs`, with its conventions) by `scipy.spatial.cKDTree` up to
`TREE_DIMENSIONS` dimensions, and beyond by squared distances
|x|^2 + |p|^2 - 2 x.p computed block by block with matrix products, which
use the machine's BLAS and never hold more than `_BLOCK_ENTRIES` distances.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial import cKDTree

TREE_DIMENSIONS = 8
_BLOCK_ENTRIES = 4_000_000


class NearestNeighbours:
    """Queries against a fixed set of points `[N, L]` (see the module docstring)."""

    def __init__(self, points: np.ndarray):
        self.points = np.asarray(points, dtype=np.float64)
        self.tree = cKDTree(self.points) if self.points.shape[1] <= TREE_DIMENSIONS else None
        self.norms = None if self.tree is not None else np.einsum("ij,ij->i", self.points, self.points)

    def query(self, x: np.ndarray, k: int = 1, distance_upper_bound: float = math.inf):
        """The k nearest points of each row of x, as cKDTree.query returns them.

        Returns:
          `(distances, indices)`: `[B]` each for k = 1, else `[B, k]`, nearest
          first; beyond `distance_upper_bound`, distance inf and index N.
          A 1-D x gives one row without the batch axis.
        """
        if self.tree is not None:
            return self.tree.query(x, k=k, distance_upper_bound=distance_upper_bound)
        single = np.ndim(x) == 1
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        size = len(self.points)
        keep = min(k, size)
        distances = np.full((len(x), k), math.inf)
        indices = np.full((len(x), k), size, dtype=np.int64)
        for start, block in self._blocks(x):
            rows = slice(start, start + len(block))
            if keep == 1:  # The nearest alone: one pass, no partition.
                part = np.argmin(self.norms[None, :] - 2.0 * block @ self.points.T, axis=1)[:, None]
            elif keep < size:
                part = np.argpartition(self._squared(block), keep - 1, axis=1)[:, :keep]
            else:
                part = np.broadcast_to(np.arange(size), (len(block), size)).copy()
            # The candidates' distances, exactly: the expanded form leaves ~1e-8
            # where two points coincide, and duplicates must come out at 0.
            exact = np.sqrt(np.einsum("bkl,bkl->bk", block[:, None, :] - self.points[part],
                                      block[:, None, :] - self.points[part]))
            order = np.lexsort((part, exact), axis=1)
            distances[rows, :keep] = np.take_along_axis(exact, order, axis=1)
            indices[rows, :keep] = np.take_along_axis(part, order, axis=1)
        beyond = distances >= distance_upper_bound  # cKDTree keeps only distances strictly below.
        distances[beyond], indices[beyond] = math.inf, size
        if k == 1:
            distances, indices = distances[:, 0], indices[:, 0]
        return (distances[0], indices[0]) if single else (distances, indices)

    def query_ball_point(self, x: np.ndarray, r: float, return_length: bool = False):
        """The points within r of each row of x (of x itself when 1-D), or how many, as cKDTree does."""
        if self.tree is not None:
            return self.tree.query_ball_point(x, r, return_length=return_length)
        single = np.ndim(x) == 1
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        found = []
        for _, block in self._blocks(x):
            within = self._within(block, r)
            found.extend(within.sum(axis=1) if return_length else [np.flatnonzero(row) for row in within])
        result = np.asarray(found) if return_length else found
        return result[0] if single else result

    def query_pairs(self, r: float) -> np.ndarray:
        """Every pair (i, j), i < j, of points within r of each other: int64 `[M, 2]`, as cKDTree's ndarray output."""
        if self.tree is not None:
            return self.tree.query_pairs(r, output_type="ndarray")
        pairs = []
        for start, block in self._blocks(self.points):
            rows, columns = np.nonzero(self._within(block, r))
            rows += start
            later = columns > rows
            pairs.append(np.column_stack([rows[later], columns[later]]))
        return np.concatenate(pairs) if pairs else np.empty((0, 2), dtype=np.int64)

    def _blocks(self, x: np.ndarray):
        rows = max(1, _BLOCK_ENTRIES // max(1, len(self.points)))
        for start in range(0, len(x), rows):
            yield start, x[start : start + rows]

    def _within(self, block: np.ndarray, r: float) -> np.ndarray:
        """Whether each point lies within r of each row of block `[B, N]`, decided on exact distances.

        The expanded form picks the candidates (its rounding is far below the
        slack), exact differences decide them, as a k-d tree would.
        """
        slack = 1e-9 * (1.0 + float(self.norms.max()) + float(np.max(np.einsum("ij,ij->i", block, block))))
        candidates = self._squared(block) <= r * r + slack
        rows, columns = np.nonzero(candidates)
        diff = block[rows] - self.points[columns]
        candidates[rows, columns] = np.einsum("ij,ij->i", diff, diff) <= r * r
        return candidates

    def _squared(self, block: np.ndarray) -> np.ndarray:
        squared = np.einsum("ij,ij->i", block, block)[:, None] + self.norms[None, :] - 2.0 * block @ self.points.T
        return np.maximum(squared, 0.0)


class SquaredDistances:
    """Squared distances from every point to point i, `[N]`: directly in few dimensions, and in many by
    one matrix-vector product (no `[N, L]` temporary per call, which sequential picks would pay N times)."""

    def __init__(self, points: np.ndarray):
        self.points = points
        self.norms = np.einsum("ij,ij->i", points, points) if points.shape[1] > TREE_DIMENSIONS else None

    def __call__(self, i: int) -> np.ndarray:
        if self.norms is None:
            diff = self.points - self.points[i]
            return np.einsum("ij,ij->i", diff, diff)
        return np.maximum(self.norms + self.norms[i] - 2.0 * (self.points @ self.points[i]), 0.0)
