"""An output folder that one run at a time owns, marked as latens' own, whose results are replaced as a whole set.

    with OutputFolder(out) as folder:     # marks and locks `out`
        ...                               # cache under folder.path / "cache"
        folder.publish(write_outputs)     # the new set replaces the old one at once

* **Marked.** `MARKER` is written into the folder first, so that reading
  images never looks inside a latens output folder (`is_output_folder`).
  A folder that holds other files and no marker is refused: latens does not
  scatter its outputs and cache among someone's files.
* **Locked.** A run holds an advisory lock (`flock`) on the marker, which the
  system drops when the process ends, however it ends; `LOCK` beside it
  names the holder (pid, host, start). A second run fails to take the lock
  and stops at once, naming the holder; the `LOCK` of a run that is gone is
  stale and replaced, with a warning. The swap below keeps the same marker
  file (a hard link), so the lock stays held across it.
* **Replaced as a whole.** `publish(write)` has `write` put the new outputs
  into a fresh hidden folder beside `out`, moves the cache (and the marker
  and lock) over to it, and swaps the two folders in one atomic rename
  (`renameat2(RENAME_EXCHANGE)` on Linux; elsewhere two renames, with an
  instant when `out` is absent, which the next run repairs). A reader sees
  the old set or the new one, never a mix. A run killed in between leaves
  its hidden folder, which the next run on `out` cleans up, moving the cache
  back where needed.
* **No writing through links.** The folder's cache must not be a link or
  lead outside it (`check_inside`); files are created fresh and exclusively
  (`latens.fileio`).
"""

from __future__ import annotations

import ctypes
import datetime
import errno
import json
import os
import pathlib
import socket
from collections.abc import Callable

from absl import logging

try:
    import fcntl
except ImportError:  # Windows: no advisory locks, so no protection against a second run.
    fcntl = None

from latens import fileio
from latens.checks import InputError

MARKER = ".latens-output"
LOCK = ".latens.lock"
CACHE = "cache"
_SIBLING = ".{name}.latens-"
_RENAME_EXCHANGE = 2


def is_output_folder(path: str | os.PathLike) -> bool:
    """Whether a folder is a latens output folder (holds `MARKER`)."""
    return os.path.lexists(os.path.join(path, MARKER))


