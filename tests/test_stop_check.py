"""The stop check: a Table 1 cell trained again, scored where each rule fires and at the end."""

import json

from latens.research import grid, stop_check


def test_a_checked_cell_gives_both_scores_from_one_training(tmp_path, tiny_grid_config):
    table1 = tiny_grid_config(tmp_path / "table1", strategies=("random",), seeds=(0,))
    grid.run(table1)
    config = stop_check.StopCheckConfig(
        table1=str(tmp_path / "table1"), workdir=str(tmp_path / "check"), datasets=("mnist_sample+unbalanced",),
        sizes=(20,), rows=("random",), seeds=(0,), stop_loss=10.0, stop_patience=1, candidates=("never:1e-30:1",))
    table = stop_check.run(config)
    (result,) = stop_check.load(tmp_path / "check")
    stored = json.loads((tmp_path / "table1" / "results" / "mnist_sample+unbalanced" / "n20" / "random" /
                         "seed0.json").read_text())
    assert result["table1_test_accuracy"] == stored["test_accuracy"]
    assert result["stopped_epoch"] == result["epochs"] == 2  # The paper's full run goes on.
    assert result["probes"]["converged"]["epoch"] == 1  # A loss below 10 at once.
    assert 0.0 <= result["probes"]["converged"]["test_accuracy"] <= 1.0
    assert result["probes"]["never"] == {"epoch": None}
    assert "| mnist_sample+unbalanced, n = 20 | 1 |" in table
    # A finished cell is not trained again.
    (path,) = (tmp_path / "check").rglob("seed0.json")
    stamp = path.stat().st_mtime_ns
    stop_check.run(config)
    assert path.stat().st_mtime_ns == stamp


def test_cells_checked_with_other_rules_are_refused(tmp_path, tiny_grid_config):
    import dataclasses

    import pytest

    grid.run(tiny_grid_config(tmp_path / "table1", strategies=("random",), seeds=(0,)))
    config = stop_check.StopCheckConfig(
        table1=str(tmp_path / "table1"), workdir=str(tmp_path / "check"), datasets=("mnist_sample+unbalanced",),
        sizes=(20,), rows=("random",), seeds=(0,), candidates=())
    stop_check.run(config)
    with pytest.raises(ValueError, match="different config"):
        stop_check.run(dataclasses.replace(config, stop_loss=0.5))


def test_replayed_rules_stop_where_the_rule_fires_and_read_the_next_validation_record():
    losses = [0.5, 0.05, 0.005, 0.2, 0.005, 0.005, 0.0005, 0.0005]
    assert stop_check.stop_epoch(losses, 0.01, 1) == 3
    assert stop_check.stop_epoch(losses, 0.01, 3) == 7  # Epoch 4 broke the first streak.
    assert stop_check.stop_epoch(losses, 1e-6, 1) == 8  # Never fires: the run's full length.
    result = {"config": {"dataset": "d", "n": 10}, "epochs": 8, "train_loss_by_epoch": losses,
              "history": {"epoch": [2, 4, 6, 8], "val_accuracy": [0.5, 0.6, 0.7, 0.8]}}
    table = stop_check.render_replayed([result, result], rules=((0.01, 1), (1e-6, 1)))
    # Stop at 3: the record at epoch 4 (0.6) against the last (0.8); 3 of 8 epochs.
    assert "| d, n = 10 | 0.01, 1 | 38 % | -20.00 (0.00, -20.00) |" in table
    assert "| d, n = 10 | 1e-06, 1 | 100 % | +0.00 (0.00, +0.00) |" in table
