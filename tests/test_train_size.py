"""latens.research.train_size: the arms' grids and the summary table."""

import json

import pytest

from latens.research import train_size


def test_an_arm_is_the_studys_grid_with_simclr_trained_on_a_sample(tmp_path):
    config = train_size.TrainSizeConfig(workdir=str(tmp_path), data_dir="data")
    linear = train_size.arm_config(config, 5000, "linear")
    assert linear.simclr.train_size == 5000 and linear.simclr.epochs == 20
    assert linear.workdir == str(tmp_path / "linear" / "m5000") and linear.ae_dir == str(tmp_path / "ae" / "m5000")
    assert linear.strategies == ("random", "cluster-medoid") and linear.sizes == (100,)
    # Under the scratch protocol random is the study's row: no embedding shapes it.
    assert train_size.arm_config(config, 5000, "scratch").strategies == ("cluster-medoid",)
    with pytest.raises(ValueError, match="protocols"):
        train_size.TrainSizeConfig(protocols=("nearest",))


def test_rows_pair_by_seed_and_the_table_gives_each_arms_gain(tmp_path):
    config = train_size.TrainSizeConfig(workdir=str(tmp_path), seeds=(0, 1, 2))
    for row, scores in (("random", (0.80, 0.82, 0.81)), ("simclr.cluster-medoid", (0.90, 0.91, 0.93))):
        for seed, score in enumerate(scores):
            path = tmp_path / "results" / "mnist" / "n100" / row / f"seed{seed}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"test_accuracy": score}))
    default, random = (train_size._row(config, tmp_path, row) for row in ("simclr.cluster-medoid", "random"))
    scores = train_size._scores(default, random)
    assert scores["gain"]["mean"] == pytest.approx(0.10333, abs=1e-4) and scores["gain"]["count"] == 3
    arms = [{"train_size": 5000, "steps": 380, "train_seconds": 100.0, "knn_accuracy": 0.97,
             "protocols": {"linear": {**scores, "versus_all": scores["gain"]}}},
            {"train_size": 0, "steps": 3900, "train_seconds": 2554.0, "knn_accuracy": 0.98,
             "protocols": {"linear": scores}}]
    table = train_size.render(arms, config)
    assert "| 5000 | 380 | 100 | 0.9700 | 91.3 | +10.3 [" in table
    assert table.splitlines()[-1].startswith("| all | 3900 | 2554 | 0.9800 | 91.3 | +10.3 [")
    assert table.splitlines()[-1].endswith("| — |")
