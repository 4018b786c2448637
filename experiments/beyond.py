"""The study beyond the paper: every representation x rule x budget, scored by one protocol, resumably.

    python experiments/beyond.py --protocol=linear --data_dir=../shared/datasets
    python experiments/beyond.py --protocol=scratch --data_dir=../shared/datasets \
        --representations=simclr --strategies=random,cluster-medoid --sizes=100 --seeds=0,1,2,3,4,5,6,7,8,9

The flags are `latens.research.study.StudyConfig`'s; `--protocol` chooses the scoring
(linear: a softmax regression on the frozen SimCLR embedding; scratch: the
paper's classifier trained on the query alone, stopped once converged).
Every stage is cached under `--workdir` (see `latens.research.study`); started again, it
continues where it stopped. `--table_only` prints the tables from the saved
results, `--versus=<row>` every row's paired difference to that row (not to
random) from them; `--figures_dir` also draws each row's gain over random there
(`beyond_<protocol>.png`). `--beside=<workdir>,...` puts the rows that other
studies saved under the same protocol beside this one's in the printed
tables (with `--table_only` or `--versus`), paired seed by seed.
"""

from absl import app, flags

from latens import flagconfig
from latens.research import grid, study
from latens.research.plots import study as study_plots

flagconfig.define_flags(study.StudyConfig)
_PROTOCOL = flags.DEFINE_enum("protocol", "linear", list(grid.PROTOCOLS), "How a query is scored.")
_TABLE_ONLY = flags.DEFINE_bool("table_only", False, "Only print the tables from the saved results.")
_FIGURES_DIR = flags.DEFINE_string("figures_dir", None, "Where to draw the gains figure (none: no figure).")
_VERSUS = flags.DEFINE_string("versus", None, "Only print every row's paired difference to this row "
                              "(e.g. simclr.cluster-medoid) from the saved results.")
_BESIDE = flags.DEFINE_list("beside", [], "Workdirs of other studies whose saved rows of the same protocol "
                            "the printed tables (--table_only, --versus) show beside this one's.")


def main(argv):
    del argv
    config = flagconfig.from_flags(study.StudyConfig)
    if _VERSUS.value:
        try:
            print(study.versus(config, _PROTOCOL.value, _VERSUS.value, _BESIDE.value))
        except ValueError as error:
            raise app.UsageError(str(error)) from error
        return
    if _BESIDE.value and (not _TABLE_ONLY.value or _FIGURES_DIR.value):
        raise app.UsageError("--beside only prints tables (the figure shows this study's rows alone): pass "
                             "--table_only or --versus, without --figures_dir")
    if _TABLE_ONLY.value:
        try:
            print(study.table(config, _PROTOCOL.value, _BESIDE.value))
        except ValueError as error:
            raise app.UsageError(str(error)) from error
    else:
        print(study.run(config, _PROTOCOL.value))
    if _FIGURES_DIR.value:
        grid_config = study.protocol_config(config, _PROTOCOL.value)
        study_plots.write_figures(grid_config.workdir, _FIGURES_DIR.value, name=f"beyond_{_PROTOCOL.value}")


if __name__ == "__main__":
    app.run(main)
