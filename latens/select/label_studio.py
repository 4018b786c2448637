"""The hand-off to Label Studio: import tasks for the images to label, and the labels read back from its export.

latens chooses which images a person should label first; the person labels
them in Label Studio (https://labelstud.io, verified with Label Studio
1.23.2 running locally) and brings the export back to `latens-select
--labels`. This module holds both ends, numpy/stdlib only:

* `label_config(classes)`: the labelling config (XML) of a single-choice
  image-classification project, `<Choices name="label" toName="image">`
  over `<Image name="image" value="$image">` (Label Studio's "Image
  Classification" template,
  https://labelstud.io/templates/image_classification).
* `tasks(paths, predictions=...)`: one import task per image, in the order
  to label them, in Label Studio's JSON import format
  (https://labelstud.io/guide/tasks#Basic-Label-Studio-JSON-format): `data`
  holds the image's URL and latens' own `latens_path`; a suggested label
  becomes a `predictions` entry
  (https://labelstud.io/guide/predictions), shown to the person as a
  pre-annotation. `write_tasks` writes them as `label_studio.json`.
* `read_export(path)`: the `(file, label)` pairs of a project's "JSON"
  export (https://labelstud.io/guide/export#Label-Studio-JSON-format-of-annotated-tasks):
  a list of tasks, each with its `data` as imported and its `annotations`.

Images are served by Label Studio's local files serving: it serves
`/data/local-files/?d=<path>` from `LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT`,
and (since 1.23) only files under the path of a "Local files" import
storage of the project, a path that must be a strict subfolder of the
document root. So the document root is the images folder's parent, the
storage is the images folder, and the URLs name the images folder:
`tasks(paths, url_prefix=local_files_prefix("digits"))` for a folder
`.../digits` (docs/folder.md, "Labelling in Label Studio", gives the
commands). The export carries `data.latens_path` back, so the file read
back is always the path relative to the images folder whatever the URL.
"""

from __future__ import annotations

import datetime
import json
import os
import urllib.parse
from collections.abc import Mapping, Sequence
from xml.sax.saxutils import quoteattr

from absl import logging

from latens import fileio
from latens.checks import InputError

FROM_NAME = "label"
TO_NAME = "image"
MODEL_VERSION = "latens"
LOCAL_FILES_URL = "/data/local-files/?d="

# `label_config`'s template: `{choices}` is one `<Choice value="..."/>` line per class.
LABEL_CONFIG = """<View>
  <Image name="image" value="$image"/>
  <Choices name="label" toName="image" choice="single-radio" showInline="true">
{choices}
  </Choices>
</View>
"""


def label_config(classes: Sequence[str]) -> str:
    """The labelling config of a single-choice image-classification project.

    Args:
      classes: the label names, in the order to show them; non-empty
        strings, each once.

    Returns:
      The XML to paste into the project's "Labeling Interface" (or to send
      as `label_config` when creating it through the API).

    Raises:
      InputError: no class, an empty or repeated class name.
    """
    classes = [str(c) for c in classes]
    if not classes:
        raise InputError("a Label Studio labelling config needs at least one class")
    if any(not c.strip() for c in classes):
        raise InputError(f"a class name is empty: {classes}")
    repeated = sorted({c for c in classes if classes.count(c) > 1})
    if repeated:
        raise InputError(f"class names are repeated: {repeated}")
    choices = "\n".join(f"    <Choice value={quoteattr(c)}/>" for c in classes)
    return LABEL_CONFIG.format(choices=choices)


def local_files_prefix(folder: str = "") -> str:
    """The `url_prefix` of images under `folder` (relative to Label Studio's document root, `/`-separated).

    Args:
      folder: the images folder's path below `LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT`
        (its name, with the root its parent); "" for the root itself.

    Returns:
      `/data/local-files/?d=<folder, quoted>/`, or `/data/local-files/?d=`.
    """
    folder = folder.strip("/")
    return LOCAL_FILES_URL + (_quote(folder) + "/" if folder else "")


def tasks(paths: Sequence[str], *, predictions: Mapping[str, tuple[str, float]] | None = None,
          url_prefix: str = LOCAL_FILES_URL) -> list[dict]:
    """Label Studio import tasks, one per image, in the given order (the order to label them).

    Args:
      paths: the images' paths relative to the images folder, `/`-separated
        (as `query.csv` writes them).
      predictions: path -> `(label, confidence)`, the suggested label of
        some images; each becomes a pre-annotation of its task.
      url_prefix: what precedes the quoted path in the image URL (see
        `local_files_prefix`; a web server's address ending in `/` works too).

    Returns:
      `[{"data": {"image": url, "latens_path": path}, "predictions": [...]}, ...]`;
      `predictions` only where the path has one: `model_version` "latens",
      `score` the confidence, and a `choices` result with the label.
    """
    predictions = predictions or {}
    out = []
    for path in paths:
        path = str(path)
        task = {"data": {"image": url_prefix + _quote(path), "latens_path": path}}
        if path in predictions:
            label, confidence = predictions[path]
            task["predictions"] = [{
                "model_version": MODEL_VERSION,
                "score": float(confidence),
                "result": [{"from_name": FROM_NAME, "to_name": TO_NAME, "type": "choices",
                            "value": {"choices": [str(label)]}}],
            }]
        out.append(task)
    return out


