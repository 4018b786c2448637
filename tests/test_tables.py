"""Table 1 and the query summary, rendered from saved values."""

import numpy as np
import pytest
from scipy import stats as scipy_stats

from latens.research import tables


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
    table = tables.render_table1(results)
    lines = table.splitlines()
    header = next(l for l in lines if l.startswith("| strategy"))
    assert header == "| strategy | MNIST, n = 100 | paper | unbalanced MNIST, n = 1000 | paper |"
    assert "| random | 74.0 ± 4.0 (3) | 80.9 | 90.0 (1) | 92.6 |" in lines
    assert "| VAE uniform | 77.0 ± 2.6 (3) | 38.8 |  | 62.4 |" in lines
    # Paired differences 5, 2, 2 points: mean 3.0, t(0.975, 2) * 1.732 / sqrt(3) = 4.3.
    assert "| VAE uniform | +3.0 [-1.3, +7.3] (3) |  |" in lines


def test_table_has_no_paper_column_where_the_paper_has_no_value():
    results = [_result("fashion_mnist", 100, "random", 0, 0.5), _result("mnist", 100, "kcenter", 0, 0.6)]
    lines = tables.render_table1(results).splitlines()
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
    lines = tables.render_query_summary(results).splitlines()
    assert "| strategy | 0 | 1 | 2 | seeds |" in lines
    assert "| random | 1.0 | 1.0 | 1.0 | 3 |" in lines
    assert "| VAE uniform | 3.0 | 0.0 | 0.0 | 1 |" in lines
    assert lines.index("| random | 1.0 | 1.0 | 1.0 | 3 |") < lines.index("| VAE uniform | 3.0 | 0.0 | 0.0 | 1 |")
    # Median of 7, 10, 14, 30.
    assert "Median seconds per cell: 12 over 4 cells." in lines
    assert tables.render_query_summary([_result("mnist", 100, "random", 0, 0.5)]) == ""


def test_class_coverage_counts_the_seeds_whose_query_holds_every_class():
    def result(dataset, row, seed, counts):
        return {**_result(dataset, 100, row, seed, 0.5), "query_class_counts": counts}

    results = [
        result("fashion_mnist+longtail", "random", 0, [5, 0, 1]),
        result("fashion_mnist+longtail", "random", 1, [4, 1, 1]),
        result("fashion_mnist+longtail", "simclr/balanced-medoid", 0, [3, 2, 1]),
        result("fashion_mnist+longtail", "simclr/balanced-medoid", 1, [4, 1, 1]),
        result("mnist", "random", 0, [2, 2, 2]),
    ]
    lines = tables.render_class_coverage(results).splitlines()
    assert "| strategy | long-tail Fashion-MNIST, n = 100 | MNIST, n = 100 |" in lines
    assert "| random | 1/2 | 1/1 |" in lines
    assert "| SimCLR balanced-medoid | 2/2 |  |" in lines
    assert tables.render_class_coverage([_result("mnist", 100, "random", 0, 0.5)]) == ""


def test_table_only_needs_no_results(tmp_path):
    assert tables.write_table(tmp_path) == "No results yet.\n"


def test_rows_come_in_the_papers_order_then_by_representation_kind_and_dimension():
    rows = ["simclr/typiclust", "vae16/kcenter", "pca/typiclust", "tsne/multi-normal", "random", "cae/kcenter",
            "cae16/kcenter", "vae/multi-normal", "tsne16/kcenter"]
    assert sorted(rows, key=tables.row_order) == [
        "random", "cae/kcenter", "vae/multi-normal", "tsne/multi-normal", "pca/typiclust", "cae16/kcenter",
        "vae16/kcenter", "tsne16/kcenter", "simclr/typiclust"]


def test_versus_pairs_every_row_with_the_chosen_row():
    a = [0.80, 0.84, 0.83, 0.86]
    b = [0.78, 0.80, 0.82, 0.81]
    results = [_result("mnist", 100, "simclr/cluster-medoid", s, x) for s, x in enumerate(a)]
    results += [_result("mnist", 100, "cae16/cluster-medoid", s, x) for s, x in enumerate(b)]
    results += [_result("mnist", 100, "random", s, 0.7) for s in range(4)]
    results += [_result("mnist", 20, "random", s, 0.5) for s in range(4)]  # no baseline there: no column
    lines = tables.render_versus(results, "simclr.cluster-medoid").splitlines()
    assert lines[0].startswith("Paired difference to `simclr/cluster-medoid`")
    assert tables.render_versus(results, "simclr/cluster-medoid").splitlines() == lines
    assert "| strategy | MNIST, n = 100 |" in lines
    d = 100 * (np.array(b) - np.array(a))
    half = scipy_stats.t.ppf(0.975, 3) * d.std(ddof=1) / 2
    assert f"| CAE (L = 16) cluster-medoid | {d.mean():+.1f} [{d.mean() - half:+.1f}, {d.mean() + half:+.1f}] (4) |" in lines
    assert not any(line.startswith("| SimCLR cluster-medoid") for line in lines)
    assert any(line.startswith("| random | -") for line in lines)


def test_versus_names_the_rows_when_the_baseline_is_absent():
    with pytest.raises(ValueError, match="No saved result has the row 'vae/uniform'; the rows are: random"):
        tables.render_versus([_result("mnist", 100, "random", 0, 0.5)], "vae.uniform")


def test_a_joined_space_is_labelled_by_its_parts():
    assert tables.representation_label("simclr+cae16") == "SimCLR + CAE (L = 16)"
    assert tables.row_label("pca+vae16/cluster-medoid").endswith("+ VAE (L = 16) cluster-medoid")
