"""Every figure of latens, built on `matplotlib.figure.Figure` objects and saved by `save`.

Nothing here uses `pyplot` or chooses a backend: a figure is an object that
`save` renders to PNG (through Agg, whatever backend a notebook uses) and
that a notebook can also display. Modules, one per subject:

  data       class counts of a pool and example images
  grid       the reproduction's figures (Figure 2a and 2b, queries, Table 1 bars)
  selection  one query over the latent space, and its class histogram
  folder     the folder command's contact sheet and latent map with thumbnails

Codes of more than two dimensions are drawn on one projection, `project_2d`.
"""

from __future__ import annotations

import os

import numpy as np
from matplotlib.figure import Figure

from latens import fileio

# Codes a projection is fitted on at most (a seeded subsample beyond).
PROJECTION_SAMPLE = 100_000
DPI = 120


def save(figure: Figure, path: str | os.PathLike) -> str:
    """Writes a figure as PNG, atomically (a temporary file, then a rename).

    Args:
      figure: the figure.
      path: the destination; its folder is created if needed.

    Returns:
      `path` as a string.
    """
    fileio.write_atomically(path, lambda tmp: figure.savefig(tmp, format="png", dpi=DPI, bbox_inches="tight"))
    return os.fspath(path)


def project_2d(z: np.ndarray) -> tuple[np.ndarray, tuple[str, str]]:
    """The two coordinates every figure draws codes by.

    Args:
      z: float `[N, L]`.

    Returns:
      xy: float64 `[N, 2]`: the codes themselves for L = 2, the code against
        zero for L = 1, and for L > 2 their projection on the first two
        principal components of (at most `PROJECTION_SAMPLE`) codes.
      axis_labels: the two axis names.
    """
    z = np.asarray(z, dtype=np.float64)
    if z.shape[1] == 1:
        return np.column_stack([z[:, 0], np.zeros(len(z))]), ("$z_0$", "")
    if z.shape[1] == 2:
        return z, ("$z_0$", "$z_1$")
    centred = z - z.mean(axis=0)
    sample = centred
    if len(z) > PROJECTION_SAMPLE:
        sample = centred[np.random.default_rng(0).choice(len(z), PROJECTION_SAMPLE, replace=False)]
    _, _, components = np.linalg.svd(sample, full_matrices=False)
    return centred @ components[:2].T, ("principal component 1", "principal component 2")
