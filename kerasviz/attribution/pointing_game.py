"""The pointing game (Zhang et al. 2018): does the map's maximum fall on the object?

Model-free: it compares maps with ground-truth masks or boxes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from kerasviz.core.errors import ArgumentTypeError, InvalidArgumentError
from kerasviz.core.results import ArrayResult
from kerasviz.core.validate import check_number


@dataclass(frozen=True)
class PointingGame(ArrayResult):
    """Pointing-game outcome; behaves as the per-image `hits`.

    Attributes:
        hits: `(N,)` bool: the map's maximum is on (or within `tolerance` of) the object.
        points: `(N, 2)` int (row, column) of each map's maximum.
        accuracy: mean of per-class hit rates (pooled over images without `classes`).
        per_class: `{class: hit rate}` (empty without `classes`).
        tolerance: the distance used, in pixels.
    """

    array_field: ClassVar[str] = "hits"
    hits: np.ndarray
    points: np.ndarray
    accuracy: float
    per_class: dict
    tolerance: float


def _ground_truth_masks(ground_truth, n: int, h: int, w: int) -> np.ndarray:
    if isinstance(ground_truth, np.ndarray) and ground_truth.dtype != object and ground_truth.ndim in (2, 3):
        masks = ground_truth.reshape((1,) + ground_truth.shape) if ground_truth.ndim == 2 else ground_truth
        if masks.shape != (n, h, w):
            raise InvalidArgumentError(
                f"`ground_truth` masks have shape {ground_truth.shape}; expected ({n}, {h}, {w})."
            )
        return masks.astype(bool)
    if not isinstance(ground_truth, (list, tuple)) or len(ground_truth) != n:
        raise ArgumentTypeError(
            f"`ground_truth` must be boolean masks (N, H, W) or, per image, a list of boxes (x0, y0, x1, y1); "
            f"got {type(ground_truth).__name__} for {n} image(s)."
        )
    masks = np.zeros((n, h, w), bool)
    for i, boxes in enumerate(ground_truth):
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4) if len(np.shape(boxes)) else np.zeros((0, 4))
        for x0, y0, x1, y1 in boxes:
            if not (0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h):
                raise InvalidArgumentError(
                    f"`ground_truth` box {(x0, y0, x1, y1)} of image {i} is empty or outside {w}x{h}."
                )
            masks[i, int(y0) : int(np.ceil(y1)), int(x0) : int(np.ceil(x1))] = True
    return masks


def pointing_game(maps, ground_truth, *, tolerance: float | None = None, classes=None) -> PointingGame:
    """The pointing game (Zhang et al. 2018): a hit if the map's maximum falls on the object.

    As TorchRay's benchmark: a hit when some ground-truth pixel is at a
    distance strictly below `tolerance` from the maximum (or the maximum is
    inside); accuracy is the mean over classes of their hit rates.

    Args:
        maps: `(N, H, W)` (or `(H, W)`) maps; ties go to the first maximum in raster order.
        ground_truth: boolean masks `(N, H, W)`, or per image a list of boxes
            `(x0, y0, x1, y1)` in pixels (x1, y1 exclusive).
        tolerance: pixels; default 15 at 224 px, scaled with the image side.
        classes: optional `(N,)` class labels for the per-class mean.

    Returns:
        `PointingGame` (behaves as the per-image hits).

    Example:
        >>> kv.pointing_game(kv.grad_cam(model, x), boxes, classes=labels).accuracy
    """
    from scipy.ndimage import distance_transform_edt

    array = np.asarray(maps, np.float64) if not isinstance(maps, ArrayResult) else np.asarray(maps.array, np.float64)
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3 or not np.isfinite(array).all():
        raise InvalidArgumentError(f"`maps` must be finite maps (N, H, W); got shape {np.shape(maps)}.")
    n, h, w = array.shape
    tolerance = 15.0 * max(h, w) / 224 if tolerance is None else check_number(tolerance, "tolerance", minimum=0.0)
    masks = _ground_truth_masks(ground_truth, n, h, w)
    empty = ~masks.reshape(n, -1).any(1)
    if empty.any():
        raise InvalidArgumentError(f"`ground_truth` is empty for image(s) {np.flatnonzero(empty).tolist()}.")
    flat = array.reshape(n, -1).argmax(1)
    points = np.stack([flat // w, flat % w], 1)
    hits = np.array(
        [masks[i, r, c] or distance_transform_edt(~masks[i])[r, c] < tolerance for i, (r, c) in enumerate(points)]
    )
    per_class = {}
    if classes is not None:
        classes = np.asarray(classes)
        if classes.shape != (n,):
            raise InvalidArgumentError(f"`classes` has shape {classes.shape}; expected ({n},), one label per map.")
        per_class = {c.item(): float(hits[classes == c].mean()) for c in np.unique(classes)}
    accuracy = float(np.mean(list(per_class.values()))) if per_class else float(hits.mean())
    return PointingGame(hits, points, accuracy, per_class, float(tolerance))
