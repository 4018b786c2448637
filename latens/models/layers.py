"""Convolutional stacks shared by the auto-encoders and the classifier.

The paper's auto-encoder (section 3.1.1), with its defaults:

  encoder body: 3 x Conv 64 (3x3, same, ReLU), 2x2 max-pool,
                3 x Conv 32, max-pool, 3 x Conv 32, flatten (7x7x32 for
                28x28 input), Dense 1024 x 2 (ReLU)
  decoder:      Dense 1024 x 2, Dense 7*7*32, reshape, 3 x Conv 32,
                2x2 stride-2 transposed conv, 3 x Conv 32, transposed conv,
                3 x Conv 64, 1x1 conv to the image's channels

The decoder repeats the encoder's layers in reverse order with its own
(untied) weights; each transposed conv stands where a pool was and has the
filters of the block it feeds. The representation layer(s) between the two
belong to each model (`latens.models.cae`, `latens.models.vae`).

`filters` gives one block per entry and a pool between consecutive blocks,
so images need a height and width divisible by 2 ** (len(filters) - 1) (4 by
default): 28x28x1 MNIST, or e.g. 64x64x3 photographs. A classifier "with the
encoder's design" puts its softmax on `build_encoder_body`.

Initialisation: every ReLU layer takes `kernel_initializer`, by default
Keras' "glorot_uniform", which the authors' code used and the paper's grid
keeps. Glorot's scale suits linear layers; through a stack of ReLUs it
halves a signal's second moment at every layer (He et al. 2015, "Delving
Deep into Rectifiers", section 2.2), so at the paper's depth different
images reach the representation layer almost alike: at the quickstart's
half widths the VAE's posterior means of different digits spread by under
1 % of the posterior noise's standard deviation at initialisation, so the
decoder sees noise, learns to ignore the code and the posterior collapses.
"he_uniform" keeps the signal's scale (a spread above 5 % of the noise;
`tests/test_reproduce.py` measures both), and the quickstart uses it (README,
"What the main job does").
"""

from collections.abc import Sequence

import keras
from keras import layers

from latens import representations

FILTERS = representations.PAPER_WIDTHS["filters"]
CONVS_PER_BLOCK = 3
DENSE_UNITS = representations.PAPER_WIDTHS["dense_units"]
# Keras' default, as in the authors' code; see the module's docstring.
KERNEL_INITIALIZER = representations.SPECS["cae"].kernel_initializer


def scaled_widths(width: float) -> dict[str, tuple[int, ...]]:
    """The paper's conv filters and dense widths scaled by `width` (at least 1 each).

    Args:
      width: multiplier; 1 is the paper's network.

    Returns:
      `filters` and `dense_units`, options of `build_autoencoder` and of
      `latens.research.evaluate.ClassifierConfig`.
    """
    return representations.scale(representations.PAPER_WIDTHS, width)


def downsampling(filters: Sequence[int]) -> int:
    """How much the encoder shrinks each side of an image: one 2x pool between blocks."""
    return 2 ** (len(filters) - 1)


def build_encoder_body(
    input_shape: Sequence[int],
    *,
    filters: Sequence[int] = FILTERS,
    convs_per_block: int = CONVS_PER_BLOCK,
    dense_units: Sequence[int] = DENSE_UNITS,
    kernel_initializer: str = KERNEL_INITIALIZER,
    name: str = "encoder_body",
) -> keras.Model:
    """The encoder up to, not including, the representation layer.

    Args:
      input_shape: `(H, W, C)`, H and W divisible by `downsampling(filters)`.
      filters: filters of each conv block; a 2x2 max-pool separates blocks.
      convs_per_block: 3x3 convolutions in each block.
      dense_units: widths of the ReLU dense layers after flattening.
      kernel_initializer: a Keras initializer name for every ReLU layer.
      name: the model's name.

    Returns:
      A functional model, images `[N, H, W, C]` (float, in [0, 1]) to
      features `[N, dense_units[-1]]` (or the flattened maps without dense
      layers), in the dtype policy in force when it is built.
    """
    _check_image_shape(input_shape, filters)
    relu = {"activation": "relu", "kernel_initializer": kernel_initializer}
    images = keras.Input(shape=tuple(input_shape), name="images")
    x = images
    for block, width in enumerate(filters):
        if block:
            x = layers.MaxPooling2D(2, name=f"pool{block}")(x)
        for i in range(convs_per_block):
            x = layers.Conv2D(
                width, 3, padding="same", **relu, name=f"block{block + 1}_conv{i + 1}"
            )(x)
    x = layers.Flatten(name="flatten")(x)
    for i, units in enumerate(dense_units):
        x = layers.Dense(units, **relu, name=f"dense{i + 1}")(x)
    return keras.Model(images, x, name=name)


