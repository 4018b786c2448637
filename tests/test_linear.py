"""The linear protocol: a penalised softmax regression, checked against its gradient and separable data."""

import numpy as np
import scipy.optimize

from latens.research import linear


def test_separable_classes_are_learned_and_the_fit_is_deterministic():
    rng = np.random.default_rng(0)
    centres = np.eye(3, 8) * 5
    labels = np.repeat(np.arange(3), 10)
    features = centres[labels] + rng.normal(scale=0.3, size=(30, 8))
    test_labels = np.repeat(np.arange(3), 50)
    test = (centres[test_labels] + rng.normal(scale=0.3, size=(150, 8)), test_labels)
    result = linear.train_and_evaluate((features, labels), test, 3)
    assert result["test_accuracy"] == 1.0 and result["query_class_counts"] == [10, 10, 10]
    again = linear.train_and_evaluate((features, labels), test, 3)
    assert again == result


def test_the_gradient_matches_finite_differences():
    rng = np.random.default_rng(1)
    features = rng.normal(size=(12, 4))
    features /= np.linalg.norm(features, axis=1, keepdims=True)
    onehot = np.eye(3)[rng.integers(0, 3, 12)]
    point = rng.normal(size=4 * 3 + 3)
    _, analytic = linear.objective(point, features, onehot, 0.1)
    numeric = scipy.optimize.approx_fprime(point, lambda flat: linear.objective(flat, features, onehot, 0.1)[0], 1e-7)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-4, atol=1e-6)


def test_the_fit_ends_where_the_gradient_vanishes():
    rng = np.random.default_rng(2)
    features, labels = rng.normal(size=(12, 4)), rng.integers(0, 3, 12)
    weights, biases = linear.fit(features, labels, 3)
    x = features / np.linalg.norm(features, axis=1, keepdims=True)
    _, gradient = linear.objective(np.concatenate([weights.ravel(), biases]), x, np.eye(3)[labels],
                                   linear.WEIGHT_DECAY)
    assert np.abs(gradient).max() < 1e-4
