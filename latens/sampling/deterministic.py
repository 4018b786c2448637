"""Query strategies beyond the paper that need no random draws in p_S.

The paper's discussion asks for deterministic strategies. These work on the
same latent codes as Algorithm 1:

* `kcenter`: greedy k-center / farthest-first traversal (Sener & Savarese
  2018, "Active Learning for Convolutional Neural Networks: A Core-Set
  Approach"; Gonzalez 1985).
* `typiclust`: TypiClust (Hacohen, Dekel & Weinshall 2022, "Active Learning
  on a Budget: Opposite Strategies Suit High and Low Budgets").
* `probcover`: ProbCover (Yehuda, Dekel, Hacohen & Weinshall 2022, "Active
  Learning Through a Covering Lens").
* `cluster_medoid`: the medoids of k-means sub-clusters of each Ward cluster,
  quotas in proportion to the clusters' sizes; `balanced_medoid`: the same
  with equal quotas (latens' own, for unbalanced pools); `capped_medoid`:
  equal quotas, or twice the cluster's share by size where that is less
  (latens' own, for pools with rare groups).

Only `kcenter` is fully deterministic; the others depend on `seed` through
k-means seeding and subsamples, and are deterministic for a given seed.
"""

import functools

import numpy as np
import tqdm
from absl import logging
from scipy import sparse

from latens.sampling import clustering
from latens.sampling import quotas as quotas_lib
from latens.sampling import validation
from latens.sampling.neighbours import NearestNeighbours, SquaredDistances

# ProbCover's ball-purity target alpha (Yehuda et al. 2022 use 0.95).
PURITY = 0.95
# capped-medoid's largest quota, as a multiple of a cluster's share by size:
# chosen among 1.5, 2 and 3 on the long-tail Fashion-MNIST pool and the
# bundled sample (docs/beyond.md, "A cap on the even shares").
MEDOID_CAP = 2.0
# TypiClust's neighbourhood size (Hacohen et al. 2022 use 20).
TYPICALITY_NEIGHBOURS = 20
# The coverage graph of ProbCover is built on a subsample small enough to
# hold at most this many edges.
MAX_EDGES = 2_000_000
# Codes whose distance to another cluster sets ProbCover's delta.
_PURITY_SAMPLE = 10_000
# Codes whose ball sizes estimate the coverage graph's density, and the
# subsample they are counted in.
_PILOT_SAMPLE = 1_000
_PILOT_POPULATION = 50_000


def kcenter(z, n, *, labelled=()):
    """Greedy k-center (Sener & Savarese 2018): farthest-first traversal.

    The first pick is the code nearest the mean of all codes; each next pick
    is the code farthest from every pick so far (ties: lowest index). It is a
    2-approximation of the minimax covering radius, and fully deterministic.
    With labelled codes, the traversal starts from them (Sener & Savarese's
    core set grown from the labelled pool).

    Args:
        z: float64 array `[N, L]`.
        n: number of codes, 1..N - M.
        labelled: int64 array `[M]` of codes already labelled.

    Returns:
        int64 array `[n]` of distinct indices, in the order picked (each
        prefix is itself a greedy k-center solution).
    """
    if len(labelled):
        return farthest_first(z, len(labelled) + n, labelled)[len(labelled):]
    return farthest_first(z, n, [int(np.argmin(_squared_distances(z, z.mean(axis=0))))])


def farthest_first(z, n, start):
    """Extends a set of picks farthest-first until it holds n codes.

    Args:
        z: float64 array `[N, L]`.
        n: total number of picks wanted, len(start)..N.
        start: non-empty sequence of distinct indices already picked.

    Returns:
        int64 array `[n]`: `start`, then the new picks in order.
    """
    picks = [int(i) for i in start]
    distances = SquaredDistances(z)
    closest = np.full(len(z), np.inf)
    for i in picks:
        np.minimum(closest, distances(i), out=closest)
    # A picked code must never win again, even when every distance is zero.
    closest[picks] = -np.inf
    for _ in tqdm.trange(n - len(picks), desc="farthest-first", unit="code", disable=None,
                         delay=1.0, leave=False):
        i = int(np.argmax(closest))
        picks.append(i)
        np.minimum(closest, distances(i), out=closest)
        closest[i] = -np.inf
    return np.asarray(picks, dtype=np.int64)


