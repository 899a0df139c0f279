"""Activation atlas (Carter et al., Distill 2019): the space of a layer's activations, drawn.

One activation vector is sampled per image (a random position away from the
border, as in the article; several with `samples_per_image`) into a reservoir
of at most `max_samples` vectors, so memory is bounded whatever the dataset.
The vectors are laid out in 2-D (PCA by default, fast and deterministic; or
t-SNE on the first 50 principal components), the layout is clipped to its
1-99 percentiles and cut into a grid x grid lattice (lucid's `np.digitize`
binning), cells with fewer than `min_count` vectors are dropped, and each
remaining cell's mean activation is rendered by feature visualization with the
`direction` objective (mean over positions of the activation's dot product with
the cell mean) through `kv.render`. Lucid's optional whitening (the cell mean
times the inverse uncentred second moment of the activations) is `whiten=True`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import keras
import numpy as np

from kerasviz._config import progress_bar
from kerasviz.activations import activations
from kerasviz.concepts._common import (
    check_batch_size,
    check_layer,
    check_model,
    check_seed,
    host_threads,
    optional_int,
    rng_for,
)
from kerasviz.concepts.scan import Scan
from kerasviz.core.errors import ArgumentTypeError, InvalidArgumentError
from kerasviz.core.results import ArrayResult
from kerasviz.core.validate import check_choice, check_int
from kerasviz.featurevis import objectives
from kerasviz.featurevis.render import render


@dataclass
class ActivationAtlas(ArrayResult):
    """An activation atlas; behaves as `icons`.

    Attributes:
        icons: `(m, H, W, 3)` one feature visualization per kept cell, RGB in [0, 1].
        cells: `(m, 2)` `(row, col)` of each icon in the grid.
        counts: `(m,)` activation vectors averaged in each cell.
        directions: `(m, C)` the cell means that were rendered (whitened if asked).
        scores / initial_scores: `(m,)` the direction objective on the final
            and on the starting icons.
        samples: `(n, C)` the sampled activation vectors (at most `max_samples`).
        layout: `(n, 2)` `(x, y)` of every sampled vector in [0, 1].
        sample_cells: `(n, 2)` `(row, col)` bin of every sampled vector.
        sample_images: `(n,)` image index of every sampled vector (data order).
        sample_positions: `(n, 2)` its `(row, col)` in the feature map.
        grid: cells per side.
        layer: the layer key; `method`: "pca" or "tsne"; `label`: the weights' label.
    """

    array_field: ClassVar[str] = "icons"
    icons: np.ndarray
    cells: np.ndarray
    counts: np.ndarray
    directions: np.ndarray
    scores: np.ndarray
    initial_scores: np.ndarray
    samples: np.ndarray
    layout: np.ndarray
    sample_cells: np.ndarray
    sample_images: np.ndarray
    sample_positions: np.ndarray
    grid: int
    layer: str
    method: str
    label: str = ""

    @property
    def image(self) -> np.ndarray:
        """The atlas `(grid * H, grid * W, 3)`: icons at their cells, empty cells white."""
        h, w = self.icons.shape[1:3]
        out = np.ones((self.grid * h, self.grid * w, 3), np.float32)
        for icon, (r, c) in zip(self.icons, self.cells):
            out[r * h : (r + 1) * h, c * w : (c + 1) * w] = icon
        return out


class Reservoir:
    """A uniform sample of at most `size` rows from a stream (Vitter's algorithm R, seeded)."""

    def __init__(self, size: int, rng: np.random.Generator):
        self.size, self.rng, self.seen = size, rng, 0
        self.rows: np.ndarray | None = None
        self.tags: np.ndarray | None = None

    def add(self, rows: np.ndarray, tags: np.ndarray) -> None:
        free = max(0, min(self.size - (0 if self.rows is None else len(self.rows)), len(rows)))
        if self.rows is None:
            self.rows, self.tags = rows[:free].copy(), tags[:free].copy()
        elif free:
            self.rows, self.tags = np.concatenate([self.rows, rows[:free]]), np.concatenate([self.tags, tags[:free]])
        rest = np.arange(free, len(rows))
        if len(rest):  # item t (0-based, over the stream) replaces a random slot with probability size / (t + 1)
            slots = self.rng.integers(0, self.seen + rest + 1)
            keep = slots < self.size
            self.rows[slots[keep]] = rows[rest[keep]]
            self.tags[slots[keep]] = tags[rest[keep]]
        self.seen += len(rows)


RENDER_OPTIONS = ("param", "transforms", "regularizers", "lr", "octaves", "octave_scale", "preprocess", "warmup_steps")


def check_render_options(options: dict) -> None:
    unknown = sorted(set(options) - set(RENDER_OPTIONS))
    if unknown:
        raise ArgumentTypeError(
            f"`{unknown[0]}` is not an option here; rendering options are {', '.join(RENDER_OPTIONS)}."
        )


def sample_positions(shape: tuple, n: int, per_image: int, rng: np.random.Generator) -> np.ndarray:
    """`(n * per_image, 2)` random `(row, col)` away from the border (anywhere in maps of 1-2 pixels)."""
    if len(shape) == 1:
        return np.zeros((n * per_image, 2), np.int64)
    h, w = int(shape[0]), int(shape[1])
    lo_r, hi_r = (1, h - 1) if h > 2 else (0, h)
    lo_c, hi_c = (1, w - 1) if w > 2 else (0, w)
    return np.stack([rng.integers(lo_r, hi_r, n * per_image), rng.integers(lo_c, hi_c, n * per_image)], axis=1)


def layout_2d(vectors: np.ndarray, method: str, seed: int) -> np.ndarray:
    """`(n, 2)` PCA or t-SNE coordinates; refuses constant activations (t-SNE would fail on them)."""
    from sklearn.decomposition import PCA

    centred = vectors - vectors.mean(axis=0)
    if float(np.sum(centred**2)) <= 1e-12 * max(float(np.sum(vectors**2)), 1e-30) or len(vectors) < 3:
        raise InvalidArgumentError(
            f"`data`: the {len(vectors)} sampled activation vectors are (nearly) identical, so there is no layout "
            "to draw; use more varied images or another layer."
        )
    if method == "pca":
        coords = PCA(2, random_state=seed).fit_transform(vectors)
        return coords if coords.shape[1] == 2 else np.concatenate([coords, np.zeros((len(coords), 1))], axis=1)
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    reduced = PCA(min(50, len(vectors) - 1, vectors.shape[1]), random_state=seed).fit_transform(vectors)
    keep = reduced.std(axis=0) > 1e-12  # zero-variance features make sklearn's t-SNE crash
    tsne = TSNE(2, perplexity=min(30.0, (len(vectors) - 1) / 3), init="pca", learning_rate="auto", random_state=seed)
    with threadpool_limits(1 if len(vectors) < 5000 else None, user_api="openmp"):
        return tsne.fit_transform(reduced[:, keep])


def bin_layout(coords: np.ndarray, grid: int) -> tuple[np.ndarray, np.ndarray]:
    """Scale to [0, 1] after clipping to the 1-99 percentiles; `(layout, (row, col) per point)`."""
    lo, hi = np.percentile(coords, 1, axis=0), np.percentile(coords, 99, axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    unit = np.clip((coords - lo) / span, 0.0, 1.0)
    cell = np.minimum((unit * grid).astype(np.int64), grid - 1)  # x -> column, y -> row
    return unit, np.stack([cell[:, 1], cell[:, 0]], axis=1)


def activation_atlas(
    model: keras.Model,
    layer,
    data,
    *,
    grid: int | None = None,
    method: str = "pca",
    samples_per_image: int = 1,
    max_samples: int | None = None,
    min_count: int = 3,
    whiten: bool = False,
    steps: int | None = None,
    size=None,
    seed: int = 0,
    batch_size: int = 64,
    icon_batch_size: int = 32,
    progress: bool = True,
    **render_options,
) -> ActivationAtlas:
    """An activation atlas of a layer: cell means of its activations over data, feature-visualised.

    Args:
        model: a Keras image model (never changed).
        layer: a layer with output `(N, h, w, C)` or `(N, C)`.
        data: images `(N, H, W, C)` in the model's input space, a
            `tf.data.Dataset`, or an iterable of batches (read once).
        grid: cells per side (default 8; 4 in quick mode).
        method: "pca" (fast, deterministic) or "tsne" (on 50 principal components).
        samples_per_image: positions sampled per image.
        max_samples: vectors kept (reservoir; default 10000, 2000 in quick mode).
        min_count: cells with fewer vectors are left empty (lucid: 5-10 on
            millions of vectors).
        whiten: render `mean @ inv(A^T A / n)` instead of the mean (lucid's option).
        steps: optimisation steps per icon (default 256, capped in quick mode).
        size: icon size (default as `kv.visualize_filters`).
        seed: seeds the sampling, the layout and the rendering.
        batch_size: images per forward pass while sampling.
        icon_batch_size: icons optimised together per compiled step (bounds memory).
        progress: show progress bars.
        **render_options: passed to `kv.render`: `param`, `transforms`,
            `regularizers`, `lr`, `octaves`, `octave_scale`, `preprocess`,
            `warmup_steps`.

    Returns:
        `ActivationAtlas` with `.icons`, `.cells`, `.counts`, `.image` (the
        assembled atlas) and the sampled `.layout`.

    Example:
        >>> atlas = kv.activation_atlas(net, "relu3", x_test, grid=6, steps=128)
        >>> kv.plot_activation_atlas(atlas)
    """
    check_model(model)
    spec, key, shape = check_layer(model, layer)
    grid = optional_int(grid, "grid", 1, 8, quick=4)
    method = check_choice(method, "method", ("pca", "tsne"))
    per_image = check_int(samples_per_image, "samples_per_image", minimum=1)
    max_samples = optional_int(max_samples, "max_samples", 3, 10000, quick=2000)
    min_count = check_int(min_count, "min_count", minimum=1)
    steps = optional_int(steps, "steps", 1, 256)
    seed, batch_size = check_seed(seed), check_batch_size(batch_size)
    icon_batch_size = check_int(icon_batch_size, "icon_batch_size", minimum=1)
    check_render_options(render_options)
    if not isinstance(whiten, (bool, np.bool_)):
        raise InvalidArgumentError(f"`whiten` must be True or False; got {whiten!r}.")
    scan = Scan(model, data, batch_size)
    reservoir, rng = Reservoir(max_samples, rng_for(seed, 5)), rng_for(seed, 6)
    second = np.zeros((shape[-1], shape[-1]))
    with progress_bar(scan.total_batches(), f"atlas samples {key}", progress) as bar, host_threads():
        for offset, batch, _, _ in scan.batches():
            acts = next(iter(activations(model, batch, [spec], batch_size=batch_size).values()))
            n = len(acts)
            where = sample_positions(shape, n, per_image, rng)
            image = np.repeat(np.arange(n), per_image)
            rows = acts[image, where[:, 0], where[:, 1]] if len(shape) == 3 else acts[image]
            if whiten:
                second += rows.T.astype(np.float64) @ rows
            reservoir.add(rows, np.concatenate([(offset + image)[:, None], where], axis=1))
            bar.update(1)
        vectors, tags = reservoir.rows.astype(np.float64), reservoir.tags
        unit, sample_cells = bin_layout(layout_2d(vectors, method, seed), grid)
        flat = sample_cells[:, 0] * grid + sample_cells[:, 1]
        counts = np.bincount(flat, minlength=grid * grid)
        kept = np.flatnonzero(counts >= min_count)
        if not len(kept):
            raise InvalidArgumentError(
                f"`min_count`: no cell of the {grid}x{grid} grid has {min_count} or more of the "
                f"{len(vectors)} sampled vectors; lower `min_count` or `grid`, or give more data."
            )
        sums = np.zeros((grid * grid, vectors.shape[1]))
        np.add.at(sums, flat, vectors)
        directions = sums[kept] / counts[kept, None]
        if whiten:
            inverse = np.linalg.pinv(second / max(reservoir.seen, 1), hermitian=True)
            directions = directions @ inverse
    result = render(
        model,
        objectives.direction(spec, directions.astype(np.float32)),
        np.arange(len(kept)),
        steps=steps,
        size=size,
        seed=seed,
        progress=progress,
        layer_name=key,
        batch_size=icon_batch_size,
        **render_options,
    )
    return ActivationAtlas(
        icons=result.images,
        cells=np.stack(np.divmod(kept, grid), axis=1),
        counts=counts[kept],
        directions=directions.astype(np.float32),
        scores=result.scores,
        initial_scores=result.initial_scores,
        samples=vectors.astype(np.float32),
        layout=unit.astype(np.float32),
        sample_cells=sample_cells,
        sample_images=tags[:, 0],
        sample_positions=tags[:, 1:],
        grid=grid,
        layer=key,
        method=method,
        label=result.label,
    )
