"""Tests of the `latens-select` console command, run as a user runs it: in a subprocess."""

import contextlib
import csv
import pathlib
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

# The console script pip installs beside the interpreter.
COMMAND = pathlib.Path(sys.executable).with_name("latens-select")
TINY = ["--image_size=16", "--width=0.0625", "--epochs=1", "--ae=cae", "--batch_size=32"]


def latens_select(*flags, timeout=240):
    assert COMMAND.exists(), f"{COMMAND} is missing: run `pip install -e .` to install the console script"
    return subprocess.run([str(COMMAND), *flags], capture_output=True, text=True, timeout=timeout)


def test_the_command_chooses_n_images_and_reports_the_bad_files(tmp_path, write_digit_folder, bad_files):
    good = write_digit_folder(tmp_path / "images")
    result = latens_select(f"--images={tmp_path / 'images'}", f"--out={tmp_path / 'out'}", "--n=30",
                           "--progress=false", *TINY)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Skipped 3 unreadable image files" in result.stderr
    for noise in ("I0000", "E0000", "cuInit", "oneDNN", "absl::InitializeLog"):  # TensorFlow's start-up lines.
        assert noise not in result.stderr
    for name in bad_files:
        if name != "notes.txt":
            assert name in result.stderr
    with open(tmp_path / "out" / "query.csv", newline="") as f:
        chosen = [row["path"] for row in csv.DictReader(f)]
    assert len(set(chosen)) == 30 and set(chosen) <= set(good)
    for name in ("embeddings.npz", "contact_sheet.png", "latent.png", "skipped.csv", "config.json"):
        assert (tmp_path / "out" / name).stat().st_size > 0


@pytest.mark.parametrize("flags, message", [
    (["--images={tmp}/nowhere"], r"images folder \S+/nowhere does not exist or is not a folder"),
    (["--images={tmp}", "--image_size=30"], "--image_size must be a positive multiple of 4, got 30"),
    # The config says `ae=tsne ... batch_size`; the command line names its flags.
    (["--images={tmp}", "--ae=tsne", "--batch_size=16"], r"--ae=tsne needs --batch_size above 31 .*, got 16$"),
    (["--images={tmp}", "--n=0"], r"n must be at least 1 \(--n=0 only pre-labels, which needs labels\)$"),
])
def test_bad_input_ends_with_one_clear_line_and_status_1(tmp_path, flags, message):
    result = latens_select(*(f.format(tmp=tmp_path) for f in flags), f"--out={tmp_path / 'out'}")
    assert result.returncode == 1
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("latens-select: error: ")
    assert re.search(message, last_line), last_line
    assert not (tmp_path / "out").exists()


# -- kills, reruns and a busy output folder ----------------------------------------

# Runs latens-select in a process that kills itself with SIGKILL at a chosen
# moment: "after" an epoch's backup is on disk, or "inside" the writing of its
# weights file (half written). A real kill lands at such moments too rarely
# to test by timing.
KILLER = """
import os, signal, sys
import keras
from latens.select import cli

moment, epoch = sys.argv[1], int(sys.argv[2])
sys.argv = ["latens-select", *sys.argv[3:]]
save_weights, saved = keras.Model.save_weights, []

def dying_save(self, path, *args, **kwargs):
    save_weights(self, path, *args, **kwargs)
    saved.append(path)
    if len(saved) == epoch:
        if moment == "inside":
            with open(path, "r+b") as f:
                f.truncate(os.path.getsize(path) // 2)
        os.kill(os.getpid(), signal.SIGKILL)

if moment == "inside":
    keras.Model.save_weights = dying_save
elif moment == "reading":  # After `epoch` images are decoded, with the cache half written.
    from latens.select import images
    decode, decoded = images._try_decode, []

    def dying_decode(*args):
        decoded.append(1)
        if len(decoded) > epoch:
            os.kill(os.getpid(), signal.SIGKILL)
        return decode(*args)

    images._try_decode = dying_decode
elif moment == "publishing":  # After `epoch` of the new set's files are moved into --out.
    from latens.select import outdir
    replace, moved = os.replace, []

    def dying_replace(source, destination):
        if ".latens-new-" in str(source) and ".latens-new-" not in str(destination):
            if len(moved) == epoch:
                os.kill(os.getpid(), signal.SIGKILL)
            moved.append(destination)
        replace(source, destination)

    outdir.os.replace = dying_replace
else:
    from latens import backup
    write = backup.EpochBackups.write

    def dying_write(self, done):
        path = write(self, done)
        if done == epoch:
            os.kill(os.getpid(), signal.SIGKILL)
        return path

    backup.EpochBackups.write = dying_write
cli.run()
"""
KILL_FLAGS = [*TINY, "--n=8", "--epochs=3", "--progress=false"]


