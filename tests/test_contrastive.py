"""The contrastive encoder (SimCLR) and pixel PCA: augmentation, a tiny fit, and what they refuse."""

import json

import keras
import numpy as np
import pytest

from latens import data, models, representations, sampling, train
from latens.models import augment, pca

NARROW_SIMCLR = {"filters": [4, 8], "convs_per_block": 1, "projection_dim": 8}


@pytest.fixture(scope="module")
def digits():
    return data.load("mnist_sample").pool[0][:96]


def test_augmentation_keeps_shapes_and_range_and_is_a_function_of_its_seed(digits):
    x = digits[:16].astype(np.float32) / 255.0
    view = augment.augment(x, [3, 4]).numpy()
    assert view.shape == x.shape and view.dtype == np.float32
    assert view.min() >= 0.0 and view.max() <= 1.0
    np.testing.assert_array_equal(view, augment.augment(x, [3, 4]).numpy())
    assert np.abs(view - augment.augment(x, [3, 5]).numpy()).mean() > 0.01
    nothing = augment.Augmentation(translation=0, rotation=0, zoom=0, contrast=0, noise=0)
    np.testing.assert_allclose(augment.augment(x, [3, 4], nothing).numpy(), x, atol=1e-5)


def test_a_shift_moves_the_image():
    x = np.zeros((1, 8, 8, 1), np.float32)
    x[0, 4, 4, 0] = 1.0
    only_shift = augment.Augmentation(translation=0.25, rotation=0, zoom=0, contrast=0, noise=0)
    moved = augment.augment(x, [0, 1], only_shift).numpy()[0, ..., 0]
    assert moved.sum() == pytest.approx(1.0, abs=1e-4) and moved[4, 4] < 0.5


def test_a_crop_is_a_window_inside_the_image_resized_to_the_whole():
    only_crop = augment.Augmentation(rotation=0, zoom=0, contrast=0, noise=0, crop_area=0.25)
    # A window inside the image never reaches the black fill beyond it.
    ones = np.ones((64, 28, 28, 1), np.float32)
    np.testing.assert_allclose(augment.augment(ones, [1, 2], only_crop).numpy(), 1.0, atol=1e-5)
    # Along a horizontal ramp a window of side s spans at most s of the ramp's 27 steps.
    ramp = np.tile(np.arange(28, dtype=np.float32) / 27.0, (64, 28, 1))[..., None]
    view = augment.augment(ramp, [1, 2], only_crop).numpy()[:, 14, :, 0]
    spans = view[:, -1] - view[:, 0]
    assert np.all(spans >= 0.5 - 1e-4) and np.all(spans <= 1.0 + 1e-4) and spans.mean() < 0.9


def test_crops_change_the_views_and_a_window_of_nearly_the_whole_image_is_no_crop(digits):
    x = digits[:8].astype(np.float32) / 255.0
    # The crop path at an area share just below 1 keeps every other draw of the view.
    np.testing.assert_allclose(augment.augment(x, [3, 4]).numpy(),
                               augment.augment(x, [3, 4], augment.Augmentation(crop_area=1 - 1e-7)).numpy(), atol=1e-5)
    assert np.abs(augment.augment(x, [3, 4]).numpy()
                  - augment.augment(x, [3, 4], augment.Augmentation(crop_area=0.5)).numpy()).mean() > 0.01


def test_bad_augmentations_are_refused():
    with pytest.raises(ValueError, match="zoom must be below 1"):
        augment.Augmentation(zoom=1.0)
    with pytest.raises(ValueError, match="noise must be at least 0"):
        augment.Augmentation(noise=-0.1)
    with pytest.raises(ValueError, match="crop_area must be in"):
        augment.Augmentation(crop_area=0.0)


def test_one_epoch_of_simclr_on_tiny_data(digits, tmp_path):
    config = train.TrainConfig(ae="simclr", latent_dim=16, epochs=1, batch_size=32, precision="float32",
                               model_options=NARROW_SIMCLR)
    splits = data.Splits("tiny", (digits, None), (digits[:64], None), (digits[:64], None), ())
    keras.utils.set_random_seed(0)
    files = train.train(config, tmp_path, splits=splits, verbose=0)
    with np.load(files.embeddings) as f:
        assert "errors" not in f.files
        z = f["z"]
    assert z.shape == (96, 16)
    np.testing.assert_allclose(np.linalg.norm(z, axis=1), 1.0, rtol=1e-5)
    history = (tmp_path / "history.csv").read_text().splitlines()
    assert history[0].split(",")[:3] == ["epoch", "loss", "val_loss"] and len(history) == 2
    model = models.load(files.model)
    np.testing.assert_allclose(model.encode(digits), z, atol=1e-6)
    with pytest.raises(ValueError, match="no reconstruction error"):
        model.reconstruction_error(digits)
    with pytest.raises(ValueError, match="needs errors"):
        sampling.select("ae-error", z, 5)


def test_simclrs_other_layers_read_as_codes(digits):
    keras.utils.set_random_seed(0)
    model = models.build_representation("simclr", 16, **NARROW_SIMCLR)
    flat, pre = (model.layer_codes(digits, layer, batch_size=40) for layer in ("flatten", "pre_activation"))
    assert flat.shape == (96, 7 * 7 * 8) and pre.shape == (96, 16)
    np.testing.assert_allclose(np.linalg.norm(flat, axis=1), 1.0, rtol=1e-5)
    # The code is the pre-activation through the ReLU, normalised again.
    relu = np.maximum(pre, 0.0)
    np.testing.assert_allclose(relu / np.linalg.norm(relu, axis=1, keepdims=True), model.encode(digits), atol=1e-5)
    np.testing.assert_array_equal(model.layer_codes(digits, "embedding"), model.encode(digits))
    with pytest.raises(ValueError, match="layer must be one of flatten, pre_activation, embedding, got 'head'"):
        model.layer_codes(digits, "head")


