"""Tests of the `latens-select` console command, run as a user runs it: in a subprocess."""

import csv
import pathlib
import re
import subprocess
import sys

import pytest

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
    for name in bad_files:
        if name != "notes.txt":
            assert name in result.stderr
    with open(tmp_path / "out" / "query.csv", newline="") as f:
        chosen = [row["path"] for row in csv.DictReader(f)]
    assert len(set(chosen)) == 30 and set(chosen) <= set(good)
    for name in ("embeddings.npz", "contact_sheet.png", "latent.png", "skipped.txt", "config.json"):
        assert (tmp_path / "out" / name).stat().st_size > 0


@pytest.mark.parametrize("flags, message", [
    (["--images={tmp}/nowhere"], r"images folder \S+/nowhere does not exist or is not a folder"),
    (["--images={tmp}", "--image_size=30"], "image_size must be a positive multiple of 4, got 30"),
])
def test_bad_input_ends_with_one_clear_line_and_status_1(tmp_path, flags, message):
    result = latens_select(*(f.format(tmp=tmp_path) for f in flags), f"--out={tmp_path / 'out'}")
    assert result.returncode == 1
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("latens-select: error: ")
    assert re.search(message, last_line), last_line
    assert not (tmp_path / "out").exists()
