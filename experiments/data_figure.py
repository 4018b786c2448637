"""Writes the data figures: pool class counts (balanced vs unbalanced) and example images.

    python experiments/data_figure.py --dataset=mnist_sample --out_dir=figures
"""

from absl import app, flags, logging

from latens import data
from latens.plots import data as data_plots

FLAGS = flags.FLAGS
flags.DEFINE_enum("dataset", "mnist_sample", list(data.DATASETS), "Dataset to draw.")
flags.DEFINE_string("data_dir", None, "Folder of the four IDX files (default: download or bundled).")
flags.DEFINE_string("out_dir", "figures", "Where the PNG files go.")
flags.DEFINE_integer("seed", 0, "Seed of the unbalancing draw.")


def main(argv):
    del argv
    for path in data_plots.write_data_figures(FLAGS.dataset, FLAGS.data_dir, FLAGS.out_dir, FLAGS.seed):
        logging.info("wrote %s", path)


if __name__ == "__main__":
    app.run(main)
