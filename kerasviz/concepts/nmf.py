"""Concepts discovered by non-negative matrix factorization of a layer's activations.

Deep Feature Factorization (Collins et al., ECCV 2018): stack the activation
vectors of every position of every image, V (positions x C) >= 0, and factorise
V ~ U W with k concepts. Each row of W (k x C) is a concept's direction in
channel space; each column of U, reshaped to the feature map, is that concept's
heatmap. The rows of W are scaled to sum to 1, so a coefficient U[pos, j] is
the activation mass concept j puts at that position and the k heatmaps add up,
position by position, to the channel sum of the factorised activations.

Concept importance for a class follows CRAFT (Fel et al., CVPR 2023) in spirit
but with a gradient estimator instead of their Sobol indices: importance_j(x)
= sum over positions of U_j(pos) (W_j . d logit / d a(pos)), the first-order
effect of the concept's part of the activation on the logit. It costs one
backward pass per image (taken in the same compiled step as the activations),
and it is exact for a head linear in the activations: there the importances
add up to the logit of the reconstructed activation minus the bias.

Memory is bounded whatever the dataset size: NMF is fitted (scikit-learn, `cd`
solver, NNDSVDa initialisation) on at most `max_vectors` activation vectors
sampled from at most `fit_images` images; then every image is projected on the
fixed concepts chunk by chunk on the device (`factor.ConceptStep`: HALS
non-negative least squares), keeping only per-image sums and each concept's
running top images.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import keras
import numpy as np

from kerasviz._config import progress_bar
from kerasviz.activations import activations
from kerasviz.concepts._common import (
    check_batch_size,
    check_images,
    check_layer,
    check_model,
    check_seed,
    crop_box,
    host_threads,
    optional_int,
    rng_for,
)
from kerasviz.concepts.factor import concept_step
from kerasviz.concepts.scan import RunningTop, Scan, check_data_target
from kerasviz.core.errors import InvalidArgumentError, UnsupportedLayerError
from kerasviz.core.outputs import resolve_output
from kerasviz.core.results import ArrayResult
from kerasviz.core.validate import check_int
from kerasviz.dataset.receptive_field import ReceptiveField


@dataclass
class NMFConcepts(ArrayResult):
    """k concepts of a layer and where they are; behaves as `components`.

    Attributes:
        components: `(k, C)` non-negative concept directions, each summing to 1,
            strongest concept (most activation mass in the fit sample) first.
        coefficients: `(N, k)` each image's mean concept coefficient over positions.
        importance: `(k,)` mean over images of `image_importance`.
        image_importance: `(N, k)` gradient x coefficient importance of each
            concept for each image's target logit (zeros with `importance=False`).
        classes: `(N,)` the class explained per image (-1: callable target or none).
        reconstruction_error: relative Frobenius error ||A - UW|| / ||A|| over all images.
        fit_error: the same on the fit sample.
        top_indices: `(k, top)` images where each concept peaks highest, best first.
        top_values: `(k, top)` that peak coefficient.
        top_locations: `(k, top, 2)` `(row, col)` of the peak in the feature map.
        boxes: `(k, top, 4)` its receptive field `(top, left, bottom, right)`
            in input pixels (None if the layer's geometry is unknown).
        labels: `(k, top)` labels of the top images, or None.
        layer: the layer key.
        receptive_field: the layer's `ReceptiveField` (None if unknown).
        count: images scanned; `fit_vectors`: vectors NMF was fitted on.
    """

    array_field: ClassVar[str] = "components"
    components: np.ndarray
    coefficients: np.ndarray
    importance: np.ndarray
    image_importance: np.ndarray
    classes: np.ndarray
    reconstruction_error: float
    fit_error: float
    top_indices: np.ndarray
    top_values: np.ndarray
    top_locations: np.ndarray
    boxes: np.ndarray | None
    labels: np.ndarray | None
    layer: str
    receptive_field: ReceptiveField | None
    count: int
    fit_vectors: int
    _project: object = field(repr=False, default=None)
    _scan: object = field(repr=False, default=None)

    @property
    def k(self) -> int:
        return int(self.components.shape[0])

    def maps(self, images, batch_size: int = 32) -> np.ndarray:
        """Concept heatmaps `(N, h, w, k)` (or `(h, w, k)` for one image) at the layer's resolution.

        The non-negative least-squares coefficients of each position's
        activation on the concepts (a Dense layer gives `h = w = 1`). Summed
        over concepts they equal the channel sum of the factorised activations
        `maps @ components`.

        Args:
            images: `(N, H, W, C)` or one image, in the model's input space.
            batch_size: images per compiled call.
        """
        return self._project(images, check_batch_size(batch_size))

    def image(self, index: int) -> np.ndarray:
        """Image `index` of the scanned data `(H, W, C)` (kept for the top images of streams)."""
        return self._scan.image(int(index))

    def crops(self, concepts=None, pad_value: float = 0.0) -> np.ndarray:
        """`(n, top, rf_h, rf_w, C)` receptive-field crops around each concept's peaks."""
        if self.boxes is None:
            raise UnsupportedLayerError(
                f"The receptive field of {self.layer!r} is unknown; use .top_indices and .image()."
            )
        concepts = range(self.k) if concepts is None else concepts
        return np.stack(
            [
                np.stack([crop_box(self.image(i), b, pad_value) for i, b in zip(self.top_indices[j], self.boxes[j])])
                for j in concepts
            ]
        )

    @property
    def patches(self) -> np.ndarray:
        """`(k, top, rf_h, rf_w, C)` every concept's top patches."""
        return self.crops()


def _fit(vectors: np.ndarray, k: int, max_iter: int, seed: int):
    import warnings

    from sklearn.decomposition import NMF
    from sklearn.exceptions import ConvergenceWarning

    nmf = NMF(n_components=k, init="nndsvda", solver="cd", max_iter=max_iter, random_state=seed, tol=1e-4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        u = nmf.fit_transform(vectors)
    scale = nmf.components_.sum(axis=1)
    scale = np.where(scale > 0, scale, 1.0)
    u, w = u * scale, nmf.components_ / scale[:, None]
    order = np.argsort(-u.sum(axis=0), kind="stable")
    nmf.components_ = w[order]
    error = float(np.linalg.norm(vectors - u[:, order] @ w[order]) / max(np.linalg.norm(vectors), 1e-30))
    return nmf, error


def check_non_negative(low: float, high: float, key: str) -> None:
    """Refuse layers with negative activations (beyond float noise): NMF has nothing to say about them."""
    if low < -1e-6 * max(high, 1.0):
        raise InvalidArgumentError(
            f"`layer` {key!r} has negative activations (min {low:.3g}); NMF needs non-negative ones: pick a layer "
            "after a ReLU (e.g. the conv's own output when it has activation='relu', or the ReLU layer)."
        )


def _target_vector(target, n: int) -> np.ndarray:
    """A chunk's int32 targets (-1: predicted class); callables are compiled into the step."""
    if target is None or callable(target):
        return np.full((n,), -1, np.int32)
    return np.broadcast_to(np.asarray(target, np.int32), (n,))


def _non_negative(acts: np.ndarray, key: str) -> np.ndarray:
    check_non_negative(float(acts.min()) if acts.size else 0.0, float(np.abs(acts).max()) if acts.size else 0.0, key)
    return np.maximum(acts, 0.0)


def nmf_concepts(
    model: keras.Model,
    layer,
    data,
    k: int = 8,
    *,
    target=None,
    output=None,
    importance: bool = True,
    labels=None,
    top: int = 9,
    fit_images: int | None = None,
    max_vectors: int | None = None,
    max_iter: int = 200,
    seed: int = 0,
    batch_size: int = 64,
    progress: bool = True,
) -> NMFConcepts:
    """Discover k concepts of a layer by non-negative matrix factorization (DFF, CRAFT-style importance).

    Args:
        model: a Keras image model (never changed).
        layer: a layer with non-negative output (after a ReLU), `(N, h, w, C)`
            or `(N, C)`.
        data: images `(N, H, W, C)` in the model's input space, a
            `tf.data.Dataset` of images or `(images, labels)`, or an iterable of
            batches (read once: the first `fit_images` are kept for the fit).
        k: number of concepts (at most C).
        target: the class whose logit the importance explains: None (each
            image's predicted class), an int, one int per image (arrays only)
            or a callable `score(outputs) -> (N,)`. Give images of that class.
        output: which output of a multi-output model (index or name).
        importance: compute concept importance (one backward pass per image);
            False reads activations only.
        labels: `(N,)` labels for array data, kept for the top images.
        top: top images kept per concept.
        fit_images: images sampled for the fit (default 512; 128 in quick mode).
        max_vectors: activation vectors NMF is fitted on (default 20000; 5000
            in quick mode), sampled from the fit images' positions.
        max_iter: NMF iterations (DFF: 200).
        seed: seeds the sampling (NNDSVDa initialisation is deterministic).
        batch_size: images per compiled call (bounds memory).
        progress: show a progress bar.

    Returns:
        `NMFConcepts`: `.components` (k, C), `.coefficients` (N, k),
        `.importance` (k,), `.reconstruction_error`, each concept's top images
        (`.top_indices`, `.boxes`, `.patches`), and `.maps(images)` for heatmaps.

    Raises:
        InvalidArgumentError: negative activations at the layer, k larger than
            the channels or the fit sample, bad settings or data.

    Example:
        >>> concepts = kv.nmf_concepts(net, "relu2", x_test[:2000], k=6, target=7)
        >>> concepts.components.shape, concepts.maps(x_test[:4]).shape
        ((6, 50), (4, 4, 4, 6))
        >>> kv.plot_nmf_concepts(concepts, images=x_test[:4])
    """
    check_model(model)
    spec, key, shape = check_layer(model, layer)
    channels = int(shape[-1])
    k = check_int(k, "k", minimum=1, maximum=channels)
    top = check_int(top, "top", minimum=1)
    fit_images = optional_int(fit_images, "fit_images", 1, 512, quick=128)
    max_vectors = optional_int(max_vectors, "max_vectors", 1, 20000, quick=5000)
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    seed, batch_size = check_seed(seed), check_batch_size(batch_size)
    scan = Scan(model, data, batch_size, labels)
    target = check_data_target(model, target, scan, output)
    output_index = resolve_output(model, output)
    positions = int(np.prod(shape[:-1]))

    with progress_bar(scan.total_batches(), f"NMF concepts {key}", progress) as bar, host_threads():
        fit_batches = scan.fit_sample(fit_images, rng_for(seed, 3))
        total = sum(int(b.shape[0]) for b in fit_batches) * positions
        chosen = np.sort(rng_for(seed, 4).choice(total, min(max_vectors, total), replace=False))
        if len(chosen) < k:
            raise InvalidArgumentError(
                f"`k` = {k} concepts need at least {k} activation vectors; the fit sample has "
                f"{len(chosen)} (raise `fit_images` or `max_vectors`)."
            )
        sample, start = [], 0
        for batch in fit_batches:
            acts = next(iter(activations(model, batch, [spec], batch_size=batch_size).values()))
            flat = _non_negative(acts.reshape(-1, channels), key)
            stop = start + len(flat)
            sample.append(flat[chosen[(chosen >= start) & (chosen < stop)] - start])
            start = stop
        sample = np.concatenate(sample).astype(np.float64)
        if not sample.any():
            raise InvalidArgumentError(
                f"`layer` {key!r} is all zeros on the fit images: there is nothing to factorise."
            )
        nmf, fit_error = _fit(sample, k, max_iter, seed)
        bar.update(1)

        running = RunningTop(k, top)
        step = concept_step(
            model, spec, key, importance=importance, score=target if callable(target) else None, output=output_index
        )
        w = nmf.components_.astype(np.float32)
        coefficients, image_importance, classes = [], [], []
        residual = norm = 0.0
        for offset, batch, batch_labels, batch_target in scan.batches():
            n = int(batch.shape[0])
            stats = step.statistics(batch, _target_vector(batch_target, n), w)
            check_non_negative(stats["low"], stats["high"], key)
            residual, norm = residual + float(stats["residual"]), norm + float(stats["norm"])
            coefficients.append(stats["mean"])
            image_importance.append(stats["importance"])
            classes.append(stats["classes"])
            running.update(stats["peak"].T, stats["where"].T, offset, batch_labels)
            scan.keep(running.indices, offset, batch)
            bar.update(1)

    image_importance = np.concatenate(image_importance).astype(np.float32)
    rf, boxes, locations = scan.geometry(spec, shape, running.positions)

    def maps(images, size):
        x, single = check_images(model, images, "images", single=True)
        parts = []
        for s in range(0, int(x.shape[0]), size):
            u, low, high = step.maps(x[s : s + size], w)
            check_non_negative(low, high, key)
            parts.append(u)
        out = np.concatenate(parts).astype(np.float32)
        out = out.reshape((len(out),) + (tuple(shape[:-1]) if len(shape) == 3 else (1, 1)) + (k,))
        return out[0] if single else out

    values, indices, with_labels = running.result()
    return NMFConcepts(
        components=nmf.components_.astype(np.float32),
        coefficients=np.concatenate(coefficients).astype(np.float32),
        importance=image_importance.mean(axis=0),
        image_importance=image_importance,
        classes=np.concatenate(classes),
        reconstruction_error=float(np.sqrt(residual / max(norm, 1e-30))),
        fit_error=fit_error,
        top_indices=indices,
        top_values=values.astype(np.float32),
        top_locations=locations,
        boxes=boxes,
        labels=with_labels,
        layer=key,
        receptive_field=rf,
        count=scan.count,
        fit_vectors=len(sample),
        _project=maps,
        _scan=scan,
    )
