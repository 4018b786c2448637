"""Tests of the loop after the first labels: `latens-select --labels`, `latens.choose(labels=)` and `latens.predict`.

Every run here uses `ae=pca` (pixel PCA: nothing to train) on 16 x 16 grey
images, so that a run takes a second or two in this process, and a few
seconds as the `latens-select` command. The digit folder of
`conftest.write_digit_folder` names each image by its index in
`mnist_sample`, so its true digit is known.
"""

import csv
import json
import pathlib
import re
import shutil
import subprocess
import sys
import types

import numpy as np
import pytest

import latens
from latens import data
from latens.checks import InputError
from latens.select import folder, outdir

COMMAND = pathlib.Path(sys.executable).with_name("latens-select")
PCA = {"ae": "pca", "image_size": 16, "channels": 1}
PCA_FLAGS = ["--ae=pca", "--image_size=16", "--channels=1", "--progress=false"]
PREDICTIONS_HEADER = ["file", "label", "confidence"]


def latens_select(*flags, timeout=240):
    assert COMMAND.exists(), f"{COMMAND} is missing: run `pip install -e .` to install the console script"
    return subprocess.run([str(COMMAND), *flags, *PCA_FLAGS], capture_output=True, text=True, timeout=timeout,
                          check=False)


def run(root, out, n, labels=None):
    return folder.choose(root, out, folder.ChoiceConfig(n=n, **PCA), labels=labels, progress=False)


@pytest.fixture(scope="module")
def truth(digit_folder):
    """Readable path -> its true digit (as a string), from the index in its file name."""
    _, good = digit_folder
    y = data.load("mnist_sample").pool[1]
    return {p: str(y[int(re.search(r"(\d{3})\.\w+$", p).group(1))]) for p in good}


def first_of_each_digit(truth, count=3, kind="grey_"):
    """The first `count` images of each digit among the files named `kind...`: path -> digit."""
    chosen = {}
    for path, digit in sorted(truth.items()):
        if path.rsplit("/", 1)[-1].startswith(kind) and list(chosen.values()).count(digit) < count:
            chosen[path] = digit
    return chosen


def write_labels_csv(path, labels, column="path"):
    path.write_text(f"{column},label\n" + "".join(f"{file},{label}\n" for file, label in labels.items()))


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def read_query(out):
    with open(out / "query.csv", newline="") as f:
        return [row["path"] for row in csv.DictReader(f)]


def read_predictions(out):
    rows = read_csv(out / "predictions.csv")
    assert rows[0] == PREDICTIONS_HEADER
    return [(file, label, float(confidence)) for file, label, confidence in rows[1:]]


def snapshot(out):
    """Every file under `out`: relative path -> (bytes, mtime)."""
    return {p.relative_to(out).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(out.rglob("*")) if p.is_file()}


# -- one cold run, then a labelled run of the command, in the same output folder --


@pytest.fixture(scope="module")
def rounds(digit_folder, truth, tmp_path_factory):
    root, good = digit_folder
    out = tmp_path_factory.mktemp("rounds") / "out"
    run(root, out, 20)
    cold = types.SimpleNamespace(listing=sorted(p.name for p in out.iterdir()), query=read_query(out),
                                 tasks=json.loads((out / "label_studio.json").read_text()))
    model = {p.name: p.stat().st_mtime_ns for p in (out / "cache" / "model").iterdir()}
    labelled = first_of_each_digit(truth)
    labels_file = out / "labels.csv"  # The person's labels, in --out.
    write_labels_csv(labels_file, labelled)
    before = (labels_file.read_bytes(), labels_file.stat().st_mtime_ns)
    result = latens_select(f"--images={root}", f"--out={out}", f"--labels={labels_file}", "--n=15")
    assert result.returncode == 0, result.stderr[-3000:]
    return types.SimpleNamespace(root=root, good=good, out=out, cold=cold, model=model, labelled=labelled,
                                 labels_file=labels_file, labels_before=before, result=result)


