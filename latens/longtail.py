"""A long-tailed pool: class c keeps at most `head * ratio ** c` of its images, in pool order.

`long_tail(x, y)` builds the `+longtail` variant of a dataset's pool (for
example `fashion_mnist+longtail`): a geometric profile like CIFAR-10-LT's
(Cui et al. 2019, "Class-Balanced Loss Based on Effective Number of
Samples"), cut from the pool rather than resampled, so the variant is a
subset of the original images with nothing made up and no seed. At the
defaults (5,000 and 0.6) Fashion-MNIST's pool of 50,000 becomes 12,397
images, from 4,977 T-shirts down to 50 ankle boots: the last class is 0.4 %
of the pool, half a pick of a random 100. Validation and test are unchanged.
"""

from __future__ import annotations

import numpy as np

HEAD = 5_000
RATIO = 0.6


def long_tail_counts(num_classes: int, head: int = HEAD, ratio: float = RATIO) -> np.ndarray:
    """The most images class c keeps: `int(head * ratio ** c)`, `[num_classes]` int64."""
    if head < 1 or not 0 < ratio <= 1:
        raise ValueError(f"head must be positive and ratio in (0, 1], got {head} and {ratio}")
    return np.asarray([int(head * ratio**c) for c in range(num_classes)], dtype=np.int64)


def long_tail(x: np.ndarray, y: np.ndarray, head: int = HEAD, ratio: float = RATIO) -> tuple[np.ndarray, np.ndarray]:
    """The long-tailed subset of a pool.

    Args:
      x: images `[N, ...]`.
      y: integer labels `[N]`, classes 0..K-1.
      head: the most images class 0 keeps.
      ratio: each class keeps at most `ratio` times the previous class's cap.

    Returns:
      `(x, y)` of the kept images, in their pool order: class c's first
      `min(count_c, int(head * ratio ** c))`.
    """
    y = np.asarray(y)
    caps = long_tail_counts(int(y.max()) + 1 if len(y) else 0, head, ratio)
    # Rank of every image among its class's images, in pool order.
    order = np.argsort(y, kind="stable")
    starts = np.searchsorted(y[order], y[order])
    rank = np.empty(len(y), dtype=np.int64)
    rank[order] = np.arange(len(y)) - starts
    keep = rank < caps[y]
    return x[keep], y[keep]
