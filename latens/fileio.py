"""Safe file writes: every file latens writes appears whole or not at all, and never through a planted link.

A run killed mid-write must never leave a truncated result that a resumed
run would then trust, so files are written under a temporary name in the
same folder, flushed to disk, and renamed (`os.replace` is atomic on POSIX
and Windows). The
temporary file is created fresh and exclusively under an unpredictable name,
so a symbolic link planted where latens writes is never followed: the final
rename replaces the link itself, not what it points to.

`inside(path, root)` refuses paths that resolve outside a folder that a
command may write to.
"""

from __future__ import annotations

import os
import pathlib
import secrets
import shutil
from typing import Callable

# O_NOFOLLOW where the platform has it (not on Windows, whose links need privileges).
_EXCLUSIVE = os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0)


def write_atomically(path: str | os.PathLike, write: Callable[[str], object]) -> pathlib.Path:
    """Calls `write(temporary_path)`, then renames the temporary file to `path`.

    The temporary file exists (empty) before `write` is called, created
    exclusively; its name keeps `path`'s suffix, which writers that infer the
    format from it (`Model.save`, `np.savez`, `Figure.savefig`) rely on. It
    is removed if `write` fails.

    Args:
      path: the destination; its folder is created if needed.
      write: writes the whole file at the path it is given.

    Returns:
      `path`, as a `pathlib.Path`.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = fresh_path(path.parent, f".{path.stem}.", f".tmp{path.suffix}")
    os.close(os.open(tmp, _EXCLUSIVE, 0o666))
    try:
        write(os.fspath(tmp))
        _sync(tmp)  # On disk before its name is: a power cut must not leave an empty file under `path`.
        os.replace(tmp, path)
        _sync(path.parent)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _sync(path: pathlib.Path) -> None:
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:  # A folder cannot be opened on every system (Windows).
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def write_text(path: str | os.PathLike, text: str) -> pathlib.Path:
    """Writes UTF-8 text to `path` atomically."""
    return write_atomically(path, lambda tmp: pathlib.Path(tmp).write_text(text, encoding="utf-8"))


def fresh_path(folder: str | os.PathLike, prefix: str, suffix: str = "") -> pathlib.Path:
    """A path in `folder` that does not exist yet, with a random part between `prefix` and `suffix`."""
    while True:
        path = pathlib.Path(folder, f"{prefix}{secrets.token_hex(6)}{suffix}")
        if not os.path.lexists(path):
            return path


def make_fresh_dir(folder: str | os.PathLike, prefix: str) -> pathlib.Path:
    """Creates a new, empty folder in `folder` (never an existing one, never through a link)."""
    while True:
        path = fresh_path(folder, prefix)
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue


def inside(path: str | os.PathLike, root: str | os.PathLike) -> bool:
    """Whether `path`, with every link resolved, lies in `root` (or is it)."""
    try:
        resolved, base = pathlib.Path(path).resolve(), pathlib.Path(root).resolve()
    except (OSError, RuntimeError):  # RuntimeError: a link loop (Python < 3.13).
        return False
    return resolved == base or base in resolved.parents


def remove_tree(path: str | os.PathLike) -> None:
    """Deletes a folder and what it holds (a link is removed, never followed); no error if absent."""
    path = pathlib.Path(path)
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path, ignore_errors=True)
