"""An output folder that one run at a time owns, where latens replaces its own files and touches nothing else.

    with OutputFolder(out, outputs) as folder:   # locks `out`, marks it, cleans up after killed runs
        ...                                      # cache under folder.path / "cache"
        folder.publish(write_outputs)            # the new set replaces latens' previous one

* **Only its own files.** `MARKER` (JSON) lists the outputs latens wrote
  there. latens writes, replaces and deletes only those, `LOCK`, `CACHE` and
  its hidden working folders (`.latens-new-*`); every other file and folder
  in `out` (a person's labels, their images, notes) is left as it is. A
  folder that holds other files and no marker is refused: latens does not
  start scattering its outputs among someone's files.
* **Locked.** A run holds an advisory lock (`flock`) on the folder itself,
  which is never replaced and which the system unlocks when the process
  ends, however it ends; so two runs racing on a new folder cannot both
  hold it. `LOCK` names the holder (pid, host, start) for the message a
  second run stops with; a `LOCK` left by a run that is gone is stale and
  replaced, with a warning.
* **Replaced as a set.** `publish(write)` has `write` put the new outputs
  into a fresh hidden folder inside `out` (so every rename stays on one file
  system: `out` may be a mount point, its parent read-only), records in the
  marker that the set is being moved in, removes the old completion file
  (the last output, `config.json` for `latens-select`), moves the new files
  into place, drops old outputs the new set lacks, moves the completion
  file in last and rewrites the marker. So while the completion file is
  present, every output beside it belongs to its set; a run killed while
  writing leaves the previous set, and one killed while moving is completed
  by the next run on `out` (the new set was whole before the first move).
* **No writing through links.** The folder's cache and everything under it
  must hold no symbolic link (`check_no_links`); files are created fresh
  and exclusively and renamed into place (`latens.fileio`), so a link
  planted where an output goes is replaced, not followed.
* **Leftovers.** Temporary files of killed writes and hidden working
  folders of killed runs are removed when the next run takes the folder.
"""

from __future__ import annotations

import datetime
import errno
import json
import os
import pathlib
import re
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
_NEW = ".latens-new-"
_STEMS = (pathlib.Path(MARKER).stem, pathlib.Path(LOCK).stem)  # Of the marker's and lock's temporary files.
# What latens wrote before the marker listed its outputs (and `skipped.txt`, an older name).
_LEGACY = ("skipped.txt",)


def is_output_folder(path: str | os.PathLike) -> bool:
    """Whether a folder is a latens output folder (holds `MARKER`)."""
    return os.path.lexists(os.path.join(path, MARKER))


