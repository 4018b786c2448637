"""Reading a folder of images: decoding, listing (links, odd names, output folders) and the cache."""

import os

import numpy as np
import pytest
from PIL import Image

from latens.select import images, outdir

# -- decoding -----------------------------------------------------------------


def test_16_bit_images_map_their_full_range_onto_8_bits(tmp_path):
    pixels = np.array([[0, 257 * 128], [65535, 257 * 7]], dtype=np.uint16)
    Image.fromarray(pixels).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode == "I;16"
    decoded = images.decode_image(tmp_path / "deep.png", image_size=2, channels=1)
    np.testing.assert_array_equal(decoded[..., 0], [[0, 128], [255, 7]])


def test_transparent_pixels_become_white(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[:2, :, 3] = 255  # Top half opaque black, bottom half transparent.
    Image.fromarray(rgba, "RGBA").save(tmp_path / "alpha.png")
    palette = Image.fromarray(np.array([[0, 1], [1, 0]] * 2, np.uint8).repeat(2, 1), "P")
    palette.putpalette([0, 0, 0, 200, 0, 0])
    palette.save(tmp_path / "palette.png", transparency=1)

    alpha = images.decode_image(tmp_path / "alpha.png", image_size=4, channels=3)
    np.testing.assert_array_equal(alpha[:2], 0)
    np.testing.assert_array_equal(alpha[2:], 255)
    grey = images.decode_image(tmp_path / "palette.png", image_size=4, channels=1)[..., 0]
    np.testing.assert_array_equal(grey, np.where(np.array([[0, 1], [1, 0]] * 2).repeat(2, 1), 255, 0))


def test_a_gif_gives_its_first_frame_and_exif_orientation_is_applied(tmp_path):
    frames = [Image.new("L", (4, 4), 0), Image.new("L", (4, 4), 255)]
    frames[0].save(tmp_path / "two.gif", save_all=True, append_images=frames[1:])
    np.testing.assert_array_equal(images.decode_image(tmp_path / "two.gif", 4, 1), 0)

    corner = np.zeros((8, 8), np.uint8)
    corner[:2, :2] = 255
    exif = Image.Exif()
    exif[0x0112] = 3  # Orientation: rotated 180 degrees.
    Image.fromarray(corner).save(tmp_path / "turned.png", exif=exif)
    np.testing.assert_array_equal(images.decode_image(tmp_path / "turned.png", 8, 1)[..., 0], corner[::-1, ::-1])


def test_grey_and_colour_convert_both_ways(tmp_path):
    Image.new("RGB", (4, 4), (255, 0, 0)).save(tmp_path / "red.png")
    Image.new("L", (4, 4), 90).save(tmp_path / "grey.png")
    np.testing.assert_array_equal(images.decode_image(tmp_path / "red.png", 4, 1), 76)  # ITU-R 601 luma.
    np.testing.assert_array_equal(images.decode_image(tmp_path / "grey.png", 4, 3), 90)


@pytest.mark.parametrize("fit, white", [
    ("stretch", [True, False, False, True]),
    ("crop", [False, False, False, False]),
    ("pad", [True, False, False, True]),
])
def test_fits_stretch_crop_or_pad_a_wide_image(tmp_path, fit, white):
    wide = np.zeros((8, 16), np.uint8)  # White outer quarters, black middle half.
    wide[:, :4] = wide[:, 12:] = 255
    Image.fromarray(wide).save(tmp_path / "wide.png")
    decoded = images.decode_image(tmp_path / "wide.png", 8, 1, fit=fit)[..., 0]
    # Columns 0 and 7 lie in the outer quarters once stretched, 3 and 4 in the
    # middle, all away from resampling's ringing at the edges between them.
    assert [decoded[4, column] > 127 for column in (0, 3, 4, 7)] == white
    if fit == "pad":  # The image, 8 x 4 once shrunk, fills rows 2..5.
        np.testing.assert_array_equal(decoded[[0, 1, 6, 7]], 0)
    else:
        np.testing.assert_array_equal(decoded[0], decoded[4])


# -- listing and reading ------------------------------------------------------


def test_listing_finds_images_by_extension_in_any_case_and_skips_the_rest(digit_folder):
    root, good = digit_folder
    found, others = images.list_files(root, exclude=root / "selection")
    assert found == sorted(good + ["truncated.png", "random.jpg", "empty.png"])
    assert others == [("notes.txt", "not an image file extension")]
    assert "folder.png/inside_239.png" in found and ".hidden.png" not in found


def test_the_cache_is_reused_until_a_file_changes(tmp_path, monkeypatch):
    root = tmp_path / "images"
    root.mkdir()
    for i in range(3):
        Image.new("L", (8, 8), 40 * i).save(root / f"{i}.png")
    files, _ = images.list_files(root)
    first = images.read_images(root, files, tmp_path / "cache", image_size=4, channels=1, progress=False)
    np.testing.assert_array_equal(first.images[:, 0, 0, 0], [0, 40, 80])

    with monkeypatch.context() as patch:
        patch.setattr(images, "decode_image", lambda *a, **k: pytest.fail("decoded although the cache fits"))
        again = images.read_images(root, files, tmp_path / "cache", image_size=4, channels=1, progress=False)
    assert again.digest == first.digest and again.paths == first.paths

    Image.new("L", (8, 8), 200).save(root / "1.png")
    changed = images.read_images(root, files, tmp_path / "cache", image_size=4, channels=1, progress=False)
    np.testing.assert_array_equal(changed.images[:, 0, 0, 0], [0, 200, 80])
    assert changed.digest != first.digest
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["images.json", "images.npy"]


def _pngs(folder, *names):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        Image.new("L", (8, 8), 100).save(folder / name)


def test_latens_output_folders_are_never_read(tmp_path):
    root = tmp_path / "images"
    _pngs(root, "a.png")
    _pngs(root / "old_run", "contact_sheet.png", "latent.png")
    (root / "old_run" / outdir.MARKER).write_text("{}")
    found, others = images.list_files(root)
    assert found == ["a.png"] and others == []


def test_links_are_followed_once_or_skipped_by_choice(tmp_path):
    root, elsewhere = tmp_path / "images", tmp_path / "elsewhere"
    _pngs(root, "a.png")
    _pngs(elsewhere, "b.png")
    (root / "linked.png").symlink_to(elsewhere / "b.png")
    (root / "dataset").symlink_to(elsewhere)
    (root / "dataset_again").symlink_to(elsewhere)
    (root / "loop").symlink_to(root)
    found, others = images.list_files(root)
    assert found == ["a.png", "dataset/b.png", "linked.png"]
    assert [reason.split(" (")[0] for _, reason in others] == ["link to a folder already read"] * 2

    found, others = images.list_files(root, follow_links=False)
    assert found == ["a.png"]
    assert [path for path, _ in others] == ["dataset", "dataset_again", "linked.png", "loop"]
    assert all("symbolic link" in reason for _, reason in others)


def test_names_that_are_not_utf8_are_skipped_with_an_escaped_name(tmp_path):
    root = tmp_path / "images"
    _pngs(root, "good.png")
    bad = os.path.join(os.fsencode(root), b"caf\xe9.png")
    Image.new("L", (8, 8)).save(bad)
    found, others = images.list_files(root)
    assert found == ["good.png"]
    assert others == [("caf\\xe9.png", "file name is not valid UTF-8")]


def test_the_partial_cache_file_has_a_fresh_name_so_a_planted_link_is_not_written_through(tmp_path):
    root = tmp_path / "images"
    _pngs(root, "a.png", "b.png")
    target = tmp_path / "precious"
    target.write_bytes(b"keep")
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / ".images.partial.npy").symlink_to(target)
    (tmp_path / "cache" / "images.npy").symlink_to(target)
    read = images.read_images(root, ["a.png", "b.png"], tmp_path / "cache", image_size=4, channels=1, progress=False)
    assert read.images.shape == (2, 4, 4, 1)
    assert target.read_bytes() == b"keep"
