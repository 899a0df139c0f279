"""Photos for a report: read files and folders, fit them to a model's input.

Reading is separate from the model so that `kerasviz inspect` can reject an
unreadable file or an empty folder before it spends time building a model.
"""

from __future__ import annotations

import os
from typing import Optional, Sequence

import numpy as np

from kerasviz.data import _SAMPLES, fit_image, sample_image

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")
SAMPLE_ORDER = ("cat", "coffee", "astronaut", "rocket", "motorcycle", "coins", "retina")


class ImageReadError(ValueError):
    """An image file or folder could not be read (the message names it)."""


def sample_photos(count: Optional[int] = None) -> tuple[list[np.ndarray], list[str]]:
    """The offline scikit-image sample photos (uint8 RGB, original sizes) and their names."""
    names = [n for n in SAMPLE_ORDER if n in _SAMPLES][:count]
    return [sample_image(n) for n in names], names


def _folder_files(folder: str) -> list[str]:
    files = sorted(os.path.join(root, f) for root, _, fs in os.walk(folder) for f in fs
                   if f.lower().endswith(IMAGE_EXTENSIONS))
    if not files:
        raise ImageReadError(f"folder {folder!r} holds no images ({', '.join(IMAGE_EXTENSIONS)})")
    return files


def read_photo(path: str) -> np.ndarray:
    """One image file as uint8 `(H, W, 3)` RGB (grey repeated, alpha dropped, first frame).

    Raises:
        ImageReadError: the file is missing or not a readable image.
    """
    import skimage.io

    if not os.path.isfile(path):
        raise ImageReadError(f"image file {path!r} does not exist")
    try:
        image = np.asarray(skimage.io.imread(path))
    except Exception as err:  # every decoder fails differently; the name is what matters
        raise ImageReadError(f"cannot read image {path!r}: {type(err).__name__}: {_one_line(err)}") from None
    if image.ndim == 4:  # animated GIF / multi-page TIFF: first frame
        image = image[0]
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[-1] not in (1, 2, 3, 4) or min(image.shape[:2]) < 1:
        raise ImageReadError(f"image {path!r} has shape {image.shape}; expected a 2-D grey or colour picture")
    if image.dtype != np.uint8:
        image = _to_uint8(image)
    colour = image[..., :3] if image.shape[-1] >= 3 else image[..., :1]
    return np.repeat(colour, 3, axis=-1) if colour.shape[-1] == 1 else colour


def read_photos(paths: Sequence[str], limit: Optional[int] = None) -> tuple[list[np.ndarray], list[str]]:
    """Image files and folders (searched recursively, sorted) -> uint8 RGB photos and names.

    Args:
        paths: files and/or folders.
        limit: keep at most this many images.

    Raises:
        ImageReadError: a path does not exist, a folder holds no image, or a
            file cannot be decoded (the message names it).
    """
    files: list[tuple[str, str]] = []
    for path in paths:
        if os.path.isdir(path):
            files += [(f, os.path.relpath(f, path)) for f in _folder_files(path)]
        elif os.path.exists(path):
            files.append((path, os.path.basename(path)))
        else:
            raise ImageReadError(f"no such image file or folder: {path!r}")
    files = files[:limit]
    return [read_photo(f) for f, _ in files], [name for _, name in files]


def fit_photos(photos: Sequence[np.ndarray], size: tuple[int, int]) -> np.ndarray:
    """Centre-crop and resize uint8 RGB photos to `size` (H, W): `(N, H, W, 3)` uint8."""
    return np.stack([fit_image(np.asarray(p, np.uint8), size) for p in photos])


def _to_uint8(image: np.ndarray) -> np.ndarray:
    """16-bit, boolean or float pictures -> uint8 (floats in [0, 1] or 0-255)."""
    x = image.astype(np.float64)
    if image.dtype.kind in "iu":
        x = x * 255.0 / np.iinfo(image.dtype).max
    elif image.dtype.kind == "b" or x.max() <= 1.0:
        x = x * 255.0
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def _one_line(err: Exception) -> str:
    return " ".join(str(err).split())[:300]
