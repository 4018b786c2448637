"""Tests of latens.research.latent_quality: k-NN label accuracy on oracle codes, and a tiny comparison."""

import dataclasses
import json

import keras
import numpy as np
import pytest

from latens import data, train
from latens.research import latent_quality

NARROW = {"filters": [4, 4, 4], "convs_per_block": 1, "dense_units": [16]}


def blobs(centres, per_blob, spread, seed):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(centres)), per_blob)
    return np.asarray(centres, float)[labels] + spread * rng.standard_normal((len(labels), 2)), labels


def test_separated_classes_score_one_and_swapped_labels_zero():
    centres = [(0, 0), (10, 0), (0, 10)]
    ref, ref_labels = blobs(centres, 50, 0.5, seed=0)
    codes, labels = blobs(centres, 20, 0.5, seed=1)
    assert latent_quality.knn_label_accuracy(codes, labels, ref, ref_labels) == 1.0
    assert latent_quality.knn_label_accuracy(codes, (labels + 1) % 3, ref, ref_labels) == 0.0


def test_codes_that_carry_no_class_score_near_chance():
    rng = np.random.default_rng(0)
    ref, codes = rng.standard_normal((4000, 2)), rng.standard_normal((2000, 2))
    score = latent_quality.knn_label_accuracy(
        codes, rng.integers(0, 4, 2000), ref, rng.integers(0, 4, 4000), k=5
    )
    assert abs(score - 0.25) < 0.04


def test_majority_vote_and_tie_to_smallest_label():
    ref = np.array([[0.0, 0], [0.1, 0], [0.2, 0], [5, 0], [5.1, 0], [5.2, 0]])
    ref_labels = np.array([2, 2, 1, 1, 1, 0])
    codes = np.array([[0.05, 0], [5.05, 0]])
    # First code: neighbours 2, 2, 1 -> 2. Second: 1, 1, 0 -> 1.
    assert latent_quality.knn_label_accuracy(codes, np.array([2, 1]), ref, ref_labels, k=3) == 1.0
    # k = 2 on [0.15, 0]: one vote each for 2 and 1; the tie goes to 1.
    assert latent_quality.knn_label_accuracy(np.array([[0.15, 0]]), np.array([1]), ref, ref_labels, k=2) == 1.0


@pytest.mark.parametrize(
    "args, match",
    [
        ((np.zeros((3, 2)), np.zeros(3, int), np.zeros((4, 3)), np.zeros(4, int)), "same L"),
        ((np.zeros((3, 2)), np.zeros(2, int), np.zeros((4, 2)), np.zeros(4, int)), "one label"),
        ((np.zeros((0, 2)), np.zeros(0, int), np.zeros((4, 2)), np.zeros(4, int)), "no codes"),
        ((np.zeros((3, 2)), np.zeros(3, int), np.zeros((4, 2)), np.zeros(4, int), 5), "k must be"),
    ],
)
def test_bad_inputs_are_refused(args, match):
    with pytest.raises(ValueError, match=match):
        latent_quality.knn_label_accuracy(*args)


def test_compare_scores_every_setting_and_seed_and_reads_back(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (160, 28, 28, 1), dtype=np.uint8)
    y = rng.integers(0, 10, 160).astype(np.int64)
    splits = data.Splits("tiny", (x[:96], y[:96]), (x[96:], y[96:]), (x[96:], y[96:]), tuple("0123456789"))
    base = train.TrainConfig(epochs=1, precision="float32", perplexity=10.0, model_options=NARROW)
    settings = {"cae": base, "tsne-kl1": dataclasses.replace(base, ae="tsne", kl_weight=1.0)}

    table = latent_quality.run_comparison(settings, [3, 4], tmp_path, splits=splits, k=3)

    report = json.loads((tmp_path / "comparison.json").read_text())
    assert [(r["setting"], r["seed"]) for r in report["runs"]] == [
        ("cae", 3), ("cae", 4), ("tsne-kl1", 3), ("tsne-kl1", 4)
    ]
    assert report["runs"][2]["config"]["kl_weight"] == 1.0 and report["runs"][2]["config"]["seed"] == 3
    for run in report["runs"]:
        assert 0.0 <= run["knn_accuracy"] <= 1.0 and run["reconstruction_error"] > 0.0
        assert "knn_curve" not in run  # Scored only once trained.
        run_dir = tmp_path / run["setting"] / f"seed{run['seed']}"
        assert (run_dir / "DONE").exists()
        with np.load(run_dir / "embeddings.npz") as f:
            assert run["code_std"] == pytest.approx(float(np.std(f["z"], axis=0).min()))
            assert run["dead_dimensions"] == int(np.sum(f["z"].max(axis=0) == f["z"].min(axis=0)))
    assert "| cae | 2 |" in table and "| tsne-kl1 | 2 |" in table
    # A second call trains nothing and gives the same scores.
    models = sorted(tmp_path.glob("*/seed*/model.keras"))
    written = [path.stat().st_mtime_ns for path in models]
    again = latent_quality.compare(settings, [3, 4], tmp_path, splits=splits, k=3)
    assert [r["knn_accuracy"] for r in again] == [r["knn_accuracy"] for r in report["runs"]]
    assert [path.stat().st_mtime_ns for path in models] == written and len(models) == 4


def test_compare_needs_settings_and_seeds(tmp_path):
    with pytest.raises(ValueError, match="nothing to compare"):
        latent_quality.compare({}, [0], tmp_path)
    with pytest.raises(ValueError, match="nothing to compare"):
        latent_quality.compare({"cae": train.TrainConfig()}, [], tmp_path)


