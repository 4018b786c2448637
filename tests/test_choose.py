"""latens.choose: the in-memory API shares the folder command's options, checks and caching."""

import dataclasses
import json
import pathlib
import re

import numpy as np
import pytest
import tensorflow as tf

import latens
from latens import data, sampling, spaces
from latens.checks import InputError
from latens.select import choice
from latens.select.images import fit_array

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
     "strategy=ae-error ranks reconstruction errors, which only the auto-encoders"),
    (np.zeros((40, 16, 16), np.uint8), {"ae": "pca", "latent_dim": 300}, "ae=pca keeps at most the 256 pixels"),
    (np.zeros((30, 16, 16), np.uint8), {"ae": "pca"}, "ae=pca finds 50 components in no fewer images; there are 30"),
])
def test_bad_input_is_refused_with_the_commands_messages(images, options, message):
    with pytest.raises(InputError, match=message):
        latens.choose(images, 8, **{**TINY, **options})


def test_a_folder_and_an_array_of_the_same_images_choose_the_same_ones(digits, tmp_path):
    import csv

    from PIL import Image

    from latens.select import folder

    (tmp_path / "images").mkdir()
    for i, image in enumerate(digits):
        Image.fromarray(image[..., 0]).save(tmp_path / "images" / f"{i:03d}.png")
    folder.choose(tmp_path / "images", tmp_path / "out", folder.ChoiceConfig(n=10, **TINY), progress=False)
    with open(tmp_path / "out" / "query.csv", newline="") as f:
        from_folder = [int(row["path"].removesuffix(".png")) for row in csv.DictReader(f)]
    assert latens.choose(digits, 10, **TINY).tolist() == from_folder


def test_the_defaults_are_the_studys_best_and_choose_in_a_simclr_embedding(digits, tmp_path):
    # docs/beyond.md, "latens' defaults": the evidence behind these two values.
    defaults = choice.ChoiceConfig()
    assert (defaults.ae, defaults.strategy) == ("simclr", "cluster-medoid")
    tiny = {key: value for key, value in TINY.items() if key != "ae"}
    order = latens.choose(digits, 10, cache_dir=tmp_path, **tiny)
    assert len(set(order.tolist())) == 10
    (config,) = tmp_path.glob("*/config.json")
    assert json.loads(config.read_text())["ae"] == "simclr"


# -- datasets ------------------------------------------------------------------


def test_an_infinite_dataset_is_refused_before_it_is_read():
    endless = tf.data.Dataset.from_tensors(np.zeros((16, 16), np.uint8)).repeat()
    with pytest.raises(InputError, match=r"the dataset is infinite \(repeated\?\).*\.take\(n\)"):
        latens.choose(endless, 8, **TINY)


def test_a_dataset_of_unknown_length_is_read_only_up_to_a_memory_bound(monkeypatch):
    read = []

    def images():  # Endless in spirit; it stops at 2,000 only so that a missing bound cannot hang the test.
        while len(read) < 2000:
            read.append(1)
            yield np.zeros((128, 128), np.uint8)

    unknown = tf.data.Dataset.from_generator(images, output_signature=tf.TensorSpec((128, 128), tf.uint8))
    assert unknown.cardinality() == tf.data.UNKNOWN_CARDINALITY
    monkeypatch.setattr(choice, "_memory_bytes", lambda: 16 * 2**20)  # A bound of 8 MiB: 512 images.
    bound = r"more than 8 MiB, half the 16 MiB of memory available, .* unknown length .*\.take\(n\)"
    with pytest.raises(InputError, match=bound):
        latens.choose(unknown, 8, **TINY)
    assert len(read) < 600


def test_a_dataset_of_dicts_uses_its_image_key(digits, tmp_path):
    expected = latens.choose(digits, 8, cache_dir=tmp_path, **TINY)
    dicts = tf.data.Dataset.from_tensor_slices({"image": digits, "label": np.zeros(len(digits), np.int64)})
    np.testing.assert_array_equal(latens.choose(dicts, 8, cache_dir=tmp_path, **TINY), expected)
    no_image = tf.data.Dataset.from_tensor_slices({"pixels": digits, "label": np.zeros(len(digits), np.int64)})
    with pytest.raises(InputError, match=r"dicts must have an 'image' key, got keys 'label', 'pixels'$"):
        latens.choose(no_image, 8, **TINY)


