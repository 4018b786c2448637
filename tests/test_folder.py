"""Tests of latens.select.folder: whole folder runs, reruns, bad options and folders."""

import csv
import json

import keras
import numpy as np
import pytest
from PIL import Image

from latens import data, representations, train

# A tiny network and images, so that a whole run trains in a few seconds.
from latens.select import folder, images, outdir

TINY = {"image_size": 16, "channels": 3, "width": 1 / 16, "epochs": 1, "ae": "cae", "batch_size": 32}


@pytest.fixture(scope="module")
def first_run(digit_folder):
    """One whole run, its output folder inside the images folder."""
    root, _ = digit_folder
    out = root / "selection"
    paths = folder.choose(root, out, folder.ChoiceConfig(n=25, **TINY), progress=False)
    return out, paths


def read_query(out):
    with open(out / "query.csv", newline="") as f:
        return list(csv.DictReader(f))


# -- a whole run --------------------------------------------------------------


def test_a_run_chooses_n_distinct_readable_images_and_writes_every_output(digit_folder, first_run, bad_files):
    root, good = digit_folder
    out, paths = first_run
    assert sorted(p.name for p in out.iterdir()) == sorted([*folder.OUTPUTS, "cache", outdir.MARKER])
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

    with open(out / "skipped.csv", newline="") as f:
        skipped = {row["path"]: row["reason"] for row in csv.DictReader(f)}
    assert set(skipped) == set(bad_files)
    for name, reason in bad_files.items():
        assert reason in skipped[name]

    config = json.loads((out / "config.json").read_text())
    assert config["images_read"] == len(good) and config["images_unreadable"] == 3
    assert config["n"] == 25 and config["train"]["dataset"].startswith("folder:")
    stages = ("reading", "training", "embedding", "clustering", "selecting")
    assert set(config["seconds"]) == set(stages) and all(config["seconds"][stage] > 0 for stage in stages[:3])
    for name in ("contact_sheet.png", "latent.png"):
        assert Image.open(out / name).size[0] > 500


def test_a_second_run_reuses_the_images_and_the_model(digit_folder, first_run, monkeypatch):
    root, _ = digit_folder
    out, _ = first_run
    model = out / "cache" / "model" / "model.keras"
    stamp = model.stat().st_mtime_ns
    monkeypatch.setattr(images, "decode_image", lambda *a, **k: pytest.fail("decoded again"))

    folder.choose(root, out, folder.ChoiceConfig(n=10, strategy="kcenter", **TINY), progress=False)
    assert model.stat().st_mtime_ns == stamp
    assert len(read_query(out)) == 10
    config = json.loads((out / "config.json").read_text())
    assert config["strategy"] == "kcenter"
    assert config["seconds"]["training"] == config["seconds"]["embedding"] == 0

    folder.choose(root, out, folder.ChoiceConfig(n=10, **TINY), retrain=True, progress=False)
    assert model.stat().st_mtime_ns != stamp


def test_other_training_options_train_a_new_model(digit_folder, first_run):
    root, _ = digit_folder
    out, _ = first_run
    model_config = out / "cache" / "model" / "config.json"
    folder.choose(root, out, folder.ChoiceConfig(n=10, **{**TINY, "epochs": 2}), progress=False)
    assert json.loads(model_config.read_text())["epochs"] == 2
    folder.choose(root, out, folder.ChoiceConfig(n=10, **{**TINY, "kernel_initializer": "he_normal"}), progress=False)
    assert json.loads(model_config.read_text())["model_options"]["kernel_initializer"] == "he_normal"


