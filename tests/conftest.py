"""Shared test settings: quiet TensorFlow, and where the full datasets live.

Tests that need full MNIST or Fashion-MNIST read them from `$LATENS_DATA_DIR`
(a folder with `mnist/` and `fashion-mnist/` subfolders of IDX files) and skip,
saying why, when it is not set.
"""

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _dataset_dir(subfolder: str) -> str:
    root = os.environ.get("LATENS_DATA_DIR")
    if not root:
        pytest.skip(f"needs full data: set LATENS_DATA_DIR to a folder holding {subfolder}/")
    path = os.path.join(root, subfolder)
    if not os.path.isdir(path):
        pytest.skip(f"needs full data: {path} does not exist")
    return path


@pytest.fixture(scope="session")
def mnist_dir() -> str:
    """Folder of the full MNIST IDX files."""
    return _dataset_dir("mnist")


@pytest.fixture(scope="session")
def fashion_mnist_dir() -> str:
    """Folder of the full Fashion-MNIST IDX files."""
    return _dataset_dir("fashion-mnist")
