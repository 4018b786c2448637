"""Algorithm 1 of the paper (section 3.2), made exact and terminating.

Latent-space sampling: each cluster S gets a quota; draws z ~ p_S (a uniform
box over the cluster's codes, or a normal with their mean and covariance)
pick codes near them until the quota is met. Differences from the paper and
from the authors' code, each chosen so that the result is exactly n distinct
codes and the loop always ends:

* Quotas: largest remainder (`quotas.cluster_quotas`) instead of
  `int(n |S| / N)`, which does not sum to n.
* Hits: a draw selects the nearest not-yet-selected code of its cluster
  within the threshold t (k-d trees over the unselected codes), so codes
  never repeat. The paper's text adds every code within t, which overshoots
  the quota; `hit="all"` does that but takes them nearest first and stops at
  the quota.
* Threshold: derived from the data's scale (`derive_threshold`: the median
  distance from a code to its nearest neighbour) instead of the authors'
  fixed 0.25, or set by the caller.
* Widening: after `PATIENCE` consecutive draws that select nothing, t doubles
  for the rest of that cluster; after `MAX_WIDENINGS` doublings it becomes
  infinite, and from then on every draw selects a code (a cluster's quota
  never exceeds its size). A cluster therefore examines at most
  `(quota + MAX_WIDENINGS + 1) * PATIENCE` draws (each widening also drops
  the unexamined rest of its batch of draws).
* Degenerate clusters: covariances get a ridge (`RIDGE` times their mean
  variance, or the data's), so a cluster of one code, identical codes or a
  flat axis still has a proper normal; a box of zero width draws on the
  line or point itself.
"""

import math

import numpy as np
import tqdm
from absl import logging

from latens.sampling import quotas as quotas_lib
from latens.sampling.neighbours import NearestNeighbours

# t is this quantile of the nearest-neighbour distances between codes.
THRESHOLD_QUANTILE = 0.5
# Consecutive missed draws before t doubles.
PATIENCE = 256
# Doublings of t before it becomes infinite.
MAX_WIDENINGS = 32
# Covariance ridge, relative to the mean variance.
RIDGE = 1e-6
# What a draw within t selects: the nearest unselected code, or all of them
# (the paper's text).
HITS = ("nearest", "all")
# Copies of a code looked past for its nearest other code (more copies than
# this leave the code out of the estimate).
_DUPLICATES_SKIPPED = 8
# Codes whose nearest-neighbour distance estimates t.
_THRESHOLD_SAMPLE = 10_000
# Nearest neighbours fetched per draw before asking for more.
_CANDIDATES = 8
_MAX_BATCH = 65_536


def derive_threshold(z, *, seed=0):
    """The default threshold t: a quantile of nearest-neighbour distances.

    t is the `THRESHOLD_QUANTILE` quantile of the distances from up to
    10,000 randomly chosen codes to their nearest code at a positive
    distance (copies of a code are looked past), so it scales with the codes.

    Args:
        z: float64 array `[N, L]`.
        seed: seed of the subsample.

    Returns:
        float > 0; infinite when there are no two distinct codes.
    """
    if len(z) < 2:
        return math.inf
    rng = np.random.default_rng(seed)
    sample = z if len(z) <= _THRESHOLD_SAMPLE else z[rng.choice(len(z), _THRESHOLD_SAMPLE, replace=False)]
    # The nearest *other* code: past the point itself and any copies of it.
    neighbours = NearestNeighbours(z).query(sample, k=min(_DUPLICATES_SKIPPED + 1, len(z)))[0]
    positive = np.where(neighbours > 0, neighbours, np.inf)
    distances = positive.min(axis=1)
    distances = distances[np.isfinite(distances)]
    return float(np.quantile(distances, THRESHOLD_QUANTILE)) if distances.size else math.inf


def sample_clusters(z, n, clusters, *, distribution, seed, threshold=None, hit="nearest"):
    """Algorithm 1: per-cluster quotas, each filled by draws from p_S.

    Args:
        z: float64 array `[N, L]`.
        n: number of codes to select, 1..N.
        clusters: int64 array `[N]` with values 0..k-1 (all zeros for the
            paper's strategies without clusters).
        distribution: "uniform" (box over min..max of the cluster's codes)
            or "multi-normal" (normal with their mean and covariance).
        seed: seed of the threshold subsample and of every draw.
        threshold: t, > 0; None derives it with `derive_threshold`.
        hit: "nearest" (default) or "all", see the module docstring.

    Returns:
        int64 array `[n]` of distinct indices into z. Within a cluster they
        are in the order drawn; clusters are interleaved round-robin, largest
        cluster first in each round.
    """
    make_distribution = DISTRIBUTIONS[distribution]
    rng = np.random.default_rng(seed)
    if threshold is None:
        threshold = derive_threshold(z, seed=seed)
        logging.info("Algorithm 1 threshold t = %.4g (median nearest-neighbour distance).", threshold)
    sizes = np.bincount(clusters)
    quotas = quotas_lib.cluster_quotas(sizes, n)
    members = np.split(np.argsort(clusters, kind="stable"), np.cumsum(sizes)[:-1])
    mean_variance = float(z.var(axis=0).mean())
    scale = mean_variance if mean_variance > 0 else 1.0
    chosen = {}
    with tqdm.tqdm(total=n, desc=f"{distribution} sampling", unit="code", disable=None,
                   delay=1.0, leave=False) as progress:
        for c in np.flatnonzero(quotas):
            points = z[members[c]]
            local = sample_cluster(points, quotas[c], make_distribution(points, scale), threshold,
                                   rng, hit=hit, on_select=progress.update)
            chosen[c] = members[c][local]
    visit = np.lexsort((np.arange(len(sizes)), -sizes))
    return quotas_lib.interleave([chosen[c] for c in visit if c in chosen])


