"""Reading image files: one photo, many files and folders, with messages that say what is wrong.

Pillow decodes the file (JPEG, PNG, BMP, GIF, TIFF, WebP; grey, palette,
16-bit and alpha images become uint8 RGB). A file that is not an image is
named with what it is instead (empty, text, an unknown format). Large photos
are shrunk while they are decoded: JPEG decodes at 1/2, 1/4 or 1/8 scale
(Pillow's `draft`) and other formats are box-reduced right after decoding, as
long as the shorter side stays at least `min_side` pixels, so an
8000 x 8000 photo costs well under a second. No TensorFlow here.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from kerasviz.core.errors import ImageReadError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")
MIN_SIDE = 1024  # photos are shrunk while decoding only down to this shorter side


def image_files(folder: str) -> list[str]:
    """The image files under `folder` (searched recursively, sorted by path)."""
    return sorted(
        os.path.join(root, f) for root, _, fs in os.walk(folder) for f in fs if f.lower().endswith(IMAGE_EXTENSIONS)
    )


def one_line(err: BaseException, limit: int = 300) -> str:
    """An exception's message on one line, at most `limit` characters."""
    return " ".join(str(err).split())[:limit]


def describe_non_image(path: str) -> str:
    """What a file that no decoder recognises holds: empty, text, or which leading bytes."""
    with open(path, "rb") as file:
        head = file.read(64)
    if not head:
        return "the file is empty (0 bytes)"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and all(c.isprintable() or c in "\r\n\t" for c in text):
        return f"it is a text file, not an image (it starts with {' '.join(text.split())[:40]!r})"
    return f"it is not in an image format Pillow can decode (it starts with bytes {head[:8].hex(' ')})"


def _open(path: str):
    """`PIL.Image` opened lazily (header read, pixels not decoded), or ImageReadError."""
    from PIL import Image, UnidentifiedImageError

    if not os.path.exists(path):
        raise ImageReadError(f"image file {path!r} does not exist")
    if os.path.isdir(path):
        raise ImageReadError(f"image path {path!r} is a folder, not an image file")
    if os.path.getsize(path) == 0:
        raise ImageReadError(f"cannot read image {path!r}: the file is empty (0 bytes)")
    try:
        return Image.open(path)
    except UnidentifiedImageError:
        raise ImageReadError(f"cannot read image {path!r}: {describe_non_image(path)}") from None
    except OSError as err:
        raise ImageReadError(f"cannot read image {path!r}: {type(err).__name__}: {one_line(err)}") from None


def check_image_file(path: str) -> tuple[str, tuple[int, int]]:
    """Check that `path` is an image file without decoding its pixels (fast).

    Returns:
        `(format, (width, height))`, e.g. `("JPEG", (8000, 6000))`.

    Raises:
        ImageReadError: missing, a folder, empty, or not an image (the message says which).
    """
    with _open(path) as image:
        return str(image.format), tuple(image.size)


