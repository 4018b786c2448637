"""Loss functions of the three auto-encoders (paper section 3.1) and of the contrastive encoder, in float32.

Every function casts its inputs to float32 first, so the losses, the t-SNE
affinities P and Q and the VAE's KL stay in float32 under a mixed-precision
policy. Per-example losses have shape `[B]`; the models reduce them with the
global batch size so that a run under `tf.distribute` matches a single-device
run (see `latens.models.cae`).

The t-SNE loss (paper eqs. 5-7) compares, within one batch, affinities P
computed from the input pixels with affinities Q computed from the codes:

* `tsne_conditional_p`: p(j|i), a Gaussian kernel over squared pixel
  distances whose precision is searched, row by row, until the row's
  perplexity exp(H_i) (H_i its entropy in nats) equals the target.
* `tsne_joint_p`: the symmetric joint P = (P + P^T) / 2B.
* `student_t_q`: the Student-t (one degree of freedom) kernel over the codes,
  normalised over all off-diagonal pairs.
* `kl_divergence`: KL(P || Q).

Where we differ from the authors' code: their precision search never ran (its
loop condition started false, so every row kept the initial guess and P was
almost uniform) and their squared distances added a row vector to a row
vector, which is not symmetric. Here distances are symmetric by construction,
the search runs until every row is within `ENTROPY_TOLERANCE` of the target,
and both properties are tested.
"""

import math

import tensorflow as tf

# Accuracy of every row's entropy, in nats: |H_i - log(perplexity)| below
# this. The search stops at a fifth of it, leaving room for float32 rounding.
ENTROPY_TOLERANCE = 1e-5
# Newton steps with a bisection safeguard: 8-14 iterations reached the
# tolerance on MNIST batches of 64 and 256; the cap is four times what a pure
# bisection of the bracket down to float32 resolution needs.
MAX_SEARCH_ITERATIONS = 100
# Bracket of the search over log(beta), beta the precision of a row whose
# distances are divided by their mean (see `tsne_conditional_p`). At
# exp(-20) every row is uniform to float32 precision; at exp(30) only the
# nearest neighbours (ties included) keep any weight.
_LOG_BETA_BOUNDS = (-20.0, 30.0)
# A bracket narrower than this (in log beta) means the target cannot be
# reached in float32: the row is pinned at a bound (see the docstring).
_BRACKET_TOLERANCE = 1e-4


def mean_squared_error(x, x_hat):
    """Per-example mean squared error over pixels.

    Args:
      x: images `[B, H, W, C]`.
      x_hat: reconstructions, same shape.

    Returns:
      float32 `[B]`.
    """
    x, x_hat = _float32(x), _float32(x_hat)
    return tf.reduce_mean(tf.square(x - x_hat), axis=_pixel_axes(x))


def binary_cross_entropy(x, logits):
    """Per-example Bernoulli negative log-likelihood, summed over pixels.

    Computed from logits, which is exact and stable where the clipped
    probabilities of `keras.losses.binary_crossentropy` are not.

    Args:
      x: target images in [0, 1], `[B, H, W, C]`.
      logits: decoder logits, same shape; the reconstruction is their sigmoid.

    Returns:
      float32 `[B]`, in nats.
    """
    x, logits = _float32(x), _float32(logits)
    return tf.reduce_sum(
        tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=logits),
        axis=_pixel_axes(x),
    )


def gaussian_kl(mu, log_var):
    """Per-example KL(N(mu, diag(exp(log_var))) || N(0, I)).

    Args:
      mu: means `[B, L]`.
      log_var: log-variances `[B, L]`.

    Returns:
      float32 `[B]`: 0.5 * sum(exp(log_var) + mu^2 - 1 - log_var).
    """
    mu, log_var = _float32(mu), _float32(log_var)
    return 0.5 * tf.reduce_sum(tf.exp(log_var) + tf.square(mu) - 1.0 - log_var, axis=-1)


def squared_distances(x):
    """Symmetric pairwise squared Euclidean distances with a zero diagonal.

    Uses |a|^2 + |b|^2 - 2 a.b, which needs `[B, B]` memory rather than the
    `[B, B, D]` of explicit differences; the result is clipped at zero and
    symmetrised, so rounding can neither make it negative nor asymmetric.

    Args:
      x: `[B, ...]`; each example is flattened.

    Returns:
      float32 `[B, B]`.
    """
    x = _float32(x)
    x = tf.reshape(x, [tf.shape(x)[0], -1])
    gram = tf.matmul(x, x, transpose_b=True)
    norms = tf.linalg.diag_part(gram)
    d = tf.maximum(norms[:, None] + norms[None, :] - 2.0 * gram, 0.0)
    return tf.linalg.set_diag(0.5 * (d + tf.transpose(d)), tf.zeros_like(norms))


