"""Measures `latens-select`'s candidate defaults on labelled images: what each choice holds, class by class.

The folder command chooses without labels. Here its images come from a
labelled pool (the bundled `mnist_sample`, or Fashion-MNIST's), the pool's
first `count`, so each choice can be counted by class. For every candidate
(representation and rule) and seed, `run` calls `latens.select.choice.choose`,
the one code path of `latens-select` and `latens.choose`, with its defaults
for every other option, and records the chosen images' class counts and the
seconds it took. With `score`, it also trains the paper's classifier from
scratch on each choice's images (`latens.research.evaluate`, stopped once converged)
and records its accuracy on the dataset's test split, so candidates are
compared seed by seed with the random draw's. The choices and the scores
are two experiments of `latens.research.runner` (`Choices`, `Scores`) on
one JSON file (`runner.JsonFile`), saved after every choice and every
score, so a killed check resumes; a file made with other images, n,
options or classifier stops it. `summary` renders them as tables.

    python experiments/choice_check.py --dataset=mnist_sample --out=results/choice_check/mnist_sample.json
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import tempfile
import time

import keras
import numpy as np

from latens import checks, data, provenance, representations, sampling
from latens.research import evaluate, runner, stats, tables
from latens.select import choice


@dataclasses.dataclass(frozen=True)
class ChoiceCheckConfig:
    """The check's settings; every field is a flag of `experiments/choice_check.py`.

    Attributes:
      out: the JSON file of results (read back and extended when it exists).
      dataset: the labelled pool (`latens.data.DATASETS`).
      data_dir: folder of its IDX files (not needed for mnist_sample).
      count: images to choose from: the pool's first `count`.
      n: images chosen.
      candidates: `<representation>:<rule>` pairs; a representation is a
        kind with an optional code size L (`cae16`: the CAE at L = 16), or
        two joined (`simclr+pca`: `latens-select --join=pca`), the first
        with an optional code layer (`simclr@flatten`: `latens-select
        --code_layer=flatten`).
      seeds: seeds of every candidate.
      score: also score every choice of these candidates and seeds by the
        classifier trained from scratch on its images alone.
      classifier: that classifier's settings (the paper's network,
        stopped once converged).
    """

    out: str = "results/choice_check/mnist_sample.json"
    dataset: str = "mnist_sample"
    data_dir: str | None = None
    count: int = 2000
    n: int = 100
    candidates: tuple[str, ...] = ("pca:random", "cae:typiclust", "pca:cluster-medoid", "simclr:cluster-medoid",
                                   "simclr:typiclust", "cae16:cluster-medoid")
    seeds: tuple[int, ...] = (0, 1, 2)
    score: bool = False
    classifier: evaluate.ClassifierConfig = evaluate.ClassifierConfig(stop="converged")

    def __post_init__(self):
        checks.one_of("dataset", self.dataset, data.DATASETS)
        checks.positive("count", self.count)
        checks.positive("n", self.n)
        if self.n > self.count:
            raise ValueError(f"n ({self.n}) must not exceed count ({self.count})")
        if not self.seeds or not self.candidates:
            raise ValueError("the check needs at least one seed and one candidate")
        for candidate in self.candidates:
            options, rule = parse(candidate)
            # What `latens-select` would refuse (a rule or a joined space these images do not allow), before any run.
            choice.ChoiceConfig(n=self.n, strategy=rule, **options)


def parse(candidate: str) -> tuple[dict, str]:
    """Splits a candidate into its representation's options (of `ChoiceConfig`) and its rule.

    `"cae16:cluster-medoid"` -> `({"ae": "cae", "latent_dim": 16, "join": None}, "cluster-medoid")`;
    `"simclr:typiclust"` -> `({"ae": "simclr", "latent_dim": None, "join": None}, "typiclust")`
    (None: the kind's default size, and no joined space); `"simclr+pca:capped-medoid"` ->
    `({"ae": "simclr", "latent_dim": None, "join": "pca"}, "capped-medoid")`, a joined space;
    `"simclr@flatten:cluster-medoid"` -> `({"ae": "simclr", "latent_dim": None, "join": None,
    "code_layer": "flatten"}, "cluster-medoid")`, the codes read from another layer.

    Raises:
      ValueError: not `<kind>[L][@<layer>][+<kind>[L]]:<rule>`.
    """
    form = (f"<kind>[L][@<layer>][+<kind>[L]]:<rule>, kinds of {', '.join(representations.KINDS)} with an "
            "optional code size L and code layer (a second kind joined to the first) and a rule of "
            "latens.sampling.STRATEGIES")
    options, rule = checks.colon_separated(
        "a candidate", candidate, form, (_representation, lambda rule: checks.one_of("rule", rule, sampling.STRATEGIES)))
    return options, rule


def _representation(name: str) -> dict:
    """`ChoiceConfig`'s options of a representation's name: `cae16`, `simclr@flatten`, or a joined space of two,
    `simclr+pca`."""
    first, join, rest = name.partition(representations.JOIN)
    first, at, layer = first.partition("@")
    if at and layer not in representations.CODE_LAYERS:
        raise ValueError(name)
    first, *joined = representations.parts(first + join + rest)
    if len(joined) > 1:  # latens-select joins two at most.
        raise ValueError(name)
    kind, dim = representations.parse(first)
    # Named only when given, so the options of a check stored before code layers stay as they were.
    return {"ae": kind, "latent_dim": dim, "join": joined[0] if joined else None,
            **({"code_layer": layer} if at else {})}


def run(config: ChoiceCheckConfig) -> str:
    """Makes every choice not yet in `config.out` (and with `score`, scores it), saving after each.

    Returns:
      The summary tables (`summary`).

    Raises:
      ValueError: `config.out` holds choices of other images, n or options,
        or scores of another classifier.
    """
    splits = data.load(config.dataset, config.data_dir)
    images = splits.pool[0][: config.count], splits.pool[1][: config.count]
    # Rules of one representation and seed choose in the same model: trained once, for the first of them.
    with tempfile.TemporaryDirectory(prefix="latens-check-") as models:
        choices = Choices(config, images, pathlib.Path(models))
        runner.run(choices, desc="choices")
    if config.score:
        runner.run(Scores(config, images, splits, choices.store), desc="scores")
    return summary(json.loads(pathlib.Path(config.out).read_text()))


def _key(cell: tuple[str, int]) -> str:
    """A choice's key in the check's JSON: `<candidate>/seed<seed>`."""
    return "{}/seed{}".format(*cell)


class _EachChoice:
    """The cells of the check's experiments: `(candidate, seed)` of every choice, candidates outermost."""

    config: ChoiceCheckConfig

    def cells(self) -> list[tuple[str, int]]:
        return [(candidate, seed) for candidate in self.config.candidates for seed in self.config.seeds]

    def describe(self, cell: tuple[str, int]) -> str:
        return "{} seed {}".format(*cell)


class Choices(_EachChoice):
    """The choices as a `latens.research.runner.Experiment`: a cell is `(candidate, seed)`.

    Every choice lives in `config.out` (`{"config", "versions",
    "class_names", "pool_class_counts", "choices": {"<candidate>/seed<s>":
    entry}}`), under one config: the images, n and `latens-select`'s other
    options.

    Args:
      config: the check.
      images: the images chosen from, `[count, H, W, C]`, and their labels `[count]`.
      models: where each representation and seed's model is cached.
    """

    def __init__(self, config: ChoiceCheckConfig, images: tuple[np.ndarray, np.ndarray], models: pathlib.Path):
        self.config, self.images, self.models = config, images, models
        self._file_config = {"dataset": config.dataset, "count": config.count, "n": config.n,
                             "options": _options(config.count)}
        self.store = runner.JsonFile(config.out, _key, section="choices", header=self._header,
                                     remedy="Use another --out.")

    def cell_config(self, cell: tuple[str, int]) -> dict:
        """The images (dataset and count), n, and `latens-select`'s defaults of every other option."""
        return self._file_config

    def summarize(self, result: dict) -> str:
        return f"class counts {result['class_counts']}"

    def run_cell(self, cell: tuple[str, int]) -> dict:
        """Chooses with `latens.select.choice.choose`; the choice, its class counts and seconds."""
        candidate, seed = cell
        options, rule = parse(candidate)
        # Keyed by the first representation (and its code layer) alone: a joined space reuses its model and
        # trains the other beside it.
        model_dir = self.models / f"{candidate.partition(':')[0].partition(representations.JOIN)[0]}-seed{seed}"
        models_before = len(list(model_dir.glob("*/DONE")))
        x, y = self.images
        started = time.time()
        query = choice.choose(x, self.config.n, seed=seed, strategy=rule, cache_dir=model_dir, **options)
        trained = len(list(model_dir.glob("*/DONE"))) > models_before
        return {"candidate": candidate, "seed": seed, "seconds": round(time.time() - started, 1), "trained": trained,
                "class_counts": np.bincount(y[query], minlength=len(self._class_names())).tolist(),
                "query": query.tolist()}

    def _class_names(self) -> list[str]:
        return list(data.CLASS_NAMES[self.config.dataset])

    def _header(self) -> dict:
        """A new file's fields beside its config and choices: versions, class names, the images' class counts."""
        class_names = self._class_names()
        return {"versions": provenance.versions(), "class_names": class_names,
                "pool_class_counts": np.bincount(self.images[1], minlength=len(class_names)).tolist()}


class Scores(_EachChoice):
    """The scores as a `latens.research.runner.Experiment`: a cell is `(candidate, seed)`.

    Trains the classifier from scratch on a choice's images and adds its
    test accuracy, epochs and seconds to the choice's entry in
    `config.out`; the file's `classifier` is the config of every score.

    Args:
      config: the check.
      images: the images chosen from, `[count, H, W, C]`, and their labels `[count]`.
      splits: the dataset, for its validation and test images.
      choices: the store of the choices to score (`Choices.store`).
    """

    FIELDS = ("test_accuracy", "classifier_epochs", "classifier_seconds")

    def __init__(self, config: ChoiceCheckConfig, images: tuple[np.ndarray, np.ndarray], splits: data.Splits,
                 choices: runner.JsonFile):
        self.config, self.images, self.splits, self.choices = config, images, splits, choices
        self.store = runner.JsonFile(config.out, _key, section="choices", config_field="classifier",
                                     fields=self.FIELDS, remedy="Use another --out: its scores are of another "
                                     "classifier.")

    def cell_config(self, cell: tuple[str, int]) -> dict:
        """The classifier's settings."""
        return self.config.classifier.to_dict()

    def summarize(self, result: dict) -> str:
        return f"test accuracy {result['test_accuracy']:.4f}"

    def run_cell(self, cell: tuple[str, int]) -> dict:
        """Trains the classifier on the choice's images; its test accuracy, epochs and seconds."""
        _, seed = cell
        query = np.asarray(self.choices.load(cell).result["query"])
        x, y = self.images
        splits = self.splits
        keras.utils.set_random_seed(seed)
        scores = evaluate.train_and_evaluate((x[query], y[query]), splits.val, splits.test, splits.num_classes,
                                             self.config.classifier, seed=seed, progress=False)
        return {"test_accuracy": scores["test_accuracy"], "classifier_epochs": scores["stopped_epoch"],
                "classifier_seconds": round(sum(scores["seconds_by_part"].values()), 1)}


def summary(results: dict) -> str:
    """A markdown table: per candidate, the mean images per class over seeds, how far from the images' shares, seconds.

    "off share" is the mean over seeds of the images a choice holds beyond
    its classes' shares of n (half the L1 distance between its counts and
    the shares x n): 0 for a choice in the images' own proportions.

    The seconds are the median over the choices that trained a model (a
    rule after the first of its kind and seed reuses it); blank if none did.
    A joined space after its first representation's own candidate trains
    only the representation joined to it, so its seconds count that one.

    Args:
      results: the check's JSON, as `run` writes it.

    Returns:
      The table, with the pool's own class shares as its first row.
    """
    names = results["class_names"]
    pool = np.asarray(results["pool_class_counts"], float)
    n = results["config"]["n"]
    shares = pool / pool.sum() * n
    header = ["choice", *names, "fewest", "classes", "off share", "seconds", "seeds"]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header),
             "| the images' shares x n | " + " | ".join(f"{c:.1f}" for c in shares)
             + f" | {shares.min():.1f} | {int((pool > 0).sum())} | 0 | | |"]
    by_candidate: dict[str, list[dict]] = {}
    for entry in results["choices"].values():
        by_candidate.setdefault(entry["candidate"], []).append(entry)
    for candidate, entries in by_candidate.items():
        counts = np.array([e["class_counts"] for e in entries], float)
        cells = [f"{c:.1f}" for c in counts.mean(axis=0)]
        lines.append(f"| {candidate} | " + " | ".join(cells) + f" | {counts.min(axis=1).mean():.1f} | "
                     f"{(counts > 0).sum(axis=1).min()} | {np.abs(counts - shares).sum(axis=1).mean() / 2:.1f} | "
                     f"{_seconds(entries)} | "
                     f"{len(entries)} |")
    scored = scores_table(by_candidate)
    return "\n".join(lines) + (f"\n\n{scored}" if scored else "")


