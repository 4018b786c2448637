"""Fault injection for `latens-select`'s promise that nothing a person owns is lost.

Every write fails in turn (no space, no permission), real full disks and
read-only mounts (where this machine lets the tests mount a tmpfs: as root,
with the capability to mount), links planted in the cache, and images kept
inside the output folder. After each fault: one clear error, no temporary
file left behind, the person's files intact, and a rerun that completes to
the same query as a run that never failed. Kills at each step and racing
runs are in tests/test_cli.py and tests/test_outdir.py.
"""

import contextlib
import csv
import dataclasses
import errno
import os
import pathlib
import re
import shutil
import subprocess

import keras
import pytest
from PIL import Image

from latens import data, fileio, train
from latens.checks import InputError
from latens.select import folder

TINY = {"image_size": 16, "channels": 3, "width": 1 / 16, "epochs": 1, "ae": "cae", "batch_size": 16}
CONFIG = folder.ChoiceConfig(n=5, **TINY)
# Pixel PCA has no epochs, so no backups, and runs in a fraction of the time: for every other write.
FAST = folder.ChoiceConfig(n=5, **{**TINY, "ae": "pca", "latent_dim": 8})
BACKUP_SITES = ("state.weights.h5", "meta.json")
# The files a run writes, in order, each named by a part of its path (the backup's weights go through Keras).
SITES = (".latens.lock", ".latens-output", "cache/images.npy", "cache/images.json", "model/config.json",
         "model/history.csv", "state.weights.h5", "meta.json", "model/model.keras", "model/embeddings.npz",
         "model/DONE", "new-/query.csv", "new-/embeddings.npz", "new-/contact_sheet.png", "new-/latent.png",
         "new-/skipped.csv", "new-/config.json")
LEFTOVER = re.compile(r"\.tmp|^\.latens-new-|^\.epoch-|^\.images\.")


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    root = tmp_path_factory.mktemp("faults") / "images"
    root.mkdir()
    for i, digit in enumerate(data.load("mnist_sample").pool[0][:40, :, :, 0]):
        Image.fromarray(digit).save(root / f"{i:02d}.png")
    return root


@pytest.fixture(scope="module")
def reference(images, tmp_path_factory):
    """`reference(config)` -> the output folder of a run that never failed (kept: copy it to change it)."""
    outs = {}

    def run(config):
        if config not in outs:
            outs[config] = tmp_path_factory.mktemp("reference") / "out"
            folder.choose(images, outs[config], config, progress=False)
        return outs[config]

    return run


@pytest.fixture(scope="module")
def expected(reference):
    return read_query(reference(CONFIG))


def config_for(site):
    return CONFIG if site in BACKUP_SITES else FAST


def read_query(out):
    with open(out / "query.csv", newline="") as f:
        return [row["path"] for row in csv.DictReader(f)]


def leftovers(out):
    """Temporary files and working folders under `out` (none may outlive a run)."""
    return sorted(str(pathlib.Path(root, name).relative_to(out)) for root, folders, files in os.walk(out)
                  for name in [*folders, *files] if LEFTOVER.search(name))


