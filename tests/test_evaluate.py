"""The evaluation protocol: epoch rule, the classifier, tiny runs, the converged stopping rule."""

import dataclasses

import keras
import numpy as np
import pytest

from latens import data
from latens.research import evaluate


def test_paper_epochs():
    assert evaluate.epochs_for(1000) == 50
    assert evaluate.epochs_for(100) == 500
    with pytest.raises(ValueError, match="n must be positive"):
        evaluate.epochs_for(0)


def test_validation_epochs_are_spread_and_end_at_the_last():
    assert evaluate.validation_epochs(500, 25) == list(range(20, 501, 20))
    assert evaluate.validation_epochs(3, 25) == [1, 2, 3]
    assert evaluate.validation_epochs(10, 1) == [10]


def test_per_class_recall():
    recall = evaluate.per_class_recall(np.array([0, 0, 1, 1, 1, 2]), np.array([0, 1, 1, 1, 0, 0]), 4)
    np.testing.assert_allclose(recall[:3], [0.5, 2 / 3, 0.0])
    assert np.isnan(recall[3])


NARROW = evaluate.ClassifierConfig(
    epochs=3, filters=(4, 4, 4), convs_per_block=1, dense_units=(16,), val_points=2, val_size=50,
    precision="float32",
)


def test_classifier_has_the_encoder_shape():
    model = evaluate.build_classifier((28, 28, 1), 10, evaluate.ClassifierConfig(precision="float32"))
    convs = [l for l in model.layers if isinstance(l, keras.layers.Conv2D)]
    dense = [l for l in model.layers if isinstance(l, keras.layers.Dense)]
    assert [c.filters for c in convs] == [64] * 3 + [32] * 6
    assert [d.units for d in dense] == [1024, 1024, 10]
    assert model.output_shape == (None, 10)


def test_train_and_evaluate_tiny_run_is_seeded():
    splits = data.load("mnist_sample")
    x, y = splits.pool[0][:40], splits.pool[1][:40]
    val = (splits.val[0][:60], splits.val[1][:60])
    test = (splits.test[0][:80], splits.test[1][:80])

    def run(seed):
        keras.utils.set_random_seed(seed)
        return evaluate.train_and_evaluate((x, y), val, test, 10, NARROW, seed=seed, progress=False)

    a, b = run(1), run(1)
    assert a["epochs"] == 3
    assert a["history"]["epoch"] == [2, 3]
    assert len(a["history"]["val_accuracy"]) == 2
    assert 0.0 <= a["test_accuracy"] <= 1.0
    assert a["query_class_counts"] == np.bincount(y, minlength=10).tolist()
    assert len(a["per_class_recall"]) == 10
    assert a["test_accuracy"] == b["test_accuracy"] and a["test_loss"] == b["test_loss"]
    assert run(2)["test_loss"] != a["test_loss"]


def test_many_cells_in_one_process_do_not_warn_of_retracing(caplog):
    # A grid trains a fresh classifier per cell; TensorFlow warns once the
    # same kind of function has been traced for five of them in a row.
    splits = data.load("mnist_sample")
    query = (splits.pool[0][:8], splits.pool[1][:8])
    config = dataclasses.replace(NARROW, epochs=1, val_points=1)
    for seed in range(6):
        keras.utils.set_random_seed(seed)
        evaluate.train_and_evaluate(query, splits.val, (splits.test[0][:16], splits.test[1][:16]), 10, config,
                                    seed=seed, progress=False)
    assert not [r for r in caplog.records if "retracing" in r.getMessage()]


# -- the "converged" stopping rule ----------------------------------------------


def test_the_rule_fires_after_patience_epochs_in_a_row_below_the_bar():
    rule = evaluate.ConvergenceRule(loss=0.1, patience=3)
    fired = [rule.update(epoch, loss) for epoch, loss in enumerate([0.5, 0.05, 0.01, 0.2, 0.05, 0.05, 0.05, 0.01], 1)]
    # Epochs 2-3 are below the bar, epoch 4 resets the streak, 5-7 complete it.
    assert fired == [False] * 6 + [True, False]
    assert rule.fired_at == 7


