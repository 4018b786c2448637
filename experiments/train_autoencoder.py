"""Trains one of the paper's auto-encoders and writes the codes of every pool image.

Example, one epoch of each model on the bundled MNIST sample:

  python experiments/train_autoencoder.py --ae=cae --epochs=1 --workdir=runs/cae
  python experiments/train_autoencoder.py --ae=vae --epochs=1 --workdir=runs/vae
  python experiments/train_autoencoder.py --ae=tsne --epochs=1 --workdir=runs/tsne

The workdir receives config.json, history.csv, model.keras, embeddings.npz
and DONE (see `latens.train`). Run the same command again after a crash and
it resumes from the last finished epoch; after success it does nothing
unless --overwrite.
"""

import keras
from absl import app, flags

from latens import data, models, runtime, train

_DEFAULTS = train.TrainConfig()

flags.DEFINE_enum("ae", _DEFAULTS.ae, list(models.AUTOENCODERS), "Auto-encoder to train.")
flags.DEFINE_enum(
    "dataset", _DEFAULTS.dataset, list(data.DATASETS), "Dataset; its pool is the training set."
)
flags.DEFINE_string("data_dir", None, "Folder of the four IDX files, read instead of downloading.")
flags.DEFINE_bool("unbalanced", False, "Train on the paper's unbalanced pool.")
flags.DEFINE_integer("latent_dim", _DEFAULTS.latent_dim, "Size L of a code.", lower_bound=1)
flags.DEFINE_integer("epochs", _DEFAULTS.epochs, "Passes over the pool.", lower_bound=1)
flags.DEFINE_integer("batch_size", _DEFAULTS.batch_size, "Global batch size.", lower_bound=1)
flags.DEFINE_float("learning_rate", _DEFAULTS.learning_rate, "Adam learning rate.")
flags.DEFINE_integer("seed", _DEFAULTS.seed, "Seed of initialisation, shuffling and VAE noise.")
flags.DEFINE_string("workdir", None, "Folder for the run's files.", required=True)
flags.DEFINE_enum(
    "precision", _DEFAULTS.precision, list(runtime.PRECISIONS),
    "Dtype policy; auto picks bfloat16 on TPUs and AMX CPUs, float16 on GPUs, float32 otherwise.",
)
flags.DEFINE_enum(
    "distribute", _DEFAULTS.distribute, list(runtime.STRATEGIES), "Distribution strategy."
)
flags.DEFINE_float("perplexity", _DEFAULTS.perplexity, "t-SNE target perplexity (--ae=tsne).")
flags.DEFINE_float(
    "kl_weight", _DEFAULTS.kl_weight, "Weight of the t-SNE KL(P || Q) against the BCE (--ae=tsne)."
)
flags.DEFINE_bool("overwrite", False, "Replace a run already in --workdir.")

FLAGS = flags.FLAGS


def main(argv):
    del argv
    keras.utils.set_random_seed(FLAGS.seed)
    config = train.TrainConfig(
        ae=FLAGS.ae,
        dataset=FLAGS.dataset,
        data_dir=FLAGS.data_dir,
        unbalanced=FLAGS.unbalanced,
        latent_dim=FLAGS.latent_dim,
        epochs=FLAGS.epochs,
        batch_size=FLAGS.batch_size,
        learning_rate=FLAGS.learning_rate,
        seed=FLAGS.seed,
        precision=FLAGS.precision,
        distribute=FLAGS.distribute,
        perplexity=FLAGS.perplexity,
        kl_weight=FLAGS.kl_weight,
    )
    train.train(config, FLAGS.workdir, overwrite=FLAGS.overwrite)


if __name__ == "__main__":
    app.run(main)
