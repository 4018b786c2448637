"""The t-SNE style auto-encoder (paper section 3.1, eqs. 5-7).

A CAE-shaped auto-encoder whose codes are also asked to keep each batch's
neighbourhoods: the loss is the Bernoulli negative log-likelihood summed over
pixels plus `kl_weight` times KL(P || Q), where P holds the t-SNE joint
affinities of the batch's input pixels (each conditional row searched to the
target perplexity) and Q the Student-t affinities of the batch's codes (see
`latens.losses`). Metrics: "loss", "reconstruction" (the BCE) and "tsne_kl"
(KL(P || Q) of a batch), each averaged over the epoch.

Batches must hold more than `perplexity + 1` examples (per replica under
`tf.distribute`); train with `drop_remainder=True` so the last batch is not
too small. Under a `MirroredStrategy`, P and Q are computed per replica over
that replica's share of the global batch: the loss is the mean BCE over the
global batch plus `kl_weight` times the mean over replicas of each share's
KL(P || Q). With R replicas that is the single-device loss of batches R times
smaller, so keep the per-replica batch comparable to the single-device one.

`kl_weight` defaults to `KL_WEIGHT` = 1e4 (see its comment, and the
README's "The models" for the comparison behind it). The authors' code also
used 1e4, but against a BCE averaged, not summed, over pixels (7.8e6 on our
scale) and with an almost uniform P (the perplexity search never ran), so
the two values agree by coincidence only.
"""

import keras
import tensorflow as tf

from latens import losses
from latens.models.cae import ConvAutoEncoder

PERPLEXITY = 30.0
# A batch's KL is 0.4-1.1 nats against a BCE of 170-300 nats summed over the
# pixels, so at weight 1 the reconstruction dominates the encoder's gradients
# and P hardly shapes the codes. Compared by the 5-NN label accuracy of the
# 2-D codes (`experiments/tsne_kl_weight.py`, README "The models"), weights
# 1e4 and 1e5 did equally well and better than 1e3 and far better than 1.
KL_WEIGHT = 10_000.0


@keras.saving.register_keras_serializable(package="latens")
class TSNEAutoEncoder(ConvAutoEncoder):
    """Auto-encoder trained on BCE + kl_weight * KL(P || Q) over each batch."""

    loss_names = ("loss", "reconstruction", "tsne_kl")

    def __init__(self, *args, perplexity: float = PERPLEXITY, kl_weight: float = KL_WEIGHT, **kwargs):
        """Builds the model.

        Args:
          *args: `ConvAutoEncoder` arguments.
          perplexity: target perplexity of every row of P; batches need more
            than `perplexity + 1` examples.
          kl_weight: weight of KL(P || Q) against the summed BCE.
          **kwargs: `ConvAutoEncoder` arguments.
        """
        if perplexity < 1.0:
            raise ValueError(f"perplexity must be at least 1, got {perplexity}")
        super().__init__(*args, **kwargs)
        self.perplexity = float(perplexity)
        self.kl_weight = float(kl_weight)

    def reconstruct(self, logits):
        """Bernoulli means: the sigmoid of the decoder's logits."""
        return tf.sigmoid(logits)

    def per_example_losses(self, x, training=False):
        z = self.code(x, training=training)
        reconstruction = losses.binary_cross_entropy(x, self.decoder(z, training=training))
        p = losses.tsne_joint_p(x, self.perplexity)
        q = losses.student_t_q(z)
        # KL(P || Q) belongs to the whole batch. B times row i's share of it
        # is a per-example loss whose batch mean is the KL itself, which is
        # what the train step's reduction by the global batch size expects.
        batch_size = tf.cast(tf.shape(z)[0], tf.float32)
        kl = batch_size * losses.kl_divergence(p, q, axis=1)
        return {
            "loss": reconstruction + self.kl_weight * kl,
            "reconstruction": reconstruction,
            "tsne_kl": kl,
        }

    def get_config(self):
        return {**super().get_config(), "perplexity": self.perplexity, "kl_weight": self.kl_weight}
