"""Tests of latens.folder: finding and decoding images, the cache, and a whole folder run."""

import csv
import json
import pathlib

import keras
import numpy as np
import pytest
from PIL import Image

from latens import data, folder, train

# A tiny network and images, so that a whole run trains in a few seconds.
TINY = {"image_size": 16, "channels": 3, "width": 1 / 16, "epochs": 1, "ae": "cae", "batch_size": 32}
BAD_FILES = {
    "truncated.png": "OSError: image file is truncated",
    "random.jpg": "UnidentifiedImageError",
    "empty.png": "UnidentifiedImageError",
    "notes.txt": "not an image file extension",
}


def write_digit_folder(root: pathlib.Path) -> list[str]:
    """Writes real MNIST digits in several formats, sizes and folders, plus bad files.

    Returns:
      The relative paths of the readable images.
    """
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


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    root = tmp_path_factory.mktemp("digits")
    return root, write_digit_folder(root)


@pytest.fixture(scope="module")
def first_run(digits):
    """One whole run, its output folder inside the images folder."""
    root, _ = digits
    out = root / "selection"
    paths = folder.choose(root, out, folder.FolderConfig(n=25, **TINY), progress=False)
    return out, paths


def read_query(out):
    with open(out / "query.csv", newline="") as f:
        return list(csv.DictReader(f))


# -- decoding -----------------------------------------------------------------


def test_16_bit_images_map_their_full_range_onto_8_bits(tmp_path):
    pixels = np.array([[0, 257 * 128], [65535, 257 * 7]], dtype=np.uint16)
    Image.fromarray(pixels).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode == "I;16"
    decoded = folder.decode_image(tmp_path / "deep.png", image_size=2, channels=1)
    np.testing.assert_array_equal(decoded[..., 0], [[0, 128], [255, 7]])


