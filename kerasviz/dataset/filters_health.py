"""Dead and redundant filters.

Dead (Hu et al. 2016, "Network Trimming"): a channel that is never
positive over a large, diverse dataset, and the APoZ (average percentage of
zeros) distribution per layer. The streaming statistics come from
`kv.activation_summary`; this module only picks layers and thresholds.

Redundant (Ayinde & Zurada 2018; Shang et al. 2016): pairs of filters
whose flattened kernels have cosine similarity near 1, or near -1 (opposite
phase, the CReLU observation), and pairs whose activations correlate over the
data (functional duplicates that weight space misses).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from kerasviz._config import progress_bar
from kerasviz.core.errors import UnsupportedLayerError
from kerasviz.core.gradients import compile_function
from kerasviz.core.graph import cache
from kerasviz.core.layers import LayerSpec, conv_layers, is_conv
from kerasviz.core.precision import check_precision, resolve_precision
from kerasviz.core.validate import check_fraction, check_number
from kerasviz.dataset.arguments import check_model, dataset_view, resolve_layer
from kerasviz.dataset.features import cache_key, taps
from kerasviz.dataset.streaming import data_source
from kerasviz.dataset.summary import activation_summary


@dataclass
class DeadFilters:
    """Per-layer activity of filters over a dataset.

    Attributes:
        summaries: `{layer: ActivationSummary}` (APoZ, max, never-active ... per channel).
        apoz_threshold: APoZ above which a filter counts as rarely active.
    """

    summaries: dict
    apoz_threshold: float

    @property
    def dead(self) -> dict:
        """`{layer: indices}` of filters never positive on any image and position."""
        return {k: s.never_active for k, s in self.summaries.items()}

    @property
    def rarely_active(self) -> dict:
        """`{layer: indices}` of filters whose APoZ exceeds `apoz_threshold`."""
        return {k: np.flatnonzero(s.apoz > self.apoz_threshold) for k, s in self.summaries.items()}

    def table(self) -> list[dict]:
        """One row per layer: filters, #dead, #APoZ > threshold, mean APoZ."""
        return [
            {
                "layer": k,
                "filters": len(s.apoz),
                "dead": len(s.never_active),
                f"apoz>{self.apoz_threshold:g}": int((s.apoz > self.apoz_threshold).sum()),
                "mean_apoz": float(s.apoz.mean()),
            }
            for k, s in self.summaries.items()
        ]


@dataset_view(several=True)
def dead_filters(
    model: keras.Model,
    layer: LayerSpec | Sequence[LayerSpec] | None = None,
    data=None,
    *,
    apoz_threshold: float = 0.9,
    batch_size: int = 64,
    precision: str = "auto",
    progress: bool = True,
) -> DeadFilters:
    """Filters that never fire over `data`, and the APoZ of every filter, per layer.

    A filter is dead when its output is <= 0 at every position of every image
    (for a conv with a fused ReLU this is its post-ReLU output; for a conv
    without one, the pre-ReLU value, which is dead after any ReLU too). All
    layers are summarised from one pass over the data.

    Args:
        model: a Keras image model; never changed.
        layer: a layer, a list of layers, or None for every conv layer.
        data: images `(N, H, W, C)`, an `(images, labels)` tuple, a list of
            batches, a `tf.data.Dataset` or a generator (use many diverse
            images, e.g. >= 1000).
        apoz_threshold: APoZ in [0, 1] above which a filter is "rarely active" (Hu et al.: 0.9).
        batch_size: images per forward pass.
        precision: "auto", "float32" or "bfloat16": the compute precision of
            the pass (see `kv.activation_summary`).
        progress: show one progress bar for the pass.

    Returns:
        `DeadFilters` with `.dead` and `.rarely_active` `{layer: indices}`,
        `.summaries` `{layer: ActivationSummary}` and `.table()`.

    Raises:
        KerasvizError: `apoz_threshold` outside [0, 1], a bad `layer`,
            `data` or `batch_size`.

    Example:
        >>> report = kv.dead_filters(net, None, x_test)
        >>> report.dead["conv1"]
        array([], dtype=int64)
    """
    apoz_threshold = check_fraction(apoz_threshold, "apoz_threshold")
    precision = check_precision(precision)
    check_model(model)
    if layer is None:
        layer = conv_layers(model)
        if not layer:
            raise UnsupportedLayerError(f"Model {model.name!r} has no convolution layer; pass `layer=` explicitly.")
    layers = list(layer) if isinstance(layer, (list, tuple)) else [layer]
    summaries = activation_summary(
        model, layers, data, batch_size=batch_size, precision=precision, progress=progress
    )  # one pass
    return DeadFilters(summaries, apoz_threshold)


