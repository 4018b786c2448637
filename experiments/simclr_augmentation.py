"""Compares settings of the contrastive encoder by how well its embeddings keep classes together.

Trains `simclr` briefly with each setting below (its augmentations, and in
some its temperature, widths, batch or learning rate) on one dataset's pool
and scores its embedding by the 5-NN label accuracy of validation images
among pool images (`latens.research.latent_quality`). Runs are cached under
`--workdir`; every run's config and scores go to `<workdir>/comparison.json`.
With `--knn_every` a run is also scored while it trains, so one long run
says how the score grows with the epochs and the seconds; with `--by_layer`
the encoder's other layers are scored too (`ContrastiveEncoder.layer_codes`).

    python experiments/simclr_augmentation.py --dataset=mnist --data_dir=../shared/datasets/mnist \
        --workdir=results/simclr_augmentation
"""

import dataclasses

from absl import app, flags

from latens import data, train
from latens.research import latent_quality

# Every `latens.models.augment.Augmentation` field, written out so that a
# stored run names its augmentation whatever the defaults become
# (`crop_area`, added later, only where a setting crops).
_BASE = {"translation": 0.15, "rotation": 15.0, "zoom": 0.2, "contrast": 0.4, "noise": 0.1, "flip": False}
_NO_SHIFT = {**_BASE, "translation": 0.0}
_FLIPPED = {**_NO_SHIFT, "rotation": 0.0, "zoom": 0.1, "flip": True}
# Setting name -> its augmentation, then any other model options (temperature,
# filters) and training fields (`TRAINING`: batch size, learning rate).
SETTINGS = {
    "shift 0.15": {"augmentation": _BASE},
    "shift 0.15, geometric only": {"augmentation": {**_BASE, "contrast": 0.0, "noise": 0.0}},
    "no shift": {"augmentation": _NO_SHIFT},
    "weaker geometry": {"augmentation": {**_BASE, "translation": 0.05, "rotation": 5.0, "zoom": 0.1}},
    "stronger geometry": {"augmentation": {**_BASE, "translation": 0.25, "rotation": 30.0, "zoom": 0.3}},
    "shift 0.15, with flips": {"augmentation": {**_BASE, "flip": True}},
    "no shift, with flips": {"augmentation": {**_NO_SHIFT, "flip": True}},
    "no shift, stronger rotation and zoom": {"augmentation": {**_NO_SHIFT, "rotation": 30.0, "zoom": 0.3}},
    "no shift, crops 0.3": {"augmentation": {**_NO_SHIFT, "crop_area": 0.3}},
    "no shift, crops 0.3, with flips": {"augmentation": {**_NO_SHIFT, "crop_area": 0.3, "flip": True}},
    "no shift, crops 0.5, with flips": {"augmentation": {**_NO_SHIFT, "crop_area": 0.5, "flip": True}},
    "no shift, no contrast or noise": {"augmentation": {**_NO_SHIFT, "contrast": 0.0, "noise": 0.0}},
    "no shift, temperature 0.5": {"augmentation": _NO_SHIFT, "temperature": 0.5},
    "no shift, temperature 0.1": {"augmentation": _NO_SHIFT, "temperature": 0.1},
    "no shift, temperature 0.05": {"augmentation": _NO_SHIFT, "temperature": 0.05},
    "no shift, filters 64 and 128": {"augmentation": _NO_SHIFT, "filters": [64, 128]},
    "no shift, batch 512": {"augmentation": _NO_SHIFT, "batch_size": 512},
    "no shift, learning rate 0.003": {"augmentation": _NO_SHIFT, "learning_rate": 3e-3},
    "flips, no rotation, zoom 0.1": {"augmentation": _FLIPPED},
    "flips, no rotation, zoom 0.1, temperature 0.1": {"augmentation": _FLIPPED, "temperature": 0.1},
    "flips, no rotation or zoom, temperature 0.1": {"augmentation": {**_FLIPPED, "zoom": 0.0}, "temperature": 0.1},
    "flips, crops 0.6, no rotation or zoom, temperature 0.1": {
        "augmentation": {**_FLIPPED, "zoom": 0.0, "crop_area": 0.6}, "temperature": 0.1},
    # latens' views for images of objects (`representations.IMAGE_KINDS`), as they were measured.
    "objects": {"augmentation": _FLIPPED, "temperature": 0.05},
}
# The fields of a setting that are the training run's, not the model's.
TRAINING = ("batch_size", "learning_rate")

_DATASET = flags.DEFINE_enum("dataset", "mnist_sample", list(data.DATASETS), "Dataset.")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "Folder of the four IDX files.")
_WORKDIR = flags.DEFINE_string("workdir", None, "Folder for the runs and comparison.json.", required=True)
_SETTINGS = flags.DEFINE_multi_enum("settings", list(SETTINGS), list(SETTINGS), "Augmentations to compare.")
_EPOCHS = flags.DEFINE_integer("epochs", 3, "Training epochs of every run.", lower_bound=1)
_SEEDS = flags.DEFINE_list("seeds", ["0"], "Seeds of every setting.")
_KNN_EVERY = flags.DEFINE_integer("knn_every", 0, "Also score every run after every this many epochs and the "
                                  "last while it trains (0: only once trained).", lower_bound=0)
_BY_LAYER = flags.DEFINE_bool("by_layer", False, "Also score the encoder's other layers (the flattened conv maps, "
                               "the embedding before its ReLU) once trained.")
_SCHEDULE = flags.DEFINE_enum("learning_rate_schedule", "constant", list(train.SCHEDULES),
                              "Learning-rate schedule of every run.")


def main(argv):
    del argv
    base = train.TrainConfig(ae="simclr", dataset=_DATASET.value, data_dir=_DATA_DIR.value, epochs=_EPOCHS.value,
                             learning_rate_schedule=_SCHEDULE.value)
    settings = {}
    for name in _SETTINGS.value:
        options = dict(SETTINGS[name])
        fields = {field: options.pop(field) for field in TRAINING if field in options}
        settings[name.replace(" ", "-").replace(",", "")] = dataclasses.replace(base, model_options=options, **fields)
    print(latent_quality.run_comparison(settings, [int(s) for s in _SEEDS.value], _WORKDIR.value,
                                        knn_every=_KNN_EVERY.value, by_layer=_BY_LAYER.value))


if __name__ == "__main__":
    app.run(main)