class OutputFolder:
    """The output folder of one run: marked, locked, and replaced as a whole (see the module docstring).

    Args:
      path: the folder; created if needed.
      outputs: the names of the files that make up a result set.
    """

    def __init__(self, path: str | os.PathLike, outputs: tuple[str, ...]):
        self.path = pathlib.Path(path)
        self.outputs = outputs
        self._lock_text = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": _now()})
        self._created = False

    def __enter__(self) -> OutputFolder:
        self._finish_interrupted_swap()
        self._check_contents()
        self._created = not self.path.exists()
        self.path.mkdir(parents=True, exist_ok=True)
        if not is_output_folder(self.path):
            fileio.write_text(self.path / MARKER, json.dumps({"latens": "output folder", "created": _now()}))
        self._acquire_lock()
        try:
            self._recover()
            self.check_inside(self.path / CACHE)
        except BaseException:
            self._release_lock()
            raise
        return self

    def __exit__(self, kind, error, traceback) -> None:
        self._release_lock()

    def remove_if_created(self) -> None:
        """Deletes the folder again if this run created it (after bad input, before any result)."""
        if self._created:
            fileio.remove_tree(self.path)

    def check_inside(self, path: str | os.PathLike) -> pathlib.Path:
        """`path`, or `InputError` when it is a link or resolves outside the folder."""
        path = pathlib.Path(path)
        if path.is_symlink() or not fileio.inside(path, self.path):
            raise InputError(f"{path} is a link or leads outside {self.path}; latens does not write through it")
        return path

    def publish(self, write: Callable[[pathlib.Path], None]) -> dict[str, pathlib.Path]:
        """Replaces the folder's result set with the one `write(staging_folder)` writes, at once.

        Args:
          write: writes every name in `outputs` into the folder it is given.

        Returns:
          Output name -> its path in the folder.
        """
        staging = fileio.make_fresh_dir(self.path.parent, _SIBLING.format(name=self.path.name))
        try:
            write(staging)
            missing = [name for name in self.outputs if not (staging / name).is_file()]
            if missing:
                raise RuntimeError(f"the result set lacks {', '.join(missing)}")
            # The same marker file, not a copy: the lock held on it stays held after the swap.
            os.link(self.path / MARKER, staging / MARKER)
            fileio.write_text(staging / LOCK, self._lock_text)
            if (self.path / CACHE).is_dir():
                os.replace(self.path / CACHE, staging / CACHE)
            _exchange(staging, self.path)
        except BaseException:
            if (staging / CACHE).is_dir() and not (self.path / CACHE).exists():
                os.replace(staging / CACHE, self.path / CACHE)
            raise
        finally:
            fileio.remove_tree(staging)  # After the swap: the old set.
        return {name: self.path / name for name in self.outputs}

    # -- the pieces ------------------------------------------------------------

    def _check_contents(self) -> None:
        if not self.path.exists() or is_output_folder(self.path):
            return
        # Output folders of latens versions before the marker hold only these.
        known = {*self.outputs, CACHE, "skipped.txt", ".staging", LOCK}
        others = sorted(p.name for p in self.path.iterdir() if p.name not in known)
        if others:
            raise InputError(f"out {self.path} holds other files ({', '.join(others[:3])}"
                             f"{', ...' if len(others) > 3 else ''}) and is not a latens output folder; "
                             "choose a new or empty folder")

    def _acquire_lock(self) -> None:
        """Locks the marker (an advisory lock the system drops when its process ends), then says who holds it."""
        try:
            self._marker = os.open(self.path / MARKER, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError as error:
            raise InputError(f"cannot open {self.path / MARKER} ({error.strerror}); is it a link?") from None
        try:
            if fcntl is not None:
                fcntl.flock(self._marker, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._marker)
            holder = _read_lock(self.path / LOCK) or {}
            raise InputError(
                f"out {self.path} is in use by another latens-select run (pid {holder.get('pid')} on "
                f"{holder.get('host')}, started {holder.get('started')}); wait for it to finish, or stop "
                "it and run again") from None
        if (self.path / LOCK).exists():
            logging.warning("Taking over from a run that is gone (its stale lock: %s).",
                            _read_lock(self.path / LOCK) or "unreadable")
        fileio.write_text(self.path / LOCK, self._lock_text)

    def _release_lock(self) -> None:
        try:
            if (self.path / LOCK).read_text() == self._lock_text:
                (self.path / LOCK).unlink()
        except OSError:
            pass
        os.close(self._marker)  # Drops the lock.

    def _finish_interrupted_swap(self) -> None:
        """Puts a result set back where a swap without RENAME_EXCHANGE left it (killed between its renames)."""
        if self.path.exists():
            return
        for sibling in sorted(self.path.parent.glob(f".{self.path.name}.latens-old-*")):
            if is_output_folder(sibling):
                os.replace(sibling, self.path)
                return

    def _recover(self) -> None:
        """Cleans up after runs killed while publishing: their hidden folders beside this one."""
        prefix = _SIBLING.format(name=self.path.name)
        for sibling in self.path.parent.iterdir():
            if not sibling.name.startswith(prefix) or not sibling.is_dir() or sibling.is_symlink():
                continue
            if (sibling / CACHE).is_dir() and not (self.path / CACHE).exists():
                logging.info("Recovering the cache that a killed run left in %s.", sibling)
                os.replace(sibling / CACHE, self.path / CACHE)
            fileio.remove_tree(sibling)


def _exchange(a: pathlib.Path, b: pathlib.Path) -> None:
    """Swaps two folders' names, atomically where the system can."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except Exception:  # noqa: BLE001  No C library, or none with renameat2: swap in two renames.
        renameat2 = None
    if renameat2 is not None:
        at_cwd = -100
        if renameat2(at_cwd, os.fsencode(a), at_cwd, os.fsencode(b), _RENAME_EXCHANGE) == 0:
            return
        if ctypes.get_errno() not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()), str(b))
    old = fileio.fresh_path(b.parent, f".{b.name}.latens-old-")
    os.replace(b, old)
    os.replace(a, b)
    os.replace(old, a)


def _read_lock(path: pathlib.Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
