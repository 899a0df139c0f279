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
from kerasviz.attribution._common import finish, reduce_channels
from kerasviz.attribution.relu_backprop import guided_backprop
from kerasviz.core.gradients import score_gradients
from kerasviz.core.inputs import as_image_batch
from kerasviz.core.layers import LayerSpec, find_layer, layer_path
from kerasviz.core.targets import Target


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


def _gradcam_weights(acts: np.ndarray, grads: np.ndarray) -> np.ndarray:
    return grads.mean(axis=(1, 2))


def _gradcam_pp_weights(acts: np.ndarray, grads: np.ndarray) -> np.ndarray:
    # With Y = exp(S) on a piecewise-linear net the higher derivatives are Y g^2, Y g^3;
    # Y cancels in alpha and only rescales the weights (undone by normalisation).
    g2, g3 = grads**2, grads**3
    denominator = 2 * g2 + acts.sum(axis=(1, 2), keepdims=True) * g3
    alpha = np.where(denominator != 0, g2 / np.where(denominator != 0, denominator, 1), 0.0)
    return (alpha * np.maximum(grads, 0)).sum(axis=(1, 2))


def _class_activation_map(model, images, target, layer, weigh, *, relu, normalize, upsample, batch_size):
    x, single = as_image_batch(images, model)
    path = _cam_layer(model, layer)
    g = score_gradients(model, x, target, layers=[path], batch_size=batch_size)
    acts, grads = g.activations[path], g.layer_gradients[path]
    cam = np.einsum("nhwk,nk->nhw", acts, weigh(acts, grads))
    if relu:
        cam = np.maximum(cam, 0)
    if upsample:
        cam = tf.image.resize(cam[..., None], x.shape[1:3], method="bilinear").numpy()[..., 0]
    if normalize:
        peak = np.abs(cam).max(axis=(1, 2), keepdims=True)
        cam = np.where(peak > 0, cam / np.where(peak > 0, peak, 1), 0.0)
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
        model, images, target, layer, _gradcam_weights,
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
        model, images, target, layer, _gradcam_pp_weights,
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