@dataclass
class FilterSimilarity:
    """Pairwise similarity of one conv layer's filters.

    Attributes:
        layer: the layer name.
        cosine: `(F, F)` cosine similarity of the flattened kernels.
        correlation: `(F, F)` Pearson correlation of the filters' activations
            over all images and positions (NaN for constant filters), or None without data.
        precision: the compute precision of the correlation pass ("float32" without data).
    """

    layer: str
    cosine: np.ndarray
    correlation: np.ndarray | None
    precision: str = "float32"


class FilterPair(tuple):
    """An index pair `(i, j)`, i < j, that also says why it was reported.

    Attributes:
        kind: "duplicate" (kernel cosine >= threshold), "opposite" (cosine <=
            -threshold) or "correlated" (activation correlation >= threshold).
        score: the cosine or correlation.
    """

    def __new__(cls, i: int, j: int, kind: str, score: float):
        pair = super().__new__(cls, (int(i), int(j)))
        pair.kind, pair.score = kind, float(score)
        return pair

    def __repr__(self):
        return f"FilterPair({self[0]}, {self[1]}, kind={self.kind!r}, score={self.score:.3f})"


def kernel_cosine(layer: keras.layers.Layer) -> np.ndarray:
    """`(F, F)` cosine similarity of a conv layer's flattened kernels (one per output channel).

    DepthwiseConv2D: each output channel's `(kh, kw)` kernel; SeparableConv2D:
    the pointwise kernels.
    """
    if isinstance(layer, keras.layers.SeparableConv2D):
        kernel = np.asarray(layer.pointwise_kernel)
    elif isinstance(layer, keras.layers.DepthwiseConv2D):
        kernel = np.asarray(layer.kernel)
        kernel = kernel.reshape(kernel.shape[0], kernel.shape[1], -1)  # output channel c * mult + j
    else:
        kernel = np.asarray(layer.kernel)
    flat = kernel.reshape(-1, kernel.shape[-1]).T.astype(np.float64)
    norms = np.linalg.norm(flat, axis=1, keepdims=True)
    flat = np.divide(flat, norms, out=np.zeros_like(flat), where=norms > 0)
    return flat @ flat.T


def _moments_step(model, layer, dtype: str = "float32"):
    def build():
        fx = taps(model, [layer], dtype=dtype)
        key = next(iter(fx.output))

        def moments(x):
            a = tf.cast(fx(x, training=False)[key], tf.float64)
            flat = tf.reshape(a, (-1, a.shape[-1]))
            return (
                tf.cast(tf.shape(flat)[0], tf.float64),
                tf.reduce_sum(flat, 0),
                tf.matmul(flat, flat, transpose_a=True),
            )

        return compile_function(moments)

    return cache.get(model, ("filter_moments", cache_key(layer), dtype), build)


def activation_correlation(
    model: keras.Model,
    layer: LayerSpec,
    data,
    *,
    batch_size: int = 64,
    precision: str = "float32",
    progress: bool = True,
) -> np.ndarray:
    """`(F, F)` Pearson correlation of a layer's channels over all images and positions.

    Streams `data` (any source `kv.top_activating` takes) keeping O(F^2) sums
    on the device (in float64, whatever the compute `precision`). Constant
    channels (e.g. dead ones) get NaN rows instead of numpy's division warnings.
    """
    dtype = resolve_precision(check_precision(precision), model)
    source = data_source(data, model, batch_size=batch_size)
    step = _moments_step(model, layer, dtype)
    total = None
    with progress_bar(source.num_batches, "correlation", progress) as bar:
        for batch in source:
            part = step(batch.images)
            total = part if total is None else tuple(t + p for t, p in zip(total, part))
            bar.update(1)
    n, s1, s2 = (t.numpy() for t in total)
    mean = s1 / n
    cov = s2 / n - np.outer(mean, mean)
    std = np.sqrt(np.clip(np.diag(cov), 0, None))
    live = std > 1e-12 * max(1.0, float(np.abs(mean).max()))
    corr = np.full_like(cov, np.nan)
    corr[np.ix_(live, live)] = cov[np.ix_(live, live)] / np.outer(std[live], std[live])
    return np.clip(corr, -1.0, 1.0)


