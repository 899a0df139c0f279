"""t-SNE of CNN codes laid out on a grid (Karpathy's CNN embedding).

CNN codes (a layer's activations, flattened, L2-normalised) -> PCA to ~50
dimensions -> scikit-learn's Barnes-Hut t-SNE to 2-D -> a *bijective*
assignment of the points to a grid (scipy's `linear_sum_assignment` on squared
distances; nearest-cell snapping would stack most images on a few cells) -> a
mosaic. The t-SNE trustworthiness (how many 2-D neighbours were true
neighbours) is reported next to that of a random layout.

The codes are checked before t-SNE sees them: scikit-learn's Barnes-Hut
t-SNE can crash the interpreter on identical points (duplicate images, a dead
layer), so identical codes are embedded once and share their point, and fewer
than 5 distinct codes is an error. Codes are computed in float32 even for a
mixed-precision model (small codes underflow to zero in float16).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from kerasviz._config import max_steps, progress_bar
from kerasviz.core import mosaic as core_mosaic
from kerasviz.core.errors import ArgumentTypeError, InvalidArgumentError
from kerasviz.core.gradients import compile_function
from kerasviz.core.graph import cache
from kerasviz.core.inputs import as_numeric_array
from kerasviz.core.layers import LayerSpec
from kerasviz.core.validate import check_int, check_positive
from kerasviz.dataset.arguments import check_model, dataset_view, resolve_layer
from kerasviz.dataset.features import cache_key, taps
from kerasviz.dataset.streaming import data_source

MIN_DISTINCT = 5
MOSAIC_SIDE = 2048  # default cap on the mosaic's longer side, in pixels


@dataclass
class EmbeddingGrid:
    """A t-SNE embedding of CNN codes and its grid layout.

    Attributes:
        layer: the layer key.
        embedding: `(N, 2)` t-SNE coordinates (x, y).
        cells: `(N, 2)` `(row, col)` grid cell of every image (all distinct).
        shape: `(rows, cols)` of the grid.
        mosaic: `(rows * h, cols * w, C)` float image in [0, 1] (empty cells white).
        trustworthiness: sklearn's trustworthiness of `embedding` (n_neighbors=5).
        random_trustworthiness: the same for a random 2-D layout (the chance level).
    """

    layer: str
    embedding: np.ndarray
    cells: np.ndarray
    shape: tuple
    mosaic: np.ndarray
    trustworthiness: float
    random_trustworthiness: float


def grid_shape(n: int) -> tuple:
    """`(rows, cols)` of the smallest near-square grid with at least `n` cells (`kerasviz.core.mosaic`)."""
    return core_mosaic.grid_shape(n)


def grid_assignment(points: np.ndarray, shape: tuple | None = None) -> np.ndarray:
    """Assign 2-D points to distinct grid cells, minimising the total squared distance.

    Each axis of `points` is scaled to [0, 1] and compared with the cell
    centres on [0, 1]^2 (x -> column, y -> row); scipy's modified
    Jonker-Volgenant solver gives the optimal bijection.

    Args:
        points: `(N, 2)` coordinates (x, y).
        shape: `(rows, cols)` with rows * cols >= N; default `grid_shape(N)`.

    Returns:
        `(N, 2)` int `(row, col)` per point, all distinct.

    Example:
        >>> grid_assignment(np.array([[0., 0.], [1., 1.], [1., 0.], [0., 1.]]))
        array([[0, 0], [1, 1], [0, 1], [1, 0]])
    """
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial.distance import cdist

    points = np.asarray(points, np.float64)
    if points.ndim != 2 or points.shape[1] != 2 or not np.isfinite(points).all():
        raise InvalidArgumentError(f"`points` must be finite (N, 2) coordinates; got shape {points.shape}.")
    rows, cols = _check_shape(shape, len(points)) if shape is not None else grid_shape(len(points))
    span = points.max(0) - points.min(0)
    unit = (points - points.min(0)) / np.where(span > 0, span, 1.0)
    r, c = np.divmod(np.arange(rows * cols), cols)
    centres = np.stack([c / max(cols - 1, 1), r / max(rows - 1, 1)], axis=1)
    _, cell = linear_sum_assignment(cdist(unit, centres, "sqeuclidean"))
    return np.stack(np.divmod(cell, cols), axis=1)


def _check_shape(shape, n: int) -> tuple:
    if not isinstance(shape, (tuple, list)) or len(shape) != 2:
        raise ArgumentTypeError(f"`shape` must be (rows, cols); got {shape!r}.")
    rows, cols = (check_int(v, "shape", minimum=1) for v in shape)
    if rows * cols < n:
        raise InvalidArgumentError(f"`shape` {rows}x{cols} has fewer cells than the {n} images.")
    return rows, cols


def _resize(tile: np.ndarray, size: tuple) -> np.ndarray:
    if tile.shape[:2] == size:
        return tile
    return tf.image.resize(tile[None], size, method="area")[0].numpy()


def mosaic(images, cells: np.ndarray, shape: tuple, tile_size: int | None = None) -> np.ndarray:
    """Tile `images` `(N, h, w[, C])` (uint8 or float) into a grid at `cells`; float [0, 1], empty = white.

    Args:
        images: an array or a sequence of equally shaped images.
        cells: `(N, 2)` `(row, col)` per image.
        shape: `(rows, cols)`.
        tile_size: longer side of a tile in pixels; default the images' own,
            capped so that the mosaic's longer side stays within 2048 px.
    """
    first = np.asarray(images[0])
    h, w = first.shape[:2]
    rows, cols = shape
    if tile_size is None:
        tile_size = min(max(h, w), max(1, MOSAIC_SIDE // max(rows, cols)))
    scale = tile_size / max(h, w)
    th, tw = max(1, round(h * scale)), max(1, round(w * scale))
    uint8 = first.dtype == np.uint8
    tiles = []
    for image in images:  # one image at a time: only the small tiles are kept
        tile = np.asarray(image, np.float32)
        tile = tile[..., None] if tile.ndim == 2 else tile
        tiles.append(_resize(tile, (th, tw)))
    tiles = np.stack(tiles)
    if uint8:
        tiles = tiles / 255.0
    else:  # one min-max scale for all images keeps their relative brightness
        lo, hi = float(tiles.min()), float(tiles.max())
        tiles = (tiles - lo) / (hi - lo if hi > lo else 1.0)
    out = core_mosaic.mosaic(tiles, pad=0, fill=1.0, cells=np.asarray(cells), shape=(rows, cols))[0].astype(np.float32)
    return np.clip(out, 0.0, 1.0)


class _SourceImages:
    """The images of an indexable source as a lazy sequence (read one at a time by `mosaic`)."""

    def __init__(self, source, n: int):
        self.source, self.n = source, n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> np.ndarray:
        if not 0 <= index < self.n:
            raise IndexError(index)
        return self.source.image(index)


def _codes_step(model, layer):
    """Compiled `x -> (B, D)` float32 flattened codes of `layer`, computed in float32 (cached)."""

    def build():
        fx = taps(model, [layer], float32=True)
        key = next(iter(fx.output))

        def codes(x):
            a = tf.cast(fx(x, training=False)[key], tf.float32)
            return tf.reshape(a, (tf.shape(a)[0], -1))

        return key, compile_function(codes)

    return cache.get(model, ("embedding_codes", cache_key(layer)), build)


def _check_display(display, n: int) -> None:
    shape = np.shape(display[0]) if isinstance(display, (list, tuple)) and display else np.shape(display)[1:]
    count = len(display) if isinstance(display, (list, tuple)) else (np.shape(display)[0] if np.ndim(display) else 0)
    if count != n:
        raise InvalidArgumentError(f"`display` has {count} images for {n} data images; give one per image.")
    if len(shape) not in (2, 3) or (len(shape) == 3 and shape[-1] not in (1, 3, 4)):
        raise InvalidArgumentError(f"`display` images must be (h, w) or (h, w, C) with C in 1, 3, 4; got {shape}.")
    as_numeric_array(display, "display")  # numbers, finite (the one array check)


def _distinct(codes: np.ndarray, layer: str) -> tuple:
    """`(unique codes, inverse index)`; an error when t-SNE would get fewer than 5 distinct points."""
    unique, inverse = np.unique(codes.astype(np.float32), axis=0, return_inverse=True)
    if len(unique) < MIN_DISTINCT:
        raise InvalidArgumentError(
            f"`data`: the {len(codes)} images have only {len(unique)} distinct code(s) in layer {layer!r} "
            f"(duplicate images, or a layer that is dead or constant on them); a t-SNE map needs at least "
            f"{MIN_DISTINCT} different codes."
        )
    if len(unique) < len(codes):
        warnings.warn(
            f"{len(codes) - len(unique)} of {len(codes)} images have the same code in {layer!r} as another one; "
            "identical codes are embedded once and share their point.",
            stacklevel=3,
        )
    return unique.astype(np.float64), np.asarray(inverse).reshape(-1)


@dataset_view(aliases={"images": "data"})
def embedding_grid(
    model: keras.Model,
    layer: LayerSpec,
    data=None,
    *,
    display=None,
    shape: tuple | None = None,
    pca_dims: int = 50,
    perplexity: float = 30.0,
    max_iter: int | None = None,
    seed: int = 0,
    batch_size: int = 64,
    tile_size: int | None = None,
    progress: bool = True,
) -> EmbeddingGrid:
    """t-SNE of a layer's codes for `data`, assigned one-to-one to a grid, as a mosaic.

    Args:
        model: a Keras image model; never changed.
        layer: the code layer (e.g. LeNet's "relu3", VGG16's "fc2"); maps are flattened.
        data: images `(N, H, W, C)` in the model's input space, an `(images,
            labels)` tuple, a list of batches, a dataset or a generator (N from
            ~50 to a few thousand; the N codes are kept on the host).
        display: `(N, h, w[, C])` images to tile (e.g. the raw uint8 photos),
            one per data image; default the data images rescaled to [0, 1].
        shape: `(rows, cols)` of the grid; default the smallest near-square one.
        pca_dims: PCA dimensions before t-SNE (scikit-learn's advice: ~50).
        perplexity: t-SNE perplexity (capped below a third of the distinct codes).
        max_iter: t-SNE iterations, >= 250 (default 1000; 500 in quick mode).
        seed: random state of PCA / t-SNE / the random baseline.
        batch_size: images per forward pass.
        tile_size: longer side of a mosaic tile in pixels (default: the
            images' own, capped so the mosaic stays within 2048 px).
        progress: show a progress bar while computing the codes.

    Returns:
        `EmbeddingGrid` with `.embedding` `(N, 2)`, `.cells` `(N, 2)`, `.mosaic`,
        `.trustworthiness` and `.random_trustworthiness`.

    Raises:
        KerasvizError: a bad setting, `layer` or `data`; `display` not one image
            per data image; fewer than 5 distinct codes (duplicate images, a dead
            layer); codes with NaN/Inf.

    Example:
        >>> grid = kv.embedding_grid(net, "relu3", x_test[:400], display=raw[:400])
        >>> grid.mosaic.shape, round(grid.trustworthiness, 2)
        ((560, 560, 1), 0.95)
    """
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE, trustworthiness
    from threadpoolctl import threadpool_limits

    check_model(model)
    pca_dims = check_int(pca_dims, "pca_dims", minimum=2)
    perplexity = check_positive(perplexity, "perplexity")
    max_iter = max_steps(1000, quick=500) if max_iter is None else check_int(max_iter, "max_iter", minimum=250)
    seed = check_int(seed, "seed", minimum=0, maximum=2**32 - 1)
    tile_size = check_int(tile_size, "tile_size", minimum=1, allow_none=True)
    layer, _ = resolve_layer(model, layer, allow_model=True)
    source = data_source(data, model, batch_size=batch_size)
    if source.count is not None:
        if source.count < MIN_DISTINCT:
            raise InvalidArgumentError(
                f"embedding_grid needs at least {MIN_DISTINCT} images in `data`; got {source.count}."
            )
        if display is not None:
            _check_display(display, source.count)
        if shape is not None:
            _check_shape(shape, source.count)
    key, step = _codes_step(model, layer)
    parts, kept = [], []
    with progress_bar(source.num_batches, f"codes {key}", progress) as bar:
        for batch in source:
            parts.append(step(batch.images).numpy())
            if not source.indexable and display is None:
                kept.extend(np.asarray(batch.raw))
            bar.update(1)
    codes = np.concatenate(parts).astype(np.float64)
    n = len(codes)
    if n < MIN_DISTINCT:
        raise InvalidArgumentError(f"embedding_grid needs at least {MIN_DISTINCT} images in `data`; got {n}.")
    if display is not None:
        _check_display(display, n)
    shape = _check_shape(shape, n) if shape is not None else grid_shape(n)
    if not np.isfinite(codes).all():
        raise InvalidArgumentError(f"Layer {key!r} gives NaN or Inf codes on `data`; check the model and the images.")
    norms = np.linalg.norm(codes, axis=1, keepdims=True)
    codes = np.divide(codes, norms, out=np.zeros_like(codes), where=norms > 0)
    codes = codes[:, codes.std(axis=0) > 0]  # constant columns add nothing to any distance
    if codes.shape[1] == 0:
        codes = np.zeros((n, 1))
    unique, inverse = _distinct(codes, key)
    u = len(unique)
    reduced = PCA(min(pca_dims, u, unique.shape[1]), random_state=seed).fit_transform(unique)
    tsne = TSNE(
        2,
        perplexity=min(perplexity, (u - 1) / 3),
        init="pca",
        learning_rate="auto",
        max_iter=max_iter,
        random_state=seed,
    )
    # OpenMP threads only pay off for large N; on a busy machine they spin and slow
    # a few-hundred-point t-SNE down tenfold.
    with threadpool_limits(1 if u < 5000 else None, user_api="openmp"):
        embedding = tsne.fit_transform(reduced)[inverse]
    cells = grid_assignment(embedding, shape)
    neighbours = min(5, (n - 1) // 2)
    random_layout = np.random.default_rng(seed).normal(size=(n, 2))
    if display is None:
        display = kept if not source.indexable else _SourceImages(source, n)
    return EmbeddingGrid(
        layer=key,
        embedding=embedding,
        cells=cells,
        shape=tuple(shape),
        mosaic=mosaic(display, cells, shape, tile_size),
        trustworthiness=float(trustworthiness(codes, embedding, n_neighbors=neighbours)),
        random_trustworthiness=float(trustworthiness(codes, random_layout, n_neighbors=neighbours)),
    )
