"""The main job on the bundled sample: latens' recommended choice beside a random one and the paper's, in minutes.

`run(QuickstartConfig())` is what `experiments/quickstart.py` runs, on the
unbalanced `mnist_sample` pool: it trains the paper's VAE and latens' own
representation (`latens.choice.FolderConfig.ae`, a SimCLR encoder) briefly;
chooses queries of n = 20 and n = 100 with `random`, the paper's
`multi-normal-cluster` and latens' rule (`FolderConfig.strategy`) in each,
over ten seeds; scores every query with a softmax regression on the frozen
SimCLR embedding of its images (`latens.linear`, seconds a cell); and writes
the table, the paired differences to `random` with their 95 % confidence
intervals, and the figures. `protocol="scratch"` scores the queries of
n = 100 with the paper's classifier instead, trained from scratch on each for
100 epochs, over three seeds (the paper's protocol trains 500 at n = 100, see
`latens.evaluate`).
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import ClassVar

from absl import logging

from latens import checks, choice, evaluate, grid, runtime
from latens.plots import grid as grid_plots
from latens.plots import study as study_plots

# The VAE and the scratch classifier keep the paper's layers at this fraction
# of its widths: about three times cheaper to train, so the job takes minutes
# on a 2-core CPU. SimCLR keeps its own default widths.
WIDTH = 0.5
# The smoke version's widths: a check that runs in seconds, not a result.
NARROW = {"filters": (8, 8, 8), "convs_per_block": 1, "dense_units": (32,)}
NARROW_SIMCLR = {"filters": (8, 8), "convs_per_block": 1}
# Long enough on the sample's 5,000 images for the effect to show over ten
# seeds (docs/beyond.md, "latens' defaults"); about 3 minutes on a 2-core CPU.
SIMCLR_EPOCHS = 20


@dataclasses.dataclass(frozen=True)
class QuickstartConfig:
    """The quickstart's options; every field is a flag of `experiments/quickstart.py`.

    Attributes:
      workdir: where the grid's stages are cached: the representations in
        `ae/`, each protocol's queries and results in a folder of its name
        (all prefixed `smoke-` for the smoke version), so one protocol's
        run reuses the other's representations but never meets its cells.
      out_dir: where the figures go (each run draws them anew).
      smoke: a tiny version that runs in seconds (a check, not a result).
      protocol: how a query is scored: "linear" (a softmax regression on the
        frozen SimCLR embedding) or "scratch" (the paper's classifier).
      classifier_stop: when each classifier stops
        (`latens.evaluate.ClassifierConfig.stop`).
      distribute: distribution strategy for training (GPU/TPU).
    """

    CHOICES: ClassVar[dict] = {"protocol": grid.PROTOCOLS, "classifier_stop": evaluate.STOPS,
                               "distribute": runtime.DISTRIBUTIONS}

    workdir: str = "runs/quickstart"
    out_dir: str = "runs/quickstart/figures"
    smoke: bool = False
    protocol: str = "linear"
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

    smoke, linear = config.smoke, config.protocol == "linear"
    prefix = "smoke-" if smoke else ""  # The smoke version's narrow networks are other representations.
    widths = NARROW if smoke else layers.scaled_widths(WIDTH)
    recommended = choice.FolderConfig()
    return grid.GridConfig(
        workdir=str(pathlib.Path(config.workdir) / f"{prefix}{config.protocol}"),
        ae_dir=str(pathlib.Path(config.workdir) / f"{prefix}ae"),
        datasets=("mnist_sample+unbalanced",),
        sizes=(20,) if smoke else (20, 100) if linear else (100,),
        aes=("vae", recommended.ae),
        strategies=("random", "multi-normal-cluster", recommended.strategy),
        seeds=(0,) if smoke else tuple(range(10)) if linear else (0, 1, 2),
        ae_epochs=1 if smoke else 3,
        simclr_epochs=1 if smoke else SIMCLR_EPOCHS,
        ae_options={**widths, "kernel_initializer": "he_uniform"},
        simclr_options=NARROW_SIMCLR if smoke else {},
        distribute=config.distribute,
        protocol=config.protocol,
        classifier=evaluate.ClassifierConfig(
            epochs=2 if smoke else 100,
            val_points=2 if smoke else 10,
            val_size=None,
            stop=config.classifier_stop,
            **widths,
        ),
    )


def run(config: QuickstartConfig) -> str:
    """Runs the quickstart's grid, writes its figures to `config.out_dir`, returns its table."""
    settings = grid_config(config)
    table = grid.run(settings, paper_values=False)
    written = grid_plots.write_figures(settings.workdir, config.out_dir, settings.ae_dir)
    written += study_plots.write_figures(settings.workdir, config.out_dir, name="gains")
    for path in written:
        logging.info("wrote %s", path)
    return table
