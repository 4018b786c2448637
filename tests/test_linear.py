"""The linear protocol: a penalised softmax regression, checked against its gradient and separable data."""

import numpy as np
import scipy.optimize

from latens import linear


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
    features, labels = rng.normal(size=(12, 4)), rng.integers(0, 3, 12)
    weights, biases = linear.fit(features, labels, 3)
    # At the optimum the gradient vanishes: check against the objective itself.
    x = features / np.linalg.norm(features, axis=1, keepdims=True)

    def objective(flat):
        w, b = flat[:12].reshape(4, 3), flat[12:]
        logits = x @ w + b
        log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        return -log_p[np.arange(12), labels].mean() + 0.5 * linear.WEIGHT_DECAY * np.sum(w ** 2)

    optimum = np.concatenate([weights.ravel(), biases])
    numeric = scipy.optimize.approx_fprime(optimum, objective, 1e-6)
    assert np.abs(numeric).max() < 1e-4
