"""Pixel PCA: the pool's pixels projected onto their top principal components, the baseline representation.

`PixelPCA(input_shape, latent_dim)` holds the pixels' mean and the top
`latent_dim` principal directions as (non-trainable) weights, so it saves,
loads and encodes like the trained models (`encode(x)` ->
`[N, latent_dim]`). `fit_pixels(x)` computes them, without gradient steps:

* on at most `SAMPLE` images (a seeded draw; the components of 20,000
  MNIST digits are those of all 50,000 to within sampling noise);
* exactly, from the pixels' covariance, up to `EXACT_PIXELS` pixels per
  image (MNIST's 784); beyond, by a randomised SVD (Halko, Martinsson &
  Tropp 2011), so larger images need no pixels-by-pixels eigendecomposition
  (the folder tool's 32 x 32 colour images have 3,072 pixels: for 2,000
  of them the exact one took 9.7 s of a 2-core CPU, the randomised 1.6 s,
  docs/beyond.md);
* each direction's sign fixed (its largest entry positive), so the result
  is a function of the images and the seed alone.

It has no decoder: `reconstruction_error` raises `ValueError`, and so does
`ae-error` on its codes.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from latens.models.base import RepresentationModel
from latens.sampling import principal

DIMENSIONS = 50
SAMPLE = 20_000
EXACT_PIXELS = 1_024


@keras.saving.register_keras_serializable(package="latens")
class PixelPCA(RepresentationModel):
    """Projection of the (centred) pixels onto their top principal components."""

    def __init__(self, input_shape: Sequence[int] = (28, 28, 1), latent_dim: int = DIMENSIONS, *, seed: int = 0,
                 **kwargs):
        super().__init__(**kwargs)
        self.image_shape = tuple(input_shape)
        self.latent_dim = latent_dim
        self.seed = seed
        pixels = int(np.prod(self.image_shape))
        if not 1 <= latent_dim <= pixels:
            raise ValueError(f"latent_dim must be between 1 and the {pixels} pixels, got {latent_dim}")
        self.mean = self.add_weight(shape=(pixels,), initializer="zeros", trainable=False, name="mean")
        self.components = self.add_weight(shape=(pixels, latent_dim), initializer="zeros", trainable=False,
                                          name="components")
        self.built = True

    def fit_pixels(self, x: np.ndarray) -> None:
        """Computes the mean and the principal directions of `x` (uint8 `[N, H, W, C]` or float in [0, 1])."""
        if len(x) < self.latent_dim:
            raise ValueError(f"{self.latent_dim} principal components need at least as many images, got {len(x)}")
        rng = np.random.default_rng(self.seed)
        rows = np.sort(rng.choice(len(x), min(len(x), SAMPLE), replace=False))
        sample = np.asarray(x[rows], dtype=np.float64).reshape(len(rows), -1)
        if np.asarray(x).dtype == np.uint8:
            sample /= 255.0
        mean = sample.mean(axis=0)
        centred = sample - mean
        if centred.shape[1] <= EXACT_PIXELS:
            values, vectors = np.linalg.eigh(centred.T @ centred)
            directions = vectors[:, np.argsort(values)[::-1][: self.latent_dim]]
        else:
            directions = principal.directions(centred, self.latent_dim, rng)
        peaks = np.argmax(np.abs(directions), axis=0)
        directions *= np.sign(directions[peaks, np.arange(directions.shape[1])])
        self.mean.assign(mean.astype(np.float32))
        self.components.assign(directions.astype(np.float32))

    def code(self, x, training=False):
        flat = tf.reshape(tf.cast(x, tf.float32), [tf.shape(x)[0], -1])
        return tf.matmul(flat - self.mean, self.components)

    def call(self, x, training=False):
        return self.code(x)

    def reconstruction_error(self, x, batch_size: int = 256, *, progress: bool = False):
        raise ValueError("pixel PCA is not an auto-encoder here, so it has no reconstruction error "
                         "(ae-error needs one)")

    def get_config(self):
        return {**super().get_config(), "input_shape": list(self.image_shape), "latent_dim": self.latent_dim,
                "seed": self.seed}

