"""Numeric precision and device distribution for training and inference.

Precision (`PRECISIONS`), a Keras dtype policy:
  * `float32`.
  * `mixed_bfloat16`: layers compute in bfloat16 with float32 variables.
    Fast only where the hardware has bfloat16 arithmetic: TPUs, recent GPUs
    and x86 CPUs with AMX (Intel Sapphire Rapids and later) or AVX512-BF16
    (Intel Cooper Lake, AMD Zen 4 and later). Elsewhere TensorFlow emulates
    it; on an AMD EPYC with AVX2 only we measured a conv net training 12 to
    16 times slower than in float32, and on one with AVX512-BF16 1.6 times
    faster (docs/benchmarks.md).
  * `mixed_float16`: layers compute in float16 with loss scaling; for GPUs.
  * `auto`: `mixed_bfloat16` under a TPU strategy or on a CPU with bfloat16
    instructions (`cpu_has_bfloat16`), `mixed_float16` when a GPU is
    visible, `float32` otherwise.
The models keep their losses, codes and output logits in float32 whatever
the policy (see `latens.models`).

Distribution (`DISTRIBUTIONS`), a `tf.distribute.Strategy`:
  * `default`: one device.
  * `mirrored`: synchronous data parallelism over all local GPUs, or, with
    no GPU, over the logical CPU devices (see `split_cpu`).
  * `tpu`: a Colab (or Cloud) TPU through `TPUStrategy`.
  * `multiworker`: synchronous data parallelism over the machines (workers)
    of a cluster, through `MultiWorkerMirroredStrategy`, which reads the
    cluster and this worker's place in it from the `TF_CONFIG` environment
    variable (`worker_task`; docs/scale.md). Every worker runs the same
    command; one strategy serves a process (TensorFlow allows no second).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import platform
import sys
from typing import TYPE_CHECKING

from absl import logging

from latens import checks

if TYPE_CHECKING:
    import tensorflow as tf

PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")
# Names of `tf.distribute` strategies (not to be confused with the query
# strategies of `latens.sampling.STRATEGIES`).
DISTRIBUTIONS = ("default", "mirrored", "tpu", "multiworker")


# `/proc/cpuinfo` flags of bfloat16 arithmetic that oneDNN, TensorFlow's CPU
# kernels, uses: AMX tiles and AVX-512 bfloat16 dot products.
BFLOAT16_FLAGS = ("amx_bf16", "avx512_bf16")


def _cpuinfo_field(name: str, cpuinfo: str) -> str:
    """The value of the first `name : value` line of Linux's CPU description; "" elsewhere or if unreadable."""
    try:
        with open(cpuinfo) as f:
            line = next((line for line in f if line.startswith(name)), "")
    except OSError:
        return ""
    return line.partition(":")[2].strip()


def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> frozenset[str]:
    """The CPU's feature flags as Linux lists them; empty elsewhere or if unreadable."""
    return frozenset(_cpuinfo_field("flags", cpuinfo).split())


def cpu_name(cpuinfo: str = "/proc/cpuinfo") -> str:
    """The CPU as benchmarks name it: logical CPUs, model and bfloat16 instructions.

    Args:
      cpuinfo: Linux's CPU description (elsewhere the platform's processor name is used).

    Returns:
      For example `2-core AMD EPYC, AVX512-BF16`.
    """
    model = _cpuinfo_field("model name", cpuinfo) or platform.processor() or "unknown CPU"
    found = [name.upper().replace("_", "-") for name in BFLOAT16_FLAGS if name in cpu_flags(cpuinfo)]
    return f"{os.cpu_count()}-core {model}, {', '.join(found) if found else 'no bfloat16 instructions'}"