def read_query(out):
    with open(out / "query.csv", newline="") as f:
        return [(row["rank"], row["path"]) for row in csv.DictReader(f)]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    root = tmp_path_factory.mktemp("kills")
    (root / "images").mkdir()
    for i, digit in enumerate(np.random.default_rng(0).integers(0, 256, (64, 16, 16), dtype=np.uint8)):
        Image.fromarray(digit).save(root / "images" / f"{i:02d}.png")
    result = latens_select(f"--images={root / 'images'}", f"--out={root / 'whole'}", *KILL_FLAGS)
    assert result.returncode == 0, result.stderr[-2000:]
    return root, read_query(root / "whole")


@pytest.mark.parametrize("moment, count", [("after", 2), ("inside", 2), ("reading", 10), ("publishing", 2)])
def test_a_run_killed_at_any_step_resumes_to_the_same_query_and_leaves_nothing(uninterrupted, tmp_path, moment,
                                                                               count):
    root, expected = uninterrupted
    flags = [f"--images={root / 'images'}", f"--out={tmp_path / 'out'}", *KILL_FLAGS]
    killed = subprocess.run([sys.executable, "-c", KILLER, moment, str(count), *flags], capture_output=True,
                            text=True, timeout=240)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    (tmp_path / "out" / "labels.csv").write_text("mine")  # A person's file beside latens': kept.
    assert (tmp_path / "out" / "query.csv").exists() == (moment == "publishing")
    resumed = latens_select(*flags)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    if moment == "inside":
        assert "damaged" in resumed.stderr or "Resuming from the backup of epoch 1" in resumed.stderr
    assert read_query(tmp_path / "out") == expected
    assert (tmp_path / "out" / "labels.csv").read_text() == "mine"
    left = [p.name for p in (tmp_path / "out").rglob("*") if re.search(r"\.tmp|latens-new|^\.epoch-|^\.images", p.name)]
    assert left == []


# A latens-select whose training sleeps: a run that holds its output folder for as long as a test needs.
SLEEPER = "import sys, time\nfrom latens.select import choice, cli\nchoice._train = lambda *a, **k: time.sleep(120)\n" \
          "sys.argv = ['latens-select', *sys.argv[1:]]\ncli.run()\n"


@contextlib.contextmanager
def holding(flags, out):
    """A sleeping run (`subprocess.Popen`) once it has taken `out`; killed on the way out."""
    run = subprocess.Popen([sys.executable, "-c", SLEEPER, *flags], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while not (out / ".latens.lock").exists():
            assert time.time() < deadline and run.poll() is None, "the run never took the folder"
            time.sleep(0.2)
        yield run
    finally:
        run.kill()
        run.wait()


def test_a_second_run_on_a_busy_folder_stops_at_once_naming_the_first(uninterrupted, tmp_path):
    root, _ = uninterrupted
    flags = [f"--images={root / 'images'}", f"--out={tmp_path / 'out'}", *KILL_FLAGS]
    with holding(flags, tmp_path / "out") as first:
        second = latens_select(*flags)
        assert second.returncode == 1
        last = second.stderr.strip().splitlines()[-1]
        assert re.search(rf"is in use by another latens-select run \(pid {first.pid} on .*\)", last), last
    # Its process gone, the first run's lock is stale: the next run takes the folder over.
    third = latens_select(*flags)
    assert third.returncode == 0, third.stderr[-2000:]
    assert "stale lock" in third.stderr


def test_ctrl_c_ends_with_one_line_saying_a_rerun_resumes(uninterrupted, tmp_path):
    root, _ = uninterrupted
    flags = [f"--images={root / 'images'}", f"--out={tmp_path / 'out'}", *KILL_FLAGS]
    with holding(flags, tmp_path / "out") as run:
        run.send_signal(signal.SIGINT)
        _, stderr = run.communicate(timeout=60)
    assert run.returncode == 130
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1] == ("latens-select: interrupted; run the same command again to resume "
                                               "(finished epochs are kept)")
    assert not (tmp_path / "out" / ".latens.lock").exists()


def test_ctrl_c_while_the_libraries_load_is_one_line_too(tmp_path):
    run = subprocess.Popen([str(COMMAND), f"--images={tmp_path}", f"--out={tmp_path / 'out'}"],
                           stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)  # TensorFlow takes seconds to load.
    run.send_signal(signal.SIGINT)
    _, stderr = run.communicate(timeout=60)
    assert run.returncode == 130, stderr[-2000:]
    assert "Traceback" not in stderr and stderr.strip().splitlines()[-1].startswith("latens-select: interrupted")
