"""What produced a result: the versions of latens and of the software under it."""

import platform

import keras
import numpy as np
import tensorflow as tf

import latens


def versions() -> dict:
    """Versions of latens, TensorFlow, Keras, NumPy and Python, and the machine type."""
    return {
        "latens": latens.__version__,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
