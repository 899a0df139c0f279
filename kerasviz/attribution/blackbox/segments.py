"""Superpixels: the features LIME and KernelSHAP switch on and off.

`superpixels` runs SLIC (Achanta et al. 2012, scikit-image) on each image,
rescaled to [0, 1] first so that it works in any input space (caffe-centred
VGG inputs included). `segment_maps` checks a user's label maps and numbers
each image's segments 0..M-1.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from kerasviz.core.errors import ArgumentTypeError, InvalidArgumentError
from kerasviz.core.validate import check_int, check_number


def superpixels(images, *, n_segments: int = 50, compactness: float | None = None, sigma: float = 1.0) -> np.ndarray:
    """SLIC superpixels of each image, `(N, H, W)` int32 labels 0..M-1 (`(H, W)` for one image).

    Args:
        images: `(H, W, C)` or `(N, H, W, C)`, any value range (each image is
            min-max scaled to [0, 1] for the segmentation only).
        n_segments: approximate number of segments.
        compactness: SLIC's colour / space balance; default 10 for 3-channel
            images (segmented in CIELAB), 0.1 otherwise.
        sigma: Gaussian smoothing before segmentation (pixels).

    Returns:
        int32 labels `(N, H, W)`, 0..M-1 per image (`(H, W)` for one image).

    Example:
        >>> labels = kv.superpixels(kv.sample_image(size=224), n_segments=50)
    """
    from skimage.segmentation import slic

    n_segments = check_int(n_segments, "n_segments", minimum=1)
    sigma = check_number(sigma, "sigma", minimum=0.0)
    compactness = check_number(compactness, "compactness", minimum=0.0, strict_minimum=True, allow_none=True)
    from kerasviz.core.arguments import check_array

    array = np.asarray(check_array(images, "images"), np.float64)
    single = array.ndim == 3
    if array.ndim not in (3, 4):
        raise InvalidArgumentError(f"`images` must be (H, W, C) or (N, H, W, C); got shape {array.shape}.")
    batch = array[None] if single else array
    labels = []
    for image in batch:
        span = image.max() - image.min()
        unit = (image - image.min()) / span if span > 0 else np.zeros_like(image)
        colour = unit.shape[-1] == 3
        found = slic(
            unit,
            n_segments=n_segments,
            compactness=compactness if compactness is not None else (10.0 if colour else 0.1),
            sigma=sigma,
            channel_axis=-1,
            convert2lab=colour,
            start_label=0,
        )
        labels.append(np.unique(found, return_inverse=True)[1].reshape(found.shape).astype(np.int32))
    labels = np.stack(labels)
    return labels[0] if single else labels


SegmentSpec = np.ndarray | Callable | None


def segment_maps(segments: SegmentSpec, x: np.ndarray, *, n_segments: int = 50) -> np.ndarray:
    """The label map of each image `(N, H, W)`, numbered 0..M-1 per image.

    Args:
        segments: None (SLIC with `n_segments`), an int label map `(H, W)`
            (shared by every image) or `(N, H, W)`, or a callable
            `image (H, W, C) -> labels (H, W)`.
        x: the images `(N, H, W, C)`.
    """
    n, h, w = x.shape[:3]
    if segments is None:
        return superpixels(x, n_segments=n_segments).reshape(n, h, w)
    if callable(segments):
        maps = np.stack([np.asarray(segments(image)) for image in x])
    else:
        maps = np.asarray(segments)
    if maps.dtype == np.bool_ or not np.issubdtype(maps.dtype, np.integer):
        raise ArgumentTypeError(
            f"`segments` must be an integer label map (H, W) or (N, H, W), or a callable returning one; "
            f"got dtype {maps.dtype}."
        )
    if maps.shape == (h, w):
        maps = np.broadcast_to(maps, (n, h, w))
    if maps.shape != (n, h, w):
        raise InvalidArgumentError(f"`segments` has shape {maps.shape}; expected ({h}, {w}) or ({n}, {h}, {w}).")
    return np.stack([np.unique(m, return_inverse=True)[1].reshape(h, w) for m in maps]).astype(np.int32)