def test_a_dataset_of_single_colour_images_is_a_batch(digits, tmp_path):
    colour = np.repeat(digits, 3, axis=-1)
    expected = latens.choose(colour, 8, cache_dir=tmp_path, **TINY)
    singles = tf.data.Dataset.from_tensor_slices(colour)  # Elements [28, 28, 3], one image each.
    np.testing.assert_array_equal(latens.choose(singles, 8, cache_dir=tmp_path, **TINY), expected)


# -- options and images --------------------------------------------------------


@pytest.mark.parametrize("name, value", [
    ("n", "10"), ("n", 2.5), ("n", True), ("epochs", 1.0), ("latent_dim", "2"), ("batch_size", 32.0),
    ("seed", False), ("image_size", "16"), ("channels", 1.0), ("train_size", 1e4),
])
def test_options_that_must_be_integers_refuse_other_values(name, value):
    options = {**TINY, name: value}
    n = options.pop("n", 8)
    with pytest.raises(InputError, match=rf"^{name} must be an integer, got {value!r}$".replace(".", r"\.")):
        latens.choose(np.zeros((40, 16, 16), np.uint8), n, **options)


def test_numpy_integers_are_integers(digits):
    order = latens.choose(digits, np.int64(6), **{**TINY, "epochs": np.int32(1), "batch_size": np.int64(32)})
    assert len(order) == 6


@pytest.mark.parametrize("shape", [(28, 28, 3), (28, 28, 1)])
def test_one_image_is_refused_with_how_to_pass_it(shape):
    with pytest.raises(InputError, match=r"looks like one image \[H, W, C\].*x\[None\].*grey images are \[N, H, W\]"):
        latens.choose(np.zeros(shape, np.uint8), 1, **TINY)


@pytest.mark.parametrize("options, count, message", [
    ({"batch_size": 1}, 40, r"^batch_size must be at least 2 for ae=simclr, whose loss contrasts each .*, got 1$"),
    ({"batch_size": None}, 1, r"ae=simclr .* needs batches of at least 2 images; there are 1 readable images in"),
])
def test_simclr_refuses_batches_of_one_image(options, count, message):
    with pytest.raises(InputError, match=message):
        latens.choose(np.zeros((count, 16, 16), np.uint8), 1, **{**TINY, "ae": "simclr", **options})


def test_train_size_trains_on_a_sample_and_chooses_among_every_image(digits, tmp_path):
    order = latens.choose(digits, 8, cache_dir=tmp_path, **{**TINY, "train_size": 32})
    (run,) = tmp_path.glob("*/config.json")
    stored = json.loads(run.read_text())
    assert stored["train_size"] == 32 and stored["batch_size"] == 32
    assert len(order) == 8 and len(set(order.tolist())) == 8
    assert np.load(run.parent / "embeddings.npz")["z"].shape[0] == len(digits)


def test_a_pool_no_larger_than_train_size_trains_as_it_would_without_it():
    config = choice.ChoiceConfig(train_size=500)
    assert config.training(500) == dataclasses.replace(config, train_size=0).training(500)
    assert config.training(501).train_size == 500


def test_a_train_size_below_the_kinds_smallest_batch_is_refused():
    with pytest.raises(InputError, match=r"^train_size must be 0 \(all images\) or at least 2, .*ae=simclr.*got 1$"):
        choice.ChoiceConfig(ae="simclr", train_size=1)
    with pytest.raises(InputError, match=r"^ae=pca finds 50 components .* at least 50, got 20$"):
        choice.ChoiceConfig(ae="pca", train_size=20)


# -- review fixes --------------------------------------------------------------


