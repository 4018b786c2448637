"""Time and peak memory of `latens-select` against the size of the folder, stage by stage.

For each of `--sizes`, writes that many synthetic colour images
(`latens.select.synthetic`: `--source_size` pixels, PNG) into a folder under
`--scratch` and runs `latens.select.folder.choose` on it at latens-select's
defaults, in a fresh subprocess: with `train_size` as it is (the encoder
trains on a sample of 10,000 images and embeds all of them) and, for the
sizes in `--baseline_sizes`, with `train_size=0`, every image training the
encoder (latens-select before `train_size`), in the same process' machine
state. Each run records the seconds of its stages (`config.json`'s
"seconds": reading, training, embedding, clustering, selecting), the whole
call, and the subprocess's peak resident set size, which counts the pages
of the memory-mapped image cache it touched (`cache/images.npy`, whose size
is given beside it: the system may drop those pages whenever it needs the
memory). Every run is appended to `--out` (JSON, with the CPU and the
versions) as it finishes, and a rerun skips the runs already there.
`--figure` draws seconds against folder size from `--out` alone.

    python benchmarks/folder_size.py --sizes=2000,10000,50000,200000,1000000 --baseline_sizes=2000,10000,50000 \
        --out=results/folder_size/folder_size.json --figure=figures/folder_size.png
    python benchmarks/folder_size.py --sizes=1000000 --baseline_sizes= --source_size=64 --image_size=64 \
        --out=results/folder_size/million_64px.json
"""

import json
import pathlib
import resource
import shutil
import subprocess
import sys
import time

from absl import app, flags

from latens import fileio, provenance, runtime
from latens.select import synthetic

_SIZES = flags.DEFINE_list("sizes", ["2000", "10000", "50000", "200000"], "Folder sizes (images).")
_BASELINE_SIZES = flags.DEFINE_list("baseline_sizes", ["2000", "10000", "50000"],
                                    "Sizes also run with train_size=0 (every image trains).")
_SOURCE_SIZE = flags.DEFINE_integer("source_size", 32, "Side of the images on disk.")
_IMAGE_SIZE = flags.DEFINE_integer("image_size", None, "latens-select's --image_size (default: its default).")
_SCRATCH = flags.DEFINE_string("scratch", "/tmp/latens_folder_size", "Where the folders are written (and kept).")
_OUT = flags.DEFINE_string("out", "results/folder_size/folder_size.json", "The runs, as JSON.")
_FIGURE = flags.DEFINE_string("figure", None, "Where to save the figure of seconds against folder size.")
_KEEP = flags.DEFINE_bool("keep", True, "Keep the image folders for a rerun.")
_MEASURE = flags.DEFINE_string("measure", None, "Internal: one run, as JSON.")

STAGES = ("reading", "training", "embedding", "clustering", "selecting")


def measure(images_dir: str, out_dir: str, train_size: int | None, image_size: int | None) -> dict:
    """Runs latens-select's `choose` once in this process at its defaults; returns seconds and memory."""
    from latens.select import folder  # After the flags are parsed.

    options = {} if train_size is None else {"train_size": train_size}
    if image_size is not None:
        options["image_size"] = image_size
    start = time.perf_counter()
    folder.choose(images_dir, out_dir, folder.ChoiceConfig(**options), progress=False)
    seconds = time.perf_counter() - start
    config = json.loads(pathlib.Path(out_dir, "config.json").read_text())
    cache = pathlib.Path(out_dir, "cache", "images.npy")
    return {"seconds": seconds, "stages": config["seconds"], "train_size": config["train_size"],
            "image_size": config["image_size"], "precision": runtime.resolve_precision(config["precision"]),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "cache_mb": cache.stat().st_size / 2**20}


