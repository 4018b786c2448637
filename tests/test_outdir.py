"""The output folder: one run at a time, only latens' own files replaced, a set moved in whole, no links followed."""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import textwrap

import pytest

from latens.checks import InputError
from latens.select import outdir

OUTPUTS = ("a.csv", "b.json", "done.json")  # The last one marks a complete set.


def write_set(tag, outputs=OUTPUTS):
    def write(folder):
        for name in outputs:
            (folder / name).write_text(tag)
    return write


def contents(path, outputs=OUTPUTS):
    return {name: (path / name).read_text() if (path / name).exists() else None for name in outputs}


def hidden_leftovers(path):
    return sorted(p.name for p in path.iterdir() if p.name.startswith(".") and p.name not in (outdir.MARKER,))


def test_a_run_marks_locks_and_publishes_its_set(tmp_path):
    out = tmp_path / "out"
    with outdir.OutputFolder(out, OUTPUTS) as folder:
        assert (out / outdir.LOCK).exists() and outdir.is_output_folder(out)
        (out / "cache").mkdir()
        (out / "cache" / "model").write_text("trained")
        folder.publish(write_set("first"))
        assert contents(out) == dict.fromkeys(OUTPUTS, "first")
        assert (out / outdir.LOCK).exists()
    assert not (out / outdir.LOCK).exists()
    assert (out / "cache" / "model").read_text() == "trained"
    assert json.loads((out / outdir.MARKER).read_text())["outputs"] == list(OUTPUTS)
    assert hidden_leftovers(out) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_rerun_keeps_every_file_it_did_not_write_and_drops_its_own_stale_outputs(tmp_path):
    out = tmp_path / "out"
    with outdir.OutputFolder(out, OUTPUTS) as folder:
        folder.publish(write_set("first"))
    (out / "labels.csv").write_text("file,label\n")
    (out / "photos").mkdir()
    (out / "photos" / "0.png").write_bytes(b"png")
    (out / ".notes").write_text("mine")
    fewer = ("a.csv", "done.json")
    with outdir.OutputFolder(out, fewer, known=OUTPUTS) as folder:
        folder.publish(write_set("second", fewer))
    assert (out / "labels.csv").read_text() == "file,label\n"
    assert (out / "photos" / "0.png").read_bytes() == b"png" and (out / ".notes").read_text() == "mine"
    assert contents(out) == {"a.csv": "second", "b.json": None, "done.json": "second"}
    assert json.loads((out / outdir.MARKER).read_text())["outputs"] == list(fewer)


def test_a_failure_while_writing_keeps_the_previous_set_and_the_cache(tmp_path):
    out = tmp_path / "out"
    with outdir.OutputFolder(out, OUTPUTS) as folder:
        (out / "cache").mkdir()
        folder.publish(write_set("first"))

    def half(staging):
        (staging / "a.csv").write_text("second")
        raise RuntimeError("failed while writing")

    with outdir.OutputFolder(out, OUTPUTS) as folder, pytest.raises(RuntimeError, match="failed while writing"):
        folder.publish(half)
    assert contents(out) == dict.fromkeys(OUTPUTS, "first")
    assert (out / "cache").is_dir() and hidden_leftovers(out) == []


@pytest.mark.parametrize("moves", range(len(OUTPUTS) + 2))
def test_a_run_killed_while_moving_its_set_in_is_completed_by_the_next(tmp_path, monkeypatch, moves):
    out = tmp_path / "out"
    with outdir.OutputFolder(out, OUTPUTS) as folder:
        folder.publish(write_set("first"))
    replace, done = os.replace, []

    def dying_replace(source, destination):
        if pathlib.Path(source).parent.name.startswith(".latens-new-"):
            if len(done) == moves:
                raise KeyboardInterrupt  # Stands for a kill: nothing after it runs.
            done.append(destination)
        replace(source, destination)

    monkeypatch.setattr(outdir.os, "replace", dying_replace)
    with pytest.raises(KeyboardInterrupt) if moves < len(OUTPUTS) else _nothing():
        with outdir.OutputFolder(out, OUTPUTS) as folder:
            folder.publish(write_set("second"))
    # At the kill: while the completion file is there, the set beside it is its own.
    seen = contents(out)
    if seen["done.json"] is not None:
        assert set(seen.values()) == {seen["done.json"]}
    monkeypatch.setattr(outdir.os, "replace", replace)
    with outdir.OutputFolder(out, OUTPUTS):
        assert contents(out) == dict.fromkeys(OUTPUTS, "second")
    assert hidden_leftovers(out) == []


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *error):
        return False


