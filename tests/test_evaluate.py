"""The evaluation protocol: epoch rule, statistics against hand computations, one tiny run."""

import dataclasses
import math

import keras
import numpy as np
import pytest

from latens import data, evaluate


def test_paper_epochs():
    assert evaluate.epochs_for(1000) == 50
    assert evaluate.epochs_for(100) == 500
    with pytest.raises(ValueError, match="n must be positive"):
        evaluate.epochs_for(0)


def test_validation_epochs_are_spread_and_end_at_the_last():
    assert evaluate.validation_epochs(500, 25) == list(range(20, 501, 20))
    assert evaluate.validation_epochs(3, 25) == [1, 2, 3]
    assert evaluate.validation_epochs(10, 1) == [10]


def test_summarize_against_hand_computation():
    s = evaluate.summarize([0.70, 0.74, 0.78])
    assert s.mean == pytest.approx(0.74)
    assert s.std == pytest.approx(0.04)  # sqrt(((-.04)^2 + 0 + .04^2) / 2)
    # t(0.975, 2) = 4.302653; half width = 4.302653 * 0.04 / sqrt(3).
    half = 4.302653 * 0.04 / math.sqrt(3)
    assert s.ci_low == pytest.approx(0.74 - half, abs=1e-6)
    assert s.ci_high == pytest.approx(0.74 + half, abs=1e-6)
    assert s.count == 3


def test_summarize_single_value_has_no_spread():
    s = evaluate.summarize([0.5])
    assert s.mean == 0.5 and s.count == 1 and math.isnan(s.std) and math.isnan(s.ci_low)
    with pytest.raises(ValueError, match="no values"):
        evaluate.summarize([])


def test_paired_difference_uses_common_seeds_only():
    strategy = {0: 0.80, 1: 0.82, 2: 0.90, 7: 0.5}
    baseline = {0: 0.75, 1: 0.80, 2: 0.86, 3: 0.1}
    d = evaluate.paired_difference(strategy, baseline)
    assert d.count == 3
    assert d.mean == pytest.approx((0.05 + 0.02 + 0.04) / 3)
    assert d.std == pytest.approx(np.std([0.05, 0.02, 0.04], ddof=1))
    assert evaluate.paired_difference({5: 1.0}, baseline) is None


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