def build_decoder(
    latent_dim: int,
    output_shape: Sequence[int],
    *,
    filters: Sequence[int] = FILTERS,
    convs_per_block: int = CONVS_PER_BLOCK,
    dense_units: Sequence[int] = DENSE_UNITS,
    kernel_initializer: str = KERNEL_INITIALIZER,
    name: str = "decoder",
) -> keras.Model:
    """The encoder's layers in reverse order, from a code to pixel logits.

    Args:
      latent_dim: L, the size of a code.
      output_shape: `(H, W, C)` of the images to reconstruct.
      filters: the encoder's block filters (given in encoder order).
      convs_per_block: 3x3 convolutions in each block.
      dense_units: the encoder's dense widths (given in encoder order).
      kernel_initializer: a Keras initializer name for every ReLU layer.
      name: the model's name.

    Returns:
      A functional model, codes `[N, L]` to logits `[N, H, W, C]`. The last
      layer, a 1x1 conv without activation, computes in float32 under any
      mixed-precision policy; each model turns them into a reconstruction
      (`reconstruct`).
    """
    _check_image_shape(output_shape, filters)
    relu = {"activation": "relu", "kernel_initializer": kernel_initializer}
    height, width, channels = output_shape
    factor = downsampling(filters)
    smallest = (height // factor, width // factor, filters[-1])

    code = keras.Input(shape=(latent_dim,), name="code")
    x = code
    for i, units in enumerate(reversed(dense_units)):
        x = layers.Dense(units, **relu, name=f"dense{len(dense_units) - i}")(x)
    x = layers.Dense(smallest[0] * smallest[1] * smallest[2], **relu, name="unflatten")(x)
    x = layers.Reshape(smallest, name="reshape")(x)
    for block in reversed(range(len(filters))):
        for i in reversed(range(convs_per_block)):
            x = layers.Conv2D(
                filters[block], 3, padding="same", **relu, name=f"block{block + 1}_conv{i + 1}"
            )(x)
        if block:
            x = layers.Conv2DTranspose(
                filters[block - 1], 2, strides=2, **relu, name=f"unpool{block}"
            )(x)
    logits = layers.Conv2D(channels, 1, dtype="float32", name="logits")(x)
    return keras.Model(code, logits, name=name)


def _check_image_shape(shape: Sequence[int], filters: Sequence[int]) -> None:
    if len(shape) != 3:
        raise ValueError(f"image shape must be (height, width, channels), got {tuple(shape)}")
    factor = downsampling(filters)
    if shape[0] % factor or shape[1] % factor:
        raise ValueError(
            f"with {len(filters)} conv blocks the image height and width must be "
            f"multiples of {factor}, got {tuple(shape)}"
        )


def training_footprint(
    input_shape: Sequence[int],
    latent_dim: int,
    *,
    filters: Sequence[int] = FILTERS,
    convs_per_block: int = CONVS_PER_BLOCK,
    dense_units: Sequence[int] = DENSE_UNITS,
    batch_size: int = 64,
) -> tuple[int, int]:
    """What training an auto-encoder of these options needs, counted without building it.

    Args:
      input_shape: `(H, W, C)`.
      latent_dim: L.
      filters, convs_per_block, dense_units: as for `build_encoder_body`.
      batch_size: images per step.

    Returns:
      `(weights, bytes)`: the encoder's and decoder's weights, and an
      estimate of the memory a training step takes in float32: each weight
      four times (itself, its gradient, Adam's two moments) and every conv
      layer's output for the batch three times (forward, backward, workspace).
    """
    height, width, channels = input_shape
    weights = activations = 0
    in_channels = channels
    for block, units in enumerate(filters):
        cells = (height // 2**block) * (width // 2**block)
        for conv in range(convs_per_block):
            weights += 2 * (9 * (in_channels if conv == 0 else units) * units + units)  # Encoder and decoder.
            activations += 2 * cells * units
        in_channels = units
    flat = (height // downsampling(filters)) * (width // downsampling(filters)) * filters[-1]
    widths = [flat, *dense_units, latent_dim]
    weights += 2 * sum(a * b + b for a, b in zip(widths, widths[1:]))
    return weights, 4 * (4 * weights + 3 * batch_size * activations)