def sample_cluster(points, quota, draw, threshold, rng, *, hit="nearest", on_select=None):
    """Fills one cluster's quota by latent-space sampling.

    Args:
        points: float64 array `[M, L]`, the cluster's codes.
        quota: number to select, 1..M.
        draw: callable `(rng, size) -> [size, L]` drawing from p_S.
        threshold: initial t > 0 (may be infinite).
        rng: `np.random.Generator`.
        hit: "nearest" or "all".
        on_select: optional callable taking the number just selected.

    Returns:
        int64 array `[quota]` of distinct indices into `points`, in the order
        selected.
    """
    pool = _Unselected(points)
    chosen = []
    misses = widenings = 0
    while len(chosen) < quota:
        batch = draw(rng, min(_MAX_BATCH, max(64, 2 * (quota - len(chosen)))))
        candidates = pool.candidates(batch, threshold, _CANDIDATES)
        for x, ids in zip(batch, candidates):
            picked = pool.take(x, ids, threshold, hit, quota - len(chosen))
            if picked.size:
                chosen.extend(picked)
                misses = 0
                if on_select:
                    on_select(picked.size)
                if len(chosen) == quota:
                    break
                continue
            misses += 1
            if misses == PATIENCE:
                widenings += 1
                threshold = 2 * threshold if widenings <= MAX_WIDENINGS else math.inf
                logging.debug("Algorithm 1: %d misses in a row, t widened to %.4g.",
                              PATIENCE, threshold)
                misses = 0
                break  # The rest of the batch was matched against the old t.
    return np.asarray(chosen, dtype=np.int64)


def _box(points, _):
    low, high = points.min(axis=0), points.max(axis=0)
    return lambda rng, size: rng.uniform(low, high, size=(size, len(low)))


def _normal(points, fallback_variance):
    mean = points.mean(axis=0)
    covariance = np.atleast_2d(np.cov(points, rowvar=False, bias=True))
    variance = np.trace(covariance) / len(mean)
    ridge = RIDGE * (variance if variance > 0 else fallback_variance)
    factor = np.linalg.cholesky(covariance + ridge * np.eye(len(mean)))
    return lambda rng, size: mean + rng.standard_normal((size, len(mean))) @ factor.T


# p_S for each strategy family: callable (points [M, L], fallback variance)
# -> draw(rng, size).
DISTRIBUTIONS = {"uniform": _box, "multi-normal": _normal}


class _Unselected:
    """Nearest-neighbour queries over a cluster's unselected codes.

    The structure cannot delete, so selected codes stay in it and are skipped;
    once half of the codes it was built on are selected it is rebuilt on the
    rest, which keeps the skipping cheap even when the quota is the whole
    cluster.
    """

    def __init__(self, points):
        self._points = points
        self._selected = np.zeros(len(points), dtype=bool)
        self._build()

    def _build(self):
        self._ids = np.flatnonzero(~self._selected)
        self._tree = NearestNeighbours(self._points[self._ids])
        self._stale = 0

    def candidates(self, x, threshold, k):
        """The up-to-k nearest codes within `threshold` of each row of x.

        Returns:
            int64 array `[B, k']` of indices into the cluster, nearest first,
            -1 past the last code within the threshold.
        """
        k = min(k, len(self._ids))
        distances, rows = self._tree.query(x, k=k, distance_upper_bound=threshold)
        rows = rows.reshape(len(x), k)
        found = np.isfinite(distances.reshape(len(x), k))
        return np.where(found, self._ids[np.minimum(rows, len(self._ids) - 1)], -1)

    def take(self, x, ids, threshold, hit, limit):
        """Selects, for draw x, the nearest (or all) unselected codes within t.

        Args:
            x: float array `[L]`, the draw.
            ids: `candidates` of x, possibly from before the last rebuild.
            threshold: t.
            hit: "nearest" or "all".
            limit: the most codes to select (the quota left).

        Returns:
            int64 array of the indices selected (empty on a miss).
        """
        nearest = self._nearest_unselected(x, ids, threshold)
        if nearest is None:
            return np.empty(0, dtype=np.int64)
        if hit == "nearest":
            picked = np.array([nearest])
        else:
            within = self._ids[np.asarray(self._tree.query_ball_point(x, threshold), dtype=np.int64)]
            within = within[~self._selected[within]]
            distance = np.linalg.norm(self._points[within] - x, axis=1)
            picked = within[np.argsort(distance, kind="stable")[:limit]]
        self._selected[picked] = True
        self._stale += picked.size
        if 2 * self._stale >= len(self._ids) and not self._selected.all():
            self._build()
        return picked

    def _nearest_unselected(self, x, ids, threshold):
        from_current_tree = False
        while True:
            free = (ids >= 0) & ~self._selected[ids]
            if free.any():
                return int(ids[np.argmax(free)])
            # Fewer than k codes within t: all of them were seen and taken.
            # (Codes only ever leave the tree, so this holds for older trees.)
            if ids[-1] < 0 or (from_current_tree and len(ids) == len(self._ids)):
                return None
            ids = self.candidates(x[None], threshold, 2 * len(ids))[0]
            from_current_tree = True
