"""Images of a folder: finding them, decoding and resizing them, and caching the result.

`list_files` finds the image files under a folder; `read_images` decodes and
resizes them into a cache (read back as a memory map) that a later run
reuses while the files and options are unchanged. The folder command (`latens.select.folder`) is
built on these.

Reading:
  * Files are found recursively by extension, case-insensitively
    (`IMAGE_EXTENSIONS`); hidden files and folders (names starting with `.`)
    and an excluded folder (the output folder, when inside) are not looked
    at. Other files are listed as skipped but not opened: a folder of images
    often holds notes and metadata, and guessing formats from content would
    open them all.
  * Pillow decodes each file: the EXIF orientation is applied, a GIF or
    multi-page TIFF gives its first frame, 16-bit images map 0..65535
    linearly onto 0..255 (no per-image contrast stretch, which would erase
    brightness differences between images), float images are stretched from
    their own min..max, transparent pixels are composited onto white (as
    viewers show them), and the result is converted to grey (`L`, ITU-R 601
    luma) or `RGB`.
  * Resizing to `image_size` square (`FITS`) stretches by default: it keeps
    every pixel of content (a defect at an image's edge still shapes its
    code) and adds no artificial borders, and for the usual folder of
    same-shaped images it is a plain rescale. `crop` (centre crop, no
    distortion) and `pad` (black borders) are the alternatives.
  * A file Pillow cannot read (corrupt, truncated, empty, an unsupported
    variant) is skipped with the reason.
  * Decoding runs in a thread pool (Pillow releases the GIL while decoding
    and resizing) and appends each resized image to the cache's `.npy` with
    ordinary writes (a full disk is then an `OSError`, not a crash), so
    memory holds only a few full-size images at a time, never the folder.
    The cache is written under a temporary name and renamed once whole; a
    kill leaves that temporary file, which the next run removes.
  * The cache is reused while the listing (paths, sizes, modification times)
    and the reading options are unchanged.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import json
import os
import pathlib

import numpy as np
import tqdm
from absl import logging
from PIL import Image, ImageOps

from latens import fileio
from latens.checks import InputError
from latens.select import outdir

IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpe", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp")
FITS = ("stretch", "crop", "pad")
_MANIFEST_VERSION = 1
_RESAMPLE = Image.Resampling.LANCZOS
# Shrink big images by whole factors first (fast), then resample the rest
# with Lanczos: as sharp as Lanczos alone once the gap is 3 (Pillow's docs).
_REDUCING_GAP = 3.0


@dataclasses.dataclass(frozen=True)
class FolderImages:
    """The readable images of a folder, resized.

    Attributes:
      images: uint8 `[N, S, S, C]`, memory-mapped from the cache.
      paths: N paths relative to the folder, `/`-separated, sorted.
      unreadable: `(path, reason)` of every image file that could not be read.
      digest: hash of the paths and pixels (and the reading options).
    """

    images: np.ndarray
    paths: list[str]
    unreadable: list[tuple[str, str]]
    digest: str


def list_files(
    images_dir: os.PathLike, exclude: os.PathLike | None = None, *, follow_links: bool = True
) -> tuple[list[str], list[tuple[str, str]]]:
    """Finds the image files under a folder, recursively.

    Not looked into: hidden files and folders (names starting with `.`),
    `exclude`, and every latens output folder (`outdir.is_output_folder`).

    Args:
      images_dir: the folder.
      exclude: a folder inside it not to look into (the output folder).
      follow_links: follow symbolic links to files and folders, wherever
        they lead (a linked dataset); each real folder is visited once, so a
        link loop ends. False lists every link as skipped instead.

    Returns:
      `(images, others)`: the relative `/`-separated paths of files with an
      image extension, sorted; and `(path, reason)` for every other file, for
      names that are not valid UTF-8 (shown with `\\x..` escapes), links not
      followed, and folders that could not be listed.
    """
    root = pathlib.Path(images_dir)
    exclude = pathlib.Path(exclude).resolve() if exclude is not None else None
    images, others = [], []
    visited = {os.path.realpath(root)}

    def unlistable(error: OSError):
        others.append((_escaped(_relative(error.filename, root)), f"folder not readable ({error.strerror})"))

    def folder_skip(folder: str, name: str) -> str | None:
        """None to look into a subfolder; else why not ("" when not worth listing)."""
        path = os.path.join(folder, name)
        if name.startswith(".") or outdir.is_output_folder(path):
            return ""
        if exclude is not None and pathlib.Path(path).resolve() == exclude:
            return ""
        if os.path.islink(path) and not follow_links:
            return "symbolic link (not followed: follow_links is off)"
        real = os.path.realpath(path)
        if real in visited:
            return "link to a folder already read (a loop, or a second way in)"
        visited.add(real)
        return None

    for folder, subfolders, names in os.walk(root, onerror=unlistable, followlinks=follow_links):
        kept = []
        for name in sorted(subfolders):  # Sorted: which of two ways into a folder is read must not vary.
            reason = folder_skip(folder, name)
            if reason is None:
                kept.append(name)
            elif reason:
                others.append((_relative(os.path.join(folder, name), root), reason))
        subfolders[:] = kept
        for name in names:
            if name.startswith("."):
                continue
            path = _relative(os.path.join(folder, name), root)
            if not _is_utf8(path):
                others.append((_escaped(path), "file name is not valid UTF-8"))
            elif not follow_links and os.path.islink(os.path.join(folder, name)):
                others.append((path, "symbolic link (not followed: follow_links is off)"))
            elif os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS:
                images.append(path)
            else:
                others.append((path, "not an image file extension"))
    return sorted(images), sorted(others)


def _is_utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # Undecodable bytes arrive as lone surrogates.
        return False
    return True


def _escaped(name: str) -> str:
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def decode_image(path: os.PathLike, image_size: int, channels: int, fit: str = "stretch") -> np.ndarray:
    """Reads one image file, resized to a square (see the module docstring).

    Args:
      path: the file.
      image_size: S, the side of the result.
      channels: 1 (grey) or 3 (RGB).
      fit: one of `FITS`.

    Returns:
      uint8 `[S, S, channels]`.

    Raises:
      Whatever Pillow raises for a file it cannot read (OSError, SyntaxError,
      ValueError, ...).
    """
    mode = "L" if channels == 1 else "RGB"
    with Image.open(path) as image:
        # JPEG can decode at 1/2, 1/4 or 1/8 scale: much faster for big photos.
        image.draft(mode, (image_size, image_size))
        image = _to_8_bits(ImageOps.exif_transpose(image), mode)
    return _square(image, image_size, channels, fit)


def fit_array(x: np.ndarray, image_size: int, channels: int, fit: str = "stretch") -> np.ndarray:
    """Images held in memory, brought to the folder command's form: uint8 `[N, S, S, channels]`.

    Args:
      x: `[N, H, W]` or `[N, H, W, 1 or 3]`, uint8, or float in [0, 1].
      image_size: S.
      channels: 1 or 3.
      fit: one of `FITS`.

    Returns:
      uint8 `[N, S, S, channels]`, each image converted and resized as a file would be.

    Raises:
      InputError: not a batch of grey or colour images.
    """
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3) or not len(x):
        raise InputError(f"images must be [N, H, W] or [N, H, W, 1 or 3], got shape {x.shape}")
    if x.dtype != np.uint8:
        if not np.issubdtype(x.dtype, np.floating) or not np.isfinite(x).all() or x.min() < 0 or x.max() > 1:
            raise InputError(f"images must be uint8, or floats in [0, 1], got {x.dtype} in [{x.min()}, {x.max()}]")
        x = np.rint(x * 255.0).astype(np.uint8)
    if x.shape[1:] == (image_size, image_size, channels):
        return x
    mode = "L" if channels == 1 else "RGB"
    return np.stack([_square(Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).convert(mode),
                             image_size, channels, fit) for image in x])


def _square(image: Image.Image, image_size: int, channels: int, fit: str) -> np.ndarray:
    """The image resized to S x S by `fit`, as uint8 `[S, S, channels]`."""
    size = (image_size, image_size)
    if fit == "stretch":
        image = image.resize(size, _RESAMPLE, reducing_gap=_REDUCING_GAP)
    elif fit == "crop":
        image = ImageOps.fit(image, size, _RESAMPLE)
    else:
        image = ImageOps.pad(image, size, _RESAMPLE, color=0)
    return np.asarray(image, dtype=np.uint8).reshape(image_size, image_size, channels)


def _to_8_bits(image: Image.Image, mode: str) -> Image.Image:
    """An 8-bit `L` or `RGB` copy: 16-bit and float scaled, transparency on white."""
    if image.mode.startswith("I"):
        # I;16 variants, and I (how some readers give 16-bit data): 0..65535 -> 0..255.
        pixels = np.asarray(image, dtype=np.float64)
        image = Image.fromarray(np.clip(np.rint(pixels / 257.0), 0, 255).astype(np.uint8))
    elif image.mode == "F":
        pixels = np.nan_to_num(np.asarray(image, dtype=np.float64))
        low, high = pixels.min(), pixels.max()
        scaled = (pixels - low) / (high - low) * 255.0 if high > low else np.zeros_like(pixels)
        image = Image.fromarray(np.rint(scaled).astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        white = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, image.convert("RGBA"))
    return image.convert(mode)


def read_images(
    images_dir: os.PathLike,
    files: list[str],
    cache_dir: os.PathLike,
    *,
    image_size: int,
    channels: int,
    fit: str = "stretch",
    workers: int | None = None,
    progress: bool = True,
) -> FolderImages:
    """Decodes and resizes image files into the cache, or reuses the cache.

    Args:
      images_dir: the folder.
      files: image files in it, relative paths (`list_files`).
      cache_dir: where `images.npy` and `images.json` are kept.
      image_size: S.
      channels: 1 or 3.
      fit: one of `FITS`.
      workers: decoding threads; None for one per CPU core.
      progress: show a progress bar.

    Returns:
      The `FolderImages`, in the order of `files`, without the unreadable ones.

    Raises:
      InputError: no file could be read.
    """
    root, cache_dir = pathlib.Path(images_dir), pathlib.Path(cache_dir)
    array_path, manifest_path = cache_dir / "images.npy", cache_dir / "images.json"
    manifest = {
        "version": _MANIFEST_VERSION,
        "image_size": image_size,
        "channels": channels,
        "fit": fit,
        "listing": [[path, *_size_and_mtime(root / path)] for path in files],
    }
    cached = _read_cache(array_path, manifest_path, manifest)
    if cached is not None:
        logging.info("Reusing the %d images read before, from %s.", len(cached.paths), array_path)
        return cached

    cache_dir.mkdir(parents=True, exist_ok=True)
    for leftover in cache_dir.glob(".images.*.npy"):  # Of older versions, killed while reading.
        leftover.unlink(missing_ok=True)
    shape = (image_size, image_size, channels)
    digest = hashlib.sha256(json.dumps([image_size, channels, fit]).encode())
    paths, unreadable = [], []

    def write(tmp: str) -> None:
        # Ordinary writes, not a memory map: a full disk is then an OSError
        # at a write, not a bus error that kills the process.
        with open(tmp, "r+b") as f:
            header = _npy_header((len(files), *shape))
            f.write(header)
            # Cancelling on the way out makes Ctrl-C stop at once, not after every file.
            pool = concurrent.futures.ThreadPoolExecutor(workers or os.cpu_count())
            try:
                decoded = pool.map(lambda path: _try_decode(root / path, image_size, channels, fit), files)
                with tqdm.tqdm(zip(files, decoded), total=len(files), desc="reading images", unit="img",
                               disable=not progress) as bar:
                    for path, (pixels, reason) in bar:
                        if pixels is None:
                            unreadable.append((path, reason))
                            continue
                        f.write(pixels.tobytes())
                        digest.update(path.encode() + b"\0" + pixels.tobytes())
                        paths.append(path)
            finally:
                pool.shutdown(cancel_futures=True)
            if not paths:
                raise InputError(
                    f"none of the {len(files)} image files under {root} could be read "
                    f"(first: {unreadable[0][0]}: {unreadable[0][1]})"
                )
            if len(paths) < len(files):  # The header names the images kept.
                f.seek(0)
                f.write(_npy_header((len(paths), *shape), length=len(header)))

    # The manifest goes first, so no moment pairs an old manifest with new pixels.
    manifest_path.unlink(missing_ok=True)
    fileio.write_atomically(array_path, write)
    manifest.update(paths=paths, unreadable=unreadable, digest=digest.hexdigest()[:16])
    fileio.write_text(manifest_path, json.dumps(manifest))
    return FolderImages(np.load(array_path, mmap_mode="r"), paths, unreadable, manifest["digest"])


def _npy_header(shape: tuple[int, ...], length: int | None = None) -> bytes:
    """The header of a uint8 C-order `.npy` file of `shape`, padded with spaces to `length` bytes if given.

    The format allows any padding of spaces before the header's newline, so
    a header rewritten for fewer images keeps its length.
    """
    text = repr({"descr": "|u1", "fortran_order": False, "shape": tuple(shape)})
    length = length or -(-(len(text) + 11) // 64) * 64  # Magic, version and length take 10 bytes; 64-aligned.
    body = text.ljust(length - 11).encode("latin1") + b"\n"
    return b"\x93NUMPY\x01\x00" + len(body).to_bytes(2, "little") + body


def _try_decode(path, image_size, channels, fit) -> tuple[np.ndarray | None, str]:
    """`(pixels, "")`, or `(None, reason)` for a file that cannot be read."""
    try:
        return decode_image(path, image_size, channels, fit), ""
    # Pillow's readers raise many types for damaged files (OSError, SyntaxError,
    # ValueError, EOFError, struct.error, zlib.error...); each means "skip it".
    except Exception as error:  # noqa: BLE001
        return None, f"{type(error).__name__}: {error}"


def _size_and_mtime(path: pathlib.Path) -> tuple[int, int]:
    try:
        stat = path.stat()
    except OSError:
        return -1, -1  # Gone since the listing; decoding will report it.
    return stat.st_size, stat.st_mtime_ns


def _read_cache(array_path, manifest_path, manifest) -> FolderImages | None:
    """The cached images when they were read from the same listing with the same options."""
    try:
        stored = json.loads(manifest_path.read_text())
        images = np.load(array_path, mmap_mode="r")
    except (OSError, ValueError):
        return None
    if any(stored.get(key) != value for key, value in manifest.items()):
        return None
    shape = (len(stored["paths"]), manifest["image_size"], manifest["image_size"], manifest["channels"])
    if images.shape != shape:
        return None
    return FolderImages(images, stored["paths"], [tuple(u) for u in stored["unreadable"]], stored["digest"])


def _relative(path: str, root: pathlib.Path) -> str:
    return pathlib.Path(os.path.relpath(path, root)).as_posix()
