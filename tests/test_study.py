"""The study's settings and its tables of rows saved by several studies."""

import json

import pytest

from latens.research import study


def _save(workdir, protocol, row, seed, accuracy, dataset="mnist", n=100, classifier=None):
    path = workdir / protocol / "results" / dataset / f"n{n}" / row.replace("/", ".") / f"seed{seed}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    config = {"dataset": dataset, "data_seed": 0, "n": n, "row": row, "seed": seed,
              "selection": {"strategy": row.split("/")[-1]}, "classifier": classifier or {"epochs": None}}
    path.write_text(json.dumps({"config": config, "test_accuracy": accuracy, "query_indices": []}))


def test_the_classifier_trains_in_the_studys_precision_unless_told_otherwise():
    assert study.protocol_config(study.StudyConfig(), "scratch").classifier.precision == "auto"
    config = study.StudyConfig(classifier_precision="float32")
    assert study.protocol_config(config, "scratch").classifier.precision == "float32"
    assert study.protocol_config(config, "scratch").precision == "auto"
    with pytest.raises(ValueError, match="classifier_precision must be one of"):
        study.StudyConfig(classifier_precision="float8")


def test_rows_of_other_studies_are_paired_beside_this_ones(tmp_path):
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    for seed, (joined, random) in enumerate([(0.84, 0.78), (0.86, 0.79), (0.85, 0.81)]):
        # The precision aside, the two studies scored their cells alike.
        _save(ours, "scratch", "simclr+cae16/cluster-medoid", seed, joined, classifier={"epochs": None,
                                                                                        "precision": "float32"})
        _save(theirs, "scratch", "random", seed, random, classifier={"epochs": None, "precision": "auto"})
    config = study.StudyConfig(workdir=str(ours))
    alone = study.table(config, "scratch")  # its own rows alone, written to its table1.md
    assert "| random |" not in alone and (ours / "scratch" / "table1.md").read_text() == alone
    lines = study.table(config, "scratch", beside=[str(theirs)]).splitlines()
    # Gains 6, 7 and 4 points: mean 5.7, t(0.975, 2) * 1.53 / sqrt(3) = 3.8.
    assert "| SimCLR + CAE (L = 16) cluster-medoid | +5.7 [+1.9, +9.5] (3) |" in lines
    assert (ours / "scratch" / "table1.md").read_text() == alone  # a table with other studies' rows is printed only
    versus = study.versus(config, "scratch", "simclr+cae16.cluster-medoid", beside=[str(theirs)]).splitlines()
    assert "| random | -5.7 [-9.5, -1.9] (3) |" in versus
    _save(theirs, "scratch", "simclr+cae16/cluster-medoid", 0, 0.5)
    with pytest.raises(ValueError, match="saved by more than one study"):
        study.table(config, "scratch", beside=[str(theirs)])
    with pytest.raises(ValueError, match="saved by more than one study"):
        study.table(config, "scratch", beside=[str(ours)])


def test_cells_scored_by_another_classifier_do_not_pair(tmp_path):
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    _save(ours, "scratch", "simclr+cae16/cluster-medoid", 0, 0.8, classifier={"stop": "converged"})
    _save(theirs, "scratch", "random", 0, 0.7, classifier={"stop": "paper"})
    with pytest.raises(ValueError, match="drew or scored mnist at n = 100 differently"):
        study.versus(study.StudyConfig(workdir=str(ours)), "scratch", "random", beside=[str(theirs)])
