"""Per-channel statistics of layers over a dataset: APoZ, never-active channels, blank maps, max, mean.

`activation_summary` streams any data source once (`streaming.data_source`)
and reduces every requested layer's output on the device, batch by batch, so
memory is O(channels) whatever the dataset size. APoZ is Hu et al.'s (2016,
"Network Trimming") average percentage of zeros.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from kerasviz._config import progress_bar
from kerasviz.core.gradients import compile_function
from kerasviz.core.graph import cache
from kerasviz.core.layers import LayerSpec, conv_layers
from kerasviz.core.precision import check_precision, resolve_precision
from kerasviz.dataset.arguments import check_model, check_output_rank, dataset_view, resolve_layers
from kerasviz.dataset.features import cache_key, taps
from kerasviz.dataset.streaming import data_source


@dataclass
class ActivationSummary:
    """Per-channel statistics of one layer over a dataset.

    Attributes:
        layer: the layer key.
        apoz: `(c,)` average percentage of zeros: fraction of (image, position)
            values that are <= 0 (Hu et al. 2016).
        never_active: `(k,)` indices of channels that are <= 0 everywhere on
            every image (dead filters).
        blank_fraction: `(c,)` fraction of images on which the whole map is zero.
        max: `(c,)` largest activation seen.
        mean: `(c,)` mean activation.
        count: number of images seen.
        precision: the compute precision of the pass, "float32" or "bfloat16".
    """

    layer: str
    apoz: np.ndarray
    never_active: np.ndarray
    blank_fraction: np.ndarray
    max: np.ndarray
    mean: np.ndarray
    count: int
    precision: str = "float32"


def _channel_statistics(a: tf.Tensor) -> list:
    """Per-channel sums of one batch `(n, h, w, c)` (or `(n, c)`): zeros, never-positive maps, max, sum, blank maps."""
    a = tf.cast(a, tf.float32)
    if len(a.shape) == 2:
        a = a[:, None, None, :]
    return [
        tf.reduce_sum(tf.cast(a <= 0, tf.int64), axis=(0, 1, 2)),
        tf.reduce_sum(tf.cast(tf.reduce_all(a <= 0, axis=(1, 2)), tf.int64), axis=0),
        tf.reduce_max(a, axis=(0, 1, 2)),
        tf.reduce_sum(a, axis=(0, 1, 2)),
        tf.reduce_sum(tf.cast(tf.reduce_all(a == 0, axis=(1, 2)), tf.int64), axis=0),
        tf.cast(tf.shape(a)[1] * tf.shape(a)[2], tf.int64),
    ]


def _summary_step(model, specs: tuple, pre_activation: bool, dtype: str = "float32"):
    """Compiled `x -> {key: statistics}` for several layers from one forward pass (cached)."""

    def build():
        fx = taps(model, specs, pre_activation=pre_activation, dtype=dtype)
        for key, tensor in fx.output.items():
            if len(tensor.shape) not in (2, 4):
                _raise_rank(key, tensor.shape)
        step = compile_function(lambda x: {k: _channel_statistics(v) for k, v in fx(x, training=False).items()})
        return list(fx.output), step

    return cache.get(model, ("activation_summary", tuple(cache_key(s) for s in specs), pre_activation, dtype), build)


def _raise_rank(key, shape) -> None:
    from kerasviz.core.errors import UnsupportedLayerError

    raise UnsupportedLayerError(
        f"`layer` {key!r} has output shape {tuple(shape)}; a summary needs feature maps (N, h, w, c) or units (N, c)."
    )


@dataset_view(several=True, aliases={"images": "data"})
def activation_summary(
    model: keras.Model,
    layer: LayerSpec | Sequence[LayerSpec] | None = None,
    data=None,
    *,
    batch_size: int = 64,
    pre_activation: bool = False,
    precision: str = "auto",
    progress: bool = True,
) -> ActivationSummary | dict[str, ActivationSummary]:
    """Stream `data` through the model and summarise one layer's channels (or several layers').

    Memory is O(channels): the maps are reduced on the device batch by batch.
    Several layers are summarised from the same forward pass. A Dense layer's
    units count as 1x1 maps.

    Args:
        model: a Keras image model; never changed.
        layer: a layer (name, "outer/inner" path, index or Layer), a list of
            layers, or None for every convolution layer.
        data: images `(N, H, W, C)`, an `(images, labels)` tuple, a list of
            batches, a `tf.data.Dataset` or a generator of batches (labels are ignored).
        batch_size: images per forward pass (arrays and unbatched datasets).
        pre_activation: summarise the values before a fused activation.
        precision: "auto" (bfloat16 where this machine runs it natively,
            else float32), "float32" or "bfloat16": the compute precision of
            the forward pass. The statistics are accumulated in float32 (sums
            in float64 on the host) either way; in bfloat16 a value within
            about 0.4 % of zero may change sign, which moves APoZ slightly.
        progress: show a progress bar.

    Returns:
        `ActivationSummary` for one layer, or `{key: ActivationSummary}` for a
        list of layers (or None).

    Raises:
        KerasvizError: bad `layer` (unknown, the Input layer, not a map or a
            vector of units), bad `data` (shape, channels, size, NaN/Inf,
            empty) or `batch_size` (not an integer >= 1).

    Example:
        >>> s = kv.activation_summary(cnn, "conv2", x_test)
        >>> s.apoz.shape, s.never_active
        ((16,), array([], dtype=int64))
    """
    check_model(model)
    precision = check_precision(precision)
    resolved, several = resolve_layers(model, layer, default=conv_layers)
    for _, found in resolved:
        check_output_rank(found, (2, 4), "a summary needs feature maps (N, h, w, c) or units (N, c)")
    source = data_source(data, model, batch_size=batch_size)
    specs = tuple(spec for spec, _ in resolved)
    dtype = resolve_precision(precision, model)
    keys, step = _summary_step(model, specs, pre_activation, dtype)
    totals: dict = {}
    n = 0
    with progress_bar(source.num_batches, f"summary {', '.join(map(str, keys))}", progress) as bar:
        for batch in source:
            out = step(batch.images)
            n += int(batch.images.shape[0])
            for key in keys:
                part = [np.asarray(p.numpy(), np.float64) for p in out[key]]
                zeros, never, peak, total, blank, positions = part
                part[-1] = positions * batch.images.shape[0]
                old = totals.get(key)
                totals[key] = (
                    part
                    if old is None
                    else [np.maximum(t, p) if i == 2 else t + p for i, (t, p) in enumerate(zip(old, part))]
                )
            bar.update(1)
    summaries = {}
    for key in keys:
        zeros, never, peak, total, blank, values = totals[key]
        summaries[key] = ActivationSummary(
            layer=key,
            apoz=(zeros / values).astype(np.float32),
            never_active=np.flatnonzero(never == n),
            blank_fraction=(blank / n).astype(np.float32),
            max=peak.astype(np.float32),
            mean=(total / values).astype(np.float32),
            count=n,
            precision=dtype,
        )
    return summaries if several else summaries[keys[0]]
