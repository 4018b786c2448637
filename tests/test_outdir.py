"""The output folder: one run at a time, marked, replaced as a whole set, never written through a link."""

import json
import os
import subprocess
import sys

import pytest

from latens import outdir
from latens.checks import InputError

OUTPUTS = ("a.csv", "b.json")


def write_set(tag):
    def write(folder):
        for name in OUTPUTS:
            (folder / name).write_text(tag)
    return write


def contents(path):
    return {name: (path / name).read_text() for name in OUTPUTS}


def test_a_run_marks_locks_and_publishes_its_set_whole(tmp_path):
    out = tmp_path / "out"
    with outdir.OutputFolder(out, OUTPUTS) as folder:
        assert (out / outdir.LOCK).exists() and outdir.is_output_folder(out)
        (out / "cache").mkdir()
        (out / "cache" / "model").write_text("trained")
        folder.publish(write_set("first"))
        assert contents(out) == {"a.csv": "first", "b.json": "first"}
        assert (out / outdir.LOCK).exists()  # Still held after the swap.
    assert not (out / outdir.LOCK).exists()
    assert (out / "cache" / "model").read_text() == "trained"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # No staging left beside it.


def test_a_failure_while_writing_keeps_the_previous_set_and_the_cache(tmp_path):
    out = tmp_path / "out"
    with outdir.OutputFolder(out, OUTPUTS) as folder:
        (out / "cache").mkdir()
        folder.publish(write_set("first"))

    def half(staging):
        (staging / "a.csv").write_text("second")
        raise RuntimeError("killed while writing")

    with outdir.OutputFolder(out, OUTPUTS) as folder, pytest.raises(RuntimeError, match="killed"):
        folder.publish(half)
    assert contents(out) == {"a.csv": "first", "b.json": "first"}
    assert (out / "cache").is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_second_run_stops_at_once_naming_the_first(tmp_path):
    out = tmp_path / "out"
    with outdir.OutputFolder(out, OUTPUTS):
        with pytest.raises(InputError, match=rf"in use by another latens-select run \(pid {os.getpid()} on"):
            with outdir.OutputFolder(out, OUTPUTS):
                pass


def test_a_stale_lock_is_taken_over(tmp_path, caplog):
    out = tmp_path / "out"
    out.mkdir()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (out / outdir.LOCK).write_text(json.dumps({"pid": int(gone.stdout), "host": os.uname().nodename}))
    with outdir.OutputFolder(out, OUTPUTS):
        assert json.loads((out / outdir.LOCK).read_text())["pid"] == os.getpid()
    assert any("stale lock" in r.getMessage() for r in caplog.records)
    (out / outdir.LOCK).write_text("not json")  # A lock torn by a crash is stale too.
    with outdir.OutputFolder(out, OUTPUTS):
        pass


def test_the_cache_left_by_a_run_killed_while_publishing_is_recovered(tmp_path):
    out = tmp_path / "out"
    with outdir.OutputFolder(out, OUTPUTS) as folder:
        folder.publish(write_set("first"))
    # Killed after moving the cache into its staging folder, before the swap.
    staging = tmp_path / ".out.latens-0123456789ab"
    (staging / "cache").mkdir(parents=True)
    (staging / "cache" / "model").write_text("trained")
    with outdir.OutputFolder(out, OUTPUTS):
        assert (out / "cache" / "model").read_text() == "trained"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_folder_of_other_files_is_refused(tmp_path):
    (tmp_path / "mine.txt").write_text("not latens'")
    with pytest.raises(InputError, match=r"holds other files \(mine.txt\) and is not a latens output folder"):
        with outdir.OutputFolder(tmp_path, OUTPUTS):
            pass


def test_a_cache_that_is_a_link_is_refused_and_planted_links_are_replaced_not_followed(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious").write_text("keep")
    out = tmp_path / "out"
    with outdir.OutputFolder(out, OUTPUTS) as folder:
        folder.publish(write_set("first"))
    (out / "a.csv").unlink()
    (out / "a.csv").symlink_to(outside / "precious")
    with outdir.OutputFolder(out, OUTPUTS) as folder:
        folder.publish(write_set("second"))
    assert (outside / "precious").read_text() == "keep"
    assert contents(out) == {"a.csv": "second", "b.json": "second"}

    (out / "cache").symlink_to(outside)
    with pytest.raises(InputError, match="is a link or leads outside"):
        with outdir.OutputFolder(out, OUTPUTS):
            pass


def test_without_an_atomic_exchange_the_swap_falls_back_and_a_kill_inside_it_is_repaired(tmp_path, monkeypatch):
    out = tmp_path / "out"
    with outdir.OutputFolder(out, OUTPUTS) as folder:
        folder.publish(write_set("first"))
    with monkeypatch.context() as patch:  # No renameat2: two renames.
        patch.setattr(outdir.ctypes, "CDLL", lambda *a, **k: (_ for _ in ()).throw(OSError("no libc")))
        with outdir.OutputFolder(out, OUTPUTS) as folder:
            folder.publish(write_set("second"))
    assert contents(out) == {"a.csv": "second", "b.json": "second"}
    # Killed between the two renames: `out` moved aside, the new set not yet in place.
    staging = tmp_path / ".out.latens-0123456789ab"
    staging.mkdir()
    write_set("third")(staging)
    out.rename(tmp_path / ".out.latens-old-0123456789ab")
    with outdir.OutputFolder(out, OUTPUTS):
        assert contents(out) == {"a.csv": "second", "b.json": "second"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
