"""The `latens-select` command: choose which images of a folder to label first.

    latens-select --images=DIR --n=100 --out=DIR
    latens-select --images=DIR --n=100 --out=DIR --labels=labels.csv   # the next 100, and pre-labels

reads every image under DIR (recursively), trains a representation of them
(by default a SimCLR encoder), chooses n with a query strategy (by default
cluster-medoid) and writes query.csv, label_studio.json, embeddings.npz,
contact_sheet.png, latent.png, skipped.csv and config.json into --out (see
`latens.select.folder`). With --labels (a CSV file,label, a Label Studio
JSON export or a folder per class) it chooses the next n among the images
not labelled, reusing the model, and writes predictions.csv: a suggested
label and a confidence for every image not labelled, least confident first. Run again with the same flags, it reuses the images read
and the model trained (a killed run resumes its training); --retrain trains
anew. Bad input (a missing or empty folder, no readable image, fewer
readable images than n, bad options, an output folder in use, a full disk)
ends with a one-line message and exit status 1, and leaves no partial
output; so does a training loss that turns NaN or infinite. Ctrl-C ends it
with one line and status 130. The options are `latens.select.folder.ChoiceConfig`'s
fields. Only latens' own messages are shown (TensorFlow's start-up lines
are not), unless --verbosity=1 or more asks for them.

`--distribute=mirrored` uses every local GPU; on a machine without GPUs it
runs one replica on the CPU (splitting the CPU into logical devices would
have to happen before TensorFlow starts, and gains nothing).
"""

import os
import re
import signal
import sys

from absl import app, flags

from latens import runtime

INTERRUPTED = "latens-select: interrupted; run the same command again to resume (finished epochs are kept)"
# Standard error as the command started with it: while TensorFlow loads, fd 2 points at the null device.
_STDERR = os.dup(2)


def _interrupted(signum, frame):
    # Raised where the program is, so every `finally` (the lock, temporary
    # files) still runs, and it ends without a traceback, even while the
    # libraries are still loading.
    sys.stderr.flush()
    os.write(_STDERR, f"{INTERRUPTED}\n".encode())
    raise SystemExit(130)


if os.path.basename(sys.argv[0]) == "latens-select":  # The command, not a program importing this module.
    signal.signal(signal.SIGINT, _interrupted)

# Before anything imports TensorFlow: its native start-up lines are not
# latens' messages. `--verbosity=1` (or more) shows them.
if not any(re.fullmatch(r"--?v(erbosity)?=?[1-9]\d*|--?v(erbosity)?", arg) for arg in sys.argv[1:]):
    runtime.load_tensorflow_quietly()

import keras  # noqa: E402

from latens import backup, flagconfig  # noqa: E402
from latens.select import folder

flags.DEFINE_string("images", None, "Folder of images, searched recursively.", required=True)
flags.DEFINE_string("out", None, "Output folder (may be inside --images; it is not read).", required=True)
flags.DEFINE_string("labels", None, "The labels given so far: a CSV with file,label columns, a Label Studio JSON "
                    "export, or a folder of one folder per class. Then --n images are chosen among the others, "
                    "and predictions.csv suggests a label for every image not labelled (--n=0: only that).")
flagconfig.define_flags(folder.ChoiceConfig)
flags.DEFINE_bool("retrain", False, "Train a new model even if the one in --out fits these flags.")
flags.DEFINE_integer("workers", None, "Image decoding threads (default: one per CPU core).", lower_bound=1)
flags.DEFINE_bool("progress", True, "Show progress bars.")

FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    try:
        config = flagconfig.from_flags(folder.ChoiceConfig)
        keras.utils.set_random_seed(config.seed)
        folder.choose(FLAGS.images, FLAGS.out, config, labels=FLAGS.labels, retrain=FLAGS.retrain,
                      workers=FLAGS.workers, progress=FLAGS.progress)
    except (folder.InputError, backup.NonFiniteLossError) as error:
        sys.exit(f"latens-select: error: {flagconfig.flag_syntax(str(error), folder.ChoiceConfig)}")
    except KeyboardInterrupt:  # Where the handler is not installed.
        print(INTERRUPTED, file=sys.stderr)
        sys.exit(130)


def run():
    """The console script's entry point."""
    signal.signal(signal.SIGINT, _interrupted)
    # absl's --help shows the docstring and flags of the main module, which
    # for a console script is pip's stub: make them this module's.
    sys.modules["__main__"].__doc__ = __doc__
    for flag in FLAGS.get_key_flags_for_module(__name__):
        FLAGS.register_key_flag_for_module(sys.argv[0], flag)
    app.run(main)


if __name__ == "__main__":
    run()
