"""The paper's names and published numbers, as data: its rows, strategies and Table 1.

Table 1 holds test accuracy (%), single runs of the authors' code, from
report/report.tex of github.com/bendkill/latens.
"""

from latens.representations import AUTOENCODERS  # noqa: F401  The paper's three, re-exported by name.

BASELINES = ("random", "ae-error")
STRATEGIES = ("uniform", "multi-normal", "uniform-cluster", "multi-normal-cluster")
# Rules beyond the paper that the grid's `--deterministic` adds as rows.
DETERMINISTIC_STRATEGIES = ("kcenter", "typiclust", "probcover", "cluster-medoid")
UNBALANCED = "+unbalanced"

_TABLE1_COLUMNS = (("mnist", 1000), ("mnist", 100), ("mnist+unbalanced", 1000), ("mnist+unbalanced", 100))
_TABLE1_ROWS = {
    "random": (94.0, 80.9, 92.6, 76.6),
    "ae-error": (93.8, 76.6, 57.8, 46.4),
    "cae/uniform": (72.7, 38.1, 62.9, 44.6),
    "cae/multi-normal": (93.1, 70.3, 90.5, 66.3),
    "cae/uniform-cluster": (89.6, 71.6, 89.2, 71.5),
    "cae/multi-normal-cluster": (94.4, 80.9, 92.8, 79.6),
    "vae/uniform": (68.2, 38.8, 62.4, 35.3),
    "vae/multi-normal": (92.1, 69.9, 91.7, 66.5),
    "vae/uniform-cluster": (86.1, 67.3, 86.8, 62.1),
    "vae/multi-normal-cluster": (94.3, 82.9, 92.3, 85.0),
    "tsne/uniform": (69.3, 56.6, 85.7, 53.0),
    "tsne/multi-normal": (93.6, 82.3, 91.7, 77.0),
    "tsne/uniform-cluster": (87.3, 71.6, 91.6, 76.6),
    "tsne/multi-normal-cluster": (94.4, 78.9, 92.4, 75.9),
}
# (dataset, n, row) -> the published test accuracy in %.
TABLE1 = {
    (dataset, n, row): value
    for row, values in _TABLE1_ROWS.items()
    for (dataset, n), value in zip(_TABLE1_COLUMNS, values)
}
