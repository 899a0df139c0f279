"""Relevance maximization (Achtibat et al. 2023): each channel's reference images ranked by relevance.

`kv.top_activating` shows the images that excite a channel most (activation
maximization); relevance maximization shows the images in which the channel
matters most for the explained class: per image and channel, the LRP
relevance of the layer's output summed over positions ("sum") or at its most
relevant position ("max"), divided by the summed |relevance| of all the
layer's channels (zennit-crp's `abs_norm`), so that images whose logit is
large do not win by scale alone. The patch of an image is the receptive field
of the channel's most relevant position.

The scan is `top_activating`'s: one pass over any data source
(`dataset.streaming.data_source`), one compiled step per batch whose backward
pass stops at the layer, and a running top-k per channel on the device, so
memory is O(channels x k) whatever the dataset size. The result is a
`TopRelevant`, a `kv.TopActivating` whose `values` are relevance, so its
`.patches`, `.images()` and `kv.plot_top_activating` work unchanged.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from kerasviz._config import progress_bar
from kerasviz.concepts._common import argument_errors, check_layer, check_model
from kerasviz.concepts.crp import layer_step
from kerasviz.core.errors import InvalidArgumentError
from kerasviz.core.gradients import compile_function
from kerasviz.core.graph import cache
from kerasviz.core.targets import target_vector
from kerasviz.core.validate import check_choice, check_int
from kerasviz.dataset.receptive_field import METHODS, receptive_field
from kerasviz.dataset.streaming import data_source
from kerasviz.dataset.topk import TopActivating, reachable_frame, whole_image
from kerasviz.lrp import layer_lrp


@dataclass
class TopRelevant(TopActivating):
    """The top-k images of every channel of a layer by relevance (a `kv.TopActivating`; numpy, on the host).

    Attributes (besides `kv.TopActivating`'s `indices`, `locations`, `boxes`,
    `labels`, `receptive_field`, `count`, `.patches`, `.images()`, `.crops()`):
        values: `(channels, k)` the ranking relevance of each top image.
        targets: `(channels, k)` the class explained for each top image (-1: a callable target).
        rule: the LRP composite's name.
        reduce: "sum" or "max" over positions.
        normalize: whether values were divided by the summed |relevance| of all channels.
    """

    targets: np.ndarray | None = None
    rule: str = ""
    reduce: str = "sum"
    normalize: bool = True


@tf.function(reduce_retracing=True)
def _merge(state, values, positions, classes, offset, labels, k):
    """Running top-k per channel: the kept ones (older images first), then the batch in order.

    `tf.math.top_k` breaks ties by the lower position, so the result is a
    stable sort by decreasing value over every image seen so far.
    """
    n = tf.shape(values)[0]
    channels = tf.shape(state[0])[0]
    index = offset + tf.range(tf.cast(n, tf.int64), dtype=tf.int64)
    batch = (
        tf.transpose(values),
        tf.broadcast_to(index[None], (channels, n)),
        tf.transpose(positions),
        tf.broadcast_to(labels[None], (channels, n)),
        tf.broadcast_to(classes[None], (channels, n)),
    )
    candidates = [tf.concat([kept, new], 1) for kept, new in zip(state, batch)]
    best = tf.math.top_k(candidates[0], k=tf.minimum(k, tf.shape(candidates[0])[1]), sorted=True).indices
    return tuple(tf.gather(c, best, batch_dims=1) for c in candidates)


def _ranking_step(model, step, reduce: str, normalize: bool):
    """Compiled `(images, targets) -> (values (n, channels), positions (n, channels), classes (n,))` (cached)."""
    layer_run = layer_step(model, step)

    def run(images, targets):
        _, classes, total, peak, where = layer_run(images, targets)
        values = total if reduce == "sum" else peak
        if normalize:
            values = values / (tf.reduce_sum(tf.abs(values), axis=1, keepdims=True) + 1e-10)
        return values, where, classes

    key = ("relevance_maximization", step.setup.key, step.path, step.score, reduce, normalize)
    return cache.get(model, key, lambda: compile_function(run))


def _batch_targets(target, batch, source, num_outputs: int) -> np.ndarray:
    n = int(batch.images.shape[0])
    if isinstance(target, str):
        if batch.labels is None:
            raise InvalidArgumentError(
                f"`target`='labels' needs labels; images {batch.offset}..{batch.offset + n - 1} of `data` have none "
                "(give (images, labels), `labels=`, or a dataset of (images, labels))."
            )
        if (batch.labels >= num_outputs).any():
            raise InvalidArgumentError(
                f"`target`='labels': label {int(batch.labels.max())} is out of range for {num_outputs} classes."
            )
        return batch.labels.astype(np.int32)
    if isinstance(target, np.ndarray) and target.ndim == 1:
        return target[batch.offset : batch.offset + n]
    return np.broadcast_to(np.asarray(target, np.int32), (n,))


def _check_target(target, source, num_outputs: int):
    """The target as data: "labels", an int32 scalar or a per-image vector (-1: predicted class)."""
    if isinstance(target, str):
        if target != "labels":
            raise InvalidArgumentError(
                f"`target` must be None, a class, one class per image, 'labels' or a callable; got {target!r}."
            )
        if source.indexable and source.labels is None:
            raise InvalidArgumentError(
                "`target`='labels' needs labels: give `data` as (images, labels) or pass `labels=`."
            )
        return target
    if target is None or callable(target):
        return np.int32(-1)
    values = np.asarray(target)
    if values.ndim == 0:
        with argument_errors("target"):
            return target_vector(target, 1, num_outputs, allow_predicted=True)[0]
    if not source.indexable:
        raise InvalidArgumentError(
            "`target` with one class per image needs array data; give one int, None or 'labels' for a stream."
        )
    with argument_errors("target"):
        return target_vector(target, source.count, num_outputs, allow_predicted=True)


def relevance_maximization(
    model: keras.Model,
    layer,
    data=None,
    *,
    k: int = 9,
    target=None,
    labels=None,
    rule="epsilon",
    epsilon: float | None = None,
    gamma: float | None = None,
    alpha: float | None = None,
    beta: float | None = None,
    bounds=None,
    output=None,
    reduce: str = "sum",
    normalize: bool = True,
    batch_size: int = 64,
    field_method: str = "auto",
    progress: bool = True,
) -> TopRelevant:
    """The k images of `data` in which each channel of `layer` is most relevant, with their patches.

    Relevance maximization (Achtibat et al. 2023): where activation
    maximization (`kv.top_activating`) shows what excites a channel, this shows
    how the network uses it. Per image and channel the score is the channel's
    LRP relevance for the image's target (see the module docstring).

    Args:
        model: a Keras CNN that `kv.lrp` supports (never changed).
        layer: a layer with an `(N, h, w, channels)` or `(N, channels)` output that carries relevance.
        data: images `(N, H, W, C)` (array or tensor), `(images, labels)`, a
            list of batches, a `tf.data.Dataset` or a generator of batches
            (as `kv.top_activating`).
        k: images kept per channel (clamped to the number of images, with a warning).
        target: the class explained in each image: None (its predicted class),
            an int, one int per image (array data), "labels" (its label, as
            zennit-crp), or a callable `score(outputs) -> (N,)`.
        labels: `(N,)` integer labels for array data.
        rule, epsilon, gamma, alpha, beta, bounds: the LRP rules, as in `kv.lrp`.
        output: which output of a multi-output model (index or name).
        reduce: "sum" (the channel's relevance) or "max" (its most relevant position).
        normalize: divide by the summed |relevance| of all channels of the layer.
        batch_size: images per compiled call (bounds memory).
        field_method: how to find the receptive field, as in `kv.top_activating`.
        progress: show a progress bar.

    Returns:
        `TopRelevant`: `.indices`, `.values` (relevance), `.locations` (most
        relevant position), `.boxes`, `.targets`, `.labels` `(channels, k[, ...])`,
        `.patches` `(channels, k, ph, pw, C)`.

    Raises:
        KerasvizError: bad `layer`, `data`, `k`, `target`, `reduce`, LRP settings or `batch_size`.

    Example:
        >>> rel = kv.relevance_maximization(net, "conv2", (x_test, y_test), target="labels")
        >>> act = kv.top_activating(net, "conv2", x_test)
        >>> kv.plot_relevance_maximization(rel, filters=range(6), activating=act)
    """
    check_model(model)
    spec, key, shape = check_layer(model, layer)
    k = check_int(k, "k", minimum=1)
    reduce = check_choice(reduce, "reduce", ("sum", "max"))
    field_method = check_choice(field_method, "field_method", METHODS)
    if not isinstance(normalize, (bool, np.bool_)):
        raise InvalidArgumentError(f"`normalize` must be True or False; got {normalize!r}.")
    source = data_source(data, model, batch_size=batch_size, labels=labels)
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
    target = _check_target(target, source, step.num_outputs)
    if source.count is not None and k > source.count:
        warnings.warn(
            f"k={k} but `data` holds {source.count} images; keeping the top {source.count} per channel.", stacklevel=2
        )
        k = source.count
    run = _ranking_step(model, step, reduce, bool(normalize))
    channels = step.channels
    state = (
        tf.zeros((channels, 0), tf.float32),
        tf.zeros((channels, 0), tf.int64),
        tf.zeros((channels, 0), tf.int32),
        tf.zeros((channels, 0), tf.int64),
        tf.zeros((channels, 0), tf.int32),
    )
    kept: dict = {}
    count, any_labels, k_tensor = 0, False, tf.constant(k, tf.int32)
    with progress_bar(source.num_batches, f"relevance top-{k} {key}", progress) as bar:
        for batch in source:
            n = int(batch.images.shape[0])
            targets = _batch_targets(target, batch, source, step.num_outputs)
            values, positions, classes = run(batch.images, tf.constant(targets, tf.int32))
            any_labels = any_labels or batch.labels is not None
            lab = tf.constant(-1 if batch.labels is None else batch.labels, tf.int64, shape=(n,))
            state = _merge(state, values, positions, classes, tf.constant(batch.offset, tf.int64), lab, k_tensor)
            if not source.indexable:
                _keep(kept, state[1].numpy(), batch)
            count += n
            bar.update(1)
    if k > count:
        warnings.warn(f"k={k} but only {count} images were scanned; keeping the top {count} per channel.", stacklevel=2)
    values, indices, positions, top_labels, classes = (t.numpy() for t in state)
    image_size = source.image_size
    if len(shape) == 3:
        probes = np.stack(
            [
                source.image(i) if source.indexable else np.asarray(kept[i], np.float32)
                for i in sorted(set(indices[:, 0].tolist()))[:2]
            ]
        )
        rf = receptive_field(model, spec, input_size=image_size, method=field_method, probes=probes)
        width = int(shape[1])
    else:
        rf, width = whole_image(image_size), 1
    locations = np.stack(np.divmod(positions.astype(np.int64), width), axis=-1)
    return TopRelevant(
        layer=key,
        indices=indices,
        values=values,
        locations=locations,
        boxes=rf.boxes(locations),
        labels=top_labels if any_labels and (top_labels >= 0).all() else None,
        receptive_field=rf,
        count=count,
        frame=reachable_frame(rf),
        _source=source if source.indexable else kept,
        targets=classes,
        rule=step.setup.composite.name,
        reduce=reduce,
        normalize=bool(normalize),
    )


def _keep(kept: dict, indices: np.ndarray, batch) -> None:
    """Host copies (in the data's own dtype) of the images some channel keeps: streams cannot be read again."""
    wanted = set(np.unique(indices).tolist())
    for index in [i for i in kept if i not in wanted]:
        del kept[index]
    n = int(batch.images.shape[0])
    for index in wanted:
        if batch.offset <= index < batch.offset + n and index not in kept:
            kept[index] = np.asarray(batch.raw[index - batch.offset]).reshape(batch.images.shape[1:])
