"""Tests of latens.losses: closed forms, and the t-SNE affinities' defining properties."""

import math

import numpy as np
import pytest
import tensorflow as tf

from latens import losses


def entropy_nats(p):
    """Entropy of each row of a probability matrix, in float64."""
    p = np.asarray(p, np.float64)
    return -np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0), axis=1)


def random_batch(size, dim=784, scale=1.0, seed=0):
    return (np.random.default_rng(seed).random((size, dim)) * scale).astype(np.float32)


def test_mean_squared_error():
    x = np.zeros((2, 2, 2, 1), np.float32)
    x_hat = np.stack([np.zeros((2, 2, 1)), np.full((2, 2, 1), 0.5)]).astype(np.float32)
    np.testing.assert_allclose(losses.mean_squared_error(x, x), [0.0, 0.0])
    np.testing.assert_allclose(losses.mean_squared_error(x, x_hat), [0.0, 0.25])


def test_binary_cross_entropy_matches_hand_computation():
    x = np.array([[[[0.0], [1.0]], [[0.25], [0.9]]]], np.float32)
    logits = np.array([[[[-2.0], [3.0]], [[0.0], [1.5]]]], np.float32)
    p = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
    expected = -np.sum(x * np.log(p) + (1 - x) * np.log(1 - p))
    np.testing.assert_allclose(losses.binary_cross_entropy(x, logits), [expected], rtol=1e-6)


def test_binary_cross_entropy_is_finite_for_saturated_logits():
    x = np.array([[[[0.0], [1.0]]]], np.float32)
    logits = np.array([[[[-200.0], [200.0]]]], np.float32)
    np.testing.assert_allclose(losses.binary_cross_entropy(x, logits), [0.0], atol=1e-30)


def test_gaussian_kl():
    np.testing.assert_allclose(losses.gaussian_kl(np.zeros((3, 2)), np.zeros((3, 2))), np.zeros(3))
    mu = np.array([[1.0, -2.0]], np.float32)
    log_var = np.array([[math.log(4.0), math.log(0.5)]], np.float32)
    # KL(N(m, s^2) || N(0, 1)) = 0.5 (s^2 + m^2 - 1 - log s^2) per dimension.
    expected = 0.5 * ((4.0 + 1.0 - 1.0 - math.log(4.0)) + (0.5 + 4.0 - 1.0 - math.log(0.5)))
    np.testing.assert_allclose(losses.gaussian_kl(mu, log_var), [expected], rtol=1e-6)


def test_losses_are_float32_for_half_precision_inputs():
    x = tf.zeros((2, 4, 4, 1), tf.bfloat16)
    assert losses.mean_squared_error(x, x).dtype == tf.float32
    assert losses.binary_cross_entropy(x, x).dtype == tf.float32
    assert losses.gaussian_kl(x[:, 0, :, 0], x[:, 0, :, 0]).dtype == tf.float32
    assert losses.student_t_q(tf.zeros((3, 2), tf.float16)).dtype == tf.float32


def test_squared_distances_are_exact_and_symmetric():
    x = random_batch(50, dim=30, scale=10.0)
    d = losses.squared_distances(x).numpy()
    expected = np.sum((x[:, None, :].astype(np.float64) - x[None, :, :]) ** 2, axis=-1)
    np.testing.assert_array_equal(d, d.T)
    np.testing.assert_array_equal(np.diag(d), 0.0)
    np.testing.assert_allclose(d, expected, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e3])
@pytest.mark.parametrize("perplexity", [5.0, 30.0])
def test_conditional_p_hits_the_perplexity_in_every_row(scale, perplexity):
    p = losses.tsne_conditional_p(random_batch(64, scale=scale), perplexity).numpy()
    assert p.dtype == np.float32
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(np.diag(p), 0.0)
    np.testing.assert_allclose(entropy_nats(p), math.log(perplexity), atol=losses.ENTROPY_TOLERANCE)


def test_conditional_p_on_images_with_a_dynamic_batch_size():
    images = random_batch(100, seed=1).reshape(100, 28, 28, 1)
    function = tf.function(
        lambda x: losses.tsne_conditional_p(x, 30.0),
        input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.float32)],
    )
    p = function(images).numpy()
    np.testing.assert_allclose(entropy_nats(p), math.log(30.0), atol=losses.ENTROPY_TOLERANCE)


def test_conditional_p_with_duplicate_images():
    x = random_batch(48)
    x[10:15] = x[3]  # Six copies of one image: reachable for perplexity 30.
    p = losses.tsne_conditional_p(x, 30.0).numpy()
    assert np.isfinite(p).all()
    np.testing.assert_allclose(entropy_nats(p), math.log(30.0), atol=losses.ENTROPY_TOLERANCE)


