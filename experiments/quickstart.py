"""The main job on the bundled sample: train a VAE, choose queries, score them, draw figures.

    python experiments/quickstart.py

On the unbalanced `mnist_sample` pool (no network needed) it trains a VAE
briefly, selects n = 100 images with `multi-normal-cluster` and with
`random`, trains the classifier on each query over three seeds, prints a
small Table 1 and writes its figures (see `latens.quickstart`). Started
again, it reuses everything already finished.
"""

from absl import app

from latens import flagconfig, quickstart

flagconfig.define_flags(quickstart.QuickstartConfig)


def main(argv):
    del argv
    print(quickstart.run(flagconfig.from_flags(quickstart.QuickstartConfig)))


if __name__ == "__main__":
    app.run(main)
