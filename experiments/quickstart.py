"""The main job on the bundled sample: latens' choice beside a random one and the paper's, with their gains.

    python experiments/quickstart.py

On the unbalanced `mnist_sample` pool (no network needed) it trains the
paper's VAE and a SimCLR encoder briefly, chooses n = 20 and n = 100 images
with `random`, `multi-normal-cluster` (the paper's) and `cluster-medoid`
(latens') over ten seeds, scores each choice with a linear classifier on
the SimCLR embedding (`--protocol=scratch`: the paper's classifier),
prints the table with each row's paired gain over random, and writes its
figures (see `latens.research.quickstart`). Started again, it reuses everything
already finished.
"""

from absl import app

from latens import flagconfig
from latens.research import quickstart

flagconfig.define_flags(quickstart.QuickstartConfig)


def main(argv):
    del argv
    print(quickstart.run(flagconfig.from_flags(quickstart.QuickstartConfig)))


if __name__ == "__main__":
    app.run(main)
