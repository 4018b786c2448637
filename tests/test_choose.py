"""latens.choose: the in-memory API shares the folder command's options, checks and caching."""

import json

import numpy as np
import pytest
import tensorflow as tf

import latens
from latens import choice, data
from latens.checks import InputError

TINY = {"image_size": 16, "channels": 1, "width": 1 / 16, "epochs": 1, "ae": "cae", "batch_size": 32}


@pytest.fixture(scope="module")
def digits():
    return data.load("mnist_sample").pool[0][:96]


def test_choose_returns_n_distinct_indices_seeded_and_reuses_a_cached_model(digits, tmp_path):
    first = latens.choose(digits, 12, cache_dir=tmp_path, **TINY)
    assert first.dtype == np.int64 and len(set(first.tolist())) == 12 and first.max() < len(digits)
    (model,) = tmp_path.glob("*/model.keras")
    stamp = model.stat().st_mtime_ns
    again = latens.choose(digits, 12, cache_dir=tmp_path, **TINY)
    np.testing.assert_array_equal(again, first)
    assert model.stat().st_mtime_ns == stamp  # Reused, not trained again.
    kcenter = latens.choose(digits, 12, cache_dir=tmp_path, strategy="kcenter", **TINY)
    assert model.stat().st_mtime_ns == stamp and not np.array_equal(kcenter, first)


def test_the_same_call_chooses_the_same_images_without_a_cache(digits):
    first = latens.choose(digits, 6, **TINY)
    np.testing.assert_array_equal(latens.choose(digits, 6, **TINY), first)
    assert not np.array_equal(latens.choose(digits, 6, seed=1, **TINY), first)


def test_a_dataset_and_float_images_choose_as_the_array_does(digits, tmp_path):
    expected = latens.choose(digits, 8, cache_dir=tmp_path, **TINY)
    dataset = tf.data.Dataset.from_tensor_slices((digits, np.zeros(len(digits)))).batch(10)
    np.testing.assert_array_equal(latens.choose(dataset, 8, cache_dir=tmp_path, **TINY), expected)
    floats = digits[..., 0].astype(np.float32) / 255.0
    assert len(latens.choose(floats, 8, cache_dir=tmp_path, **TINY)) == 8


@pytest.mark.parametrize("images, options, message", [
    (np.zeros((5, 16, 16, 2), np.uint8), {}, r"images must be \[N, H, W\] or \[N, H, W, 1 or 3\]"),
    (np.full((40, 16, 16), 2.0), {}, r"images must be uint8, or floats in \[0, 1\]"),
    (np.zeros((5, 16, 16), np.uint8), {}, "only 5 readable images in the array, fewer than n = 8"),
    (np.zeros((40, 16, 16), np.uint8), {"strategy": "best"}, "unknown strategy 'best'"),
    (np.zeros((40, 16, 16), np.uint8), {"ae": "simclr", "strategy": "ae-error"},
     "--strategy=ae-error ranks reconstruction errors, which only the auto-encoders"),
    (np.zeros((40, 16, 16), np.uint8), {"ae": "pca", "latent_dim": 300}, "--ae=pca keeps at most the 256 pixels"),
    (np.zeros((30, 16, 16), np.uint8), {"ae": "pca"}, "--ae=pca finds 50 components in no fewer images; there are 30"),
])
def test_bad_input_is_refused_with_the_commands_messages(images, options, message):
    with pytest.raises(InputError, match=message):
        latens.choose(images, 8, **{**TINY, **options})


def test_a_folder_and_an_array_of_the_same_images_choose_the_same_ones(digits, tmp_path):
    import csv

    from PIL import Image

    from latens import folder

    (tmp_path / "images").mkdir()
    for i, image in enumerate(digits):
        Image.fromarray(image[..., 0]).save(tmp_path / "images" / f"{i:03d}.png")
    folder.choose(tmp_path / "images", tmp_path / "out", folder.FolderConfig(n=10, **TINY), progress=False)
    with open(tmp_path / "out" / "query.csv", newline="") as f:
        from_folder = [int(row["path"].removesuffix(".png")) for row in csv.DictReader(f)]
    assert latens.choose(digits, 10, **TINY).tolist() == from_folder


def test_the_defaults_are_the_studys_best_and_choose_in_a_simclr_embedding(digits, tmp_path):
    # docs/beyond.md, "latens' defaults": the evidence behind these two values.
    defaults = choice.FolderConfig()
    assert (defaults.ae, defaults.strategy) == ("simclr", "cluster-medoid")
    tiny = {key: value for key, value in TINY.items() if key != "ae"}
    order = latens.choose(digits, 10, cache_dir=tmp_path, **tiny)
    assert len(set(order.tolist())) == 10
    (config,) = tmp_path.glob("*/config.json")
    assert json.loads(config.read_text())["ae"] == "simclr"
