"""The study beyond the paper: every representation x rule x budget, scored by one protocol, resumably.

    python experiments/beyond.py --protocol=linear --data_dir=../shared/datasets
    python experiments/beyond.py --protocol=scratch --data_dir=../shared/datasets \
        --representations=simclr --strategies=random,cluster-medoid --sizes=100 --seeds=0,1,2,3,4,5,6,7,8,9

The flags are `latens.study.StudyConfig`'s; `--protocol` chooses the scoring
(linear: a softmax regression on the frozen SimCLR embedding; scratch: the
paper's classifier trained on the query alone, stopped once converged).
Every stage is cached under `--workdir` (see `latens.study`); started again, it
continues where it stopped. `--table_only` prints the tables from the saved results.
"""

from absl import app, flags

from latens import flagconfig, grid, study

flagconfig.define_flags(study.StudyConfig)
_PROTOCOL = flags.DEFINE_enum("protocol", "linear", list(grid.PROTOCOLS), "How a query is scored.")
_TABLE_ONLY = flags.DEFINE_bool("table_only", False, "Only print the tables from the saved results.")


def main(argv):
    del argv
    config = flagconfig.from_flags(study.StudyConfig)
    print((study.table if _TABLE_ONLY.value else study.run)(config, _PROTOCOL.value))


if __name__ == "__main__":
    app.run(main)
