"""How many queries each cluster gets, and the order clusters are visited in.

Algorithm 1 of the paper (section 3.2) gives cluster C a quota of
`int(n * |C| / N)`, which does not sum to n. `cluster_quotas` replaces it
with a largest-remainder (Hamilton) apportionment that sums to exactly n and
respects every cluster's size; `equal_quotas` and `capped_quotas` split n
evenly instead, the latter capping each share near a multiple of the share
by size. `interleave` merges per-cluster choices round-robin, so that any
prefix of a selection spreads over many clusters.
"""

import numpy as np


def cluster_quotas(sizes, n):
    """Splits n queries over clusters of the given sizes.

    Rule:
      * n >= k (k clusters): every cluster gets one query; the other n - k
        are split in proportion to cluster size by largest remainder (each
        cluster gets the floor of its share, the leftover units go to the
        largest fractional parts; ties to the larger, then earlier, cluster).
        A share that exceeds a cluster's room is capped, and what it could not
        take is split again, by the same rule, over the clusters that still
        have room, until all n are placed.
      * n < k: the n largest clusters get one query each (ties: the earlier
        cluster), a deterministic choice that covers the most codes.

    Args:
        sizes: positive integer array-like `[k]`, the members of each cluster.
        n: total number of queries, 0 <= n <= sum(sizes).

    Returns:
        int64 array `[k]`: quotas summing to exactly n, each at most its
        cluster's size.
    """
    sizes = _checked(sizes, n)
    by_size = np.lexsort((np.arange(len(sizes)), -sizes))
    quotas = np.zeros(len(sizes), dtype=np.int64)
    if n < len(sizes):
        quotas[by_size[:n]] = 1
        return quotas
    quotas[:] = 1
    return _by_size(sizes, quotas, n - len(sizes))


def _by_size(sizes, quotas, remaining):
    """Adds `remaining` queries to `quotas`, in place, in proportion to cluster size, and returns it.

    Largest remainder (ties to the larger, then earlier, cluster); what a
    cluster has no room for is split again over those that have.
    """
    # Every pass either places everything or fills at least one cluster, so
    # there are at most k passes.
    while remaining:
        room = sizes - quotas
        open_ = np.flatnonzero(room > 0)
        # Integer arithmetic keeps the remainders exact.
        extra, remainder = np.divmod(remaining * sizes[open_], sizes[open_].sum())
        leftover = remaining - extra.sum()
        remainder_order = np.lexsort((open_, -sizes[open_], -remainder))
        extra[remainder_order[:leftover]] += 1
        extra = np.minimum(extra, room[open_])
        quotas[open_] += extra
        remaining -= extra.sum()
    return quotas


def _checked(sizes, n):
    """`sizes` as int64 `[k]`, or `ValueError` unless they are positive counts and 0 <= n <= their sum."""
    sizes = np.asarray(sizes, dtype=np.int64)
    if sizes.ndim != 1 or not sizes.size or (sizes < 1).any():
        raise ValueError(f"sizes must be a non-empty 1-D array of positive counts, got {sizes}")
    if not 0 <= n <= sizes.sum():
        raise ValueError(f"n must be between 0 and the number of codes {sizes.sum()}, got {n}")
    return sizes


def interleave(groups):
    """Round-robin merge: the first of every group, then the second, and so on.

    Args:
        groups: sequence of 1-D integer arrays, in the order each round visits
            them; each in its own selection order.

    Returns:
        int64 array: all elements; rank r of every group comes before rank
        r + 1 of any group.
    """
    groups = [np.asarray(group, dtype=np.int64) for group in groups]
    if not groups:
        return np.empty(0, dtype=np.int64)
    rank = np.concatenate([np.arange(len(group)) for group in groups])
    position = np.repeat(np.arange(len(groups)), [len(group) for group in groups])
    return np.concatenate(groups)[np.lexsort((position, rank))]


