"""A softmax regression on frozen codes: what a classifier on an embedding is in latens.

Multinomial logistic regression on L2-normalised features, with an L2
penalty `WEIGHT_DECAY` on the weights (not the biases), fitted by L-BFGS
(`scipy.optimize.minimize`, at most 1,000 iterations; a fit that stops short
is reported): a deterministic convex fit in seconds. The linear protocol of
the studies (`latens.research.linear`) scores queries with it, and the
pre-labels (`latens.prelabels`) label the pool with it.

The penalty is fixed a priori, never tuned on test or validation labels: with
unit-norm features, 1e-3 lets the logits grow to tens (confident on the
training images) without letting 20 images pin a 128-d weight vector on
their noise.
"""

from __future__ import annotations

import numpy as np
import scipy.optimize
from absl import logging

WEIGHT_DECAY = 1e-3
_MAX_ITERATIONS = 1_000


def objective(flat: np.ndarray, features: np.ndarray, onehot: np.ndarray, weight_decay: float):
    """The penalised mean cross-entropy and its gradient at `flat` (the weights `[D, C]` then the biases `[C]`).

    Args:
      flat: float `[D * C + C]`.
      features: L2-normalised features `[n, D]`.
      onehot: the labels, one-hot `[n, C]`.
      weight_decay: the L2 penalty's weight.

    Returns:
      `(loss, gradient [D * C + C])`.
    """
    n, dim = features.shape
    classes = onehot.shape[1]
    weights, biases = flat[: dim * classes].reshape(dim, classes), flat[dim * classes:]
    logits = features @ weights + biases
    logits -= logits.max(axis=1, keepdims=True)
    log_probabilities = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    loss = -np.sum(onehot * log_probabilities) / n + 0.5 * weight_decay * np.sum(weights ** 2)
    error = (np.exp(log_probabilities) - onehot) / n
    gradient = np.concatenate([(features.T @ error + weight_decay * weights).ravel(), error.sum(axis=0)])
    return loss, gradient


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
    x = normalised(features)
    dim = x.shape[1]
    onehot = np.eye(num_classes)[np.asarray(labels)]
    result = scipy.optimize.minimize(objective, np.zeros(dim * num_classes + num_classes),
                                     args=(x, onehot, weight_decay), jac=True, method="L-BFGS-B",
                                     options={"maxiter": _MAX_ITERATIONS})
    if not result.success:
        logging.warning("The linear classifier's fit stopped before converging: %s", result.message)
    return result.x[: dim * num_classes].reshape(dim, num_classes), result.x[dim * num_classes:]


def probabilities(features: np.ndarray, weights: np.ndarray, biases: np.ndarray) -> np.ndarray:
    """The fitted regression's class probabilities `[N, C]` for features `[N, D]`."""
    logits = normalised(features) @ weights + biases
    logits -= logits.max(axis=1, keepdims=True)
    return np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)


def normalised(features: np.ndarray) -> np.ndarray:
    features = np.asarray(features, dtype=np.float64)
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    return features / np.where(norms > 0, norms, 1.0)
