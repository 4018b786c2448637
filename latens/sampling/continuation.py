"""Strategies for the rounds after the first labels, which weigh where a classifier is unsure.

Once some codes are labelled, a classifier on the codes gives every other code
class probabilities `[N, C]` (`latens.prelabels`). These strategies read them:

* `margin`: margin sampling (Scheffer, Decomain & Wrobel 2001, "Active
  Hidden Markov Models for Information Extraction"): the n unlabelled codes
  whose two most probable classes are closest.
* `diverse_margin`: margin sampling spread over the space, after
  Cluster-Margin (Citovsky et al. 2021, "Batch Active Learning at Scale"):
  the `CANDIDATES` x n least certain unlabelled codes are split into n
  k-means clusters and each gives its least certain member, so that a batch
  does not spend itself on one boundary.

Coverage-only continuations (`typiclust`, `cluster-medoid`, `kcenter`,
`random` with `labelled=`) live with their cold-start rules
(`latens.sampling.deterministic`, `latens.sampling.strategies`).
"""

import numpy as np

from latens.sampling import clustering
from latens.sampling import validation

# Candidates per pick of `diverse_margin`, the least certain codes it spreads its picks over.
CANDIDATES = 10


def margin(z, n, *, probabilities, labelled=()):
    """The n unlabelled codes with the smallest margin between their two most probable classes.

    Args:
        z: float64 array `[N, L]` (only its length is used).
        n: number of codes, 1..N - M.
        probabilities: float array `[N, C]`, each row a code's class probabilities.
        labelled: int64 array `[M]` of codes already labelled (never picked).

    Returns:
        int64 array `[n]` of distinct indices, least certain first (ties: lower index).
    """
    margins = _margins(validation.check_probabilities(probabilities, len(z)))
    margins[np.asarray(labelled, dtype=np.int64)] = np.inf
    return np.argsort(margins, kind="stable")[:n]


def diverse_margin(z, n, *, seed, probabilities, labelled=()):
    """The least certain code of each of n k-means clusters of the least certain codes.

    Args:
        z: float64 array `[N, L]`.
        n: number of codes, 1..N - M.
        seed: seed of the k-means.
        probabilities: float array `[N, C]`, each row a code's class probabilities.
        labelled: int64 array `[M]` of codes already labelled (never picked).

    Returns:
        int64 array `[n]` of distinct indices, least certain first.
    """
    margins = _margins(validation.check_probabilities(probabilities, len(z)))
    margins[np.asarray(labelled, dtype=np.int64)] = np.inf
    candidates = np.argsort(margins, kind="stable")[:min(CANDIDATES * n, len(z) - len(labelled))]
    parts, _, sizes = clustering.kmeans(z[candidates], n, seed=seed)
    # Candidates come least certain first, so each part's first member is its least certain.
    firsts = np.unique(parts, return_index=True)[1]
    picks = candidates[np.sort(firsts)]
    if len(picks) < n:  # Fewer parts than n (identical codes): the next least certain fill the batch.
        rest = candidates[~np.isin(candidates, picks)]
        picks = np.concatenate([picks, rest[:n - len(picks)]])
    return picks[np.argsort(margins[picks], kind="stable")]


def _margins(probabilities):
    top_two = np.sort(probabilities, axis=1)[:, -2:]
    return top_two[:, 1] - top_two[:, 0]
