"""t-SNE of CNN codes laid out on a grid (Karpathy's CNN embedding, seed 002).

CNN codes (a layer's activations, flattened, L2-normalised) -> PCA to ~50
dimensions -> scikit-learn's Barnes-Hut t-SNE to 2-D -> a *bijective*
assignment of the points to a grid (scipy's `linear_sum_assignment` on squared
distances; nearest-cell snapping would stack most images on a few cells) -> a
mosaic. The t-SNE trustworthiness (how many 2-D neighbours were true
neighbours) is reported next to that of a random layout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import keras
import numpy as np

from kerasviz._config import max_steps
from kerasviz.activations import activations
from kerasviz.core.layers import LayerSpec


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
    """`(rows, cols)` of the smallest near-square grid with at least `n` cells."""
    cols = math.ceil(math.sqrt(n))
    return math.ceil(n / cols), cols


def grid_assignment(points: np.ndarray, shape: Optional[tuple] = None) -> np.ndarray:
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
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"points must be (N, 2); got shape {points.shape}.")
    rows, cols = shape or grid_shape(len(points))
    if rows * cols < len(points):
        raise ValueError(f"A {rows}x{cols} grid has fewer cells than the {len(points)} points.")
    span = points.max(0) - points.min(0)
    unit = (points - points.min(0)) / np.where(span > 0, span, 1.0)
    r, c = np.divmod(np.arange(rows * cols), cols)
    centres = np.stack([c / max(cols - 1, 1), r / max(rows - 1, 1)], axis=1)
    _, cell = linear_sum_assignment(cdist(unit, centres, "sqeuclidean"))
    return np.stack(np.divmod(cell, cols), axis=1)


def mosaic(images: np.ndarray, cells: np.ndarray, shape: tuple) -> np.ndarray:
    """Tile `images` `(N, h, w, C)` (uint8 or float) into a grid at `cells`; float [0, 1], empty = white."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.dtype == np.uint8:
        tiles = images.astype(np.float32) / 255.0
    else:  # one min-max scale for all images keeps their relative brightness
        lo, hi = float(images.min()), float(images.max())
        tiles = (images.astype(np.float32) - lo) / (hi - lo if hi > lo else 1.0)
    n, h, w, ch = tiles.shape
    rows, cols = shape
    out = np.ones((rows * h, cols * w, ch), np.float32)
    for tile, (r, c) in zip(tiles, cells):
        out[r * h : (r + 1) * h, c * w : (c + 1) * w] = tile
    return out


def embedding_grid(
    model: keras.Model,
    images,
    layer: LayerSpec,
    *,
    display=None,
    shape: Optional[tuple] = None,
    pca_dims: int = 50,
    perplexity: float = 30.0,
    max_iter: int = 1000,
    seed: int = 0,
    batch_size: int = 64,
) -> EmbeddingGrid:
    """t-SNE of a layer's codes for `images`, assigned one-to-one to a grid, as a mosaic.

    Args:
        model: a Keras image model; never changed.
        images: `(N, H, W, C)` in the model's input space (N from ~50 to a few thousand).
        layer: the code layer (e.g. LeNet's "relu3", VGG16's "fc2"); 4-D maps are flattened.
        display: `(N, h, w[, C])` images to tile (e.g. the raw uint8 photos);
            default `images` rescaled to [0, 1].
        shape: `(rows, cols)` of the grid; default the smallest near-square one.
        pca_dims: PCA dimensions before t-SNE (scikit-learn's advice: ~50).
        perplexity: t-SNE perplexity (capped below N / 3).
        max_iter: t-SNE iterations (at most 500 in quick mode; scikit-learn needs >= 250).
        seed: random state of PCA / t-SNE / the random baseline.
        batch_size: images per forward pass.

    Returns:
        `EmbeddingGrid` with `.embedding` `(N, 2)`, `.cells` `(N, 2)`, `.mosaic`,
        `.trustworthiness` and `.random_trustworthiness`.

    Example:
        >>> grid = kv.embedding_grid(net, x_test[:400], "relu3", display=raw[:400])
        >>> grid.mosaic.shape, round(grid.trustworthiness, 2)
        ((560, 560, 1), 0.95)
    """
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE, trustworthiness
    from threadpoolctl import threadpool_limits

    acts = activations(model, images, layer, batch_size=batch_size)
    key, codes = next(iter(acts.items()))
    codes = codes.reshape(len(codes), -1).astype(np.float64)
    n = len(codes)
    if n < 5:
        raise ValueError(f"embedding_grid needs at least 5 images; got {n}.")
    norms = np.linalg.norm(codes, axis=1, keepdims=True)
    codes = np.divide(codes, norms, out=np.zeros_like(codes), where=norms > 0)
    reduced = PCA(min(pca_dims, n, codes.shape[1]), random_state=seed).fit_transform(codes)
    tsne = TSNE(
        2, perplexity=min(perplexity, (n - 1) / 3), init="pca", learning_rate="auto",
        # The first 250 iterations are early exaggeration: fewer than ~500 leave clusters squeezed.
        max_iter=max(250, max_steps(max_iter, quick=500)), random_state=seed,
    )
    # OpenMP threads only pay off for large N; on a busy machine they spin and slow
    # a few-hundred-point t-SNE down tenfold.
    with threadpool_limits(1 if n < 5000 else None, user_api="openmp"):
        embedding = tsne.fit_transform(reduced)
    shape = tuple(shape or grid_shape(n))
    cells = grid_assignment(embedding, shape)
    neighbours = min(5, (n - 1) // 2)
    random_layout = np.random.default_rng(seed).normal(size=(n, 2))
    return EmbeddingGrid(
        layer=key, embedding=embedding, cells=cells, shape=shape,
        mosaic=mosaic(images if display is None else display, cells, shape),
        trustworthiness=float(trustworthiness(codes, embedding, n_neighbors=neighbours)),
        random_trustworthiness=float(trustworthiness(codes, random_layout, n_neighbors=neighbours)),
    )
