"""How many images must train the encoder: SimCLR trained on M of the pool's images, every image embedded.

For each M of `--train_sizes`, trains the study's SimCLR on a seeded sample
of M pool images, embeds the whole pool, and scores the embedding (5-NN)
and the default rule against random (the linear protocol, and with
`--protocols=linear,scratch` the paper's classifier too), paired with the
study's arm trained on every image (`latens.research.train_size`). Resumes;
writes `<workdir>/summary.json` and `summary.md`, and prints the table.

    python experiments/train_size.py --data_dir=../shared/datasets --protocols=linear,scratch
"""

from absl import app, flags

from latens import flagconfig
from latens.research import train_size

flagconfig.define_flags(train_size.TrainSizeConfig)
_SUMMARY_ONLY = flags.DEFINE_bool("summary_only", False, "Only rewrite the summary from the saved runs and cells.")


def main(argv):
    del argv
    config = flagconfig.from_flags(train_size.TrainSizeConfig)
    print(train_size.summarize(config) if _SUMMARY_ONLY.value else train_size.run(config))


if __name__ == "__main__":
    app.run(main)