def typiclust(z, n, *, seed, n_neighbors=TYPICALITY_NEIGHBOURS, labelled=()):
    """TypiClust (Hacohen et al. 2022): the most typical code of n clusters (of M + n, M labelled).

    The codes are split into |L| + B k-means clusters, the paper's M + n for
    M labelled codes (n with none). The typicality of a code is the inverse of its mean
    distance to its `n_neighbors` nearest neighbours in its cluster (fewer in
    clusters that are smaller). The most typical code of every cluster is
    picked, largest cluster first; when k-means finds fewer than n clusters
    (fewer distinct codes) the rounds continue with each cluster's next most
    typical code. Labelled codes are never picked, and clusters that hold one
    come after every cluster that holds none (the paper's "uncovered" ones).

    Args:
        z: float64 array `[N, L]`.
        n: number of codes, 1..N.
        seed: seed of the k-means.
        n_neighbors: neighbourhood size of typicality, >= 1.
        labelled: int64 array `[M]` of codes already labelled.

    Returns:
        int64 array `[n]` of distinct indices, largest cluster first.
    """
    n_neighbors = validation.check_positive_int(n_neighbors, "n_neighbors")
    labelled = np.asarray(labelled, dtype=np.int64)
    labels, _, sizes = clustering.kmeans(z, len(labelled) + n, seed=seed)
    covered = np.zeros(len(sizes), dtype=bool)
    covered[labels[labelled]] = True
    is_labelled = np.zeros(len(z), dtype=bool)
    is_labelled[labelled] = True
    uncovered_groups, covered_groups = [], []
    for members in _groups_by_decreasing_size(labels, sizes):
        k = min(n_neighbors, len(members) - 1)
        if k:
            distances = NearestNeighbours(z[members]).query(z[members], k=k + 1)[0]
            # Column 0 is a zero distance (the code itself or a duplicate).
            atypicality = distances[:, 1:].mean(axis=1)
            members = members[np.argsort(atypicality, kind="stable")]
        group = covered_groups if covered[labels[members[0]]] else uncovered_groups
        group.append(members[~is_labelled[members]])
    return quotas_lib.interleave(uncovered_groups + covered_groups)[:n]


def probcover(z, n, *, seed, delta=None, purity=PURITY, n_clusters=None, clusters=None):
    """ProbCover (Yehuda et al. 2022): greedy maximum coverage by delta-balls.

    Each pick is the code whose ball of radius delta holds the most codes not
    yet covered by an earlier pick's ball. delta is chosen without labels as
    in the paper, with pseudo-labels: it is the largest radius at which a
    fraction `purity` of balls hold codes of one cluster only, i.e. the
    (1 - purity) quantile of the distance from a code to the nearest code of
    another cluster (Ward clusters from `clustering.cluster` unless given).

    Scale: the coverage graph is built on a random subsample, sized so that
    it holds at most `MAX_EDGES` edges (all N codes when that fits); picks
    come from the subsample. Once it is fully covered, the remaining picks
    continue farthest-first (`farthest_first`) over all codes.

    Args:
        z: float64 array `[N, L]`.
        n: number of codes, 1..N.
        seed: seed of the subsamples and of the clustering.
        delta: ball radius > 0; None derives it as above.
        purity: target ball purity in (0, 1) for the derived delta.
        n_clusters: clusters of the pseudo-labels (None: automatic).
        clusters: integer pseudo-labels `[N]` to use instead of clustering.

    Returns:
        int64 array `[n]` of distinct indices, in the order picked.
    """
    rng = np.random.default_rng(seed)
    if delta is None:
        if not 0 < purity < 1:
            raise ValueError(f"purity must be in (0, 1), got {purity}")
        labels = clustering.resolve_clusters(z, clusters=clusters, n_clusters=n_clusters, seed=seed, n=n)
        delta = _purity_radius(z, labels, purity, rng)
        logging.info("ProbCover delta = %.4g (ball purity %.2f over %d clusters).", delta, purity,
                     labels.max() + 1)
    else:
        delta = validation.check_positive(delta, "delta")
        if n_clusters is not None or clusters is not None:
            raise ValueError("n_clusters and clusters only serve to derive delta; "
                             "give them or delta, not both.")
    sample = _coverage_sample(z, delta, rng)
    picks = sample[_greedy_cover(z[sample], delta, n)]
    if len(picks) < n:
        logging.info("ProbCover covered its sample with %d picks; the other %d are farthest-first.",
                     len(picks), n - len(picks))
        picks = farthest_first(z, n, picks)
    return picks