def test_a_cold_run_writes_label_studio_tasks_without_predictions_and_no_predictions_csv(rounds):
    cold = rounds.cold
    assert cold.listing == sorted([*folder.OUTPUTS, "cache", outdir.MARKER])
    assert "predictions.csv" not in cold.listing
    assert [task["data"]["latens_path"] for task in cold.tasks] == cold.query and len(cold.query) == 20
    assert all("predictions" not in task for task in cold.tasks)
    prefix = f"/data/local-files/?d={rounds.root.name}/"
    assert all(task["data"]["image"].startswith(prefix) for task in cold.tasks)


def test_a_labelled_run_writes_every_output_and_leaves_the_labels_file(rounds):
    out = rounds.out
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [*folder.LABELLED_OUTPUTS, "cache", outdir.MARKER, "labels.csv"])
    assert rounds.labels_file.read_bytes() == rounds.labels_before[0]
    assert rounds.labels_file.stat().st_mtime_ns == rounds.labels_before[1]
    assert "labels.csv" not in json.loads((out / outdir.MARKER).read_text())["outputs"]


def test_a_labelled_run_chooses_n_new_images(rounds):
    rows = read_csv(rounds.out / "query.csv")
    assert [int(row[0]) for row in rows[1:]] == list(range(1, 16))
    chosen = read_query(rounds.out)
    assert len(set(chosen)) == 15 and set(chosen) <= set(rounds.good)
    assert not set(chosen) & set(rounds.labelled)


def test_predictions_cover_exactly_the_unlabelled_images_least_confident_first(rounds, truth):
    predictions = read_predictions(rounds.out)
    files = [file for file, _, _ in predictions]
    assert len(files) == len(set(files)) == len(rounds.good) - len(rounds.labelled)
    assert set(files) == set(rounds.good) - set(rounds.labelled)
    confidence = np.array([c for _, _, c in predictions])
    assert ((confidence >= 0) & (confidence <= 1)).all()
    assert (np.diff(confidence) >= 0).all()
    assert confidence[0] < confidence[-1]
    assert {label for _, label, _ in predictions} <= set("0123456789")
    right = np.array([label == truth[file] for file, label, _ in predictions])
    # 10 classes (chance 0.1), 3 labels of each: pixel PCA and label spreading get most right.
    assert right.mean() > 0.45, right.mean()
    # The more confident half is right more often than the less confident half.
    half = len(right) // 2
    assert right[half:].mean() > right[:half].mean()


def test_label_studio_tasks_are_the_query_in_order_with_the_suggested_labels(rounds):
    tasks = json.loads((rounds.out / "label_studio.json").read_text())
    chosen = read_query(rounds.out)
    assert [task["data"]["latens_path"] for task in tasks] == chosen
    suggested = {file: (label, confidence) for file, label, confidence in read_predictions(rounds.out)}
    for task in tasks:
        file = task["data"]["latens_path"]
        assert task["data"]["image"] == f"/data/local-files/?d={rounds.root.name}/{file}"
        [prediction] = task["predictions"]
        assert prediction["model_version"] == "latens"
        [result] = prediction["result"]
        assert result["type"] == "choices" and result["value"]["choices"] == [suggested[file][0]]
        assert prediction["score"] == pytest.approx(suggested[file][1], abs=1e-4)


def test_the_labelled_run_reused_the_images_and_the_model(rounds):
    model = {p.name: p.stat().st_mtime_ns for p in (rounds.out / "cache" / "model").iterdir()}
    assert model == rounds.model
    assert "Reusing the model trained in" in rounds.result.stderr
    assert "Reusing the 240 images read before" in rounds.result.stderr


