"""The Table 1 grid: a tiny grid end to end, killed and resumed, and what defines a cell."""

import dataclasses

import numpy as np
import pytest

from latens import spaces
from latens.research import evaluate, grid, tables


def test_rows_and_cells_follow_the_paper_order():
    config = grid.GridConfig(seeds=(0,), sizes=(100,), datasets=("mnist",))
    rows = [grid.Cell("mnist", 100, s, a, 0).row for s, a in grid.rows(config)]
    assert rows[:2] == ["random", "ae-error"]
    assert rows[2:6] == ["cae/uniform", "cae/multi-normal", "cae/uniform-cluster", "cae/multi-normal-cluster"]
    assert len(rows) == 2 + 3 * 4 == len(grid.cells(config))


def test_bad_config():
    with pytest.raises(ValueError, match="unknown strategies"):
        grid.GridConfig(strategies=("best",))
    with pytest.raises(ValueError, match="unknown dataset .cifar."):
        grid.GridConfig(datasets=("cifar",))


def test_tiny_grid_runs_resumes_and_renders(tmp_path, monkeypatch, tiny_grid_config):
    config = tiny_grid_config(tmp_path)
    calls = []
    real = evaluate.train_and_evaluate

    def counting(*args, **kwargs):
        calls.append(kwargs["seed"])
        if len(calls) == 4:
            raise KeyboardInterrupt  # The grid is killed in its fourth cell.
        return real(*args, **kwargs)

    monkeypatch.setattr(evaluate, "train_and_evaluate", counting)
    with pytest.raises(KeyboardInterrupt):
        grid.run(config)
    done = sorted((tmp_path / "results").rglob("*.json"))
    assert len(done) == 3
    stamps = {p: p.stat().st_mtime_ns for p in done}

    calls.clear()
    table = grid.run(config)
    assert len(calls) == 3  # Only the cells that had not finished.
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items())
    results = tables.load_results(tmp_path)
    assert len(results) == 6

    # One auto-encoder trained, reused by both strategies that need codes.
    assert (tmp_path / "ae" / "mnist_sample+unbalanced" / "vae-seed0" / "DONE").exists()
    for result in results:
        assert len(result["query_indices"]) == 20 == len(set(result["query_indices"]))
        assert sum(result["query_class_counts"]) == 20
        assert result["config"]["seed"] in (0, 1) and "tensorflow" in result["versions"]
        assert 0 < result["classifier_seconds"] <= result["seconds"]

    assert "unbalanced MNIST sample, n = 20" in table
    assert "| random |" in table and "| VAE multi-normal-cluster |" in table
    assert "(2)" in table
    assert "Query images per class, mean over seeds: unbalanced MNIST sample, n = 20." in table
    assert (tmp_path / "table1.md").read_text() == table

    # Nothing runs a second time once complete.
    calls.clear()
    grid.run(config)
    assert calls == []


def test_changed_config_is_refused(tmp_path, tiny_grid_config):
    config = tiny_grid_config(tmp_path, strategies=("random",), seeds=(0,))
    grid.run(config)
    changed = dataclasses.replace(config, classifier=dataclasses.replace(config.classifier, epochs=3))
    with pytest.raises(ValueError, match="different config .*classifier"):
        grid.run(changed)


def test_a_cells_config_names_the_tsne_settings_only_for_the_tsne_ae(tmp_path, tiny_grid_config):
    from latens.models import tsne

    runner = grid.Grid(tiny_grid_config(tmp_path, aes=("cae", "vae", "tsne")))
    configs = {
        cell.ae: runner.cell_config(cell)["ae"] for cell in grid.cells(runner.config) if cell.ae
    }
    assert configs["tsne"]["kl_weight"] == tsne.KL_WEIGHT
    assert configs["tsne"]["perplexity"] == tsne.PERPLEXITY
    assert "kl_weight" not in configs["cae"] and "kl_weight" not in configs["vae"]


def test_a_stored_result_made_with_another_stopping_rule_is_refused(tmp_path, tiny_grid_config):
    config = tiny_grid_config(tmp_path, strategies=("random",), seeds=(0,))
    grid.run(config)
    converged = dataclasses.replace(config, classifier=dataclasses.replace(config.classifier, stop="converged"))
    with pytest.raises(ValueError, match="different config .*classifier"):
        grid.run(converged)


def test_a_grid_samples_any_representation_named_with_its_dimension(tmp_path, tiny_grid_config):
    config = tiny_grid_config(tmp_path, aes=("pca8", "vae3"), strategies=("random", "kcenter"), seeds=(0,))
    grid.run(config)
    results = {r["config"]["row"]: r for r in tables.load_results(tmp_path)}
    assert sorted(results) == ["pca8/kcenter", "random", "vae3/kcenter"]
    assert results["pca8/kcenter"]["config"]["ae"]["kind"] == "pca"
    assert results["pca8/kcenter"]["config"]["ae"]["latent_dim"] == 8
    assert results["vae3/kcenter"]["config"]["ae"]["latent_dim"] == 3
    with np.load(tmp_path / "ae" / "mnist_sample+unbalanced" / "pca8-seed0" / "embeddings.npz") as f:
        assert f["z"].shape[1] == 8 and "errors" not in f.files
    with pytest.raises(ValueError, match="unknown representation 'gan'"):
        tiny_grid_config(tmp_path, aes=("gan",))


