"""The check of latens-select's candidate defaults: its candidates, its counts, its resuming."""

import dataclasses
import json

import numpy as np
import pytest
import scipy.stats

from latens import data
from latens.research import choice_check, evaluate
from latens.select import choice


def test_a_candidate_is_a_representation_and_a_rule():
    simclr, cae16 = {"ae": "simclr", "latent_dim": None, "join": None}, {"ae": "cae", "latent_dim": 16, "join": None}
    assert choice_check.parse("simclr:cluster-medoid") == (simclr, "cluster-medoid")
    assert choice_check.parse("cae16:cluster-medoid") == (cae16, "cluster-medoid")
    assert choice_check.parse("simclr+pca:capped-medoid") == (
        {"ae": "simclr", "latent_dim": None, "join": "pca"}, "capped-medoid")
    assert choice_check.parse("simclr@flatten+pca:cluster-medoid") == (
        {"ae": "simclr", "latent_dim": None, "join": "pca", "code_layer": "flatten"}, "cluster-medoid")
    for bad in ("simclr", "pixels:random", "pca:nearest", "cae0:random", "simclr+simclr:random",
                "simclr+pca+cae16:random", "simclr@head:random", "simclr+pca@flatten:random"):
        with pytest.raises(ValueError, match=r"<kind>\[L\]\[@<layer>\]\[\+<kind>\[L\]\]:<rule>"):
            choice_check.parse(bad)
    with pytest.raises(ValueError, match="must not exceed count"):
        choice_check.ChoiceCheckConfig(count=10, n=20)
    # What latens-select would refuse is refused before any candidate runs.
    with pytest.raises(ValueError, match=r"^strategy=ae-error .* a joined space changes nothing"):
        choice_check.ChoiceCheckConfig(candidates=("cae+pca:ae-error",))
    with pytest.raises(ValueError, match="^code_layer=flatten names a layer of simclr's network; ae=cae"):
        choice_check.ChoiceCheckConfig(candidates=("cae@flatten:random",))


def test_the_options_left_alone_are_latens_selects_defaults_as_stored_before_image_kind():
    options = choice_check._options(2000)
    assert options == {"image_size": 32, "channels": 3, "fit": "stretch", "width": 0.5, "kernel_initializer": None,
                       "epochs": 20, "batch_size": None, "precision": "auto", "distribute": "default",
                       "follow_links": True}
    # A folder larger than the sample that trains the encoder names its size.
    assert choice_check._options(50_000)["train_size"] == choice.ChoiceConfig().train_size


def test_every_choice_is_counted_by_class_saved_and_not_made_again(tmp_path, monkeypatch):
    out = tmp_path / "check.json"
    config = choice_check.ChoiceCheckConfig(out=str(out), count=60, n=10, candidates=("pca:random",
                                            "pca:cluster-medoid", "pca+pca8:cluster-medoid"), seeds=(0, 1))
    table = choice_check.run(config)
    stored = json.loads(out.read_text())
    assert sorted(stored["choices"]) == ["pca+pca8:cluster-medoid/seed0", "pca+pca8:cluster-medoid/seed1",
                                         "pca:cluster-medoid/seed0", "pca:cluster-medoid/seed1",
                                         "pca:random/seed0", "pca:random/seed1"]
    labels = data.load("mnist_sample").pool[1][:60]
    for entry in stored["choices"].values():
        assert len(set(entry["query"])) == 10
        assert entry["class_counts"] == np.bincount(labels[entry["query"]], minlength=10).tolist()
    assert sum(stored["pool_class_counts"]) == 60
    # The second rule of a kind and seed chooses in the model the first trained.
    assert stored["choices"]["pca:random/seed1"]["trained"]
    assert not stored["choices"]["pca:cluster-medoid/seed1"]["trained"]
    # A joined space reuses its first representation's model and trains the other.
    joined = stored["choices"]["pca+pca8:cluster-medoid/seed1"]
    assert joined["trained"] and joined["query"] != stored["choices"]["pca:cluster-medoid/seed1"]["query"]
    assert "| pca:cluster-medoid |" in table and table.count("\n") == 5

    def refuse(*args, **kwargs):
        raise AssertionError("a stored choice was made again")

    monkeypatch.setattr(choice, "choose", refuse)
    assert choice_check.run(config) == table
    with pytest.raises(ValueError, match=r"different config \(differs in: n\)\. Use another --out"):
        choice_check.run(choice_check.ChoiceCheckConfig(out=str(out), count=60, n=20))