def cluster_medoid(z, n, *, seed, n_clusters=None, clusters=None, labelled=()):
    """Per-cluster medoids: representative codes of every Ward cluster, quotas by cluster size.

    Each Ward cluster gets a quota (`quotas.cluster_quotas`: at least one
    code each when n >= the number of clusters, the rest by size). A cluster
    with quota q is split into q k-means sub-clusters and each sub-cluster
    gives its medoid under squared Euclidean distance, which is exactly its
    member nearest the sub-cluster mean (sum_i |x_i - m|^2 =
    sum_i |x_i - mean|^2 + |S| |m - mean|^2). Sub-clusters come largest
    first. When k-means finds fewer than q sub-clusters (identical codes),
    the cluster's other members nearest its mean fill the quota.

    With M labelled codes it continues as TypiClust does: the clusters and
    quotas serve M + n codes, a cluster's quota less the labelled codes it
    holds is its share of the n new ones, and its sub-clusters (as many as
    its labelled codes plus that share) give the medoids of those that hold
    no labelled code.

    Args:
        z: float64 array `[N, L]`.
        n: number of codes, 1..N - M.
        seed: seed of the clustering and the k-means.
        n_clusters: number of Ward clusters (None: automatic).
        clusters: integer labels `[N]` to use instead of clustering.
        labelled: int64 array `[M]` of codes already labelled.

    Returns:
        int64 array `[n]` of distinct indices: clusters interleaved
        round-robin, largest cluster first in each round.
    """
    return _medoids(z, n, seed=seed, n_clusters=n_clusters, clusters=clusters, allocate=quotas_lib.cluster_quotas,
                    labelled=labelled)


def balanced_medoid(z, n, *, seed, n_clusters=None, clusters=None, labelled=()):
    """Per-cluster medoids with equal quotas: rare groups get the share of common ones.

    As `cluster_medoid`, but every Ward cluster gets the same quota
    (`quotas.equal_quotas`), capped at its size, instead of one in proportion
    to it. A pool that holds some kinds of image far more often than others
    (unbalanced MNIST) then does not pass its imbalance on to the query: each
    group of similar images, common or rare, is labelled about as often. The
    reason for the rule is that imbalance; it is latens' own. Arguments and
    result as for `cluster_medoid`.
    """
    return _medoids(z, n, seed=seed, n_clusters=n_clusters, clusters=clusters, allocate=quotas_lib.equal_quotas,
                    labelled=labelled)


def capped_medoid(z, n, *, seed, n_clusters=None, clusters=None, labelled=(), cap=MEDOID_CAP):
    """Per-cluster medoids with even quotas, each targeted at no more than `cap` times its cluster's share by size.

    As `balanced_medoid`, but a cluster's target is at most `cap` times its
    share by size, what is left going by size (`quotas.capped_quotas`).
    Shares by size leave a group of a long tail, hidden in a cluster with a
    few commoner kinds, a pick or two; even shares give it more, as they
    give a cluster of a few outliers as much as a cluster of thousands of
    typical images; the cap keeps the first and not the second. latens' own
    rule, for pools where some kinds are rare. Arguments and result as for
    `cluster_medoid`, and:

    Args:
        cap: the largest target as a multiple of the share by size.
    """
    allocate = functools.partial(quotas_lib.capped_quotas, cap=cap)
    return _medoids(z, n, seed=seed, n_clusters=n_clusters, clusters=clusters, allocate=allocate, labelled=labelled)


def _medoids(z, n, *, seed, n_clusters, clusters, allocate, labelled=()):
    """The medoid rules' picks; with `labelled`, the next n, so that labelled and new follow the rule together.

    The clusters serve a query of M + n codes; each gets the quota of M + n
    that `allocate` gives it less the labelled codes it holds
    (`quotas.continued_quotas`), and its k-means parts number its labelled
    codes plus its quota: the medoids of the parts that hold no labelled
    code are its picks.
    """
    labelled = np.asarray(labelled, dtype=np.int64)
    labels = clustering.resolve_clusters(z, clusters=clusters, n_clusters=n_clusters, seed=seed,
                                         n=n + len(labelled))
    sizes = np.bincount(labels)
    is_labelled = np.zeros(len(z), dtype=bool)
    is_labelled[labelled] = True
    held = np.bincount(labels[labelled], minlength=len(sizes))
    quotas = quotas_lib.continued_quotas(allocate, sizes, held, n)
    groups = []
    for c, members in enumerate(_groups_by_decreasing_size(labels, sizes)):
        cluster = labels[members[0]]
        quota = quotas[cluster]
        if not quota:
            continue
        points, mine = z[members], is_labelled[members]
        parts, centres, part_sizes = clustering.kmeans(points, held[cluster] + quota, seed=seed + c)
        uncovered = np.ones(len(part_sizes), dtype=bool)
        uncovered[parts[mine]] = False
        nearest_first = np.lexsort((_squared_distances(points, centres[parts]), parts))
        medoids = nearest_first[np.r_[0, np.cumsum(part_sizes)[:-1]]]
        by_size = np.argsort(-part_sizes, kind="stable")
        picks = medoids[by_size[uncovered[by_size]]][:quota]
        if len(picks) < quota:
            by_centrality = np.argsort(_squared_distances(points, points.mean(axis=0)), kind="stable")
            rest = by_centrality[~np.isin(by_centrality, picks) & ~mine[by_centrality]]
            picks = np.concatenate([picks, rest[:quota - len(picks)]])
        groups.append(members[picks])
    return quotas_lib.interleave(groups)


