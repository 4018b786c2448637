"""Compares ways to keep a small, briefly trained VAE from collapsing its posterior.

Trains the VAE at each of `--settings` (an initializer of the ReLU layers
and Adam's learning rate) over `--seeds`, by default as the quickstart
trains it (half the paper's widths, 3 epochs on the unbalanced
`mnist_sample`), then scores every run (`latens.research.latent_quality`): the
5-nearest-neighbour label accuracy of its validation codes among the pool
codes, the mean reconstruction error, and the pool codes' smallest standard
deviation over the latent dimensions, near 0 where the posterior collapsed
the codes onto a point or a line. Runs are cached under `--workdir`; the
runs and their configs go to `<workdir>/comparison.json` and the table to
stdout.

    python experiments/vae_collapse.py --workdir=results/vae_collapse
"""

from absl import app, flags

from latens import checks, data, representations, train
from latens.models import layers
from latens.research import latent_quality, quickstart

_QUICKSTART = quickstart.QuickstartConfig()  # Trains the VAE as the quickstart does, by default.

_SETTINGS = flags.DEFINE_list(
    "settings", ["glorot_uniform:0.001", "he_uniform:0.001", "he_uniform:0.0003"],
    "initializer:learning_rate[:log_var_bound] settings: a Keras initializer of the ReLU layers, Adam's "
    "learning rate and, optionally, the VAE's log-variance bound (a number, or none for no bound; default: "
    "the model's).",
)


def _parse(setting):
    """`(initializer, learning_rate, options)` of a setting; ValueError when malformed."""
    initializer, learning_rate, *rest = checks.colon_separated(
        "a setting", setting, "initializer:learning_rate[:log_var_bound]",
        (lambda name: checks.one_of("initializer", name, representations.INITIALIZERS),
         lambda rate: checks.positive("learning_rate", float(rate)),
         lambda bound: None if bound == "none" else float(bound)), optional=1)
    return initializer, learning_rate, {"log_var_bound": rest[0]} if rest else {}


def _valid_settings(settings):
    try:
        for setting in settings:
            _parse(setting)
    except ValueError:
        return False
    return True


flags.register_validator(
    "settings", _valid_settings,
    "each setting must be initializer:learning_rate[:log_var_bound], e.g. he_uniform:0.001 or he_uniform:0.001:none",
)
_SEEDS = flags.DEFINE_list("seeds", ["0", "1", "2"], "Seeds of every setting.")
_DATASET = flags.DEFINE_enum("dataset", "mnist_sample", list(data.DATASETS), "Dataset.")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "Folder of the four IDX files.")
_UNBALANCED = flags.DEFINE_bool("unbalanced", True, "Train on the unbalanced pool.")
_EPOCHS = flags.DEFINE_integer("epochs", _QUICKSTART.vae_epochs, "Passes over the pool.", lower_bound=1)
_WIDTH = flags.DEFINE_float("width", _QUICKSTART.width, "The paper's widths times this.", lower_bound=0.0)
_K = flags.DEFINE_integer("k", 5, "Neighbours that vote.", lower_bound=1)
_WORKDIR = flags.DEFINE_string("workdir", None, "Folder for the runs and comparison.json.", required=True)


def main(argv):
    del argv
    settings = {}
    for setting in _SETTINGS.value:
        initializer, learning_rate, options = _parse(setting)
        name = f"{initializer}-lr{setting.split(':')[1]}" + "".join(f"-bound{v}" for v in options.values())
        settings[name] = train.TrainConfig(
            ae="vae", dataset=_DATASET.value, data_dir=_DATA_DIR.value, unbalanced=_UNBALANCED.value,
            epochs=_EPOCHS.value, learning_rate=learning_rate,
            model_options={**layers.scaled_widths(_WIDTH.value), "kernel_initializer": initializer, **options},
        )
    print(latent_quality.run_comparison(settings, [int(s) for s in _SEEDS.value], _WORKDIR.value, k=_K.value))


if __name__ == "__main__":
    app.run(main)
