"""The main job on the bundled sample: a small grid that shows the whole pipeline in minutes.

`run(QuickstartConfig())` is what `experiments/quickstart.py` runs: a VAE
trained briefly on the unbalanced `mnist_sample` pool; queries of n = 100 by
`random` and `multi-normal-cluster` over three seeds; a classifier trained on
each query for 100 epochs (the paper's protocol trains 500 at n = 100, see
`latens.evaluate`); Table 1 of those rows, and the grid's figures.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from absl import logging

from latens import checks, evaluate, grid, runtime
from latens.plots import grid as grid_plots

# Both networks keep the paper's layers at this fraction of its widths:
# about three times cheaper to train, so the job takes minutes on a 2-core CPU.
WIDTH = 0.5
# The smoke version's widths: a check that runs in seconds, not a result.
NARROW = {"filters": (8, 8, 8), "convs_per_block": 1, "dense_units": (32,)}


@dataclasses.dataclass(frozen=True)
class QuickstartConfig:
    """The quickstart's options; every field is a flag of `experiments/quickstart.py`.

    Attributes:
      workdir: where the grid's stages are cached.
      out_dir: where the figures go.
      smoke: a tiny version that runs in seconds (a check, not a result).
      classifier_stop: when each classifier stops
        (`latens.evaluate.ClassifierConfig.stop`).
      distribute: distribution strategy for training (GPU/TPU).
    """

    CHOICES: ClassVar[dict] = {"classifier_stop": evaluate.STOPS, "distribute": runtime.DISTRIBUTIONS}

    workdir: str = "runs/quickstart"
    out_dir: str = "runs/quickstart/figures"
    smoke: bool = False
    classifier_stop: str = "paper"
    distribute: str = "default"

    def __post_init__(self):
        checks.choices(self)


def grid_config(config: QuickstartConfig) -> grid.GridConfig:
    """The quickstart's grid.

    The VAE's ReLU layers start from "he_uniform" rather than Keras' default,
    without which this VAE collapsed its posterior in 3 epochs (see
    `latens.models.layers` on initialisation). `smoke` shrinks every part
    (narrow networks, one epoch, n = 20, one seed).
    """
    from latens.models import layers

    widths = NARROW if config.smoke else layers.scaled_widths(WIDTH)
    return grid.GridConfig(
        workdir=config.workdir,
        datasets=("mnist_sample+unbalanced",),
        sizes=(20,) if config.smoke else (100,),
        aes=("vae",),
        strategies=("random", "multi-normal-cluster"),
        seeds=(0,) if config.smoke else (0, 1, 2),
        ae_epochs=1 if config.smoke else 3,
        ae_options={**widths, "kernel_initializer": "he_uniform"},
        distribute=config.distribute,
        classifier=evaluate.ClassifierConfig(
            epochs=2 if config.smoke else 100,
            val_points=2 if config.smoke else 10,
            val_size=None,
            stop=config.classifier_stop,
            **widths,
        ),
    )


def run(config: QuickstartConfig) -> str:
    """Runs the quickstart's grid, writes its figures to `config.out_dir`, returns its table."""
    table = grid.run(grid_config(config))
    for path in grid_plots.write_figures(config.workdir, config.out_dir):
        logging.info("wrote %s", path)
    return table
