"""Chooses which examples to label first from a workdir's embeddings.

Reads `<workdir>/embeddings.npz` and writes `query.npz`, `query.csv`,
`query_latent.png` and, with labels, `query_classes.png`
(see `latens.queries`):

    python experiments/select_queries.py --workdir workdirs/mnist_cae \\
        --strategy uniform-cluster --n 100 --seed 0
"""

from absl import app
from absl import flags

from latens import queries
from latens.sampling import STRATEGIES

_WORKDIR = flags.DEFINE_string("workdir", None, "Folder holding embeddings.npz.", required=True)
_STRATEGY = flags.DEFINE_enum("strategy", "uniform-cluster", list(STRATEGIES),
                              "Query-selection strategy.")
_N = flags.DEFINE_integer("n", 100, "Number of examples to choose.", lower_bound=1)
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the strategy.", lower_bound=0)
_N_CLUSTERS = flags.DEFINE_integer(
    "n_clusters", None, "Clusters for cluster strategies; unset: chosen from the data.",
    lower_bound=1)
_THRESHOLD = flags.DEFINE_float(
    "threshold", None, "Algorithm 1 threshold t; unset: median nearest-neighbour distance.")
_OUT = flags.DEFINE_string("out", None, "Output folder; unset: the workdir.")


def main(argv):
    del argv  # Unused.
    queries.select_queries(_WORKDIR.value, strategy=_STRATEGY.value, n=_N.value, seed=_SEED.value,
                       n_clusters=_N_CLUSTERS.value, threshold=_THRESHOLD.value, out=_OUT.value)


if __name__ == "__main__":
    app.run(main)