def test_a_joined_space_trains_both_beside_each_other_and_records_both(digit_folder, tmp_path):
    root, good = digit_folder
    out = tmp_path / "joined"
    folder.choose(root, out, folder.ChoiceConfig(n=10, join="pca", **TINY), progress=False)
    config = json.loads((out / "config.json").read_text())
    assert (config["join"], config["train"]["ae"], config["join_train"]["ae"]) == ("pca", "cae", "pca")
    assert (out / "cache" / "model.pca50" / "DONE").exists()
    with np.load(out / "embeddings.npz") as e:  # The CAE's errors, beside the joined codes.
        assert e["z"].shape == (len(good), 2 + 50) and e["errors"].shape == (len(good),)
    assert len(read_query(out)) == 10


def test_images_of_objects_train_simclr_on_their_views_and_record_them(digit_folder, tmp_path):
    root, good = digit_folder
    out = tmp_path / "objects"
    tiny_simclr = {**TINY, "ae": "simclr", "image_kind": "objects"}
    folder.choose(root, out, folder.ChoiceConfig(n=10, **tiny_simclr), progress=False)
    config = json.loads((out / "config.json").read_text())
    assert config["image_kind"] == "objects"
    assert config["train"]["model_options"]["augmentation"]["flip"]
    assert config["train"]["model_options"]["temperature"] == 0.05
    assert len(read_query(out)) == 10


def test_simclrs_conv_maps_as_codes_are_chosen_among_and_recorded(digit_folder, tmp_path):
    root, good = digit_folder
    out = tmp_path / "maps"
    # Wide enough (4 x 4 x 32 = 512-D) that the rules choose in the maps' principal components.
    maps = {**TINY, "ae": "simclr", "code_layer": "flatten", "width": 0.5}
    folder.choose(root, out, folder.ChoiceConfig(n=10, **maps), progress=False)
    config = json.loads((out / "config.json").read_text())
    assert config["code_layer"] == "flatten"
    assert config["train"]["model_options"]["code_layer"] == "flatten"
    filters = representations.scale(representations.SIMCLR_WIDTHS, maps["width"])["filters"][-1]
    with np.load(out / "embeddings.npz") as e:  # 16 x 16 images: 4 x 4 maps of the last conv block's filters.
        assert e["z"].shape == (len(good), 4 * 4 * filters)
    assert len(read_query(out)) == 10


def test_a_killed_run_resumes_its_training(tmp_path, monkeypatch):
    root = tmp_path / "images"
    root.mkdir()
    for i, digit in enumerate(data.load("mnist_sample").pool[0][:40, :, :, 0]):
        Image.fromarray(digit).save(root / f"{i:02d}.png")
    config = folder.ChoiceConfig(n=5, **{**TINY, "epochs": 2})
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
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(["cache", outdir.MARKER])
    kill = False
    folder.choose(root, tmp_path / "out", config, progress=False)
    assert epochs == [0, 1]
    assert (tmp_path / "out" / "query.csv").exists()


# -- bad input ----------------------------------------------------------------


@pytest.mark.parametrize("options, message", [
    ({"n": -1}, "n must be at least 0, got -1"),
    ({"image_size": 30}, "image_size must be a positive multiple of 4, got 30"),
    ({"channels": 2}, "channels must be 1 .grey. or 3 .colour., got 2"),
    ({"strategy": "best"}, "strategy must be one of random, "),
    ({"fit": "squash"}, "fit must be one of stretch, crop, pad"),
    ({"kernel_initializer": "zeros"}, "kernel_initializer must be one of glorot_uniform, "),
    ({"ae": "tsne", "batch_size": 16}, r"^ae=tsne needs batch_size above 31 .*, got 16"),
    ({"code_layer": "head"}, "unknown code_layer .head.; code_layer must be one of embedding, pre_activation, flatten"),
    ({"ae": "cae", "code_layer": "flatten"}, "^code_layer=flatten names a layer of simclr's network; ae=cae has no "
                                             "choice of layer"),
])
def test_bad_options_are_refused(options, message):
    with pytest.raises(folder.InputError, match=message):
        folder.ChoiceConfig(**options)