class OutputFolder:
    """The output folder of one run: locked, marked, and only latens' own files replaced (module docstring).

    Args:
      path: the folder; created if needed (its parent must exist or be creatable).
      outputs: the names of the files that make up a result set; the last
        one is written last and marks the set complete.
      known: every name latens may have written there (None: `outputs`),
        so that a stale output of another kind of run is latens' to drop;
        a marker naming anything else is not believed.
    """

    def __init__(self, path: str | os.PathLike, outputs: tuple[str, ...], known: tuple[str, ...] | None = None):
        self.path = pathlib.Path(path)
        self.outputs = tuple(outputs)
        self.known = tuple(dict.fromkeys((*self.outputs, *(known or ()), *_LEGACY)))
        self._lock_text = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": _now()})
        self._created = False
        self._descriptor: int | None = None

    def __enter__(self) -> OutputFolder:
        self._create()
        self._acquire_lock()
        try:
            if (self.path / MARKER).is_symlink():
                raise InputError(f"{self.path / MARKER} is a symbolic link; latens reads its own marker only: "
                                 "remove the link and run again")
            self._check_contents()
            self.check_files([MARKER, LOCK, *self.outputs, *self.owned])
            if (self.path / CACHE).exists() and not (self.path / CACHE).is_dir():
                raise InputError(f"{self.path / CACHE} is a file where latens keeps its cache; move it out of "
                                 f"{self.path} and run again")
            self._mark()
            self._finish_interrupted_publish()
            self._recover_legacy()  # Before the clean-up and the link check, which then cover what it takes back.
            self._remove_leftovers()
            self.check_no_links(self.path / CACHE)
        except BaseException:
            self._release_lock()
            raise
        return self

    def __exit__(self, kind, error, traceback) -> None:
        self._release_lock()

    @property
    def owned(self) -> tuple[str, ...]:
        """The names in the folder that latens wrote and may replace: the outputs the marker lists.

        Only plain names that latens writes count: a marker edited by hand
        or planted can name nothing else (a path, `..`, a person's file).
        """
        return self._known(self._read_marker().get("outputs", (*self.outputs, *_LEGACY)))

    def _known(self, names) -> tuple[str, ...]:
        allowed = set(self.known)
        return tuple(name for name in dict.fromkeys(names if isinstance(names, list | tuple) else ())
                     if isinstance(name, str) and name in allowed)

    def check_files(self, names) -> None:
        """`InputError` when one of these names (relative to the folder) is a folder where latens writes a file."""
        for name in names:
            path = self.path / name
            if path.is_dir() and not path.is_symlink():
                raise InputError(f"{path} is a folder where latens writes a file; move it out of {self.path} and "
                                 "run again")

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

    def check_no_links(self, path: str | os.PathLike) -> None:
        """`InputError` when `path`, or anything under it, is a symbolic link (latens writes and deletes there)."""
        link = fileio.first_link(path)
        if link is not None:
            raise InputError(f"{link} is a symbolic link inside latens' {pathlib.Path(path).name} in {self.path}; "
                             "latens never writes or deletes through a link: remove it and run again")

    def publish(self, write: Callable[[pathlib.Path], None]) -> dict[str, pathlib.Path]:
        """Replaces latens' result set in the folder with the one `write(staging_folder)` writes.

        Args:
          write: writes every name in `outputs` into the folder it is given.

        Returns:
          Output name -> its path in the folder.
        """
        staging = fileio.make_fresh_dir(self.path, _NEW)
        try:
            write(staging)
            missing = [name for name in self.outputs if not (staging / name).is_file()]
            if missing:
                raise RuntimeError(f"the result set lacks {', '.join(missing)}")
            # Once the marker says so, the new set is whole: a run killed while moving it in is completed by the next.
            self._write_marker({"outputs": self.owned, "publishing": {"from": staging.name, "outputs": self.outputs}})
        except BaseException:
            fileio.remove_tree(staging)
            raise
        self._move_in(staging, self.outputs)
        return {name: self.path / name for name in self.outputs}

    # -- the pieces ------------------------------------------------------------

    def _create(self) -> None:
        """Creates the folder (and its parents) if needed; one line when that is not allowed."""
        self._created = not self.path.exists()
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise InputError(f"cannot create out {self.path}: {error.strerror}") from None

    def _acquire_lock(self) -> None:
        """Locks the folder itself (a lock the system drops when its process ends), then says who holds it."""
        try:
            self._descriptor = os.open(self.path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except OSError as error:
            raise InputError(f"cannot open out {self.path}: {error.strerror}") from None
        if fcntl is not None:
            try:
                fcntl.flock(self._descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(self._descriptor)
                self._descriptor = None
                holder = _read_json(self.path / LOCK)
                who = (f"pid {holder.get('pid')} on {holder.get('host')}, started {holder.get('started')}"
                       if holder else "just starting")
                raise InputError(f"out {self.path} is in use by another latens-select run ({who}); wait for it "
                                 "to finish, or stop it and run again") from None
        try:
            self.check_files([LOCK])
            if os.path.lexists(self.path / LOCK):
                logging.warning("Taking over from a run that is gone (its stale lock: %s).",
                                _read_json(self.path / LOCK) or "unreadable")
            fileio.write_text(self.path / LOCK, self._lock_text)
        except BaseException:
            self._release_lock()
            raise

    def _release_lock(self) -> None:
        if self._descriptor is None:
            return
        try:
            if (self.path / LOCK).read_text() == self._lock_text:
                (self.path / LOCK).unlink()
        except OSError:
            pass
        os.close(self._descriptor)  # Drops the lock.
        self._descriptor = None

    def _check_contents(self) -> None:
        if is_output_folder(self.path):
            return
        # latens' own leftovers of a first run killed before it marked the folder.
        own = {LOCK, *(p.name for p in self.path.iterdir() if p.name.startswith(_NEW)
                       or fileio.is_temporary(p.name, stems=_STEMS))}
        if _is_legacy_output(self.path):  # Output folders of latens versions before the marker hold only these.
            own |= {*self.outputs, *_LEGACY, CACHE, ".staging"}
        others = sorted(p.name for p in self.path.iterdir() if p.name not in own)
        if others:
            raise InputError(f"out {self.path} holds other files ({', '.join(others[:3])}"
                             f"{', ...' if len(others) > 3 else ''}) and is not a latens output folder; "
                             "choose a new or empty folder")

    def _mark(self) -> None:
        if not is_output_folder(self.path):
            owned = [name for name in self.known if os.path.lexists(self.path / name)]
            self._write_marker({"outputs": owned})

    def _read_marker(self) -> dict:
        marker = _read_json(self.path / MARKER)
        return marker if isinstance(marker, dict) else {}

    def _recover_legacy(self) -> None:
        """Takes back what latens versions that built their result set beside `out` left there when killed.

        Their hidden folders `.<out>.latens-<hex>` (a set being built, maybe
        holding the cache) and `.<out>.latens-old-<hex>` (the previous set,
        moved aside) are latens' own: the cache goes back into `out` if it
        has none, the previous set's files too, and the folders are removed.
        """
        pattern = re.compile(rf"^\.{re.escape(self.path.name)}\.latens-(old-)?[0-9a-f]{{12}}$")
        try:
            siblings = [p for p in self.path.parent.iterdir() if pattern.match(p.name) and p.is_dir()
                        and not p.is_symlink()]
            for sibling in siblings:
                logging.info("Taking back what an earlier latens version left in %s.", sibling)
                for name in (CACHE, *(self.outputs if sibling.name.startswith(f".{self.path.name}.latens-old-")
                                      else ())):
                    if (sibling / name).exists() and not os.path.lexists(self.path / name) \
                            and not (sibling / name).is_symlink():
                        os.replace(sibling / name, self.path / name)
                fileio.remove_tree(sibling)
        except OSError as error:  # A parent latens may not write in: leave them.
            logging.warning("Could not take back what an earlier latens version left beside %s (%s).",
                            self.path, error)

    def _write_marker(self, fields: dict) -> None:
        fileio.write_text(self.path / MARKER, json.dumps(
            {"latens": "output folder: latens writes and deletes only the files listed here", **fields}, indent=1))

    def _move_in(self, staging: pathlib.Path, outputs: tuple[str, ...]) -> None:
        """Moves a whole new set from `staging` over the old one (see the module docstring), then drops `staging`."""
        *files, complete = outputs
        stale = [name for name in self.owned if name not in outputs]
        for name in (complete, *stale):  # The completion file first: no moment pairs it with a mix.
            if os.path.lexists(staging / complete):
                _remove_file(self.path / name)
        for name in (*files, complete):
            if os.path.lexists(staging / name):
                os.replace(staging / name, self.path / name)
        fileio.sync_folder(self.path)
        self._write_marker({"outputs": outputs})
        fileio.remove_tree(staging)

    def _finish_interrupted_publish(self) -> None:
        """Completes the move of a set that a killed run had written whole."""
        publishing = self._read_marker().get("publishing")
        if not publishing:
            return
        staging = self.path / str(publishing.get("from", ""))
        outputs = self._known(publishing.get("outputs", ()))
        if not outputs or staging.parent != self.path or not staging.name.startswith(_NEW) or staging.is_symlink():
            self._write_marker({"outputs": self.owned})
            return
        logging.info("Completing the result set that a killed run had written (%s).", staging)
        if staging.is_dir():
            self._move_in(staging, outputs)
        else:  # Killed after the last move, before the marker said so: both lists may name files there.
            self._write_marker({"outputs": list(dict.fromkeys([*outputs, *self.owned]))})

    def _remove_leftovers(self) -> None:
        """Removes killed runs' hidden working folders and temporary files (latens' own names only)."""
        for path in self.path.iterdir():
            if path.name.startswith(_NEW):
                fileio.remove_tree(path)
        stems = [pathlib.Path(name).stem for name in (MARKER, LOCK, *self.owned, *self.outputs)]
        fileio.remove_temporaries(self.path, stems=stems)
        if (self.path / CACHE).is_dir() and not (self.path / CACHE).is_symlink():
            fileio.remove_temporaries(self.path / CACHE, recursive=True)


def _remove_file(path: pathlib.Path) -> None:
    """Removes a file or link (never what a link points to); a folder in latens' place is left."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as error:
        if error.errno not in (errno.EISDIR, errno.EPERM):
            raise


def _read_json(path: pathlib.Path):
    """The JSON in a file, never read through a link; None when absent, a link or not JSON."""
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(descriptor, encoding="utf-8") as f:
            return json.loads(f.read())
    except (OSError, ValueError):
        return None


def _is_legacy_output(path: pathlib.Path) -> bool:
    """Whether an unmarked folder is the output of a latens version before the marker (its config.json says so)."""
    config = _read_json(path / "config.json")
    return isinstance(config, dict) and "images_read" in config and "train" in config


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
