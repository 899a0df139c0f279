"""Concept relevance propagation (Achtibat et al., Nat. Mach. Intell. 2023): LRP through chosen channels.

A channel of a layer is a concept. Its relevance for an image is the LRP
relevance of the layer's output summed over the channel's positions,
`R_k = Σ_pos (a ⊙ ∂f/∂a)[pos, k]`, and its *conditional heatmap* is the input
relevance of `R_k` alone: LRP from the explained logit down to the layer, the
other channels' relevance set to zero there, then LRP on to the pixels.
LRP's backward pass is linear in the relevance from above, so the heatmaps of
all channels add up to the plain LRP heatmap (for a layer that every path to
the output crosses), and each conserves its channel's relevance as far as the
rules conserve (exactly for LRP-0 / ε → 0 on a bias-free network).

`kv.crp` batches over channels: each (image, channel) pair is one row of a
compiled call, the image repeated and the channel mask held as data, so one
call computes up to `filter_batch_size` heatmaps and changing the channels
never retraces. The mechanism is `kerasviz.lrp.layer_lrp`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import keras
import numpy as np
import tensorflow as tf

from kerasviz._config import progress_bar
from kerasviz.concepts._common import argument_errors, check_batch_size, check_images, check_layer, check_model
from kerasviz.core.errors import InvalidArgumentError
from kerasviz.core.gradients import compile_function
from kerasviz.core.graph import cache
from kerasviz.core.layers import conv_layers
from kerasviz.core.results import ArrayResult
from kerasviz.core.targets import target_vector
from kerasviz.core.validate import check_indices, check_int
from kerasviz.lrp import LayerLRP, layer_lrp

_HEATMAP_BYTES_LIMIT = 1 << 30


@dataclass(frozen=True)
class ConceptRelevance(ArrayResult):
    """Result of `kv.crp`; behaves as `heatmaps`.

    For one image `(H, W, C)` every per-image array drops its batch axis
    (`heatmaps` `(K, H, W, C)`, `filters` `(K,)`, `relevance` `(channels,)`, ...).

    Attributes:
        heatmaps: `(N, K, H, W, C)` float32 conditional input relevance: the
            part of each image's LRP heatmap that flows through channel
            `filters[n, j]` of the layer (sum over colour for a 2-D map).
        filters: `(N, K)` the channel of each heatmap.
        relevance: `(N, channels)` relevance of every channel of the layer
            (its LRP relevance summed over positions).
        scores: `(N,)` the explained scores `f_c(x)` (the relevance put in).
        targets: `(N,)` the classes explained (-1 for a callable target).
        layer: the layer's key.
        rule: the composite's name.
    """

    array_field: ClassVar[str] = "heatmaps"
    heatmaps: np.ndarray
    filters: np.ndarray
    relevance: np.ndarray
    scores: np.ndarray
    targets: np.ndarray
    layer: str
    rule: str

    @property
    def filter_relevance(self) -> np.ndarray:
        """`(N, K)` relevance of the channel of each heatmap (what each heatmap sums to for conservative rules)."""
        return np.take_along_axis(self.relevance, self.filters, axis=-1)

    @property
    def share(self) -> np.ndarray:
        """`(N, channels)` relevance of each channel over the summed |relevance| of all (zennit-crp's `abs_norm`)."""
        total = np.abs(self.relevance).sum(axis=-1, keepdims=True)
        return self.relevance / (total + 1e-10)


def channel_statistics(relevance: tf.Tensor):
    """`(sum, max, argmax)` over positions of `(n, ..., channels)` relevance, each `(n, channels)`."""
    flat = tf.reshape(relevance, (tf.shape(relevance)[0], -1, relevance.shape[-1]))
    return tf.reduce_sum(flat, axis=1), tf.reduce_max(flat, axis=1), tf.argmax(flat, axis=1, output_type=tf.int32)


def _conditional_step(model, step: LayerLRP):
    """Compiled `(images, rows, targets, masks) -> (scores, classes, heatmaps, channel relevance)` (cached)."""

    def run(images, rows, targets, masks):
        x = tf.gather(images, rows)  # each image once per (image, channel) row
        scores, classes, heatmaps, relevance = step.conditional_relevance(x, targets, masks)
        return scores, classes, heatmaps, channel_statistics(relevance)[0]

    return cache.get(model, ("crp_conditional", step.setup.key, step.path, step.score), lambda: compile_function(run))


def layer_step(model, step: LayerLRP):
    """Compiled `(images, targets) -> (scores, classes, relevance sum, max, argmax per channel)` (cached).

    The backward pass stops at the layer (relevance there, nothing below).
    """

    def run(images, targets):
        scores, classes, relevance = step.layer_relevance(images, targets)
        return (scores, classes) + channel_statistics(relevance)

    return cache.get(model, ("crp_layer", step.setup.key, step.path, step.score), lambda: compile_function(run))


def crp(
    model: keras.Model,
    images,
    target=None,
    *,
    layer=None,
    filters=None,
    top: int | None = None,
    rule="epsilon",
    epsilon: float | None = None,
    gamma: float | None = None,
    alpha: float | None = None,
    beta: float | None = None,
    bounds=None,
    output=None,
    batch_size: int = 16,
    filter_batch_size: int = 16,
    progress: bool = True,
) -> ConceptRelevance:
    """Conditional LRP heatmaps of chosen channels of a layer (concept relevance propagation, CRP).

    Each heatmap is the input relevance that flows through one channel of
    `layer`: LRP from the explained score down to the layer, every other
    channel's relevance set to zero there, then LRP on to the pixels
    (Achtibat et al. 2023). The heatmaps of all channels add up to
    `kv.lrp(model, images, target, rule=rule)` when every path from the
    input to the output crosses `layer`; relevance that bypasses the layer (a
    skip connection around it) is in none of them.

    Args:
        model: a Keras CNN that `kv.lrp` supports (never changed).
        images: `(N, H, W, C)` or `(H, W, C)` in the model's input space.
        target: None (predicted class), an int, one int per image, or a
            callable `score(outputs) -> (N,)`.
        layer: the layer whose channels are the concepts (name, path, index or
            Layer), with an `(N, h, w, channels)` or `(N, channels)` output
            that carries relevance (not a BatchNorm folded into the layer
            before it); None: the last convolution.
        filters: channels to explain: an int, a list (negative indices count
            from the end), or None for every channel.
        top: explain only the `top` most relevant of those channels for each
            image (one extra pass to the layer first); the heatmaps are then
            ordered by relevance and `filters` differs per image.
        rule, epsilon, gamma, alpha, beta, bounds: the LRP rules, as in `kv.lrp`.
        output: which output of a multi-output model (index or name).
        batch_size: images per compiled call of the pass that ranks channels for `top`.
        filter_batch_size: heatmaps ((image, channel) pairs) per compiled call;
            bounds memory like `kv.lrp`'s `batch_size`.
        progress: show a progress bar.

    Returns:
        `ConceptRelevance`: `.heatmaps` `(N, K, H, W, C)`, `.filters` `(N, K)`,
        `.relevance` `(N, channels)` of every channel, `.filter_relevance`
        `(N, K)`, `.share`, `.scores`, `.targets` (batch axis dropped for one image).

    Raises:
        KerasvizError: bad `layer` (unknown, no relevance, not a map or units),
            `filters` (not indices, out of range), `top`, `target`, `images`,
            LRP settings, or a result above 1 GiB (choose fewer `filters` or `top`).

    Example:
        >>> r = kv.crp(net, x_test[0], layer="conv2", top=4)
        >>> r.heatmaps.shape, r.filters                    # (4, 28, 28, 1), the 4 most relevant channels
        >>> kv.plot_crp(r, x_test[0])
    """
    check_model(model)
    spec, key, shape = check_layer(model, _last_convolution(model) if layer is None else layer)
    channels = int(shape[-1])
    chosen = np.asarray(check_indices(filters, "filters", size=channels), np.int64)
    if top is not None:
        top = check_int(top, "top", minimum=1)
    batch_size = check_batch_size(batch_size)
    filter_batch_size = check_int(filter_batch_size, "filter_batch_size", minimum=1)
    x, single = check_images(model, images, "images", single=True)
    with argument_errors("layer"):
        step = layer_lrp(
            model,
            spec,
            rule=rule,
            epsilon=epsilon,
            gamma=gamma,
            alpha=alpha,
            beta=beta,
            bounds=bounds,
            output=output,
            score=target if callable(target) else None,
        )
    n = int(x.shape[0])
    with argument_errors("target"):
        targets = target_vector(None if callable(target) else target, n, step.num_outputs, allow_predicted=True)
    count = len(chosen) if top is None else min(top, len(chosen))
    size = 4 * n * count * int(np.prod(x.shape[1:]))
    if size > _HEATMAP_BYTES_LIMIT:
        raise InvalidArgumentError(
            f"`filters`: {n} images x {count} channels of heatmaps would take {size / 2**30:.1f} GiB; explain "
            f"fewer channels (`filters=[...]` or `top=`) or fewer images per call."
        )

    steps = (-(-n // batch_size) if top is not None else 0) + -(-n * count // filter_batch_size)
    with progress_bar(steps, f"CRP {key}", progress and steps > 1) as bar:
        relevance = None
        if top is not None:
            relevance = _channel_relevance(model, step, x, targets, batch_size, bar)
            order = np.argsort(-relevance[:, chosen], axis=1, kind="stable")[:, :count]
            per_image = chosen[order]
        else:
            per_image = np.broadcast_to(chosen, (n, count))
        heatmaps, scores, classes, rows_relevance = _heatmaps(
            model, step, x, targets, per_image, channels, filter_batch_size, bar
        )
    if relevance is None:
        relevance = rows_relevance
    result = ConceptRelevance(
        heatmaps=heatmaps,
        filters=np.ascontiguousarray(per_image),
        relevance=relevance.astype(np.float32),
        scores=scores,
        targets=classes,
        layer=key,
        rule=step.setup.composite.name,
    )
    if single:
        result = ConceptRelevance(
            heatmaps=heatmaps[0],
            filters=result.filters[0],
            relevance=result.relevance[0],
            scores=scores[0],
            targets=classes[0],
            layer=key,
            rule=result.rule,
        )
    return result


def _last_convolution(model) -> str:
    found = conv_layers(model)
    if not found:
        raise InvalidArgumentError(f"`layer`: model {model.name!r} has no convolution to default to; name a layer.")
    return found[-1]


def _channel_relevance(model, step: LayerLRP, x, targets, batch_size: int, bar) -> np.ndarray:
    """`(N, channels)` relevance of every channel, in chunks (backward pass only down to the layer)."""
    run = layer_step(model, step)
    parts = []
    for s in range(0, int(x.shape[0]), batch_size):
        parts.append(run(x[s : s + batch_size], tf.constant(targets[s : s + batch_size]))[2].numpy())
        bar.update(1)
    return np.concatenate(parts)


def _heatmaps(model, step: LayerLRP, x, targets, per_image: np.ndarray, channels: int, rows_per_call: int, bar):
    """Conditional heatmaps of `per_image[n, j]` for every image, `rows_per_call` (image, channel) pairs per call."""
    n, count = per_image.shape
    run = _conditional_step(model, step)
    heatmaps = np.empty((n, count) + tuple(x.shape[1:]), np.float32)
    scores, classes = np.empty(n, np.float32), np.empty(n, np.int32)
    relevance = np.empty((n, channels), np.float32)
    flat_channels = per_image.reshape(-1)
    for start in range(0, n * count, rows_per_call):
        rows = np.arange(start, min(start + rows_per_call, n * count))
        image = rows // count
        first, last = int(image[0]), int(image[-1])
        masks = np.zeros((len(rows), channels), np.float32)
        masks[np.arange(len(rows)), flat_channels[rows]] = 1.0
        out = run(
            x[first : last + 1], tf.constant(image - first, tf.int32), tf.constant(targets[image]), tf.constant(masks)
        )
        row_scores, row_classes, maps, row_relevance = (t.numpy() for t in out)
        heatmaps.reshape((n * count,) + heatmaps.shape[2:])[rows] = maps
        scores[image], classes[image], relevance[image] = row_scores, row_classes, row_relevance
        bar.update(1)
    return heatmaps, scores, classes, relevance