def _conv_layer(model, layer):
    spec, found = resolve_layer(model, layer)
    if not is_conv(found):
        raise UnsupportedLayerError(
            f"`layer` {found.name!r} is a {type(found).__name__}, not a 2-D convolution (filter similarity "
            f"compares kernels). Convolution layers of {model.name!r}: {conv_layers(model)[:12]}."
        )
    return spec, found


@dataset_view()
def filter_similarity(
    model: keras.Model,
    layer: LayerSpec,
    data=None,
    *,
    batch_size: int = 64,
    precision: str = "auto",
    progress: bool = True,
) -> FilterSimilarity:
    """Kernel cosine similarity and (with `data`) activation correlation of a conv layer's filters.

    Args:
        model: a Keras image model; never changed.
        layer: a 2-D convolution layer.
        data: optional images, `(images, labels)`, list of batches, dataset or
            generator, for the activation correlation.
        batch_size, progress: streaming options for the correlation.
        precision: "auto" (bfloat16 where this machine runs it natively,
            else float32), "float32" or "bfloat16": the compute precision of
            the correlation pass (the kernel cosine is always float64).
            bfloat16 activations carry about 3 significant digits; the
            correlations move by about 1e-3.

    Returns:
        `FilterSimilarity` with `.cosine` and `.correlation` `(F, F)`.

    Raises:
        KerasvizError: `layer` is not a convolution (or unknown), bad `data`.

    Example:
        >>> sim = kv.filter_similarity(net, "conv1", x_test[:500])
        >>> sim.cosine.shape
        (20, 20)
    """
    check_model(model)
    precision = check_precision(precision)
    spec, conv = _conv_layer(model, layer)
    if data is not None:
        data = data_source(data, model, batch_size=batch_size)  # checked before any work
    dtype = "float32" if data is None else resolve_precision(precision, model)
    corr = (
        None
        if data is None
        else activation_correlation(model, spec, data, batch_size=batch_size, precision=dtype, progress=progress)
    )
    return FilterSimilarity(conv.name, kernel_cosine(conv), corr, precision=dtype)


def _pairs(matrix: np.ndarray, keep, kind: str) -> list:
    i, j = np.triu_indices(len(matrix), k=1)
    values = matrix[i, j]
    mask = keep(np.nan_to_num(values, nan=0.0)) & ~np.isnan(values)
    return [FilterPair(a, b, kind, v) for a, b, v in zip(i[mask], j[mask], values[mask])]


@dataset_view()
def redundant_filters(
    model: keras.Model,
    layer: LayerSpec,
    data=None,
    *,
    cosine_threshold: float = 0.95,
    correlation_threshold: float = 0.95,
    opposite: bool = True,
    batch_size: int = 64,
    precision: str = "auto",
    progress: bool = True,
) -> list:
    """Pairs of filters that duplicate each other, by kernel and (with data) by activation.

    Args:
        model: a Keras image model; never changed.
        layer: a 2-D convolution layer.
        data: optional images / dataset / generator; adds pairs whose
            activations correlate >= `correlation_threshold`.
        cosine_threshold: kernel cosine in [-1, 1] above which a pair is a duplicate.
        correlation_threshold: activation correlation in [-1, 1] above which a pair is reported.
        opposite: also report opposite-phase pairs (cosine <= -cosine_threshold).
        batch_size, progress: streaming options for the correlation.
        precision: "auto", "float32" or "bfloat16": the compute precision of
            the correlation pass (see `kv.filter_similarity`).

    Returns:
        A list of `FilterPair` `(i, j)` index pairs (i < j) with `.kind` and
        `.score`, strongest first; a pair found both ways appears once per kind.

    Raises:
        KerasvizError: a threshold outside [-1, 1], a layer that is not a
            convolution, bad `data`.

    Example:
        >>> kv.redundant_filters(net, "conv1", x_test[:500])
        [FilterPair(3, 17, kind='correlated', score=0.962)]
    """
    cosine_threshold = check_number(cosine_threshold, "cosine_threshold", minimum=-1.0, maximum=1.0)
    correlation_threshold = check_number(correlation_threshold, "correlation_threshold", minimum=-1.0, maximum=1.0)
    sim = filter_similarity(model, layer, data, batch_size=batch_size, precision=precision, progress=progress)
    pairs = _pairs(sim.cosine, lambda v: v >= cosine_threshold, "duplicate")
    if opposite:
        pairs += _pairs(sim.cosine, lambda v: v <= -cosine_threshold, "opposite")
    if sim.correlation is not None:
        pairs += _pairs(sim.correlation, lambda v: v >= correlation_threshold, "correlated")
    return sorted(pairs, key=lambda p: -abs(p.score))
