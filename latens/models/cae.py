"""The convolutional auto-encoder (CAE) and the training machinery of all three.

`ConvAutoEncoder` is the paper's plain auto-encoder (section 3.1.1): the
encoder of `latens.models.layers`, a linear representation layer of size L,
and the mirrored decoder, trained on the mean squared error between input and
reconstruction. The VAE and the t-SNE auto-encoder subclass it and change
only the representation head and `per_example_losses`, so the reconstruction
error and serialisation below serve all three; the train and test steps,
metric trackers and batched encoding come from `latens.models.base`.

Choices:
* The CAE's reconstruction is the decoder's float32 output as it is (a
  linear output layer); the VAE and the t-SNE auto-encoder, trained on the
  Bernoulli likelihood, take its sigmoid (`reconstruct`). A sigmoid output
  trained on the MSE saturates: MNIST digits are mostly black, the output
  is pushed towards 0 everywhere, the sigmoid's gradient vanishes there, and
  the CAE stalls at an all-black reconstruction (worse than the mean image)
  with codes that barely move.
* Serialisation: the classes are registered with Keras and rebuild
  themselves from `get_config`, so `model.save("model.keras")` and
  `keras.saving.load_model` round-trip the weights exactly.
"""

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf
from keras import layers as keras_layers

from latens import losses
from latens.models import layers
from latens.models.base import RepresentationModel, map_batches, unit_float


@keras.saving.register_keras_serializable(package="latens")
class ConvAutoEncoder(RepresentationModel):
    """Convolutional auto-encoder trained on the mean squared error.

    Attributes:
      encoder: images `[N, H, W, C]` to codes `[N, L]` (the VAE: to
        `[mu, log_var]`).
      decoder: codes `[N, L]` to logits `[N, H, W, C]`.
    """

    def __init__(
        self,
        input_shape: Sequence[int] = (28, 28, 1),
        latent_dim: int = 2,
        *,
        filters: Sequence[int] = layers.FILTERS,
        convs_per_block: int = layers.CONVS_PER_BLOCK,
        dense_units: Sequence[int] = layers.DENSE_UNITS,
        kernel_initializer: str = layers.KERNEL_INITIALIZER,
        **kwargs,
    ):
        """Builds the encoder and decoder.

        Args:
          input_shape: `(H, W, C)` of the images.
          latent_dim: L, the size of a code (2 in the paper).
          filters: filters of each conv block (see `latens.models.layers`).
          convs_per_block: 3x3 convolutions per block.
          dense_units: widths of the dense layers.
          kernel_initializer: initializer of every ReLU layer.
          **kwargs: `keras.Model` arguments (`name`, ...).
        """
        super().__init__(**kwargs)
        self.image_shape = tuple(input_shape)
        self.latent_dim = latent_dim
        self.architecture = {
            "filters": tuple(filters),
            "convs_per_block": convs_per_block,
            "dense_units": tuple(dense_units),
            "kernel_initializer": kernel_initializer,
        }
        body = layers.build_encoder_body(self.image_shape, **self.architecture)
        self.encoder = self.build_encoder(body)
        self.decoder = layers.build_decoder(latent_dim, self.image_shape, **self.architecture)
        # Every weight exists once the functional parts are built, so the
        # model is built: a backup can be restored into it before any batch.
        self.built = True

    def build_encoder(self, body: keras.Model) -> keras.Model:
        """Puts the representation layer on the encoder body.

        The layer is linear (the paper's "no activation") and computes in
        float32, so codes are float32 under mixed precision.
        """
        images = keras.Input(shape=self.image_shape, name="images")
        code = keras_layers.Dense(self.latent_dim, dtype="float32", name="code")(body(images))
        return keras.Model(images, code, name="encoder")

    def code(self, x, training=False):
        """Codes `[N, L]` of float images `[N, H, W, C]` in [0, 1]."""
        return self.encoder(x, training=training)

    def reconstruct(self, outputs):
        """The reconstruction from the decoder's float32 outputs: the outputs themselves."""
        return outputs

    def call(self, x, training=False):
        """Float32 reconstructions of float images in [0, 1]."""
        return self.reconstruct(self.decoder(self.code(x, training=training), training=training))

    def per_example_losses(self, x, training=False) -> dict[str, tf.Tensor]:
        """The losses of a batch, one value per example.

        Args:
          x: float images `[B, H, W, C]` in [0, 1].
          training: whether the layers run in training mode.

        Returns:
          A float32 `[B]` tensor for every name in `loss_names`; "loss" is
          the one minimised, and its batch mean is the model's loss.
        """
        return {"loss": losses.mean_squared_error(x, self(x, training=training))}

    def reconstruction_error(self, x, batch_size: int = 256, *, progress: bool = False) -> np.ndarray:
        """Mean absolute reconstruction error of every image (streamed, as `encode`).

        Args:
          x: images `[N, H, W, C]`, uint8 in [0, 255] or float in [0, 1].
          batch_size: images per forward pass.
          progress: show a progress bar, with the time left.

        Returns:
          float32 `[N]`: mean over pixels of |x - reconstruction|.
        """
        return map_batches(self._error_batch, x, batch_size, progress=progress, desc="reconstruction errors")

    @tf.function(reduce_retracing=True)
    def _error_batch(self, images):
        images = unit_float(images)
        return tf.reduce_mean(tf.abs(images - self(images)), axis=[1, 2, 3])

    def get_config(self):
        return {
            **super().get_config(),
            "input_shape": list(self.image_shape),
            "latent_dim": self.latent_dim,
            **{k: list(v) if isinstance(v, tuple) else v for k, v in self.architecture.items()},
        }
