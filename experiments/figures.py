"""Draws the reproduction's figures (Figure 2a, 2b and more) from a grid's saved results.

    python experiments/figures.py --workdir=results/table1 --out_dir=figures
"""

from absl import app, flags, logging

from latens.research.plots import grid
from latens.research import grid as grid_lib

_WORKDIR = flags.DEFINE_string("workdir", grid_lib.GridConfig.workdir, "The grid's workdir (see experiments/reproduce.py).")
_OUT_DIR = flags.DEFINE_string("out_dir", "figures", "Where the PNG files go.")


def main(argv):
    del argv
    for path in grid.write_figures(_WORKDIR.value, _OUT_DIR.value):
        logging.info("wrote %s", path)


if __name__ == "__main__":
    app.run(main)