def test_leftovers_of_killed_runs_are_removed_but_no_other_file(tmp_path):
    out = tmp_path / "out"
    with outdir.OutputFolder(out, OUTPUTS) as folder:
        (out / "cache" / "model").mkdir(parents=True)
        folder.publish(write_set("first"))
    (out / ".latens-new-0123456789ab").mkdir()  # A run killed while writing its set.
    (out / ".a.0123456789ab.tmp.csv").write_text("half")  # A write killed before its rename.
    (out / "cache" / "model" / ".model.0123456789ab.tmp.keras").write_text("half")
    (out / ".mine.0123456789ab.tmp.csv").write_text("a person's file of the same shape")
    with outdir.OutputFolder(out, OUTPUTS):
        pass
    assert hidden_leftovers(out) == [".mine.0123456789ab.tmp.csv"]
    assert list((out / "cache" / "model").iterdir()) == []


def test_a_second_run_stops_at_once_naming_the_first(tmp_path):
    out = tmp_path / "out"
    with outdir.OutputFolder(out, OUTPUTS):
        with pytest.raises(InputError, match=rf"in use by another latens-select run \(pid {os.getpid()} on"):
            with outdir.OutputFolder(out, OUTPUTS):
                pass


RACE = textwrap.dedent("""
    import multiprocessing, pathlib, sys, time
    from latens.select import outdir
    from latens.checks import InputError

    def hold(path, start, results):
        start.wait()
        try:
            with outdir.OutputFolder(path, ("a.csv",)):
                results.put("held")
                time.sleep(0.2)  # Every other racer tries while this one holds.
        except InputError as error:
            results.put(str(error))

    if __name__ == "__main__":
        context = multiprocessing.get_context("fork")
        root, trials, racers = pathlib.Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
        for trial in range(trials):
            start, results = context.Event(), context.Queue()
            processes = [context.Process(target=hold, args=(root / str(trial), start, results))
                         for _ in range(racers)]
            for process in processes:
                process.start()
            start.set()
            for process in processes:
                process.join()
            said = [results.get() for _ in processes]
            print(said.count("held"), *sorted(set(said) - {"held"}), sep=" | ")
""")


