"""One resumable runner for the research harness: an experiment's cells, a store of their results, one loop.

An experiment (`Experiment`) is a list of cells, each a unit of work whose
result is a JSON-able dict: a Table 1 cell (`latens.research.grid`), a
Table 1 cell trained again under watched stopping rules
(`latens.research.stop_check`), a choice of `latens-select` and its score
(`latens.research.choice_check`), a representation's k-NN accuracy
(`latens.research.latent_quality`). `run` runs the cells whose result is not
stored yet, in order, with a progress bar and a log line per cell, and
stores each result as soon as it exists, so a killed run, started again,
redoes nothing that finished.

A store (`Store`) keeps the results:

  `JsonFiles`  one JSON file per cell, each result carrying the config it
               was made with (the grid's and the stop check's
               `<dataset>/n<n>/<row>/seed<s>.json`);
  `JsonFile`   every cell's result in one JSON file, under a config the
               file's cells share (the choice check's);
  `Memory`     this call's results only, for experiments whose costly
               stages cache themselves (a `latens.train` workdir).

Files are written atomically (`latens.fileio`). A stored result is used
only if it was made with the config its cell asks for: a missing one is
run, an unreadable one is run again with a warning, and one made with
another config stops the run (`check_same`) rather than mix into a table.
"""

from __future__ import annotations

import json
import operator
import os
import pathlib
from collections.abc import Callable, Hashable, Sequence
from typing import NamedTuple, Protocol

from absl import logging
from tqdm.auto import tqdm

from latens import fileio

Cell = Hashable
# What a changed config's error tells a person to do, where a cell has its own file.
REDO = "Use another --workdir, or delete it to redo that cell."


class Stored(NamedTuple):
    """What a store holds for one cell.

    Attributes:
      config: the config its result was made with, or in a shared file, the
        one every result there was made with (None: no config stored yet).
      result: the cell's result (None: the cell has not run).
    """

    config: dict | None
    result: dict | None


class Store(Protocol):
    """Where an experiment's results are kept.

    Attributes:
      remedy: the last sentence of a changed config's error (what to do).
    """

    remedy: str

    def where(self, cell: Cell) -> str:
        """Where the cell's result is kept, for messages."""

    def load(self, cell: Cell) -> Stored:
        """The cell's stored config and result."""

    def save(self, cell: Cell, result: dict, config: dict | None) -> None:
        """Keeps the cell's result, made with `config`."""


class Experiment(Protocol):
    """Cells of work, what defines each, and where their results are kept.

    Attributes:
      store: where the results are kept.
    """

    store: Store

    def cells(self) -> Sequence[Cell]:
        """Every cell, in the order to run them."""

    def cell_config(self, cell: Cell) -> dict | None:
        """What the cell's stored config must equal for its result to be used (None: nothing beyond the cell)."""

    def run_cell(self, cell: Cell) -> dict:
        """Runs the cell; its result (`run` stores it)."""

    def describe(self, cell: Cell) -> str:
        """The cell in a few words, for the progress bar and the log."""

    def summarize(self, result: dict) -> str:
        """What a result says, in a few words, for the log."""


def run(experiment: Experiment, *, desc: str) -> int:
    """Runs every cell whose result is not stored, storing each as soon as it finishes.

    Args:
      experiment: the cells and their store.
      desc: the experiment's name, for the progress bar and the log.

    Returns:
      How many cells ran.

    Raises:
      ValueError: a stored result was made with another config (raised
        before any cell runs).
    """
    cells = list(dict.fromkeys(experiment.cells()))  # A cell listed twice runs once.
    todo = [cell for cell in cells if not is_done(experiment, cell)]
    done = len(cells) - len(todo)
    logging.info("%s: %d cells, %d already done, %d to run.", desc, len(cells), done, len(todo))
    with tqdm(total=len(cells), initial=done, desc=desc, unit="cell") as bar:
        for cell in todo:
            bar.set_postfix_str(experiment.describe(cell))
            result = experiment.run_cell(cell)
            experiment.store.save(cell, result, experiment.cell_config(cell))
            bar.update(1)
            logging.info("%s: %s", experiment.describe(cell), experiment.summarize(result))
    return len(todo)


def is_done(experiment: Experiment, cell: Cell) -> bool:
    """Whether the cell's result is stored.

    Args:
      experiment: the cell's experiment.
      cell: one of its cells.

    Returns:
      True if its store holds the cell's result; False if not, or if the
      store found it damaged (a file per cell: it warns, and the cell runs
      again).

    Raises:
      ValueError: the config stored for the cell is not its `cell_config`.
    """
    store = experiment.store
    stored = store.load(cell)
    if stored.config is not None:
        check_same(store.where(cell), stored.config, experiment.cell_config(cell), remedy=store.remedy)
    return stored.result is not None


