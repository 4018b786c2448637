"""Safe file writes: every file latens writes appears whole or not at all, and never through a planted link.

A run killed mid-write must never leave a truncated result that a resumed
run would then trust, so files are written under a temporary name in the
same folder, flushed to disk, and renamed (`os.replace` is atomic on POSIX
and Windows). The
temporary file is created fresh and exclusively under an unpredictable name,
so a symbolic link planted where latens writes is never followed: the final
rename replaces the link itself, not what it points to.

`inside(path, root)` refuses paths that resolve outside a folder that a
command may write to; `first_link(root)` finds a link planted anywhere under
a folder that latens writes in; `remove_temporaries` removes the temporary
files that a killed write left (a kill ends a process before its `finally`).
"""

from __future__ import annotations

import errno
import os
import pathlib
import re
import secrets
import shutil
from typing import Callable

# O_NOFOLLOW where the platform has it (not on Windows, whose links need privileges).
_EXCLUSIVE = os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0)
_TOKEN_HEX = 12
# `write_atomically`'s temporary names: `.<stem>.<12 hex digits>.tmp<suffix>`.
_TEMPORARY = re.compile(rf"^\.(?P<stem>.*)\.[0-9a-f]{{{_TOKEN_HEX}}}\.tmp(\.[^.]*)?$")


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
    try:
        os.close(os.open(tmp, _EXCLUSIVE, 0o666))
    except OSError as error:  # Name the file being written, not its temporary name.
        raise OSError(error.errno, error.strerror, os.fspath(path)) from error
    try:
        try:
            write(os.fspath(tmp))
        except OSError as error:
            if error.filename is None:  # A failed write() names no file: say which one.
                raise OSError(error.errno, error.strerror, os.fspath(path)) from error
            raise
        _sync(tmp)  # On disk before its name is: a power cut must not leave an empty file under `path`.
        os.replace(tmp, path)
        sync_folder(path.parent)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def sync_folder(path: str | os.PathLike) -> None:
    """Flushes a folder's entries (renames into it) to disk, where the system allows."""
    _sync(pathlib.Path(path))


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
        path = pathlib.Path(folder, f"{prefix}{secrets.token_hex(_TOKEN_HEX // 2)}{suffix}")
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


def check_room(folder: str | os.PathLike, needed: int, what: str) -> None:
    """`OSError(ENOSPC)` naming `folder` when its disk has fewer than `needed` bytes free.

    Args:
      folder: where the bytes will be written.
      needed: how many.
      what: what needs them, for the message ("the model, its backups and the codes").
    """
    free = shutil.disk_usage(folder).free
    if needed > free:
        raise OSError(errno.ENOSPC, f"{what} need about {needed / 2**20:,.1f} MiB, {free / 2**20:,.1f} MiB are free",
                      os.fspath(folder))


def first_link(path: str | os.PathLike) -> pathlib.Path | None:
    """The first symbolic link at or under `path` (links are not followed), or None; None also when absent."""
    path = pathlib.Path(path)
    if path.is_symlink():
        return path
    if not path.is_dir():
        return None
    for folder, subfolders, names in os.walk(path, followlinks=False):
        for name in sorted([*subfolders, *names]):
            if os.path.islink(os.path.join(folder, name)):
                return pathlib.Path(folder, name)
    return None


def is_temporary(name: str, *, stems=None) -> bool:
    """Whether a file name is one of `write_atomically`'s temporary names (of a file with one of `stems`)."""
    match = _TEMPORARY.match(name)
    return bool(match) and (stems is None or match.group("stem") in stems)


def remove_temporaries(folder: str | os.PathLike, *, stems=None, recursive: bool = False) -> list[pathlib.Path]:
    """Removes the temporary files of writes that a kill or a full disk interrupted.

    Args:
      folder: where to look.
      stems: remove only the temporaries of files with these stems (in a
        folder that also holds other people's files); None: all of them.
      recursive: look in subfolders too (never through links).

    Returns:
      The files removed.
    """
    removed = []
    for root, subfolders, names in os.walk(folder, followlinks=False):
        for name in names:
            if is_temporary(name, stems=stems):
                path = pathlib.Path(root, name)
                path.unlink(missing_ok=True)
                removed.append(path)
        if not recursive:
            break
    return removed
