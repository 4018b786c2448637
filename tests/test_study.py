"""The study's settings and its tables of rows saved by several studies."""

import json

import pytest

from latens.research import study


def _save(workdir, protocol, row, seed, accuracy, dataset="mnist", n=100):
    path = workdir / protocol / "results" / dataset / f"n{n}" / row.replace("/", ".") / f"seed{seed}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    config = {"dataset": dataset, "n": n, "row": row, "seed": seed, "selection": {"strategy": row.split("/")[-1]}}
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
        _save(ours, "scratch", "simclr+cae16/cluster-medoid", seed, joined)
        _save(theirs, "scratch", "random", seed, random)
    config = study.StudyConfig(workdir=str(ours))
    assert "No results yet" not in study.table(config, "scratch")  # its own rows alone
    lines = study.table(config, "scratch", beside=[str(theirs)]).splitlines()
    # Gains 6, 7 and 4 points: mean 5.7, t(0.975, 2) * 1.53 / sqrt(3) = 3.8.
    assert "| SimCLR + CAE (L = 16) cluster-medoid | +5.7 [+1.9, +9.5] (3) |" in lines
    assert "random" in study.versus(config, "scratch", "simclr+cae16.cluster-medoid", beside=[str(theirs)])
    _save(theirs, "scratch", "simclr+cae16/cluster-medoid", 0, 0.5)
    with pytest.raises(ValueError, match="saved by more than one study"):
        study.table(config, "scratch", beside=[str(theirs)])
