"""Principal directions, and the projection that keeps wide codes fast to choose among.

Every rule beyond random works on distances between codes. SimCLR's conv
maps as its code (`code_layer="flatten"`) are 3,136-D for 28x28 images,
and there the k-means of `latens.sampling.clustering` and the medoid
search spend minutes on 50,000 codes where 128-D codes take seconds. So
codes wider than `WIDE` dimensions are replaced by their coordinates along
their `DIMENSIONS` leading principal directions before a rule
(`latens.sampling.select`) or the Ward clustering
(`latens.sampling.cluster`) sees them, the same directions for both.
On the conv maps of MNIST's SimCLR they hold 93 % of the variance; a
network trained from scratch on `cluster-medoid`'s 100 picks among
50,000 learns as much as from the picks in all 3,136 dimensions (-0.1
[-2.2, +2.0] points, ten seeds), and a cell of the study's linear
protocol takes 22 s instead of 174 (docs/beyond.md, "The code's layer").
Narrower codes are used as they are, whatever their kind: the default
128-D embedding and the joined spaces of the study (at most 178-D).

The directions come from a randomised SVD (Halko, Martinsson & Tropp 2011,
"Finding structure with randomness") of at most `SAMPLE` codes, a seeded
draw, so the projection is a function of the codes and the seed alone.
"""

from __future__ import annotations

import numpy as np
from absl import logging

# Codes wider than this are projected; SimCLR's embedding (128-D) and the
# study's joined spaces (at most 178-D) stay whole.
WIDE = 256
# Principal directions kept for wide codes.
DIMENSIONS = 128
# Codes the directions are estimated on (the directions of 20,000 codes are
# those of 50,000 to within sampling noise).
SAMPLE = 20_000
_OVERSAMPLING = 10
_POWER_ITERATIONS = 4


def directions(centred: np.ndarray, rank: int, rng: np.random.Generator) -> np.ndarray:
    """The top `rank` right singular vectors of `centred`, by a randomised SVD.

    Args:
        centred: float64 array `[n, P]`, rows centred.
        rank: number of directions, 1..min(n, P).
        rng: the generator of the random test matrix.

    Returns:
        float64 array `[P, rank]` with orthonormal columns, by decreasing
        singular value.
    """
    basis = centred @ rng.standard_normal((centred.shape[1], min(rank + _OVERSAMPLING, centred.shape[1])))
    for _ in range(_POWER_ITERATIONS):
        basis, _ = np.linalg.qr(centred @ (centred.T @ basis))
    basis, _ = np.linalg.qr(basis)
    _, _, right = np.linalg.svd(basis.T @ centred, full_matrices=False)
    return right[:rank].T


def narrow(z: np.ndarray, *, seed: int, wide: int = WIDE, dimensions: int = DIMENSIONS) -> np.ndarray:
    """Codes wider than `wide` as their coordinates along their `dimensions` leading principal directions.

    Centring removes any shift of the codes, and a positive scale changes
    neither the directions nor, beyond that scale, the distances; the rules
    and the clustering both pass standardised codes, so they project alike.

    Args:
        z: float64 array `[N, L]`.
        seed: seed of the subsample and the randomised SVD.
        wide: codes of at most this many dimensions come back unchanged.
        dimensions: directions kept for wider codes.

    Returns:
        `z` itself when L <= wide, else float64 `[N, min(dimensions, N)]`:
        the centred codes projected onto orthonormal directions, so no
        distance grows.
    """
    if z.shape[1] <= wide:
        return z
    z = z - z.mean(axis=0)
    rng = np.random.default_rng(seed)
    sample = z if len(z) <= SAMPLE else z[np.sort(rng.choice(len(z), SAMPLE, replace=False))]
    rank = min(dimensions, len(sample))
    kept = directions(sample, rank, rng)
    projected = z @ kept
    total = float(np.einsum("ij,ij->", z, z))
    logging.info("Codes of %d dimensions: choosing among their %d leading principal components (%.1f %% of "
                 "the variance).", z.shape[1], rank,
                 100.0 * float(np.einsum("ij,ij->", projected, projected)) / total if total else 100.0)
    return projected
