"""What deterministic training costs: auto-encoder training throughput with TensorFlow's op determinism off and on.

`latens.train` switches on `tf.config.experimental.enable_op_determinism`
and feeds epochs whose order depends on (seed, epoch) alone
(`latens.pipelines.make_epoch_batches`), so that a killed and resumed run ends
where an uninterrupted one does. This times `Model.fit` on the paper-size
auto-encoders (28x28x1, L = 2, batch 64, float32, `mnist_sample`) both ways,
each measurement in its own process (the switch is process-wide and cannot
be turned off), in interleaved rounds, and prints images/s and the ratio.

    python benchmarks/determinism.py
"""

import os
import platform
import subprocess
import sys
import time

import keras
import tensorflow as tf
from absl import app, flags

from latens import data, models, pipelines

_MODELS = flags.DEFINE_list("models", ["cae", "vae", "tsne"], "Auto-encoders to time.")
_SECONDS = flags.DEFINE_float("seconds", 8.0, "Training time per configuration and round.")
_ROUNDS = flags.DEFINE_integer("rounds", 3, "Interleaved rounds; the best of each is reported.")
_MEASURE = flags.DEFINE_string("measure", None, "Internal: `model:off|on`, time it and print images/s.")
_BATCH_SIZE = 64


def images_per_second(name: str, x, seconds: float) -> float:
    """Builds, warms up and times one model's training for about `seconds`."""
    keras.utils.set_random_seed(0)
    model = models.build_autoencoder(name)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    batches = pipelines.make_epoch_batches(x, batch_size=_BATCH_SIZE, seed=0)
    model.fit(batches, steps_per_epoch=2, epochs=1, verbose=0)  # Traces the step.
    steps = 10
    while True:
        started = time.perf_counter()
        model.fit(batches, steps_per_epoch=steps, epochs=1, verbose=0)
        elapsed = time.perf_counter() - started
        if elapsed >= seconds / 4 or steps > 10_000:
            return steps * _BATCH_SIZE / elapsed
        steps *= 2


def measure(name: str, deterministic: bool, seconds: float) -> float:
    """Images/s of one configuration, timed in a fresh process."""
    args = [sys.executable, __file__, f"--measure={name}:{'on' if deterministic else 'off'}", f"--seconds={seconds}"]
    result = subprocess.run(args, capture_output=True, text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])


def main(argv):
    del argv
    if _MEASURE.value:
        name, switch = _MEASURE.value.split(":")
        if switch == "on":
            tf.config.experimental.enable_op_determinism()
        print(images_per_second(name, data.load("mnist_sample").pool[0], _SECONDS.value))
        return
    print(f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"load average {os.getloadavg()[0]:.2f}; TensorFlow {tf.__version__}")
    best: dict[tuple[str, bool], float] = {}
    for _ in range(_ROUNDS.value):
        for name in _MODELS.value:
            for deterministic in (False, True):
                rate = measure(name, deterministic, _SECONDS.value)
                best[(name, deterministic)] = max(rate, best.get((name, deterministic), 0.0))
    print("| model | images/s, op determinism off | images/s, on | on / off |")
    print("|---|---:|---:|---:|")
    for name in _MODELS.value:
        off, on = best[(name, False)], best[(name, True)]
        print(f"| {name} | {off:.1f} | {on:.1f} | {on / off:.2f} |")
    print(f"Best of {_ROUNDS.value} interleaved rounds; load average at the end {os.getloadavg()[0]:.2f}.")


if __name__ == "__main__":
    app.run(main)
