"""Training throughput of the three auto-encoders and the contrastive encoder, beside the machine's matmul rate.

Every auto-encoder at the paper's size (28x28x1, L = 2), and SimCLR at its
defaults (two 28x28 views of each image), trains on real MNIST
(`mnist_sample`) at batch 64 through `Model.fit`, in float32 and
mixed_bfloat16 (and mixed_float16 when a GPU is present), with Keras's
default compilation (no XLA on a CPU-only machine). A plain Keras CAE built
from the same layers and compiled with `loss="mse"` is the reference for the
custom train steps; `--xla_models` are also run with `jit_compile=True`.

Each configuration is built, traced and timed on one batch first. Then, in
`--rounds` interleaved rounds, each trains for about `--seconds`; the table
gives the best measurement, the least disturbed on a shared machine (the load
average is printed too). Configurations slower than `--seconds` a batch
(bfloat16 on a CPU without AMX) keep their one-batch measurement. Beside the
throughput: the model's training FLOPs per image (3x the forward pass, as the
backward pass costs about twice the forward; counted from the conv and dense
layers), the FLOP/s that achieves, and that as a share of a 2048x2048
`tf.linalg.matmul` timed in the same run and dtype. For SimCLR, where its step
spends its time: the two augmented views alone, and NT-Xent alone, each
timed on a batch in a compiled function, as shares of the measured step.

    python benchmarks/train_throughput.py
"""

import os
import time

import keras
import numpy as np
import tensorflow as tf
from absl import app, flags

from latens import data, losses, models, pipelines, runtime
from latens.models import augment, layers

REFERENCE = "keras-cae"

_MODELS = flags.DEFINE_list("models", ["cae", "vae", "tsne", "simclr"], "Representations to time (trained kinds).")
_PRECISIONS = flags.DEFINE_list(
    "precisions", None,
    "Dtype policies; default float32 and mixed_bfloat16, plus mixed_float16 on a GPU.",
)
_XLA_MODELS = flags.DEFINE_list("xla_models", ["cae"], "Models also timed with jit_compile=True.")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 64, "Images per batch.")
_SECONDS = flags.DEFINE_float("seconds", 6.0, "Training time per configuration and round.")
_ROUNDS = flags.DEFINE_integer("rounds", 2, "Interleaved timing rounds; the best is reported.")
_MATMUL_SIZE = flags.DEFINE_integer("matmul_size", 2048, "Side of the square matmul.")


def forward_flops(model: keras.Model) -> int:
    """FLOPs of one image's forward pass through the conv and dense layers."""
    flops = 0
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            flops += forward_flops(layer)
        elif isinstance(layer, keras.layers.Conv2DTranspose):
            # Every input pixel scatters a k x k x c_out patch.
            _, h, w, c_in = layer.input.shape
            flops += 2 * h * w * np.prod(layer.kernel_size) * c_in * layer.filters
        elif isinstance(layer, keras.layers.Conv2D):
            _, h, w, _ = layer.output.shape
            flops += 2 * h * w * np.prod(layer.kernel_size) * layer.input.shape[-1] * layer.filters
        elif isinstance(layer, keras.layers.Dense):
            flops += 2 * layer.input.shape[-1] * layer.units
    return int(flops)


def build(name: str, jit_compile: bool) -> keras.Model:
    """An auto-encoder, or the plain Keras reference CAE, compiled."""
    if name != REFERENCE:
        model = models.build_representation(name)
        model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=jit_compile)
        return model
    images = keras.Input((28, 28, 1))
    code = keras.layers.Dense(2, dtype="float32")(layers.build_encoder_body((28, 28, 1))(images))
    logits = layers.build_decoder(2, (28, 28, 1))(code)
    model = keras.Model(images, keras.layers.Activation("sigmoid", dtype="float32")(logits))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse", jit_compile=jit_compile)
    return model


def matmul_gflops(dtype: tf.DType, size: int, repeats: int = 5) -> float:
    """Best-of-`repeats` rate of a square matmul, GFLOP/s."""
    a = tf.cast(tf.random.stateless_normal((size, size), seed=(0, 0)), dtype)
    matmul = tf.function(lambda a: tf.linalg.matmul(a, a))
    matmul(a).numpy()
    best = min(_seconds(lambda: matmul(a).numpy()) for _ in range(repeats))
    return 2 * size**3 / best / 1e9


def simclr_parts_seconds(model: keras.Model, images: tf.Tensor, repeats: int = 5) -> dict[str, float]:
    """Best-of-`repeats` seconds of SimCLR's two views and of its loss on one batch."""
    views = tf.function(lambda x: [augment.augment(x, tf.constant([0, s], tf.int64), model.augmentation)
                                   for s in (1, 2)])
    projections = tf.random.stateless_normal((2, images.shape[0], model.options["projection_dim"]), seed=(0, 0))
    loss = tf.function(lambda p: losses.nt_xent(p[0], p[1], model.options["temperature"]))
    parts = {}
    for name, call, argument in (("views", views, images), ("loss", loss, projections)):
        call(argument)
        parts[name] = min(_seconds(lambda: [t.numpy() for t in tf.nest.flatten(call(argument))])
                          for _ in range(repeats))
    return parts


