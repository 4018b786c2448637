"""The representation kinds: one specification each, what configs check and resolve without importing TensorFlow.

A kind (`cae`, `vae`, `tsne`, `simclr`, `pca`) is an entry of `SPECS`: its
default code size, batch size and epochs, the model options it takes, the
smallest batch it learns from, whether its codes come with a reconstruction
error (for `ae-error`), and the class that implements it (imported only when
`build` is called). Every config and entry point reads a kind's defaults
through `resolve`, the one place where they are filled in, so the same kind
gets the same model wherever it is named. Adding a kind means adding its
`Spec` here and its model module in `latens.models` (docs/models.md).

A representation is named by its kind, optionally followed by the dimension
of its codes: `vae` (the VAE at its default L = 2), `vae16` (L = 16),
`simclr`, `pca50`.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import re
from collections.abc import Callable

from latens import checks

# The paper's batch of 64 images per step.
PAPER_BATCH_SIZE = 64
# The initializers offered for the networks' ReLU layers (Keras names):
# Glorot's, Keras' default, and He's, made for ReLU stacks.
INITIALIZERS = ("glorot_uniform", "glorot_normal", "he_uniform", "he_normal")
_NAMED = re.compile(r"^([a-z]+?)(\d*)$")


def _any_batch(perplexity: float | None = None) -> int:
    return 1


def _above_perplexity(perplexity: float | None = None) -> int:
    """The t-SNE loss compares each example with the rest of its batch at `perplexity`: more than perplexity + 1."""
    if perplexity is None:
        raise ValueError("the minimum batch of tsne depends on its perplexity; pass perplexity")
    return math.floor(perplexity + 1) + 1


def _two(perplexity: float | None = None) -> int:
    # SimCLR's NT-Xent contrasts each image's two views with the other images
    # of the batch: alone in its batch an image has none, and its loss is 0.
    return 2


@dataclasses.dataclass(frozen=True)
class Spec:
    """What latens knows of a representation kind before building it.

    Attributes:
      kind: its name.
      model: the `keras.Model` subclass that implements it, as
        `"module:Class"` (imported by `build`).
      latent_dim: the size L of its codes when none is asked for.
      batch_size: images per training step when none is asked for.
      epochs: training passes when none are asked for (pixel PCA: one fit).
      options: the model's constructor options beyond `input_shape` and
        `latent_dim`, those a config may set.
      min_batch: `min_batch(perplexity)` -> the fewest images per step and
        replica the kind learns from.
      reconstructs: whether its codes come with a reconstruction error
        (what `ae-error` ranks).
      trained: whether it learns by gradient steps (pixel PCA is fitted once).
      kernel_initializer: the default initializer of its ReLU layers (None:
        it has none).
      seeded: whether its model takes the run's `seed` (noise, augmentation, sampling).
    """

    kind: str
    model: str
    latent_dim: int
    batch_size: int = PAPER_BATCH_SIZE
    epochs: int = 20
    options: tuple[str, ...] = ()
    min_batch: Callable[[float | None], int] = _any_batch
    reconstructs: bool = False
    trained: bool = True
    kernel_initializer: str | None = None
    seeded: bool = False

    def model_class(self):
        """The model's class (imports its module, and with it TensorFlow)."""
        module, name = self.model.split(":")
        return getattr(importlib.import_module(module), name)


_CONV = ("filters", "convs_per_block", "dense_units", "kernel_initializer")
SPECS: dict[str, Spec] = {
    spec.kind: spec for spec in (
        # The paper's auto-encoders: 2-D codes, its batch of 64, Keras' default initializer.
        Spec("cae", "latens.models.cae:ConvAutoEncoder", latent_dim=2, options=_CONV, reconstructs=True,
             kernel_initializer="glorot_uniform"),
        Spec("vae", "latens.models.vae:VariationalAutoEncoder", latent_dim=2, options=(*_CONV, "log_var_bound"),
             reconstructs=True, kernel_initializer="glorot_uniform", seeded=True),
        Spec("tsne", "latens.models.tsne:TSNEAutoEncoder", latent_dim=2,
             options=(*_CONV, "perplexity", "kl_weight"), min_batch=_above_perplexity, reconstructs=True,
             kernel_initializer="glorot_uniform"),
        # The contrastive encoder: a 128-d embedding, and more images per batch,
        # since every image is contrasted with the rest of its batch.
        Spec("simclr", "latens.models.simclr:ContrastiveEncoder", latent_dim=128, batch_size=256,
             options=("filters", "convs_per_block", "projection_dim", "temperature", "kernel_initializer",
                      "augmentation"),
             min_batch=_two, kernel_initializer="he_uniform", seeded=True),
        # Pixel PCA: 50 principal components, fitted without epochs.
        Spec("pca", "latens.models.pca:PixelPCA", latent_dim=50, epochs=1, trained=False, seeded=True),
    )
}
KINDS = tuple(SPECS)
AUTOENCODERS = tuple(kind for kind, spec in SPECS.items() if spec.reconstructs)
# Kinds whose codes come with a reconstruction error (for `ae-error`).
RECONSTRUCTING = AUTOENCODERS
DEFAULT_DIMS = {kind: spec.latent_dim for kind, spec in SPECS.items()}


def spec(kind: str) -> Spec:
    """The `Spec` of a kind; `ValueError` naming the kinds for an unknown one."""
    checks.one_of("representation", kind, KINDS)
    return SPECS[kind]


def resolve(kind: str, latent_dim: int | None = None, batch_size: int | None = None) -> tuple[int, int]:
    """A kind's code size and batch size, each the one asked for or, if None, the kind's default.

    The one place where kind-dependent defaults are filled in: every config
    and entry point calls it (or a config that does), so `--ae=simclr` trains
    the same 128-d encoder from the command line, `latens.choose` or a grid.

    Returns:
      `(latent_dim, batch_size)`.
    """
    kind_spec = spec(kind)
    return latent_dim or kind_spec.latent_dim, batch_size or kind_spec.batch_size


def parse(name: str) -> tuple[str, int | None]:
    """`"vae16"` -> `("vae", 16)`, `"vae"` -> `("vae", None)`: a kind, and the dimension its name asks for.

    Raises:
      ValueError: not a kind of `KINDS` with an optional positive dimension.
    """
    match = _NAMED.match(name)
    kind, digits = (match.group(1), match.group(2)) if match else (name, "")
    checks.one_of("representation", kind, KINDS)
    if digits and int(digits) < 1:
        raise ValueError(f"a representation's dimension must be positive, got {name!r}")
    return kind, int(digits) if digits else None


def batch_size(kind: str) -> int:
    """The kind's default images per training step."""
    return spec(kind).batch_size


def min_batch(kind: str, perplexity: float | None = None) -> int:
    """The fewest images per training step and replica that the kind learns from.

    Args:
      kind: one of `KINDS`.
      perplexity: the t-SNE loss's perplexity (needed for `tsne` only).

    Returns:
      The minimum batch size (1 where any batch will do).
    """
    return spec(kind).min_batch(perplexity)


def build(kind: str, latent_dim: int | None = None, **options):
    """Builds an untrained model of a kind (imports TensorFlow).

    Args:
      kind: one of `KINDS`.
      latent_dim: the codes' size; None: the kind's default.
      **options: `input_shape`, and the kind's `Spec.options` (plus `seed`
        for a seeded kind, and any option the class takes).

    Returns:
      The model, uncompiled (pixel PCA is fitted by `fit_pixels`).
    """
    kind_spec = spec(kind)
    return kind_spec.model_class()(latent_dim=latent_dim or kind_spec.latent_dim, **options)