def _run(images_dir: pathlib.Path, out_dir: pathlib.Path, train_size: int | None) -> dict:
    shutil.rmtree(out_dir, ignore_errors=True)  # A fresh run: nothing read or trained before.
    spec = json.dumps({"images_dir": str(images_dir), "out_dir": str(out_dir), "train_size": train_size,
                       "image_size": _IMAGE_SIZE.value})
    result = subprocess.run([sys.executable, __file__, f"--measure={spec}"], capture_output=True, text=True,
                            check=False)
    if result.returncode:
        raise RuntimeError(f"the run on {images_dir} failed:\n{result.stderr[-3000:]}")
    shutil.rmtree(out_dir, ignore_errors=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def _folder(size: int) -> pathlib.Path:
    """A folder of `size` synthetic images, written once (a DONE file marks it whole)."""
    root = pathlib.Path(_SCRATCH.value, f"images{size}-{_SOURCE_SIZE.value}px")
    if not (root / "DONE").exists():
        shutil.rmtree(root, ignore_errors=True)
        started = time.perf_counter()
        synthetic.write_images(root / "images", size, _SOURCE_SIZE.value, progress=True)
        (root / "DONE").write_text(f"{time.perf_counter() - started:.0f} s\n")
    return root / "images"


def figure(report: dict):
    """Seconds of each stage against folder size, for the default and (dashed) for every image training."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.add_subplot()
    for path, style in (("sample", "-"), ("all", "--")):
        runs = sorted((run for run in report["runs"] if run["path"] == path), key=lambda run: run["images"])
        if not runs:
            continue
        sizes = [run["images"] for run in runs]
        suffix = " (every image trains)" if path == "all" else ""
        ax.plot(sizes, [run["seconds"] for run in runs], "k" + style, marker="o", label="total" + suffix)
        # Reading, embedding and selecting do not depend on how many images train.
        stages = {"training": "tab:orange"} if path == "all" else {
            "reading": "tab:blue", "training": "tab:orange", "embedding": "tab:green", "selecting": "tab:red"}
        for stage, colour in stages.items():
            values = [run["stages"][stage] + (run["stages"]["clustering"] if stage == "selecting" else 0)
                      for run in runs]
            ax.plot(sizes, values, style, color=colour, marker=".",
                    label=("clustering and selecting" if stage == "selecting" else stage) + suffix)
    ax.set(xscale="log", yscale="log", xlabel="images in the folder", ylabel="seconds",
           title=f"latens-select at its defaults ({report['cpu']})")
    ax.legend(fontsize=8)
    return fig


def main(argv):
    del argv
    if _MEASURE.value:
        print(json.dumps(measure(**json.loads(_MEASURE.value))))
        return
    out = pathlib.Path(_OUT.value)
    report = json.loads(out.read_text()) if out.exists() else {
        "cpu": runtime.cpu_name(), "source_size": _SOURCE_SIZE.value, "image_size": _IMAGE_SIZE.value,
        "versions": provenance.versions(), "runs": []}
    sizes = (report["source_size"], report.get("image_size")), (_SOURCE_SIZE.value, _IMAGE_SIZE.value)
    if sizes[0] != sizes[1]:
        raise app.UsageError(f"{out} holds runs of (source_size, image_size) {sizes[0]}, not {sizes[1]}: "
                             "use another --out")
    done = {(run["images"], run["path"]) for run in report["runs"]}
    plan = [(int(size), "sample") for size in _SIZES.value]
    plan += [(int(size), "all") for size in _BASELINE_SIZES.value]
    for size, path in sorted(plan):
        if (size, path) in done:
            continue
        images_dir = _folder(size)
        result = _run(images_dir, pathlib.Path(_SCRATCH.value, "out"), 0 if path == "all" else None)
        report["runs"].append({"images": size, "path": path, **result})
        fileio.write_text(out, json.dumps(report, indent=1) + "\n")
        stages = ", ".join(f"{stage} {result['stages'][stage]:.0f}" for stage in STAGES)
        print(f"{size} images, {path}: {result['seconds']:.0f} s ({stages}); peak RSS "
              f"{result['peak_rss_mb']:.0f} MB, cache {result['cache_mb']:.0f} MB", flush=True)
        if not _KEEP.value:
            shutil.rmtree(images_dir.parent)
    if _FIGURE.value:
        from latens import plots

        plots.save(figure(report), _FIGURE.value)


if __name__ == "__main__":
    app.run(main)
