"""Writes images of a dataset's pool as PNG files: a folder to try `latens-select` on.

    python experiments/sample_folder.py --out=runs/digits --count=2000
    latens-select --images=runs/digits --out=runs/digits_query --n=100 --image_size=28 --channels=1
"""

from absl import app, flags, logging

from latens import data, folder

FLAGS = flags.FLAGS
flags.DEFINE_string("out", None, "Folder to write the PNG files into.", required=True)
flags.DEFINE_enum("dataset", "mnist_sample", list(data.DATASETS), "Dataset whose pool images are written.")
flags.DEFINE_string("data_dir", None, "Folder of the dataset's IDX files (not needed for mnist_sample).")
flags.DEFINE_integer("count", 2000, "Images to write: the pool's first `count`.", lower_bound=1)


def main(argv):
    del argv
    x, _ = data.load(FLAGS.dataset, FLAGS.data_dir).pool
    paths = folder.export_images(x[: FLAGS.count], FLAGS.out, prefix=FLAGS.dataset)
    logging.info("Wrote %d PNG files into %s.", len(paths), FLAGS.out)


if __name__ == "__main__":
    app.run(main)
