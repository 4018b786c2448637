"""The quickstart: its grid (latens' choice beside random and the paper's), and its VAE's initialisation."""

import keras
import numpy as np

from latens import data, models
from latens.models import layers
from latens.research import grid, quickstart
from latens.select import choice


def test_the_quickstart_vae_starts_with_codes_that_differ_more_than_its_noise(tmp_path):
    # The spread over images of the posterior means at initialisation, in
    # units of the posterior's standard deviation. Near 0, the decoder sees
    # noise, learns to ignore z, and a brief run collapses the posterior: the
    # quickstart's VAE did so with the default init (README, "What the main
    # job does").
    x = data.load("mnist_sample").pool[0][:256].astype(np.float32) / 255.0
    options = dict(quickstart.grid_config(quickstart.QuickstartConfig(workdir=str(tmp_path))).ae.options)

    def signal_to_noise(**changes):
        keras.utils.set_random_seed(0)
        mu, log_var = (np.asarray(t) for t in models.build_autoencoder("vae", **{**options, **changes}).encoder(x))
        return float(np.mean(mu.std(axis=0) / np.exp(0.5 * log_var).mean(axis=0)))

    assert signal_to_noise() > 0.05
    assert signal_to_noise(kernel_initializer=layers.KERNEL_INITIALIZER) < 0.01


def test_the_quickstart_sets_latens_choice_beside_random_and_the_papers_rule():
    recommended = choice.ChoiceConfig()
    config = quickstart.grid_config(quickstart.QuickstartConfig())
    assert config.aes == ("vae", recommended.ae) and config.protocol == "linear"
    assert config.strategies == ("random", "multi-normal-cluster", recommended.strategy)
    assert config.sizes == (20, 100) and len(config.seeds) == 10
    scratch = quickstart.grid_config(quickstart.QuickstartConfig(protocol="scratch"))
    assert scratch.protocol == "scratch" and scratch.sizes == (100,) and scratch.classifier.epochs == 100


def test_the_grid_hands_its_simclr_options_to_the_encoder_alone():
    smoke = grid.Grid(quickstart.grid_config(quickstart.QuickstartConfig(smoke=True)))
    assert smoke.ae_config("mnist_sample", "simclr").model_options == quickstart.NARROW_SIMCLR
    assert "filters" in smoke.ae_config("mnist_sample", "vae").model_options
    assert smoke.ae_config("mnist_sample", "vae").model_options["filters"] != quickstart.NARROW_SIMCLR["filters"]
    assert grid.Grid(grid.GridConfig()).ae_config("mnist", "simclr").model_options == {}
