"""What a grid cell's classifier costs with the paper's epoch count and with the "converged" stop, side by side.

For one query of each size (a random draw of n pool images, seed 0), the
evaluation classifier of Table 1 (`latens.research.evaluate`, full widths) is trained
with `stop="paper"` and with `stop="converged"`, in this process, in
`--rounds` rounds ordered paper, converged, converged, paper, ... (so a load
that changes over minutes weighs on both rules alike), and the fastest run
of each is printed by part (building the model, the first epoch with its
tracing, the other epochs, validation records, the test pass) with the ratio
of the totals.

    python benchmarks/classifier_stop.py --data_dir=../shared/datasets/mnist
"""

import dataclasses
import os
import platform

import keras
import numpy as np
import tensorflow as tf
from absl import app, flags

from latens import data
from latens.research import evaluate

_DATASET = flags.DEFINE_enum("dataset", "mnist", list(data.DATASETS), "Dataset.")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "Folder of the four IDX files.")
_SIZES = flags.DEFINE_list("sizes", ["100", "1000"], "Query sizes n.")
_ROUNDS = flags.DEFINE_integer("rounds", 2, "Runs of each rule, in A B B A order; the fastest is kept.", lower_bound=1)
_PARTS = ("build", "first_epoch", "train", "validation", "test")


def main(argv):
    del argv
    splits = data.load(_DATASET.value, _DATA_DIR.value)
    print(f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"load average {os.getloadavg()[0]:.2f}; TensorFlow {tf.__version__}")
    print("| n | rule | epochs trained | " + " | ".join(_PARTS) + " | total seconds | converged / paper |")
    print("|---|---|---:|" + "---:|" * (len(_PARTS) + 2))
    grid = {rule: 0.0 for rule in evaluate.STOPS}
    for n in (int(size) for size in _SIZES.value):
        query = np.random.default_rng(0).choice(len(splits.pool[1]), n, replace=False)
        fastest = {}
        for round_ in range(_ROUNDS.value):
            for rule in evaluate.STOPS[:: 1 if round_ % 2 == 0 else -1]:
                keras.utils.set_random_seed(0)
                config = dataclasses.replace(evaluate.ClassifierConfig(), stop=rule)
                result = evaluate.train_and_evaluate(
                    (splits.pool[0][query], splits.pool[1][query]), splits.val, splits.test, splits.num_classes,
                    config, seed=0, progress=False)
                if rule not in fastest or sum(result["seconds_by_part"].values()) < fastest[rule][0]:
                    fastest[rule] = (sum(result["seconds_by_part"].values()), result)
        for rule in evaluate.STOPS:
            total, result = fastest[rule]
            grid[rule] += total
            parts = result["seconds_by_part"]
            ratio = f"{total / fastest['paper'][0]:.2f}" if rule != "paper" else ""
            print(f"| {n} | {rule} | {result['stopped_epoch']} of {result['epochs']} | "
                  + " | ".join(f"{parts.get(part, 0.0):.1f}" for part in _PARTS)
                  + f" | {total:.1f} | {ratio} |")
    print(f"One cell of each size: converged / paper = {grid['converged'] / grid['paper']:.2f}. "
          f"Load average at the end {os.getloadavg()[0]:.2f}.")


if __name__ == "__main__":
    app.run(main)