def test_embeddings_and_config_record_the_labels(rounds):
    out, labelled = rounds.out, rounds.labelled
    with np.load(out / "embeddings.npz") as e:
        paths = list(e["paths"])
        assert sorted(paths[i] for i in e["labelled"]) == sorted(labelled)
        assert list(e["classes"]) == list("0123456789")
        probabilities = e["probabilities"]
        assert probabilities.shape == (len(paths), 10)
        np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=1e-6)
        for i in e["labelled"]:  # A labelled image's row is one-hot on its own label.
            assert e["classes"][probabilities[i].argmax()] == labelled[paths[i]] and probabilities[i].max() == 1
        assert [paths[i] for i in e["query"]] == read_query(out)
    config = json.loads((out / "config.json").read_text())
    assert config["labels"] == str(rounds.labels_file.resolve())
    assert config["labelled"] == len(labelled) and config["classes"] == list("0123456789")
    assert config["next_strategy"] == "diverse-margin"


# -- more rounds, each in its own output folder --------------------------------------


def test_n_0_only_pre_labels(digit_folder, truth, tmp_path):
    root, good = digit_folder
    labelled = first_of_each_digit(truth, count=2)
    write_labels_csv(tmp_path / "labels.csv", labelled, column="file")
    out = tmp_path / "out"
    run(root, out, 0, labels=tmp_path / "labels.csv")
    assert read_csv(out / "query.csv") == [read_csv(out / "query.csv")[0]] and read_query(out) == []
    assert read_csv(out / "query.csv")[0][:3] == ["rank", "path", "cluster"]
    assert json.loads((out / "label_studio.json").read_text()) == []
    files = [file for file, _, _ in read_predictions(out)]
    assert sorted(files) == sorted(set(good) - set(labelled))
    with np.load(out / "embeddings.npz") as e:
        assert len(e["query"]) == 0
    assert (out / "contact_sheet.png").stat().st_size > 0 and (out / "latent.png").stat().st_size > 0


def test_n_0_without_labels_is_refused(digit_folder, tmp_path):
    root, _ = digit_folder
    with pytest.raises(InputError, match=r"n must be at least 1 \(n=0 only pre-labels, which needs labels\)"):
        run(root, tmp_path / "out", 0)
    assert not (tmp_path / "out").exists()


def test_a_later_run_without_labels_removes_predictions_and_keeps_the_persons_files(digit_folder, truth, tmp_path):
    root, _ = digit_folder
    out = tmp_path / "out"
    run(root, out, 5)  # A new --out must be new or empty: the person's files join it after a first run.
    labels_file = out / "labels.csv"
    write_labels_csv(labels_file, first_of_each_digit(truth, count=2))
    (out / "notes.txt").write_text("mine\n")
    run(root, out, 5, labels=labels_file)
    assert (out / "predictions.csv").exists()
    kept = {name: ((out / name).read_bytes(), (out / name).stat().st_mtime_ns) for name in ("labels.csv", "notes.txt")}
    run(root, out, 5)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [*folder.OUTPUTS, "cache", outdir.MARKER, "labels.csv", "notes.txt"])
    assert kept == {name: ((out / name).read_bytes(), (out / name).stat().st_mtime_ns) for name in kept}
    assert all("predictions" not in task for task in json.loads((out / "label_studio.json").read_text()))
    assert "labels" not in json.loads((out / "config.json").read_text())
    with np.load(out / "embeddings.npz") as e:
        assert "labelled" not in e and "probabilities" not in e


