"""Atomic file writes: every file latens writes appears whole or not at all.

A run killed mid-write must never leave a truncated result that a resumed
run would then trust, so files are written under a temporary name in the
same folder and renamed (`os.replace` is atomic on POSIX and Windows).
"""

from __future__ import annotations

import os
import pathlib
from typing import Callable


def write_atomically(path: str | os.PathLike, write: Callable[[str], object]) -> pathlib.Path:
    """Calls `write(temporary_path)`, then renames the temporary file to `path`.

    The temporary name keeps `path`'s suffix, which writers that infer the
    format from it (`Model.save`, `np.savez`, `Figure.savefig`) rely on, and
    holds the process id, so concurrent writers do not collide. It is removed
    if `write` fails.

    Args:
      path: the destination; its folder is created if needed.
      write: writes the whole file at the path it is given.

    Returns:
      `path`, as a `pathlib.Path`.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")
    try:
        write(os.fspath(tmp))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_text(path: str | os.PathLike, text: str) -> pathlib.Path:
    """Writes UTF-8 text to `path` atomically."""
    return write_atomically(path, lambda tmp: pathlib.Path(tmp).write_text(text, encoding="utf-8"))
