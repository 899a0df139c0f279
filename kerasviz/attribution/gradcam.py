"""Grad-CAM (Selvaraju et al. 2017), Grad-CAM++ (Chattopadhay et al. 2018) and
guided Grad-CAM.

Grad-CAM weighs each feature map A^k of a late conv layer by the spatial mean
of d S_c / d A^k and keeps the positive part of the weighted sum. Everything
is per image (averaging gradients over the batch axis would be right only for
a batch of one), on logits, and with plain gradients (guided gradients would
not be Grad-CAM).
"""

from __future__ import annotations

from typing import Optional

import keras
import numpy as np
import tensorflow as tf

from kerasviz._config import progress_bar
from kerasviz.attribution._common import (
    accumulate_gradients, check_reduce, check_rows, finish, prepare, reduce_channels, step_for,
)
from kerasviz.core.errors import UnsupportedLayerError
from kerasviz.core.gradients import compile_function, gradient_step, require_graph
from kerasviz.core.graph import cache, check_model
from kerasviz.core.inputs import batches, chunk_count
from kerasviz.core.layers import LayerSpec, find_layer, find_spatial_layer, layer_path, output_shape, spatial_layers
from kerasviz.core.layout import compile_options, is_channels_first
from kerasviz.core.outputs import OutputSpec
from kerasviz.core.targets import Target, target_errors, target_scores
from kerasviz.core.validate import check_bool


def _map_size(model, layer) -> tuple:
    """`(h, w)` of a layer's 4-D output, whatever the model's layout."""
    shape = output_shape(layer)
    return tuple(shape[2:4]) if is_channels_first(model) else tuple(shape[1:3])


def default_cam_layer(model: keras.Model) -> str:
    """Path of the last layer with a 4-D output whose spatial size exceeds 1x1.

    Raises:
        UnsupportedLayerError: the model has no such layer (e.g. an MLP).
        UnsupportedModelError: a subclassed model (its layers cannot be reached).
    """
    check_model(model)
    require_graph(model, "Grad-CAM")
    for path in reversed(spatial_layers(model)):
        h, w = _map_size(model, find_layer(model, path))
        if (h is None or h > 1) or (w is None or w > 1):
            return path
    raise UnsupportedLayerError(
        f"Model {model.name!r} has no layer with a 4-D output larger than 1x1; Grad-CAM needs a feature map "
        "(`layer`)."
    )


def _cam_layer(model, layer: Optional[LayerSpec]) -> str:
    check_model(model)
    require_graph(model, "Grad-CAM")
    if layer is None:
        return default_cam_layer(model)
    found = find_spatial_layer(model, layer, purpose="Grad-CAM")
    return layer if isinstance(layer, str) else layer_path(model, found)


def _gradcam_weights(acts: tf.Tensor, grads: tf.Tensor) -> tf.Tensor:
    return tf.reduce_mean(grads, axis=(1, 2))


def _gradcam_pp_weights(acts: tf.Tensor, grads: tf.Tensor) -> tf.Tensor:
    # With Y = exp(S) on a piecewise-linear net the higher derivatives are Y g^2, Y g^3;
    # Y cancels in alpha and only rescales the weights (undone by normalisation).
    g2 = tf.square(grads)
    denominator = 2 * g2 + tf.reduce_sum(acts, axis=(1, 2), keepdims=True) * g2 * grads
    alpha = tf.math.divide_no_nan(g2, denominator)
    return tf.reduce_sum(alpha * tf.nn.relu(grads), axis=(1, 2))


WEIGHTINGS = {"grad_cam": _gradcam_weights, "grad_cam_plus_plus": _gradcam_pp_weights}


class CamStep:
    """One compiled `(x, targets) -> maps` for a model, layer, weighting, output and options.

    Forward to the scores, backward only to the layer, then the channel
    weights, weighted sum, ReLU, resize and normalisation, all in the graph:
    the host only converts the result to numpy. The tapped feature map is
    channels last and float32 whatever the model's layout and precision.
    """

    def __init__(
        self, model, path: str, score, weighting: str, relu: bool, normalize: bool, upsample: bool, output: int = 0,
    ):
        step = gradient_step(model, (path,), score=score, output=output)  # shares its rebuilt tap model
        self.tap, self.key, self.num_outputs = step.tap, step.keys[0], step.num_outputs
        self.score, self.weigh = score, WEIGHTINGS[weighting]
        self.relu, self.normalize, self.upsample = relu, normalize, upsample
        self._run = compile_function(self._compute, **compile_options(model))

    def _compute(self, x, targets):
        with tf.GradientTape() as tape:
            out = self.tap(x, training=False)
            acts = out[self.key]
            scores, _ = target_scores(out["__output__"], targets, self.score)
        grads = tf.cast(tape.gradient(scores, acts), tf.float32)
        acts = tf.cast(acts, tf.float32)
        cam = tf.einsum("nhwk,nk->nhw", acts, self.weigh(acts, grads))
        if self.relu:
            cam = tf.nn.relu(cam)
        if self.upsample:
            cam = tf.image.resize(cam[..., None], tf.shape(x)[1:3], method="bilinear")[..., 0]
        if self.normalize:
            peak = tf.reduce_max(tf.abs(cam), axis=(1, 2), keepdims=True)
            cam = tf.math.divide_no_nan(cam, peak)
        return cam

    def __call__(self, x, targets):
        with target_errors():
            return self._run(x, tf.convert_to_tensor(targets, tf.int32))