def _two_blobs(size):
    """Two trivially separable classes: black and white images."""
    x = np.concatenate([np.zeros((size, 8, 8, 1), np.uint8), np.full((size, 8, 8, 1), 255, np.uint8)])
    return x, np.repeat([0, 1], size)


TINY_STOP = dataclasses.replace(NARROW, filters=(4,), dense_units=(8,), val_points=5, val_size=None,
                                stop="converged", stop_loss=0.05, stop_patience=2, learning_rate=0.01)


def _first_streak_end(losses, bar, patience):
    """The 1-based epoch at which `patience` losses in a row below `bar` first end, or None."""
    streak = 0
    for epoch, loss in enumerate(losses, 1):
        streak = streak + 1 if loss < bar else 0
        if streak == patience:
            return epoch
    return None


def test_converged_training_stops_early_on_separable_data():
    x, y = _two_blobs(8)
    keras.utils.set_random_seed(0)
    result = evaluate.train_and_evaluate((x, y), (x, y), (x, y), 2, dataclasses.replace(TINY_STOP, epochs=300),
                                         progress=False)
    assert result["epochs"] == 300
    assert result["stopped_epoch"] < 300
    assert result["stop_patience"] == 2
    assert len(result["train_loss_by_epoch"]) == result["stopped_epoch"]
    # It stops at the first epoch that completes the streak, not later.
    assert _first_streak_end(result["train_loss_by_epoch"], 0.05, 2) == result["stopped_epoch"]
    # The validation curve ends where training ended.
    assert result["history"]["epoch"][-1] == result["stopped_epoch"]
    assert result["test_accuracy"] == 1.0


def test_converged_training_never_goes_beyond_the_cap():
    x, y = _two_blobs(8)
    keras.utils.set_random_seed(0)
    free = evaluate.train_and_evaluate((x, y), (x, y), (x, y), 2, dataclasses.replace(TINY_STOP, epochs=300),
                                       progress=False)
    cap = free["stopped_epoch"] - 1  # The rule would fire one epoch after the cap.
    assert cap >= 2
    keras.utils.set_random_seed(0)
    capped = evaluate.train_and_evaluate((x, y), (x, y), (x, y), 2, dataclasses.replace(TINY_STOP, epochs=cap),
                                         progress=False)
    assert capped["stopped_epoch"] == capped["epochs"] == cap
    assert capped["train_loss_by_epoch"] == free["train_loss_by_epoch"][:cap]
    assert capped["history"]["epoch"] == evaluate.validation_epochs(cap, 5)


def test_a_paper_config_stores_no_stopping_fields_so_older_results_still_match():
    assert set(evaluate.ClassifierConfig().to_dict()) == {
        "epochs", "batch_size", "learning_rate", "val_points", "val_size", "filters", "convs_per_block",
        "dense_units", "precision"}
    converged = evaluate.ClassifierConfig(stop="converged").to_dict()
    assert (converged["stop"], converged["stop_loss"], converged["stop_patience"]) == (
        "converged", evaluate.STOP_LOSS, None)


def test_a_converged_run_records_its_scaled_patience():
    x, y = _two_blobs(8)
    keras.utils.set_random_seed(0)
    config = dataclasses.replace(TINY_STOP, epochs=2, stop_patience=None)
    result = evaluate.train_and_evaluate((x, y), (x, y), (x, y), 2, config, progress=False)
    assert result["stop_patience"] == evaluate.patience_for(16) == 312


def test_the_default_patience_is_5000_images_worth_of_epochs():
    assert [evaluate.patience_for(n) for n in (20, 100, 1000, 10_000, 50_000)] == [250, 50, 5, 1, 1]
    assert evaluate.patience_for(100, 7) == 7
    with pytest.raises(ValueError, match="n must be positive"):
        evaluate.patience_for(0)


@pytest.mark.parametrize("changes, message", [
    ({"stop": "early"}, "unknown stop 'early'; stop must be one of paper, converged"),
    ({"stop_patience": 0}, "stop_patience must be positive"),
    ({"precision": "float64"}, "unknown precision 'float64'"),
    ({"val_size": 0}, "val_size must be positive"),
])
def test_bad_classifier_configs_are_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        evaluate.ClassifierConfig(**changes)
