"""The cheap evaluation protocol: a linear softmax classifier on a frozen embedding of the chosen images.

What a user who has an embedding trains first, and what scores a query in
seconds: multinomial logistic regression on the query's embeddings (each
L2-normalised), with an L2 penalty `WEIGHT_DECAY` on the weights (not the
biases), fitted to convergence by L-BFGS (`scipy.optimize.minimize`), a
deterministic convex fit; then the test set's accuracy as for the scratch
classifier (`latens.evaluate.score_test_set`'s keys).

The penalty is fixed a priori, never tuned on test or validation labels: with
unit-norm features, 1e-3 lets the logits grow to tens (confident on the
training images) without letting 20 images pin a 128-d weight vector on
their noise.
"""

from __future__ import annotations

import numpy as np
import scipy.optimize

from latens import evaluate

WEIGHT_DECAY = 1e-3
_MAX_ITERATIONS = 1_000


def fit(features: np.ndarray, labels: np.ndarray, num_classes: int,
        weight_decay: float = WEIGHT_DECAY) -> tuple[np.ndarray, np.ndarray]:
    """Fits the penalised softmax regression.

    Args:
      features: float `[n, D]`, the query's embeddings.
      labels: int `[n]`.
      num_classes: C.
      weight_decay: the L2 penalty's weight, against the mean cross-entropy.

    Returns:
      `(weights [D, C], biases [C])`.
    """
    x = _normalised(features)
    n, dim = x.shape
    onehot = np.eye(num_classes)[np.asarray(labels)]

    def loss_and_gradient(flat):
        weights, biases = flat[: dim * num_classes].reshape(dim, num_classes), flat[dim * num_classes:]
        logits = x @ weights + biases
        logits -= logits.max(axis=1, keepdims=True)
        log_probabilities = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        loss = -np.sum(onehot * log_probabilities) / n + 0.5 * weight_decay * np.sum(weights ** 2)
        error = (np.exp(log_probabilities) - onehot) / n
        gradient = np.concatenate([(x.T @ error + weight_decay * weights).ravel(), error.sum(axis=0)])
        return loss, gradient

    start = np.zeros(dim * num_classes + num_classes)
    result = scipy.optimize.minimize(loss_and_gradient, start, jac=True, method="L-BFGS-B",
                                     options={"maxiter": _MAX_ITERATIONS})
    return result.x[: dim * num_classes].reshape(dim, num_classes), result.x[dim * num_classes:]


def train_and_evaluate(query: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray],
                       num_classes: int) -> dict:
    """Fits on the query's embeddings and scores the test embeddings.

    Args:
      query: `(features [n, D], labels [n])`.
      test: `(features [M, D], labels [M])`.
      num_classes: C.

    Returns:
      A JSON-ready dict: `test_accuracy`, `test_loss`, `balanced_accuracy`,
      `per_class_recall`, `query_class_counts`, and `weight_decay`.
    """
    weights, biases = fit(*query, num_classes)
    logits = _normalised(test[0]) @ weights + biases
    logits -= logits.max(axis=1, keepdims=True)
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return {
        **evaluate.scores_from_probabilities(probabilities, np.asarray(test[1]), num_classes),
        "query_class_counts": np.bincount(query[1], minlength=num_classes).tolist(),
        "weight_decay": WEIGHT_DECAY,
    }


def _normalised(features: np.ndarray) -> np.ndarray:
    features = np.asarray(features, dtype=np.float64)
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    return features / np.where(norms > 0, norms, 1.0)
