"""Perturbation CAMs: Score-CAM (Wang et al. 2020) and Ablation-CAM (Desai & Ramaswamy 2020).

Both weigh the feature maps `A^k` of a layer by how the target score reacts
when the network sees only (Score-CAM) or loses (Ablation-CAM) one channel,
instead of by gradients. Each costs one forward pass per channel; all of them
(every channel of every image) are streamed through one compiled function in
chunks of `mask_batch_size` rows, with the masked or ablated rows built
in-graph, so memory is bounded by the chunk whatever the channel count.

Ablation-CAM does not rerun the layers before the cut: the ablated value goes
through the part of the model after the layer only (`core.heads.layer_head`),
which for VGG16's block5_conv3 is a small fraction of a full forward pass.

With `precision="bfloat16"` (or, for Score-CAM, "auto" on hardware that runs it
natively) the many perturbed passes run on the model's bfloat16 variant
(`kerasviz.core.precision.perturbation_variant`), whose classifier head
stays float32 so that the scores are float32 sums; the feature maps, the
clean scores and the weighting are computed in float32.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from kerasviz._config import progress_bar
from kerasviz.attribution.cams import finish_cam
from kerasviz.attribution.support import (
    check_batch_size,
    feature_map_layer,
    finish,
    prepare,
    stream_scores,
    upsample,
)
from kerasviz.core.gradients import compile_function
from kerasviz.core.graph import cache, tap_model
from kerasviz.core.heads import layer_head
from kerasviz.core.inputs import batches
from kerasviz.core.layers import LayerSpec
from kerasviz.core.layout import compile_options
from kerasviz.core.outputs import OutputSpec
from kerasviz.core.precision import check_precision, perturbation_variant, to_float32, variant_layer
from kerasviz.core.targets import Target, target_scores
from kerasviz.core.validate import check_choice, check_int


class LayerScores:
    """One compiled forward pass `(x, classes) -> (layer output, target scores, classes)`:
    the clean scores (-1 resolved to the predicted class) and the feature maps together."""

    def __init__(self, model, path, score, output, probabilities):
        self.tap, (self.key,) = tap_model(model, [path], output=output)
        self.score, self.probabilities = score, probabilities
        self._run = compile_function(self._compute, **compile_options(model))  # XLA for channels first on CPU

    def _compute(self, x, classes):
        out = self.tap(x, training=False)
        scores, chosen = target_scores(out["__output__"], classes, self.score, probabilities=self.probabilities)
        return tf.cast(out[self.key], tf.float32), scores, chosen

    def __call__(self, x, targets, batch_size: int):
        classes = np.full(len(x), -1, np.int32) if callable(targets) else targets
        parts = [self._run(x[s], tf.constant(classes[s])) for s in batches(len(x), batch_size)]
        acts = tf.concat([p[0] for p in parts], axis=0)
        chosen = np.concatenate([p[2].numpy() for p in parts]).astype(np.int32)
        return acts, (targets if callable(targets) else chosen)


def layer_scores(model, path, targets, output, probabilities=False) -> LayerScores:
    score = targets if callable(targets) else None
    key = ("layer_scores", path, score, output, bool(probabilities))
    return cache.get(model, key, lambda: LayerScores(model, path, score, output, probabilities))


@tf.function(reduce_retracing=True)
def _score_cam_rows(x, acts, image_ids, channel_ids):
    """`x[i] * H_k` with `H_k` the upsampled channel map min-max scaled to [0, 1]
    (a constant channel gives a zero mask)."""
    maps = tf.gather_nd(tf.transpose(acts, (0, 3, 1, 2)), tf.stack([image_ids, channel_ids], 1))
    maps = upsample(maps, tf.shape(x)[1:3])
    low = tf.reduce_min(maps, axis=(1, 2), keepdims=True)
    high = tf.reduce_max(maps, axis=(1, 2), keepdims=True)
    masks = tf.math.divide_no_nan(maps - low, high - low)
    return tf.gather(x, image_ids) * masks[..., None]


def _channels(acts: np.ndarray, max_channels: int | None) -> np.ndarray:
    """`(N, K')` channel indices per image: all, or the `max_channels` with the
    largest spatial standard deviation (Faster Score-CAM), in channel order."""
    n, k = acts.shape[0], acts.shape[-1]
    if max_channels is None or max_channels >= k:
        return np.tile(np.arange(k), (n, 1))
    spread = acts.reshape(n, -1, k).std(axis=1)
    top = np.argsort(-spread, axis=1, kind="stable")[:, :max_channels]
    return np.sort(top, axis=1)


def _combine(acts: np.ndarray, channels: np.ndarray, weights: np.ndarray) -> tf.Tensor:
    """`sum_k weights[n, j] * A[n, :, :, channels[n, j]]` as `(N, h, w)`."""
    chosen = np.take_along_axis(acts, channels[:, None, None, :], axis=-1)
    return tf.constant(np.einsum("nhwk,nk->nhw", chosen, weights).astype(np.float32))


def score_cam(
    model: keras.Model,
    images,
    target: Target = None,
    *,
    layer: LayerSpec | None = None,
    output: OutputSpec = None,
    weighting: str = "softmax",
    max_channels: int | None = None,
    relu: bool = True,
    normalize: bool = True,
    upsample: bool = True,
    mask_batch_size: int = 16,
    precision: str = "auto",
    progress: bool = True,
) -> np.ndarray:
    """Score-CAM: each channel weighted by the score of the image seen through it.

    For each channel k, its map is upsampled to the input size, scaled to
    [0, 1] (min-max) and multiplied into the image; the target score of that
    masked image gives the weight `a_k`; the map is `relu(sum_k a_k A^k)`.

    Conventions (the references differ): `weighting="softmax"` (default, as
    pytorch-grad-cam and torch-cam) takes the target LOGIT of each masked
    image and a softmax over channels, so a constant score offset cancels;
    `weighting="probability"` uses the class probability of each masked image
    as is (Wang et al.'s code). The mask is upsampled before its min-max
    (pytorch-grad-cam, the original code), bilinearly with half-pixel
    centres (pytorch-grad-cam uses align_corners=True, so values differ
    slightly at the borders). A constant channel gives a zero mask.

    Args:
        model: a Keras image model (never changed).
        images: `(H, W, C)` or `(N, H, W, C)` in the model's input space
            (masked pixels become 0 there: black for [0, 1] images, the mean
            colour for caffe-preprocessed ones).
        target: None (class predicted on the clean image), an int, a list of
            ints (-1: predicted), or a callable `score(outputs) -> (N,)` (read
            as is; with "softmax" it is soft-maxed over channels).
        layer: the feature-map layer; default `default_cam_layer`.
        output: which output of a multi-output model (index or name).
        weighting: "softmax" or "probability" (see above).
        max_channels: keep only the channels with the largest spatial standard
            deviation (Faster Score-CAM, tf-keras-vis' `max_N`); None: all.
        relu, normalize, upsample: as `grad_cam`.
        mask_batch_size: masked images per compiled forward pass (bounds memory).
        precision: compute precision of the masked passes: "auto" (bfloat16
            where this machine runs it natively, see
            `kerasviz.core.precision.bfloat16_support`, else float32),
            "float32" or "bfloat16". The feature maps, the clean pass and the
            weighting stay float32; the masked scores come from bfloat16
            features summed in float32 by the classifier head.
        progress: show a progress bar.

    Returns:
        `(N, H, W)` float32 in [0, 1] with the defaults.

    Example:
        >>> cam = kv.score_cam(vgg, x, layer="block5_conv3", mask_batch_size=32)
    """
    weighting = check_choice(weighting, "weighting", ("softmax", "probability"))
    max_channels = check_int(max_channels, "max_channels", minimum=1, allow_none=True)
    mask_batch_size = check_batch_size(mask_batch_size, "mask_batch_size")
    precision = check_precision(precision)
    x, single, targets, out = prepare(model, images, target, output)
    path = feature_map_layer(model, layer)
    _, scoring = perturbation_variant(model, precision)
    probabilities = weighting == "probability" and not callable(targets)
    acts_t, targets = layer_scores(model, path, targets, out, probabilities)(x, targets, mask_batch_size)
    acts = acts_t.numpy()
    channels = _channels(acts, max_channels)
    n, kept = channels.shape
    image_ids = np.repeat(np.arange(n), kept).astype(np.int32)
    channel_ids = channels.reshape(-1).astype(np.int32)
    make_rows = lambda rows: _score_cam_rows(x, acts_t, tf.constant(image_ids[rows]), tf.constant(channel_ids[rows]))
    scores = (
        stream_scores(
            scoring,
            make_rows,
            image_ids,
            targets,
            out,
            probabilities=probabilities,
            batch_size=mask_batch_size,
            progress=progress,
            desc="score_cam",
        )
        .reshape(n, kept)
        .astype(np.float64)
    )
    if weighting == "softmax":
        scores = np.exp(scores - scores.max(axis=1, keepdims=True))
        scores /= scores.sum(axis=1, keepdims=True)
    cam = finish_cam(_combine(acts, channels, scores), tf.shape(x)[1:3], relu, normalize, upsample)
    return finish(cam.numpy(), single)


class AblationStep:
    """One compiled `(x rows, values, channels, classes) -> scores` over the head after the layer."""

    def __init__(self, model, path, score, output):
        from kerasviz.core.layers import find_layer

        self.head = layer_head(model, path, output=output)
        self.score = score
        # the maps arrive channels last; a channels-first layer's head reads them in its own layout
        self.channels_first = getattr(find_layer(model, path), "data_format", None) == "channels_first"
        self._run = compile_function(self._compute, **compile_options(model))  # XLA for channels first on CPU

    def _compute(self, x, values, channels, classes):
        # channel -1: nothing ablated (one_hot(-1) is all zeros): the clean score
        keep = 1.0 - tf.one_hot(channels, tf.shape(values)[-1], dtype=values.dtype)
        ablated = values * keep[:, None, None, :]
        if self.channels_first:
            ablated = tf.transpose(ablated, (0, 3, 1, 2))
        outputs = to_float32(self.head(x, tf.cast(ablated, self.head.model.inputs[-1].dtype)))
        return target_scores(outputs, classes, self.score)

    def __call__(self, x, values, channels, classes):
        return self._run(x, values, tf.constant(channels, tf.int32), tf.constant(classes, tf.int32))


def ablation_cam(
    model: keras.Model,
    images,
    target: Target = None,
    *,
    layer: LayerSpec | None = None,
    output: OutputSpec = None,
    relu: bool = True,
    normalize: bool = True,
    upsample: bool = True,
    mask_batch_size: int = 32,
    precision: str = "auto",
    progress: bool = True,
) -> np.ndarray:
    """Ablation-CAM: each channel weighted by the relative score drop when it is zeroed.

    `a_k = (y - y_k) / |y|`, with `y` the target logit and `y_k` the logit
    with channel k of the layer set to 0; the map is `relu(sum_k a_k A^k)`.
    Conventions: pytorch-grad-cam divides by `y` (every weight flips sign
    when the logit is negative) and ablates to `min - 1e7` when the layer
    has negative values; here the division is by `|y|` (by 1 when `y` is 0)
    and the channel is set to 0, the value a ReLU layer gives to an absent
    feature. On a GAP -> Dense head `a_k = w_k mean(A^k) / |y|`: unlike
    CAM, channels are also weighted by their mean activation.

    Only the layers after the cut run for each ablated channel (see the module
    docstring); a skip connection across the cut makes them read the image
    too.

    Args:
        model: a Keras image model (never changed).
        images: `(H, W, C)` or `(N, H, W, C)` in the model's input space.
        target: None (class predicted on the clean image), an int, a list of
            ints (-1: predicted), or a callable `score(outputs) -> (N,)`.
        layer: the feature-map layer; default `default_cam_layer`.
        output: which output of a multi-output model (index or name).
        relu, normalize, upsample: as `grad_cam`.
        mask_batch_size: ablated copies per compiled call (bounds memory).
        precision: compute precision of the ablated passes through the head:
            "auto" (float32, see below), "float32" or "bfloat16". The clean
            score is read through the same head, so both sides of each
            difference share the precision; the classifier head, the feature
            maps and the weighting stay float32. Unlike the other
            perturbation methods, "auto" stays float32 here: each weight is a
            difference of two nearly equal scores and the map sums hundreds
            of them, so bfloat16 rounding (a small bias in every weight, and
            noise once convolutions follow the layer) adds up to a visibly
            different map. Measured on an untrained VGG16 at 224 px, the
            bfloat16 map's Spearman correlation with float32 is 0.83 at
            block5_conv3 (where the head is Dense and bfloat16 saves
            nothing) and 0.42 at block4_conv3 (1.6x faster); on a LeNet
            trained on MNIST it is 0.9999. Use "bfloat16" after checking a
            map against float32 on your model.
        progress: show a progress bar.

    Returns:
        `(N, H, W)` float32 in [0, 1] with the defaults.

    Raises:
        UnsupportedLayerError: the layer is called more than once (shared).

    Example:
        >>> cam = kv.ablation_cam(vgg, x, layer="block5_conv3")
    """
    mask_batch_size = check_batch_size(mask_batch_size, "mask_batch_size")
    precision = check_precision(precision)
    x, single, targets, out = prepare(model, images, target, output)
    path = feature_map_layer(model, layer)
    score = targets if callable(targets) else None
    dtype, scoring = perturbation_variant(model, "float32" if precision == "auto" else precision)
    step = cache.get(
        model,
        ("ablation_step", path, score, out, dtype),
        lambda: AblationStep(scoring, variant_layer(model, scoring, path), score, out),
    )
    acts_t, _ = layer_scores(model, path, targets, out)(x, targets, mask_batch_size)
    n, k = acts_t.shape[0], acts_t.shape[-1]
    classes = np.full(n, -1, np.int32) if score is not None else targets
    clean, resolved = np.zeros(n, np.float64), np.zeros(n, np.int32)
    for s in batches(n, mask_batch_size):  # the clean scores through the head too (channel -1: none ablated)
        value, chosen = step(x[s], acts_t[s], np.full(s.stop - s.start, -1), classes[s])
        clean[s], resolved[s] = value.numpy(), chosen.numpy()
    classes = resolved
    if score is not None:
        classes = np.full(n, -1, np.int32)
    image_ids = np.repeat(np.arange(n), k).astype(np.int32)
    channel_ids = np.tile(np.arange(k), n).astype(np.int32)
    ablated = np.empty(n * k, np.float64)
    chunks = list(batches(n * k, mask_batch_size))
    with progress_bar(len(chunks), "ablation_cam", progress and len(chunks) > 1) as bar:
        for s in chunks:
            ids = tf.constant(image_ids[s])
            rows = tf.gather(x, ids) if step.head.needs_input else x[:0]
            ablated[s] = step(rows, tf.gather(acts_t, ids), channel_ids[s], classes[image_ids[s]])[0].numpy()
            bar.update(1)
    scale = np.where(np.abs(clean) > 0, np.abs(clean), 1.0)
    weights = (clean[:, None] - ablated.reshape(n, k)) / scale[:, None]
    channels = np.tile(np.arange(k), (n, 1))
    cam = finish_cam(_combine(acts_t.numpy(), channels, weights), tf.shape(x)[1:3], relu, normalize, upsample)
    return finish(cam.numpy(), single)
