"""The paper's three auto-encoders and the convolutional stacks they share.

`build_autoencoder("cae" | "vae" | "tsne", latent_dim, **options)` builds
one. Every model is a `keras.Model` with its own train and test steps (compile
it with an optimizer only), `encode(x)` -> codes `[N, L]` and
`reconstruction_error(x)` -> mean absolute error `[N]`. Importing this package
registers the classes with Keras, so `keras.saving.load_model` reads back a
saved `.keras` file.
"""

import keras

from latens import checks
from latens.models.cae import ConvAutoEncoder
from latens.models.layers import build_decoder, build_encoder_body
from latens.models.tsne import TSNEAutoEncoder
from latens.models.vae import VariationalAutoEncoder

AUTOENCODERS = {
    "cae": ConvAutoEncoder,
    "vae": VariationalAutoEncoder,
    "tsne": TSNEAutoEncoder,
}


def build_autoencoder(kind: str, latent_dim: int = 2, **options) -> ConvAutoEncoder:
    """Builds an untrained auto-encoder.

    Args:
      kind: "cae", "vae" or "tsne".
      latent_dim: L, the size of a code.
      **options: constructor arguments of the class: `input_shape`
        (default `(28, 28, 1)`), `filters`, `convs_per_block`, `dense_units`
        (defaults: the paper's), and `seed` (VAE) or `perplexity` and
        `kl_weight` (t-SNE).

    Returns:
      The model, uncompiled.

    Raises:
      ValueError: unknown kind.
    """
    checks.one_of("kind", kind, AUTOENCODERS, what="auto-encoder")
    return AUTOENCODERS[kind](latent_dim=latent_dim, **options)


def load(path) -> ConvAutoEncoder:
    """Loads an auto-encoder saved with `model.save(path)`, without its optimizer."""
    return keras.saving.load_model(path, compile=False)


__all__ = [
    "AUTOENCODERS",
    "ConvAutoEncoder",
    "TSNEAutoEncoder",
    "VariationalAutoEncoder",
    "build_autoencoder",
    "build_decoder",
    "build_encoder_body",
    "load",
]