@contextlib.contextmanager
def failing(site, error_number, monkeypatch):
    """Makes the first write whose path contains `site` fail with `error_number`, half written."""
    hits = []

    def fail(path):
        hits.append(path)
        raise OSError(error_number, os.strerror(error_number), str(path))

    real_write, real_weights = fileio.write_atomically, keras.Model.save_weights

    def write_atomically(path, write):
        if site in re.sub(r"\.latens-new-[0-9a-f]+", "new-", str(path)) and not hits:
            def half(tmp):
                pathlib.Path(tmp).write_bytes(b"half")
                fail(path)
            return real_write(path, half)
        return real_write(path, write)

    def save_weights(self, path, *args, **kwargs):
        if site in str(path) and not hits:
            pathlib.Path(path).write_bytes(b"half")
            fail(path)
        return real_weights(self, path, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(fileio, "write_atomically", write_atomically)
        patch.setattr(keras.Model, "save_weights", save_weights)
        yield hits


@pytest.mark.parametrize("site", SITES)
def test_no_space_at_any_write_is_one_line_leaves_nothing_and_a_rerun_completes(
        images, reference, tmp_path, monkeypatch, site):
    out, config = tmp_path / "out", config_for(site)
    with failing(site, errno.ENOSPC, monkeypatch) as hits, pytest.raises(InputError) as raised:
        folder.choose(images, out, config, progress=False)
    assert hits, f"no write to {site}"
    message = str(raised.value)
    assert "\n" not in message and message.startswith("no space left on the device writing "), message
    assert "free some space, then run the same command again" in message
    assert ".tmp" not in message  # The file being written, not its temporary name.
    assert leftovers(out) == [] if out.exists() else True
    folder.choose(images, out, config, progress=False)
    assert read_query(out) == read_query(reference(config)) and leftovers(out) == []


@pytest.mark.parametrize("site", SITES)
def test_a_refused_write_is_one_line_and_keeps_the_persons_files(images, reference, tmp_path, monkeypatch, site):
    out, config = tmp_path / "out", config_for(site)
    shutil.copytree(reference(config), out, symlinks=True)
    (out / "labels.csv").write_text("file,label\n00.png,7\n")
    before = {name: (out / name).read_bytes() for name in folder.OUTPUTS}
    changed = dataclasses.replace(config, n=6, image_size=20)  # New images and a new model: every write again.
    with failing(site, errno.EACCES, monkeypatch) as hits, pytest.raises(InputError, match=r"^permission denied"):
        folder.choose(images, out, changed, progress=False)
    assert hits and leftovers(out) == []
    assert (out / "labels.csv").read_text() == "file,label\n00.png,7\n"
    if site.startswith("new-") or site in ("cache/images.npy", "cache/images.json"):
        assert {name: (out / name).read_bytes() for name in folder.OUTPUTS} == before


def test_a_rerun_keeps_the_persons_files_and_images_kept_inside_out(images, tmp_path):
    out = tmp_path / "out"
    folder.choose(images, out, FAST, progress=False)
    (out / "labels.csv").write_text("mine\n")
    shutil.copytree(images, out / "photos")
    folder.choose(out / "photos", out, dataclasses.replace(FAST, n=6), progress=False)
    assert (out / "labels.csv").read_text() == "mine\n"
    assert sorted(p.name for p in (out / "photos").iterdir()) == sorted(p.name for p in images.iterdir())
    assert len(read_query(out)) == 6 and all((out / "photos" / path).is_file() for path in read_query(out))
    with pytest.raises(InputError, match="is part of latens' output"):
        folder.choose(out / "cache", out, FAST, progress=False)


def test_a_link_planted_under_the_cache_is_refused_before_training(images, reference, tmp_path):
    victim = tmp_path / "victim"
    (victim / ".git").mkdir(parents=True)
    (victim / ".env").write_text("secret")
    out = tmp_path / "out"
    shutil.copytree(reference(CONFIG), out, symlinks=True)
    (out / "cache" / "model" / "backup").symlink_to(victim)
    with pytest.raises(InputError, match=r"cache/model/backup is a symbolic link inside latens' cache"):
        folder.choose(images, out, folder.ChoiceConfig(n=5, **{**TINY, "epochs": 3}), retrain=True, progress=False)
    assert sorted(p.name for p in victim.iterdir()) == [".env", ".git"]


# -- real disks: a tmpfs, full or read-only --------------------------------------


def _mount(*arguments):
    return subprocess.run(["mount", *arguments], capture_output=True, text=True)


@pytest.fixture
def tmpfs(tmp_path):
    """A function `(size) -> folder` mounting a tmpfs of `size` (remounting it at a new size); skips without mounts."""
    point = tmp_path / "disk"
    point.mkdir()
    mounted = []

    def mount(size):
        arguments = ["-o", f"remount,size={size}", str(point)] if mounted else \
            ["-t", "tmpfs", "-o", f"size={size}", "latens-test", str(point)]
        result = _mount(*arguments)
        if result.returncode:
            pytest.skip(f"cannot mount a tmpfs here (needs root and the mount capability): {result.stderr.strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in reversed(mounted[:1]):
        subprocess.run(["umount", "-l", str(point)], capture_output=True)


def test_too_little_room_for_the_images_is_one_line_before_anything(images, tmpfs):
    disk = tmpfs("16k")
    with pytest.raises(InputError, match=r"has \d+ KiB free, and the resized images need about 30 KiB"):
        folder.choose(images, disk / "out", FAST, progress=False)
    assert list(disk.iterdir()) == []


# Full at the image cache, at the first backup, at the saved model, or not at all.
@pytest.mark.parametrize("size", ["20k", "48k", "600k", "1200k"])
def test_a_disk_that_fills_during_the_run_is_one_line_and_a_rerun_completes(images, expected, tmpfs, size,
                                                                              monkeypatch):
    disk = tmpfs(size)
    (disk / "mine.txt").write_text("a person's file on the same disk")
    monkeypatch.setattr(folder, "_check_space", lambda *args: None)  # Let the run reach each write.
    monkeypatch.setattr(train, "_check_room", lambda *args: None)
    out = disk / "out"
    try:
        folder.choose(images, out, CONFIG, progress=False)
    except InputError as error:
        assert str(error).startswith("no space left on the device"), error
        assert leftovers(out) == [] if out.exists() else True
    assert (disk / "mine.txt").read_text() == "a person's file on the same disk"
    tmpfs("64m")
    folder.choose(images, out, CONFIG, progress=False)
    assert read_query(out) == expected and leftovers(out) == []


def test_out_may_be_a_mount_point_under_a_read_only_parent(images, tmp_path, tmpfs):
    parent = tmpfs("1m")
    (parent / "out").mkdir()
    if _mount("-o", "remount,ro", str(parent)).returncode:
        pytest.skip("cannot remount the tmpfs read-only here")
    out = parent / "out"
    if _mount("-t", "tmpfs", "-o", "size=64m", "latens-test-out", str(out)).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        folder.choose(images, out, FAST, progress=False)
        folder.choose(images, out, dataclasses.replace(FAST, n=7), progress=False)
        assert len(read_query(out)) == 7 and leftovers(out) == []
        with pytest.raises(InputError, match=r"^cannot create out \S+/new: Read-only file system$"):
            folder.choose(images, parent / "new", FAST, progress=False)
    finally:
        subprocess.run(["umount", "-l", str(out)], capture_output=True)


@pytest.mark.parametrize("where", ["cache/images.npy", "cache/images.json"])
def test_a_folder_where_the_cache_keeps_a_file_is_one_line(images, reference, tmp_path, where):
    out = tmp_path / "out"
    shutil.copytree(reference(FAST), out, symlinks=True)
    (out / where).unlink()
    (out / where / "mine").mkdir(parents=True)
    with pytest.raises(InputError, match=rf"{where} is a folder where latens writes a file"):
        folder.choose(images, out, dataclasses.replace(FAST, image_size=20), progress=False)
    assert (out / where / "mine").is_dir() and read_query(out) == read_query(reference(FAST))
