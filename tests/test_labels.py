"""Tests of latens.select.labels.read: the labels a person gives back (CSV, Label Studio export, class folders)."""

import json
import pathlib

import numpy as np
import pytest

from latens.checks import InputError
from latens.select import labels

# The images read from --images, as `query.csv` names them (relative, `/`-separated).
PATHS = ["a/x.png", "b/x.png", "b/y.png", "c/z.jpg", "top.png"]
FIXTURE = pathlib.Path(__file__).parent / "data" / "label_studio_export.json"


def read_csv(tmp_path, text, *, encoding="utf-8", name="labels.csv", paths=PATHS):
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    indices, names = labels.read(path, paths)
    assert indices.dtype == np.int64
    return indices.tolist(), names


# -- CSV ------------------------------------------------------------------------


def test_a_csv_with_a_file_column_gives_indices_in_increasing_order_and_their_labels(tmp_path):
    assert read_csv(tmp_path, "file,label\ntop.png,dog\na/x.png,cat\nc/z.jpg,cat\n") == (
        [0, 3, 4], ["cat", "cat", "dog"])


def test_a_csv_with_a_path_column_and_other_columns_as_query_csv_writes_it(tmp_path):
    text = "rank,path,cluster,z_0,label,note\n1,b/y.png,0,0.5,bird,first\n2,b/x.png,1,0.1,cat,\n"
    assert read_csv(tmp_path, text) == ([1, 2], ["cat", "bird"])


def test_header_names_and_cells_are_read_loosely_labels_kept_as_given(tmp_path):
    # Header case and spaces, spaces around cells, `./`, a short row, labels' own case and inner spaces.
    text = " Label , FILE \r\n  Big Cat , ./a/x.png \r\n\r\ndog,top.png,extra\n"
    assert read_csv(tmp_path, text) == ([0, 4], ["Big Cat", "dog"])


def test_file_column_is_preferred_over_path_when_both_are_there(tmp_path):
    assert read_csv(tmp_path, "path,file,label\nnowhere.png,top.png,dog\n") == ([4], ["dog"])


def test_a_utf8_bom_and_blank_lines_are_ignored(tmp_path):
    text = "file,label\n\na/x.png,chat\n,\n  ,  \n\nb/y.png,éléphant\n\n"
    assert read_csv(tmp_path, text, encoding="utf-8-sig") == ([0, 2], ["chat", "éléphant"])
    assert (tmp_path / "labels.csv").read_bytes().startswith(b"\xef\xbb\xbf")


def test_a_quoted_csv_with_commas_in_labels(tmp_path):
    assert read_csv(tmp_path, 'file,label\n"c/z.jpg","cat, small"\n') == ([3], ["cat, small"])


def test_a_file_is_matched_by_its_unique_name_when_no_image_has_its_path(tmp_path):
    # y.png and z.jpg are each the name of one image; the folders given do not matter then.
    assert read_csv(tmp_path, "file,label\ny.png,bird\nelsewhere/z.jpg,cat\n") == ([2, 3], ["bird", "cat"])


def test_the_same_file_twice_with_the_same_label_is_one_label(tmp_path):
    # Once by path and once by name, both the same image.
    assert read_csv(tmp_path, "file,label\nb/y.png,bird\ny.png,bird\nb/y.png, bird \n") == ([2], ["bird"])


def test_a_file_without_a_json_suffix_that_holds_json_is_read_as_an_export(tmp_path):
    export = [{"data": {"latens_path": "top.png"}, "annotations": [_annotation("dog")]}]
    assert read_csv(tmp_path, json.dumps(export), name="labels.txt") == ([4], ["dog"])


# -- class folders ----------------------------------------------------------------


def touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")  # Never opened: only names count.


