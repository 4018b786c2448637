"""A self-supervised contrastive encoder, SimCLR-style (Chen et al. 2020, "A Simple Framework for Contrastive Learning").

Every training batch is augmented twice (`latens.models.augment`); both views
go through the encoder and a small projection head, and the loss is NT-Xent
(`latens.losses.nt_xent`): each view must pick out the other view of its
image among the batch's 2B - 1 other projections. The embedding an image gets
(`code`, `encode`) is the encoder's output before the projection head, as in
SimCLR, L2-normalised: its dimension is `latent_dim`.

Encoder: blocks of 3x3 ReLU convolutions (`filters`, `convs_per_block`) with
a 2x2 max-pool after each, flattened, then a ReLU dense layer of
`latent_dim`. Head: a ReLU dense layer of `latent_dim`, then a linear one of
`projection_dim`. The views are drawn from stateless seeds of (seed, step),
so a resumed run sees the views an uninterrupted one does; validation uses
views of a fixed seed, so its loss is comparable from epoch to epoch.

Under `tf.distribute` each replica contrasts its share of the batch: the
negatives of an image are the other images on its replica (SimCLR gathers
them across replicas; with one device there is no difference).

It has no decoder, hence no reconstruction error: `reconstruction_error`
raises `ValueError`, and so does `ae-error` on its codes.

`layer_codes` reads the encoder's other layers as codes, to measure what the
embedding's ReLU keeps of them: the conv blocks' flattened maps (the
representation SimCLR's authors evaluate, after their ResNet's last block)
and the embedding layer before its ReLU. `code_layer` makes either the
code: `pre_activation` moves the ReLU to the head's input and `flatten`
reads the maps the embedding layer takes, so training computes the same
function with the same weights, and only what `code` returns changes.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf
from keras import layers as keras_layers

from latens import losses, representations
from latens.models import augment
from latens.models.base import RepresentationModel, map_batches, unit_float

# The defaults, and why (README, "A contrastive encoder"): two conv blocks
# of 32 and 64 filters give MNIST's 28x28 digits a 7x7x64 map; a 128-d
# embedding; NT-Xent's temperature 0.2.
FILTERS = representations.SIMCLR_WIDTHS["filters"]
CONVS_PER_BLOCK = 2
EMBEDDING_DIM = representations.SPECS["simclr"].latent_dim
PROJECTION_DIM = 64
TEMPERATURE = 0.2
KERNEL_INITIALIZER = representations.SPECS["simclr"].kernel_initializer
# The layers `layer_codes` reads, from the conv blocks to the code.
LAYERS = ("flatten", "pre_activation", "embedding")
# The layers the code may be read from (`code_layer`): the embedding after its
# ReLU (SimCLR's), before it, or the conv blocks' flattened maps.
CODE_LAYERS = representations.SPECS["simclr"].code_layers
# Streams of `RepresentationModel.step_seed`: training views draw from 1 and
# 2, validation views from the fixed seeds (seed, 3) and (seed, 4).
_VALIDATION_STREAMS = (3, 4)


@keras.saving.register_keras_serializable(package="latens")
class ContrastiveEncoder(RepresentationModel):
    """Encoder and projection head trained with NT-Xent on pairs of augmented views.

    Attributes:
      encoder: images `[N, H, W, C]` to embeddings `[N, latent_dim]` (not yet normalised).
      head: embeddings to projections `[N, projection_dim]`.
    """

    def __init__(
        self,
        input_shape: Sequence[int] = (28, 28, 1),
        latent_dim: int = EMBEDDING_DIM,
        *,
        filters: Sequence[int] = FILTERS,
        convs_per_block: int = CONVS_PER_BLOCK,
        projection_dim: int = PROJECTION_DIM,
        temperature: float = TEMPERATURE,
        kernel_initializer: str = KERNEL_INITIALIZER,
        augmentation: dict | None = None,
        code_layer: str = CODE_LAYERS[0],
        seed: int = 0,
        **kwargs,
    ):
        """Builds the encoder and the head.

        Args:
          input_shape: `(H, W, C)`, H and W divisible by 2 ** len(filters).
          latent_dim: the embedding's dimension D.
          filters: filters of each conv block.
          convs_per_block: 3x3 convolutions per block.
          projection_dim: the projections' dimension.
          temperature: NT-Xent's temperature.
          kernel_initializer: initializer of every ReLU layer (He's: ReLU stacks).
          augmentation: `augment.Augmentation` fields to change.
          code_layer: what `code` returns, one of `CODE_LAYERS`: the
            embedding after its ReLU, before it (`pre_activation`: the ReLU
            is then the head's first layer), or the last conv block's
            flattened maps (`flatten`: codes of H W C / 4 ** len(filters)
            dimensions, `code_dim`).
          seed: seed of the views.
          **kwargs: `keras.Model` arguments.
        """
        super().__init__(**kwargs)
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        if code_layer not in CODE_LAYERS:
            raise ValueError(f"code_layer must be one of {', '.join(CODE_LAYERS)}, got {code_layer!r}")
        self.image_shape = tuple(input_shape)
        self.latent_dim = latent_dim
        self.seed = seed
        self.options = {
            "filters": tuple(filters), "convs_per_block": convs_per_block, "projection_dim": projection_dim,
            "temperature": float(temperature), "kernel_initializer": kernel_initializer,
            "augmentation": dict(augmentation or {}), "code_layer": code_layer,
        }
        self.augmentation = augment.Augmentation(**self.options["augmentation"])
        relu = {"activation": "relu", "kernel_initializer": kernel_initializer}
        pre_activation = code_layer == "pre_activation"
        self.encoder = _build_encoder(self.image_shape, latent_dim, tuple(filters), convs_per_block, relu,
                                      pre_activation)
        self.head = keras.Sequential([
            keras.Input((latent_dim,)),
            *([keras_layers.ReLU(name="embedding_relu")] if pre_activation else []),
            keras_layers.Dense(latent_dim, **relu, name="hidden"),
            keras_layers.Dense(projection_dim, dtype="float32", name="projection"),
        ], name="head")
        self.built = True

    @property
    def code_dim(self) -> int:
        """The size of a code: `latent_dim`, or the flattened maps' size for `code_layer="flatten"`."""
        if self.options["code_layer"] == "flatten":
            return int(self.encoder.get_layer("flatten").output.shape[-1])
        return super().code_dim

    def code(self, x, training=False):
        """L2-normalised codes `[N, code_dim]` of float images in [0, 1], read at `code_layer`."""
        if self.options["code_layer"] == "flatten":
            features = self._maps(x, training=training)
        else:
            features = self.encoder(x, training=training)
        return tf.math.l2_normalize(tf.cast(features, tf.float32), axis=1)

    def _maps(self, x, training=False):
        """The flattened maps of the last conv block `[N, F]`: the encoder's layers up to its embedding."""
        for block in self.encoder.layers:
            if block.name == "embedding":
                break
            if not isinstance(block, keras_layers.InputLayer):
                x = block(x, training=training)
        return x

    def call(self, x, training=False):
        return self.code(x, training=training)

    def layer_codes(self, x, layer: str, batch_size: int = 256) -> np.ndarray:
        """L2-normalised outputs of one of the encoder's `LAYERS` for a set of images, streamed as `encode` is.

        Args:
          x: images `[N, H, W, C]`, uint8 in [0, 255] or float in [0, 1].
          layer: `flatten` (the last conv block's pooled maps, flattened),
            `pre_activation` (the embedding layer before its ReLU) or
            `embedding` (after it). The code's own layer (`code_layer`) is
            read as `encode` gives it.
          batch_size: images per forward pass.

        Returns:
          float32 `[N, F]`: F is the flattened maps' size, or `latent_dim`.

        Raises:
          ValueError: an unknown layer.
        """
        if layer not in LAYERS:
            raise ValueError(f"layer must be one of {', '.join(LAYERS)}, got {layer!r}")
        if layer == self.options["code_layer"]:
            return self.encode(x, batch_size)
        return map_batches(lambda batch: self._layer_batch(batch, layer), x, batch_size)

    @tf.function(reduce_retracing=True)
    def _layer_batch(self, images, layer: str):
        features = tf.cast(self._maps(unit_float(images)), tf.float32)
        if layer != "flatten":
            # The embedding layer's affine map by hand: its own call would apply its ReLU, if it has one.
            dense = self.encoder.get_layer("embedding")
            features = tf.matmul(features, tf.cast(dense.kernel, tf.float32)) + tf.cast(dense.bias, tf.float32)
        if layer == "embedding":
            features = tf.nn.relu(features)
        return tf.math.l2_normalize(features, axis=1)

    def per_example_losses(self, x, training=False):
        """NT-Xent of two views of every image, `{"loss": [B]}`."""
        if training:
            seeds = self.step_seed(1), self.step_seed(2)
        else:
            seeds = tuple(tf.constant([self.seed, stream], tf.int64) for stream in _VALIDATION_STREAMS)
        a, b = (self.head(self.encoder(augment.augment(x, seed, self.augmentation), training=training),
                          training=training) for seed in seeds)
        return {"loss": losses.nt_xent(a, b, self.options["temperature"])}

    def reconstruction_error(self, x, batch_size: int = 256, *, progress: bool = False):
        raise ValueError("a contrastive encoder has no decoder, so no reconstruction error (ae-error needs one)")

    def get_config(self):
        options = {k: list(v) if isinstance(v, tuple) else v for k, v in self.options.items()}
        return {**super().get_config(), "input_shape": list(self.image_shape), "latent_dim": self.latent_dim,
                "seed": self.seed, **options}


def _build_encoder(input_shape, latent_dim, filters, convs_per_block, relu, pre_activation=False) -> keras.Model:
    factor = 2 ** len(filters)
    if len(input_shape) != 3 or input_shape[0] % factor or input_shape[1] % factor:
        raise ValueError(f"with {len(filters)} conv blocks the image height and width must be multiples of "
                         f"{factor}, got {tuple(input_shape)}")
    images = keras.Input(shape=input_shape, name="images")
    x = images
    for block, width in enumerate(filters):
        for i in range(convs_per_block):
            x = keras_layers.Conv2D(width, 3, padding="same", **relu, name=f"block{block + 1}_conv{i + 1}")(x)
        x = keras_layers.MaxPooling2D(2, name=f"pool{block + 1}")(x)
    x = keras_layers.Flatten(name="flatten")(x)
    activation = {**relu, "activation": None} if pre_activation else relu
    embedding = keras_layers.Dense(latent_dim, **activation, dtype="float32", name="embedding")(x)
    return keras.Model(images, embedding, name="encoder")