def tsne_conditional_p(x, perplexity=30.0):
    """t-SNE conditional affinities p(j|i) with every row at the target perplexity.

    Row i is p(j|i) = exp(-beta_i d_ij) / sum_{k != i} exp(-beta_i d_ik) over
    the squared distances d_ij to the other examples of the batch. The
    precision beta_i is found for all rows at once, inside the graph, by
    Newton's method on log(beta_i) safeguarded by bisection, until
    |H_i - log(perplexity)| < `ENTROPY_TOLERANCE` nats for every row (within
    `MAX_SEARCH_ITERATIONS`). H_i = -sum_j p(j|i) log p(j|i), so the
    perplexity is exp(H_i). Each row's distances are first shifted by their
    minimum and divided by their mean, which leaves p(j|i) unchanged but makes
    the search bracket independent of the data's scale.

    A row's perplexity can range from (number of nearest neighbours tied at
    the minimum distance) to B - 1. Rows whose target is out of that range
    (at least `perplexity` exact duplicates of the same image) end at the
    bracket's upper bound: uniform over their nearest neighbours. No row
    produces NaN.

    Args:
      x: a batch `[B, ...]` (images are flattened), any float dtype.
      perplexity: target perplexity, in [1, B - 1).

    Returns:
      float32 `[B, B]`: rows sum to 1, zero diagonal, no gradient.

    Raises:
      ValueError: `perplexity` < 1, or a batch with a static size too small
        for it (B - 1 <= perplexity). With a dynamic batch size the same
        check runs in the graph and raises `tf.errors.InvalidArgumentError`.
    """
    x = tf.stop_gradient(_float32(x))
    batch_size = _check_batch_for_perplexity(x, perplexity)
    off_diagonal = 1.0 - tf.eye(batch_size)

    d = squared_distances(x)
    d_min = tf.reduce_min(d + tf.linalg.diag(tf.fill([batch_size], math.inf)), axis=1)
    d = (d - d_min[:, None]) * off_diagonal
    row_mean = tf.reduce_sum(d, axis=1) / tf.cast(batch_size - 1, tf.float32)
    # A row at equal distance from all others has mean 0: any scale works.
    d = d / tf.where(row_mean > 0.0, row_mean, 1.0)[:, None]

    def affinities(log_beta):
        """p(j|i), its entropy H_i and dH_i / dlog(beta_i) for every row."""
        beta = tf.exp(log_beta)[:, None]
        # d >= 0 with a zero in every row (its nearest neighbour): no overflow
        # and a normaliser of at least 1.
        weights = tf.exp(-beta * d) * off_diagonal
        z = tf.reduce_sum(weights, axis=1, keepdims=True)
        p = weights / z
        mean_d = tf.reduce_sum(p * d, axis=1, keepdims=True)
        entropy = tf.math.log(z[:, 0]) + beta[:, 0] * mean_d[:, 0]
        var_d = tf.reduce_sum(p * tf.square(d - mean_d), axis=1)
        return p, entropy, -tf.square(beta[:, 0]) * var_d

    target = math.log(perplexity)
    lower, upper = _LOG_BETA_BOUNDS

    def search_step(log_beta, lo, hi, done):
        _, entropy, slope = affinities(log_beta)
        error = entropy - target
        done = (tf.abs(error) < 0.2 * ENTROPY_TOLERANCE) | (hi - lo < _BRACKET_TOLERANCE)
        # Entropy falls as beta grows: too high an entropy means beta is a
        # lower bound.
        lo = tf.where(error > 0.0, log_beta, lo)
        hi = tf.where(error > 0.0, hi, log_beta)
        newton = log_beta - tf.math.divide_no_nan(error, slope)
        inside = (newton > lo) & (newton < hi)
        proposal = tf.where(inside, newton, 0.5 * (lo + hi))
        return tf.where(done, log_beta, proposal), lo, hi, done

    def not_converged(log_beta, lo, hi, done):
        return ~tf.reduce_all(done)

    zeros = tf.zeros([batch_size])
    log_beta, *_ = tf.while_loop(
        not_converged,
        search_step,
        (zeros, zeros + lower, zeros + upper, tf.zeros([batch_size], tf.bool)),
        maximum_iterations=MAX_SEARCH_ITERATIONS,
    )
    return affinities(log_beta)[0]