def scores_table(by_candidate: dict[str, list[dict]]) -> str:
    """A markdown table of the scored choices, empty if none is scored.

    Per candidate: its test accuracy (%), mean ± std over its scored seeds,
    and the paired difference to the random draw's (a candidate whose rule
    is `random`) with its 95 % confidence interval, over the seeds both
    have (their number in brackets).

    Args:
      by_candidate: candidate -> its entries of the check's JSON.

    Returns:
      The table, or "".
    """
    scores = {candidate: {e["seed"]: e["test_accuracy"] for e in entries if "test_accuracy" in e}
              for candidate, entries in by_candidate.items()}
    scores = {candidate: by_seed for candidate, by_seed in scores.items() if by_seed}
    if not scores:
        return ""
    baseline = next((c for c in scores if parse(c)[1] == "random"), None)
    header = f"- {baseline} (paired, 95 % CI)" if baseline else "- random"
    lines = [f"| scored choice | test accuracy (%) | {header} | seeds |", "| --- | --- | --- | --- |"]
    for candidate, by_seed in scores.items():
        own = stats.summarize(list(by_seed.values()))
        paired = stats.paired_difference(by_seed, scores[baseline]) if baseline and candidate != baseline else None
        spread = f" ± {100 * own.std:.1f}" if own.count > 1 else ""
        lines.append(f"| {candidate} | {100 * own.mean:.1f}{spread} | {tables.difference_text(paired)} | {own.count} |")
    return "\n".join(lines)


def _options(count: int) -> dict:
    """`latens-select`'s defaults of every option the check leaves alone that shapes a choice among `count` images:
    a change of them is another check."""
    # The rounds after the first labels (`next_strategy`) do not shape a first choice.
    chosen_here = ("n", "seed", "ae", "latent_dim", "join", "code_layer", "strategy", "next_strategy")
    defaults = choice.ChoiceConfig()
    # A sample no smaller than the images trains on all of them, as before `train_size` existed; the
    # digits' views are SimCLR's own, as before `image_kind` existed: checks stored then stay valid.
    unused = ("train_size",) if defaults.sample_size(count) == count else ()
    unused += ("image_kind",) if defaults.image_kind == "digits" else ()
    unused += ("code_layer",) if defaults.code_layer is None else ()
    return {key: value for key, value in dataclasses.asdict(defaults).items() if key not in chosen_here + unused}


def _seconds(entries: list[dict]) -> str:
    trained = [e["seconds"] for e in entries if e["trained"]]
    return f"{np.median(trained):.0f}" if trained else ""