def train_seconds(model: keras.Model, dataset, steps: int) -> float:
    """Wall time of `steps` training batches through `Model.fit`."""
    return _seconds(
        lambda: model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False)
    )


def _seconds(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def main(argv):
    del argv
    keras.utils.set_random_seed(0)
    gpu = bool(tf.config.list_physical_devices("GPU"))
    precisions = _PRECISIONS.value or ["float32", "mixed_bfloat16"] + (["mixed_float16"] if gpu else [])
    configs = [(REFERENCE, "float32", False)]
    configs += [(m, p, False) for p in precisions for m in _MODELS.value]
    configs += [(m, p, True) for p in precisions for m in _XLA_MODELS.value]

    x = data.load("mnist_sample").pool[0]
    batch = _BATCH_SIZE.value
    dataset = pipelines.make_dataset(x, batch_size=batch, shuffle=True, drop_remainder=True, repeat=True)
    pairs = dataset.map(lambda images: (images, images))
    load_before = os.getloadavg()

    runs, steps, flops, best = {}, {}, {}, {}
    for config in configs:
        name, precision, jit = config
        with runtime.precision_policy(precision):
            model = build(name, jit)
        runs[config] = (model, pairs if name == REFERENCE else dataset)
        train_seconds(*runs[config], steps=1)  # Traces the train step.
        step = train_seconds(*runs[config], steps=1)
        best[config] = batch / step
        # A configuration slower than `--seconds` a step keeps this measurement.
        steps[config] = int(_SECONDS.value / step)
        # SimCLR trains on two views of every image.
        flops[config] = 3 * forward_flops(model) * (2 if name == "simclr" else 1)
        print(f"warmed up {name} {precision} xla={jit}: {step * 1e3:.0f} ms/step", flush=True)

    for _ in range(_ROUNDS.value):
        for config, run in runs.items():
            if steps[config]:
                rate = steps[config] * batch / train_seconds(*run, steps=steps[config])
                best[config] = max(best[config], rate)

    matmul = {
        "float32": matmul_gflops(tf.float32, _MATMUL_SIZE.value),
        "bfloat16": matmul_gflops(tf.bfloat16, _MATMUL_SIZE.value),
    }
    if gpu:
        matmul["float16"] = matmul_gflops(tf.float16, _MATMUL_SIZE.value)

    print()
    print(f"Machine: {runtime.cpu_name()}, AMX: {runtime.cpu_has_amx()}, "
          f"bfloat16 instructions: {runtime.cpu_has_bfloat16()}, "
          f"GPU: {gpu}; TensorFlow {tf.__version__}, Keras {keras.__version__}.")
    print(f"Load average (1 min) {load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after; "
          f"batch {batch}; best of {_ROUNDS.value} rounds of ~{_SECONDS.value:g} s.")
    print(f"Matmul {_MATMUL_SIZE.value}x{_MATMUL_SIZE.value}: "
          + ", ".join(f"{k} {v:.0f} GFLOP/s" for k, v in matmul.items()) + ".")
    print()
    print("| model | precision | XLA | images/s | ms/step | train GFLOP/image | GFLOP/s | % of matmul |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for config in configs:
        name, precision, jit = config
        rate = best[config]
        achieved = rate * flops[config] / 1e9
        peak = matmul[precision.removeprefix("mixed_")]
        print(
            f"| {name} | {precision} | {'yes' if jit else 'no'} | {rate:.1f} "
            f"| {batch / rate * 1e3:.0f} | {flops[config] / 1e9:.2f} | {achieved:.0f} "
            f"| {100 * achieved / peak:.0f}% |"
        )
    print()
    for precision in precisions:
        cae, tsne = best.get(("cae", precision, False)), best.get(("tsne", precision, False))
        if cae and tsne:
            print(f"t-SNE AE / CAE time per image, {precision}: {cae / tsne:.2f}x")
    images = next(iter(dataset))
    for config in configs:
        name, precision, jit = config
        if name == "simclr" and not jit:
            parts = simclr_parts_seconds(runs[config][0], images)
            step = batch / best[config]
            print(f"SimCLR step, {precision}: two augmented views {100 * parts['views'] / step:.0f} %, "
                  f"NT-Xent {100 * parts['loss'] / step:.0f} % of its {step * 1e3:.0f} ms; "
                  "the rest is the encoder and head, forward and backward.")


if __name__ == "__main__":
    app.run(main)
