"""The hand-off to Label Studio (`latens.select.label_studio`): import tasks out, the JSON export's labels in.

The unit tests read `tests/data/label_studio_export.json`, an export written
by a real Label Studio server (tests/data/README.md). One integration test
runs the round trip against a real server, started here on a free port with
a temporary data folder; it skips, saying why, where Label Studio is not
installed. A fresh server spends most of a minute creating its database, so
the test keeps a copy of the database a server made (its user and token, no
project) in pytest's cache, one per Label Studio installation, and starts
from it the next time (about ten seconds). Run as a script (`python
tests/test_label_studio.py --write-fixture`) this file writes the fixture
again with the same server helpers, from a fresh database.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import pathlib
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from xml.etree import ElementTree

import numpy as np
import pytest

from latens.checks import InputError
from latens.select import label_studio

FIXTURE = pathlib.Path(__file__).parent / "data" / "label_studio_export.json"
# What the fixture's person chose: its 12 digits are `<index>_<digit>.png`; 10_3 was skipped (cancelled) and 11_5
# never opened; 02_4 was first labelled 7 and corrected, 05_2 has a first annotation 7 and a later one 2, and 09_4
# a later cancelled annotation after its label.
FIXTURE_LABELS = [("00_5.png", "5"), ("01_0.png", "0"), ("02_4.png", "4"), ("03_1.png", "1"), ("04_9.png", "9"),
                  ("05_2.png", "2"), ("06_1.png", "1"), ("07_3.png", "3"), ("08_1.png", "1"), ("09_4.png", "4")]
DIGITS = [str(d) for d in range(10)]
NOT_INSTALLED = "Label Studio is not installed (pip install label-studio, or set LATENS_LABEL_STUDIO=...)"
_TOKEN = "latens-test-token-0123456789"
_START_TIMEOUT_S = 300  # A fresh database's migrations take about a minute on 2 cores.
_DATABASE = "label_studio.sqlite3"


def _annotation(label, **fields):
    result = [] if label is None else [{"from_name": "label", "to_name": "image", "type": "choices",
                                        "value": {"choices": [label] if isinstance(label, str) else label}}]
    return {"result": result, "was_cancelled": False, **fields}


def _task(path, *annotations, image=None):
    data = {"image": image or label_studio.LOCAL_FILES_URL + path}
    if path is not None:
        data["latens_path"] = path
    return {"id": 1, "data": data, "annotations": list(annotations)}


# --- the labelling config ---


def test_label_config_is_a_single_choice_classification_of_the_image():
    classes = ["cat", "dog & wolf", 'say "hi"', "<b>", "été"]
    root = ElementTree.fromstring(label_studio.label_config(classes))
    image, choices = root.find("Image"), root.find("Choices")
    assert (image.get("name"), image.get("value")) == ("image", "$image")
    assert (choices.get("name"), choices.get("toName"), choices.get("choice")) == ("label", "image", "single-radio")
    assert [c.get("value") for c in choices.findall("Choice")] == classes


@pytest.mark.parametrize("classes, match", [([], "at least one class"), (["a", " "], "empty"),
                                            (["a", "b", "a"], "repeated: \\['a'\\]")])
def test_label_config_refuses_bad_classes(classes, match):
    with pytest.raises(InputError, match=match):
        label_studio.label_config(classes)


# --- import tasks ---


def test_tasks_keep_the_order_quote_the_url_and_carry_the_path():
    paths = ["b/2.png", "a b/#1+%.png", "été/ü&x=1.png", "a.png"]
    tasks = label_studio.tasks(paths)
    assert [t["data"]["latens_path"] for t in tasks] == paths
    assert [t["data"]["image"] for t in tasks] == [
        "/data/local-files/?d=b/2.png", "/data/local-files/?d=a%20b/%231%2B%25.png",
        "/data/local-files/?d=%C3%A9t%C3%A9/%C3%BC%26x%3D1.png", "/data/local-files/?d=a.png"]
    assert all("predictions" not in t for t in tasks)
    # What Label Studio's server reads back from the query (`?d=`) is the path itself.
    assert [urllib.parse.parse_qs(t["data"]["image"].split("?")[1])["d"][0] for t in tasks] == paths


def test_tasks_turn_predictions_into_pre_annotations():
    tasks = label_studio.tasks(["x/1.png", "2.png"], predictions={"2.png": (np.str_("7"), np.float32(0.25))},
                               url_prefix=label_studio.local_files_prefix("my digits"))
    assert tasks[0] == {"data": {"image": "/data/local-files/?d=my%20digits/x/1.png", "latens_path": "x/1.png"}}
    assert tasks[1]["predictions"] == [{"model_version": "latens", "score": 0.25, "result": [
        {"from_name": "label", "to_name": "image", "type": "choices", "value": {"choices": ["7"]}}]}]
    assert type(tasks[1]["predictions"][0]["score"]) is float
    assert type(tasks[1]["predictions"][0]["result"][0]["value"]["choices"][0]) is str


def test_write_tasks_writes_json(tmp_path):
    tasks = label_studio.tasks(["é.png"], predictions={"é.png": ("a", 0.5)})
    label_studio.write_tasks(tmp_path / "label_studio.json", tasks)
    assert json.loads((tmp_path / "label_studio.json").read_text(encoding="utf-8")) == tasks
    assert [p.name for p in tmp_path.iterdir()] == ["label_studio.json"]


def test_local_files_prefix():
    assert label_studio.local_files_prefix() == "/data/local-files/?d="
    assert label_studio.local_files_prefix("/a b/c/") == "/data/local-files/?d=a%20b/c/"


# --- the export ---


def test_read_export_reads_the_labels_given_in_label_studio(caplog):
    with caplog.at_level(logging.INFO):
        assert label_studio.read_export(FIXTURE) == FIXTURE_LABELS
    assert [r.getMessage() for r in caplog.records if "no label" in r.getMessage()] == [
        f"{FIXTURE}: 2 of 12 tasks have no label (not annotated, or cancelled) and are left out."]


def test_read_export_finds_the_file_without_latens_path():
    export = json.loads(FIXTURE.read_text(encoding="utf-8"))
    for task in export:
        del task["data"]["latens_path"]
    # The fixture's URLs name the images folder (`digits/`), the storage Label Studio serves them from.
    assert label_studio.read_export(export) == [(f"digits/{f}", label) for f, label in FIXTURE_LABELS]
    prefix = label_studio.local_files_prefix("digits")
    assert label_studio.read_export(export, url_prefix=prefix) == FIXTURE_LABELS


@pytest.mark.parametrize("image, file", [
    ("/data/local-files/?d=a%20b/%231%2B.png", "a b/#1+.png"),
    ("http://localhost:8080/data/local-files/?d=a%20b/c.png", "a b/c.png"),
    ("https://example.com/images/a/c.png", "https://example.com/images/a/c.png"),
    ("/abs/path/c.png", "/abs/path/c.png"),
])
def test_read_export_recovers_the_file_from_the_url(image, file):
    assert label_studio.read_export([_task(None, _annotation("x"), image=image)]) == [(file, "x")]


def test_read_export_takes_the_latest_annotation_that_is_not_cancelled():
    first = _annotation("a", created_at="2026-01-01T10:00:00Z", updated_at="2026-01-01T10:00:00Z")
    edited = _annotation("b", created_at="2026-01-01T09:00:00Z", updated_at="2026-01-02T08:00:00.500000+00:00")
    cancelled = _annotation(None, was_cancelled=True, created_at="2026-01-03T10:00:00Z")
    empty = _annotation(None, created_at="2026-01-04T10:00:00Z")
    assert label_studio.read_export([_task("p.png", edited, first, cancelled, empty)]) == [("p.png", "b")]
    assert label_studio.read_export([_task("p.png", first, _annotation("c"))]) == [("p.png", "a")]  # No time: oldest.
    assert label_studio.read_export([_task("p.png", _annotation("c"), _annotation(" d "))]) == [("p.png", " d ")]
    assert label_studio.read_export([_task("p.png", cancelled), _task("q.png"), {"data": {"image": "x"}}]) == []


@pytest.mark.parametrize("content, match", [
    ("{not json", "is not a Label Studio JSON export: Expecting property name"),
    ('{"tasks": []}', "is not a Label Studio JSON export: it holds a dict, not a list of tasks"),
    ('[{"id": 3}]', "is not a Label Studio JSON export: task 1 has no data"),
    (json.dumps([_task("p.png", _annotation(["1", "2"]))]), r"task 1's annotation holds 2 choices \['1', '2'\]"),
    (json.dumps([_task("p.png", _annotation(""))]), "task 1's label is empty"),
    (json.dumps([_task("p.png", _annotation([3]))]), "task 1's label 3 is not a string"),
    (json.dumps([{"data": {}, "annotations": [_annotation("a")]}]), "neither data.latens_path nor data.image"),
])
def test_read_export_refuses_what_is_not_an_export(tmp_path, content, match):
    path = tmp_path / "export.json"
    path.write_text(content)
    with pytest.raises(InputError, match=match) as error:
        label_studio.read_export(path)
    assert "\n" not in str(error.value)


def test_read_export_names_a_missing_file(tmp_path):
    with pytest.raises(InputError, match="cannot read .*nope.json: No such file"):
        label_studio.read_export(tmp_path / "nope.json")


# --- a real Label Studio server ---


def _executable() -> str | None:
    for candidate in (os.environ.get("LATENS_LABEL_STUDIO"), shutil.which("label-studio"),
                      "/work/lsvenv/bin/label-studio"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


class Server:
    """A Label Studio server of its own (SQLite in `data_dir`), serving local files under `document_root`."""

    def __init__(self, executable: str, data_dir: pathlib.Path, document_root: pathlib.Path):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LABEL_STUDIO_", "HEARTEX_", "DJANGO_"))}
        env.update(
            LABEL_STUDIO_BASE_DATA_DIR=str(data_dir),  # Nothing written in $HOME.
            LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED="true",
            LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT=str(document_root),
            LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN="true",  # `Authorization: Token <--user-token>`.
            LATEST_VERSION_CHECK="false", COLLECT_ANALYTICS="false")
        self.log = data_dir / "server.log"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [executable, "start", "--data-dir", str(data_dir), "--no-browser", "--internal-host", "127.0.0.1",
                 "--port", str(self.port), "--username", "person@example.com", "--password", "latens-password",
                 "--user-token", _TOKEN],
                env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)

    def wait(self, timeout: float = _START_TIMEOUT_S) -> None:
        """Returns once the server answers; `RuntimeError` with its log's tail if it stops or takes too long."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=5) as response:
                    if response.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(1)
        tail = self.log.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"Label Studio did not start in {timeout} s (exit status {self.process.poll()}):\n{tail}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def api(self, method: str, path: str, body=None, *, raw: bool = False):
        """Calls the REST API with the user's token; the parsed JSON, or `(content type, bytes)` with `raw`."""
        request = urllib.request.Request(
            self.url + path, method=method, data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Token {_TOKEN}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                data = response.read()
                return (response.headers.get("Content-Type"), data) if raw else json.loads(data or b"null")
        except urllib.error.HTTPError as error:
            raise RuntimeError(f"{method} {path}: {error.code} {error.read()[:1000]!r}") from None

    def project(self, images: pathlib.Path, classes) -> int:
        """A new project with latens' labelling config, serving `images` (a subfolder of the document root)."""
        project = self.api("POST", "/api/projects", {"title": "latens", "label_config": label_studio.label_config(
            classes)})["id"]
        # Since 1.23 a file is served only under the path of a project's Local files storage (never synced here:
        # syncing would make a second task per image).
        self.api("POST", "/api/storages/localfiles", {"project": project, "path": str(images), "title": images.name})
        return project

    def annotate(self, task_id: int, label: str | None, *, cancel: bool = False) -> int:
        """What a person's submit (or skip, with `cancel`) of a task posts; the annotation's id."""
        body = _annotation(None if cancel else label, was_cancelled=cancel, lead_time=2.0)
        return self.api("POST", f"/api/tasks/{task_id}/annotations", body)["id"]

    def tasks(self, project: int) -> dict[str, dict]:
        """`latens_path` -> the task, as the API gives it."""
        tasks = self.api("GET", f"/api/tasks?project={project}&page_size=1000&fields=all")["tasks"]
        return {t["data"]["latens_path"]: t for t in tasks}

    def export(self, project: int) -> list:
        """The project's "JSON" export, every task (unlabelled ones too)."""
        _, data = self.api("GET", f"/api/projects/{project}/export?exportType=JSON&download_all_tasks=true", raw=True)
        return json.loads(data)


@contextlib.contextmanager
def _server(root: pathlib.Path, cache: pathlib.Path | None = None):
    """A server in `root/data` serving `root/files`; its new database copied from (or, if absent, into) `cache`."""
    executable = _executable()
    if executable is None:
        pytest.skip(NOT_INSTALLED)
    (root / "data").mkdir()
    (root / "files").mkdir()
    template = None
    if cache is not None:  # One per installation: reinstalling rewrites the executable.
        stat = os.stat(executable)
        key = hashlib.sha256(f"{os.path.realpath(executable)}:{stat.st_mtime_ns}:{_TOKEN}".encode()).hexdigest()
        template = cache / f"{key[:16]}.sqlite3"
        if template.is_file():
            shutil.copyfile(template, root / "data" / _DATABASE)
    server = Server(executable, root / "data", root / "files")
    try:
        server.wait()
        if template is not None and not template.is_file():
            _copy_database(root / "data" / _DATABASE, template)
        yield server
    finally:
        server.stop()


def _copy_database(source: pathlib.Path, destination: pathlib.Path) -> None:
    """A consistent copy of a live SQLite database, which appears whole under `destination`."""
    partial = destination.with_name(f".{destination.name}.{os.getpid()}")
    with contextlib.closing(sqlite3.connect(source)) as live, contextlib.closing(sqlite3.connect(partial)) as copy:
        live.backup(copy)
    os.replace(partial, destination)


def _write_digits(folder: pathlib.Path, count: int) -> list[str]:
    from PIL import Image

    from latens import data

    x, y = data.load("mnist_sample").pool
    folder.mkdir(parents=True)
    paths = []
    for i in range(count):
        paths.append(f"{i:02d}_{y[i]}.png")
        Image.fromarray(x[i, :, :, 0]).save(folder / paths[-1])
    return paths


def _import(server: Server, project: int, images: pathlib.Path, paths, predictions) -> dict[str, dict]:
    tasks = label_studio.tasks(paths, predictions=predictions, url_prefix=label_studio.local_files_prefix(images.name))
    server.api("POST", f"/api/projects/{project}/import", tasks)
    imported = server.tasks(project)
    assert list(imported) == paths  # In the order to label them.
    for path, task in imported.items():  # The image is served, and the suggested label is there.
        content_type, data = server.api("GET", task["data"]["image"], raw=True)
        assert (content_type, data) == ("image/png", (images / path).read_bytes())
        suggested = [p["result"][0]["value"]["choices"] for p in task.get("predictions", [])]
        assert suggested == ([[predictions[path][0]]] if path in predictions else [])
    return imported


def test_round_trip_through_a_real_label_studio(tmp_path, pytestconfig):
    started = time.monotonic()
    # A fresh database takes the server most of a minute to build: kept in pytest's cache when there is one.
    cache = pytestconfig.cache.mkdir("label-studio") if hasattr(pytestconfig, "cache") else None
    with _server(tmp_path, cache) as server:
        images = tmp_path / "files" / "my digits"
        paths = _write_digits(images, 4)
        project = server.project(images, DIGITS)
        tasks = _import(server, project, images, paths, {paths[0]: ("5", 0.9), paths[1]: ("6", 0.4)})
        given = {paths[0]: "5", paths[1]: "0", paths[3]: "1"}
        for path, label in given.items():
            server.annotate(tasks[path]["id"], label)
        server.annotate(tasks[paths[2]]["id"], None, cancel=True)
        export = server.export(project)
    assert label_studio.read_export(export) == list(given.items())
    print(f"Label Studio round trip: {time.monotonic() - started:.0f} s")


def write_fixture(out: pathlib.Path = FIXTURE) -> None:
    """Runs a real server through the fixture's story and writes its export to `out` (see FIXTURE_LABELS)."""
    with tempfile.TemporaryDirectory() as root, _server(pathlib.Path(root)) as server:
        images = pathlib.Path(root) / "files" / "digits"
        paths = _write_digits(images, 12)
        project = server.project(images, DIGITS)
        predictions = {p: (p[3], 0.9) for p in paths[:6]}
        predictions[paths[1]] = ("6", 0.4)  # A wrong suggestion, corrected by the person.
        tasks = _import(server, project, images, paths, predictions)
        for path in paths[:10]:
            task = tasks[path]["id"]
            if path == "02_4.png":  # Labelled 7, then corrected.
                annotation = server.annotate(task, "7")
                server.api("PATCH", f"/api/annotations/{annotation}", {"result": _annotation("4")["result"]})
            elif path == "05_2.png":  # A first annotation 7, then another one.
                server.annotate(task, "7")
                server.annotate(task, "2")
            else:
                server.annotate(task, path[3])
            if path == "09_4.png":  # Then skipped.
                server.annotate(task, None, cancel=True)
        server.annotate(tasks["10_3.png"]["id"], None, cancel=True)  # 11_5.png: never opened.
        export = server.export(project)
        version = server.api("GET", "/api/version")["release"]
    assert label_studio.read_export(export) == FIXTURE_LABELS
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(export, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {out} from Label Studio {version}")


if __name__ == "__main__":
    if sys.argv[1:] != ["--write-fixture"]:
        sys.exit(f"usage: python {sys.argv[0]} --write-fixture")
    write_fixture()
