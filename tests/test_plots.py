"""Figures: every figure of a tiny grid, and the Table 1 bars."""

import pytest

from latens.research import grid
from latens.research.plots import grid as grid_plots


def test_figures_from_saved_results(tmp_path, tiny_grid_config):
    config = tiny_grid_config(tmp_path / "grid", seeds=(0,))
    grid.run(config)
    written = grid_plots.write_figures(tmp_path / "grid", tmp_path / "figures")
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


def test_bar_chart_marks_the_papers_values_on_their_rows():
    import matplotlib.collections

    from latens.research import stats

    summaries = {"MNIST, n = 100": {"random": stats.summarize([0.7, 0.8]), "ae-error": stats.summarize([0.3])}}
    fig = grid_plots.accuracy_bars(summaries, "t", reference={"MNIST, n = 100": {"ae-error": 46.4, "absent": 1.0}})
    (ax,) = fig.axes
    (markers,) = [c for c in ax.collections if isinstance(c, matplotlib.collections.PathCollection)]
    assert markers.get_offsets().tolist() == [[46.4, 1.0]]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["paper"]


def test_study_gains_draw_one_panel_per_dataset_and_budget(tmp_path):
    from latens.research.plots import study

    def result(row, n, seed, accuracy):
        return {"config": {"dataset": "mnist", "n": n, "row": row, "seed": seed}, "test_accuracy": accuracy}

    results = [result(row, n, seed, base + 0.01 * seed)
               for n in (20, 100) for seed in range(3)
               for row, base in (("random", 0.5), ("simclr/typiclust", 0.6), ("pca/kcenter", 0.45))]
    fig = study.gains(results, "t")
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["MNIST, n = 20", "MNIST, n = 100"]
    labels = [t.get_text() for t in panels[0].get_yticklabels()]
    assert labels == ["pixel PCA kcenter", "SimCLR typiclust"]  # Sorted by gain, best last.


def test_validation_curves_of_runs_stopped_early_end_where_training_ended():
    histories = [{"epoch": [10, 20, 23], "val_accuracy": [0.5, 0.6, 0.62], "stopped": True},
                 {"epoch": [10, 20, 30, 31], "val_accuracy": [0.4, 0.5, 0.55, 0.56], "stopped": True}]
    fig = grid_plots.validation_curves({"random": histories}, "t")
    (ax,) = fig.axes
    mean, *continued = ax.get_lines()
    # The mean runs where every seed has a record; each seed goes on alone to its own end.
    assert mean.get_xdata().tolist() == [10, 20]
    assert mean.get_ydata().tolist() == pytest.approx([45.0, 55.0])
    assert sorted(line.get_xdata().tolist() for line in continued) == [[20, 23], [20, 30, 31]]
    band, *marks = ax.collections  # One x per stopped run, at its last record.
    assert sorted(m.get_offsets().tolist()[0] for m in marks) == [[23, pytest.approx(62.0)], [31, pytest.approx(56.0)]]
    assert "stopped once converged" in ax.get_title()


def test_validation_curves_mark_runs_that_all_stopped_at_the_same_epoch():
    stopped = [{"epoch": [20, 40, 47], "val_accuracy": [0.5, 0.6, 0.7], "stopped": True}] * 2
    ax = grid_plots.validation_curves({"random": stopped}, "t").axes[0]
    assert "stopped once converged" in ax.get_title()
    paper = [{"epoch": [10, 20], "val_accuracy": [0.5, 0.6], "stopped": False}] * 2
    assert "stopped" not in grid_plots.validation_curves({"random": paper}, "t").axes[0].get_title()