@pytest.mark.parametrize("layer, dim", [("pre_activation", 16), ("flatten", 7 * 7 * 8)])
def test_a_code_at_another_layer_trains_the_same_network_and_reads_that_layer(digits, layer, dim):
    def one_step(**options):
        keras.utils.set_random_seed(0)
        model = models.build_representation("simclr", 16, seed=0, **NARROW_SIMCLR, **options)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        loss = float(model.train_on_batch(digits[:32].astype(np.float32) / 255.0, return_dict=True)["loss"])
        return model, loss

    (default, default_loss), (other, other_loss) = one_step(), one_step(code_layer=layer)
    # Only the reading moved: the same weights, the same loss, the same step.
    assert other_loss == pytest.approx(default_loss, rel=1e-6)
    for a, b in zip(default.get_weights(), other.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    codes = other.encode(digits)
    assert codes.shape == (96, dim) and other.code_dim == dim and default.code_dim == 16
    np.testing.assert_allclose(codes, default.layer_codes(digits, layer), atol=1e-5)
    np.testing.assert_allclose(other.layer_codes(digits, "embedding"), default.encode(digits), atol=1e-5)
    assert (codes < 0).any() == (layer == "pre_activation")


def test_simclr_refuses_an_unknown_code_layer():
    with pytest.raises(ValueError, match="code_layer must be one of embedding, pre_activation, flatten, got 'head'"):
        models.build_representation("simclr", 16, code_layer="head", **NARROW_SIMCLR)


def test_simclr_same_seed_same_first_step(digits):
    def one_step(seed):
        keras.utils.set_random_seed(seed)
        model = models.build_representation("simclr", 16, seed=seed, **NARROW_SIMCLR)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        model.train_on_batch(digits[:32].astype(np.float32) / 255.0)
        return np.concatenate([w.ravel() for w in model.get_weights()])

    np.testing.assert_array_equal(one_step(1), one_step(1))
    assert np.abs(one_step(1) - one_step(2)).max() > 0


def test_simclr_draws_new_views_at_every_step(digits):
    keras.utils.set_random_seed(0)
    model = models.build_representation("simclr", 16, seed=0, **NARROW_SIMCLR)
    # A learning rate of zero keeps the weights, so only the views can change the loss.
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    batch = digits[:32].astype(np.float32) / 255.0
    losses = [float(model.train_on_batch(batch, return_dict=True)["loss"]) for _ in range(3)]
    assert len(set(losses)) == 3


def test_pixel_pca_is_deterministic_orthonormal_and_has_no_errors(digits, tmp_path):
    splits = data.Splits("tiny", (digits, None), (digits[:0], None), (digits[:0], None), ())
    runs = [train.train(train.TrainConfig(ae="pca", latent_dim=10), tmp_path / name, splits=splits, verbose=0)
            for name in ("a", "b")]
    codes = []
    for files in runs:
        with np.load(files.embeddings) as f:
            assert "errors" not in f.files
            codes.append(f["z"])
        assert json.loads(files.config.read_text())["latent_dim"] == 10
    np.testing.assert_array_equal(*codes)
    model = models.load(runs[0].model)
    components = np.asarray(model.components)
    np.testing.assert_allclose(components.T @ components, np.eye(10), atol=1e-5)
    # The first component carries the most variance.
    assert np.var(codes[0][:, 0]) >= np.var(codes[0][:, 1]) >= np.var(codes[0][:, 9])
    with pytest.raises(ValueError, match="no reconstruction error"):
        model.reconstruction_error(digits)


def test_representation_names_and_defaults():
    assert representations.parse("vae16") == ("vae", 16)
    assert representations.parse("simclr") == ("simclr", None)
    assert train.TrainConfig(ae="simclr").latent_dim == 128 and train.TrainConfig(ae="simclr").batch_size == 256
    assert train.TrainConfig(ae="pca").latent_dim == 50 and train.TrainConfig().latent_dim == 2
    with pytest.raises(ValueError, match="unknown representation 'gan'"):
        representations.parse("gan16")
    with pytest.raises(ValueError, match="unknown auto-encoder 'pca'"):
        models.build_autoencoder("pca")


def test_pixel_pca_of_large_images_finds_the_exact_components():
    # Images above EXACT_PIXELS take the randomised SVD: on pixels with a
    # clear spectrum it must find the covariance's own top directions.
    rng = np.random.default_rng(0)
    side = 24  # 24 x 24 x 3 = 1,728 pixels.
    assert side * side * 3 > pca.EXACT_PIXELS
    scales = np.linspace(40, 10, 8)
    directions = np.linalg.qr(rng.standard_normal((side * side * 3, 8)))[0]
    pixels = 128 + (rng.standard_normal((600, 8)) * scales) @ directions.T + rng.standard_normal((600, side * side * 3))
    images = np.clip(pixels, 0, 255).astype(np.uint8).reshape(600, side, side, 3)
    model = pca.PixelPCA((side, side, 3), 8)
    model.fit_pixels(images)
    centred = images.reshape(600, -1) / 255.0
    centred = centred - centred.mean(axis=0)
    values, vectors = np.linalg.eigh(centred.T @ centred)
    exact = vectors[:, np.argsort(values)[::-1][:8]]
    found = np.asarray(model.components)
    # Each direction equals the exact one up to its sign.
    np.testing.assert_allclose(np.abs(np.sum(found * exact, axis=0)), np.ones(8), atol=1e-3)
