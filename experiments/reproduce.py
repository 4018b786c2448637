"""Runs the paper's Table 1 grid (or any part of it), resumably, and prints the table.

    python experiments/reproduce.py --datasets=mnist,mnist+unbalanced --sizes=100,1000 \
        --data_dir=/path/to/mnist --workdir=results/table1

Every stage is cached under --workdir (see `latens.research.grid`): started again
after a kill, it continues where it stopped. `--table_only` prints Table 1
from the saved results without running anything. The flags are
`latens.research.grid.GridConfig`'s fields (the classifier's behind `classifier_`),
except `--seeds`, a count of seeds from `--first_seed`.
"""

from absl import app, flags, logging

from latens import flagconfig
from latens.research import evaluate, grid, paper, tables

_DEFAULTS = grid.GridConfig()
# The classifier computes in the grid's precision.
_EXCLUDED = ("seeds", "classifier_precision")
flagconfig.define_flags(grid.GridConfig, exclude=_EXCLUDED)
_SEEDS = flags.DEFINE_integer("seeds", len(_DEFAULTS.seeds), "Seeds per cell: first_seed, first_seed + 1, ...",
                              lower_bound=1)
_FIRST_SEED = flags.DEFINE_integer("first_seed", _DEFAULTS.seeds[0], "First seed.", lower_bound=0)
_DETERMINISTIC = flags.DEFINE_bool("deterministic", False, "Add the rules beyond the paper "
                                   f"({', '.join(paper.DETERMINISTIC_STRATEGIES)}) as rows.")
_TABLE_ONLY = flags.DEFINE_bool("table_only", False, "Only print Table 1 and its query summary from the saved results.")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    if _TABLE_ONLY.value:
        print(tables.write_table(FLAGS.workdir))
        return
    strategies = list(FLAGS.strategies)
    if _DETERMINISTIC.value:
        strategies += [s for s in paper.DETERMINISTIC_STRATEGIES if s not in strategies]
    try:
        config = flagconfig.from_flags(
            grid.GridConfig,
            exclude=_EXCLUDED,
            strategies=tuple(strategies),
            seeds=tuple(range(_FIRST_SEED.value, _FIRST_SEED.value + _SEEDS.value)),
            classifier=flagconfig.from_flags(evaluate.ClassifierConfig, prefix="classifier_",
                                             exclude=_EXCLUDED, precision=FLAGS.precision),
        )
    except ValueError as e:
        raise app.UsageError(str(e)) from e
    table = grid.run(config)
    logging.info("Table 1 written to %s/table1.md", config.workdir)
    print(table)


if __name__ == "__main__":
    app.run(main)
