"""Time and peak memory of every query strategy at scale, beside full Ward.

Each measurement runs in its own subprocess, which makes synthetic codes (10
overlapping unit Gaussian blobs in L = `--dim` dimensions: 2, like an
auto-encoder's latent space, or 128, like SimCLR's embedding), then times
one call. Peak memory is the subprocess's peak resident
set size (`resource.getrusage(...).ru_maxrss`), which also counts what
tracemalloc would miss (k-d trees, fastcluster, scipy's C code); the table
gives it whole and above the subprocess's footprint before the call
(interpreter, libraries and the codes themselves).

The full-matrix Ward of scipy (`scipy.cluster.hierarchy.linkage`, method
'ward') holds N (N - 1) / 2 condensed distances, and its peak is about twice
that: 6.4 GB of distances at N = 40,000 (the default `--ward_n`, the largest
that fits with room to spare on a 24 GB machine), 10 GB at N = 50,000 (about
20 GB at peak: no longer fits). It runs beside fastcluster's memory-linear
Ward and `latens.sampling.cluster` on the same codes.

    python benchmarks/selection_scale.py --sizes=50000,1000000 --n=1000
    python benchmarks/selection_scale.py --sizes=1000000 --dim=128 --n=100 \
        --strategies=cluster-medoid,balanced-medoid,typiclust,random --ward_n=0
"""

import json
import resource
import subprocess
import sys
import time

import numpy as np
from absl import app
from absl import flags

from latens import runtime
from latens.sampling import STRATEGIES
from latens.sampling import synthetic

CLUSTERINGS = ("scipy-ward (full matrix)", "fastcluster-ward", "latens.sampling.cluster")

_SIZES = flags.DEFINE_list("sizes", ["50000", "1000000"], "Numbers of codes N.")
_N = flags.DEFINE_integer("n", 1000, "Codes to select.")
_STRATEGIES = flags.DEFINE_list("strategies", list(STRATEGIES), "Strategies to time.")
_WARD_N = flags.DEFINE_integer("ward_n", 40_000, "N of the full-matrix Ward comparison; 0: none.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the codes and of the strategies.")
_DIM = flags.DEFINE_integer("dim", 2, "Dimension L of the codes.", lower_bound=2)
_MEASURE = flags.DEFINE_string("measure", None, "Internal: one measurement, as JSON.")


def measure(method, num_points, n, seed, dim=2):
    """Runs one method once in this process; returns seconds and peak memory."""
    # float32, as codes come from a network and from embeddings.npz.
    z = synthetic.gaussian_blobs(np.full(10, num_points // 10), radius=6.0, dim=dim, seed=seed)[0].astype(np.float32)
    errors = np.random.default_rng(seed).random(len(z))
    if method == CLUSTERINGS[0]:
        from scipy.cluster import hierarchy
        call = lambda: hierarchy.linkage(z, method="ward")
    elif method == CLUSTERINGS[1]:
        import fastcluster
        call = lambda: fastcluster.linkage_vector(z, method="ward")
    elif method == CLUSTERINGS[2]:
        from latens.sampling import cluster
        call = lambda: cluster(z, seed=seed)
    else:
        from latens.sampling import select
        call = lambda: select(method, z, n, seed=seed, errors=errors)
    before = _peak_rss_mb()
    start = time.perf_counter()
    call()
    seconds = time.perf_counter() - start
    peak = _peak_rss_mb()
    return {"seconds": seconds, "peak_mb": peak, "above_start_mb": peak - before}


def _peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux.


def _in_subprocess(method, num_points, n, seed, dim):
    spec = json.dumps({"method": method, "num_points": num_points, "n": n, "seed": seed, "dim": dim})
    result = subprocess.run([sys.executable, __file__, f"--measure={spec}"], capture_output=True,
                            text=True, check=False)
    if result.returncode:
        return {"error": result.stderr.strip().splitlines()[-1] if result.stderr else "failed"}
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv):
    del argv  # Unused.
    if _MEASURE.value:
        spec = json.loads(_MEASURE.value)
        print(json.dumps(measure(**spec)))
        return
    runs = [(method, int(size), _N.value) for size in _SIZES.value for method in _STRATEGIES.value]
    if _WARD_N.value:
        runs += [(method, _WARD_N.value, None) for method in CLUSTERINGS]
    print(f"Codes of L = {_DIM.value}; {runtime.cpu_name()}.")
    print("| method | N | n | seconds | peak RSS (MB) | above start (MB) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for method, num_points, n in runs:
        result = _in_subprocess(method, num_points, n, _SEED.value, _DIM.value)
        if "error" in result:
            print(f"| {method} | {num_points:,} | {n or ''} | failed: {result['error']} | | |",
                  flush=True)
            continue
        print(f"| {method} | {num_points:,} | {n or ''} | {result['seconds']:.2f} | "
              f"{result['peak_mb']:,.0f} | {result['above_start_mb']:,.0f} |", flush=True)


if __name__ == "__main__":
    app.run(main)
