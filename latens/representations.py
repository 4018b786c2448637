"""The representation kinds: one specification each, what configs check and resolve without importing TensorFlow.

A kind (`cae`, `vae`, `tsne`, `simclr`, `pca`) is an entry of `SPECS`: its
default code size, batch size and epochs, the model options it takes, the
smallest batch it learns from, whether its codes come with a reconstruction
error (for `ae-error`), and the class that implements it (imported only when
`build` is called). Every config and entry point reads a kind's defaults
through `resolve`, the one place where they are filled in, so the same kind
gets the same model wherever it is named. Adding a kind means adding its
`Spec` here and its model module in `latens.models` (docs/models.md).

A representation is named by its kind, optionally followed by the dimension
of its codes: `vae` (the VAE at its default L = 2), `vae16` (L = 16),
`simclr`, `pca50`. Names joined by `+` (`simclr+cae16`) name a joined space:
the representations' codes side by side (`latens.spaces.join`).
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import math
import re
from collections.abc import Callable
from typing import ClassVar

from latens import checks

# The paper's batch of 64 images per step.
PAPER_BATCH_SIZE = 64
# The initializers offered for the networks' ReLU layers (Keras names):
# Glorot's, Keras' default, and He's, made for ReLU stacks.
INITIALIZERS = ("glorot_uniform", "glorot_normal", "he_uniform", "he_normal")
# The widths a `width` multiplies, at width 1: the paper's conv stack (the
# auto-encoders' encoder, mirrored by their decoder) and SimCLR's encoder.
PAPER_WIDTHS = {"filters": (64, 32, 32), "dense_units": (1024, 1024)}
SIMCLR_WIDTHS = {"filters": (32, 64)}
# What the images show -> the options of a contrastive encoder's views
# (`Spec.viewed`) for them, each measured by the 5-NN accuracy of its
# embedding (docs/models.md, "Views per kind of image"). Digits keep the
# model's own defaults, chosen on MNIST; objects (garments, products,
# photos of things), which a mirror keeps what they are, are flipped, not
# turned, and contrasted at a lower temperature. Every augmentation field
# but `crop_area` (1, no crops) is written out, so that a stored run names
# its views whatever those defaults become.
IMAGE_KINDS = {
    "digits": {},
    "objects": {
        "augmentation": {"translation": 0.0, "rotation": 0.0, "zoom": 0.1, "contrast": 0.4, "noise": 0.1,
                         "flip": True},
        "temperature": 0.05,
    },
}
_NAMED = re.compile(r"^([a-z]+?)(\d*)$")
# What joins representations' names into a joined space's (`simclr+cae16`).
JOIN = "+"


def _any_batch(perplexity: float | None = None) -> int:
    return 1


def _above_perplexity(perplexity: float | None = None) -> int:
    """The t-SNE loss compares each example with the rest of its batch at `perplexity`: more than perplexity + 1."""
    if perplexity is None:
        raise ValueError("the minimum batch of tsne depends on its perplexity; pass perplexity")
    return math.floor(perplexity + 1) + 1


def _two(perplexity: float | None = None) -> int:
    # SimCLR's NT-Xent contrasts each image's two views with the other images
    # of the batch: alone in its batch an image has none, and its loss is 0.
    return 2


@dataclasses.dataclass(frozen=True)
class Spec:
    """What latens knows of a representation kind before building it.

    Attributes:
      kind: its name.
      model: the `keras.Model` subclass that implements it, as
        `"module:Class"` (imported by `build`).
      latent_dim: the size L of its codes when none is asked for.
      batch_size: images per training step when none is asked for.
      epochs: training passes when none are asked for (pixel PCA: one fit).
      options: the model's constructor options beyond `input_shape` and
        `latent_dim`, those a config may set.
      min_batch: `min_batch(perplexity)` -> the fewest images per step and
        replica the kind learns from.
      reconstructs: whether its codes come with a reconstruction error
        (what `ae-error` ranks).
      trained: whether it learns by gradient steps (pixel PCA is fitted once).
      kernel_initializer: the default initializer of its ReLU layers (None:
        it has none).
      seeded: whether its model takes the run's `seed` (noise, augmentation, sampling).
      widths: its network's layer widths at width 1, the options that
        `Training.width` scales (none: it has no network).
      code_layers: the layers its code may be read from (`Training.code_layer`),
        its own first (none: one only).
    """

    kind: str
    model: str
    latent_dim: int
    batch_size: int = PAPER_BATCH_SIZE
    epochs: int = 20
    options: tuple[str, ...] = ()
    min_batch: Callable[[float | None], int] = _any_batch
    reconstructs: bool = False
    trained: bool = True
    kernel_initializer: str | None = None
    seeded: bool = False
    widths: dict = dataclasses.field(default_factory=dict)
    code_layers: tuple[str, ...] = ()

    @property
    def viewed(self) -> bool:
        """Whether it learns from random views of the images (it takes an `augmentation`), which `IMAGE_KINDS` sets."""
        return "augmentation" in self.options

    def model_class(self):
        """The model's class (imports its module, and with it TensorFlow)."""
        module, name = self.model.split(":")
        return getattr(importlib.import_module(module), name)


