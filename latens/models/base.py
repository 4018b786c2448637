"""What every representation model shares: metric trackers, the train and test steps, batched encoding.

A subclass defines `per_example_losses(x, training)` (a dict of float32 `[B]`
tensors, "loss" the one minimised, one entry per name in `loss_names`) and
`code(x, training)` (the representation `[N, D]`). Then:

* `train_step` and `test_step` run the same losses, so validation measures
  what training minimises;
* under `tf.distribute`, per-example losses are reduced with
  `tf.nn.compute_average_loss`, i.e. their sum is divided by the *global*
  batch size. Gradients, summed over replicas by the optimizer, then equal
  those of a single-device run on the whole batch, and the metric trackers
  (means over examples, summed over replicas on read) report the same numbers;
* under `mixed_float16` the optimizer's `scale_loss` scales the loss (Keras
  wraps the optimizer in a `LossScaleOptimizer` at `compile`); it is the
  identity otherwise;
* `encode(x)` maps uint8 or float images to float32 codes batch by batch.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf
import tqdm

from latens import pipelines


class RepresentationModel(keras.Model):
    """A model trained by its own losses that maps images to codes.

    Attributes:
      trackers: one `keras.metrics.Mean` per entry of `loss_names`.
    """

    # Keys of `per_example_losses`; "loss" is the one minimised.
    loss_names = ("loss",)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.trackers = [keras.metrics.Mean(name=name) for name in self.loss_names]

    @property
    def code_dim(self) -> int:
        """D, the size of a code: `latent_dim` unless the model reads its code elsewhere."""
        return self.latent_dim

    def code(self, x, training=False):
        """Codes `[N, D]` of float images `[N, H, W, C]` in [0, 1]."""
        raise NotImplementedError

    def per_example_losses(self, x, training=False) -> dict[str, tf.Tensor]:
        """A float32 `[B]` tensor for every name in `loss_names` ("loss" is minimised)."""
        raise NotImplementedError

    @property
    def metrics(self):
        return list(self.trackers)

    def train_step(self, data):
        x = unit_float(keras.utils.unpack_x_y_sample_weight(data)[0])
        with tf.GradientTape() as tape:
            batch_losses = self.per_example_losses(x, training=True)
            loss = tf.nn.compute_average_loss(batch_losses["loss"])
            scaled_loss = self.optimizer.scale_loss(loss)
        grads = tape.gradient(scaled_loss, self.trainable_weights)
        self.optimizer.apply(grads, self.trainable_weights)
        return self._track(batch_losses)

    def test_step(self, data):
        x = unit_float(keras.utils.unpack_x_y_sample_weight(data)[0])
        return self._track(self.per_example_losses(x, training=False))

    def _track(self, batch_losses):
        for tracker in self.trackers:
            tracker.update_state(batch_losses[tracker.name])
        results = {m.name: m.result() for m in self.metrics}
        if _across_workers(tf.distribute.get_strategy()):
            # Keras 3 averages a multi-worker step's logs along their first
            # axis, which a scalar lacks (tensorflow/tensorflow#72388): give
            # each one, which the average removes again.
            results = {name: value[None] for name, value in results.items()}
        return results

    def encode(self, x, batch_size: int = 256, *, progress: bool = False) -> np.ndarray:
        """Codes of a set of images, computed batch by batch (streamed: `x` may be a memory map).

        Args:
          x: images `[N, H, W, C]`, uint8 in [0, 255] or float in [0, 1].
          batch_size: images per forward pass.
          progress: show a progress bar, with the time left.

        Returns:
          float32 `[N, D]`.
        """
        return map_batches(self._code_batch, x, batch_size, progress=progress, desc="embedding")

    @tf.function(reduce_retracing=True)
    def _code_batch(self, images):
        return self.code(unit_float(images))

    def step_seed(self, stream: int) -> tf.Tensor:
        """A stateless seed `[2]` that is a function of the model's seed, the optimizer's step and `stream`.

        A run resumed from a backup (which holds the step) draws what an
        uninterrupted run draws. Each replica of a `tf.distribute` strategy
        folds in its id, so replicas draw different numbers for their shares
        of a batch.
        """
        step = self.optimizer.iterations if self.optimizer is not None else 0
        seed = tf.random.experimental.stateless_fold_in(tf.constant([self.seed, stream], tf.int64),
                                                        tf.cast(step, tf.int64))
        context = tf.distribute.get_replica_context()
        replica = context.replica_id_in_sync_group if context is not None else 0
        return tf.random.experimental.stateless_fold_in(seed, replica)


def _across_workers(strategy: tf.distribute.Strategy) -> bool:
    """Whether `strategy` runs replicas in more than one process (`MultiWorkerMirroredStrategy` on a cluster)."""
    return (isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
            and strategy.extended._in_multi_worker_mode())  # What Keras itself asks.


def unit_float(images):
    """Float32 images in [0, 1] from uint8 or float tensors."""
    if images.dtype == tf.uint8:
        return tf.cast(images, tf.float32) / 255.0
    return tf.cast(images, tf.float32)


def map_batches(fn: Callable, x, batch_size: int, *, progress: bool = False, desc: str | None = None) -> np.ndarray:
    """Applies `fn` to consecutive batches of `x` and gathers the results in one array.

    The batches stream through `pipelines.stream_batches`, which reads the
    next batch of `x` while `fn` computes, and holds a few batches at a
    time: `x` may be a memory map of a folder of images far larger than
    memory. Only the results (one row per image) are held whole.

    Args:
      fn: a batch `[B, ...]` tensor -> a tensor `[B, ...]`.
      x: an array (or memory map) `[N, ...]`.
      batch_size: images per call of `fn`.
      progress: show a progress bar, with the time left.
      desc: the progress bar's label.

    Returns:
      `[N, ...]`, the results of every batch in order.
    """
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    results = None
    with tqdm.tqdm(total=len(x), unit="img", desc=desc, disable=not progress) as bar:
        start = 0
        for batch in pipelines.stream_batches(x, batch_size):
            result = fn(batch).numpy()
            if results is None:
                results = np.empty((len(x), *result.shape[1:]), result.dtype)
            results[start : start + len(result)] = result
            start += len(result)
            bar.update(len(result))
    if results is None:
        raise ValueError("no images to map: x is empty")
    return results
