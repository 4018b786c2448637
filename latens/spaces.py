"""Joined spaces: several representations' codes side by side, each with the same weight.

A joined space (`simclr+cae16`, `latens.representations.parts`) lets one
selection rule see what two representations see: for example SimCLR's
embedding, which groups images by what they show, and a 16-D CAE's codes,
trained to rebuild their pixels. Each representation's codes are centred
and scaled to a total variance of 1 before they are put side by side, so
that Euclidean distances (Ward's clusters, the medoids) weigh each space
alike whatever its dimension or scale.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def join(codes: Sequence[np.ndarray]) -> np.ndarray:
    """The codes of the same images in several spaces, side by side, each space at total variance 1.

    Args:
      codes: one `[N, L_i]` array per representation, rows in the same image order.

    Returns:
      `[N, sum L_i]` float32: each block centred and divided by the square
      root of its total variance (the sum of its dimensions' variances); a
      block without variance is left at zero.

    Raises:
      ValueError: no codes, a block that is not 2-D, or blocks of different lengths.
    """
    if not codes:
        raise ValueError("a joined space needs the codes of at least one representation")
    if any(np.ndim(block) != 2 for block in codes):
        raise ValueError(f"each representation's codes must be [N, L], got shapes {[np.shape(c) for c in codes]}")
    lengths = {len(block) for block in codes}
    if len(lengths) > 1:
        raise ValueError(f"the codes of a joined space must be of the same images, got lengths {sorted(lengths)}")
    return np.concatenate([_unit_variance(np.asarray(block, np.float64)) for block in codes], axis=1).astype(np.float32)


def _unit_variance(block: np.ndarray) -> np.ndarray:
    centred = block - block.mean(axis=0)
    total = float(centred.var(axis=0).sum())
    return centred / np.sqrt(total) if total > 0 else centred