_CONV = ("filters", "convs_per_block", "dense_units", "kernel_initializer")
SPECS: dict[str, Spec] = {
    spec.kind: spec for spec in (
        # The paper's auto-encoders: 2-D codes, its batch of 64, Keras' default initializer.
        Spec("cae", "latens.models.cae:ConvAutoEncoder", latent_dim=2, options=_CONV, reconstructs=True,
             kernel_initializer="glorot_uniform", widths=PAPER_WIDTHS),
        Spec("vae", "latens.models.vae:VariationalAutoEncoder", latent_dim=2, options=(*_CONV, "log_var_bound"),
             reconstructs=True, kernel_initializer="glorot_uniform", seeded=True, widths=PAPER_WIDTHS),
        Spec("tsne", "latens.models.tsne:TSNEAutoEncoder", latent_dim=2,
             options=(*_CONV, "perplexity", "kl_weight"), min_batch=_above_perplexity, reconstructs=True,
             kernel_initializer="glorot_uniform", widths=PAPER_WIDTHS),
        # The contrastive encoder: a 128-d embedding, and more images per batch,
        # since every image is contrasted with the rest of its batch.
        Spec("simclr", "latens.models.simclr:ContrastiveEncoder", latent_dim=128, batch_size=256,
             options=("filters", "convs_per_block", "projection_dim", "temperature", "kernel_initializer",
                      "augmentation", "code_layer"),
             min_batch=_two, kernel_initializer="he_uniform", seeded=True, widths=SIMCLR_WIDTHS,
             code_layers=("embedding", "pre_activation", "flatten")),
        # Pixel PCA: 50 principal components, fitted without epochs.
        Spec("pca", "latens.models.pca:PixelPCA", latent_dim=50, epochs=1, trained=False, seeded=True),
    )
}
KINDS = tuple(SPECS)
# Every kind's choices of the layer its code is read from.
CODE_LAYERS = tuple(dict.fromkeys(layer for spec_ in SPECS.values() for layer in spec_.code_layers))
AUTOENCODERS = tuple(kind for kind, spec in SPECS.items() if spec.reconstructs)
# Kinds whose codes come with a reconstruction error (for `ae-error`).
RECONSTRUCTING = AUTOENCODERS
DEFAULT_DIMS = {kind: spec.latent_dim for kind, spec in SPECS.items()}


def spec(kind: str) -> Spec:
    """The `Spec` of a kind; `ValueError` naming the kinds for an unknown one."""
    checks.one_of("representation", kind, KINDS)
    return SPECS[kind]


def resolve(kind: str, latent_dim: int | None = None, batch_size: int | None = None) -> tuple[int, int]:
    """A kind's code size and batch size, each the one asked for or, if None, the kind's default.

    The one place where kind-dependent defaults are filled in: every config
    and entry point calls it (or a config that does), so `--ae=simclr` trains
    the same 128-d encoder from the command line, `latens.choose` or a grid.

    Returns:
      `(latent_dim, batch_size)`.
    """
    kind_spec = spec(kind)
    return latent_dim or kind_spec.latent_dim, batch_size or kind_spec.batch_size


