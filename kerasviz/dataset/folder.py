"""A small image set for the dataset views: a folder of the user's photos, or the offline samples."""

from __future__ import annotations

import os

import numpy as np

from kerasviz.imagefiles import IMAGE_EXTENSIONS, image_files, read_photo
from kerasviz.photos import SAMPLE_PHOTOS, fit_image, sample_image


def _sample_views(size: int) -> tuple[np.ndarray, list[str]]:
    """Each offline sample photo as 4 views: centre, two off-centre crops and a mirror."""
    images, names = [], []
    for name in sorted(SAMPLE_PHOTOS):
        big = sample_image(name, size=2 * size)
        views = {
            "": big,
            "-top-left": big[: 3 * size // 2, : 3 * size // 2],
            "-bottom-right": big[size // 2 :, size // 2 :],
            "-mirror": big[:, ::-1],
        }
        for suffix, view in views.items():
            images.append(fit_image(view, size))
            names.append(name + suffix)
    return np.stack(images), names


def load_image_folder(
    path: str | None = None, size: int = 224, limit: int | None = 200
) -> tuple[np.ndarray, list[str]]:
    """RGB uint8 images `(N, size, size, 3)` from a folder, centre-cropped to squares.

    Args:
        path: a folder of .jpg / .png / ... photos (searched recursively, sorted
            by path). None: the 7 offline scikit-image sample photos, 4 views
            each (centre, two crops, mirror), 28 images.
        size: side of the square images.
        limit: at most this many images (None: all).

    Returns:
        `(images, names)`: uint8 `(N, size, size, 3)` and the file names.

    Raises:
        FileNotFoundError: `path` does not exist or holds no image file.
        ImageReadError: a file cannot be decoded (the message names it).

    Example:
        >>> photos, names = kv.load_image_folder(size=128)
        >>> photos.shape
        (28, 128, 128, 3)
    """
    from kerasviz.core.validate import check_int

    size = check_int(size, "size", minimum=1)
    limit = check_int(limit, "limit", minimum=1, allow_none=True)
    if path is None:
        images, names = _sample_views(size)
        return images[:limit], names[:limit]
    if not os.path.isdir(path):
        raise FileNotFoundError(f"Image folder {path!r} does not exist.")
    files = image_files(path)[:limit]
    if not files:
        raise FileNotFoundError(f"No images ({', '.join(IMAGE_EXTENSIONS)}) in folder {path!r}.")
    images = np.stack([fit_image(read_photo(file), size) for file in files])
    return images, [os.path.relpath(file, path) for file in files]
