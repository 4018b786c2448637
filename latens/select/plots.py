"""Figures of a folder run: a contact sheet of the chosen images, and the latent space with thumbnails.

Images are drawn as they are (grey as grey, 0 = black), unlike
`latens.plots.data.image_grid`, which inverts grey for MNIST-style digits.
"""

from __future__ import annotations

import numpy as np
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.offsetbox import AnnotationBbox, OffsetImage

from latens.plots import project_2d, selection

# A contact sheet shows at most this many images (a taller PNG gets unwieldy).
MAX_SHEET_IMAGES = 400
# The latent figure puts thumbnails on at most this many chosen codes, first by rank.
MAX_THUMBNAILS = 50
_COLUMNS = 10
_CELL_INCHES = 1.0  # Side of one image on the sheet.
_GAP_INCHES = 0.15
_CAPTION_INCHES = 0.28
_CAPTION_CHARACTERS = 20
_THUMBNAIL_INCHES = 0.42
_THUMBNAIL_SPACING = 1.1 * _THUMBNAIL_INCHES  # Room for the frames.


def contact_sheet(images: np.ndarray, captions: list[str], title: str) -> Figure:
    """The images in a grid, in order, each captioned underneath.

    The grid is one mosaic drawn by a single `imshow`, which stays fast for
    hundreds of images.

    Args:
      images: uint8 `[K, S, S, C]`, C = 1 or 3.
      captions: K captions, shortened in the middle when long.
      title: the figure title.

    Returns:
      The figure; with more than `MAX_SHEET_IMAGES` images, the first ones.
    """
    shown = min(len(images), MAX_SHEET_IMAGES)
    if shown < len(images):
        title = f"{title} (the first {shown} by rank)"
    size = images.shape[1]
    columns = min(_COLUMNS, shown)
    rows = -(-shown // columns)
    cell_w = round(size * (1 + _GAP_INCHES / _CELL_INCHES))
    cell_h = round(size * (1 + (_GAP_INCHES + _CAPTION_INCHES) / _CELL_INCHES))
    mosaic = np.full((rows * cell_h, columns * cell_w, 3), 255, np.uint8)
    for k in range(shown):
        top, left = (k // columns) * cell_h, (k % columns) * cell_w
        mosaic[top : top + size, left : left + size] = images[k]  # Grey broadcasts to RGB.

    inches_per_pixel = _CELL_INCHES / size
    title_inches = 0.5
    figure = Figure(figsize=(mosaic.shape[1] * inches_per_pixel,
                             mosaic.shape[0] * inches_per_pixel + title_inches))
    axes = figure.add_axes((0, 0, 1, 1 - title_inches / figure.get_figheight()))
    axes.imshow(mosaic, interpolation="nearest")
    axes.set_axis_off()
    for k in range(shown):
        top, left = (k // columns) * cell_h, (k % columns) * cell_w
        axes.text(left + size / 2, top + size + 0.05 * size, _shorten(captions[k]),
                  ha="center", va="top", fontsize=6.5)
    figure.suptitle(title, fontsize=10, y=1 - 0.1 / figure.get_figheight(), va="top")
    return figure


def latent_with_thumbnails(z: np.ndarray, chosen: np.ndarray, thumbnails: np.ndarray, title: str) -> Figure:
    """Every code in grey, the chosen ones marked, small images on the first chosen.

    Thumbnails go on the chosen codes in rank order, at most
    `MAX_THUMBNAILS`, each only where it does not overlap one already
    placed, so the figure stays readable however many were chosen.

    Args:
      z: codes `[N, L]` (L > 2 is drawn on its first two principal components).
      chosen: indices `[n]` into z, in rank order.
      thumbnails: uint8 images `[n, S, S, C]` of the chosen codes.
      title: the figure title.

    Returns:
      The figure.
    """
    projected = project_2d(z)
    figure = selection.plot_latent_selection(z, chosen, title=title, projected=projected)
    axes = figure.axes[0]
    xy = projected[0][np.asarray(chosen)]
    # Where each thumbnail falls, in inches on the axes, to test overlaps.
    figure.draw_without_rendering()  # Fixes the layout, so the axes' size is final.
    box = axes.get_window_extent()
    (x0, x1), (y0, y1) = axes.get_xlim(), axes.get_ylim()
    inches = np.column_stack([(xy[:, 0] - x0) / (x1 - x0) * box.width,
                              (xy[:, 1] - y0) / (y1 - y0) * box.height]) / figure.dpi
    placed = []
    for rank, (point, where, image) in enumerate(zip(xy, inches, thumbnails), start=1):
        if len(placed) == MAX_THUMBNAILS:
            break
        if any(np.max(np.abs(where - other)) < _THUMBNAIL_SPACING for other in placed):
            continue
        placed.append(where)
        picture = OffsetImage(image.squeeze(-1) if image.shape[-1] == 1 else image,
                              zoom=_THUMBNAIL_INCHES * 72 / image.shape[0], cmap="gray",
                              norm=Normalize(0, 255), interpolation="nearest")
        axes.add_artist(AnnotationBbox(picture, point, frameon=True, pad=0.1, zorder=4,
                                       bboxprops={"edgecolor": "tab:red", "linewidth": 0.8}))
        axes.annotate(str(rank), point, xytext=(-_THUMBNAIL_INCHES * 36, _THUMBNAIL_INCHES * 36),
                      textcoords="offset points", fontsize=6, ha="right", va="bottom", zorder=5,
                      color="tab:red")
    axes.set_title(f"{title}\nthumbnails: {len(placed)} chosen images, in rank order where they fit "
                   "(red: rank)", fontsize=10)
    return figure


def _shorten(caption: str) -> str:
    if len(caption) <= _CAPTION_CHARACTERS:
        return caption
    half = (_CAPTION_CHARACTERS - 1) // 2
    return f"{caption[:half]}…{caption[-half:]}"

