"""Offline sample photos (from scikit-image) and fitting a photo to a model's input size.

No download and no TensorFlow: `sample_image("cat")` is scikit-image's
Chelsea, and `fit_image` centre-crops and resizes any uint8 photo.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kerasviz.core.errors import InvalidArgumentError

# kerasviz name -> scikit-image `skimage.data` function
SAMPLE_PHOTOS = {
    "cat": "chelsea",
    "coffee": "coffee",
    "astronaut": "astronaut",
    "rocket": "rocket",
    "motorcycle": "stereo_motorcycle",
    "retina": "retina",
    "coins": "coins",
}
SAMPLE_ORDER = ("cat", "coffee", "astronaut", "rocket", "motorcycle", "coins", "retina")  # reports take the first few
LARGE_SIDE = 1024  # above this a photo is box-averaged before the anti-aliased resize (which scales with pixels)


def sample_image(name: str = "cat", size: int | tuple | None = None) -> np.ndarray:
    """An offline sample photo from scikit-image, uint8 RGB `(H, W, 3)`.

    Args:
        name: one of "cat" (Chelsea), "coffee", "astronaut", "rocket",
            "motorcycle", "retina", "coins".
        size: None (original), an int (centre-cropped square of that side) or
            `(H, W)` (centre crop to that aspect, then resize).

    Returns:
        uint8 `(H, W, 3)`; grey photos are repeated over 3 channels.

    Raises:
        InvalidArgumentError: an unknown name.

    Example:
        >>> kv.sample_image("cat", size=224).shape
        (224, 224, 3)
    """
    import skimage.data

    if name not in SAMPLE_PHOTOS:
        raise InvalidArgumentError(f"Unknown sample image {name!r} for `name`; choose from {sorted(SAMPLE_PHOTOS)}.")
    if size is not None:
        _check_size(size)
    image = getattr(skimage.data, SAMPLE_PHOTOS[name])()
    if isinstance(image, tuple):  # stereo pairs
        image = image[0]
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    image = image[..., :3]
    return image if size is None else fit_image(image, size)


def sample_photos(count: int | None = None) -> tuple[list[np.ndarray], list[str]]:
    """The first `count` sample photos in `SAMPLE_ORDER` (uint8 RGB, original sizes) and their names."""
    names = list(SAMPLE_ORDER[:count])
    return [sample_image(n) for n in names], names


def _box_reduce(image: np.ndarray, factor: int) -> np.ndarray:
    """Average `factor` x `factor` blocks (the edge remainder is dropped)."""
    h, w = (image.shape[0] // factor) * factor, (image.shape[1] // factor) * factor
    if image.dtype == np.uint8 and (image.ndim == 2 or image.shape[-1] in (1, 3, 4)):
        from PIL import Image

        squeezed = image[:h, :w, 0] if image.ndim == 3 and image.shape[-1] == 1 else image[:h, :w]
        reduced = np.asarray(Image.fromarray(np.ascontiguousarray(squeezed)).reduce(factor))
        return reduced.reshape(reduced.shape[:2] + image.shape[2:])
    blocks = image[:h, :w].reshape(h // factor, factor, w // factor, factor, *image.shape[2:])
    return blocks.mean(axis=(1, 3), dtype=np.float32)


def _check_size(size) -> None:
    """`size`: an int side or `(height, width)`, each >= 1."""
    from kerasviz.core.errors import ArgumentTypeError
    from kerasviz.core.validate import check_int

    if isinstance(size, (tuple, list)):
        if len(size) != 2:
            raise ArgumentTypeError(f"`size` must be an int or (height, width); got {size!r}.")
        for side in size:
            check_int(side, "size", minimum=1)
    else:
        check_int(size, "size", minimum=1)


def fit_image(image: np.ndarray, size: int | tuple) -> np.ndarray:
    """Centre-crop a uint8 photo `(H, W[, C])` to the aspect of `size`, then resize to it.

    Photos whose crop is larger than `LARGE_SIDE` are first box-averaged by
    an integer factor that keeps at least 4x the target size, so an
    8000 x 8000 photo takes a fraction of a second instead of minutes.

    Args:
        image: uint8 photo (any size).
        size: an int (square side) or `(height, width)`.

    Returns:
        uint8 `(height, width[, C])`.
    """
    import skimage.transform

    th, tw = (size, size) if isinstance(size, (int, np.integer)) else size
    h, w = image.shape[:2]
    scale = min(h / th, w / tw)
    ch, cw = int(round(th * scale)), int(round(tw * scale))
    top, left = (h - ch) // 2, (w - cw) // 2
    crop = image[top : top + ch, left : left + cw]
    factor = int(scale // 4)
    if min(ch, cw) > LARGE_SIDE and factor >= 2:
        crop = _box_reduce(crop, factor)
    resized = skimage.transform.resize(crop, (th, tw), order=1, anti_aliasing=True, preserve_range=True)
    return np.clip(np.round(resized), 0, 255).astype(np.uint8)


def fit_photos(photos: Sequence[np.ndarray], size: tuple[int, int]) -> np.ndarray:
    """Centre-crop and resize uint8 RGB photos to `size` (H, W): `(N, H, W, 3)` uint8."""
    return np.stack([fit_image(np.asarray(p, np.uint8), size) for p in photos])
