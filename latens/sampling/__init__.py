"""Query selection: which unlabeled examples to label first.

Paper section 3.2 and Algorithm 1 (Killeen, "Query Selection based on Latent
Space Sampling"), made exact and terminating, plus deterministic strategies
from the active-learning literature, all on latent codes `z` `[N, L]`:

    indices = latens.sampling.select("uniform-cluster", z, n=100, seed=0)

`STRATEGIES` maps every strategy name to its callable, `CONTINUING` names
those that choose the next codes knowing which are labelled
(`select(..., labelled=indices)`); `cluster` is the label-free Ward
clustering the cluster strategies use.
"""

from latens.sampling.clustering import cluster
from latens.sampling.quotas import cluster_quotas
from latens.sampling.strategies import CONTINUING, STRATEGIES, select

__all__ = ["CONTINUING", "STRATEGIES", "cluster", "cluster_quotas", "select"]
