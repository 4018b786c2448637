"""The quickstart: its VAE's initialisation keeps the codes apart from the posterior's noise."""

import keras
import numpy as np

from latens import data, models, quickstart
from latens.models import layers


def test_the_quickstart_vae_starts_with_codes_that_differ_more_than_its_noise(tmp_path):
    # The spread over images of the posterior means at initialisation, in
    # units of the posterior's standard deviation. Near 0, the decoder sees
    # noise, learns to ignore z, and a brief run collapses the posterior: the
    # quickstart's VAE did so with the default init (README, "What the main
    # job does").
    x = data.load("mnist_sample").pool[0][:256].astype(np.float32) / 255.0
    options = dict(quickstart.grid_config(quickstart.QuickstartConfig(workdir=str(tmp_path))).ae_options)

    def signal_to_noise(**changes):
        keras.utils.set_random_seed(0)
        mu, log_var = (np.asarray(t) for t in models.build_autoencoder("vae", **{**options, **changes}).encoder(x))
        return float(np.mean(mu.std(axis=0) / np.exp(0.5 * log_var).mean(axis=0)))

    assert signal_to_noise() > 0.05
    assert signal_to_noise(kernel_initializer=layers.KERNEL_INITIALIZER) < 0.01
