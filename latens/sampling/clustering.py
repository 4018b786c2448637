"""Hierarchical (Ward) clustering of latent codes in memory linear in N.

The paper's cluster strategies (section 3.2) split the codes with Ward's
agglomerative clustering (Ward 1963). The authors ran it on a full
N x N distance matrix (about 10 GB for N = 50,000) and set the number of
clusters to the number of classes. Here:

* Up to `EXACT_LIMIT` codes, Ward runs on every code with Müllner's
  `fastcluster.linkage_vector` (Müllner 2013, "fastcluster: Fast hierarchical,
  agglomerative clustering routines for R and Python"), which needs O(N)
  memory.
* Beyond that, the codes are first summarised by `MICRO_CLUSTERS` k-means
  micro-clusters (seeded k-means++, Arthur & Vassilvitskii 2007, then Lloyd
  iterations), and Ward runs on the micro-clusters with their sizes: the
  Ward distance between clusters A and B is
  `sqrt(2 |A| |B| / (|A| + |B|)) * ||mean(A) - mean(B)||`, so starting the
  agglomeration from weighted centroids is exactly Ward's criterion with the
  micro-clusters as its initial clusters (plain Ward on the centroids would
  treat a micro-cluster of 1 point and one of 10,000 alike). It is run with
  the nearest-neighbour chain algorithm, O(m^2) time and O(m) memory.
* The number of clusters is a label-free choice from the tree and the query
  size (see `cluster`) unless given.
* Codes wider than `principal.WIDE` dimensions are clustered in their
  leading principal components (`latens.sampling.principal`), as the rules
  choose in them.
"""

import math

import fastcluster
import numpy as np
import scipy.sparse
from absl import logging

from latens.sampling import principal, validation
from latens.sampling.neighbours import NearestNeighbours, SquaredDistances

# Up to this many codes Ward runs on every code (fastcluster takes ~0.3 s at
# N = 10,000 and grows as N^2); above it, on micro-clusters.
EXACT_LIMIT = 10_000
# Micro-clusters summarising larger inputs; a group of codes much smaller than
# N / MICRO_CLUSTERS may be absorbed by a neighbouring micro-cluster.
MICRO_CLUSTERS = 1024
# The automatic number of clusters is searched in 2..MAX_AUTO_CLUSTERS.
MAX_AUTO_CLUSTERS = 50
# Lloyd iterations of k-means and the subsample they run on (the final
# assignment always covers every code).
_KMEANS_ITERATIONS = 10
_KMEANS_MIN_SAMPLE = 50_000
_KMEANS_SAMPLE_PER_CENTROID = 64
# k-means++ seeding runs on a smaller subsample: it is sequential in k.
_SEEDING_SAMPLE_PER_CENTROID = 8
_SEEDING_MIN_SAMPLE = 10_000


def kmeans(z, k, *, seed=0):
    """Seeded k-means: k-means++ seeding and Lloyd iterations on a subsample.

    Lloyd's iterations run on at most `max(50,000, 64 k)` codes; the last step
    assigns every code to its nearest centroid and recomputes the centroids
    as the exact means of their members. Clusters left empty are dropped, so
    fewer than `k` come back when the codes have fewer than `k` distinct
    values.

    Args:
        z: float64 array `[N, L]`.
        k: number of clusters wanted, >= 1.
        seed: seed of the subsamples and the k-means++ draws.

    Returns:
        labels: int64 array `[N]`, values 0..k'-1 (k' <= k).
        centroids: float64 array `[k', L]`, the mean of each cluster.
        sizes: int64 array `[k']`, the members of each cluster (all >= 1).
    """
    rng = np.random.default_rng(seed)
    k = min(k, len(z))
    sample = _subsample(z, max(_KMEANS_MIN_SAMPLE, _KMEANS_SAMPLE_PER_CENTROID * k), rng)
    seeding = _subsample(sample, max(_SEEDING_MIN_SAMPLE, _SEEDING_SAMPLE_PER_CENTROID * k), rng)
    centroids = _kmeans_plusplus(seeding, k, rng)
    labels = None
    for _ in range(_KMEANS_ITERATIONS):
        new_labels = _nearest(centroids, sample)
        if labels is not None and np.array_equal(labels, new_labels):
            break
        labels = new_labels
        centroids, sizes = _means(sample, labels, len(centroids))
        centroids = centroids[sizes > 0]
    labels = _nearest(centroids, z)
    centroids, sizes = _means(z, labels, len(centroids))
    used = sizes > 0
    relabel = np.cumsum(used) - 1
    return relabel[labels], centroids[used], sizes[used]


