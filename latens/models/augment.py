"""Random views of images for contrastive learning: seeded, stateless and inside the graph.

`augment(images, seed, options)` draws, for every image of a batch, one
random affine transform (a rotation and a zoom about the centre, then a
translation; a horizontal flip only if asked, since it changes what a digit
is; a random resized crop only if asked), a contrast change about the
image's mean and Gaussian pixel noise.
Every draw is a stateless function of `seed` (`tf.random.stateless_*`), so a
view is reproducible and a resumed run draws what an uninterrupted one does
(see `RepresentationModel.step_seed`).

The defaults (`Augmentation`) are chosen for MNIST-like images of centred
objects on a black background: no shift, since the objects are centred and
shifts cost accuracy in a comparison (`experiments/simclr_augmentation.py`,
docs/models.md); a shift is an option for images that are not centred.
Images of objects, which a mirror keeps what they are, get other views
(`latens.representations.IMAGE_KINDS`).
"""

from __future__ import annotations

import dataclasses
import math

import keras
import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class Augmentation:
    """Strengths of the random changes a view is made with.

    Attributes:
      translation: largest shift, as a fraction of the image's side, along
        each axis.
      rotation: largest rotation, in degrees, either way.
      zoom: the scale is drawn from [1 - zoom, 1 + zoom].
      contrast: the contrast factor is drawn from [1 - contrast, 1 + contrast].
      noise: standard deviation of the Gaussian noise added to [0, 1] pixels.
      flip: also flip half the images left to right.
      crop_area: the smallest share of the image's area a view shows. Below
        1, every view is a random window of the image's shape, of area
        drawn from [crop_area, 1] and inside the image, resized to the full
        image (the view's rotation then turns it about the image's centre),
        after SimCLR's random resized crops (Chen et al. 2020), whose
        aspect ratios also vary; 1 shows it all.
    """

    translation: float = 0.0
    rotation: float = 15.0
    zoom: float = 0.2
    contrast: float = 0.4
    noise: float = 0.1
    flip: bool = False
    crop_area: float = 1.0

    def __post_init__(self):
        for name in ("translation", "rotation", "zoom", "contrast", "noise"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be at least 0, got {getattr(self, name)!r}")
        if self.zoom >= 1 or self.contrast > 1:
            raise ValueError(f"zoom must be below 1 and contrast at most 1, got {self.zoom} and {self.contrast}")
        if not 0 < self.crop_area <= 1:
            raise ValueError(f"crop_area must be in (0, 1], got {self.crop_area!r}")


def augment(images, seed, options: Augmentation = Augmentation()):
    """One random view of every image.

    Args:
      images: float32 `[B, H, W, C]` in [0, 1].
      seed: int `[2]`, a stateless seed.
      options: the strengths.

    Returns:
      float32 `[B, H, W, C]` in [0, 1], a function of `images`, `seed` and `options` alone.
    """
    images = tf.convert_to_tensor(images, tf.float32)
    shape = tf.shape(images)
    batch, height, width = shape[0], tf.cast(shape[1], tf.float32), tf.cast(shape[2], tf.float32)
    seeds = tf.unstack(tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=7))

    def uniform(index, low, high):
        return tf.random.stateless_uniform([batch], seeds[index], low, high)

    if options.flip:
        flipped = uniform(0, 0.0, 1.0) < 0.5
        images = tf.where(flipped[:, None, None, None], tf.reverse(images, axis=[2]), images)
    angle = uniform(1, -1.0, 1.0) * options.rotation * math.pi / 180.0
    scale = uniform(2, 1.0 - options.zoom, 1.0 + options.zoom)
    shift_x = uniform(3, -1.0, 1.0) * options.translation * width
    shift_y = uniform(4, -1.0, 1.0) * options.translation * height
    if options.crop_area < 1:
        scale, crop_x, crop_y = _crop(seed, batch, options.crop_area, scale, width, height)
        shift_x, shift_y = shift_x + crop_x, shift_y + crop_y
    images = keras.ops.image.affine_transform(
        images, _inverse_transform(angle, scale, shift_x, shift_y, width, height),
        interpolation="bilinear", fill_mode="constant", fill_value=0.0,
    )
    mean = tf.reduce_mean(images, axis=[1, 2, 3], keepdims=True)
    factor = uniform(5, 1.0 - options.contrast, 1.0 + options.contrast)[:, None, None, None]
    images = (images - mean) * factor + mean
    images = images + options.noise * tf.random.stateless_normal(shape, seeds[6])
    return tf.clip_by_value(images, 0.0, 1.0)


def _crop(seed, batch, smallest_area, scale, width, height):
    """A random window of each image, of its shape, as a further zoom and a shift of the view.

    A window of area share a, drawn from [smallest_area, 1], is the image
    zoomed by s = 1 / sqrt(a); its centre lies anywhere that keeps it
    inside the image, at most ((side - 1) / 2)(1 - 1 / s) pixels from the
    image's centre, which the view's shift moves to the centre: shift =
    -offset x (total scale). The draws come from a seed folded from `seed`,
    so views without crops are exactly those drawn before crops were an
    option.

    Returns:
      The total scale `[B]` and the shifts `[B]` along x and y, in pixels.
    """
    seeds = tf.unstack(tf.random.experimental.stateless_split(
        tf.random.experimental.stateless_fold_in(tf.cast(seed, tf.int64), 1), num=3))
    area = tf.random.stateless_uniform([batch], seeds[0], smallest_area, 1.0)
    zoom = tf.math.rsqrt(area)
    total = scale * zoom
    room = 1.0 - 1.0 / zoom
    crop_x = tf.random.stateless_uniform([batch], seeds[1], -1.0, 1.0) * room * (width - 1.0) / 2.0 * total
    crop_y = tf.random.stateless_uniform([batch], seeds[2], -1.0, 1.0) * room * (height - 1.0) / 2.0 * total
    return total, crop_x, crop_y


def _inverse_transform(angle, scale, shift_x, shift_y, width, height):
    """The `[B, 8]` projective transforms that map each output pixel to its input pixel.

    The view rotates by `angle` and scales by `scale` about the image's
    centre, then shifts by `(shift_x, shift_y)`; a pixel of the view at p
    comes from R(-angle) (p - centre - shift) / scale + centre.
    """
    cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
    centre_x, centre_y = (width - 1.0) / 2.0, (height - 1.0) / 2.0
    from_x, from_y = centre_x + shift_x, centre_y + shift_y
    zeros = tf.zeros_like(angle)
    return tf.stack([
        cos, sin, centre_x - cos * from_x - sin * from_y,
        -sin, cos, centre_y + sin * from_x - cos * from_y,
        zeros, zeros,
    ], axis=1)