def _mixed_sizes(digits):
    """The digits at two sizes: half 28 x 28, half cropped to 24 x 20, as single grey images [H, W]."""
    return [image for image in digits[:48, ..., 0]] + [image for image in digits[48:, 2:26, 4:24, 0]]


def _each_fitted(singles, config):
    """What choose should train on: every image fitted on its own, as a file would be."""
    return np.concatenate([fit_array(image[None], config["image_size"], config["channels"]) for image in singles])


def test_a_list_of_images_of_different_sizes_fits_each_image(digits, tmp_path):
    mixed = _mixed_sizes(digits)
    expected = latens.choose(_each_fitted(mixed, TINY), 8, cache_dir=tmp_path, **TINY)
    np.testing.assert_array_equal(latens.choose(mixed, 8, cache_dir=tmp_path, **TINY), expected)
    assert len(list(tmp_path.iterdir())) == 1  # The same pixels, so the same cached model.


def test_datasets_of_images_of_different_sizes_fit_each_image(digits, tmp_path):
    colour = [np.repeat(image[..., None], 3, axis=-1) for image in _mixed_sizes(digits)]
    expected = latens.choose(_each_fitted(colour, TINY), 8, cache_dir=tmp_path, **TINY)
    singles = tf.data.Dataset.from_generator(lambda: iter(colour),
                                             output_signature=tf.TensorSpec((None, None, 3), tf.uint8))
    np.testing.assert_array_equal(latens.choose(singles, 8, cache_dir=tmp_path, **TINY), expected)
    dicts = tf.data.Dataset.from_generator(
        lambda: ({"image": image, "label": 0} for image in colour),
        output_signature={"image": tf.TensorSpec((None, None, 3), tf.uint8), "label": tf.TensorSpec((), tf.int32)})
    np.testing.assert_array_equal(latens.choose(dicts, 8, cache_dir=tmp_path, **TINY), expected)
    batches = tf.data.Dataset.from_generator(lambda: iter([np.stack(colour[:48]), np.stack(colour[48:])]),
                                             output_signature=tf.TensorSpec((None, None, None, 3), tf.uint8))
    np.testing.assert_array_equal(latens.choose(batches, 8, cache_dir=tmp_path, **TINY), expected)


def test_a_list_of_images_of_one_size_is_the_array(digits, tmp_path):
    expected = latens.choose(digits, 8, cache_dir=tmp_path, **TINY)
    np.testing.assert_array_equal(latens.choose(list(digits), 8, cache_dir=tmp_path, **TINY), expected)


def test_an_image_of_a_list_that_is_not_an_image_is_named():
    mixed = [np.zeros((16, 16), np.uint8)] * 39 + [np.zeros((5, 16, 16), np.uint8)]
    with pytest.raises(InputError, match=r"^images\[39\] must be one image, \[H, W\] or \[H, W, 1 or 3\], "
                                         r"got shape \(5, 16, 16\)$"):
        latens.choose(mixed, 8, **TINY)
    floats = [np.zeros((16, 16))] * 39 + [np.full((12, 12), 2.0)]
    with pytest.raises(InputError, match=r"^images\[39\] must be uint8, or floats in \[0, 1\], got float64"):
        latens.choose(floats, 8, **TINY)


def test_a_dataset_of_unknown_length_warns_and_shows_its_progress(monkeypatch, caplog, capsys):
    def images():
        for _ in range(600):
            yield np.zeros((128, 128), np.uint8)

    unknown = tf.data.Dataset.from_generator(images, output_signature=tf.TensorSpec((128, 128), tf.uint8))
    monkeypatch.setattr(choice, "_memory_bytes", lambda: 16 * 2**20)  # A bound of 8 MiB: 512 images.
    with pytest.raises(InputError, match="more than 8 MiB"):
        latens.choose(unknown, 8, progress=True, **TINY)
    (warning,) = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
    assert "length is unknown" in warning and "until it ends" in warning and "8 MiB" in warning
    assert ".take(n)" in warning
    assert "reading the dataset" in capsys.readouterr().err  # The bar, counting images.
    caplog.clear()
    known = tf.data.Dataset.from_tensor_slices(np.zeros((600, 128, 128), np.uint8))
    with pytest.raises(InputError, match="more than 8 MiB"):
        latens.choose(known, 8, progress=True, **TINY)
    assert not [record for record in caplog.records if record.levelname == "WARNING"]
    assert "reading the dataset" not in capsys.readouterr().err


