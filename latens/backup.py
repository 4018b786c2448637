"""Training state saved at every epoch's end so that a kill at any instant loses at most that epoch.

`EpochBackups(folder)` keeps the last `KEEP` finished epochs, each in its own
folder `epoch-<k>/` holding the model's weights with the optimizer's state
(`state.weights.h5`: Adam's moments and step counter, which also seeds the
VAE's noise) and `meta.json` (the epoch). A backup is written whole into a
fresh hidden folder and only then renamed to its final name, so a kill
while writing leaves a hidden folder that is ignored (and removed), never a
damaged backup under a final name. `restore(model)` loads the newest backup
that loads cleanly; a damaged one (a disk error, a file changed by hand) is
reported and the one before it is tried, and with none left training starts
over. Nothing here stops a run but a disk too full for the next backup
(an `OSError`: the weights file is written in memory and copied into place
with ordinary writes, since h5py crashes the process when the disk fills
while it writes, and the room is checked before).

`FiniteLossGuard` ends training at the first batch whose loss is not
finite, with `NonFiniteLossError`, before any backup of the damaged weights
is written.
"""

from __future__ import annotations

import json
import math
import os
import pathlib
import re
import shutil
import tempfile

import keras
import numpy as np
from absl import logging

from latens import fileio

# Backups kept: the newest, and the one before it in case the newest is damaged.
KEEP = 2
_NAME = re.compile(r"^epoch-(\d+)$")
_WEIGHTS = "state.weights.h5"
# Room for HDF5's headers and metadata beside the weights: a few hundred
# bytes a variable, a few hundred variables at most in latens' models.
_HDF5_OVERHEAD = 1 << 18
_META = "meta.json"


class NonFiniteLossError(RuntimeError):
    """A training loss became NaN or infinite; the message says where and what was kept."""


class EpochBackups(keras.callbacks.Callback):
    """Writes a backup at every epoch's end (see the module docstring), and restores the newest good one."""

    def __init__(self, folder: str | os.PathLike, keep: int = KEEP):
        super().__init__()
        self.folder = pathlib.Path(folder)
        self.keep = keep

    def restore(self, model: keras.Model) -> int:
        """Loads the newest backup that loads cleanly into a compiled `model`.

        Args:
          model: the freshly built and compiled model (its optimizer is
            built here if needed).

        Returns:
          The number of epochs that backup had finished: 0 when there is
          none, and the model is then as it was.
        """
        self._remove_unfinished()
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        variables = [*model.variables, *model.optimizer.variables]
        initial = [v.numpy() for v in variables]
        for epoch, path in self.backups():
            try:
                meta = json.loads((path / _META).read_text())
                if meta.get("epoch") != epoch:
                    raise ValueError(f"meta.json says epoch {meta.get('epoch')!r}")
                model.load_weights(path / _WEIGHTS)
                self._check_finite(variables)
            except Exception as error:  # noqa: BLE001  Any failure means "damaged": try the one before.
                logging.warning("The backup %s is damaged (%s: %s); trying an earlier one.",
                                path, type(error).__name__, str(error).splitlines()[0] if str(error) else "")
                for variable, value in zip(variables, initial):
                    variable.assign(value)
                continue
            logging.info("Resuming from the backup of epoch %d in %s.", epoch, path)
            return epoch
        if self.backups():
            logging.warning("No backup in %s could be loaded; training starts over.", self.folder)
        return 0

    def backups(self) -> list[tuple[int, pathlib.Path]]:
        """`(epoch, folder)` of every finished backup, newest first."""
        if not self.folder.is_dir():
            return []
        found = [(int(m.group(1)), p) for p in self.folder.iterdir() if (m := _NAME.match(p.name)) and p.is_dir()]
        return sorted(found, reverse=True)

    def on_epoch_end(self, epoch, logs=None):
        self.write(epoch + 1)

    def write(self, epoch: int) -> pathlib.Path:
        """Writes the backup of `epoch` finished epochs, then drops all but the newest `keep`.

        Raises:
          NonFiniteLossError: a weight is NaN or infinite (the backups
            written before are kept).
        """
        try:
            self._check_finite(self.model.variables)
        except ValueError as error:
            raise NonFiniteLossError(f"{error} after epoch {epoch}; training stopped. The last good state "
                                     f"is kept in {self.folder}: lower the learning rate and run again.") from None
        self.folder.mkdir(parents=True, exist_ok=True)
        self._check_room()
        staging = fileio.make_fresh_dir(self.folder, f".epoch-{epoch:05d}.")
        try:
            # HDF5 writes through its own C calls, and a disk that fills under
            # them crashes the process: it writes in memory, and a Python
            # copy (whose full disk is an OSError) puts the file in place.
            with tempfile.TemporaryDirectory(prefix="latens-backup-", dir=_memory_folder()) as scratch:
                self.model.save_weights(os.path.join(scratch, _WEIGHTS))
                shutil.copyfile(os.path.join(scratch, _WEIGHTS), staging / _WEIGHTS)
            fileio.write_text(staging / _META, json.dumps({"epoch": epoch}))
        except BaseException:  # A full disk, say: free what was written (a kill leaves it to `restore`).
            fileio.remove_tree(staging)
            raise
        final = self.folder / f"epoch-{epoch:05d}"
        fileio.remove_tree(final)  # Left by an earlier run that reached this epoch, then was stopped.
        os.replace(staging, final)
        for _, old in self.backups()[self.keep:]:
            fileio.remove_tree(old)
        return final

    def _check_room(self) -> None:
        """`OSError(ENOSPC)` when the disk lacks room for one more backup.

        Checked before the weights are written, so a disk that is already
        too full fails at once, not after a write into memory: as much as
        the newest backup takes, or, for the first, the weights and Adam's
        two moments in float32 plus HDF5's overhead.
        """
        newest = self.backups()[:1]
        if newest:
            needed = sum(path.stat().st_size for path in newest[0][1].iterdir())
        else:
            needed = 4 * 3 * self.model.count_params()
        fileio.check_room(self.folder, needed + _HDF5_OVERHEAD, "an epoch's backup's files")

    def _remove_unfinished(self) -> None:
        if self.folder.is_dir():
            for path in self.folder.iterdir():
                if path.name.startswith("."):
                    fileio.remove_tree(path)

    @staticmethod
    def _check_finite(variables) -> None:
        for variable in variables:
            value = variable.numpy()
            if np.issubdtype(value.dtype, np.floating) and not np.all(np.isfinite(value)):
                raise ValueError(f"variable {variable.path} is not finite")


def _memory_folder() -> str | None:
    """A folder kept in memory (Linux's /dev/shm) where one can write, else None (the system's temporary folder)."""
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None


class FiniteLossGuard(keras.callbacks.Callback):
    """Raises `NonFiniteLossError` at the first batch whose loss is NaN or infinite.

    It runs before the epoch's backup, so the newest backup stays the last
    good state.
    """

    def __init__(self, where: str):
        super().__init__()
        self.where = where
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        loss = float((logs or {}).get("loss", 0.0))
        if not math.isfinite(loss):
            raise NonFiniteLossError(
                f"the training loss became {loss} in epoch {self.epoch}, batch {batch + 1}; training stopped. "
                f"The last good state (the previous epoch's backup) is kept in {self.where}: lower the learning "
                "rate and run again to resume from it."
            )
