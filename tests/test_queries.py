"""Tests of the selection script's library side and of the script itself."""

import csv
import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from latens import queries
from latens.sampling import synthetic

REPO = pathlib.Path(__file__).resolve().parents[1]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def write_embeddings(folder, *, labels=True, dim=2):
    z, blob = synthetic.gaussian_blobs([120, 60, 30, 15], radius=20.0, dim=dim, seed=0)
    arrays = {"z": z.astype(np.float32), "errors": np.linspace(0, 1, len(z), dtype=np.float32),
              "config": json.dumps({"model": "cae", "latent_dim": dim})}
    if labels:
        arrays["labels"] = blob
    np.savez(folder / "embeddings.npz", **arrays)
    return z, blob


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_writes_every_output_with_labels(tmp_path):
    z, blob = write_embeddings(tmp_path)
    paths = queries.select_queries(tmp_path, strategy="uniform-cluster", n=12, seed=3, n_clusters=4)
    assert set(paths) == {"npz", "csv", "latent_png", "classes_png"}
    with np.load(paths["npz"]) as query:
        indices = query["indices"]
        assert str(query["strategy"]) == "uniform-cluster"
        assert int(query["seed"]) == 3 and int(query["n"]) == 12
        config = json.loads(str(query["config"]))
    assert indices.dtype == np.int64 and len(np.unique(indices)) == 12
    assert config["n_clusters"] == 4 and config["threshold"] is None and config["hit"] == "nearest"
    assert config["embeddings_config"] == {"model": "cae", "latent_dim": 2}

    rows = read_csv(paths["csv"])
    assert list(rows[0]) == ["rank", "index", "cluster", "z_0", "z_1", "label"]
    assert [int(row["rank"]) for row in rows] == list(range(1, 13))
    assert [int(row["index"]) for row in rows] == indices.tolist()
    assert [int(row["label"]) for row in rows] == blob[indices].tolist()
    np.testing.assert_allclose([[float(row["z_0"]), float(row["z_1"])] for row in rows],
                               z.astype(np.float32)[indices])
    # Four well-separated blobs are the four clusters, one per blob first.
    assert {row["cluster"] for row in rows[:4]} == {"0", "1", "2", "3"}
    for name in ("latent_png", "classes_png"):
        assert paths[name].read_bytes().startswith(PNG_SIGNATURE)
    assert not list(tmp_path.glob(".*.tmp"))


def test_without_labels_and_without_clusters(tmp_path):
    write_embeddings(tmp_path, labels=False, dim=3)
    out = tmp_path / "query"
    paths = queries.select_queries(tmp_path, strategy="kcenter", n=5, out=out, threshold=0.5)
    assert set(paths) == {"npz", "csv", "latent_png"}
    assert not (out / "query_classes.png").exists()
    rows = read_csv(out / "query.csv")
    assert list(rows[0]) == ["rank", "index", "cluster", "z_0", "z_1", "z_2"]
    assert all(row["cluster"] == "" for row in rows)
    with np.load(paths["npz"]) as query:
        assert "threshold" not in json.loads(str(query["config"]))  # Ignored by kcenter.


def test_same_seed_same_query(tmp_path):
    write_embeddings(tmp_path)
    first = queries.select_queries(tmp_path, strategy="multi-normal", n=20, seed=5)["csv"].read_text()
    assert queries.select_queries(tmp_path, strategy="multi-normal", n=20, seed=5)["csv"].read_text() \
        == first


def test_missing_or_bad_embeddings(tmp_path):
    with pytest.raises(FileNotFoundError, match="No embeddings"):
        queries.select_queries(tmp_path, strategy="random", n=3)
    np.savez(tmp_path / "embeddings.npz", codes=np.zeros((4, 2)))
    with pytest.raises(ValueError, match="has no 'z' array"):
        queries.select_queries(tmp_path, strategy="random", n=3)
    write_embeddings(tmp_path)
    with pytest.raises(ValueError, match="unknown strategy"):
        queries.select_queries(tmp_path, strategy="best", n=3)


def test_script_runs_end_to_end(tmp_path):
    write_embeddings(tmp_path)
    result = subprocess.run(
        [sys.executable, str(REPO / "experiments" / "select_queries.py"), f"--workdir={tmp_path}",
         "--strategy=ae-error", "--n=7", "--seed=1"],
        capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    with np.load(tmp_path / "query.npz") as query:
        # The 7 largest errors are the last 7 codes, largest first.
        np.testing.assert_array_equal(query["indices"], np.arange(224, 217, -1))