def test_transparent_pixels_become_white(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[:2, :, 3] = 255  # Top half opaque black, bottom half transparent.
    Image.fromarray(rgba, "RGBA").save(tmp_path / "alpha.png")
    palette = Image.fromarray(np.array([[0, 1], [1, 0]] * 2, np.uint8).repeat(2, 1), "P")
    palette.putpalette([0, 0, 0, 200, 0, 0])
    palette.save(tmp_path / "palette.png", transparency=1)

    alpha = folder.decode_image(tmp_path / "alpha.png", image_size=4, channels=3)
    np.testing.assert_array_equal(alpha[:2], 0)
    np.testing.assert_array_equal(alpha[2:], 255)
    grey = folder.decode_image(tmp_path / "palette.png", image_size=4, channels=1)[..., 0]
    np.testing.assert_array_equal(grey, np.where(np.array([[0, 1], [1, 0]] * 2).repeat(2, 1), 255, 0))


def test_a_gif_gives_its_first_frame_and_exif_orientation_is_applied(tmp_path):
    frames = [Image.new("L", (4, 4), 0), Image.new("L", (4, 4), 255)]
    frames[0].save(tmp_path / "two.gif", save_all=True, append_images=frames[1:])
    np.testing.assert_array_equal(folder.decode_image(tmp_path / "two.gif", 4, 1), 0)

    corner = np.zeros((8, 8), np.uint8)
    corner[:2, :2] = 255
    exif = Image.Exif()
    exif[0x0112] = 3  # Orientation: rotated 180 degrees.
    Image.fromarray(corner).save(tmp_path / "turned.png", exif=exif)
    np.testing.assert_array_equal(folder.decode_image(tmp_path / "turned.png", 8, 1)[..., 0], corner[::-1, ::-1])


def test_grey_and_colour_convert_both_ways(tmp_path):
    Image.new("RGB", (4, 4), (255, 0, 0)).save(tmp_path / "red.png")
    Image.new("L", (4, 4), 90).save(tmp_path / "grey.png")
    np.testing.assert_array_equal(folder.decode_image(tmp_path / "red.png", 4, 1), 76)  # ITU-R 601 luma.
    np.testing.assert_array_equal(folder.decode_image(tmp_path / "grey.png", 4, 3), 90)


@pytest.mark.parametrize("fit, white", [
    ("stretch", [True, False, False, True]),
    ("crop", [False, False, False, False]),
    ("pad", [True, False, False, True]),
])
def test_fits_stretch_crop_or_pad_a_wide_image(tmp_path, fit, white):
    wide = np.zeros((8, 16), np.uint8)  # White outer quarters, black middle half.
    wide[:, :4] = wide[:, 12:] = 255
    Image.fromarray(wide).save(tmp_path / "wide.png")
    decoded = folder.decode_image(tmp_path / "wide.png", 8, 1, fit=fit)[..., 0]
    # Columns 0 and 7 lie in the outer quarters once stretched, 3 and 4 in the
    # middle, all away from resampling's ringing at the edges between them.
    assert [decoded[4, column] > 127 for column in (0, 3, 4, 7)] == white
    if fit == "pad":  # The image, 8 x 4 once shrunk, fills rows 2..5.
        np.testing.assert_array_equal(decoded[[0, 1, 6, 7]], 0)
    else:
        np.testing.assert_array_equal(decoded[0], decoded[4])


# -- listing and reading ------------------------------------------------------


def test_listing_finds_images_by_extension_in_any_case_and_skips_the_rest(digits):
    root, good = digits
    images, others = folder.list_files(root, exclude=root / "selection")
    assert images == sorted(good + ["truncated.png", "random.jpg", "empty.png"])
    assert others == [("notes.txt", "not an image file extension")]
    assert "folder.png/inside_239.png" in images and ".hidden.png" not in images


def test_the_cache_is_reused_until_a_file_changes(tmp_path, monkeypatch):
    root = tmp_path / "images"
    root.mkdir()
    for i in range(3):
        Image.new("L", (8, 8), 40 * i).save(root / f"{i}.png")
    files, _ = folder.list_files(root)
    first = folder.read_images(root, files, tmp_path / "cache", image_size=4, channels=1, progress=False)
    np.testing.assert_array_equal(first.images[:, 0, 0, 0], [0, 40, 80])

    with monkeypatch.context() as patch:
        patch.setattr(folder, "decode_image", lambda *a, **k: pytest.fail("decoded although the cache fits"))
        again = folder.read_images(root, files, tmp_path / "cache", image_size=4, channels=1, progress=False)
    assert again.digest == first.digest and again.paths == first.paths

    Image.new("L", (8, 8), 200).save(root / "1.png")
    changed = folder.read_images(root, files, tmp_path / "cache", image_size=4, channels=1, progress=False)
    np.testing.assert_array_equal(changed.images[:, 0, 0, 0], [0, 200, 80])
    assert changed.digest != first.digest
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["images.json", "images.npy"]


# -- a whole run --------------------------------------------------------------


def test_a_run_chooses_n_distinct_readable_images_and_writes_every_output(digits, first_run):
    root, good = digits
    out, paths = first_run
    assert sorted(p.name for p in out.iterdir()) == sorted([*folder.OUTPUTS, "cache"])
    assert paths == {name: out / name for name in folder.OUTPUTS}

    rows = read_query(out)
    assert [int(r["rank"]) for r in rows] == list(range(1, 26))
    chosen = [r["path"] for r in rows]
    assert len(set(chosen)) == 25 and set(chosen) <= set(good)
    assert all((root / p).is_file() for p in chosen)

    with np.load(out / "embeddings.npz") as e:
        assert list(e["paths"]) == good  # The output folder inside `root` was not read.
        assert e["z"].shape == (len(good), 2) and e["errors"].shape == (len(good),)
        assert [e["paths"][i] for i in e["query"]] == chosen
        assert [str(e["clusters"][i]) for i in e["query"]] == [r["cluster"] for r in rows]
        np.testing.assert_allclose([e["z"][i] for i in e["query"]],
                                   [[float(r["z_0"]), float(r["z_1"])] for r in rows])

    with open(out / "skipped.txt", newline="") as f:
        skipped = {row["path"]: row["reason"] for row in csv.DictReader(f, delimiter="\t")}
    assert set(skipped) == set(BAD_FILES)
    for name, reason in BAD_FILES.items():
        assert reason in skipped[name]

    config = json.loads((out / "config.json").read_text())
    assert config["images_read"] == len(good) and config["images_unreadable"] == 3
    assert config["n"] == 25 and config["train"]["dataset"].startswith("folder:")
    for name in ("contact_sheet.png", "latent.png"):
        assert Image.open(out / name).size[0] > 500


def test_a_second_run_reuses_the_images_and_the_model(digits, first_run, monkeypatch):
    root, _ = digits
    out, _ = first_run
    model = out / "cache" / "model" / "model.keras"
    stamp = model.stat().st_mtime_ns
    monkeypatch.setattr(folder, "decode_image", lambda *a, **k: pytest.fail("decoded again"))

    folder.choose(root, out, folder.FolderConfig(n=10, strategy="kcenter", **TINY), progress=False)
    assert model.stat().st_mtime_ns == stamp
    assert len(read_query(out)) == 10
    assert json.loads((out / "config.json").read_text())["strategy"] == "kcenter"

    folder.choose(root, out, folder.FolderConfig(n=10, **TINY), retrain=True, progress=False)
    assert model.stat().st_mtime_ns != stamp


def test_other_training_options_train_a_new_model(digits, first_run):
    root, _ = digits
    out, _ = first_run
    model_config = out / "cache" / "model" / "config.json"
    folder.choose(root, out, folder.FolderConfig(n=10, **{**TINY, "epochs": 2}), progress=False)
    assert json.loads(model_config.read_text())["epochs"] == 2
    folder.choose(root, out, folder.FolderConfig(n=10, **{**TINY, "kernel_initializer": "he_normal"}), progress=False)
    assert json.loads(model_config.read_text())["model_options"]["kernel_initializer"] == "he_normal"


def test_a_killed_run_resumes_its_training(tmp_path, monkeypatch):
    root = tmp_path / "images"
    root.mkdir()
    for i, digit in enumerate(data.load("mnist_sample").pool[0][:40, :, :, 0]):
        Image.fromarray(digit).save(root / f"{i:02d}.png")
    config = folder.FolderConfig(n=5, **{**TINY, "epochs": 2})
    epochs, kill = [], True

    class KillAfterFirstEpoch(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            epochs.append(epoch)

        def on_epoch_end(self, epoch, logs=None):
            if kill:
                raise KeyboardInterrupt("killed")

    real_train = train.train
    monkeypatch.setattr(train, "train", lambda *a, **k: real_train(*a, callbacks=[KillAfterFirstEpoch()], **k))
    with pytest.raises(KeyboardInterrupt):
        folder.choose(root, tmp_path / "out", config, progress=False)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["cache"]
    kill = False
    folder.choose(root, tmp_path / "out", config, progress=False)
    assert epochs == [0, 1]
    assert (tmp_path / "out" / "query.csv").exists()


# -- bad input ----------------------------------------------------------------


@pytest.mark.parametrize("options, message", [
    ({"n": 0}, "n must be at least 1"),
    ({"image_size": 30}, "image_size must be a positive multiple of 4, got 30"),
    ({"channels": 2}, "channels must be 1 .grey. or 3 .colour., got 2"),
    ({"strategy": "best"}, "strategy must be one of random, "),
    ({"fit": "squash"}, "fit must be one of stretch, crop, pad"),
    ({"kernel_initializer": "zeros"}, "kernel_initializer must be one of glorot_uniform, "),
])
def test_bad_options_are_refused(options, message):
    with pytest.raises(folder.InputError, match=message):
        folder.FolderConfig(**options)


def make_folder(tmp_path, kind):
    root = tmp_path / "images"
    if kind != "missing":
        root.mkdir()
    if kind == "no images":
        (root / "notes.txt").write_text("text")
    if kind == "only bad images":
        (root / "a.png").write_bytes(b"")
        (root / "b.jpg").write_bytes(b"not a jpeg")
    if kind == "too few images":
        for i in range(5):
            Image.new("L", (8, 8), i).save(root / f"{i}.png")
    return root


@pytest.mark.parametrize("kind, message", [
    ("missing", "images folder .* does not exist"),
    ("empty", "no image files under"),
    ("no images", r"no image files under .* \(looked for .bmp, .gif"),
    ("only bad images", "none of the 2 image files under .* could be read"),
    ("too few images", "only 5 readable images under .*, fewer than n = 6"),
])
def test_bad_folders_are_refused_and_leave_nothing(tmp_path, kind, message):
    root = make_folder(tmp_path, kind)
    with pytest.raises(folder.InputError, match=message):
        folder.choose(root, tmp_path / "out", folder.FolderConfig(n=6, **TINY), progress=False)
    assert not (tmp_path / "out").exists()


def test_a_failed_run_keeps_the_previous_outputs(digits, first_run):
    root, good = digits
    out, _ = first_run
    before = {name: (out / name).read_bytes() for name in folder.OUTPUTS}
    with pytest.raises(folder.InputError, match=f"only {len(good)} readable images .*, fewer than n = 1000"):
        folder.choose(root, out, folder.FolderConfig(n=1000, **TINY), progress=False)
    assert {name: (out / name).read_bytes() for name in folder.OUTPUTS} == before
    assert sorted(p.name for p in out.iterdir()) == sorted([*folder.OUTPUTS, "cache"])


def test_out_must_differ_from_images(tmp_path):
    root = make_folder(tmp_path, "too few images")
    with pytest.raises(folder.InputError, match="out must be another folder than images"):
        folder.choose(root, root, folder.FolderConfig(n=2, **TINY), progress=False)


def test_export_images_writes_pngs_that_read_back_unchanged(tmp_path):
    x = data.load("mnist_sample").pool[0][:5]
    paths = folder.export_images(x, tmp_path / "digits", prefix="d")
    assert [p.name for p in paths] == [f"d_{i:05d}.png" for i in range(5)]
    back = np.stack([folder.decode_image(p, 28, 1) for p in paths])
    np.testing.assert_array_equal(back, x)
    with pytest.raises(folder.InputError, match=r"images must be uint8 \[N, H, W, 1 or 3\]"):
        folder.export_images(x.astype(np.float32), tmp_path / "bad")