def test_the_summary_counts_the_images_beyond_their_classes_shares():
    results = {"class_names": ["a", "b"], "pool_class_counts": [30, 10], "config": {"n": 8}, "choices": {
        "pca:random/seed0": {"candidate": "pca:random", "seconds": 2.0, "trained": True, "class_counts": [6, 2]},
        "pca:random/seed1": {"candidate": "pca:random", "seconds": 4.0, "trained": True, "class_counts": [8, 0]},
        "pca:kcenter/seed0": {"candidate": "pca:kcenter", "seconds": 0.1, "trained": False, "class_counts": [4, 4]},
    }}
    lines = choice_check.summary(results).splitlines()
    assert lines[2] == "| the images' shares x n | 6.0 | 2.0 | 2.0 | 2 | 0 | | |"
    # Seed 0 is in proportion, seed 1 holds 2 images of a beyond its share: 1 on average.
    assert lines[3] == "| pca:random | 7.0 | 1.0 | 1.0 | 1 | 1.0 | 3 | 2 |"
    assert lines[4] == "| pca:kcenter | 4.0 | 4.0 | 4.0 | 2 | 2.0 |  | 1 |"


def test_scoring_trains_a_classifier_on_each_choice_once_and_pairs_it_with_random(tmp_path, monkeypatch):
    out = tmp_path / "check.json"
    tiny = evaluate.ClassifierConfig(epochs=1, filters=(4,), convs_per_block=1, dense_units=(8,), val_points=1,
                                     val_size=10)
    config = choice_check.ChoiceCheckConfig(out=str(out), count=60, n=10, candidates=("pca:random",
                                            "pca:cluster-medoid"), seeds=(0,), score=True, classifier=tiny)
    choice_check.run(config)
    # Resumed with a second seed, only its two choices are trained on.
    trained = []
    train_and_evaluate = evaluate.train_and_evaluate

    def record(query, *args, **kwargs):
        trained.append(kwargs["seed"])
        return train_and_evaluate(query, *args, **kwargs)

    monkeypatch.setattr(evaluate, "train_and_evaluate", record)
    config = dataclasses.replace(config, seeds=(0, 1))
    table = choice_check.run(config)
    assert trained == [1, 1]
    stored = json.loads(out.read_text())
    assert stored["classifier"]["filters"] == [4]
    for entry in stored["choices"].values():
        assert 0 <= entry["test_accuracy"] <= 1 and entry["classifier_epochs"] == 1
    assert "| scored choice | test accuracy (%) | - pca:random (paired, 95 % CI) | seeds |" in table

    def refuse(*args, **kwargs):
        raise AssertionError("a scored choice was trained again")

    monkeypatch.setattr(evaluate, "train_and_evaluate", refuse)
    assert choice_check.run(config) == table
    with pytest.raises(ValueError, match=r"differs in: epochs\)\. Use another --out: its scores are of another"):
        choice_check.run(dataclasses.replace(config, classifier=dataclasses.replace(tiny, epochs=2)))


def test_the_scores_table_pairs_each_candidate_with_the_random_draw_seed_by_seed():
    def entry(seed, accuracy):
        return {"seed": seed, "test_accuracy": accuracy}

    by_candidate = {
        "pca:random": [entry(0, 0.50), entry(1, 0.60), entry(2, 0.70), entry(3, 0.90)],
        "simclr:cluster-medoid": [entry(0, 0.55), entry(1, 0.62), entry(2, 0.78)],
        "cae:typiclust": [{"seed": 0}],  # Chosen, never scored.
    }
    lines = choice_check.scores_table(by_candidate).splitlines()
    assert len(lines) == 4
    differences = np.array([5.0, 2.0, 8.0])
    half = scipy.stats.t.ppf(0.975, 2) * differences.std(ddof=1) / np.sqrt(3)
    assert lines[2] == "| pca:random | 67.5 ± 17.1 |  | 4 |"
    # Paired over the three seeds both have, not over random's four.
    assert lines[3] == f"| simclr:cluster-medoid | 65.0 ± 11.8 | +5.0 [{5 - half:+.1f}, {5 + half:+.1f}] (3) | 3 |"
    assert choice_check.scores_table({"pca:random": [{"seed": 0}]}) == ""
