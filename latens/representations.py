"""The representation kinds by name, and their defaults: what configs check without importing TensorFlow.

A representation is named by its kind, optionally followed by the dimension
of its codes: `vae` (the VAE at its default L = 2), `vae16` (L = 16),
`simclr`, `pca50`. `latens.models` builds the models behind the names.
"""

from __future__ import annotations

import math
import re

from latens import checks

AUTOENCODERS = ("cae", "vae", "tsne")
KINDS = (*AUTOENCODERS, "simclr", "pca")
# The dimension of a kind's codes when none is asked for: the paper's 2-D
# latent spaces; SimCLR's 128-d embedding; 50 principal components.
DEFAULT_DIMS = {"cae": 2, "vae": 2, "tsne": 2, "simclr": 128, "pca": 50}
# Images per training step when none is asked for: the paper's 64, and more
# for SimCLR, whose every image is contrasted with the rest of its batch.
DEFAULT_BATCH_SIZES = {"simclr": 256}
PAPER_BATCH_SIZE = 64
# The fewest images per training step and replica that a kind learns from.
# SimCLR's NT-Xent contrasts each image's two views with the other images of
# the batch: alone in its batch an image has none, and its loss is exactly 0.
# The t-SNE auto-encoder's minimum depends on its perplexity (`min_batch`).
MIN_BATCH_SIZES = {"simclr": 2}
# The initializers offered for the networks' ReLU layers (Keras names):
# Glorot's, Keras' default, and He's, made for ReLU stacks.
INITIALIZERS = ("glorot_uniform", "glorot_normal", "he_uniform", "he_normal")
# Kinds whose codes come with a reconstruction error (for `ae-error`).
RECONSTRUCTING = AUTOENCODERS
_NAMED = re.compile(r"^([a-z]+?)(\d*)$")


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
    return DEFAULT_BATCH_SIZES.get(kind, PAPER_BATCH_SIZE)


def min_batch(kind: str, perplexity: float | None = None) -> int:
    """The fewest images per training step and replica that the kind learns from.

    Args:
      kind: one of `KINDS`.
      perplexity: the t-SNE loss's perplexity (needed for `tsne` only), which
        needs batches of more than perplexity + 1 images.

    Returns:
      The minimum batch size (1 where any batch will do).
    """
    if kind == "tsne":
        if perplexity is None:
            raise ValueError("the minimum batch of tsne depends on its perplexity; pass perplexity")
        return math.floor(perplexity + 1) + 1  # The smallest integer above perplexity + 1.
    return MIN_BATCH_SIZES.get(kind, 1)
