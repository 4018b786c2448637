"""Reading speed and peak memory of `latens.select.images.read_images` on a folder of synthetic images.

Writes `--count` synthetic colour images of `--source_size` pixels (smooth
random blobs plus noise, so that they compress like photographs) into a
temporary folder, then reads them into a fresh cache once per entry of
`--workers`, each in its own subprocess. It reports wall time, images per
second, and the subprocess's peak resident set size
(`resource.getrusage(...).ru_maxrss`) beside its size before reading
(interpreter and libraries) and the size of the resized array that reading
produces. Reading streams: each resized image is appended to the cache file
as it is decoded, so memory holds neither the decoded full-size images nor
the resized array.

    python benchmarks/folder_scale.py --count=4000 --source_size=128 --image_size=64
"""

import json
import pathlib
import resource
import subprocess
import sys
import tempfile
import time

from absl import app, flags

from latens.select import images, synthetic

_COUNT = flags.DEFINE_integer("count", 4000, "Images in the folder.")
_SOURCE_SIZE = flags.DEFINE_integer("source_size", 128, "Side of the images on disk.")
_FORMAT = flags.DEFINE_enum("format", "png", ["png", "jpg"], "File format on disk.")
_IMAGE_SIZE = flags.DEFINE_integer("image_size", 64, "Side they are resized to.")
_CHANNELS = flags.DEFINE_integer("channels", 3, "1 or 3.")
_WORKERS = flags.DEFINE_list("workers", ["1", "2", "4"], "Decoding threads to compare.")
_MEASURE = flags.DEFINE_string("measure", None, "Internal: one measurement, as JSON.")


def measure(images_dir: str, cache_dir: str, image_size: int, channels: int, workers: int) -> dict:
    """Reads the folder once in this process; returns time and memory."""
    files, _ = images.list_files(images_dir)
    before = _peak_rss_mb()
    start = time.perf_counter()
    read = images.read_images(images_dir, files, cache_dir, image_size=image_size, channels=channels,
                              workers=workers, progress=False)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "images": len(read.paths), "rss_before_mb": before,
            "peak_rss_mb": _peak_rss_mb(), "array_mb": read.images.nbytes / 2**20}


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes.


def main(argv):
    del argv
    if _MEASURE.value:
        print(json.dumps(measure(**json.loads(_MEASURE.value))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        images_dir = pathlib.Path(tmp, "images")
        start = time.perf_counter()
        synthetic.write_images(images_dir, _COUNT.value, _SOURCE_SIZE.value, _FORMAT.value)
        disk_mb = sum(p.stat().st_size for p in images_dir.rglob("*.*")) / 2**20
        print(f"wrote {_COUNT.value} {_SOURCE_SIZE.value}x{_SOURCE_SIZE.value} {_FORMAT.value} images "
              f"({disk_mb:.0f} MB) in {time.perf_counter() - start:.0f} s; reading to "
              f"{_IMAGE_SIZE.value}x{_IMAGE_SIZE.value}x{_CHANNELS.value}")
        print("| workers | seconds | images/s | peak RSS (MB) | RSS before reading (MB) | resized array (MB) |")
        print("| --- | --- | --- | --- | --- | --- |")
        for run, workers in enumerate(map(int, _WORKERS.value)):
            spec = {"images_dir": str(images_dir), "cache_dir": str(pathlib.Path(tmp, f"cache{run}")),
                    "image_size": _IMAGE_SIZE.value, "channels": _CHANNELS.value, "workers": workers}
            result = subprocess.run([sys.executable, __file__, f"--measure={json.dumps(spec)}"],
                                    capture_output=True, text=True, check=True)
            r = json.loads(result.stdout.strip().splitlines()[-1])
            print(f"| {workers} | {r['seconds']:.1f} | {r['images'] / r['seconds']:.0f} | {r['peak_rss_mb']:.0f} "
                  f"| {r['rss_before_mb']:.0f} | {r['array_mb']:.0f} |", flush=True)


if __name__ == "__main__":
    app.run(main)