def test_racing_runs_on_a_new_folder_never_both_hold_it(tmp_path):
    script = tmp_path / "race.py"
    script.write_text(RACE)
    result = subprocess.run([sys.executable, str(script), str(tmp_path / "races"), "30", "4"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    holders = [int(line.split(" | ")[0]) for line in lines]
    assert len(holders) == 30 and set(holders) == {1}, lines
    losers = {message for line in lines for message in line.split(" | ")[1:]}
    assert losers and all("is in use by another latens-select run" in m for m in losers), losers


def test_the_loser_of_a_race_is_told_the_folder_is_in_use(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    holder = os.open(out, os.O_RDONLY)  # Locked, before the winner has written who it is.
    try:
        outdir.fcntl.flock(holder, outdir.fcntl.LOCK_EX)
        with pytest.raises(InputError, match=r"is in use by another latens-select run \(just starting\)"):
            with outdir.OutputFolder(out, OUTPUTS):
                pass
    finally:
        os.close(holder)


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


def test_a_folder_of_other_files_is_refused(tmp_path):
    (tmp_path / "mine.txt").write_text("not latens'")
    with pytest.raises(InputError, match=r"holds other files \(mine.txt\) and is not a latens output folder"):
        with outdir.OutputFolder(tmp_path, OUTPUTS):
            pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.txt"]


def test_a_folder_that_cannot_be_created_is_one_line(tmp_path, monkeypatch):
    def refuse(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(pathlib.Path, "mkdir", refuse)
    with pytest.raises(InputError, match=r"cannot create out \S+/new: Permission denied"):
        with outdir.OutputFolder(tmp_path / "new", OUTPUTS):
            pass


@pytest.mark.parametrize("where", ["cache", "cache/model", "cache/model/backup", "cache/model/backup/epoch-00001",
                                   "cache/images.npy"])
def test_a_link_anywhere_under_the_cache_is_refused_and_never_followed(tmp_path, where):
    victim = tmp_path / "victim"
    (victim / ".git").mkdir(parents=True)
    (victim / ".env").write_text("secret")
    out = tmp_path / "out"
    with outdir.OutputFolder(out, OUTPUTS) as folder:
        (out / "cache" / "model" / "backup").mkdir(parents=True)
        folder.publish(write_set("first"))
    link = out / where
    if link.is_dir():
        shutil.rmtree(link)
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(victim, target_is_directory=True)
    with pytest.raises(InputError, match=rf"{where} is a symbolic link inside latens' cache"):
        with outdir.OutputFolder(out, OUTPUTS):
            pass
    assert sorted(p.name for p in victim.iterdir()) == [".env", ".git"]
    assert contents(out) == dict.fromkeys(OUTPUTS, "first")


def published_beside(tmp_path, victim_file):
    """`out` holding a published set, and a file of someone's outside it (`tmp_path / victim_file`)."""
    victim = tmp_path / victim_file
    victim.parent.mkdir(parents=True)
    victim.write_text("keep")
    out = tmp_path / "out"
    with outdir.OutputFolder(out, OUTPUTS) as folder:
        folder.publish(write_set("first"))
    return out, victim


def test_an_output_replaced_by_a_link_is_replaced_not_followed(tmp_path):
    out, precious = published_beside(tmp_path, "outside/precious")
    outside = precious.parent
    for name in OUTPUTS:
        (out / name).unlink()
        (out / name).symlink_to(outside / "precious")
    with outdir.OutputFolder(out, OUTPUTS) as folder:
        folder.publish(write_set("second"))
    assert (outside / "precious").read_text() == "keep"
    assert contents(out) == dict.fromkeys(OUTPUTS, "second")
    assert not any((out / name).is_symlink() for name in OUTPUTS)


def test_latens_own_leftovers_in_a_folder_it_had_not_yet_marked_are_removed_not_refused(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "..latens.0123456789ab.tmp.lock").write_text("killed while writing the lock")
    (out / "..latens-output.0123456789ab.tmp").write_text("killed while writing the marker")
    with outdir.OutputFolder(out, OUTPUTS) as folder:
        folder.publish(write_set("first"))
    assert hidden_leftovers(out) == []


@pytest.mark.parametrize("where", ["a.csv", "done.json", outdir.MARKER, outdir.LOCK])
def test_a_folder_where_latens_writes_a_file_is_one_line_and_the_set_is_kept(tmp_path, where):
    out = tmp_path / "out"
    with outdir.OutputFolder(out, OUTPUTS) as folder:
        folder.publish(write_set("first"))
    others = tuple(name for name in OUTPUTS if name != where)
    before = contents(out, others)
    if os.path.lexists(out / where):
        (out / where).unlink()
    (out / where / "mine").mkdir(parents=True)
    with pytest.raises(InputError, match=rf"{where} is a folder where latens writes a file; move it out of"):
        with outdir.OutputFolder(out, OUTPUTS):
            pass
    assert (out / where / "mine").is_dir()
    assert contents(out, others) == before


def test_a_cache_that_is_a_file_is_one_line(tmp_path):
    out = tmp_path / "out"
    with outdir.OutputFolder(out, OUTPUTS):
        pass
    (out / "cache").write_text("mine")
    with pytest.raises(InputError, match="cache is a file where latens keeps its cache"):
        with outdir.OutputFolder(out, OUTPUTS):
            pass
    assert (out / "cache").read_text() == "mine"


def test_a_marker_naming_other_files_or_paths_deletes_none_of_them(tmp_path):
    out, victim_file = published_beside(tmp_path, "victim/file")
    victim = victim_file.parent
    (out / "labels.csv").write_text("mine")
    (out / "photos").mkdir()
    (out / "photos" / "0.png").write_text("mine")
    planted = ["../victim/file", str(victim / "file"), "photos/0.png", "labels.csv", "a.csv"]
    (out / outdir.MARKER).write_text(json.dumps({"outputs": planted}))
    with outdir.OutputFolder(out, OUTPUTS[1:], known=OUTPUTS) as folder:  # a.csv is stale: latens' own, dropped.
        folder.publish(write_set("second", OUTPUTS[1:]))
    assert (victim / "file").read_text() == "keep" and (out / "labels.csv").read_text() == "mine"
    assert (out / "photos" / "0.png").read_text() == "mine" and not (out / "a.csv").exists()


def test_a_marker_that_is_a_link_is_refused(tmp_path):
    out = tmp_path / "out"
    with outdir.OutputFolder(out, OUTPUTS):
        pass
    (tmp_path / "planted.json").write_text(json.dumps({"outputs": ["../planted.json"]}))
    (out / outdir.MARKER).unlink()
    (out / outdir.MARKER).symlink_to(tmp_path / "planted.json")
    with pytest.raises(InputError, match="is a symbolic link; latens reads its own marker only"):
        with outdir.OutputFolder(out, OUTPUTS):
            pass
    assert (tmp_path / "planted.json").exists()


def test_an_unmarked_folder_is_latens_only_if_an_earlier_version_wrote_it(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "done.json").write_text('{"mine": 1}')  # A person's file that happens to share an output's name.
    with pytest.raises(InputError, match=r"holds other files \(done.json\) and is not a latens output folder"):
        with outdir.OutputFolder(mine, OUTPUTS):
            pass
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "config.json").write_text(json.dumps({"images_read": 5, "train": {}}))
    (legacy / "cache").mkdir()
    with outdir.OutputFolder(legacy, ("config.json",)):
        assert outdir.is_output_folder(legacy)


def test_what_an_earlier_version_left_beside_out_is_taken_back(tmp_path):
    out = tmp_path / "out"
    with outdir.OutputFolder(out, OUTPUTS):
        pass
    building = tmp_path / ".out.latens-0123456789ab"  # Killed while building its set beside `out`.
    (building / "cache" / "model").mkdir(parents=True)
    (building / "cache" / "model" / "DONE").write_text("trained")
    with outdir.OutputFolder(out, OUTPUTS):
        assert (out / "cache" / "model" / "DONE").read_text() == "trained"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
