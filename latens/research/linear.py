"""The cheap evaluation protocol: a linear softmax classifier on a frozen embedding of the chosen images.

What a user who has an embedding trains first, and what scores a query in
seconds: `latens.softmax`'s regression fitted on the query's embeddings,
then the test set's accuracy as for the scratch classifier
(`latens.research.evaluate.score_test_set`'s keys).
"""

from __future__ import annotations

import numpy as np

from latens import softmax
from latens.research import evaluate
from latens.softmax import WEIGHT_DECAY, fit, objective  # noqa: F401  (the protocol's names)


def train_and_evaluate(query: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray],
                       num_classes: int, weight_decay: float = WEIGHT_DECAY) -> dict:
    """Fits on the query's embeddings and scores the test embeddings.

    Args:
      query: `(features [n, D], labels [n])`.
      test: `(features [M, D], labels [M])`.
      num_classes: C.
      weight_decay: the L2 penalty's weight.

    Returns:
      A JSON-ready dict: `test_accuracy`, `test_loss`, `balanced_accuracy`,
      `per_class_recall`, `query_class_counts`, and `weight_decay`.
    """
    weights, biases = fit(*query, num_classes, weight_decay)
    probabilities = softmax.probabilities(test[0], weights, biases)
    return {
        **evaluate.scores_from_probabilities(probabilities, np.asarray(test[1]), num_classes),
        "query_class_counts": np.bincount(query[1], minlength=num_classes).tolist(),
        "weight_decay": weight_decay,
    }
