"""The loop after the first labels, measured: pre-labels and next batches round by round, resumably.

    python experiments/rounds.py --data_dir=../shared/datasets --datasets=mnist
    python experiments/rounds.py --table_only --datasets=mnist --figures_dir=figures

The flags are `latens.research.rounds.RoundsConfig`'s. Every cell (dataset,
arm, seed) is stored under `--workdir` as it finishes; started again, it
continues where it stopped. The SimCLR representations are the cold-start
study's, trained into `--ae_dir` the first time a dataset needs one.
`--table_only` prints the tables from the saved results; `--figures_dir`
also draws accuracy against labels per arm there (`rounds_<dataset>.png`).
"""

from absl import app, flags

from latens import flagconfig
from latens.research import rounds
from latens.research.plots import rounds as rounds_plots

flagconfig.define_flags(rounds.RoundsConfig)
_TABLE_ONLY = flags.DEFINE_bool("table_only", False, "Only print the tables from the saved results.")
_FIGURES_DIR = flags.DEFINE_string("figures_dir", None, "Where to draw the figures (none: no figure).")


def main(argv):
    del argv
    config = flagconfig.from_flags(rounds.RoundsConfig)
    print(rounds.render(config) if _TABLE_ONLY.value else rounds.run(config))
    rounds.write_tables(config)
    if _FIGURES_DIR.value:
        rounds_plots.write_figures(config, _FIGURES_DIR.value)


if __name__ == "__main__":
    app.run(main)