def test_the_loop_through_a_label_studio_export_then_class_folders(digit_folder, truth, tmp_path):
    """First round: tasks out, the export back; second round: the labels as one folder per class."""
    root, good = digit_folder
    out = tmp_path / "out"
    run(root, out, 12)
    tasks = json.loads((out / "label_studio.json").read_text())
    # What Label Studio exports once a person has labelled the tasks (the first left unlabelled).
    for task in tasks[1:]:
        task["annotations"] = [{"result": [{"from_name": "label", "to_name": "image", "type": "choices",
                                            "value": {"choices": [truth[task["data"]["latens_path"]]]}}],
                                "was_cancelled": False}]
    export = out / "export.json"
    export.write_text(json.dumps(tasks))
    first = {task["data"]["latens_path"] for task in tasks[1:]}
    if len({truth[p] for p in first}) < 2:
        pytest.skip("the first round's images are all of one digit")  # diverse-margin needs two classes.
    run(root, out, 10, labels=export)
    second = read_query(out)
    assert len(set(second)) == 10 and not set(second) & first
    assert sorted(file for file, _, _ in read_predictions(out)) == sorted(set(good) - first)
    with np.load(out / "embeddings.npz") as e:
        assert sorted(e["paths"][i] for i in e["labelled"]) == sorted(first)

    classes = tmp_path / "classes"  # Copies of the images, one folder per digit, matched by file name.
    for path in first | set(second):
        (classes / truth[path]).mkdir(parents=True, exist_ok=True)
        shutil.copy(root / path, classes / truth[path])
    run(root, out, 10, labels=classes)
    third = read_query(out)
    assert len(set(third)) == 10 and not set(third) & (first | set(second))
    assert len(read_predictions(out)) == len(good) - len(first) - 10
    assert json.loads((out / "config.json").read_text())["labelled"] == len(first) + 10
    assert export.exists()


# -- labels that do not fit: one line, the previous outputs kept -----------------------


@pytest.fixture(scope="module")
def labelled_out(digit_folder, truth, tmp_path_factory):
    """An output folder after a labelled run, and its files."""
    root, _ = digit_folder
    out = tmp_path_factory.mktemp("bad") / "out"
    run(root, out, 5)
    write_labels_csv(out / "labels.csv", first_of_each_digit(truth, count=2))
    run(root, out, 5, labels=out / "labels.csv")
    return out, snapshot(out)


BAD_LABELS = [
    ("path,label\nnowhere.png,3\n", r"1 labelled file is not among the images read: nowhere.png$"),
    ("path,label\ngrey_000.png,5\ngrey_000.png,3\n", (r"1 image labelled twice with different labels or with an "
                                                     r"empty one: grey_000.png \('5' and '3'\)$")),
    ("path,label\ngrey_000.png,\n", r"line 2 has an empty file or label$"),
    ("image,label\ngrey_000.png,5\n", r"needs a header with a file \(or path\) column and a label column"),
    ("path,label\n", r"holds no labelled image$"),
    ("path,label\ngrey_000.png,5\na/grey_001.png,5\n", (r"--next_strategy=diverse-margin weighs the pre-labels' "
                                                       r"doubt, which needs labels of at least two classes; got "
                                                       r"only '5'$")),
]


BAD_IDS = ["unknown-file", "labelled-twice", "empty-label", "no-file-column", "header-only", "one-class"]


@pytest.mark.parametrize("text, message", [BAD_LABELS[0], BAD_LABELS[-1]], ids=[BAD_IDS[0], BAD_IDS[-1]])
def test_bad_labels_end_the_command_with_one_line_and_keep_the_outputs(labelled_out, digit_folder, tmp_path, text,
                                                                       message):
    root, _ = digit_folder
    out, before = labelled_out
    labels_file = tmp_path / "bad.csv"
    labels_file.write_text(text)
    result = latens_select(f"--images={root}", f"--out={out}", f"--labels={labels_file}", "--n=5")
    assert result.returncode == 1, result.stderr[-3000:]
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("latens-select: error: "), last_line
    assert re.search(message, last_line), last_line
    assert "Traceback" not in result.stderr
    assert snapshot(out) == before


@pytest.mark.parametrize("text, message", [
    *BAD_LABELS,
    (None, r"^labels \S+nowhere.csv does not exist$"),
], ids=[*BAD_IDS, "missing"])
def test_bad_labels_in_python_keep_the_outputs(labelled_out, digit_folder, tmp_path, text, message):
    root, _ = digit_folder
    out, before = labelled_out
    labels_file = tmp_path / ("nowhere.csv" if text is None else "bad.csv")
    if text is not None:
        labels_file.write_text(text)
    with pytest.raises(InputError, match=message.replace("--next_strategy", "next_strategy")):
        run(root, out, 5, labels=labels_file)
    assert snapshot(out) == before