def _reduction(size: tuple[int, int], min_side: int | None) -> int:
    """The integer shrink factor that keeps the shorter side >= `min_side` (1: none)."""
    if not min_side:
        return 1
    return max(1, min(size) // int(min_side))


def _decoded(image, min_side: int | None):
    """Decode a lazily opened `PIL.Image`, shrunk on the way when it is large."""
    factor = _reduction(image.size, min_side)
    if factor >= 2 and image.format == "JPEG":
        w, h = image.size
        image.draft("RGB" if image.mode not in ("L",) else "L", (w // factor, h // factor))
    image.load()
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif image.mode in ("1", "CMYK", "YCbCr", "LAB", "HSV"):
        image = image.convert("L" if image.mode == "1" else "RGB")
    factor = _reduction(image.size, min_side)
    if factor >= 2:
        try:
            image = image.reduce(factor)
        except (ValueError, NotImplementedError):  # modes Pillow cannot reduce (e.g. 16-bit): shrink in NumPy below
            pass
    array = np.asarray(image)
    factor = _reduction(array.shape[1::-1], min_side)
    if factor >= 2:
        h, w = (array.shape[0] // factor) * factor, (array.shape[1] // factor) * factor
        array = array[:h, :w].reshape(h // factor, factor, w // factor, factor, *array.shape[2:]).mean(axis=(1, 3))
        array = array.astype(np.asarray(image).dtype)
    return array


def to_uint8(image: np.ndarray) -> np.ndarray:
    """16-bit, 32-bit, boolean or float pictures -> uint8 (floats in [0, 1] or 0-255)."""
    x = image.astype(np.float64)
    if image.dtype.kind in "iu":
        top = float(np.iinfo(image.dtype).max)
        if image.dtype.itemsize > 2 and x.size and x.max() <= 65535:  # Pillow's 32-bit "I" mode holding 16-bit data
            top = 65535.0
        x = x * 255.0 / top
    elif image.dtype.kind == "b" or x.max() <= 1.0:
        x = x * 255.0
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def read_photo(path: str, min_side: int | None = MIN_SIDE) -> np.ndarray:
    """One image file as uint8 `(H, W, 3)` RGB (grey repeated, alpha dropped, first frame).

    Args:
        path: an image file.
        min_side: shrink large photos while decoding, by an integer factor,
            as long as the shorter side stays at least this many pixels
            (None: full size).

    Returns:
        uint8 `(H, W, 3)`.

    Raises:
        ImageReadError: the file is missing, empty, not an image, or its data
            is corrupt (the message names the file and says which).

    Example:
        >>> photo = kv.imagefiles.read_photo("cat.jpg")
    """
    with _open(path) as image:
        try:
            array = _decoded(image, min_side)
        except (OSError, ValueError, SyntaxError) as err:  # truncated or corrupt pixel data
            raise ImageReadError(
                f"cannot read image {path!r}: its image data is damaged or truncated "
                f"({type(err).__name__}: {one_line(err)})"
            ) from None
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[-1] not in (1, 2, 3, 4) or min(array.shape[:2]) < 1:
        raise ImageReadError(f"image {path!r} has shape {array.shape}; expected a 2-D grey or colour picture")
    if array.dtype != np.uint8:
        array = to_uint8(array)
    colour = array[..., :3] if array.shape[-1] >= 3 else array[..., :1]
    return np.repeat(colour, 3, axis=-1) if colour.shape[-1] == 1 else np.ascontiguousarray(colour)


def _folder_files(folder: str) -> list[str]:
    files = image_files(folder)
    if not files:
        raise ImageReadError(f"folder {folder!r} holds no images ({', '.join(IMAGE_EXTENSIONS)})")
    return files


def photo_files(paths: Sequence[str], limit: int | None = None) -> list[tuple[str, str]]:
    """Image files and folders (searched recursively, sorted) -> `[(file, display name)]`, at most `limit`.

    Raises:
        ImageReadError: a path does not exist or a folder holds no image.
    """
    files: list[tuple[str, str]] = []
    for path in paths:
        if os.path.isdir(path):
            files += [(f, os.path.relpath(f, path)) for f in _folder_files(path)]
        elif os.path.exists(path):
            files.append((path, os.path.basename(path)))
        else:
            raise ImageReadError(f"no such image file or folder: {path!r}")
    return files[:limit]


def read_photos(
    paths: Sequence[str], limit: int | None = None, min_side: int | None = MIN_SIDE
) -> tuple[list[np.ndarray], list[str]]:
    """Image files and folders (searched recursively, sorted) -> uint8 RGB photos and names.

    Args:
        paths: files and/or folders.
        limit: keep at most this many images.
        min_side: as in `read_photo`.

    Returns:
        `(photos, names)`: uint8 `(H, W, 3)` arrays (sizes differ) and the file
        names (relative to their folder).

    Raises:
        ImageReadError: a path does not exist, a folder holds no image, or a
            file cannot be decoded (the message names it).
    """
    files = photo_files(paths, limit)
    return [read_photo(f, min_side) for f, _ in files], [name for _, name in files]