def test_conditional_p_where_the_perplexity_is_unreachable():
    # 40 identical images: each has 39 nearest neighbours at distance 0, so its
    # perplexity cannot go below 39; it gets a uniform row over them. They lie
    # far from the 24 others, whose nearest neighbours are not tied.
    x = np.concatenate([np.repeat(random_batch(1) + 10.0, 40, axis=0), random_batch(24, seed=1)])
    p = losses.tsne_conditional_p(x, 30.0).numpy()
    assert np.isfinite(p).all()
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(p[0, 1:40], 1.0 / 39.0, rtol=1e-5)
    np.testing.assert_allclose(entropy_nats(p[40:]), math.log(30.0), atol=losses.ENTROPY_TOLERANCE)

    identical = losses.tsne_conditional_p(np.ones((40, 5), np.float32), 30.0).numpy()
    np.testing.assert_allclose(identical, (1.0 - np.eye(40)) / 39.0, rtol=1e-5)


def test_conditional_p_rejects_a_batch_too_small_for_the_perplexity():
    with pytest.raises(ValueError, match=r"more than perplexity \+ 1 = 31 examples.*batch of 31"):
        losses.tsne_conditional_p(random_batch(31), 30.0)
    with pytest.raises(ValueError, match="perplexity must be at least 1"):
        losses.tsne_conditional_p(random_batch(10), 0.5)
    function = tf.function(
        lambda x: losses.tsne_conditional_p(x, 30.0),
        input_signature=[tf.TensorSpec([None, 784], tf.float32)],
    )
    with pytest.raises(tf.errors.InvalidArgumentError, match="more than perplexity"):
        function(random_batch(20))


def test_joint_p():
    p = losses.tsne_joint_p(random_batch(40), 10.0).numpy()
    np.testing.assert_allclose(p, p.T, rtol=1e-6)
    np.testing.assert_array_equal(np.diag(p), 0.0)
    np.testing.assert_allclose(p.sum(), 1.0, rtol=1e-5)
    assert (p[~np.eye(40, dtype=bool)] > 0).all()


def test_student_t_q():
    z = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]], np.float32)
    # Kernels 1 / (1 + d^2): pairs (0,1) 1/2, (0,2) 1/5, (1,2) 1/6, each twice.
    kernel = np.array([[0, 1 / 2, 1 / 5], [1 / 2, 0, 1 / 6], [1 / 5, 1 / 6, 0]])
    np.testing.assert_allclose(losses.student_t_q(z), kernel / kernel.sum(), rtol=1e-6)


def test_kl_divergence():
    p = losses.tsne_joint_p(random_batch(40), 10.0)
    q = losses.student_t_q(random_batch(40, dim=2, seed=3))
    assert float(losses.kl_divergence(p, p)) == pytest.approx(0.0, abs=1e-6)
    kl = float(losses.kl_divergence(p, q))
    assert kl > 0.1
    p64, q64 = np.float64(p), np.float64(q)
    mask = p64 > 0
    assert kl == pytest.approx(np.sum(p64[mask] * np.log(p64[mask] / q64[mask])), rel=1e-4)
    assert float(tf.reduce_sum(losses.kl_divergence(p, q, axis=1))) == pytest.approx(kl, rel=1e-5)


# -- NT-Xent (SimCLR) ----------------------------------------------------------


def nt_xent_numpy(a, b, temperature):
    """NT-Xent written out anchor by anchor, in float64."""
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    views = np.concatenate([a, b]).astype(np.float64)
    size = len(a)
    anchor_losses = []
    for i in range(2 * size):
        others = [j for j in range(2 * size) if j != i]
        logits = np.array([views[i] @ views[j] for j in others]) / temperature
        positive = others.index((i + size) % (2 * size))
        anchor_losses.append(np.log(np.sum(np.exp(logits))) - logits[positive])
    anchor_losses = np.array(anchor_losses)
    return 0.5 * (anchor_losses[:size] + anchor_losses[size:])


@pytest.mark.parametrize("temperature", [0.1, 0.5, 1.0])
def test_nt_xent_matches_a_direct_computation(temperature):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(6, 4)), rng.normal(size=(6, 4)) * 3.0  # Scale must not matter.
    np.testing.assert_allclose(losses.nt_xent(a, b, temperature), nt_xent_numpy(a, b, temperature), rtol=1e-5)


def test_nt_xent_closed_forms():
    temperature, size = 0.5, 4
    orthogonal = np.eye(size, 8)
    # Identical views, every image orthogonal to the others: the positive's
    # logit is 1/T, the 2B - 2 negatives' 0.
    expected = math.log(1.0 + (2 * size - 2) * math.exp(-1.0 / temperature))
    np.testing.assert_allclose(losses.nt_xent(orthogonal, orthogonal, temperature), expected, rtol=1e-6)
    # Every projection the same: all 2B - 1 candidates tie, loss log(2B - 1).
    same = np.ones((size, 3))
    np.testing.assert_allclose(losses.nt_xent(same, same, temperature), math.log(2 * size - 1), rtol=1e-6)
