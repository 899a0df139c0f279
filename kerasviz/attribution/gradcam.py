"""Grad-CAM (Selvaraju et al. 2017), Grad-CAM++ (Chattopadhay et al. 2018) and
guided Grad-CAM.

Grad-CAM weighs each feature map A^k of a late conv layer by the spatial mean
of d S_c / d A^k and keeps the positive part of the weighted sum. Everything
is per image (keras-io's example averages gradients over the batch axis and is
right only for batch 1), on logits, and with plain gradients (tf-explain's
default "guided" gradients are not Grad-CAM).
"""

from __future__ import annotations

from typing import Optional

import keras
import numpy as np
import tensorflow as tf

from kerasviz.activations import image_layers
from kerasviz.attribution._common import finish, prepare, reduce_channels
from kerasviz.attribution.relu_backprop import guided_backprop
from kerasviz.core.gradients import compile_function, gradient_step
from kerasviz.core.graph import cache
from kerasviz.core.inputs import as_image_batch, batches
from kerasviz.core.layers import LayerSpec, find_layer, layer_path
from kerasviz.core.targets import Target, target_scores


def default_cam_layer(model: keras.Model) -> str:
    """Path of the last layer with a 4-D output whose spatial size exceeds 1x1.

    Raises:
        ValueError: the model has no such layer (e.g. an MLP).
    """
    for path in reversed(image_layers(model)):
        h, w = find_layer(model, path).output.shape[1:3]
        if (h is None or h > 1) or (w is None or w > 1):
            return path
    raise ValueError(f"Model {model.name!r} has no layer with a 4-D output larger than 1x1; Grad-CAM needs a feature map.")


def _cam_layer(model, layer: Optional[LayerSpec]) -> str:
    if layer is None:
        return default_cam_layer(model)
    found = find_layer(model, layer)
    shape = found.output.shape
    if len(shape) != 4:
        raise ValueError(
            f"Layer {found.name!r} outputs shape {tuple(shape)}, not a feature map (N, h, w, c). "
            f"Layers with 4-D outputs: {image_layers(model)[-8:]}."
        )
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
    """One compiled `(x, targets) -> maps` for a model, layer, weighting and options.

    Forward to the scores, backward only to the layer, then the channel
    weights, weighted sum, ReLU, resize and normalisation, all in the graph:
    the host only converts the result to numpy.
    """

    def __init__(self, model, path: str, score, weighting: str, relu: bool, normalize: bool, upsample: bool):
        step = gradient_step(model, (path,), score=score)  # shares its rebuilt tap model
        self.tap, self.key, self.num_outputs = step.tap, step.keys[0], step.num_outputs
        self.score, self.weigh = score, WEIGHTINGS[weighting]
        self.relu, self.normalize, self.upsample = relu, normalize, upsample
        self._run = compile_function(self._compute)

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
        return self._run(x, tf.convert_to_tensor(targets, tf.int32))


def _class_activation_map(model, images, target, layer, weighting, *, relu, normalize, upsample, batch_size):
    x, single, targets = prepare(model, images, target)
    path = _cam_layer(model, layer)
    score = targets if callable(targets) else None
    key = ("cam_step", path, score, weighting, relu, normalize, upsample)
    step = cache.get(model, key, lambda: CamStep(model, path, score, weighting, relu, normalize, upsample))
    if score is not None:
        targets = np.full(len(x), -1, np.int32)
    cam = np.concatenate([step(x[s], targets[s]).numpy() for s in batches(len(x), batch_size)])
    return finish(cam, single)


def grad_cam(
    model: keras.Model,
    images,
    target: Target = None,
    layer: Optional[LayerSpec] = None,
    *,
    relu: bool = True,
    normalize: bool = True,
    upsample: bool = True,
    batch_size: int = 32,
) -> np.ndarray:
    """Grad-CAM heatmaps.

    Args:
        model: a Keras image model (never changed); nested models work.
        images: `(H, W, C)` or `(N, H, W, C)` in the model's input space.
        target: None (predicted class), an int, a list of ints, or a callable.
        layer: the feature-map layer (name, "outer/inner" path, index);
            default the last 4-D layer larger than 1x1 (`default_cam_layer`).
        relu: keep only positive evidence (the paper).
        normalize: divide each map by its maximum, giving [0, 1].
        upsample: resize bilinearly to the input size.
        batch_size: images per compiled call.

    Returns:
        `(N, H, W)` float32 in [0, 1] with the defaults (`(N, h, w)` at the
        layer's size with `upsample=False`).

    Example:
        >>> cam = kv.grad_cam(vgg, x, layer="block5_conv3")
    """
    return _class_activation_map(
        model, images, target, layer, "grad_cam",
        relu=relu, normalize=normalize, upsample=upsample, batch_size=batch_size,
    )


def grad_cam_plus_plus(
    model: keras.Model,
    images,
    target: Target = None,
    layer: Optional[LayerSpec] = None,
    *,
    relu: bool = True,
    normalize: bool = True,
    upsample: bool = True,
    batch_size: int = 32,
) -> np.ndarray:
    """Grad-CAM++: pixel-wise weighted positive gradients (better for several instances).

    `alpha = g^2 / (2 g^2 + sum_ab A_ab g^3)`, `w_k = sum_ij alpha_ij relu(g_ij)`,
    map `= relu(sum_k w_k A^k)`. Arguments and output as `grad_cam`.

    Example:
        >>> cam = kv.grad_cam_plus_plus(model, images)
    """
    return _class_activation_map(
        model, images, target, layer, "grad_cam_plus_plus",
        relu=relu, normalize=normalize, upsample=upsample, batch_size=batch_size,
    )


def guided_grad_cam(
    model: keras.Model,
    images,
    target: Target = None,
    layer: Optional[LayerSpec] = None,
    *,
    reduce: Optional[str] = None,
    batch_size: int = 32,
) -> np.ndarray:
    """Guided Grad-CAM: guided backprop times the upsampled Grad-CAM map.

    Returns:
        `(N, H, W, C)` signed float32 (or `(N, H, W)` when reduced).

    Example:
        >>> ggc = kv.guided_grad_cam(model, images, reduce="sum_abs")
    """
    x, single = as_image_batch(images, model)
    gbp = guided_backprop(model, x, target, batch_size=batch_size)
    cam = grad_cam(model, x, target, layer, batch_size=batch_size)
    return finish(reduce_channels(gbp * cam[..., None], reduce), single)
