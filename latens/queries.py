"""The query-selection step of the pipeline: embeddings in, a query and its files out.

`select_queries` is what `experiments/select_queries.py` runs. It reads a workdir's
`embeddings.npz` (keys `z` `[N, L]`, `errors` `[N]`, optional `labels` `[N]`
and `config`), chooses n codes with `latens.sampling.select`, and writes,
each atomically (a temporary file, then `os.replace`):

* `query.npz`: `indices` int64 `[n]` in labelling order, `strategy`, `seed`,
  `n`, and `config`, a JSON string of every option used;
* `query.csv`: one row per chosen example: rank (1 = label first), index,
  cluster (for strategies that use a clustering; empty otherwise), the code
  `z_0..z_{L-1}`, and the label where known;
* `query_latent.png`: the latent space with the chosen codes highlighted;
* `query_classes.png`: the class histogram of the choice (labels only).
"""

import csv
import inspect
import io
import json
import pathlib

import numpy as np
from absl import logging

from latens import checks, fileio, plots
from latens.plots import selection as selection_plots
from latens.sampling import clustering, strategies


def select_queries(workdir, *, strategy, n, seed=0, n_clusters=None, threshold=None, out=None):
    """Chooses n examples of a workdir's embeddings and writes the query.

    Args:
        workdir: folder holding `embeddings.npz`.
        strategy: a name in `latens.sampling.STRATEGIES`.
        n: number of examples to choose.
        seed: seed of the strategy (and of its clustering).
        n_clusters: number of clusters for strategies that cluster; None
            chooses it from the data. Ignored, with a warning, by the others.
        threshold: Algorithm 1's t; None derives it from the data. Ignored,
            with a warning, by strategies without Algorithm 1.
        out: output folder (created if needed); defaults to `workdir`.

    Returns:
        dict: output name (`npz`, `csv`, `latent_png`, `classes_png`) -> path.
    """
    workdir = pathlib.Path(workdir)
    out = pathlib.Path(out) if out is not None else workdir
    z, errors, labels, embeddings_config = load_embeddings(workdir / "embeddings.npz")
    checks.one_of("strategy", strategy, strategies.STRATEGIES)
    takes = strategies.STRATEGIES[strategy].options
    options = {}
    for name, value in (("n_clusters", n_clusters), ("threshold", threshold)):
        if value is not None and name not in takes:
            logging.warning("Strategy %r takes no %s; ignoring %s=%s.", strategy, name, name, value)
        elif value is not None:
            options[name] = value
    # Clustering once here both feeds the strategy and names each chosen
    # example's cluster in the CSV.
    clusters = None
    if "clusters" in takes:
        clusters = clustering.cluster(z, options.pop("n_clusters", None), seed, n=n)
        options["clusters"] = clusters
    indices = strategies.select(strategy, z, n, seed=seed, errors=errors, **options)

    config = {name: value for name, value in _options_used(strategy, options).items()
              if name != "clusters"}
    if clusters is not None:
        config.update(n_clusters=int(clusters.max()) + 1, n_clusters_requested=n_clusters)
    config.update(strategy=strategy, n=n, seed=seed,
                  embeddings=str(workdir / "embeddings.npz"), embeddings_config=embeddings_config)
    out.mkdir(parents=True, exist_ok=True)
    title = f"{strategy}, n = {n}, seed = {seed}"
    paths = {"npz": out / "query.npz", "csv": out / "query.csv",
             "latent_png": out / "query_latent.png"}
    fileio.write_atomically(paths["npz"], lambda tmp: np.savez(
        tmp, indices=indices, strategy=np.str_(strategy), seed=np.int64(seed), n=np.int64(n),
        config=np.str_(json.dumps(config, sort_keys=True))))
    fileio.write_text(paths["csv"], query_csv(indices, z, clusters=clusters, labels=labels))
    plots.save(selection_plots.plot_latent_selection(z, indices, labels=labels, clusters=clusters, title=title),
               paths["latent_png"])
    if labels is not None:
        paths["classes_png"] = out / "query_classes.png"
        plots.save(selection_plots.plot_class_histogram(labels, indices, title=title), paths["classes_png"])
    logging.info("Chose %d of %d examples with %s; wrote %s.", n, len(z), strategy,
                 ", ".join(str(path) for path in paths.values()))
    return paths


def load_embeddings(path):
    """Reads an `embeddings.npz`.

    Args:
        path: the file.

    Returns:
        z: float array `[N, L]`.
        errors: float array `[N]`, or None if absent.
        labels: int array `[N]`, or None if absent.
        config: the parsed `config` JSON, or None if absent.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No embeddings at {path}; train an auto-encoder first, which "
                                f"writes it.")
    with np.load(path, allow_pickle=False) as data:
        if "z" not in data:
            raise ValueError(f"{path} has no 'z' array (keys: {', '.join(data.files)}).")
        z = data["z"]
        errors = data["errors"] if "errors" in data else None
        labels = data["labels"] if "labels" in data else None
        config = _parse_config(str(data["config"])) if "config" in data else None
    if labels is not None and labels.shape != (len(z),):
        raise ValueError(f"{path}: labels must have shape ({len(z)},), got {labels.shape}")
    return z, errors, labels, config


def _parse_config(text):
    """The embeddings' config as JSON, or the raw text when it is not JSON."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _options_used(strategy, given):
    """Every option of the strategy: as given, else its default."""
    parameters = inspect.signature(strategies.STRATEGIES[strategy]).parameters
    return {name: given.get(name, parameters[name].default)
            for name in strategies.STRATEGIES[strategy].options}


def query_csv(indices, z, *, clusters=None, paths=None, labels=None) -> str:
    """The query as CSV text: one row per chosen example, in labelling order.

    Columns: `rank` (1 = label first), `path` when `paths` is given, else
    `index`; `cluster` (empty without `clusters`); the code `z_0..z_{L-1}`;
    and `label` when `labels` is given.

    Args:
        indices: int `[n]`, the chosen examples in rank order.
        z: float `[N, L]`, every code.
        clusters: optional int `[N]`, the cluster of every code.
        paths: optional `N` file names, written instead of the indices.
        labels: optional int `[N]`, the known classes.

    Returns:
        The CSV text, fields quoted where needed.
    """
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["rank", "index" if paths is None else "path", "cluster", *(f"z_{d}" for d in range(z.shape[1]))]
                    + (["label"] if labels is not None else []))
    for rank, i in enumerate(indices, start=1):
        writer.writerow([rank, i if paths is None else paths[i], "" if clusters is None else clusters[i],
                         *(repr(float(value)) for value in z[i])]
                        + ([labels[i]] if labels is not None else []))
    return text.getvalue()