def _squared_distances(z, point):
    diff = z - point
    return np.einsum("ij,ij->i", diff, diff)


def _groups_by_decreasing_size(labels, sizes):
    """Member indices of each cluster, largest cluster first (ties: lower label)."""
    members = np.split(np.argsort(labels, kind="stable"), np.cumsum(sizes)[:-1])
    return [members[c] for c in np.lexsort((np.arange(len(sizes)), -sizes))]


def _purity_radius(z, labels, purity, rng):
    """The (1 - purity) quantile of the distance to another cluster's nearest code."""
    queries = rng.choice(len(z), min(len(z), _PURITY_SAMPLE), replace=False)
    to_other = np.full(len(queries), np.inf)
    for c in range(labels.max() + 1):
        outside = labels[queries] != c
        if outside.any():
            distances = NearestNeighbours(z[labels == c]).query(z[queries[outside]])[0]
            to_other[outside] = np.minimum(to_other[outside], distances)
    # An order statistic, not an interpolation: infinite distances (a single
    # cluster) must not turn into NaN.
    delta = float(np.quantile(to_other, 1 - purity, method="lower"))
    # A zero radius (codes shared by two clusters) would cover nothing but
    # duplicates; the smallest positive distance keeps balls meaningful.
    return delta if delta > 0 else float(np.min(to_other[to_other > 0], initial=np.inf))


def _coverage_sample(z, delta, rng):
    """Indices of the codes the coverage graph is built on (all, if it fits)."""
    order = rng.permutation(len(z))
    population = z[order[:_PILOT_POPULATION]]
    in_ball = NearestNeighbours(population).query_ball_point(population[:_PILOT_SAMPLE], delta,
                                                    return_length=True)
    # A subsample of `size` codes has about size^2 * fraction / 2 edges.
    fraction = in_ball.mean() / len(population)
    size = int(np.sqrt(2 * MAX_EDGES / fraction))
    if size >= len(z):
        return np.arange(len(z))
    logging.info("ProbCover: coverage graph on a subsample of %d of %d codes.", size, len(z))
    return np.sort(order[:size])


def _greedy_cover(points, delta, n):
    """Greedy maximum coverage of delta-balls around `points`.

    Returns:
        int64 array of at most n distinct indices into `points`, in the order
        picked; fewer when every point is covered sooner.
    """
    pairs = NearestNeighbours(points).query_pairs(delta)
    # Symmetric neighbour lists in CSR form; every point covers itself.
    everyone = np.arange(len(points))
    heads = np.concatenate([pairs[:, 0], pairs[:, 1], everyone])
    tails = np.concatenate([pairs[:, 1], pairs[:, 0], everyone])
    del pairs
    graph = sparse.csr_array((np.ones(len(heads), dtype=bool), (heads, tails)),
                             shape=(len(points), len(points)))
    del heads, tails
    starts, neighbours = graph.indptr, graph.indices
    uncovered_in_ball = np.diff(starts)
    covered = np.zeros(len(points), dtype=bool)
    picks = []
    while len(picks) < n:
        best = int(np.argmax(uncovered_in_ball))
        if uncovered_in_ball[best] == 0:
            break
        picks.append(best)
        newly = neighbours[starts[best]:starts[best + 1]]
        newly = newly[~covered[newly]]
        covered[newly] = True
        # Every ball holding a newly covered point loses it.
        holders = neighbours[_ragged_ranges(starts[newly], starts[newly + 1])]
        np.subtract.at(uncovered_in_ball, holders, 1)
    return np.asarray(picks, dtype=np.int64)


def _ragged_ranges(begins, ends):
    """Concatenation of arange(b, e) for every (b, e)."""
    lengths = ends - begins
    offsets = np.repeat(begins - np.r_[0, np.cumsum(lengths)[:-1]], lengths)
    return np.arange(lengths.sum()) + offsets
