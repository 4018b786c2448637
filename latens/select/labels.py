"""The labels a person gives back: read from a CSV, a Label Studio export or a folder per class, matched to the images.

`read(path, paths)` accepts three forms, told apart by what `path` is:

* a CSV file with a header naming a file column (`file`, or `path` as in
  `query.csv`) and a `label` column; other columns are ignored;
* a Label Studio JSON export of an image-classification project
  (`latens.select.label_studio.read_export`);
* a folder holding one sub-folder per class, each holding that class's
  images (the sub-folder's name is the label).

A labelled file is matched to the images read from `--images` by its path
relative to that folder (`/`-separated, as `query.csv` writes it), or by
the longest tail of its path that is an image's (a Label Studio URL names
the folder first), or, failing those, by its file name where exactly one
image has it (the images of a class folder are copies). Label names are strings, kept
as given (surrounding spaces removed). Every problem (an unknown file, a
file labelled twice with different labels, an empty label, a file with no
usable row) is one `InputError` line naming the first few offenders, so
nothing is written from labels that do not fit the images.
"""

from __future__ import annotations

import collections
import csv
import os
import pathlib
from collections.abc import Sequence

import numpy as np

from latens.checks import InputError
from latens.select import images, label_studio

FILE_COLUMNS = ("file", "path")
LABEL_COLUMN = "label"
_SHOWN = 5


def read(path: str | os.PathLike, paths: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """The labelled images among `paths`, and their labels.

    Args:
      path: a CSV file, a Label Studio JSON export, or a folder of class folders.
      paths: the images' paths relative to the images folder, `[N]`.

    Returns:
      `(indices, labels)`: int64 `[M]` indices into `paths`, increasing, and
      the label of each.

    Raises:
      InputError: `path` missing or unreadable, no usable row, or rows that
        do not fit the images (see the module docstring).
    """
    path = pathlib.Path(path)
    if path.is_dir():
        pairs = _folder_pairs(path)
    elif path.is_file():
        pairs = _json_pairs(path) if _looks_like_json(path) else _csv_pairs(path)
    else:
        raise InputError(f"labels {path} does not exist")
    if not pairs:
        raise InputError(f"labels {path} holds no labelled image")
    return _match(pairs, paths, path)


def _looks_like_json(path: pathlib.Path) -> bool:
    if path.suffix.lower() == ".json":
        return True
    with open(path, "rb") as f:
        return f.read(64).lstrip()[:1] in (b"[", b"{")


def _json_pairs(path: pathlib.Path) -> list[tuple[str, str]]:
    return label_studio.read_export(path)


def _csv_pairs(path: pathlib.Path) -> list[tuple[str, str]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise InputError(f"labels {path} cannot be read as a CSV file: {error}") from None
    if not rows:
        raise InputError(f"labels {path} is empty; it needs a header with file,label and a row per image")
    header = [name.strip().lower() for name in rows[0]]
    file_column = next((header.index(name) for name in FILE_COLUMNS if name in header), None)
    if file_column is None or LABEL_COLUMN not in header:
        raise InputError(f"labels {path} needs a header with a file (or path) column and a label column, "
                         f"got {','.join(rows[0])}")
    label_column = header.index(LABEL_COLUMN)
    pairs, empty = [], []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        cells = row + [""] * (max(file_column, label_column) + 1 - len(row))
        file, label = cells[file_column].strip(), cells[label_column].strip()
        if not file or not label:
            empty.append(f"line {line}")
            continue
        pairs.append((file, label))
    if empty:
        raise InputError(f"labels {path}: {_some(empty)} {'has' if len(empty) == 1 else 'have'} an empty file or "
                         "label")
    return pairs


def _folder_pairs(path: pathlib.Path) -> list[tuple[str, str]]:
    pairs = []
    for folder in sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for file in sorted(folder.rglob("*")):
            if file.is_file() and file.suffix.lower() in images.IMAGE_EXTENSIONS and not file.name.startswith("."):
                pairs.append((file.relative_to(folder).as_posix(), folder.name))
    return pairs


def _match(pairs: list[tuple[str, str]], paths: Sequence[str], source: pathlib.Path) -> tuple[np.ndarray, list[str]]:
    """Indices into `paths` of the labelled files, and their labels; `InputError` for what does not fit."""
    index = {p: i for i, p in enumerate(paths)}
    by_name = collections.defaultdict(list)
    for i, p in enumerate(paths):
        by_name[p.rsplit("/", 1)[-1]].append(i)
    given: dict[int, str] = {}
    unknown, ambiguous, conflicting = [], [], []
    for file, label in pairs:
        label = label.strip()
        file = file.replace(os.sep, "/").removeprefix("./")
        if not label:
            conflicting.append(f"{file} (empty label)")
            continue
        i = _find(file, index)
        if i is None:
            matches = by_name.get(file.rsplit("/", 1)[-1], [])
            if len(matches) != 1:
                (ambiguous if matches else unknown).append(file)
                continue
            i = matches[0]
        if given.setdefault(i, label) != label:
            conflicting.append(f"{paths[i]} ({given[i]!r} and {label!r})")
    if unknown:
        raise InputError(f"labels {source}: {len(unknown)} labelled file{'s are' if len(unknown) > 1 else ' is'} "
                         f"not among the images read: {_some(unknown)}")
    if ambiguous:
        raise InputError(f"labels {source}: {_some(ambiguous)} name{'s' if len(ambiguous) == 1 else ''} several "
                         "images; give the path relative to --images, as query.csv does")
    if conflicting:
        raise InputError(f"labels {source}: {len(conflicting)} image{'s' if len(conflicting) > 1 else ''} "
                         f"labelled twice with different labels or with an empty one: {_some(conflicting)}")
    indices = np.array(sorted(given), dtype=np.int64)
    return indices, [given[i] for i in indices]


def _find(file: str, index: dict[str, int]) -> int | None:
    """The image whose path is `file`, or the longest tail of it (a URL or a longer path names the image last)."""
    for candidate in (file, file.replace("\\", "/")):
        parts = candidate.split("/")
        for start in range(len(parts)):
            tail = "/".join(parts[start:])
            if tail in index:
                return index[tail]
    return None


def _some(items: list[str]) -> str:
    shown = ", ".join(items[:_SHOWN])
    return shown + (f" and {len(items) - _SHOWN} more" if len(items) > _SHOWN else "")