def write_tasks(path: str | os.PathLike, tasks: Sequence[dict]) -> None:
    """Writes import tasks as a JSON file (atomically: whole or not at all).

    Args:
      path: the file to write (`label_studio.json`).
      tasks: what `tasks` returned.
    """
    fileio.write_text(path, json.dumps(list(tasks), indent=1, ensure_ascii=False) + "\n")


def read_export(path_or_data, *, url_prefix: str = LOCAL_FILES_URL) -> list[tuple[str, str]]:
    """The labelled files of a Label Studio "JSON" export, in the export's order.

    A task's file is its `data.latens_path` (written by `tasks`), else its
    `data.image` with `url_prefix` (or a local-files URL on any host) taken
    off and unquoted; another path or URL is kept as given (the caller
    matches its last components). Its label is the only `choices` value of
    its latest annotation (by `updated_at`, else `created_at`, then order)
    that is not cancelled and holds a choice; tasks without one (not
    labelled yet, skipped) are left out, and their count is logged.

    Args:
      path_or_data: the export file, or its parsed JSON (a list of tasks).
      url_prefix: the prefix that `tasks` was given.

    Returns:
      `(file, label)` pairs, labels as given.

    Raises:
      InputError: the file missing, not JSON or not a list of tasks; a
        deciding annotation with two choices or more; an empty label.
    """
    if isinstance(path_or_data, (str, os.PathLike)):
        source = os.fspath(path_or_data)
        try:
            with open(source, encoding="utf-8-sig") as f:
                data = json.load(f)
        except OSError as error:
            raise InputError(f"cannot read {source}: {error.strerror or error}") from None
        except (ValueError, UnicodeDecodeError) as error:
            raise InputError(f"{source} is not a Label Studio JSON export: {error}") from None
    else:
        source, data = "the labels", path_or_data
    if not isinstance(data, list):
        raise InputError(f"{source} is not a Label Studio JSON export: it holds a {type(data).__name__}, "
                         "not a list of tasks")
    pairs, unlabelled = [], 0
    for number, task in enumerate(data, start=1):
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            raise InputError(f"{source} is not a Label Studio JSON export: task {number} has no data")
        name = f"task {task.get('id', number)}"
        label = _label(task, source, name)
        if label is None:
            unlabelled += 1
            continue
        pairs.append((_file(task["data"], url_prefix, source, name), label))
    if unlabelled:
        logging.info("%s: %d of %d tasks have no label (not annotated, or cancelled) and are left out.",
                     source, unlabelled, len(data))
    return pairs


def _label(task: dict, source: str, name: str) -> str | None:
    """The label of the latest annotation that is not cancelled and holds a choice; None if none does."""
    annotations = task.get("annotations") or []
    if not isinstance(annotations, list):
        raise InputError(f"{source} is not a Label Studio JSON export: {name}'s annotations are not a list")
    ordered = sorted(enumerate(a for a in annotations if isinstance(a, dict)),
                     key=lambda item: (_time(item[1].get("updated_at") or item[1].get("created_at")), item[0]))
    for _, annotation in reversed(ordered):
        if annotation.get("was_cancelled"):
            continue
        choices = [choice for result in annotation.get("result") or []
                   if isinstance(result, dict) and result.get("type") == "choices"
                   for choice in (result.get("value") or {}).get("choices") or []]
        if not choices:
            continue
        if len(choices) > 1:
            raise InputError(f"{source}: {name}'s annotation holds {len(choices)} choices {choices}; "
                             "latens needs one label per image")
        label = choices[0]
        if not isinstance(label, str):
            raise InputError(f"{source}: {name}'s label {label!r} is not a string")
        if not label.strip():
            raise InputError(f"{source}: {name}'s label is empty")
        return label
    return None


def _time(value) -> datetime.datetime:
    """An annotation's timestamp (ISO 8601, as Label Studio writes it); the earliest time if absent or unreadable."""
    try:  # Python 3.10's fromisoformat does not read a trailing Z.
        time = datetime.datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
    except (AttributeError, TypeError, ValueError):
        return datetime.datetime.min.replace(tzinfo=datetime.timezone.utc)
    return time if time.tzinfo else time.replace(tzinfo=datetime.timezone.utc)


def _file(data: dict, url_prefix: str, source: str, name: str) -> str:
    """The task's image: `latens_path`, or the path recovered from its URL."""
    path = data.get("latens_path")
    if isinstance(path, str) and path:
        return path
    url = data.get("image")
    if not isinstance(url, str) or not url:
        raise InputError(f"{source}: {name} has neither data.latens_path nor data.image")
    for prefix in dict.fromkeys((url_prefix, LOCAL_FILES_URL)):
        if prefix and url.startswith(prefix):
            return urllib.parse.unquote(url[len(prefix):])
    parsed = urllib.parse.urlsplit(url)  # A local-files URL with a host: http://localhost:8080/data/local-files/?d=...
    if parsed.path.rstrip("/") == LOCAL_FILES_URL.split("?")[0].rstrip("/"):
        value = urllib.parse.parse_qs(parsed.query).get("d")
        if value:
            return value[0]
    return url


def _quote(path: str) -> str:
    """`path` quoted for a URL's query value (`/` kept)."""
    return urllib.parse.quote(path, safe="/")
