"""The main job on the bundled sample: train a VAE, choose queries, score them, draw figures.

    python experiments/quickstart.py

On the unbalanced `mnist_sample` pool (no network needed) it trains a VAE
briefly, selects n = 100 images with `multi-normal-cluster` and with
`random`, trains the classifier on each query over three seeds, prints a
small Table 1 and writes its figures (see `latens.reproduce.quickstart`).
Started again, it reuses everything already finished.
"""

from absl import app, flags

from latens import reproduce, runtime

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", "runs/quickstart", "Where the stages are cached.")
flags.DEFINE_string("out_dir", "runs/quickstart/figures", "Where the figures go.")
flags.DEFINE_bool("smoke", False, "A tiny version that runs in seconds (a check, not a result).")
flags.DEFINE_enum("distribute", "default", list(runtime.STRATEGIES), "Distribution strategy (GPU/TPU).")


def main(argv):
    del argv
    print(reproduce.quickstart(FLAGS.workdir, FLAGS.out_dir, smoke=FLAGS.smoke, distribute=FLAGS.distribute))


if __name__ == "__main__":
    app.run(main)