def ward_linkage(centroids, sizes):
    """Ward's agglomerative clustering of weighted centroids (NN-chain).

    With all sizes 1 this is ordinary Ward clustering of the points, with
    the same merge heights as `scipy`/`fastcluster` `method='ward'`.

    Args:
        centroids: float array `[m, L]`, the mean of each initial cluster.
        sizes: positive array `[m]`, the members of each initial cluster.

    Returns:
        float64 array `[m - 1, 4]` in scipy's linkage format: the two merged
        node ids (leaves are 0..m-1, the i-th merge creates node m + i), the
        Ward distance, and the number of leaves below, by increasing distance.
    """
    num_leaves = len(sizes)
    means = np.array(centroids, dtype=np.float64)
    weights = np.array(sizes, dtype=np.float64)
    active = np.ones(num_leaves, dtype=bool)
    # Each merge is recorded by one leaf of each side: the merged cluster
    # lives on in the slot of `a`, which holds leaf `a` itself.
    merges = np.empty((max(num_leaves - 1, 0), 3))
    chain = []
    for merge in range(num_leaves - 1):
        if not chain:
            chain.append(int(np.argmax(active)))
        while True:
            a = chain[-1]
            diff = means - means[a]
            cost = weights[a] * weights / (weights[a] + weights) * np.einsum("ij,ij->i", diff, diff)
            cost[~active] = np.inf
            cost[a] = np.inf
            b = int(np.argmin(cost))
            # Preferring the chain's previous element on ties is what makes
            # the chain terminate (the costs along it strictly decrease).
            if len(chain) > 1 and cost[chain[-2]] <= cost[b]:
                b = chain[-2]
                break
            chain.append(b)
        del chain[-2:]
        merges[merge] = a, b, math.sqrt(2.0 * cost[b])
        total = weights[a] + weights[b]
        means[a] = (weights[a] * means[a] + weights[b] * means[b]) / total
        weights[a] = total
        active[b] = False
    return _to_scipy_linkage(merges, num_leaves)


