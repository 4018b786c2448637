"""The Table 1 grid: a tiny grid end to end, killed and resumed, and the table rendering."""

import keras
import numpy as np
import pytest

from latens import data, evaluate, models, reproduce
from latens.models import layers

TINY_CLASSIFIER = evaluate.ClassifierConfig(
    epochs=2, filters=(4, 4, 4), convs_per_block=1, dense_units=(16,), val_points=1, val_size=50,
    precision="float32",
)


def tiny_config(workdir, **changes):
    settings = dict(
        workdir=str(workdir),
        datasets=("mnist_sample+unbalanced",),
        sizes=(20,),
        aes=("vae",),
        strategies=("random", "ae-error", "multi-normal-cluster"),
        seeds=(0, 1),
        ae_epochs=1,
        ae_options={"filters": [4, 4, 4], "convs_per_block": 1, "dense_units": [16]},
        precision="float32",
        classifier=TINY_CLASSIFIER,
    )
    settings.update(changes)
    return reproduce.GridConfig(**settings)


def test_rows_and_cells_follow_the_paper_order():
    config = reproduce.GridConfig(seeds=(0,), sizes=(100,), datasets=("mnist",))
    rows = [reproduce.Cell("mnist", 100, s, a, 0).row for s, a in reproduce.rows(config)]
    assert rows[:2] == ["random", "ae-error"]
    assert rows[2:6] == ["cae/uniform", "cae/multi-normal", "cae/uniform-cluster", "cae/multi-normal-cluster"]
    assert len(rows) == 2 + 3 * 4 == len(reproduce.cells(config))


def test_bad_config():
    with pytest.raises(ValueError, match="unknown strategies"):
        reproduce.GridConfig(strategies=("best",))
    with pytest.raises(ValueError, match="unknown datasets"):
        reproduce.GridConfig(datasets=("cifar",))


def test_tiny_grid_runs_resumes_and_renders(tmp_path, monkeypatch):
    config = tiny_config(tmp_path)
    calls = []
    real = evaluate.train_and_evaluate

    def counting(*args, **kwargs):
        calls.append(kwargs["seed"])
        if len(calls) == 4:
            raise KeyboardInterrupt  # The grid is killed in its fourth cell.
        return real(*args, **kwargs)

    monkeypatch.setattr(evaluate, "train_and_evaluate", counting)
    with pytest.raises(KeyboardInterrupt):
        reproduce.run(config)
    done = sorted((tmp_path / "results").rglob("*.json"))
    assert len(done) == 3
    stamps = {p: p.stat().st_mtime_ns for p in done}

    calls.clear()
    table = reproduce.run(config)
    assert len(calls) == 3  # Only the cells that had not finished.
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items())
    results = reproduce.load_results(tmp_path)
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
    reproduce.run(config)
    assert calls == []


def test_changed_config_is_refused(tmp_path):
    config = tiny_config(tmp_path, strategies=("random",), seeds=(0,))
    reproduce.run(config)
    changed = tiny_config(
        tmp_path, strategies=("random",), seeds=(0,),
        classifier=evaluate.ClassifierConfig(**{**TINY_CLASSIFIER.__dict__, "epochs": 3}),
    )
    with pytest.raises(ValueError, match="different config .*classifier"):
        reproduce.run(changed)


def _result(dataset, n, row, seed, accuracy):
    return {"config": {"dataset": dataset, "n": n, "row": row, "seed": seed}, "test_accuracy": accuracy}


def test_table_rendering_from_saved_values():
    results = [
        _result("mnist", 100, "random", 0, 0.70),
        _result("mnist", 100, "random", 1, 0.74),
        _result("mnist", 100, "random", 2, 0.78),
        _result("mnist", 100, "vae/uniform", 0, 0.75),
        _result("mnist", 100, "vae/uniform", 1, 0.76),
        _result("mnist", 100, "vae/uniform", 2, 0.80),
        _result("mnist+unbalanced", 1000, "random", 0, 0.9),
    ]
    table = reproduce.render_table1(results)
    lines = table.splitlines()
    header = next(l for l in lines if l.startswith("| strategy"))
    assert header == "| strategy | MNIST, n = 100 | paper | unbalanced MNIST, n = 1000 | paper |"
    assert "| random | 74.0 ± 4.0 (3) | 80.9 | 90.0 (1) | 92.6 |" in lines
    assert "| VAE uniform | 77.0 ± 2.6 (3) | 38.8 |  | 62.4 |" in lines
    # Paired differences 5, 2, 2 points: mean 3.0, t(0.975, 2) * 1.732 / sqrt(3) = 4.3.
    assert "| VAE uniform | +3.0 [-1.3, +7.3] (3) |  |" in lines


