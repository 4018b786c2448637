"""How many images the encoder must train on: SimCLR trained on a sample of M pool images, every image embedded.

Issue "large folders": a folder's cost is its training, so latens trains on
at most `train_size` images (`latens.train.training_sample`) and embeds the
rest. This study measures what that costs in quality on one of the study's
pools (`latens.research.study`): for each M of `TrainSizeConfig.train_sizes`
it trains the study's SimCLR for its epochs over a seeded sample of M pool
images (so `epochs * M // batch` steps), embeds all the pool, and scores

  * the embedding: 5-NN label accuracy of validation codes among pool codes
    (`latens.research.latent_quality`);
  * the default rule (`cluster-medoid`) against `random` under the linear
    protocol (both rows read the arm's own embedding) and, with
    `protocols` naming it, under the scratch protocol, where the `random`
    row (which no embedding shapes) is the study's own;

each on the study's seeds, paired. The arm that trains on every image is
the study itself: its SimCLR, its 5-NN (`results/representations`) and its
cells. Each arm is a `latens.research.grid` grid (the same cached,
resumable cells and JSON), under `<workdir>/<protocol>/m<M>/`, its SimCLR
under `<workdir>/ae/m<M>/`; `summary.json` and `summary.md` gather them.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
from typing import ClassVar

import numpy as np

from latens import checks, fileio, provenance, runtime, train
from latens.research import grid, latent_quality, stats, study, tables

DEFAULT_ROW = "simclr.cluster-medoid"


@dataclasses.dataclass(frozen=True)
class TrainSizeConfig:
    """The study's settings; every field is a flag of `experiments/train_size.py`.

    Attributes:
      workdir: where the arms' representations and cells live.
      study_workdir: the study beyond the paper (`latens.research.study`),
        whose SimCLR trained on every image is the arm "all".
      representations_json: the study's 5-NN scores of that SimCLR
        (`experiments/representations.py --out`).
      data_dir: folder of the datasets' IDX files.
      dataset: the pool.
      train_sizes: the sample sizes M compared with training on all images.
      n: query size.
      seeds: seeds of every cell (the study's).
      protocols: `linear`, and `scratch` (the paper's classifier).
      precision: dtype policy of the encoder and the scratch classifier;
        the study's cells ran in float32.
    """

    CHOICES: ClassVar[dict] = {"precision": runtime.PRECISIONS}

    workdir: str = "results/train_size"
    study_workdir: str = "results/beyond"
    representations_json: str = "results/representations/mnist.json"
    data_dir: str | None = None
    dataset: str = "mnist"
    train_sizes: tuple[int, ...] = (5000, 10000, 20000)
    n: int = 100
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    protocols: tuple[str, ...] = ("linear",)
    precision: str = "float32"

    def __post_init__(self):
        checks.choices(self)
        checks.each_one_of("protocols", self.protocols, grid.PROTOCOLS)
        for size in self.train_sizes:
            checks.positive("train_sizes", size)


def arm_config(config: TrainSizeConfig, train_size: int, protocol: str) -> grid.GridConfig:
    """The grid of one arm and protocol: the study's, with SimCLR trained on `train_size` images."""
    base = study.StudyConfig(workdir=config.study_workdir, data_dir=config.data_dir, precision=config.precision)
    # Under the scratch protocol `random` is the study's own row: no embedding shapes it.
    strategies = ("random", "cluster-medoid") if protocol == "linear" else ("cluster-medoid",)
    root = pathlib.Path(config.workdir)
    return dataclasses.replace(
        study.protocol_config(base, protocol),
        workdir=str(root / protocol / f"m{train_size}"), ae_dir=str(root / "ae" / f"m{train_size}"),
        datasets=(config.dataset,), sizes=(config.n,), aes=("simclr",), strategies=strategies,
        seeds=config.seeds, simclr=dataclasses.replace(base.simclr, train_size=train_size))


def run(config: TrainSizeConfig) -> str:
    """Runs (or resumes) every arm, then writes and returns the summary."""
    for train_size in config.train_sizes:
        for protocol in config.protocols:
            grid.run(arm_config(config, train_size, protocol), paper_values=False)
    return summarize(config)


def summarize(config: TrainSizeConfig) -> str:
    """`<workdir>/summary.json` and `summary.md` from the saved runs and cells; returns the markdown.

    Nothing is trained or selected, but each arm's model codes the
    validation images again for its 5-NN score, so the data is read.
    """
    arms = [_arm(config, size) for size in config.train_sizes] + [_study_arm(config)]
    full = arms[-1]
    for arm in arms:
        for protocol, scores in arm["protocols"].items():
            if protocol in full["protocols"] and arm is not full:
                versus = stats.paired_difference(scores["default"], full["protocols"][protocol]["default"])
                scores["versus_all"] = versus.to_dict() if versus else None
    report = {"config": dataclasses.asdict(config), "versions": provenance.versions(), "arms": _jsonable(arms)}
    root = pathlib.Path(config.workdir)
    fileio.write_text(root / "summary.json", json.dumps(report, indent=1) + "\n")
    markdown = render(arms, config)
    fileio.write_text(root / "summary.md", markdown)
    return markdown


def _arm(config: TrainSizeConfig, train_size: int) -> dict:
    """One sampled arm's training, 5-NN and cells."""
    linear = arm_config(config, train_size, "linear")
    trained = grid.Grid(linear)
    workdir = trained.ae_workdir(config.dataset, "simclr")
    run_config = trained.ae_config(config.dataset, "simclr")
    scores = latent_quality.measure(train.RunFiles(workdir), run_config, trained.splits(config.dataset), k=5)
    arm = {"train_size": train_size, "steps": run_config.epochs * (train_size // run_config.batch_size),
           "train_seconds": scores["train_seconds"], "knn_accuracy": scores["knn_accuracy"], "protocols": {}}
    study_random = _row(config, pathlib.Path(config.study_workdir) / "scratch", "random")
    for protocol in config.protocols:
        cells = _row(config, pathlib.Path(arm_config(config, train_size, protocol).workdir), DEFAULT_ROW)
        random = _row(config, pathlib.Path(linear.workdir), "random") if protocol == "linear" else study_random
        arm["protocols"][protocol] = _scores(cells, random)
    return arm


def _study_arm(config: TrainSizeConfig) -> dict:
    """The arm "all": the study's SimCLR, trained on every pool image, and its cells."""
    base = grid.Grid(study.StudyConfig(workdir=config.study_workdir, data_dir=config.data_dir).grid_config())
    run_config = base.ae_config(config.dataset, "simclr")
    pool = len(base.splits(config.dataset).pool[1])
    reported = json.loads(pathlib.Path(config.representations_json).read_text())
    scored = next(run for run in reported["runs"] if run["setting"] == "simclr")
    if scored["config"] != json.loads(run_config.to_json()):
        raise ValueError(f"{config.representations_json} scored another SimCLR than the study's")
    study_dir = pathlib.Path(config.study_workdir)
    arm = {"train_size": 0, "steps": run_config.epochs * (pool // run_config.batch_size),
           "train_seconds": scored["train_seconds"], "knn_accuracy": scored["knn_accuracy"], "protocols": {}}
    for protocol in config.protocols:
        arm["protocols"][protocol] = _scores(_row(config, study_dir / protocol, DEFAULT_ROW),
                                             _row(config, study_dir / protocol, "random"))
    return arm


def _row(config: TrainSizeConfig, workdir: pathlib.Path, row: str) -> dict[int, float]:
    """seed -> test accuracy of one row's saved cells at the config's dataset and n."""
    folder = workdir / "results" / config.dataset / f"n{config.n}" / row
    found = {}
    for seed in config.seeds:
        path = folder / f"seed{seed}.json"
        if path.exists():
            found[seed] = json.loads(path.read_text())["test_accuracy"]
    return found


def _scores(default: dict[int, float], random: dict[int, float]) -> dict:
    gain = stats.paired_difference(default, random)
    return {"default": default, "random": random,
            "default_mean": float(np.mean(list(default.values()))) if default else None,
            "gain": gain.to_dict() if gain else None}


def _jsonable(value):
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    return value


def render(arms: list[dict], config: TrainSizeConfig) -> str:
    """The summary as a markdown table, one row per arm, accuracies in points."""
    header = "| images that train SimCLR | steps | training seconds | 5-NN |"
    rule = "| --- | --- | --- | --- |"
    for protocol in config.protocols:
        header += f" {protocol}: default | gain over random | vs all images |"
        rule += " --- | --- | --- |"
    lines = [f"SimCLR trained on M of the {tables.dataset_label(config.dataset)} pool's images, n = {config.n}, "
             f"seeds {', '.join(map(str, config.seeds))}; intervals are paired 95 % intervals over seeds.", "",
             header, rule]
    for arm in arms:
        line = (f"| {arm['train_size'] or 'all'} | {arm['steps']} | {arm['train_seconds']:.0f} | "
                f"{arm['knn_accuracy']:.4f} |")
        for protocol in config.protocols:
            scores = arm["protocols"].get(protocol, {})
            line += (f" {_points(scores.get('default_mean'))} | {_interval(scores.get('gain'))} | "
                     f"{_interval(scores.get('versus_all')) if arm['train_size'] else '—'} |")
        lines.append(line)
    return "\n".join(lines) + "\n"


def _points(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}"


def _interval(summary: dict | None) -> str:
    if not summary:
        return "—"
    return (f"{100 * summary['mean']:+.1f} [{100 * summary['ci_low']:+.1f}, {100 * summary['ci_high']:+.1f}] "
            f"({summary['count']})")
