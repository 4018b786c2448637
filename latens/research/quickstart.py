"""The main job on the bundled sample: latens' recommended choice beside a random one and the paper's, in minutes.

`run(QuickstartConfig())` is what `experiments/quickstart.py` runs, on the
unbalanced `mnist_sample` pool: it trains the paper's VAE and latens' own
representation (`latens.select.choice.ChoiceConfig.ae`, a SimCLR encoder) briefly;
chooses queries of n = 20 and n = 100 with `random`, the paper's
`multi-normal-cluster` and latens' rule (`ChoiceConfig.strategy`) in each,
over ten seeds; scores every query with a softmax regression on the frozen
SimCLR embedding of its images (`latens.research.linear`, seconds a cell); and writes
the table, the paired differences to `random` with their 95 % confidence
intervals, and the figures. `protocol="scratch"` scores the queries of
n = 100 with the paper's classifier instead, trained from scratch on each for
100 epochs, over three seeds (the paper's protocol trains 500 at n = 100, see
`latens.research.evaluate`).
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import ClassVar

from absl import logging

from latens import checks, representations, runtime
from latens.models import layers
from latens.research import evaluate, grid
from latens.research.plots import grid as grid_plots
from latens.research.plots import study as study_plots
from latens.select import choice

# The smoke version's widths: a check that runs in seconds, not a result.
NARROW = {"filters": (8, 8, 8), "convs_per_block": 1, "dense_units": (32,)}
NARROW_SIMCLR = {"filters": (8, 8), "convs_per_block": 1}


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
        (`latens.research.evaluate.ClassifierConfig.stop`).
      distribute: distribution strategy for training (GPU/TPU).
      width: the VAE's and the scratch classifier's widths, times the
        paper's: about three times cheaper to train than the paper's, so
        the job takes minutes on a 2-core CPU (SimCLR keeps its own widths).
      vae_epochs: the paper's VAE's training passes over the pool.
      simclr_epochs: the SimCLR encoder's training passes: long enough on
        the sample's 5,000 images for the effect to show over ten seeds
        (docs/beyond.md, "latens' defaults").
      linear_seeds: seeds of the linear protocol (0, 1, ...).
      scratch_seeds: seeds of the scratch protocol.
      classifier_epochs: the scratch classifier's epochs (the paper's
        protocol trains 500 at n = 100).
    """

    CHOICES: ClassVar[dict] = {"protocol": grid.PROTOCOLS, "classifier_stop": evaluate.STOPS,
                               "distribute": runtime.DISTRIBUTIONS}

    workdir: str = "runs/quickstart"
    out_dir: str = "runs/quickstart/figures"
    smoke: bool = False
    protocol: str = "linear"
    classifier_stop: str = "paper"
    distribute: str = "default"
    width: float = 0.5
    vae_epochs: int = 3
    simclr_epochs: int = 20
    linear_seeds: int = 10
    scratch_seeds: int = 3
    classifier_epochs: int = 100

    def __post_init__(self):
        checks.choices(self)
        checks.positive("width", self.width)
        for name in ("vae_epochs", "simclr_epochs", "linear_seeds", "scratch_seeds", "classifier_epochs"):
            checks.at_least(name, checks.integer(name, getattr(self, name)), 1)


def grid_config(config: QuickstartConfig) -> grid.GridConfig:
    """The quickstart's grid.

    The VAE's ReLU layers start from "he_uniform" rather than Keras' default,
    without which this VAE collapsed its posterior in 3 epochs (see
    `latens.models.layers` on initialisation). `smoke` shrinks every part
    (narrow networks, one epoch, n = 20, one seed).
    """
    smoke, linear = config.smoke, config.protocol == "linear"
    prefix = "smoke-" if smoke else ""  # The smoke version's narrow networks are other representations.
    widths = NARROW if smoke else layers.scaled_widths(config.width)
    recommended = choice.ChoiceConfig()
    return grid.GridConfig(
        workdir=str(pathlib.Path(config.workdir) / f"{prefix}{config.protocol}"),
        ae_dir=str(pathlib.Path(config.workdir) / f"{prefix}ae"),
        datasets=("mnist_sample+unbalanced",),
        sizes=(20,) if smoke else (20, 100) if linear else (100,),
        aes=("vae", recommended.ae),
        strategies=("random", "multi-normal-cluster", recommended.strategy),
        seeds=(0,) if smoke else tuple(range(config.linear_seeds if linear else config.scratch_seeds)),
        ae=representations.Training(epochs=1 if smoke else config.vae_epochs,
                                    options={**widths, "kernel_initializer": "he_uniform"}),
        simclr=representations.Training(epochs=1 if smoke else config.simclr_epochs,
                                        options=NARROW_SIMCLR if smoke else {}),
        distribute=config.distribute,
        protocol=config.protocol,
        classifier=evaluate.ClassifierConfig(
            epochs=2 if smoke else config.classifier_epochs,
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
