"""Tests of `latens.prelabels`: pre-labels from a few labels, their calibration, and their errors."""

import numpy as np
import pytest

from latens import prelabels, softmax
from latens.research import rounds
from latens.sampling import synthetic


def blobs(sizes=(200, 200, 200), seed=0, dim=8, radius=6.0):
    return synthetic.gaussian_blobs(list(sizes), radius=radius, dim=dim, seed=seed)


@pytest.mark.parametrize("method", prelabels.METHODS)
def test_separated_classes_are_all_pre_labelled_right_from_three_labels_each(method):
    z, ids = blobs()
    labelled = np.concatenate([np.flatnonzero(ids == c)[:3] for c in range(3)])
    names = np.array(["cat", "dog", "emu"])
    result = prelabels.predict(z, labelled, names[ids[labelled]], method=method)
    assert result.classes == ["cat", "dog", "emu"]
    assert (result.labels == names[ids]).all()
    assert result.probabilities.shape == (len(z), 3)
    np.testing.assert_allclose(result.probabilities.sum(axis=1), 1.0)
    assert (result.confidence[labelled] == 1.0).all()
    assert result.confidence.min() > 0.5


def test_propagation_follows_the_data_where_a_linear_rule_cannot():
    # Two interleaved half-moons: the labels of one end of each moon reach the
    # other end through the neighbour graph, not through a hyperplane.
    rng = np.random.default_rng(0)
    t = rng.uniform(0, np.pi, 600)
    upper = np.stack([np.cos(t[:300]), np.sin(t[:300])], axis=1)
    lower = np.stack([1 - np.cos(t[300:]), 0.5 - np.sin(t[300:])], axis=1)
    z = np.concatenate([upper, lower]) + rng.normal(scale=0.04, size=(600, 2))
    z = np.concatenate([z, np.ones((600, 1))], axis=1)  # Unit-norm codes must still tell the moons apart.
    ids = np.repeat([0, 1], 300)
    labelled = np.array([int(np.argmin(t[:300])), 300 + int(np.argmin(t[300:]))])
    spread = prelabels.predict(z, labelled, ids[labelled], method="propagation", calibrate=False)
    assert np.mean(spread.labels.astype(int) == ids) > 0.95


def test_labels_are_strings_kept_as_given():
    z, ids = blobs(sizes=(50, 50))
    labelled = np.array([0, 1, 50, 51])
    result = prelabels.predict(z, labelled, [7, 7, "7 ", "seven"], method="linear")
    assert result.classes == ["7", "7 ", "seven"]


def test_a_scorer_made_once_gives_what_a_fresh_one_gives():
    z, ids = blobs()
    labelled = np.arange(0, 600, 40)
    scorer = prelabels.make_scorer(z, "propagation")
    once = prelabels.predict(z, labelled, ids[labelled], scorer=scorer)
    fresh = prelabels.predict(z, labelled, ids[labelled])
    np.testing.assert_array_equal(once.probabilities, fresh.probabilities)


@pytest.mark.parametrize("method", prelabels.METHODS)
def test_calibrated_confidence_matches_accuracy_on_overlapping_classes(method):
    # Overlapping blobs: some pre-labels are wrong, and the confidence has
    # to say how many. 100 labels, the rest scored as the study scores them.
    z, ids = synthetic.gaussian_blobs([400] * 5, radius=2.0, dim=4, seed=3)
    labelled = np.random.default_rng(0).choice(len(z), 100, replace=False)
    result = prelabels.predict(z, labelled, ids[labelled], method=method)
    rest = np.setdiff1d(np.arange(len(z)), labelled)
    right = result.labels[rest].astype(int) == ids[rest]
    assert 0.5 < right.mean() < 0.99  # Neither trivial nor hopeless.
    # The temperature is fitted on 100 labels, so it is noisy: the linear
    # rule's ECE spreads over 0.02-0.12 across such draws.
    ece = rounds.expected_calibration_error(result.confidence[rest], right)
    assert ece < {"propagation": 0.08, "linear": 0.15}[method]
    raw = prelabels.predict(z, labelled, ids[labelled], method=method, calibrate=False)
    assert result.temperature != 1.0 and raw.temperature == 1.0
    if method == "propagation":  # Spreading's raw scores are far too flat; the temperature fixes that.
        assert rounds.expected_calibration_error(raw.confidence[rest], right) > 0.2


def test_linear_scores_are_the_softmax_regressions():
    z, ids = blobs(sizes=(60, 60))
    labelled = np.array([0, 1, 2, 60, 61, 62])
    result = prelabels.predict(z, labelled, ids[labelled], method="linear", calibrate=False)
    weights, biases = softmax.fit(z[labelled], ids[labelled], 2)
    expected = softmax.probabilities(z, weights, biases)
    expected[labelled] = np.eye(2)[ids[labelled]]
    np.testing.assert_allclose(result.probabilities, expected, atol=1e-5)


@pytest.mark.parametrize("labelled, labels, message", [
    ([0, 1], ["a", "a"], "at least two different labels, got only 'a'"),
    ([0, 1], ["a"], "one label per labelled index: 1 for 2"),
    ([0, 0], ["a", "b"], "distinct indices"),
    ([0, 999], ["a", "b"], "distinct indices into the 120 codes"),
    ([], [], "non-empty"),
])
def test_bad_input_raises(labelled, labels, message):
    z, _ = blobs(sizes=(60, 60))
    with pytest.raises(ValueError, match=message):
        prelabels.predict(z, np.asarray(labelled, dtype=np.int64), labels)


def test_an_unknown_method_is_refused():
    z, _ = blobs(sizes=(60, 60))
    with pytest.raises(ValueError, match="method must be one of propagation, linear"):
        prelabels.predict(z, np.array([0, 60]), ["a", "b"], method="knn")


def test_expected_calibration_error_by_hand():
    confidence = np.array([0.95, 0.95, 0.55, 0.55])
    right = np.array([True, False, True, True])
    # Bin of 0.95: accuracy 0.5, gap 0.45; bin of 0.55: accuracy 1, gap 0.45; each half the codes.
    assert rounds.expected_calibration_error(confidence, right) == pytest.approx(0.45)
    assert rounds.expected_calibration_error(np.array([1.0, 1.0]), np.array([True, True])) == 0.0
