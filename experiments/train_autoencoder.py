"""Trains one of the paper's auto-encoders and writes the codes of every pool image.

Example, one epoch of each model on the bundled MNIST sample:

  python experiments/train_autoencoder.py --ae=cae --epochs=1 --workdir=runs/cae
  python experiments/train_autoencoder.py --ae=vae --epochs=1 --workdir=runs/vae
  python experiments/train_autoencoder.py --ae=tsne --epochs=1 --workdir=runs/tsne

The workdir receives config.json, history.csv, model.keras, embeddings.npz
and DONE (see `latens.train`). Run the same command again after a crash and
it resumes from the last finished epoch; after success it does nothing
unless --overwrite. The flags are `latens.train.TrainConfig`'s fields.
"""

import keras
from absl import app, flags

from latens import data, flagconfig, train

flagconfig.define_flags(train.TrainConfig, choices={"dataset": data.DATASETS})
_WORKDIR = flags.DEFINE_string("workdir", None, "Folder for the run's files.", required=True)
_OVERWRITE = flags.DEFINE_bool("overwrite", False, "Replace a run already in --workdir.")


def main(argv):
    del argv
    config = flagconfig.from_flags(train.TrainConfig)
    keras.utils.set_random_seed(config.seed)
    train.train(config, _WORKDIR.value, overwrite=_OVERWRITE.value)


if __name__ == "__main__":
    app.run(main)
