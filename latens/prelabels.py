"""Pre-labels for the images a person has not labelled: a suggested label and a confidence for each.

From the codes `z` `[N, D]` of every image and the labels of a few, every
image gets class probabilities `[N, C]`; its pre-label is the most probable
class and its confidence that probability. Two methods:

* `linear`: the softmax regression of `latens.softmax` fitted on the
  labelled codes (what the studies' linear protocol scores).
* `propagation`: label spreading over the codes' nearest-neighbour graph
  (Zhou, Bousquet, Lal, Weston & Schölkopf 2004, "Learning with Local and
  Global Consistency", in the form of Iscen, Tolias, Avrithis & Chum 2019,
  "Label Propagation for Deep Semi-supervised Learning"): each code is joined
  to its `NEIGHBOURS` nearest by cosine similarity raised to the power 3,
  the graph is symmetrised and normalised (S = D^-1/2 W D^-1/2), and
  F = (I - alpha S)^-1 Y is solved by conjugate gradients, one column per
  class, Y holding each labelled code's class weighted by one over its
  class's count (so that a frequent class does not flood the graph).

Confidence is calibrated on the labels themselves: the labelled codes are
split into `FOLDS` folds, each fold is predicted from the others (its
labels of classes the others lack left out), and the
temperature T of p proportional to score^(1/T) that minimises the held-out
negative log-likelihood is applied to the final scores (temperature scaling,
Guo, Pleiss, Sun & Weinberger 2017, "On Calibration of Modern Neural
Networks", fitted by cross-validation because there is no other labelled
set). Labelled codes keep their own label with confidence 1.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.optimize
import scipy.sparse
import scipy.sparse.linalg
from absl import logging

from latens import checks, softmax
from latens.sampling.neighbours import NearestNeighbours

METHODS = ("propagation", "linear")
# Label spreading's neighbours per code, the weight of the graph against the
# labels (Iscen et al. 2019 use alpha = 0.99) and the similarity's power.
NEIGHBOURS = 10
ALPHA = 0.99
POWER = 3
FOLDS = 5
# Conjugate-gradient iterations of one solve (Iscen et al. use 20); the
# solution changes little after them.
_CG_ITERATIONS = 50
# The smallest score a class keeps before the temperature's logarithm.
_FLOOR = 1e-6


@dataclasses.dataclass
class Prelabels:
    """Every image's class probabilities, and the label names they refer to.

    Attributes:
      classes: the label names, sorted (`str`s as given).
      probabilities: float64 `[N, C]`, calibrated; a labelled image's row is
        one-hot on its own label.
      temperature: the calibration's temperature (1: none was fitted).
    """

    classes: list[str]
    probabilities: np.ndarray
    temperature: float = 1.0

    @property
    def labels(self) -> np.ndarray:
        """The suggested label of every image, `[N]` (object array of `classes`' names)."""
        return np.asarray(self.classes, dtype=object)[self.probabilities.argmax(axis=1)]

    @property
    def confidence(self) -> np.ndarray:
        """The probability of each suggested label, `[N]` in [0, 1]."""
        return self.probabilities.max(axis=1)


def predict(z: np.ndarray, labelled: np.ndarray, labels, *, method: str = "propagation",
            calibrate: bool = True, scorer=None) -> Prelabels:
    """Pre-labels every code from the labels of a few.

    Args:
      z: float `[N, D]`, the codes of every image.
      labelled: int `[M]`, distinct indices of the labelled codes.
      labels: `[M]` label names (any values; compared as strings) of those codes.
      method: one of `METHODS`.
      calibrate: fit the confidence's temperature on the labels (needs two
        labels of some class); False keeps the method's raw scores.
      scorer: `make_scorer(z, method)` made once, for many predictions on the same
        codes (the neighbour graph is built once); None makes one.

    Returns:
      `Prelabels`.

    Raises:
      ValueError: fewer than two classes among the labels, or bad input.
    """
    checks.one_of("method", method, METHODS)
    z, labelled, names = _check(z, labelled, labels)
    classes, y = np.unique(names, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(f"pre-labels need at least two different labels, got only {classes[0]!r}")
    scores = scorer or make_scorer(z, method)
    temperature = _temperature(scores, labelled, y, len(classes)) if calibrate else 1.0
    probabilities = _tempered(scores(labelled, y, len(classes)), temperature)
    probabilities[labelled] = np.eye(len(classes))[y]
    logging.info("Pre-labels by %s from %d labels in %d classes (temperature %.3g).", method, len(labelled),
                 len(classes), temperature)
    return Prelabels([str(c) for c in classes], probabilities, temperature)


def _check(z, labelled, labels):
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 2 or not len(z) or not np.isfinite(z).all():
        raise ValueError(f"z must be finite codes [N, D], got shape {z.shape}")
    labelled = np.asarray(labelled)
    if labelled.ndim != 1 or not np.issubdtype(labelled.dtype, np.integer) or not len(labelled):
        raise ValueError("labelled must be a non-empty 1-D array of integer indices")
    if labelled.min() < 0 or labelled.max() >= len(z) or len(np.unique(labelled)) != len(labelled):
        raise ValueError(f"labelled must hold distinct indices into the {len(z)} codes")
    names = np.asarray([str(label) for label in labels], dtype=object)
    if len(names) != len(labelled):
        raise ValueError(f"labels must give one label per labelled index: {len(names)} for {len(labelled)}")
    return z, labelled.astype(np.int64), names


def _linear(z):
    """`scores(labelled, y, classes)` of the softmax regression on the codes."""
    def scores(labelled, y, classes):
        weights, biases = softmax.fit(z[labelled], y, classes)
        return softmax.probabilities(z, weights, biases)
    return scores


def _propagation(z):
    """`scores(labelled, y, classes)` of label spreading on the codes' neighbour graph (built once)."""
    graph = _normalised_graph(softmax.normalised(z))
    system = scipy.sparse.identity(len(z), format="csr") - ALPHA * graph

    def scores(labelled, y, classes):
        seeds = np.zeros((len(z), classes))
        seeds[labelled, y] = 1.0 / np.bincount(y, minlength=classes)[y]
        spread = np.column_stack([
            scipy.sparse.linalg.cg(system, seeds[:, c], maxiter=_CG_ITERATIONS)[0] for c in range(classes)])
        spread = np.maximum(spread, 0)
        total = spread.sum(axis=1, keepdims=True)
        # A code the graph does not reach has no score: every class is as likely.
        return np.where(total > 0, spread / np.where(total > 0, total, 1), 1.0 / classes)
    return scores


def make_scorer(z: np.ndarray, method: str = "propagation"):
    """The method's scores on these codes: `scores(labelled [M], y [M], classes) -> [N, C]` (uncalibrated).

    Made once per set of codes (label spreading builds its neighbour graph
    here), it serves every later `predict(..., scorer=)` on them.

    Args:
      z: float `[N, D]`, the codes.
      method: one of `METHODS`.

    Returns:
      The scores function.
    """
    checks.one_of("method", method, METHODS)
    return {"linear": _linear, "propagation": _propagation}[method](np.asarray(z, dtype=np.float64))


def _normalised_graph(x: np.ndarray) -> scipy.sparse.csr_matrix:
    """S = D^-1/2 W D^-1/2 of the symmetrised k-nearest-neighbour graph, w = cosine^POWER (unit-norm x)."""
    k = min(NEIGHBOURS, len(x) - 1)
    if k < 1:
        return scipy.sparse.csr_matrix((len(x), len(x)))
    distances, neighbours = NearestNeighbours(x).query(x, k=k + 1)
    # Unit vectors: cosine = 1 - d^2 / 2. Column 0 is the code itself.
    similarity = np.maximum(1 - distances[:, 1:] ** 2 / 2, 0) ** POWER
    rows = np.repeat(np.arange(len(x)), k)
    weights = scipy.sparse.csr_matrix((similarity.ravel(), (rows, neighbours[:, 1:].ravel())), shape=(len(x),) * 2)
    weights = weights + weights.T
    degree = np.asarray(weights.sum(axis=1)).ravel()
    scale = scipy.sparse.diags(1 / np.sqrt(np.where(degree > 0, degree, 1)))
    return (scale @ weights @ scale).tocsr()


def _temperature(scores, labelled: np.ndarray, y: np.ndarray, classes: int) -> float:
    """The temperature that best predicts held-out labels, each fold from the others (1 if none can be held out)."""
    folds = _folds(y)
    held_out, truth = [], []
    for fold in folds:
        kept = np.setdiff1d(np.arange(len(y)), fold)
        # A held-out label of a class the others lack cannot be predicted at
        # any temperature: it would only flatten every confidence.
        fold = fold[np.isin(y[fold], y[kept])]
        if len(np.unique(y[kept])) < 2 or not len(fold):
            continue
        held_out.append(scores(labelled[kept], y[kept], classes)[labelled[fold]])
        truth.append(y[fold])
    if not held_out:
        return 1.0
    logs = np.log(np.maximum(np.concatenate(held_out), _FLOOR))
    truth = np.concatenate(truth)

    def loss(log_t):
        tempered = logs / np.exp(log_t)
        tempered -= tempered.max(axis=1, keepdims=True)
        return -np.mean(tempered[np.arange(len(truth)), truth] - np.log(np.exp(tempered).sum(axis=1)))

    return float(np.exp(scipy.optimize.minimize_scalar(loss, bounds=(-5, 5), method="bounded").x))


def _folds(y: np.ndarray) -> list[np.ndarray]:
    """`FOLDS` folds of the label positions, each class dealt round them in turn (deterministic)."""
    order = np.argsort(y, kind="stable")
    return [fold for fold in (order[i::FOLDS] for i in range(FOLDS)) if len(fold)]


def _tempered(scores: np.ndarray, temperature: float) -> np.ndarray:
    logs = np.log(np.maximum(scores, _FLOOR)) / temperature
    logs -= logs.max(axis=1, keepdims=True)
    probabilities = np.exp(logs)
    return probabilities / probabilities.sum(axis=1, keepdims=True)
