"""Synthetic latent codes with known groups, for tests and benchmarks.

Gaussian blobs of unit variance around centres evenly spaced on a circle
(in the first two of L dimensions), so that their separation, sizes and
number are known exactly: the oracle against which the clustering and the
cluster strategies are checked without a trained auto-encoder.
"""

import numpy as np


def gaussian_blobs(sizes, *, radius=100.0, dim=2, seed=0):
    """Codes drawn from unit-variance Gaussian blobs on a circle.

    Args:
        sizes: codes per blob, `[k]` positive ints.
        radius: radius of the circle of centres; neighbouring centres are
            `2 radius sin(pi / k)` apart.
        dim: L, the codes' dimension (>= 2).
        seed: seed of the draws.

    Returns:
        z: float64 array `[sum(sizes), dim]`, blob after blob.
        blob: int64 array `[sum(sizes)]`, the blob of each code.
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    angles = np.linspace(0, 2 * np.pi, len(sizes), endpoint=False)
    centres = np.zeros((len(sizes), dim))
    centres[:, :2] = radius * np.column_stack([np.cos(angles), np.sin(angles)])
    blob = np.repeat(np.arange(len(sizes)), sizes)
    z = np.random.default_rng(seed).standard_normal((len(blob), dim))
    z += centres[blob]
    return z, blob