def test_a_folder_per_class_matched_by_relative_path_and_by_unique_name(tmp_path):
    root = tmp_path / "classes"
    touch(root / "cat" / "a" / "x.png")  # By relative path below the class folder.
    touch(root / "cat" / "z.jpg")  # By unique name (c/z.jpg).
    touch(root / "dog" / "top.png")
    touch(root / "bird" / "y.png")
    touch(root / "bird" / "notes.txt")  # Not an image: ignored.
    touch(root / "bird" / ".y.png")  # Hidden: ignored.
    touch(root / ".trash" / "b" / "x.png")  # A hidden folder: not a class.
    (root / "README.md").write_text("the classes\n")  # A file beside the class folders: ignored.
    indices, names = labels.read(root, PATHS)
    assert indices.tolist() == [0, 2, 3, 4] and names == ["cat", "bird", "cat", "dog"]


def test_an_empty_class_folder_tree_holds_no_labelled_image(tmp_path):
    (tmp_path / "classes" / "cat").mkdir(parents=True)
    touch(tmp_path / "classes" / "cat" / "notes.txt")
    with pytest.raises(InputError, match=r"labels \S+classes holds no labelled image$"):
        labels.read(tmp_path / "classes", PATHS)


def test_an_image_in_two_class_folders_is_labelled_twice(tmp_path):
    touch(tmp_path / "classes" / "cat" / "top.png")
    touch(tmp_path / "classes" / "dog" / "top.png")
    with pytest.raises(InputError, match=r"1 image labelled twice with different labels .*: top.png \('cat' and 'dog'\)"):
        labels.read(tmp_path / "classes", PATHS)


def test_a_class_folder_whose_name_is_blank_is_an_empty_label(tmp_path):
    touch(tmp_path / "classes" / "  " / "top.png")
    with pytest.raises(InputError, match=r"with an empty one: top.png \(empty label\)"):
        labels.read(tmp_path / "classes", PATHS)


# -- Label Studio export ----------------------------------------------------------


def _annotation(label, **fields):
    return {"result": [{"from_name": "label", "to_name": "image", "type": "choices",
                        "value": {"choices": [label]}}], "was_cancelled": False, **fields}


def test_a_label_studio_export_built_here(tmp_path):
    export = [
        {"id": 1, "data": {"image": "/data/local-files/?d=digits/a/x.png", "latens_path": "a/x.png"},
         "annotations": [_annotation("cat")]},
        # No latens_path: the local-files URL (quoted) gives the path, here the unique name of c/z.jpg.
        {"id": 2, "data": {"image": "/data/local-files/?d=z%2Ejpg"}, "annotations": [_annotation("cat")]},
        {"id": 3, "data": {"latens_path": "b/y.png"},
         "annotations": [_annotation("dog", updated_at="2025-01-01T00:00:00Z"),
                         _annotation("bird", updated_at="2025-01-02T00:00:00Z")]},  # The latest counts.
        {"id": 4, "data": {"latens_path": "top.png"}, "annotations": []},  # Not labelled yet: left out.
        {"id": 5, "data": {"latens_path": "b/x.png"}, "annotations": [_annotation("dog", was_cancelled=True)]},
    ]
    path = tmp_path / "export.json"
    path.write_text(json.dumps(export))
    indices, names = labels.read(path, PATHS)
    assert indices.tolist() == [0, 2, 3] and names == ["cat", "bird", "cat"]


def _fixture_paths():
    tasks = json.loads(FIXTURE.read_text())
    return [task["data"]["latens_path"] for task in tasks]


@pytest.mark.skipif(not FIXTURE.exists(), reason=f"{FIXTURE} is not there (tests/data/README.md makes it)")
@pytest.mark.parametrize("folder", ["", "digits/"])
def test_the_real_label_studio_export_gives_its_labels(folder):
    # Its 12 digits are `<index>_<digit>.png`; 10_3 was cancelled and 11_5 never labelled (tests/data/README.md).
    paths = [folder + p for p in _fixture_paths()]
    assert len(paths) == 12
    indices, names = labels.read(FIXTURE, ["other/extra.png", *paths])  # Inside a folder: matched by name.
    files = [paths[i - 1].rsplit("/", 1)[-1] for i in indices]
    assert files == [f"{i:02d}_{d}.png" for i, d in enumerate("5041921314")]
    assert names == list("5041921314")  # Each file's name ends with its true digit.


