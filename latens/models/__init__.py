"""The representation models: the paper's three auto-encoders, a contrastive encoder and pixel PCA.

`build_autoencoder("cae" | "vae" | "tsne", latent_dim, **options)` builds one
of the paper's auto-encoders; `build_representation(kind, latent_dim,
**options)` any kind of `REPRESENTATIONS`, the auto-encoders and `simclr`
(`latens.models.simclr`) and `pca` (`latens.models.pca`). Every model is a
`keras.Model` with `encode(x)` -> codes `[N, L]`; the trained ones have their
own train and test steps (compile them with an optimizer only), the
auto-encoders also `reconstruction_error(x)` -> mean absolute error `[N]`.
Importing this package registers the classes with Keras, so
`keras.saving.load_model` reads back a saved `.keras` file.
"""

import keras

from latens import checks, representations
from latens.models.cae import ConvAutoEncoder
from latens.models.layers import build_decoder, build_encoder_body
from latens.models.pca import PixelPCA
from latens.models.simclr import ContrastiveEncoder
from latens.models.tsne import TSNEAutoEncoder
from latens.models.vae import VariationalAutoEncoder

# Every kind's class, as its `latens.representations.Spec` names it.
REPRESENTATIONS = {kind: spec.model_class() for kind, spec in representations.SPECS.items()}
AUTOENCODERS = {kind: REPRESENTATIONS[kind] for kind in representations.AUTOENCODERS}


def build_autoencoder(kind: str, latent_dim: int = 2, **options) -> ConvAutoEncoder:
    """Builds an untrained auto-encoder.

    Args:
      kind: "cae", "vae" or "tsne".
      latent_dim: L, the size of a code.
      **options: constructor arguments of the class: `input_shape`
        (default `(28, 28, 1)`), `filters`, `convs_per_block`, `dense_units`
        (defaults: the paper's), and `seed` and `log_var_bound` (VAE) or
        `perplexity` and `kl_weight` (t-SNE).

    Returns:
      The model, uncompiled.

    Raises:
      ValueError: unknown kind.
    """
    checks.one_of("kind", kind, AUTOENCODERS, what="auto-encoder")
    return AUTOENCODERS[kind](latent_dim=latent_dim, **options)


def build_representation(kind: str, latent_dim: int | None = None, **options) -> keras.Model:
    """Builds an untrained model of any kind in `REPRESENTATIONS`.

    Args:
      kind: a `REPRESENTATIONS` name.
      latent_dim: the codes' dimension; None: the kind's default
        (`latens.representations.DEFAULT_DIMS`).
      **options: constructor arguments of the kind's class.

    Returns:
      The model, uncompiled (pixel PCA is fitted by `fit_pixels`).
    """
    return representations.build(kind, latent_dim, **options)


def load(path) -> keras.Model:
    """Loads a model saved with `model.save(path)`, without its optimizer."""
    return keras.saving.load_model(path, compile=False)


__all__ = [
    "AUTOENCODERS",
    "REPRESENTATIONS",
    "ContrastiveEncoder",
    "ConvAutoEncoder",
    "PixelPCA",
    "TSNEAutoEncoder",
    "VariationalAutoEncoder",
    "build_autoencoder",
    "build_decoder",
    "build_encoder_body",
    "build_representation",
    "load",
]
