"""The stop check: a Table 1 cell trained again, scored where each rule fires and at the end."""

import dataclasses
import json

import keras
import numpy as np
import pytest

from latens.research import evaluate, grid, stop_check

# A classifier that learns two blobs in a few epochs, stopped once its loss stays below 0.05 for 2 epochs.
TINY_STOP = evaluate.ClassifierConfig(epochs=3, filters=(4,), convs_per_block=1, dense_units=(8,), val_points=5,
                                      val_size=None, stop="converged", stop_loss=0.05, stop_patience=2,
                                      learning_rate=0.01, precision="float32")


def _two_blobs(size):
    """Two trivially separable classes: black and white images."""
    x = np.concatenate([np.zeros((size, 8, 8, 1), np.uint8), np.full((size, 8, 8, 1), 255, np.uint8)])
    return x, np.repeat([0, 1], size)


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


def test_probes_score_each_rule_where_it_fires_without_stopping():
    x, y = _two_blobs(8)
    keras.utils.set_random_seed(0)
    config = dataclasses.replace(TINY_STOP, stop="paper", epochs=40)
    result = evaluate.train_and_evaluate((x, y), (x, y), (x, y), 2, config, progress=False,
                                         watchers=[stop_check.Probes({"loose": (0.05, 2), "never": (0.0, 1)})])
    assert result["stopped_epoch"] == 40
    assert result["probes"]["never"] == {"epoch": None}
    # The probe scores the weights of the epoch it fired at: those a run stopped by the same rule ends with.
    keras.utils.set_random_seed(0)
    stopped = evaluate.train_and_evaluate((x, y), (x, y), (x, y), 2, dataclasses.replace(TINY_STOP, epochs=40),
                                          progress=False)
    probe = result["probes"]["loose"]
    assert probe["epoch"] == stopped["stopped_epoch"] < 40
    assert probe["test_loss"] == pytest.approx(stopped["test_loss"], rel=1e-5)
    assert probe["test_loss"] != pytest.approx(result["test_loss"], rel=1e-3)  # Training went on after it.
