"""Compares the t-SNE AE's KL weight by how well its 2-D codes keep classes together.

Trains the t-SNE AE at each `--weights` value, and the CAE and VAE beside it,
over `--seeds`, narrow and briefly (on `mnist_sample` by default), then
scores every run's validation codes by their 5-nearest-neighbour label
accuracy among the pool codes, with the mean reconstruction error beside it
(`latens.research.latent_quality`). Runs are cached under `--workdir`; the runs and
their configs go to `<workdir>/comparison.json` and the table to stdout.

    python experiments/tsne_kl_weight.py --workdir=results/tsne_kl_weight --seeds=1,2,3
"""

import dataclasses

from absl import app, flags

from latens import data, models, train
from latens.models import layers
from latens.research import latent_quality

_WEIGHTS = flags.DEFINE_list("weights", ["1", "1000", "10000", "100000"], "t-SNE KL weights to compare.")
_BASELINES = flags.DEFINE_multi_enum(
    "baselines", ["cae", "vae"], [ae for ae in models.AUTOENCODERS if ae != "tsne"],
    "Other auto-encoders trained beside, with the same widths and epochs.",
)
_SEEDS = flags.DEFINE_list("seeds", ["1", "2", "3"], "Seeds of every setting.")
_DATASET = flags.DEFINE_enum("dataset", "mnist_sample", list(data.DATASETS), "Dataset.")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "Folder of the four IDX files.")
_EPOCHS = flags.DEFINE_integer("epochs", 5, "Passes over the pool.", lower_bound=1)
_WIDTH = flags.DEFINE_float("width", 0.25, "The paper's widths times this.", lower_bound=0.0)
_CONVS = flags.DEFINE_integer("convs_per_block", 1, "Convolutions per block.", lower_bound=1)
_K = flags.DEFINE_integer("k", 5, "Neighbours that vote.", lower_bound=1)
_WORKDIR = flags.DEFINE_string("workdir", None, "Folder for the runs and comparison.json.", required=True)


def main(argv):
    del argv
    base = train.TrainConfig(
        dataset=_DATASET.value, data_dir=_DATA_DIR.value, epochs=_EPOCHS.value,
        model_options={**layers.scaled_widths(_WIDTH.value), "convs_per_block": _CONVS.value},
    )
    settings = {ae: dataclasses.replace(base, ae=ae) for ae in _BASELINES.value}
    settings.update({f"tsne-kl{w}": dataclasses.replace(base, ae="tsne", kl_weight=float(w)) for w in _WEIGHTS.value})
    print(latent_quality.run_comparison(settings, [int(s) for s in _SEEDS.value], _WORKDIR.value, k=_K.value))


if __name__ == "__main__":
    app.run(main)