# -- errors -----------------------------------------------------------------------


def test_a_missing_path_is_one_line(tmp_path):
    with pytest.raises(InputError, match=r"^labels \S+nowhere.csv does not exist$"):
        labels.read(tmp_path / "nowhere.csv", PATHS)


@pytest.mark.parametrize("text, message", [
    ("", r"labels \S+ is empty; it needs a header with file,label and a row per image$"),
    ("file,label\n", r"labels \S+ holds no labelled image$"),  # A header only.
    ("file,label\n\n,\n \n", r"labels \S+ holds no labelled image$"),  # Only blank rows.
    ("image,label\ntop.png,dog\n", (r"needs a header with a file \(or path\) column and a label column, got "
                                   r"image,label$")),
    ("file,class\ntop.png,dog\n", (r"needs a header with a file \(or path\) column and a label column, got "
                                  r"file,class$")),
    ("top.png,dog\n", r"needs a header with a file \(or path\) column and a label column, got top.png,dog$"),
    ("file,label\ntop.png,dog\na/x.png,  \n", r"labels \S+: line 3 has an empty file or label$"),
    ("file,label\ntop.png\n,cat\na/x.png,cat\n", r"labels \S+: line 2, line 3 have an empty file or label$"),
    ("file,label\ntop.png,dog\nnope.png,cat\n", (r"labels \S+: 1 labelled file is not among the images read: "
                                                r"nope.png$")),
    ("file,label\n" + "".join(f"n{i}.png,cat\n" for i in range(7)),
     r"7 labelled files are not among the images read: n0.png, n1.png, n2.png, n3.png, n4.png and 2 more$"),
    ("file,label\nx.png,cat\n", r"labels \S+: x.png names several images; give the path relative to --images"),
    ("file,label\nd/x.png,cat\n", r"d/x.png names several images"),  # An unknown path whose name is ambiguous.
    ("file,label\nb/y.png,bird\ny.png,dog\n", (r"1 image labelled twice with different labels or with an empty "
                                              r"one: b/y.png \('bird' and 'dog'\)$")),
])
def test_labels_that_do_not_fit_are_one_input_error(tmp_path, text, message):
    path = tmp_path / "labels.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=message) as error:
        labels.read(path, PATHS)
    assert "\n" not in str(error.value)


def test_a_csv_that_is_not_text_is_one_input_error(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_bytes(b"file,label\n\xff\xfe\x00top.png,dog\n")
    with pytest.raises(InputError, match=r"labels \S+ cannot be read as a CSV file"):
        labels.read(path, PATHS)


@pytest.mark.parametrize("export, message", [
    ({"tasks": []}, "is not a Label Studio JSON export: it holds a dict"),
    ([], r"labels \S+export.json holds no labelled image$"),
    ([{"data": {"latens_path": "top.png"}, "annotations": [_annotation("dog", was_cancelled=True)]}],
     "holds no labelled image$"),
    ([{"data": {"latens_path": "nope.png"}, "annotations": [_annotation("dog")]}],
     "1 labelled file is not among the images read: nope.png$"),
    ([{"data": {"latens_path": "top.png"}, "annotations": [_annotation(" ")]}], "label is empty"),
])
def test_an_export_that_does_not_fit_is_one_input_error(tmp_path, export, message):
    path = tmp_path / "export.json"
    path.write_text(json.dumps(export))
    with pytest.raises(InputError, match=message):
        labels.read(path, PATHS)


def test_a_broken_json_export_is_one_input_error(tmp_path):
    path = tmp_path / "export.json"
    path.write_text('[{"data": ')
    with pytest.raises(InputError, match="is not a Label Studio JSON export"):
        labels.read(path, PATHS)
