"""Regenerates the bundled `mnist_sample` (latens/_data/mnist_sample.npz) from MNIST IDX files.

    python experiments/make_mnist_sample.py --data_dir=/path/to/mnist
"""

import os

from absl import app, flags, logging

from latens import data

FLAGS = flags.FLAGS
flags.DEFINE_string("data_dir", None, "Folder of the four MNIST IDX files.", required=True)
flags.DEFINE_string(
    "out",
    os.path.join(os.path.dirname(data.__file__), "_data", "mnist_sample.npz"),
    "Destination .npz file.",
)


def main(argv):
    del argv
    sizes = data.write_sample(FLAGS.data_dir, FLAGS.out)
    logging.info("wrote %s: %s", FLAGS.out, sizes)


if __name__ == "__main__":
    app.run(main)