@dataclasses.dataclass(frozen=True)
class Training:
    """How a representation is built and trained beyond its kind and code size.

    The settings that the grid (one per family of kinds), the folder tool and
    a training run (`latens.train.TrainConfig.of`) share; each is resolved
    for a kind by the methods below, the one place where they become a
    model's options.

    Attributes:
      epochs: passes over the images; none: the kind's default.
      batch_size: images per training step; none: the kind's default.
      width: the network's layer widths (`Spec.widths`) times this; 1: the
        kind's own.
      kernel_initializer: initializer of its ReLU layers; none: the kind's own.
      options: further keywords of the model's constructor (`Spec.options`),
        which override the settings above (an `augmentation` there
        replaces the one `image_kind` sets, whole).
      train_size: at most this many images (a seeded sample) train the
        model, for `epochs` passes over them; every image is still embedded.
        0: all of them.
      image_kind: what the images show, which sets a contrastive encoder's
        views (`IMAGE_KINDS`): digits (centred glyphs, which a mirror
        changes: the model's defaults) or objects (garments, products,
        photos of things: flipped, not turned). Kinds without views ignore it.
      code_layer: the layer the codes are read from, for a kind that offers
        a choice (`Spec.code_layers`; SimCLR's embedding after its ReLU,
        `pre_activation` or the conv maps, `flatten`); none: the kind's own.
        Other kinds ignore it.
    """

    CHOICES: ClassVar[dict] = {"kernel_initializer": (None, *INITIALIZERS), "image_kind": tuple(IMAGE_KINDS),
                               "code_layer": (None, *CODE_LAYERS)}

    epochs: int | None = None
    batch_size: int | None = None
    width: float = 1.0
    kernel_initializer: str | None = None
    options: dict = dataclasses.field(default_factory=dict)
    train_size: int = 0
    image_kind: str = "digits"
    code_layer: str | None = None

    def __post_init__(self):
        checks.choices(self)
        checks.positive("width", self.width)
        checks.at_least("train_size", self.train_size, 0)
        for name in ("epochs", "batch_size"):
            if getattr(self, name) is not None:
                checks.positive(name, getattr(self, name))

    def epochs_for(self, kind: str) -> int:
        """The passes that train `kind`: `epochs`, or the kind's default."""
        return self.epochs or spec(kind).epochs

    def model_options(self, kind: str) -> dict:
        """The options of `kind`'s model that these settings set (a kind without a network has none).

        Only what differs from the model's own defaults is named (a width of
        1, no initializer, digits and the kind's own code layer name
        nothing), so a config lists what shaped it.
        """
        kind_spec = spec(kind)
        if not kind_spec.widths:
            return {}
        widths = scale(kind_spec.widths, self.width) if self.width != 1 else {}
        initializer = {"kernel_initializer": self.kernel_initializer} if self.kernel_initializer else {}
        views = copy.deepcopy(IMAGE_KINDS[self.image_kind]) if kind_spec.viewed else {}
        other_layer = kind_spec.code_layers and self.code_layer not in (None, kind_spec.code_layers[0])
        layer = {"code_layer": self.code_layer} if other_layer else {}
        return {**widths, **initializer, **views, **layer, **self.options}


def scale(widths: dict[str, tuple[int, ...]], width: float) -> dict[str, tuple[int, ...]]:
    """Each layer width of `widths` times `width`, rounded, at least 1."""
    return {name: tuple(max(1, round(units * width)) for units in values) for name, values in widths.items()}


def parse(name: str) -> tuple[str, int | None]:
    """`"vae16"` -> `("vae", 16)`, `"vae"` -> `("vae", None)`: a kind, and the dimension its name asks for.

    Raises:
      ValueError: not a kind of `KINDS` with an optional positive dimension.
    """
    match = _NAMED.match(name)
    kind, digits = (match.group(1), match.group(2)) if match else (name, "")
    checks.one_of("representation", kind, KINDS)
    if digits and int(digits) < 1:
        raise ValueError(f"a representation's dimension must be positive, got {name!r}")
    return kind, int(digits) if digits else None


def parts(name: str) -> tuple[str, ...]:
    """`"simclr+cae16"` -> `("simclr", "cae16")`, `"vae16"` -> `("vae16",)`: the representations a space joins.

    The order is the order of the codes' blocks; `cae16+simclr` selects the
    same images as `simclr+cae16` but is another row of a study.

    Raises:
      ValueError: a part that `parse` refuses, or one named twice (also
        with and without its default dimension: `cae+cae2`).
    """
    names = tuple(name.split(JOIN))
    # `cae` and `cae2` are the same codes: compare the parts with their dimensions resolved.
    resolved = [(kind, resolve(kind, dim)[0]) for kind, dim in map(parse, names)]
    if len(set(resolved)) < len(resolved):
        raise ValueError(f"a joined space names each representation once, got {name!r}")
    return names


def batch_size(kind: str) -> int:
    """The kind's default images per training step."""
    return spec(kind).batch_size


def min_batch(kind: str, perplexity: float | None = None) -> int:
    """The fewest images per training step and replica that the kind learns from.

    Args:
      kind: one of `KINDS`.
      perplexity: the t-SNE loss's perplexity (needed for `tsne` only).

    Returns:
      The minimum batch size (1 where any batch will do).
    """
    return spec(kind).min_batch(perplexity)


def build(kind: str, latent_dim: int | None = None, **options):
    """Builds an untrained model of a kind (imports TensorFlow).

    Args:
      kind: one of `KINDS`.
      latent_dim: the codes' size; None: the kind's default.
      **options: `input_shape`, and the kind's `Spec.options` (plus `seed`
        for a seeded kind, and any option the class takes).

    Returns:
      The model, uncompiled (pixel PCA is fitted by `fit_pixels`).
    """
    kind_spec = spec(kind)
    return kind_spec.model_class()(latent_dim=latent_dim or kind_spec.latent_dim, **options)
