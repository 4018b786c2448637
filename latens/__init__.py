"""latens: choose which unlabeled images to label first.

A representation of the images (an auto-encoder's codes, a contrastive
embedding or pixel PCA) maps every image to a point; a selection rule over
those points picks the images to annotate. This package is also the
reference reimplementation of Killeen, "Query Selection based on Latent Space
Sampling".

    import latens
    order = latens.choose(images, n=100)   # indices into `images`, label the first first
    # ... label them, then: the next 100, and every image's suggested label
    order = latens.choose(images, n=100, labels={i: label, ...})
    labels, confidence = latens.predict(images, {i: label, ...})
"""

__version__ = "0.1.0"


def choose(images, n, **options):
    """Chooses which n images to label first (next, with `labels=`); see `latens.select.choice.choose`.

    Args:
      images: uint8 images (or floats in [0, 1]) `[N, H, W]` or `[N, H, W, C]`,
        or a `tf.data.Dataset` of them.
      n: how many to choose.
      **options: `labels` (image index -> label, for those labelled so far),
        `seed`, `cache_dir`, `progress`, and the options of
        `latens-select` (`latens.select.choice.ChoiceConfig`), with its defaults.

    Returns:
      int64 `[n]`: indices into `images`, in the order to label them.
    """
    from latens.select import choice  # TensorFlow loads only when something is chosen.

    return choice.choose(images, n, **options)


def predict(images, labels, **options):
    """Suggests a label and a confidence for every image from the labels of a few; see `latens.select.choice.predict`.

    Args:
      images: the images, as for `choose`.
      labels: image index -> label (two classes at least), or one label per image (None: none).
      **options: as for `choose`.

    Returns:
      `(labels [N], confidence [N])`: each image's suggested label and its probability.
    """
    from latens.select import choice  # TensorFlow loads only when something is predicted.

    return choice.predict(images, labels, **options)