def test_more_than_the_unlabelled_images_is_refused(labelled_out, digit_folder, tmp_path):
    root, good = digit_folder
    out, before = labelled_out
    labels = {p: "1" if i % 2 else "7" for i, p in enumerate(good[:200])}
    write_labels_csv(tmp_path / "many.csv", labels)
    with pytest.raises(InputError, match=r"only 40 of the 240 images are not labelled, fewer than n = 41$"):
        run(root, out, 41, labels=tmp_path / "many.csv")
    assert snapshot(out) == before


# -- the Python API ----------------------------------------------------------------


@pytest.fixture(scope="module")
def digits():
    """120 digits of mnist_sample, their true labels, and 3 labels of each digit (index -> label)."""
    x, y = data.load("mnist_sample").pool
    x, y = x[:120, :, :, 0], y[:120].astype(str)
    given = {}
    for i, label in enumerate(y):
        if list(given.values()).count(label) < 3:
            given[i] = label
    return x, y, given


def test_choose_with_labels_chooses_n_images_none_labelled(digits, tmp_path):
    x, _, given = digits
    chosen = latens.choose(x, 10, labels=given, cache_dir=tmp_path, **PCA)
    assert chosen.dtype == np.int64 and chosen.shape == (10,)
    assert len(set(chosen.tolist())) == 10 and ((chosen >= 0) & (chosen < len(x))).all()
    assert not set(chosen.tolist()) & set(given)
    # One label (or None) per image is the same labels.
    sequence = [given.get(i) for i in range(len(x))]
    np.testing.assert_array_equal(latens.choose(x, 10, labels=sequence, cache_dir=tmp_path, **PCA), chosen)


def test_predict_suggests_a_label_for_every_image_and_keeps_the_given_ones(digits, tmp_path):
    x, y, given = digits
    labels, confidence = latens.predict(x, given, cache_dir=tmp_path, **PCA)
    assert labels.shape == confidence.shape == (len(x),)
    assert ((confidence >= 0) & (confidence <= 1)).all()
    for i, label in given.items():
        assert labels[i] == label and confidence[i] == 1
    others = np.setdiff1d(np.arange(len(x)), list(given))
    assert (labels[others] == y[others]).mean() > 0.45
    assert (confidence[others] < 1).any()


@pytest.mark.parametrize("labels, message", [
    ({-1: "3"}, r"labels' keys must be image indices from 0 to 119, got -1$"),
    ({120: "3"}, r"labels' keys must be image indices from 0 to 119, got 120$"),
    ({"0": "3"}, r"labels' keys must be image indices from 0 to 119, got '0'$"),
    ({True: "3"}, r"labels' keys must be image indices from 0 to 119, got True$"),
    ({0: "5", 1: " "}, r"image 1 has an empty label$"),
    ({0: "5", 1: None}, r"image 1 has an empty label$"),
    ("5041", r"labels must be a mapping from image index to label, or one label per image; got str$"),
    (["5", "0"], r"labels must give one label \(or None\) per image: 2 for 120 images$"),
    ({0: "5", 1: "5"}, r"at least two classes"),
])
@pytest.mark.parametrize("call", ["choose", "predict"])
def test_bad_labels_in_the_python_api_are_one_input_error(digits, call, labels, message):
    x, _, _ = digits
    with pytest.raises(InputError, match=message):
        if call == "choose":
            latens.choose(x, 5, labels=labels, **PCA)
        else:
            latens.predict(x, labels, **PCA)


def test_choose_more_than_the_unlabelled_images_is_refused(digits):
    x, _, _ = digits
    labels = {i: str(i % 2) for i in range(115)}
    with pytest.raises(InputError, match=r"only 5 of the 120 images are not labelled, fewer than n = 6$"):
        latens.choose(x, 6, labels=labels, **PCA)