def make_folder(tmp_path, kind):
    root = tmp_path / "images"
    if kind != "missing":
        root.mkdir()
    if kind == "no images":
        (root / "notes.txt").write_text("text")
    if kind == "only bad images":
        (root / "a.png").write_bytes(b"")
        (root / "b.jpg").write_bytes(b"not a jpeg")
    if kind in ("too few images", "too few for t-SNE"):
        for i in range(5 if kind == "too few images" else 20):
            Image.new("L", (8, 8), i).save(root / f"{i}.png")
    if kind == "a link loop":
        root.rmdir()
        root.symlink_to(root)
    return root


@pytest.mark.parametrize("kind, message", [
    ("missing", "images folder .* does not exist"),
    ("empty", "no image files under"),
    ("no images", r"no image files under .* \(looked for .bmp, .gif"),
    ("only bad images", "none of the 2 image files under .* could be read"),
    ("too few images", "only 5 readable images under .*, fewer than n = 6"),
    ("too few for t-SNE", r"^ae=tsne .* needs batches of more than 31 images; there are 20 image files under "),
    ("a link loop", "images or out is a link that cannot be followed"),
])
def test_bad_folders_are_refused_and_leave_nothing(tmp_path, kind, message):
    root = make_folder(tmp_path, kind)
    options = {**TINY, "ae": "tsne", "batch_size": 64} if kind == "too few for t-SNE" else TINY
    with pytest.raises(folder.InputError, match=message):
        folder.choose(root, tmp_path / "out", folder.ChoiceConfig(n=6, **options), progress=False)
    assert not (tmp_path / "out").exists()


def test_a_model_too_big_for_memory_is_refused_before_anything_is_written(tmp_path):
    root = make_folder(tmp_path, "too few images")
    with pytest.raises(folder.InputError, match=r"image_size 4096 .* needs about [\d.]+ GiB .* more than the"):
        folder.choose(root, tmp_path / "out", folder.ChoiceConfig(n=2, **{**TINY, "image_size": 4096, "width": 0.5}),
                      progress=False)
    assert not (tmp_path / "out").exists()


def test_odd_file_names_are_listed_as_skipped_in_quoted_csv(tmp_path):
    root = make_folder(tmp_path, "too few images")
    (root / 'notes\nwith "newline", comma.txt').write_text("x")
    folder.choose(root, tmp_path / "out", folder.ChoiceConfig(n=2, **TINY), progress=False)
    with open(tmp_path / "out" / "skipped.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows == [{"path": 'notes\nwith "newline", comma.txt', "reason": "not an image file extension"}]


def test_a_second_run_inside_the_images_never_reads_the_first_runs_outputs(tmp_path):
    root = make_folder(tmp_path, "too few images")
    for name in ("first", "second"):
        folder.choose(root, root / name, folder.ChoiceConfig(n=2, **TINY), progress=False)
        with open(root / name / "query.csv", newline="") as f:
            assert all("/" not in row["path"] for row in csv.DictReader(f))
        assert json.loads((root / name / "config.json").read_text())["images_read"] == 5


def test_a_failed_run_keeps_the_previous_outputs(digit_folder, first_run):
    root, good = digit_folder
    out, _ = first_run
    before = {name: (out / name).read_bytes() for name in folder.OUTPUTS}
    with pytest.raises(folder.InputError, match=f"only {len(good)} readable images .*, fewer than n = 1000"):
        folder.choose(root, out, folder.ChoiceConfig(n=1000, **TINY), progress=False)
    assert {name: (out / name).read_bytes() for name in folder.OUTPUTS} == before
    assert sorted(p.name for p in out.iterdir()) == sorted([*folder.OUTPUTS, "cache", outdir.MARKER])


def test_out_must_differ_from_images(tmp_path):
    root = make_folder(tmp_path, "too few images")
    with pytest.raises(folder.InputError, match="out must be another folder than images"):
        folder.choose(root, root, folder.ChoiceConfig(n=2, **TINY), progress=False)


