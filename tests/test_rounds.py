"""Tests of the rounds study (`latens.research.rounds`) on synthetic codes: its cells, scores and tables."""

import json
import types

import numpy as np
import pytest

from latens import prelabels
from latens.research import rounds
from latens.sampling import synthetic


def fake_codes(seed=0):
    """Codes of ten blobs as `rounds` reads a dataset's: a pool of 900, a test set of 100, one scorer per method."""
    z, ids = synthetic.gaussian_blobs([100] * 10, radius=4.0, dim=6, seed=seed)
    order = np.random.default_rng(seed).permutation(len(z))
    z, ids = z[order], ids[order]
    return types.SimpleNamespace(pool=z[:900], all=z, y=ids, size=900,
                                 scorers={m: prelabels.make_scorer(z, m) for m in prelabels.METHODS})


CONFIG = rounds.RoundsConfig(budgets=(20, 40, 60), datasets=("mnist",), seeds=(0,))


@pytest.mark.parametrize("arm", rounds.ARMS)
def test_a_cell_labels_each_budget_with_new_images_and_scores_every_method(arm, monkeypatch):
    monkeypatch.setattr(rounds, "cell_config", lambda *args: {"arm": args[2]})
    codes = fake_codes()
    result = rounds.run_cell(CONFIG, codes, "mnist", arm, 0)
    queries = [record["query"] for record in result["rounds"]]
    assert [record["labelled"] for record in result["rounds"]] == [20, 40, 60]
    assert [len(q) for q in queries] == [20, 20, 20]
    everything = np.concatenate(queries)
    assert len(np.unique(everything)) == 60 and everything.max() < 900  # New each round, from the pool only.
    for record in result["rounds"]:
        for method in prelabels.METHODS:
            scores = record[method]
            assert 0.3 < scores["pool_accuracy"] <= 1  # Chance: 0.1. and 0 <= scores["ece"] <= 1
            assert 0 <= scores["errors_in_least_confident_5"] <= scores["errors_in_least_confident_10"] <= 1


def test_every_arm_but_random_starts_from_the_cold_start_and_random_from_a_random_draw(monkeypatch):
    monkeypatch.setattr(rounds, "cell_config", lambda *args: {})
    codes = fake_codes()
    first = {arm: rounds.run_cell(CONFIG, codes, "mnist", arm, 0)["rounds"][0]["query"] for arm in rounds.ARMS}
    assert all(first[arm] == first["cluster-medoid"] for arm in rounds.ARMS if arm != "random")
    assert first["random"] != first["cluster-medoid"]


def test_render_pairs_every_arm_with_random_seed_by_seed(tmp_path):
    config = rounds.RoundsConfig(workdir=str(tmp_path), budgets=(100,), datasets=("mnist",), seeds=(0, 1),
                                 arms=("random", "margin"))
    accuracy = {("random", 0): 0.90, ("random", 1): 0.92, ("margin", 0): 0.95, ("margin", 1): 0.96}
    for (arm, seed), value in accuracy.items():
        record = {"labelled": 100, **{m: {"pool_accuracy": value, "test_accuracy": value, "ece": 0.01,
                                          "most_confident_90_accuracy": 1.0, "errors_in_least_confident_5": 0.3,
                                          "errors_in_least_confident_10": 0.5} for m in prelabels.METHODS}}
        path = tmp_path / "mnist" / arm / f"seed{seed}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"config": {}, "rounds": [record]}))
    table = rounds.render(config)
    assert "| random | 91.0 ± 1.4 |" in table and "| margin | 95.5 ± 0.7 |" in table
    assert "| margin | +4.5 [" in table  # (5 + 4) / 2 points, paired.


@pytest.mark.parametrize("changes, message", [({"budgets": (100, 100)}, "budgets must be increasing"),
                                              ({"arms": ("best",)}, "arms must each be one of random"),
                                              ({"methods": ("knn",)}, "methods must each be one of propagation")])
def test_bad_settings_are_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        rounds.RoundsConfig(**changes)
