"""Grad-CAM (Selvaraju et al. 2017), Grad-CAM++ (Chattopadhay et al. 2018) and
guided Grad-CAM.

Grad-CAM weighs each feature map A^k of a late conv layer by the spatial mean
of d S_c / d A^k and keeps the positive part of the weighted sum. Everything
is per image (averaging gradients over the batch axis would be right only for
a batch of one), on logits, and with plain gradients (guided gradients would
not be Grad-CAM).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from kerasviz._config import progress_bar
from kerasviz.attribution._common import (
    accumulate_gradients,
    check_reduce,
    check_rows,
    finish,
    prepare,
    reduce_channels,
    step_for,
)
from kerasviz.core.errors import UnsupportedLayerError
from kerasviz.core.feature_maps import Reshape, check_map_layer, map_layers, position_axes, reshaped, upsample_maps
from kerasviz.core.gradients import compile_function, gradient_step, require_graph
from kerasviz.core.graph import cache, check_model
from kerasviz.core.inputs import batches, chunk_count
from kerasviz.core.layers import LayerSpec, find_layer, layer_path, output_shape
from kerasviz.core.layout import compile_options, is_channels_first
from kerasviz.core.model_inputs import InputSpec
from kerasviz.core.outputs import OutputSpec
from kerasviz.core.targets import Target, target_errors, target_scores
from kerasviz.core.validate import check_bool


def _map_size(model, layer) -> tuple:
    """The position sizes of a layer's feature map (`(h, w)`, `(t,)`), whatever the model's layout."""
    shape = output_shape(layer)
    if is_channels_first(model) and len(shape) == 4:
        return tuple(shape[2:4])
    return tuple(shape[1:-1])


def default_cam_layer(model: keras.Model, input: InputSpec = None) -> str:
    """Path of the last feature-map layer whose positions exceed 1 (1x1 for images).

    Feature maps have the explained input's position axes: `(N, h, w, c)` in
    an image model, `(N, t, c)` in a 1-D one (`core.feature_maps.map_layers`).

    Raises:
        UnsupportedLayerError: the model has no such layer (e.g. an MLP).
        UnsupportedModelError: a subclassed model (its layers cannot be reached).
    """
    from kerasviz.core.feature_maps import position_rank

    check_model(model)
    require_graph(model, "Grad-CAM")
    rank = position_rank(model, input)
    for path in reversed(map_layers(model, rank)):
        if any(v is None or v > 1 for v in _map_size(model, find_layer(model, path))):
            return path
    what = "4-D output larger than 1x1" if rank == 2 else f"feature map of {rank} position axes larger than 1"
    raise UnsupportedLayerError(
        f"Model {model.name!r} has no layer with a {what}; Grad-CAM needs a feature map (`layer`)."
    )


def _cam_layer(model, layer: LayerSpec | None, reshape: Reshape = None, input: InputSpec = None):
    """`(path, reshape)`: the checked CAM layer and its token reshape (None for feature maps)."""
    from kerasviz.core.feature_maps import check_reshape, position_rank

    check_model(model)
    require_graph(model, "Grad-CAM")
    if layer is None:
        if check_reshape(reshape) is not None:
            raise UnsupportedLayerError("`reshape` lays out a token layer: name it with `layer=`.")
        return default_cam_layer(model, input), None
    found, reshape = check_map_layer(
        model, layer, reshape=reshape, purpose="Grad-CAM", rank=position_rank(model, input)
    )
    return (layer if isinstance(layer, str) else layer_path(model, found)), reshape


def _gradcam_weights(acts: tf.Tensor, grads: tf.Tensor) -> tf.Tensor:
    return tf.reduce_mean(grads, axis=position_axes(grads))


def _gradcam_pp_weights(acts: tf.Tensor, grads: tf.Tensor) -> tf.Tensor:
    # With Y = exp(S) on a piecewise-linear net the higher derivatives are Y g^2, Y g^3;
    # Y cancels in alpha and only rescales the weights (undone by normalisation).
    axes = position_axes(grads)
    g2 = tf.square(grads)
    denominator = 2 * g2 + tf.reduce_sum(acts, axis=axes, keepdims=True) * g2 * grads
    alpha = tf.math.divide_no_nan(g2, denominator)
    return tf.reduce_sum(alpha * tf.nn.relu(grads), axis=axes)


WEIGHTINGS = {"grad_cam": _gradcam_weights, "grad_cam_plus_plus": _gradcam_pp_weights}


class CamStep:
    """One compiled `(x, targets, side) -> maps` for a model, layer, weighting, output and options.

    Forward to the scores, backward only to the layer, then the channel
    weights, weighted sum, ReLU, resize and normalisation, all in the graph:
    the host only converts the result to numpy. The tapped feature map is
    channels last and float32 whatever the model's layout and precision; a
    token layer is laid out as a grid by `reshape` (activations and
    gradients alike, as pytorch-grad-cam's `reshape_transform`).
    """

    def __init__(
        self,
        model,
        path: str,
        score,
        weighting: str,
        relu: bool,
        normalize: bool,
        upsample: bool,
        output: int = 0,
        reshape: Reshape = None,
        input: int = 0,
    ):
        step = gradient_step(model, (path,), score=score, output=output, input=input)  # shares its rebuilt tap
        self.tap, self.key, self.num_outputs, self.feed = step.tap, step.keys[0], step.num_outputs, step.feed
        self.score, self.weigh, self.reshape = score, WEIGHTINGS[weighting], reshape
        self.relu, self.normalize, self.upsample = relu, normalize, upsample
        self._run = compile_function(self._compute, **compile_options(model))

    def _compute(self, x, targets, side):
        with tf.GradientTape() as tape:
            out = self.tap(self.feed.inputs(x, side), training=False)
            acts = out[self.key]
            scores, _ = target_scores(out["__output__"], targets, self.score)
        grads = reshaped(tf.cast(tape.gradient(scores, acts), tf.float32), self.reshape)
        acts = reshaped(tf.cast(acts, tf.float32), self.reshape)
        weights = self.weigh(acts, grads)
        cam = tf.reduce_sum(acts * tf.reshape(weights, [-1] + [1] * (len(acts.shape) - 2) + [weights.shape[-1]]), -1)
        if self.relu:
            cam = tf.nn.relu(cam)
        if self.upsample:
            cam = upsample_maps(cam, tf.shape(x)[1:-1])
        if self.normalize:
            peak = tf.reduce_max(tf.abs(cam), axis=position_axes(cam[..., None]), keepdims=True)
            cam = tf.math.divide_no_nan(cam, peak)
        return cam

    def __call__(self, x, targets, side=None):
        values = self.feed.values(side)
        with target_errors():
            return self._run(x, tf.convert_to_tensor(targets, tf.int32), values)


def _class_activation_map(
    model,
    images,
    target,
    layer,
    weighting,
    *,
    relu,
    normalize,
    upsample,
    batch_size,
    output,
    progress,
    reshape=None,
    input=None,
):
    relu, normalize = check_bool(relu, "relu"), check_bool(normalize, "normalize")
    upsample, progress = check_bool(upsample, "upsample"), check_bool(progress, "progress")
    path, reshape = _cam_layer(model, layer, reshape, input)
    p = prepare(model, images, target, output, input)
    batch_size = check_rows(model, p.x, batch_size, len(p.x), "batch_size")
    maps = _cam_maps(model, p, path, weighting, relu, normalize, upsample, batch_size, progress, reshape)
    return finish(maps, p.single)


def _cam_maps(model, p, path, weighting, relu, normalize, upsample, batch_size, progress, reshape=None) -> np.ndarray:
    score = p.targets if callable(p.targets) else None
    key = ("cam_step", path, score, weighting, relu, normalize, upsample, p.output, reshape, p.input)
    step = cache.get(
        model,
        key,
        lambda: CamStep(model, path, score, weighting, relu, normalize, upsample, p.output, reshape, p.input),
    )
    targets = np.full(len(p.x), -1, np.int32) if score is not None else p.targets
    parts = []
    with progress_bar(chunk_count(len(p.x), batch_size), weighting.replace("_", " "), progress) as bar:
        for s in batches(len(p.x), batch_size):
            parts.append(step(p.x[s], targets[s], p.side[s]).numpy())
            bar.update(1)
    return np.concatenate(parts)


def grad_cam(
    model: keras.Model,
    images,
    target: Target = None,
    *,
    layer: LayerSpec | None = None,
    output: OutputSpec = None,
    input: InputSpec = None,
    reshape: Reshape = None,
    relu: bool = True,
    normalize: bool = True,
    upsample: bool = True,
    batch_size: int = 32,
    progress: bool = True,
) -> np.ndarray:
    """Grad-CAM heatmaps.

    Args:
        model: a Keras image model (never changed); nested and channels-first
            models work (subclassed ones cannot: their layers are unreachable).
        images: `(H, W, C)` or `(N, H, W, C)` in the model's input space
            (channels first for a channels-first model); signals `(T, C)` /
            `(N, T, C)` for a 1-D model (the map is then over time).
        target: None (predicted class), an int, a list of ints, or a callable.
        layer: the feature-map layer (name, "outer/inner" path, index, Layer);
            default the last 4-D layer larger than 1x1 (`default_cam_layer`;
            the last `(N, t, c)` layer of a 1-D model). A Dense, Flatten or
            global pooling layer is refused.
        output: which output of a multi-output model (index, name or dict key).
        input: which input of a multi-input model is explained (index or name;
            default the image input); the others, given in `images`, are held fixed.
        reshape: for a token layer `(N, tokens, c)` (a vision transformer),
            `(h, w)` lays its last `h * w` tokens out as a grid (dropping a
            class token in front), or a callable `tokens -> (N, h, w, c)`
            applied to the activations and their gradients alike, as
            pytorch-grad-cam's `reshape_transform` (`core.feature_maps`).
        relu: keep only positive evidence (the paper).
        normalize: divide each map by its maximum, giving [0, 1].
        upsample: resize bilinearly to the input size.
        batch_size: images per compiled call.
        progress: show a progress bar (when there is more than one batch).

    Returns:
        `(N, H, W)` float32 in [0, 1] with the defaults (`(N, h, w)` at the
        layer's size with `upsample=False`; `(N, T)` for signals); batch axis
        dropped for one image.

    Raises:
        KerasvizError: bad images, target, output, layer or settings (named).

    Example:
        >>> cam = kv.grad_cam(vgg, x, layer="block5_conv3")
    """
    return _class_activation_map(
        model,
        images,
        target,
        layer,
        "grad_cam",
        relu=relu,
        normalize=normalize,
        upsample=upsample,
        batch_size=batch_size,
        output=output,
        progress=progress,
        reshape=reshape,
        input=input,
    )


def grad_cam_plus_plus(
    model: keras.Model,
    images,
    target: Target = None,
    *,
    layer: LayerSpec | None = None,
    output: OutputSpec = None,
    input: InputSpec = None,
    reshape: Reshape = None,
    relu: bool = True,
    normalize: bool = True,
    upsample: bool = True,
    batch_size: int = 32,
    progress: bool = True,
) -> np.ndarray:
    """Grad-CAM++: pixel-wise weighted positive gradients (better for several instances).

    `alpha = g^2 / (2 g^2 + sum_ab A_ab g^3)`, `w_k = sum_ij alpha_ij relu(g_ij)`,
    map `= relu(sum_k w_k A^k)`. Arguments, output and errors as `grad_cam`.

    Example:
        >>> cam = kv.grad_cam_plus_plus(model, images)
    """
    return _class_activation_map(
        model,
        images,
        target,
        layer,
        "grad_cam_plus_plus",
        relu=relu,
        normalize=normalize,
        upsample=upsample,
        batch_size=batch_size,
        output=output,
        progress=progress,
        reshape=reshape,
        input=input,
    )


def guided_grad_cam(
    model: keras.Model,
    images,
    target: Target = None,
    *,
    layer: LayerSpec | None = None,
    output: OutputSpec = None,
    input: InputSpec = None,
    reshape: Reshape = None,
    reduce: str | None = None,
    batch_size: int = 32,
    progress: bool = True,
) -> np.ndarray:
    """Guided Grad-CAM: guided backprop times the upsampled Grad-CAM map.

    Args: as `grad_cam`, plus `reduce` (None keeps channels; "max_abs",
    "sum_abs", "sum", "mean", "l2").

    Returns:
        signed float32 with the images' shape (or `(N, H, W)` when reduced).

    Example:
        >>> ggc = kv.guided_grad_cam(model, images, reduce="sum_abs")
    """
    reduce, progress = check_reduce(reduce), check_bool(progress, "progress")
    path, reshape = _cam_layer(model, layer, reshape, input)
    p = prepare(model, images, target, output, input)
    batch_size = check_rows(model, p.x, batch_size, len(p.x), "batch_size")
    step = step_for(model, p.targets, rule="guided", output=p.output, input=p.input)
    gbp = accumulate_gradients(
        step,
        lambda rows: tf.gather(p.x, rows),
        len(p.x),
        lambda rows: rows,
        lambda rows: np.ones(len(rows), np.float32),
        len(p.x),
        p.targets,
        batch_size=batch_size,
        progress=progress,
        desc="guided",
        side=p.side,
    )
    cam = _cam_maps(model, p, path, "grad_cam", True, True, True, batch_size, progress, reshape)
    return finish(reduce_channels(gbp * cam[..., None], reduce), p.single, model)