def test_a_representation_comparison_is_saved_after_every_run(tmp_path, tiny_grid_config):
    config = tiny_grid_config(tmp_path / "grid")
    seen = []
    rows = latent_quality.compare_representations(config, "mnist_sample+unbalanced", ["pixels", "pca8"],
                                                  on_row=lambda rows: seen.append([r["setting"] for r in rows]))
    assert seen == [["pixels"], ["pixels", "pca8"]]
    assert [r["dimension"] for r in rows] == [28 * 28, 8]
    out = tmp_path / "comparison.json"
    table = latent_quality.run_representation_comparison(config, "mnist_sample+unbalanced", ["pixels", "pca8"], out)
    report = json.loads(out.read_text())
    assert report["complete"] and [r["setting"] for r in report["runs"]] == ["pixels", "pca8"]
    assert "| pca8 | 1 | 8 |" in table


def test_a_comparison_scores_its_runs_while_they_train(tmp_path, caplog):
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (160, 28, 28, 1), dtype=np.uint8)
    y = rng.integers(0, 10, 160).astype(np.int64)
    splits = data.Splits("tiny", (x[:96], y[:96]), (x[96:], y[96:]), (x[96:], y[96:]), tuple("0123456789"))
    settings = {"cae": train.TrainConfig(epochs=3, precision="float32", model_options=NARROW)}

    latent_quality.run_comparison(settings, [0], tmp_path, splits=splits, k=3, knn_every=2)

    report = json.loads((tmp_path / "comparison.json").read_text())
    run = report["runs"][0]
    curve = run["knn_curve"]
    assert report["knn_every"] == 2 and [row["epochs"] for row in curve] == [2, 3]
    # The last scoring is of the finished model, which the run's own score measures again.
    assert curve[-1]["knn_accuracy"] == pytest.approx(run["knn_accuracy"])
    assert 0.0 < curve[0]["train_seconds"] < curve[1]["train_seconds"] == pytest.approx(run["train_seconds"])
    # Read back with another schedule, the finished run keeps its curve and says it is not that schedule's.
    with caplog.at_level("WARNING"):
        again = latent_quality.compare(settings, [0], tmp_path, splits=splits, k=3, knn_every=1)
    assert again[0]["knn_curve"] == curve and "not after every 1 ([1, 2, 3])" in caplog.text
    with pytest.raises(ValueError, match="knn_every must be 0"):
        latent_quality.compare(settings, [0], tmp_path, splits=splits, knn_every=-1)


class _Coder(keras.Model):
    def encode(self, x):
        return np.asarray(x, np.float32).reshape(len(x), -1)


def test_a_repeated_epoch_replaces_its_score_and_the_seconds_come_from_the_history(tmp_path):
    files = train.RunFiles(tmp_path)
    # The logger has just rewritten the history up to the repeated second epoch.
    files.history.write_text("epoch,loss,seconds\n0,1.0,10.0\n1,0.9,13.0\n")
    files.knn_curve.write_text("epochs,knn_accuracy,train_seconds\n1,0.1,10.0\n2,0.2,22.5\n3,0.3,33.5\n")
    x = np.array([[0.0], [0.1], [5.0], [5.1]])
    splits = data.Splits("tiny", (x, np.array([0, 0, 1, 1])), (x, np.array([0, 0, 1, 1])), None, ("a", "b"))
    curve = latent_quality.KnnCurve(files, splits, k=1, every=1)
    curve.set_model(_Coder())
    curve.set_params({"epochs": 3})

    curve.on_epoch_end(1)  # A resumed run repeats the second epoch: its row and those after it go.

    assert latent_quality.read_curve(files) == [
        {"epochs": 1, "knn_accuracy": 0.1, "train_seconds": 10.0},
        {"epochs": 2, "knn_accuracy": 1.0, "train_seconds": 23.0},
    ]
    files.remove()
    assert latent_quality.read_curve(files) is None and not files.knn_curve.exists()
    with pytest.raises(ValueError, match="every must be a number of epochs, got 0"):
        latent_quality.KnnCurve(files, splits, k=1, every=0)


def test_a_comparison_scores_simclrs_other_layers_on_request(tmp_path):
    splits = data.load("mnist_sample")
    splits = data.Splits("tiny", tuple(a[:96] for a in splits.pool), tuple(a[:64] for a in splits.val), None,
                         splits.class_names)
    narrow = {"filters": [4, 8], "convs_per_block": 1, "projection_dim": 8}
    settings = {"simclr": train.TrainConfig(ae="simclr", latent_dim=16, epochs=1, batch_size=32, precision="float32",
                                            model_options=narrow),
                "cae": train.TrainConfig(epochs=1, precision="float32", model_options=NARROW)}

    rows = latent_quality.compare(settings, [0], tmp_path, splits=splits, k=3, by_layer=True)

    layers = rows[0]["knn_by_layer"]
    assert list(layers) == ["flatten", "pre_activation", "embedding"]
    assert layers["embedding"] == rows[0]["knn_accuracy"] and all(0.0 <= v <= 1.0 for v in layers.values())
    assert "knn_by_layer" not in rows[1]  # An auto-encoder has no such layers.
    assert "knn_by_layer" not in latent_quality.compare(settings, [0], tmp_path, splits=splits, k=3)[0]