def _class_activation_map(
    model, images, target, layer, weighting, *, relu, normalize, upsample, batch_size, output, progress,
):
    relu, normalize = check_bool(relu, "relu"), check_bool(normalize, "normalize")
    upsample, progress = check_bool(upsample, "upsample"), check_bool(progress, "progress")
    path = _cam_layer(model, layer)
    p = prepare(model, images, target, output)
    batch_size = check_rows(model, p.x, batch_size, len(p.x), "batch_size")
    return finish(_cam_maps(model, p, path, weighting, relu, normalize, upsample, batch_size, progress), p.single)


def _cam_maps(model, p, path, weighting, relu, normalize, upsample, batch_size, progress) -> np.ndarray:
    score = p.targets if callable(p.targets) else None
    key = ("cam_step", path, score, weighting, relu, normalize, upsample, p.output)
    step = cache.get(model, key, lambda: CamStep(model, path, score, weighting, relu, normalize, upsample, p.output))
    targets = np.full(len(p.x), -1, np.int32) if score is not None else p.targets
    parts = []
    with progress_bar(chunk_count(len(p.x), batch_size), weighting.replace("_", " "), progress) as bar:
        for s in batches(len(p.x), batch_size):
            parts.append(step(p.x[s], targets[s]).numpy())
            bar.update(1)
    return np.concatenate(parts)


def grad_cam(
    model: keras.Model,
    images,
    target: Target = None,
    *,
    layer: Optional[LayerSpec] = None,
    output: OutputSpec = None,
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
            (channels first for a channels-first model).
        target: None (predicted class), an int, a list of ints, or a callable.
        layer: the feature-map layer (name, "outer/inner" path, index, Layer);
            default the last 4-D layer larger than 1x1 (`default_cam_layer`).
            A Dense, Flatten or global pooling layer is refused.
        output: which output of a multi-output model (index, name or dict key).
        relu: keep only positive evidence (the paper).
        normalize: divide each map by its maximum, giving [0, 1].
        upsample: resize bilinearly to the input size.
        batch_size: images per compiled call.
        progress: show a progress bar (when there is more than one batch).

    Returns:
        `(N, H, W)` float32 in [0, 1] with the defaults (`(N, h, w)` at the
        layer's size with `upsample=False`); batch axis dropped for one image.

    Raises:
        KerasvizError: bad images, target, output, layer or settings (named).

    Example:
        >>> cam = kv.grad_cam(vgg, x, layer="block5_conv3")
    """
    return _class_activation_map(
        model, images, target, layer, "grad_cam", relu=relu, normalize=normalize, upsample=upsample,
        batch_size=batch_size, output=output, progress=progress,
    )


def grad_cam_plus_plus(
    model: keras.Model,
    images,
    target: Target = None,
    *,
    layer: Optional[LayerSpec] = None,
    output: OutputSpec = None,
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
        model, images, target, layer, "grad_cam_plus_plus", relu=relu, normalize=normalize, upsample=upsample,
        batch_size=batch_size, output=output, progress=progress,
    )


def guided_grad_cam(
    model: keras.Model,
    images,
    target: Target = None,
    *,
    layer: Optional[LayerSpec] = None,
    output: OutputSpec = None,
    reduce: Optional[str] = None,
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
    path = _cam_layer(model, layer)
    p = prepare(model, images, target, output)
    batch_size = check_rows(model, p.x, batch_size, len(p.x), "batch_size")
    step = step_for(model, p.targets, rule="guided", output=p.output)
    gbp = accumulate_gradients(
        step, lambda rows: tf.gather(p.x, rows), len(p.x), lambda rows: rows,
        lambda rows: np.ones(len(rows), np.float32), len(p.x), p.targets, batch_size=batch_size, progress=progress,
        desc="guided",
    )
    cam = _cam_maps(model, p, path, "grad_cam", True, True, True, batch_size, progress)
    return finish(reduce_channels(gbp * cam[..., None], reduce), p.single, model)
