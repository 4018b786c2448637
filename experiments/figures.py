"""Draws the reproduction's figures (Figure 2a, 2b and more) from a grid's saved results.

    python experiments/figures.py --workdir=results/table1 --out_dir=figures
"""

from absl import app, flags, logging

from latens import reproduce

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", "runs/reproduce", "The grid's workdir (see experiments/reproduce.py).")
flags.DEFINE_string("out_dir", "figures", "Where the PNG files go.")


def main(argv):
    del argv
    for path in reproduce.write_figures(FLAGS.workdir, FLAGS.out_dir):
        logging.info("wrote %s", path)


if __name__ == "__main__":
    app.run(main)