def test_a_cache_dir_that_is_a_file_is_refused(digits, tmp_path):
    (tmp_path / "cache").write_text("")
    with pytest.raises(InputError, match=rf"^cache_dir {tmp_path / 'cache'} is a file, not a folder$"):
        latens.choose(digits, 8, cache_dir=tmp_path / "cache", **TINY)


def test_a_cache_dir_that_cannot_be_created_is_refused(digits, tmp_path, monkeypatch):
    # The tests may run as root, whom permissions do not stop: refuse as the file system would.
    locked = tmp_path / "locked"
    mkdir = pathlib.Path.mkdir

    def refuse(self, *args, **kwargs):
        if self.is_relative_to(locked):
            raise PermissionError(13, "Permission denied", str(self))
        return mkdir(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "mkdir", refuse)
    with pytest.raises(InputError, match=rf"^cache_dir {locked / 'cache'} cannot be created: Permission denied$"):
        latens.choose(digits, 8, cache_dir=locked / "cache", **TINY)


def test_an_unknown_option_is_refused_with_the_valid_ones(digits):
    with pytest.raises(InputError, match=r"^unknown option foo; latens\.choose's options are n, strategy, next_strategy, ae, .*"
                                         r"follow_links, labels, cache_dir, retrain, progress$"):
        latens.choose(digits, 5, foo=1, **TINY)
    with pytest.raises(InputError, match=r"^unknown options bar, foo; "):
        latens.choose(digits, 5, foo=1, bar=2, **TINY)


@pytest.mark.parametrize("empty", [np.zeros((0, 28, 28), np.uint8), np.zeros((0, 28, 28, 3), np.uint8), []])
def test_no_images_are_refused_as_no_images(empty):
    shape = np.asarray(empty).shape
    with pytest.raises(InputError, match=rf"^images must hold at least one image, got shape {re.escape(str(shape))}$"):
        latens.choose(empty, 5, **TINY)


# -- a joined space (join) -----------------------------------------------------


def test_a_joined_space_selects_in_both_codes_side_by_side_and_reuses_both_models(digits, tmp_path):
    order = latens.choose(digits, 10, cache_dir=tmp_path, join="pca", **TINY)
    (own,) = [path for path in tmp_path.iterdir() if "." not in path.name]
    joined = own.with_name(f"{own.name}.pca50")
    z_cae, z_pca = (np.load(path / "embeddings.npz")["z"] for path in (own, joined))
    assert (z_cae.shape, z_pca.shape) == ((96, 2), (96, 50))
    both = spaces.join([z_cae, z_pca])
    expected = sampling.select("cluster-medoid", both, 10, seed=0, clusters=sampling.cluster(both, seed=0, n=10))
    np.testing.assert_array_equal(order, expected)
    assert json.loads((joined / "config.json").read_text())["ae"] == "pca"
    stamps = [(path / "DONE").stat().st_mtime_ns for path in (own, joined)]
    np.testing.assert_array_equal(latens.choose(digits, 10, cache_dir=tmp_path, join="pca", **TINY), order)
    assert [(path / "DONE").stat().st_mtime_ns for path in (own, joined)] == stamps
    assert not np.array_equal(latens.choose(digits, 10, cache_dir=tmp_path, **TINY), order)


def test_a_joined_space_takes_its_kinds_own_batch_and_initializer():
    own, joined = choice.ChoiceConfig(ae="cae", batch_size=32, kernel_initializer="he_normal", join="simclr").parts()
    assert (own.ae, own.batch, own.kernel_initializer, own.join) == ("cae", 32, "he_normal", None)
    assert (joined.ae, joined.batch, joined.training(1000).kernel_initializer) == ("simclr", 256, "he_uniform")
    assert choice.ChoiceConfig().parts() == (choice.ChoiceConfig(),)


