"""tf.data pipelines of images: float32 batches in [0, 1], shuffled deterministically.

`make_dataset` serves evaluation and the classifier (an order reshuffled
every epoch from one seed); `make_epoch_batches` serves the representations'
training (every epoch's order a function of (seed, epoch) alone, so a
resumed run sees what an uninterrupted one does); `stream_batches` feeds
embedding, reading a memory-mapped folder of images batch by batch.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from latens import checks


def make_dataset(
    x: np.ndarray,
    y: np.ndarray | None = None,
    *,
    batch_size: int,
    shuffle: bool = False,
    seed: int = 0,
    repeat: bool = False,
    drop_remainder: bool = False,
):
    """A tf.data pipeline of float32 images in [0, 1], batched and prefetched.

    Batches are converted after batching (one vectorised cast per batch).
    The order is a function of `seed` alone: shuffling reshuffles every epoch,
    deterministically. Repeating keeps epochs whole (no batch straddles two),
    so `steps_per_epoch = ceil(N / batch_size)` walks exactly one epoch. `drop_remainder=True` gives the static batch shape that
    TPUs need.

    Args:
      x: uint8 images `[N, H, W, C]` (float input is taken as already scaled).
      y: optional int labels `[N]`.
      batch_size: images per batch.
      shuffle: shuffle the whole set each epoch.
      seed: shuffle seed.
      repeat: repeat the epochs forever.
      drop_remainder: drop a last, smaller batch.

    Returns:
      A `tf.data.Dataset` of `[B, H, W, C]` float32 batches, or of
      `(images, labels)` pairs when `y` is given.
    """
    checks.positive("batch_size", batch_size)
    scale = 1.0 / 255.0 if np.asarray(x).dtype == np.uint8 else 1.0

    def to_float(images, *labels):
        images = tf.cast(images, tf.float32) * scale
        return (images, *labels) if labels else images

    ds = tf.data.Dataset.from_tensor_slices(x if y is None else (x, y))
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    if repeat:
        # After batching, so each pass is one whole, freshly shuffled epoch.
        ds = ds.repeat()
    ds = ds.map(to_float, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    options = tf.data.Options()
    options.deterministic = True
    return ds.with_options(options).prefetch(tf.data.AUTOTUNE)


def make_epoch_batches(x: np.ndarray, *, batch_size: int, seed: int, first_epoch: int = 0):
    """Endless full batches of float32 images in [0, 1], epoch after epoch, from `first_epoch` on.

    The order of epoch e is a function of `(seed, e)` alone (a stateless
    shuffle), so a run resumed at epoch e sees exactly the batches that an
    uninterrupted run sees there. Each epoch is `len(x) // batch_size` full
    batches (the last, smaller one is dropped).

    Args:
      x: uint8 images `[N, H, W, C]` (float input is taken as already scaled).
      batch_size: images per batch, at most N.
      seed: seed of every epoch's order.
      first_epoch: the (0-based) epoch to start at.

    Returns:
      A `tf.data.Dataset` of `[batch_size, H, W, C]` float32 batches.
    """
    checks.positive("batch_size", batch_size)
    scale = 1.0 / 255.0 if np.asarray(x).dtype == np.uint8 else 1.0
    images = tf.constant(np.asarray(x))
    count = len(x)

    def epoch(e):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(count, dtype=tf.int64), seed=tf.stack([tf.constant(seed, tf.int64), e]))
        return tf.data.Dataset.from_tensor_slices(order).batch(batch_size, drop_remainder=True)

    ds = tf.data.Dataset.range(first_epoch, np.iinfo(np.int64).max).flat_map(epoch)
    ds = ds.map(lambda indices: tf.cast(tf.gather(images, indices), tf.float32) * scale,
                num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    options = tf.data.Options()
    options.deterministic = True
    return ds.with_options(options).prefetch(tf.data.AUTOTUNE)


def stream_batches(x, batch_size: int, *, prefetch: int = 2):
    """Consecutive batches of `x`, in order, read ahead of their use: a `tf.data.Dataset` of `[B, ...]` tensors.

    The batches are sliced from `x` one at a time as they are consumed (the
    last may be smaller), so a memory-mapped `x` is read from disk in
    step with the computation and at most `prefetch` batches wait in
    memory; the values keep `x`'s dtype.

    Args:
      x: an array (or memory map) `[N, ...]`.
      batch_size: items per batch.
      prefetch: batches read ahead.

    Returns:
      A `tf.data.Dataset` of `[B, ...]` tensors of `x`'s dtype, in order.
    """
    checks.positive("batch_size", batch_size)
    x = x if hasattr(x, "shape") and hasattr(x, "dtype") else np.asarray(x)

    def batches():
        for start in range(0, len(x), batch_size):
            yield np.asarray(x[start : start + batch_size])

    signature = tf.TensorSpec((None, *x.shape[1:]), tf.as_dtype(x.dtype))
    return tf.data.Dataset.from_generator(batches, output_signature=signature).prefetch(prefetch)
