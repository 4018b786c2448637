"""Checks the classifier's "converged" stop against the paper's full epoch count on Table 1's own queries.

    python experiments/classifier_stop.py --table1=results/table1 --workdir=results/classifier_stop \
        --data_dir=../shared/datasets/mnist

Each cell is trained once, for the paper's epochs, and scored both where the
rule fires and at the end (see `latens.research.stop_check`). Started again, it skips
finished cells; `--table_only` prints the tables from the saved results, and
other rules replayed on the stored training losses
(`latens.research.stop_check.render_replayed`).
"""

from absl import app, flags

from latens import flagconfig
from latens.research import stop_check

flagconfig.define_flags(stop_check.StopCheckConfig)
_TABLE_ONLY = flags.DEFINE_bool("table_only", False, "Only print the tables from the saved results.")


def main(argv):
    del argv
    config = flagconfig.from_flags(stop_check.StopCheckConfig)
    if _TABLE_ONLY.value:
        results = stop_check.load(config.workdir)
        print(stop_check.render(results))
        print("Rules replayed on the stored losses, judged on the validation records:\n")
        print(stop_check.render_replayed(results))
    else:
        print(stop_check.run(config))


if __name__ == "__main__":
    app.run(main)