def equal_quotas(sizes, n):
    """Splits n queries over clusters as evenly as their sizes allow.

    Rule: with n < k clusters, the n largest get one each (as
    `cluster_quotas`). Otherwise every cluster gets floor(n / k), capped at
    its size; what is left (the remainder, and what full clusters could not
    take) goes round the clusters with room one at a time, largest first,
    until all n are placed.

    Args:
        sizes: positive integer array-like `[k]`.
        n: total number of queries, 0 <= n <= sum(sizes).

    Returns:
        int64 array `[k]`: quotas summing to exactly n, each at most its
        cluster's size, and any two differing by at most one unless the
        smaller is its cluster's size.
    """
    sizes = _checked(sizes, n)
    if n < len(sizes):
        return cluster_quotas(sizes, n)
    quotas = np.minimum(sizes, n // len(sizes))
    by_size = np.lexsort((np.arange(len(sizes)), -sizes))
    remaining = n - quotas.sum()
    # Each round gives one more to every cluster with room, largest first.
    while remaining:
        open_ = by_size[quotas[by_size] < sizes[by_size]][:remaining]
        quotas[open_] += 1
        remaining -= len(open_)
    return quotas


def capped_quotas(sizes, n, cap):
    """Splits n queries evenly over clusters, a small cluster's target at most `cap` times its share by size.

    Rule: with n < k clusters, the n largest get one each (as
    `cluster_quotas`). Otherwise cluster C's target is the even share n / k,
    at most `cap * n * |C| / N`; its quota is the target rounded down, at
    least 1 and at most |C|. What is left is shared by size, as in
    `cluster_quotas` (largest remainder, capped at each cluster's room).
    So clusters of similar sizes split the queries evenly (a small group of
    a long tail gets up to `cap` times what shares by size give it), while
    a cluster far smaller than the others, often a handful of outliers,
    gets about `cap` times its share by size (at least one), not the even
    share.

    Args:
        sizes: positive integer array-like `[k]`.
        n: total number of queries, 0 <= n <= sum(sizes).
        cap: the largest target, as a multiple of the cluster's share by
            size; positive.

    Returns:
        int64 array `[k]`: quotas summing to exactly n, each at least 1
        (when n >= k) and at most its cluster's size.
    """
    sizes = _checked(sizes, n)
    if not cap > 0:
        raise ValueError(f"cap must be positive, got {cap!r}")
    if n < len(sizes):
        return cluster_quotas(sizes, n)
    target = np.minimum(n / len(sizes), cap * n * sizes / sizes.sum())
    # A target within rounding of an integer (n / k when k divides n) is that integer.
    quotas = np.clip(np.floor(target + 1e-9).astype(np.int64), 1, sizes)
    # Each quota is at most max(1, n / k), so they sum to at most n.
    return _by_size(sizes, quotas, n - quotas.sum())


def continued_quotas(allocate, sizes, held, n):
    """Splits n new queries over clusters that already hold labelled codes.

    Each cluster's target is its quota of all `held.sum() + n` codes under
    `allocate`; its share of the new ones is the target less what it holds
    (never below zero). Clusters that hold more than their target leave the
    others more than n to share, so the shares are then cut to n in
    proportion to them (`cluster_quotas` over the positive shares). With
    nothing held it is `allocate(sizes, n)`.

    Args:
        allocate: `cluster_quotas`, `equal_quotas` or `capped_quotas`.
        sizes: positive integer array-like `[k]`.
        held: non-negative integer array-like `[k]`, the labelled codes of
            each cluster, at most its size.
        n: new queries, 0 <= n <= sum(sizes - held).

    Returns:
        int64 array `[k]`: new quotas summing to exactly n, each at most
        its cluster's size less what it holds.
    """
    sizes, held = np.asarray(sizes, dtype=np.int64), np.asarray(held, dtype=np.int64)
    if not held.any():
        return allocate(sizes, n)
    if held.shape != sizes.shape or (held < 0).any() or (held > sizes).any():
        raise ValueError(f"held must be [k] counts between 0 and each cluster's size, got {held}")
    if not 0 <= n <= (sizes - held).sum():
        raise ValueError(f"n must be between 0 and the {(sizes - held).sum()} unlabelled codes, got {n}")
    # A target is at most its cluster's size, so a share fits its room.
    shares = np.maximum(allocate(sizes, held.sum() + n) - held, 0)
    if shares.sum() > n:
        wanting = np.flatnonzero(shares)
        shares[wanting] = cluster_quotas(shares[wanting], n)
    return shares

