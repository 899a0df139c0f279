"""Sobol attribution (Fel et al. 2021): total-order Sobol indices of grid cells.

Each of the `grid_size^2` cells of the image is scaled by a random factor
`M_i in [0, 1]` (the pixel becomes `x M + b (1 - M)`, "inpainting" towards the
baseline), and the total-order index of cell i, the share of the score's
variance that involves `M_i`, is estimated with Jansen's estimator on a
quasi-Monte-Carlo design: matrices A and B of `designs` rows and, for each
cell, A with that cell's column taken from B, so `designs * (grid_size^2 + 2)`
forward passes per image. Only `model(x)` is read.

Conventions: as xplique's `SobolAttributionMethod` (grid 8, 32 designs,
masks upsampled nearest, Jansen's estimator), except that the Sobol sequence
is scrambled with `seed` (xplique's is not: its first design row is all
zeros), the variance is that of f(A) with ddof=1, and the map keeps the cells
(nearest upsampling; xplique resizes bicubically). For an additive model over
the cells with independent masks, `S_T,i = a_i^2 / sum_j a_j^2`; indices have
no sign.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import keras
import numpy as np
import tensorflow as tf

from kerasviz._config import max_steps
from kerasviz.attribution.support import (
    check_batch_size,
    check_seed,
    clean_scores,
    fill_images,
    finish,
    prepare,
    stream_scores,
)
from kerasviz.core.errors import InvalidArgumentError
from kerasviz.core.model_inputs import InputSpec
from kerasviz.core.outputs import OutputSpec
from kerasviz.core.results import ArrayResult
from kerasviz.core.targets import Target
from kerasviz.core.validate import check_int


@dataclass(frozen=True)
class SobolResult(ArrayResult):
    """Sobol attribution; behaves as its `maps` array.

    Attributes:
        maps: `(N, H, W)` float32, each pixel painted with its cell's total-order index.
        indices: `(N, grid_size, grid_size)` total-order Sobol indices.
        forward_passes: perturbed images scored per image.
    """

    array_field: ClassVar[str] = "maps"
    maps: np.ndarray
    indices: np.ndarray
    forward_passes: int


def sobol_design(designs: int, cells: int, seed: int) -> np.ndarray:
    """Mask values `(designs * (cells + 2), cells)` in [0, 1]: A, B, then A with column i from B."""
    from scipy.stats import qmc

    points = qmc.Sobol(2 * cells, scramble=True, seed=np.random.default_rng(seed)).random(designs)
    a, b = points[:, :cells], points[:, cells:]
    mixed = np.repeat(a[None], cells, 0)
    mixed[np.arange(cells), :, np.arange(cells)] = b.T
    return np.concatenate([a, b, mixed.reshape(-1, cells)]).astype(np.float32)


def jansen_total_order(scores: np.ndarray, designs: int, cells: int) -> np.ndarray:
    """`S_T,i = mean_j (f(A_j) - f(C^(i)_j))^2 / (2 Var f(A))` from scores ordered as `sobol_design`."""
    f_a = scores[:designs]
    f_c = scores[2 * designs :].reshape(cells, designs)
    variance = f_a.var(ddof=1)
    if variance <= 0:
        return np.zeros(cells)
    return ((f_a[None] - f_c) ** 2).mean(1) / (2 * variance)


def sobol_attribution(
    model: keras.Model,
    images,
    target: Target = None,
    *,
    output: OutputSpec = None,
    input: InputSpec = None,
    grid_size: int = 8,
    designs: int | None = None,
    baseline: float | str | np.ndarray = 0.0,
    seed: int = 0,
    mask_batch_size: int = 64,
    progress: bool = True,
) -> SobolResult:
    """Sobol attribution: how much of the score's variance each grid cell drives.

    Args:
        model: any Keras image model (only its outputs are read; never changed).
        images: `(H, W, C)` or `(N, H, W, C)` in the model's input space.
        target: None (class predicted on the clean image), an int, a list of
            ints (-1: predicted), or a callable `score(outputs) -> (N,)`; logits.
        output: which output of a multi-output model (index or name).
        input: which input of a multi-input model is explained (index or name;
            default the image input); the others, given in `images`, are held fixed.
        grid_size: cells per side.
        designs: quasi-Monte-Carlo design rows, a power of 2 (default 32,
            capped in quick mode when not given); the cost is
            `designs * (grid_size^2 + 2)` forward passes per image.
        baseline: what a cell fades to as its factor goes to 0 (a number,
            "mean", "blur" or an array).
        seed: scrambling seed; the same seed gives the same map.
        mask_batch_size: perturbed images per compiled call.
        progress: show a progress bar.

    Returns:
        `SobolResult` (behaves as the `(N, H, W)` maps).

    Example:
        >>> s = kv.sobol_attribution(model, x, grid_size=8, designs=32); s.indices.shape
    """
    grid_size = check_int(grid_size, "grid_size", minimum=1)
    designs = max_steps(32, quick=8) if designs is None else check_int(designs, "designs", minimum=2)
    if designs & (designs - 1):
        raise InvalidArgumentError(f"`designs` must be a power of 2 (a balanced Sobol design); got {designs}.")
    seed, mask_batch_size = check_seed(seed), check_batch_size(mask_batch_size, "mask_batch_size")
    p = prepare(model, images, target, output, input)
    x, single, targets, out = p
    n, h, w = x.shape[:3]
    if grid_size > min(h, w):
        raise InvalidArgumentError(f"`grid_size` {grid_size} exceeds the image side ({h}x{w}).")
    fill = fill_images(x, baseline)
    if not callable(targets):
        _, targets = clean_scores(model, x, targets, out, side=p.side, input=p.input)
    cells = grid_size * grid_size
    factors = sobol_design(designs, cells, seed)
    rows_of = (np.arange(h) * grid_size) // h
    cols_of = (np.arange(w) * grid_size) // w
    cell_of_pixel = tf.constant((rows_of[:, None] * grid_size + cols_of[None]).astype(np.int32))
    factors_t = tf.constant(factors)
    per_image = len(factors)
    image_ids = np.repeat(np.arange(n), per_image)
    design_ids = np.tile(np.arange(per_image), n)

    def make_rows(rows):
        m = tf.gather(tf.gather(factors_t, design_ids[rows]), cell_of_pixel, axis=1)[..., None]
        ids = image_ids[rows]
        return tf.gather(x, ids) * m + tf.gather(fill, ids) * (1.0 - m)

    scores = (
        stream_scores(
            model,
            make_rows,
            image_ids,
            targets,
            out,
            batch_size=mask_batch_size,
            progress=progress,
            desc="sobol",
            side=p.side,
            input=p.input,
        )
        .reshape(n, per_image)
        .astype(np.float64)
    )
    indices = np.stack([jansen_total_order(s, designs, cells) for s in scores]).reshape(n, grid_size, grid_size)
    maps = indices[:, rows_of][:, :, cols_of]
    if single:
        return SobolResult(finish(maps, True), indices[0].astype(np.float32), per_image)
    return SobolResult(finish(maps, False), indices.astype(np.float32), per_image)
