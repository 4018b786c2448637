"""Compares the representations latens can select in, label-free trained and label-scored.

Trains (or reads back) the study's representations on one dataset's pool
(pixel PCA, the three auto-encoders at L = 2 and L = 16, the contrastive
encoder; `latens.research.study`), in the study's shared cache, so the study's grids
select in these very codes, and scores each by the 5-nearest-neighbour label
accuracy of its validation codes among its pool codes
(`latens.research.latent_quality`), the raw pixels beside them. A killed comparison
resumes; every run's config, scores and training seconds go to `--out`, the
table to stdout. The other flags are `latens.research.study.StudyConfig`'s.

    python experiments/representations.py --dataset=mnist --data_dir=../shared/datasets \
        --out=results/representations/mnist.json
"""

from absl import app, flags

from latens import flagconfig
from latens.research import latent_quality, study

_EXCLUDED = ("datasets", "sizes", "strategies", "seeds", "classifier_stop")
flagconfig.define_flags(study.StudyConfig, exclude=_EXCLUDED)
_DATASET = flags.DEFINE_string("dataset", "mnist", "Dataset, optionally with +unbalanced.")
_NAMES = flags.DEFINE_list("names", ["pixels", *study.REPRESENTATIONS],
                           "What to compare: pixels, or representation names (`latens.representations`).")
_OUT = flags.DEFINE_string("out", None, "The comparison's JSON file.", required=True)
_K = flags.DEFINE_integer("k", 5, "Neighbours that vote.", lower_bound=1)


def main(argv):
    del argv
    config = flagconfig.from_flags(study.StudyConfig, exclude=_EXCLUDED).grid_config(datasets=(_DATASET.value,))
    print(latent_quality.run_representation_comparison(config, _DATASET.value, _NAMES.value, _OUT.value, k=_K.value))


if __name__ == "__main__":
    app.run(main)