def test_table_has_no_paper_column_where_the_paper_has_no_value():
    results = [_result("fashion_mnist", 100, "random", 0, 0.5), _result("mnist", 100, "kcenter", 0, 0.6)]
    lines = reproduce.render_table1(results).splitlines()
    assert "| strategy | Fashion-MNIST, n = 100 | MNIST, n = 100 | paper |" in lines
    assert "| kcenter |  | 60.0 (1) |  |" in lines


def test_query_summary_averages_class_counts_and_takes_median_seconds():
    def result(row, seed, counts, seconds):
        return {**_result("mnist+unbalanced", 100, row, seed, 0.5), "query_class_counts": counts, "seconds": seconds}

    results = [
        result("random", 0, [2, 0, 1], 10.0),
        result("random", 1, [1, 1, 1], 30.0),
        result("random", 2, [0, 2, 1], 14.0),
        result("vae/uniform", 0, [3, 0, 0], 7.0),
    ]
    lines = reproduce.render_query_summary(results).splitlines()
    assert "| strategy | 0 | 1 | 2 | seeds |" in lines
    assert "| random | 1.0 | 1.0 | 1.0 | 3 |" in lines
    assert "| VAE uniform | 3.0 | 0.0 | 0.0 | 1 |" in lines
    assert lines.index("| random | 1.0 | 1.0 | 1.0 | 3 |") < lines.index("| VAE uniform | 3.0 | 0.0 | 0.0 | 1 |")
    # Median of 7, 10, 14, 30.
    assert "Median seconds per cell: 12 over 4 cells." in lines
    assert reproduce.render_query_summary([_result("mnist", 100, "random", 0, 0.5)]) == ""


def test_table_only_needs_no_results(tmp_path):
    assert reproduce.write_table(tmp_path) == "No results yet.\n"


def test_figures_from_saved_results(tmp_path):
    config = tiny_config(tmp_path / "grid", seeds=(0,))
    reproduce.run(config)
    written = reproduce.write_figures(tmp_path / "grid", tmp_path / "figures")
    names = sorted(p.rsplit("/", 1)[1] for p in written)
    # ae-error ranks the CAE's errors, so a CAE was trained beside the VAE.
    assert names == [
        "latent_mnist_sample_unbalanced_cae.png",
        "latent_mnist_sample_unbalanced_vae.png",
        "queries_mnist_sample_unbalanced_n20_cae.png",
        "queries_mnist_sample_unbalanced_n20_vae.png",
        "query_classes_mnist_sample_unbalanced_n20.png",
        "table1_bars.png",
        "validation_mnist_sample_unbalanced_n20.png",
    ]
    for path in written:
        with open(path, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
        assert (tmp_path / "figures" / path.rsplit("/", 1)[1]).stat().st_size > 5_000


def test_a_cells_config_names_the_tsne_settings_only_for_the_tsne_ae(tmp_path):
    from latens.models import tsne

    grid = reproduce.Grid(tiny_config(tmp_path, aes=("cae", "vae", "tsne")))
    configs = {
        cell.ae: grid.cell_config(cell)["ae"] for cell in reproduce.cells(grid.config) if cell.ae
    }
    assert configs["tsne"]["kl_weight"] == tsne.KL_WEIGHT
    assert configs["tsne"]["perplexity"] == tsne.PERPLEXITY
    assert "kl_weight" not in configs["cae"] and "kl_weight" not in configs["vae"]


def test_bar_chart_marks_the_papers_values_on_their_rows():
    import matplotlib.collections

    from latens import evaluate, plots

    summaries = {"MNIST, n = 100": {"random": evaluate.summarize([0.7, 0.8]), "ae-error": evaluate.summarize([0.3])}}
    fig = plots.accuracy_bars(summaries, "t", reference={"MNIST, n = 100": {"ae-error": 46.4, "absent": 1.0}})
    (ax,) = fig.axes
    (markers,) = [c for c in ax.collections if isinstance(c, matplotlib.collections.PathCollection)]
    assert markers.get_offsets().tolist() == [[46.4, 1.0]]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["paper"]


def test_the_quickstart_vae_starts_with_codes_that_differ_more_than_its_noise(tmp_path):
    # The spread over images of the posterior means at initialisation, in
    # units of the posterior's standard deviation. Near 0, the decoder sees
    # noise, learns to ignore z, and a brief run collapses the posterior: the
    # quickstart's VAE did so with the default init (README, "What the main
    # job does").
    x = data.load("mnist_sample").pool[0][:256].astype(np.float32) / 255.0
    options = dict(reproduce.quickstart_config(str(tmp_path)).ae_options)

    def signal_to_noise(**changes):
        keras.utils.set_random_seed(0)
        mu, log_var = (np.asarray(t) for t in models.build_autoencoder("vae", **{**options, **changes}).encoder(x))
        return float(np.mean(mu.std(axis=0) / np.exp(0.5 * log_var).mean(axis=0)))

    assert signal_to_noise() > 0.05
    assert signal_to_noise(kernel_initializer=layers.KERNEL_INITIALIZER) < 0.01
