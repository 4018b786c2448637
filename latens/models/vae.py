"""The variational auto-encoder (paper section 3.1, eq. 4).

The encoder body carries two linear heads, the posterior mean mu and the
log-variance log(sigma^2) of a diagonal Gaussian. While training, the decoder
sees a reparameterised draw z = mu + exp(log_var / 2) * eps, eps ~ N(0, I),
whose noise is a function of the model's seed and the optimizer's step
alone (each replica of a `tf.distribute` strategy folds its id in), so a run
resumed from a backup draws the noise an uninterrupted run draws; otherwise
(validation, `encode`, `reconstruction_error`) it sees mu, so those are
deterministic. The loss is the Bernoulli negative log-likelihood summed over
pixels plus KL(q(z|x) || N(0, I)), averaged over the batch; both parts are
reported as metrics ("reconstruction", "kl").

The paper's eq. 4 writes the KL with log(sigma); we parameterise the head as
the log-variance, as the Keras VAE example does, because the closed-form KL
is then 0.5 * sum(exp(log_var) + mu^2 - 1 - log_var), with no squaring of an
exponential, and it is what the authors' code computed in effect (their
`z_log_std` entered the formula as a log-variance). The two
parameterisations describe the same family of Gaussians.

The heads compute in float32, so the KL stays in float32 under mixed
precision, and the log-variance is kept within (-`LOG_VAR_BOUND`,
`LOG_VAR_BOUND`) (unchanged inside half of it), so that exp(log_var) and
the KL stay finite.
"""

import keras
import tensorflow as tf
from keras import layers as keras_layers

from latens import losses
from latens.models.cae import ConvAutoEncoder

# The posterior's log-variance is kept within (-10, 10), i.e. a standard
# deviation between 0.007 and 148, far beyond what a posterior near the
# N(0, I) prior uses. Unbounded, a small VAE's first batches reached
# log-variances near 14 (a first-epoch KL of 754,824 nats per image, one step
# from an infinite loss); bounded, exp(log_var) and the KL stay finite by
# construction.
LOG_VAR_BOUND = 10.0


@keras.saving.register_keras_serializable(package="latens")
class VariationalAutoEncoder(ConvAutoEncoder):
    """VAE with the CAE's architecture and a Gaussian posterior over codes."""

    loss_names = ("loss", "reconstruction", "kl")

    def __init__(self, *args, seed: int = 0, log_var_bound: float | None = LOG_VAR_BOUND, **kwargs):
        """Builds the model.

        Args:
          *args: `ConvAutoEncoder` arguments.
          seed: seed of the reparameterisation noise.
          log_var_bound: B; the log-variance head's output is kept within
            (-B, B): unchanged up to B / 2 either way, then bent smoothly
            (with a tanh) towards B. None leaves it unbounded.
          **kwargs: `ConvAutoEncoder` arguments.
        """
        super().__init__(*args, **kwargs)
        self.seed = seed
        self.log_var_bound = log_var_bound

    def build_encoder(self, body: keras.Model) -> keras.Model:
        images = keras.Input(shape=self.image_shape, name="images")
        features = body(images)
        mu = keras_layers.Dense(self.latent_dim, dtype="float32", name="mu")(features)
        log_var = keras_layers.Dense(self.latent_dim, dtype="float32", name="log_var")(features)
        return keras.Model(images, [mu, log_var], name="encoder")

    def code(self, x, training=False):
        """Posterior means `[N, L]`."""
        return self.encoder(x, training=training)[0]

    def sample(self, mu, log_var):
        """A reparameterised draw from N(mu, exp(log_var)); the noise is a function of (seed, step, replica)."""
        seed = self.step_seed(0)
        eps = tf.random.stateless_normal(tf.shape(mu), seed=seed)
        return mu + tf.exp(0.5 * log_var) * eps

    def reconstruct(self, logits):
        """Bernoulli means: the sigmoid of the decoder's logits."""
        return tf.sigmoid(logits)

    def call(self, x, training=False):
        return self.reconstruct(self._forward(x, training)[0])

    def per_example_losses(self, x, training=False):
        logits, mu, log_var = self._forward(x, training)
        reconstruction = losses.binary_cross_entropy(x, logits)
        kl = losses.gaussian_kl(mu, log_var)
        return {"loss": reconstruction + kl, "reconstruction": reconstruction, "kl": kl}

    def _forward(self, x, training):
        """Decoder logits, mu and log_var; a draw is decoded only when training."""
        mu, log_var = self.posterior(x, training)
        z = self.sample(mu, log_var) if training else mu
        return self.decoder(z, training=training), mu, log_var

    def posterior(self, x, training=False):
        """The posterior's mean and (bounded) log-variance, each `[N, L]`."""
        mu, log_var = self.encoder(x, training=training)
        if self.log_var_bound is not None:
            knee = 0.5 * self.log_var_bound
            excess = tf.abs(log_var) - knee
            bent = tf.sign(log_var) * (knee + knee * tf.tanh(tf.maximum(excess, 0.0) / knee))
            log_var = tf.where(excess > 0.0, bent, log_var)
        return mu, log_var

    def get_config(self):
        return {**super().get_config(), "seed": self.seed, "log_var_bound": self.log_var_bound}
