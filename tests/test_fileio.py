"""Atomic writes: the destination holds the whole new file, or the old one when writing fails."""

import pathlib

import pytest

from latens import fileio


def test_write_text_creates_folders_and_leaves_no_temporary(tmp_path):
    path = fileio.write_text(tmp_path / "a" / "b" / "result.json", '{"x": 1}')
    assert path.read_text() == '{"x": 1}'
    assert sorted(p.name for p in path.parent.iterdir()) == ["result.json"]


def test_the_writer_sees_a_temporary_path_with_the_same_suffix(tmp_path):
    seen = []
    fileio.write_atomically(tmp_path / "model.keras", lambda tmp: (seen.append(tmp), pathlib.Path(tmp).write_text("m")))
    assert seen[0].endswith(".keras") and pathlib.Path(seen[0]).name != "model.keras"


def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    path = fileio.write_text(tmp_path / "table.md", "old")

    def fail(tmp):
        pathlib.Path(tmp).write_text("half")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        fileio.write_atomically(path, fail)
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.md"]


def test_a_link_planted_at_the_destination_is_replaced_not_followed(tmp_path):
    target = tmp_path / "elsewhere.txt"
    target.write_text("keep")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "result.json").symlink_to(target)
    fileio.write_text(tmp_path / "out" / "result.json", "new")
    assert target.read_text() == "keep"
    assert not (tmp_path / "out" / "result.json").is_symlink()
    assert (tmp_path / "out" / "result.json").read_text() == "new"


def test_inside_resolves_links_and_loops(tmp_path):
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "away").symlink_to(tmp_path)
    (tmp_path / "root" / "loop").symlink_to(tmp_path / "root" / "loop")
    assert fileio.inside(tmp_path / "root" / "new" / "file", tmp_path / "root")
    assert not fileio.inside(tmp_path / "root" / "away" / "file", tmp_path / "root")
    assert not fileio.inside(tmp_path / "root" / "loop", tmp_path / "root")