def tsne_joint_p(x, perplexity=30.0):
    """Symmetric t-SNE joint affinities P = (P_cond + P_cond^T) / 2B (paper eq. 6).

    Args:
      x: a batch `[B, ...]`.
      perplexity: target perplexity of the conditional rows.

    Returns:
      float32 `[B, B]`: symmetric, zero diagonal, sums to 1, no gradient.
    """
    p = tsne_conditional_p(x, perplexity)
    batch_size = tf.cast(tf.shape(p)[0], tf.float32)
    return (p + tf.transpose(p)) / (2.0 * batch_size)


def student_t_q(z):
    """Student-t joint affinities of codes (paper eq. 7).

    q_ij = (1 + |z_i - z_j|^2)^-1 / sum_{k != l} (1 + |z_k - z_l|^2)^-1.

    Args:
      z: codes `[B, L]`.

    Returns:
      float32 `[B, B]`: symmetric, zero diagonal, sums to 1.
    """
    d = squared_distances(z)
    kernel = tf.linalg.set_diag(1.0 / (1.0 + d), tf.zeros_like(d[0]))
    return kernel / tf.reduce_sum(kernel)


def kl_divergence(p, q, axis=None):
    """KL(P || Q) = sum p log(p / q), with 0 log 0 = 0.

    Args:
      p: `[B, B]` joint affinities.
      q: `[B, B]` joint affinities, positive wherever p is.
      axis: `None` sums every entry; `1` gives each row's share of the sum.

    Returns:
      float32 scalar, or `[B]` row terms whose sum is the divergence.
    """
    p, q = _float32(p), _float32(q)
    return tf.reduce_sum(tf.math.xlogy(p, p) - tf.math.xlogy(p, q), axis=axis)


def nt_xent(a, b, temperature=0.2):
    """NT-Xent, the normalised temperature-scaled cross-entropy of SimCLR (Chen et al. 2020), per image.

    `a[i]` and `b[i]` are projections of two augmented views of image i. Both
    are L2-normalised; each of the 2B projections is an anchor whose positive
    is the other view of its image and whose negatives are the other 2B - 2
    projections of the batch: its loss is the softmax cross-entropy of the
    positive among the 2B - 1 other projections, with cosine similarities
    divided by `temperature` as logits.

    Args:
      a: projections of the first views, `[B, D]`, B >= 2.
      b: projections of the second views, `[B, D]`.
      temperature: the softmax temperature, > 0.

    Returns:
      float32 `[B]`: entry i is the mean of the two anchor losses of image i
      (a[i] against b[i], and b[i] against a[i]).
    """
    a = tf.math.l2_normalize(_float32(a), axis=1)
    b = tf.math.l2_normalize(_float32(b), axis=1)
    batch_size = tf.shape(a)[0]
    views = tf.concat([a, b], axis=0)
    logits = tf.matmul(views, views, transpose_b=True) / temperature
    # An anchor is never its own candidate.
    logits = logits - 1e9 * tf.eye(2 * batch_size)
    positives = tf.concat([tf.range(batch_size, 2 * batch_size), tf.range(batch_size)], axis=0)
    anchor_losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=positives, logits=logits)
    return 0.5 * (anchor_losses[:batch_size] + anchor_losses[batch_size:])


def _float32(x):
    return tf.cast(x, tf.float32)


def _pixel_axes(x):
    return tf.range(1, tf.rank(x))


def _check_batch_for_perplexity(x, perplexity):
    """Validates `perplexity` against the batch; returns the batch size tensor."""
    if perplexity < 1.0:
        raise ValueError(f"perplexity must be at least 1, got {perplexity}")
    message = (
        f"a t-SNE batch needs more than perplexity + 1 = {perplexity + 1:g} examples: "
        "a row's perplexity is at most the number of other examples in the batch"
    )
    static_size = x.shape[0]
    if static_size is not None:
        if static_size - 1 <= perplexity:
            raise ValueError(f"{message}; got a batch of {static_size}")
        return tf.constant(static_size)
    batch_size = tf.shape(x)[0]
    with tf.control_dependencies(
        [
            tf.debugging.assert_greater(
                tf.cast(batch_size - 1, tf.float32), float(perplexity), message=message
            )
        ]
    ):
        return tf.identity(batch_size)