def cpu_has_amx(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether the CPU advertises AMX bfloat16 tiles (`amx_bf16`)."""
    return "amx_bf16" in cpu_flags(cpuinfo)


def cpu_has_bfloat16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether the CPU computes in bfloat16 natively (AMX or AVX512-BF16), where `mixed_bfloat16` trains faster."""
    return not cpu_flags(cpuinfo).isdisjoint(BFLOAT16_FLAGS)


def resolve_precision(precision: str, strategy: tf.distribute.Strategy | None = None) -> str:
    """The dtype policy name that `precision` stands for on this machine.

    Args:
      precision: one of `PRECISIONS`.
      strategy: the strategy that will run the model; a `TPUStrategy` makes
        `auto` choose bfloat16 (TPUs are not visible before it connects).

    Returns:
      `float32`, `mixed_bfloat16` or `mixed_float16`.
    """
    import tensorflow as tf  # Only here: importing latens' configs needs no TensorFlow.

    checks.one_of("precision", precision, PRECISIONS)
    if precision != "auto":
        return precision
    if isinstance(strategy, tf.distribute.TPUStrategy):
        return "mixed_bfloat16"
    if tf.config.list_physical_devices("GPU"):
        return "mixed_float16"
    if cpu_has_bfloat16():
        return "mixed_bfloat16"
    return "float32"


@contextlib.contextmanager
def precision_policy(precision: str, strategy: tf.distribute.Strategy | None = None):
    """Sets Keras's global dtype policy inside the block, restoring it after.

    Models take the policy in force when they are built.

    Args:
      precision: one of `PRECISIONS`.
      strategy: see `resolve_precision`.

    Yields:
      The resolved policy name.
    """
    import keras

    resolved = resolve_precision(precision, strategy)
    previous = keras.config.dtype_policy()
    logging.info("Precision %s: dtype policy %s.", precision, resolved)
    if resolved != "float32" and not _has_half_precision_hardware(resolved, strategy):
        logging.warning(
            "%s without a GPU, TPU or a CPU with bfloat16 instructions: TensorFlow emulates it, and training is "
            "likely much slower than in float32.", resolved
        )
    keras.config.set_dtype_policy(resolved)
    try:
        yield resolved
    finally:
        keras.config.set_dtype_policy(previous)


def _has_half_precision_hardware(policy: str, strategy: tf.distribute.Strategy | None) -> bool:
    import tensorflow as tf

    if isinstance(strategy, tf.distribute.TPUStrategy) or tf.config.list_physical_devices("GPU"):
        return True
    return policy == "mixed_bfloat16" and cpu_has_bfloat16()


def make_strategy(name: str = "default") -> tf.distribute.Strategy:
    """Creates a distribution strategy.

    Args:
      name: one of `DISTRIBUTIONS`.

    Returns:
      The strategy; build and compile models inside its `scope()`.
    """
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        strategy = tf.distribute.MirroredStrategy([d.name for d in devices])
        logging.info("MirroredStrategy over %d replicas.", strategy.num_replicas_in_sync)
        return strategy
    if name == "tpu":
        # A TPU node (older Colab runtimes) is found from the environment
        # (COLAB_TPU_ADDR); on a TPU VM (current Colab) the TPU is local.
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
            tpu=None if "COLAB_TPU_ADDR" in os.environ else "local"
        )
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    if name == "multiworker":
        return _multi_worker_strategy()
    checks.one_of("distribute", name, DISTRIBUTIONS, what="distribution strategy")
    raise AssertionError(name)


@functools.cache
def _multi_worker_strategy() -> tf.distribute.Strategy:
    """The process' one `MultiWorkerMirroredStrategy`, made on first use (TensorFlow allows no second)."""
    import tensorflow as tf

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    task = worker_task()
    logging.info("MultiWorkerMirroredStrategy: worker %d of %d, %d replicas in all.", task.index, task.count,
                 strategy.num_replicas_in_sync)
    return strategy


@dataclasses.dataclass(frozen=True)
class WorkerTask:
    """This process' place in a cluster, as `TF_CONFIG` gives it.

    Attributes:
      index: its position among the cluster's tasks that compute (the
        chief first, if there is one, then the workers in order).
      count: how many tasks compute.
      chief: whether its files are the run's (the chief's, or worker 0's
        where the cluster names no chief, as Keras and TensorFlow decide).
    """

    index: int = 0
    count: int = 1
    chief: bool = True


def worker_task(environ=None) -> WorkerTask:
    """This process' `WorkerTask`, from `TF_CONFIG`; one task of one where it is not set.

    Args:
      environ: the environment to read (None: `os.environ`).

    Returns:
      The `WorkerTask`.

    Raises:
      ValueError: `TF_CONFIG` is not JSON with a cluster and a task of it.
    """
    config = (os.environ if environ is None else environ).get("TF_CONFIG")
    if not config:
        return WorkerTask()
    try:
        parsed = json.loads(config)
        cluster, task = parsed["cluster"], parsed["task"]
        computing = [(kind, i) for kind in ("chief", "worker") for i in range(len(cluster.get(kind, ())))]
        index = computing.index((task["type"], int(task["index"])))
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"TF_CONFIG must be JSON naming a cluster of chief and worker tasks and this task "
                         f"among them ({error}): {config}") from None
    return WorkerTask(index, len(computing), chief=index == 0)


def split_cpu(num_devices: int) -> None:
    """Splits the host CPU into `num_devices` logical devices.

    `mirrored` then runs that many replicas on the CPU, as tests do. Must be
    called before TensorFlow initialises its devices (before any tensor is
    created).

    Args:
      num_devices: number of logical CPU devices.
    """
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(num_devices)]
    )


def load_tensorflow_quietly() -> None:
    """Imports TensorFlow and finds its devices without its native start-up lines on stderr.

    TensorFlow's C++ code prints lines about oneDNN, CUDA probing (`failed
    call to cuInit` on a machine without a GPU) and CPU features while it
    loads, some before `TF_CPP_MIN_LOG_LEVEL` is read; for a command-line
    user they hide latens' own messages. Standard error is pointed at the
    null device only for the import and the device search, so a Python
    error raised there still prints.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        import tensorflow as tf

        tf.config.list_physical_devices()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