def test_the_linear_protocol_scores_queries_on_a_frozen_embedding(tmp_path, tiny_grid_config):
    config = tiny_grid_config(tmp_path, aes=("pca8",), strategies=("random", "kcenter"), seeds=(0, 1),
                              protocol="linear", linear_embedding="pca8")
    grid.run(config)
    results = tables.load_results(tmp_path)
    assert len(results) == 4
    for result in results:
        classifier = result["config"]["classifier"]
        assert (classifier["protocol"], classifier["embedding"], classifier["weight_decay"]) == ("linear", "pca8", 1e-3)
        assert classifier["embedding_training"]["ae"] == "pca" and classifier["embedding_training"]["latent_dim"] == 8
        assert 0.1 < result["test_accuracy"] <= 1.0 and "history" not in result
    held_out = np.load(tmp_path / "ae" / "mnist_sample+unbalanced" / "pca8-seed0" / "heldout.npz")
    assert held_out["test"].shape == (1000, 8) and held_out["val"].shape == (1000, 8)
    scratch = dataclasses.replace(config, protocol="scratch")
    with pytest.raises(ValueError, match="different config .*classifier"):
        grid.run(scratch)


def test_a_query_chosen_in_other_codes_is_refused_even_after_its_result_is_deleted(tmp_path, tiny_grid_config):
    import json

    import numpy as np

    config = tiny_grid_config(tmp_path, strategies=("multi-normal-cluster",), seeds=(0,))
    runner = grid.Grid(config)
    (cell,) = [c for c in grid.cells(config) if c.ae]
    path = tmp_path / "queries" / cell.relative_path(".npz")
    path.parent.mkdir(parents=True)
    stored = {**runner.selection_config(cell), "codes": runner.codes_config(cell)}
    np.savez(path, indices=np.arange(20), config=np.array(json.dumps(stored)))
    assert runner.query(cell).tolist() == list(range(20))
    retrained = grid.Grid(dataclasses.replace(config, ae=dataclasses.replace(config.ae, epochs=2)))
    with pytest.raises(ValueError, match="different config .*codes"):
        retrained.query(cell)
    # A query stored before its codes' config was recorded is checked on the selection alone.
    np.savez(path, indices=np.arange(20), config=np.array(json.dumps(runner.selection_config(cell))))
    assert retrained.query(cell).tolist() == list(range(20))


def test_each_unbalanced_pool_draw_has_its_own_representations(tmp_path, tiny_grid_config):
    config = tiny_grid_config(tmp_path)
    assert grid.Grid(config).ae_workdir("mnist_sample+unbalanced", "vae").name == "vae-seed0"
    drawn = grid.Grid(dataclasses.replace(config, data_seed=3))
    assert drawn.ae_workdir("mnist_sample+unbalanced", "vae").name == "vae-seed0-data3"
    assert drawn.ae_workdir("mnist_sample", "vae").name == "vae-seed0"  # A balanced pool has no draw.


def test_a_representation_trained_under_another_distribution_is_another_representation(tmp_path, tiny_grid_config):
    config = tiny_grid_config(tmp_path, strategies=("multi-normal-cluster",), seeds=(0,))
    (cell,) = [c for c in grid.cells(config) if c.ae]
    assert "distribute" not in grid.Grid(config).cell_config(cell)["ae"]  # Earlier results still match.
    mirrored = grid.Grid(dataclasses.replace(config, distribute="mirrored"))
    assert mirrored.cell_config(cell)["ae"]["distribute"] == "mirrored"


def test_a_joined_space_selects_in_its_parts_codes_side_by_side(tmp_path, tiny_grid_config):
    config = tiny_grid_config(tmp_path, aes=("pca8", "pca8+vae3"), strategies=("kcenter",), seeds=(0,))
    grid.run(config)
    results = {r["config"]["row"]: r for r in tables.load_results(tmp_path)}
    assert sorted(results) == ["pca8+vae3/kcenter", "pca8/kcenter"]
    joined = results["pca8+vae3/kcenter"]["config"]["ae"]["joined"]
    assert joined[0] == results["pca8/kcenter"]["config"]["ae"]
    assert [part["kind"] for part in joined] == ["pca", "vae"] and joined[1]["latent_dim"] == 3
    # Each part is trained once, where it would be named alone; the joined space has no folder of its own.
    ae_root = tmp_path / "ae" / "mnist_sample+unbalanced"
    assert sorted(p.name for p in ae_root.iterdir()) == ["pca8-seed0", "vae3-seed0"]
    trained = grid.Grid(config)
    codes = trained.embeddings("mnist_sample+unbalanced", "pca8+vae3")
    parts = [trained.embeddings("mnist_sample+unbalanced", name)["z"] for name in ("pca8", "vae3")]
    np.testing.assert_array_equal(codes["z"], spaces.join(parts))
    assert codes["errors"] is None
    with pytest.raises(ValueError, match="each representation once"):
        tiny_grid_config(tmp_path, aes=("pca8+pca8",))
    with pytest.raises(ValueError, match="unknown representation 'gan'"):
        tiny_grid_config(tmp_path, aes=("pca8+gan",))
    with pytest.raises(ValueError, match="not a joined space's"):
        tiny_grid_config(tmp_path, protocol="linear", linear_embedding="pca8+vae3")
