"""The paper's unbalanced MNIST (section 4): each even digit gains images, each odd digit loses as many.

`unbalance(x, y, shift, seed)` (also `latens.data.unbalance`) builds the
unbalanced pool; `unbalance_with_sources` also says which original every
image is, or was made from.
"""

from __future__ import annotations

import numpy as np
import scipy.ndimage

# Paper section 4: each even digit gains, each odd digit loses, 2,000 of the
# 50,000 pool images. Smaller pools get the same proportion.
PAPER_SHIFT = 2_000
Pair = tuple[np.ndarray, np.ndarray]


def unbalanced_shift(pool_size: int) -> int:
    """The paper's per-class shift (2,000 of 50,000) scaled to a pool's size."""
    from latens.data import POOL_SIZE  # The paper's pool, which its shift belongs to.

    return int(round(PAPER_SHIFT * pool_size / POOL_SIZE))


def unbalance(
    x: np.ndarray, y: np.ndarray, shift: int = PAPER_SHIFT, seed: int = 0
) -> Pair:
    """Builds the paper's unbalanced variant of a pool (section 4).

    Every even class gains `shift` images and every odd class loses `shift`,
    so with as many even as odd classes the size is unchanged. See
    `unbalance_with_sources` for the details; this returns only `(x, y)`.

    Args:
      x: uint8 images `[N, H, W, C]`.
      y: int labels `[N]`.
      shift: images added to each even class and removed from each odd class.
      seed: seed of every random choice.

    Returns:
      `(x, y)` of the unbalanced pool.
    """
    x_new, y_new, _ = unbalance_with_sources(x, y, shift, seed)
    return x_new, y_new


def unbalance_with_sources(
    x: np.ndarray,
    y: np.ndarray,
    shift: int = PAPER_SHIFT,
    seed: int = 0,
    max_translation: int = 2,
    max_rotation: float = 5.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The unbalanced pool, and for each of its images the original it came from.

    Odd classes lose `shift` images drawn at random. Even classes gain `shift`
    new images, each a randomly drawn original of the same class (without
    replacement while the class has enough images) moved by a random whole-pixel
    translation of up to `max_translation` pixels in each direction (never
    zero in both) and rotated by a random angle in
    `[-max_rotation, max_rotation]` degrees about its centre.

    The authors' code differed in two ways: it passed an angle in radians
    where degrees were expected (a rotation of about 0.09 degrees), and it
    copied the first 2,000 images of each class rather than a random draw.

    Args:
      x: uint8 images `[N, H, W, C]`.
      y: int labels `[N]`.
      shift: images added to each even class and removed from each odd class.
      seed: seed of every random choice.
      max_translation: largest translation, in pixels, along each axis.
      max_rotation: largest rotation, in degrees.

    Returns:
      `(x, y, sources)`: the kept originals in their original order, then the
      new images class by class; `sources[i]` is the index in `x` of the
      original that image `i` is, or was made from. Image `i` is new exactly
      when `i >= N - num_even_classes * shift + num_odd_classes * shift`,
      i.e. in the tail after the kept originals.

    Raises:
      ValueError: a negative shift, mismatched lengths, an odd class with
        fewer than `shift` images or an even class with none.
    """
    x = np.asarray(x)
    y = np.asarray(y)
    if shift < 0:
        raise ValueError(f"shift must be at least 0, got {shift}")
    if len(x) != len(y):
        raise ValueError(f"{len(x)} images but {len(y)} labels")
    rng = np.random.default_rng(seed)
    classes = np.unique(y)
    keep = np.ones(len(y), dtype=bool)
    sources = []
    for c in classes:
        members = np.flatnonzero(y == c)
        if c % 2:
            if len(members) < shift:
                raise ValueError(
                    f"class {c} has {len(members)} images, too few to remove {shift}; "
                    "use a smaller shift"
                )
            keep[rng.choice(members, size=shift, replace=False)] = False
        else:
            sources.append(rng.choice(members, size=shift, replace=len(members) < shift))
    sources = np.concatenate(sources) if sources else np.zeros(0, dtype=np.int64)
    new_images = np.stack([_jitter(x[i], rng, max_translation, max_rotation) for i in sources]) \
        if len(sources) else x[:0]
    kept = np.flatnonzero(keep)
    return (
        np.concatenate([x[kept], new_images]),
        np.concatenate([y[kept], y[sources]]),
        np.concatenate([kept, sources]),
    )


def _jitter(
    image: np.ndarray, rng: np.random.Generator, max_translation: int, max_rotation: float
) -> np.ndarray:
    """Rotates an `[H, W, C]` uint8 image about its centre, then translates it."""
    while True:
        dy, dx = rng.integers(-max_translation, max_translation + 1, size=2)
        if dy or dx or max_translation == 0:
            break
    angle = np.deg2rad(rng.uniform(-max_rotation, max_rotation))
    # affine_transform maps output coordinates to input ones: the inverse of
    # "rotate by angle about the centre, then shift by (dy, dx)".
    cos, sin = np.cos(angle), np.sin(angle)
    inverse = np.array([[cos, sin], [-sin, cos]])
    centre = (np.array(image.shape[:2]) - 1) / 2.0
    offset = centre - inverse @ (centre + np.array([dy, dx]))
    out = np.empty_like(image)
    for ch in range(image.shape[-1]):
        moved = scipy.ndimage.affine_transform(
            image[..., ch].astype(np.float32), inverse, offset=offset, order=1, cval=0.0
        )
        out[..., ch] = np.clip(np.rint(moved), 0, 255).astype(np.uint8)
    return out