def check_same(path: str | os.PathLike, stored: dict, wanted: dict, *, remedy: str = REDO) -> None:
    """Raises `ValueError` naming the differing keys when a stored config is not `wanted`.

    Args:
      path: what holds the stored config, for the message.
      stored: the config as read back from JSON.
      wanted: the config asked for (tuples and lists compare equal).
      remedy: the message's last sentence: what to do.
    """
    wanted = json.loads(json.dumps(wanted))  # As stored: tuples become lists.
    if stored != wanted:
        differences = sorted(k for k in set(stored) | set(wanted) if stored.get(k) != wanted.get(k))
        raise ValueError(f"{path} was made with a different config (differs in: {', '.join(differences)}). {remedy}")


class JsonFiles:
    """One JSON file per cell, each result holding the config it was made with.

    A file that cannot be read (damaged on disk) is logged and its cell run
    again, rather than stopping the run.

    Args:
      path: a cell -> its file.
      config_of: a stored result -> the part of it that a cell's
        `cell_config` must equal (default: its `config`).
      remedy: the last sentence of a changed config's error.
    """

    def __init__(self, path: Callable[[Cell], str | os.PathLike], *,
                 config_of: Callable[[dict], dict] = operator.itemgetter("config"), remedy: str = REDO):
        self.path = path
        self.config_of = config_of
        self.remedy = remedy

    def where(self, cell: Cell) -> str:
        return os.fspath(self.path(cell))

    def load(self, cell: Cell) -> Stored:
        path = pathlib.Path(self.path(cell))
        try:
            result = json.loads(path.read_text())
        except FileNotFoundError:
            return Stored(None, None)
        except (OSError, ValueError) as error:  # Damaged on disk: redo the cell rather than stop the run.
            logging.warning("%s cannot be read (%s); running its cell again.", path, error)
            return Stored(None, None)
        return Stored(self.config_of(result), result)

    def save(self, cell: Cell, result: dict, config: dict | None) -> None:
        del config  # The result holds it.
        fileio.write_text(self.path(cell), json.dumps(result, indent=1))


class JsonFile:
    """Every cell's result in one JSON file, under one config its cells share.

    The file is `{config_field: config, **header(), section: {key(cell): entry}}`,
    read at each look and rewritten whole at each save. With `fields`, a
    store's result is those fields of each entry, so that a second
    experiment adds its results to the entries of a first (the choice
    check's scores to its choices) under a config field of its own. A file
    that cannot be read stops the run: it holds every result, and is never
    replaced.

    Args:
      path: the file.
      key: a cell -> its key in `section`.
      section: the field that maps keys to entries.
      config_field: the field holding the config of every result the
        store saves (added with the store's first result).
      fields: the fields of an entry that are the store's result (None: the
        whole entry); a cell is done once its entry has them all.
      header: the file's other fields, made when the file is new.
      remedy: the last sentence of a changed config's error.
    """

    def __init__(self, path: str | os.PathLike, key: Callable[[Cell], str], *, section: str,
                 config_field: str = "config", fields: Sequence[str] | None = None,
                 header: Callable[[], dict] = dict, remedy: str = "Use another file."):
        self.path = pathlib.Path(path)
        self.key = key
        self.section = section
        self.config_field = config_field
        self.fields = fields
        self.header = header
        self.remedy = remedy

    def where(self, cell: Cell) -> str:
        return os.fspath(self.path)

    def load(self, cell: Cell) -> Stored:
        content = self._read()
        if content is None:
            return Stored(None, None)
        entry = content[self.section].get(self.key(cell))
        return Stored(content.get(self.config_field), self._result(entry))

    def save(self, cell: Cell, result: dict, config: dict | None) -> None:
        content = self._read()
        if content is None:
            content = {self.config_field: config, **self.header(), self.section: {}}
        content.setdefault(self.config_field, config)
        content[self.section].setdefault(self.key(cell), {}).update(result)
        fileio.write_text(self.path, json.dumps(content, indent=1))

    def _read(self) -> dict | None:
        """The file's content; None if there is no file."""
        try:
            return json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        except ValueError as error:
            raise ValueError(f"{self.path} cannot be read ({error}); it holds every result of its cells, so it is "
                             "not replaced: mend it or move it away") from error

    def _result(self, entry: dict | None) -> dict | None:
        """The store's result in an entry: the whole entry, or its `fields` once it has them all."""
        if entry is None or self.fields is None:
            return entry
        return {name: entry[name] for name in self.fields} if all(name in entry for name in self.fields) else None


class Memory:
    """This call's results only, in memory: for experiments whose costly stages cache themselves.

    Args:
      on_save: called with every result so far after each save (to write a
        report as the run goes).
    """

    remedy = ""

    def __init__(self, on_save: Callable[[list[dict]], None] | None = None):
        self.on_save = on_save
        self._results: dict[Cell, dict] = {}

    def where(self, cell: Cell) -> str:
        return "memory"

    def load(self, cell: Cell) -> Stored:
        return Stored(None, self._results.get(cell))

    def save(self, cell: Cell, result: dict, config: dict | None) -> None:
        del config  # Nothing outlives the call to be checked against it.
        self._results[cell] = result
        if self.on_save is not None:
            self.on_save(self.results())

    def results(self) -> list[dict]:
        """Every result saved, in the order saved."""
        return list(self._results.values())
