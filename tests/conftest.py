"""Shared test settings and fixtures: quiet TensorFlow, where the full datasets live, tiny grids and folders.

Tests that need full MNIST or Fashion-MNIST read them from `$LATENS_DATA_DIR`
(a folder with `mnist/` and `fashion-mnist/` subfolders of IDX files) and skip,
saying why, when it is not set.
"""

import os
import pathlib

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


# Each worker holds a TensorFlow of its own (about 1.5 GB while a test trains).
_MAX_WORKERS = 4


def pytest_xdist_auto_num_workers(config) -> int:
    """`-n auto`: one worker per core this process may use, at most `_MAX_WORKERS`."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(cores, _MAX_WORKERS))


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


@pytest.fixture
def tiny_grid_config():
    """A function `(workdir, **changes)` -> a `GridConfig` on the unbalanced sample that runs in seconds."""
    from latens import representations
    from latens.research import evaluate, grid

    def make(workdir, **changes):
        settings = dict(
            workdir=str(workdir),
            datasets=("mnist_sample+unbalanced",),
            sizes=(20,),
            aes=("vae",),
            strategies=("random", "ae-error", "multi-normal-cluster"),
            seeds=(0, 1),
            ae=representations.Training(epochs=1, options={"filters": [4, 4, 4], "convs_per_block": 1,
                                                           "dense_units": [16]}),
            precision="float32",
            classifier=evaluate.ClassifierConfig(
                epochs=2, filters=(4, 4, 4), convs_per_block=1, dense_units=(16,), val_points=1, val_size=50,
                precision="float32",
            ),
        )
        settings.update(changes)
        return grid.GridConfig(**settings)

    return make


# The unreadable files `write_digit_folder` adds, and the reason each is skipped.
BAD_FILES = {
    "truncated.png": "OSError: image file is truncated",
    "random.jpg": "UnidentifiedImageError",
    "empty.png": "UnidentifiedImageError",
    "notes.txt": "not an image file extension",
}


@pytest.fixture(scope="session")
def bad_files() -> dict[str, str]:
    """File name -> why it is skipped, for the bad files of `write_digit_folder`."""
    return dict(BAD_FILES)


@pytest.fixture(scope="session")
def write_digit_folder():
    """`write_digit_folder(root)` -> relative paths of the readable images it wrote (see `_write_digit_folder`)."""
    return _write_digit_folder


@pytest.fixture(scope="session")
def digit_folder(tmp_path_factory):
    """`(root, readable paths)` of one folder of digits shared by the session's tests (read-only)."""
    root = tmp_path_factory.mktemp("digits")
    return root, _write_digit_folder(root)


def _write_digit_folder(root: pathlib.Path) -> list[str]:
    """Writes real MNIST digits in several formats, sizes and folders, plus bad files.

    Returns:
      The relative paths of the readable images.
    """
    from latens import data

    x = data.load("mnist_sample").pool[0][:240, :, :, 0]
    good = []

    def save(relative, image, **options):
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path, **options)
        good.append(relative)

    for i, digit in enumerate(x):
        grey = Image.fromarray(digit)
        if i < 120:
            save(f"{['', 'a/', 'a/b/'][i % 3]}grey_{i:03d}.png", grey)
        elif i < 160:  # Colour, another size.
            tinted = np.stack([digit, digit // 2, 255 - digit], -1)
            save(f"colour/tint_{i:03d}.PNG", Image.fromarray(tinted).resize((36, 36)))
        elif i < 190:
            save(f"jpeg/{i:03d}.Jpg", grey.resize((40, 32)), quality=90)
        elif i < 205:
            save(f"other/{i:03d}.bmp", grey)
        elif i < 220:
            save(f"other/{i:03d}.gif", grey.convert("P"))
        elif i < 239:
            save(f"other/{i:03d}.TIFF", grey)
        else:  # Inside a folder whose name looks like an image.
            save(f"folder.png/inside_{i:03d}.png", grey)
    png = (root / good[0]).read_bytes()
    (root / "truncated.png").write_bytes(png[: len(png) // 2])
    (root / "random.jpg").write_bytes(np.random.default_rng(0).bytes(300))
    (root / "empty.png").write_bytes(b"")
    (root / "notes.txt").write_text("not an image\n")
    (root / ".hidden.png").write_bytes(png)  # Hidden: never looked at.
    return sorted(good)