def auto_n_clusters(heights, max_clusters=MAX_AUTO_CLUSTERS):
    """Chooses a number of clusters from Ward merge heights, without labels.

    Rule: the k in 2..min(max_clusters, m - 1) with the largest relative gap
    `h(k -> k-1) / h(k+1 -> k)` between the merge that would join the k
    clusters into k - 1 and the merge that formed them: the cut sits where
    merging gets suddenly more expensive. Ties go to the smallest k; a zero
    height below a positive one counts as an infinite gap (groups of identical
    codes), and two zero heights as no gap.

    Args:
        heights: increasing merge heights `[m - 1]` of a tree over m leaves.
        max_clusters: the largest k considered.

    Returns:
        int, the number of clusters (1 when m <= 2).
    """
    num_leaves = len(heights) + 1
    ks = np.arange(2, min(max_clusters, num_leaves - 1) + 1)
    if not ks.size:
        return 1
    upper = heights[num_leaves - ks]
    lower = heights[num_leaves - ks - 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = np.where(lower > 0, upper / lower, np.where(upper > 0, np.inf, 1.0))
    return int(ks[np.argmax(gap)])


def cut_tree(linkage, n_clusters):
    """Labels of the leaves when the last `n_clusters - 1` merges are undone.

    Args:
        linkage: scipy-format linkage `[m - 1, 4]`, merges by increasing height.
        n_clusters: k in 1..m.

    Returns:
        int64 array `[m]` with values 0..k-1.
    """
    num_leaves = len(linkage) + 1
    children = linkage[:, :2].astype(np.int64)
    kept = num_leaves - n_clusters
    label = np.full(2 * num_leaves - 1, -1, dtype=np.int64)
    if n_clusters == 1:
        label[-1] = 0
    else:
        # The k roots are the children of the undone merges that were not
        # themselves created by an undone merge.
        undone_children = children[kept:].ravel()
        roots = undone_children[undone_children < num_leaves + kept]
        label[roots] = np.arange(n_clusters)
    for merge in range(kept - 1, -1, -1):
        label[children[merge]] = label[num_leaves + merge]
    return label[:num_leaves]


def cluster(z, n_clusters=None, seed=0, *, n=None):
    """Ward clustering of latent codes, memory linear in N.

    Exact Ward (fastcluster) up to `EXACT_LIMIT` codes, Ward over
    `MICRO_CLUSTERS` weighted k-means micro-clusters beyond (see the module
    docstring).

    Without `n_clusters` the number of clusters comes from the codes, never
    from labels: the largest relative gap in the merge heights
    (`auto_n_clusters`), which finds clearly separated groups. Real latent
    codes are often one continuous cloud where that gap is small and sits at
    2 or 3 clusters (on the VAE codes of unbalanced MNIST: 3, gap 1.44), and
    per-cluster sampling over 3 clusters barely differs from sampling all
    codes at once. So when the clusters serve a query of n codes, at least
    `ceil(sqrt(n))` clusters are used (10 for n = 100, 32 for n = 1,000): a
    stratification whose clusters each receive about sqrt(n) codes, fine
    enough to reach the sparse regions, coarse enough that Algorithm 1 still
    samples a distribution within each cluster.

    Args:
        z: array-like `[N, L]` of finite latent codes.
        n_clusters: number of clusters; None chooses it as above.
        seed: seed of the micro-clustering (unused by the exact path) and of
            the principal components of wide codes.
        n: size of the query the clusters serve, if any (see above).

    Returns:
        int64 array `[N]`: cluster of each code, numbered 0..k-1 by
        decreasing size (ties: the cluster holding the lower index first).
        Fewer than `n_clusters` clusters come back only when the codes have
        fewer distinct values (micro-clusters never split identical codes).
    """
    z = validation.check_codes(z)
    if n_clusters is not None:
        n_clusters = validation.check_count(n_clusters, len(z), "n_clusters")
    if z.shape[1] > principal.WIDE:
        # Standardised as a rule's codes are, so both project alike, and codes of any size stay finite in the SVD.
        z = principal.narrow(validation.standardise(z)[0], seed=seed)
    if len(z) <= EXACT_LIMIT:
        linkage = fastcluster.linkage_vector(z, method="ward")
        assignment = np.arange(len(z))
    else:
        num_micro = max(MICRO_CLUSTERS, 4 * (n_clusters or 0))
        assignment, centroids, sizes = kmeans(z, num_micro, seed=seed)
        linkage = ward_linkage(centroids, sizes)
    num_leaves = len(linkage) + 1
    if n_clusters is None:
        gap_clusters = auto_n_clusters(linkage[:, 2])
        floor = 1 if n is None else min(math.ceil(math.sqrt(n)), n, num_leaves)
        n_clusters = max(gap_clusters, floor)
        logging.info("Ward clustering of %d codes: %d clusters (largest merge-height gap at %d, "
                     "at least %d for a query of %s).", len(z), n_clusters, gap_clusters, floor, n)
    elif n_clusters > num_leaves:
        logging.warning("Asked for %d clusters but the codes support only %d; using %d.",
                        n_clusters, num_leaves, num_leaves)
        n_clusters = num_leaves
    return _by_decreasing_size(cut_tree(linkage, n_clusters)[assignment])


def resolve_clusters(z, *, clusters, n_clusters, seed, n):
    """The cluster assignment a cluster strategy uses: given, or computed.

    Args:
        z: float64 array `[N, L]`.
        clusters: None, or integer labels `[N]` to use as they are.
        n_clusters: None (automatic) or the number of Ward clusters; must be
            None when `clusters` is given.
        seed: seed of `cluster`.
        n: size of the query (see `cluster`).

    Returns:
        int64 array `[N]` with values 0..k-1.
    """
    if clusters is None:
        return cluster(z, n_clusters, seed, n=n)
    if n_clusters is not None:
        raise ValueError("Give either clusters or n_clusters, not both.")
    return validation.check_clusters(clusters, len(z))


def _by_decreasing_size(labels):
    sizes = np.bincount(labels)
    first_member = np.full(len(sizes), len(labels))
    np.minimum.at(first_member, labels, np.arange(len(labels)))
    order = np.lexsort((first_member, -sizes))
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return rank[labels]


def _to_scipy_linkage(merges, num_leaves):
    """Converts (leaf of a, leaf of b, height) merges to scipy's format."""
    # A stable sort keeps a merge after the merges it builds on, even at
    # equal heights: Ward heights never decrease up the tree.
    merges = merges[np.argsort(merges[:, 2], kind="stable")]
    parent = np.arange(num_leaves)
    node = np.arange(num_leaves)
    leaves = np.ones(num_leaves)
    linkage = np.empty((len(merges), 4))
    for i, (a, b, height) in enumerate(merges):
        root_a, root_b = _find(parent, int(a)), _find(parent, int(b))
        low, high = sorted((node[root_a], node[root_b]))
        linkage[i] = low, high, height, leaves[root_a] + leaves[root_b]
        parent[root_b] = root_a
        node[root_a] = num_leaves + i
        leaves[root_a] += leaves[root_b]
    return linkage


def _find(parent, leaf):
    root = leaf
    while parent[root] != root:
        root = parent[root]
    while parent[leaf] != root:  # Path compression keeps later finds short.
        parent[leaf], leaf = root, parent[leaf]
    return root


def _subsample(z, size, rng):
    if len(z) <= size:
        return z
    return z[np.sort(rng.choice(len(z), size, replace=False))]


def _kmeans_plusplus(z, k, rng):
    """k-means++ seeding (Arthur & Vassilvitskii 2007); stops early when every
    code coincides with a chosen centroid."""
    chosen = [int(rng.integers(len(z)))]
    closest = np.full(len(z), np.inf)
    distances = SquaredDistances(z)
    for _ in range(k - 1):
        np.minimum(closest, distances(chosen[-1]), out=closest)
        cumulative = np.cumsum(closest)
        if cumulative[-1] <= 0:
            break
        # side="right" never lands on a code of zero weight; min() guards the
        # last code against rounding of the product.
        draw = np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right")
        chosen.append(min(int(draw), len(z) - 1))
    return z[chosen]


def _nearest(centroids, z):
    return NearestNeighbours(centroids).query(z)[1]


def _means(z, labels, k):
    sizes = np.bincount(labels, minlength=k)
    # One sparse product instead of a bincount per dimension (10x faster at
    # L = 128); each row still sums its members in index order.
    members = scipy.sparse.csr_matrix((np.ones(len(labels)), (labels, np.arange(len(labels)))), shape=(k, len(z)))
    sums = np.asarray(members @ z)
    with np.errstate(invalid="ignore"):
        return sums / sizes[:, None], sizes
