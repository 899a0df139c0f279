"""Photos for a report: read files and folders, fit them to a model's input.

Reading is separate from the model so that `kerasviz inspect` can reject an
unreadable file or an empty folder before it spends time building a model.
"""

from __future__ import annotations

import os
from typing import Optional, Sequence

import numpy as np

from kerasviz.data import _SAMPLES, IMAGE_EXTENSIONS, ImageReadError, fit_image, image_files, read_photo, sample_image

SAMPLE_ORDER = ("cat", "coffee", "astronaut", "rocket", "motorcycle", "coins", "retina")


def sample_photos(count: Optional[int] = None) -> tuple[list[np.ndarray], list[str]]:
    """The offline scikit-image sample photos (uint8 RGB, original sizes) and their names."""
    names = [n for n in SAMPLE_ORDER if n in _SAMPLES][:count]
    return [sample_image(n) for n in names], names


def _folder_files(folder: str) -> list[str]:
    files = image_files(folder)
    if not files:
        raise ImageReadError(f"folder {folder!r} holds no images ({', '.join(IMAGE_EXTENSIONS)})")
    return files


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
