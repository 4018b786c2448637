"""experiments/sample_folder.py: the digits it writes read back unchanged."""

import importlib.util
import pathlib

import numpy as np
import pytest

from latens import data
from latens.checks import InputError
from latens.select import images

SCRIPT = pathlib.Path(__file__).parents[1] / "experiments" / "sample_folder.py"


@pytest.fixture(scope="module")
def sample_folder():
    spec = importlib.util.spec_from_file_location("sample_folder", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_export_images_writes_pngs_that_read_back_unchanged(tmp_path, sample_folder):
    x = data.load("mnist_sample").pool[0][:5]
    paths = sample_folder.export_images(x, tmp_path / "digits", prefix="d")
    assert [p.name for p in paths] == [f"d_{i:05d}.png" for i in range(5)]
    back = np.stack([images.decode_image(p, 28, 1) for p in paths])
    np.testing.assert_array_equal(back, x)
    with pytest.raises(InputError, match=r"images must be uint8 \[N, H, W, 1 or 3\]"):
        sample_folder.export_images(x.astype(np.float32), tmp_path / "bad")
