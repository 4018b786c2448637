"""Input checks shared by the query-selection strategies and the clustering.

Every public entry point of `latens.sampling` turns bad input into a
`ValueError` that says what was expected, before any work starts, so that a
wrong array never becomes a crash deep inside a k-d tree or a hang in
Algorithm 1. The messages have `latens.checks`' shape, `<name> must be
<condition>, got <value>`, and its scalar checks are used where they fit.
"""

import numbers

import numpy as np

from latens import checks


def check_codes(z):
    """Returns the latent codes as a float64 array, or raises `ValueError`.

    Args:
        z: array-like `[N, L]` of latent codes, N >= 1 and L >= 1.

    Returns:
        float64 array `[N, L]` (a copy only where a conversion was needed).
    """
    z = np.asarray(z)
    if z.ndim != 2:
        raise ValueError(
            f"z must be a 2-D array of latent codes [N, L], got shape {z.shape}")
    if z.shape[0] == 0 or z.shape[1] == 0:
        raise ValueError(
            f"z must hold at least one code of one dimension, got shape {z.shape}")
    if not (np.issubdtype(z.dtype, np.floating) or np.issubdtype(z.dtype, np.integer)):
        raise ValueError(f"z must be numeric, got dtype {z.dtype}")
    z = np.asarray(z, dtype=np.float64)
    bad = ~np.isfinite(z).all(axis=1)
    if bad.any():
        raise ValueError(
            f"z must be finite, got NaN or infinite values in {int(bad.sum())} of its {len(z)} "
            f"rows (first: row {int(np.flatnonzero(bad)[0])})")
    return z


def check_count(n, num_points, what="n"):
    """Returns `n` as an int in 1..num_points, or raises `ValueError`.

    Args:
        n: requested number of items.
        num_points: N, the number of codes to choose from.
        what: the argument's name, for the message.

    Returns:
        int.
    """
    n = checks.integer(what, n)
    if not 1 <= n <= num_points:
        raise ValueError(f"{what} must be between 1 and N = {num_points}, got {n}")
    return int(n)


def check_positive_int(value, what):
    """Returns `value` as an int >= 1, or raises `ValueError`."""
    return checks.at_least(what, checks.integer(what, value), 1)


def check_seed(seed):
    """Returns a seed as a non-negative int, or raises `ValueError`."""
    return checks.at_least("seed", checks.integer("seed", seed), 0)


def check_errors(errors, num_points):
    """Returns per-example reconstruction errors as a float64 array.

    Args:
        errors: array-like `[N]` of finite numbers.
        num_points: N.

    Returns:
        float64 array `[N]`.
    """
    errors = np.asarray(errors)
    if errors.shape != (num_points,):
        raise ValueError(
            f"errors must have shape [N] = ({num_points},), one reconstruction "
            f"error per code, got {errors.shape}")
    if not (np.issubdtype(errors.dtype, np.floating)
            or np.issubdtype(errors.dtype, np.integer)):
        raise ValueError(f"errors must be numeric, got dtype {errors.dtype}")
    errors = np.asarray(errors, dtype=np.float64)
    if not np.isfinite(errors).all():
        raise ValueError("errors must be finite, got NaN or infinite values")
    return errors


def check_clusters(clusters, num_points):
    """Returns cluster assignments relabelled to 0..k-1 in sorted label order.

    Args:
        clusters: integer array-like `[N]` of cluster labels (any integers).
        num_points: N.

    Returns:
        int64 array `[N]` with values 0..k-1, every value used.
    """
    clusters = np.asarray(clusters)
    if clusters.shape != (num_points,):
        raise ValueError(
            f"clusters must have shape [N] = ({num_points},), got {clusters.shape}")
    if not np.issubdtype(clusters.dtype, np.integer):
        raise ValueError(f"clusters must be integer labels, got dtype {clusters.dtype}")
    _, compact = np.unique(clusters, return_inverse=True)
    return compact.reshape(-1).astype(np.int64)


def check_positive(value, what):
    """Returns `value` as a float > 0 (infinity allowed), or raises `ValueError`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{what} must be a number, got {value!r}")
    return float(checks.positive(what, value))


def standardise(z):
    """The codes moved to mean zero and scaled to unit root-mean-square norm, and that scale.

    Every strategy is invariant to moving and uniformly scaling the codes
    (distances only change by one factor, and every threshold is derived
    from the codes), so working on standardised codes changes no choice,
    while codes of any finite size (say 1e155, whose squared distances would
    overflow) stay in float64's comfortable range.

    Args:
        z: finite float64 array `[N, L]`.

    Returns:
        z: float64 array `[N, L]`, standardised.
        scale: the factor a length in the original units is divided by.
    """
    peak = float(np.max(np.abs(z)))
    if peak == 0.0:
        return z, 1.0
    z = z / peak  # First into [-1, 1]: the mean and norms below cannot overflow.
    z = z - z.mean(axis=0)
    spread = float(np.sqrt(np.mean(np.einsum("ij,ij->i", z, z))))
    if spread == 0.0:
        return z, peak
    return z / spread, peak * spread


def check_labelled(labelled, num_points):
    """Returns the indices of the codes already labelled as a sorted int64 array.

    Args:
        labelled: None, or integer array-like `[M]` of distinct indices into the codes.
        num_points: N.

    Returns:
        int64 array `[M]` (empty for None).
    """
    if labelled is None:
        return np.empty(0, dtype=np.int64)
    labelled = np.asarray(labelled)
    if labelled.size == 0:
        return np.empty(0, dtype=np.int64)
    if labelled.ndim != 1 or not np.issubdtype(labelled.dtype, np.integer):
        raise ValueError(f"labelled must be a 1-D array of integer indices, got {labelled.dtype} "
                         f"of shape {labelled.shape}")
    if labelled.min() < 0 or labelled.max() >= num_points:
        raise ValueError(f"labelled must index the N = {num_points} codes, got indices from "
                         f"{labelled.min()} to {labelled.max()}")
    unique = np.unique(labelled).astype(np.int64)
    if len(unique) != len(labelled):
        raise ValueError(f"labelled must hold distinct indices, got {len(labelled) - len(unique)} repeated")
    return unique


def check_probabilities(probabilities, num_points):
    """Returns class probabilities `[N, C]` as float64, or raises `ValueError`."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.ndim != 2 or len(probabilities) != num_points or probabilities.shape[1] < 2:
        raise ValueError(f"probabilities must have shape [N, C] = ({num_points}, C >= 2), "
                         f"got {probabilities.shape}")
    if not np.isfinite(probabilities).all() or (probabilities < 0).any():
        raise ValueError("probabilities must be finite and non-negative")
    return probabilities