@pytest.mark.parametrize("options, message", [
    ({"join": "simclr"}, r"^join=simclr names ae's own codes"),
    ({"join": "simclr128"}, r"^join=simclr128 names ae's own codes"),
    ({"ae": "cae", "latent_dim": 2, "join": "cae"}, r"^join=cae names ae's own codes"),
    ({"join": "pixels"}, r"^join: unknown representation 'pixels'"),
    ({"join": ""}, r"^join: unknown representation ''"),
    ({"ae": "cae", "strategy": "ae-error", "join": "pca"}, r"^strategy=ae-error .* a joined space changes nothing"),
    ({"join": "pca", "train_size": 20}, r"^join=pca: ae=pca finds 50 components .* got 20$"),
])
def test_a_bad_join_is_refused_naming_it(options, message):
    with pytest.raises(InputError, match=message):
        choice.ChoiceConfig(**options)


def test_a_joined_pca_needs_its_components_worth_of_images(digits):
    with pytest.raises(InputError, match=r"^join=pca: ae=pca finds 50 components in no fewer images; there are 40"):
        latens.choose(digits[:40], 8, join="pca", **TINY)


def test_adding_join_reuses_the_model_trained_without_it(digits, tmp_path):
    latens.choose(digits, 10, cache_dir=tmp_path, **TINY)
    (done,) = tmp_path.glob("*/DONE")
    stamp = done.stat().st_mtime_ns
    latens.choose(digits, 10, cache_dir=tmp_path, join="pca", **TINY)
    assert done.stat().st_mtime_ns == stamp and len(list(tmp_path.glob("*/DONE"))) == 2


def test_pre_labels_come_from_aes_codes_and_need_no_joined_model(digits, tmp_path):
    labels = {i: str(i % 3) for i in range(12)}
    alone = latens.predict(digits, labels, **TINY)
    joined = latens.predict(digits, labels, cache_dir=tmp_path, join="pca", **TINY)
    np.testing.assert_array_equal(joined[0], alone[0])
    np.testing.assert_allclose(joined[1], alone[1])
    assert len(list(tmp_path.iterdir())) == 1  # ae's model alone: no `<digest>.pca50` beside it.


def test_the_memory_check_counts_the_joined_models_footprint_too(monkeypatch):
    from latens.models import layers

    config = choice.ChoiceConfig(ae="cae", latent_dim=16, join="simclr")
    shape = (config.image_size, config.image_size, config.channels)
    needs = [layers.training_footprint(shape, part.dim, batch_size=part.batch,
                                       **layers.scaled_widths(config.width))[1] for part in config.parts()]
    assert needs[1] > needs[0]  # SimCLR's batch of 256 needs more than the CAE's 64.
    monkeypatch.setattr(choice, "_memory_bytes", lambda: (needs[0] + needs[1]) // 2)
    choice.check_memory(choice.ChoiceConfig(ae="cae", latent_dim=16))
    with pytest.raises(InputError, match=r"^training for join=simclr at image_size 32 .* lower image_size or width$"):
        choice.check_memory(config)


def test_the_memory_check_counts_simclrs_embedding_at_its_own_size(monkeypatch):
    from latens.models import layers

    config = choice.ChoiceConfig()
    assert config.ae == "simclr" and config.latent_dim is None and config.dim == 128
    shape, widths = (config.image_size, config.image_size, config.channels), layers.scaled_widths(config.width)
    flat, full = (layers.training_footprint(shape, dim, batch_size=config.batch, **widths)[1] for dim in (2, 128))
    assert full > flat
    monkeypatch.setattr(choice, "_memory_bytes", lambda: (flat + full) // 2)
    with pytest.raises(InputError, match=r"^training at image_size 32 and width 0.5 needs about"):
        choice.check_memory(config)
