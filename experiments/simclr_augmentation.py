"""Compares augmentations for the contrastive encoder by how well its embeddings keep classes together.

Trains `simclr` briefly with each setting below on one dataset's pool and
scores its embedding by the 5-NN label accuracy of validation images among
pool images (`latens.research.latent_quality`). Runs are cached under `--workdir`;
every run's config and scores go to `<workdir>/comparison.json`.

    python experiments/simclr_augmentation.py --dataset=mnist --data_dir=../shared/datasets/mnist \
        --workdir=results/simclr_augmentation
"""

import dataclasses

from absl import app, flags

from latens import data, train
from latens.research import latent_quality

# Setting name -> every `latens.models.augment.Augmentation` field, written out
# so that a stored run names its augmentation whatever the defaults become
# (`crop_area`, added later, only where a setting crops).
_BASE = {"translation": 0.15, "rotation": 15.0, "zoom": 0.2, "contrast": 0.4, "noise": 0.1, "flip": False}
SETTINGS = {
    "shift 0.15": _BASE,
    "shift 0.15, geometric only": {**_BASE, "contrast": 0.0, "noise": 0.0},
    "no shift": {**_BASE, "translation": 0.0},
    "weaker geometry": {**_BASE, "translation": 0.05, "rotation": 5.0, "zoom": 0.1},
    "stronger geometry": {**_BASE, "translation": 0.25, "rotation": 30.0, "zoom": 0.3},
    "shift 0.15, with flips": {**_BASE, "flip": True},
    "no shift, with flips": {**_BASE, "translation": 0.0, "flip": True},
    "no shift, stronger rotation and zoom": {**_BASE, "translation": 0.0, "rotation": 30.0, "zoom": 0.3},
    "no shift, crops 0.3": {**_BASE, "translation": 0.0, "crop_area": 0.3},
    "no shift, crops 0.3, with flips": {**_BASE, "translation": 0.0, "crop_area": 0.3, "flip": True},
    "no shift, crops 0.5, with flips": {**_BASE, "translation": 0.0, "crop_area": 0.5, "flip": True},
}

_DATASET = flags.DEFINE_enum("dataset", "mnist_sample", list(data.DATASETS), "Dataset.")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "Folder of the four IDX files.")
_WORKDIR = flags.DEFINE_string("workdir", None, "Folder for the runs and comparison.json.", required=True)
_SETTINGS = flags.DEFINE_multi_enum("settings", list(SETTINGS), list(SETTINGS), "Augmentations to compare.")
_EPOCHS = flags.DEFINE_integer("epochs", 3, "Training epochs of every run.", lower_bound=1)
_SEEDS = flags.DEFINE_list("seeds", ["0"], "Seeds of every setting.")
_SCHEDULE = flags.DEFINE_enum("learning_rate_schedule", "constant", list(train.SCHEDULES),
                              "Learning-rate schedule of every run.")


def main(argv):
    del argv
    base = train.TrainConfig(ae="simclr", dataset=_DATASET.value, data_dir=_DATA_DIR.value, epochs=_EPOCHS.value,
                             learning_rate_schedule=_SCHEDULE.value)
    settings = {name.replace(" ", "-").replace(",", ""): dataclasses.replace(
                    base, model_options={"augmentation": SETTINGS[name]})
                for name in _SETTINGS.value}
    print(latent_quality.run_comparison(settings, [int(s) for s in _SEEDS.value], _WORKDIR.value))


if __name__ == "__main__":
    app.run(main)
