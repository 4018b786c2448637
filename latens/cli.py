"""The `latens-select` command: choose which images of a folder to label first.

    latens-select --images=DIR --n=100 --out=DIR

reads every image under DIR (recursively), trains an auto-encoder on them,
chooses n with a query strategy and writes query.csv, embeddings.npz,
contact_sheet.png, latent.png, skipped.txt and config.json into --out (see
`latens.folder`). Run again with the same flags, it reuses the images read
and the model trained (a killed run resumes its training); --retrain trains
anew. Bad input (a missing or empty folder, no readable image, fewer
readable images than n, bad options) ends with a one-line message and exit
status 1, and leaves no partial output.

`--distribute=mirrored` uses every local GPU; on a machine without GPUs it
runs one replica on the CPU (splitting the CPU into logical devices would
have to happen before TensorFlow starts, and gains nothing).
"""

import sys

import keras
from absl import app, flags

from latens import folder, models, runtime, sampling

_DEFAULTS = folder.FolderConfig()

flags.DEFINE_string("images", None, "Folder of images, searched recursively.", required=True)
flags.DEFINE_string("out", None, "Output folder (may be inside --images; it is not read).", required=True)
flags.DEFINE_integer("n", _DEFAULTS.n, "Number of images to choose.")
flags.DEFINE_enum("strategy", _DEFAULTS.strategy, list(sampling.STRATEGIES), "Query strategy.")
flags.DEFINE_enum("ae", _DEFAULTS.ae, list(models.AUTOENCODERS), "Auto-encoder.")
flags.DEFINE_integer("latent_dim", _DEFAULTS.latent_dim, "Size L of a code.")
flags.DEFINE_integer("image_size", _DEFAULTS.image_size, "Images are resized to this square side, a multiple of 4.")
flags.DEFINE_integer("channels", _DEFAULTS.channels, "1: grey, 3: colour.")
flags.DEFINE_enum("fit", _DEFAULTS.fit, list(folder.FITS),
                  "How images become square: stretch (keep all content), crop (centre), pad (black borders).")
flags.DEFINE_float("width", _DEFAULTS.width,
                   "Multiplier of the paper's conv and dense widths; 1 is the paper's network.")
flags.DEFINE_enum("kernel_initializer", _DEFAULTS.kernel_initializer, list(folder.INITIALIZERS),
                  "Initializer of the networks' ReLU layers.")
flags.DEFINE_integer("epochs", _DEFAULTS.epochs, "Training passes over the images.")
flags.DEFINE_integer("batch_size", _DEFAULTS.batch_size, "Images per training step.")
flags.DEFINE_integer("seed", _DEFAULTS.seed, "Seed of initialisation, training and selection.")
flags.DEFINE_enum("precision", _DEFAULTS.precision, list(runtime.PRECISIONS),
                  "Dtype policy; auto: bfloat16 on TPUs and AMX CPUs, float16 on GPUs, float32 otherwise.")
flags.DEFINE_enum("distribute", _DEFAULTS.distribute, list(runtime.STRATEGIES),
                  "default: one device; mirrored: all local GPUs; tpu: a Colab or Cloud TPU.")
flags.DEFINE_bool("retrain", False, "Train a new model even if the one in --out fits these flags.")
flags.DEFINE_integer("workers", None, "Image decoding threads (default: one per CPU core).", lower_bound=1)
flags.DEFINE_bool("progress", True, "Show progress bars.")

FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    try:
        config = folder.FolderConfig(
            n=FLAGS.n,
            strategy=FLAGS.strategy,
            ae=FLAGS.ae,
            latent_dim=FLAGS.latent_dim,
            image_size=FLAGS.image_size,
            channels=FLAGS.channels,
            fit=FLAGS.fit,
            width=FLAGS.width,
            kernel_initializer=FLAGS.kernel_initializer,
            epochs=FLAGS.epochs,
            batch_size=FLAGS.batch_size,
            seed=FLAGS.seed,
            precision=FLAGS.precision,
            distribute=FLAGS.distribute,
        )
        keras.utils.set_random_seed(FLAGS.seed)
        folder.choose(FLAGS.images, FLAGS.out, config, retrain=FLAGS.retrain, workers=FLAGS.workers,
                      progress=FLAGS.progress)
    except folder.InputError as error:
        sys.exit(f"latens-select: error: {error}")


def run():
    """The console script's entry point."""
    # absl's --help shows the docstring and flags of the main module, which
    # for a console script is pip's stub: make them this module's.
    sys.modules["__main__"].__doc__ = __doc__
    for flag in FLAGS.get_key_flags_for_module(__name__):
        FLAGS.register_key_flag_for_module(sys.argv[0], flag)
    app.run(main)


if __name__ == "__main__":
    run()
