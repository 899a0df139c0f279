"""Gradient CAM variants: HiResCAM, XGradCAM, LayerCAM (Eigen-CAM is in `attribution.eigen`).

All follow `grad_cam`'s conventions: per image, on logits, the map taken at a
feature-map layer `A` (`(N, h, w, K)`, default `default_cam_layer`), then
ReLU, bilinear upsampling to the input size (`tf.image.resize`, half-pixel
centres) and division by each map's maximum, so the defaults give `(N, H, W)`
in [0, 1]. The whole computation (forward, backward to the layer, weighting,
ReLU, resize, normalisation) is one compiled function per model, layer and
method; only the result crosses to the host.

With `g = d y_c / d A` (y_c the target logit):

- HiResCAM (Draelos & Carin 2020): `sum_k g^k * A^k`, gradient x activation at
  the layer. Before the ReLU its spatial sum is `y_c - b_c` for any linear head
  after the layer.
- XGradCAM (Fu et al. 2020): `sum_k a_k A^k` with
  `a_k = sum_ij g^k_ij A^k_ij / sum_ij A^k_ij`.
- LayerCAM (Jiang et al. 2021): `sum_k relu(g^k) * A^k`.

On conv -> GlobalAveragePooling -> Dense, `g^k = w_k / Z` everywhere, so
Grad-CAM, HiResCAM and XGradCAM all equal the class activation map
`sum_k w_k A^k` (Zhou et al. 2016) divided by `Z = h * w`, and LayerCAM equals
it when every `w_k >= 0`.

Convention differences from pytorch-grad-cam (the reference most users know):
it normalises with min-max (the map's minimum becomes 0) and resizes with
OpenCV; here the map is divided by its maximum (a zero stays zero, so maps of
different images and methods compare on one scale) and resized with
`tf.image.resize`, as `grad_cam`. XGradCAM adds 1e-7 to the denominator there;
here a channel whose activations sum to (almost) zero, relative to their
absolute sum, gets weight 0 instead of an exploding one.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from kerasviz._config import progress_bar
from kerasviz.attribution.support import (
    check_batch_size,
    feature_map_layer,
    finish,
    prepare,
    scale_to_unit,
    upsample,
)
from kerasviz.core.gradients import compile_function, gradient_step
from kerasviz.core.graph import cache
from kerasviz.core.inputs import batches
from kerasviz.core.layers import LayerSpec
from kerasviz.core.layout import compile_options
from kerasviz.core.model_inputs import InputSpec
from kerasviz.core.outputs import OutputSpec
from kerasviz.core.targets import Target, target_scores

XGRAD_EPS = 1e-6


def _hires(acts, grads):
    return tf.reduce_sum(grads * acts, axis=-1)


def _layer(acts, grads):
    return tf.reduce_sum(tf.nn.relu(grads) * acts, axis=-1)


def _xgrad(acts, grads):
    numerator = tf.reduce_sum(grads * acts, axis=(1, 2))
    denominator = tf.reduce_sum(acts, axis=(1, 2))
    usable = tf.abs(denominator) > XGRAD_EPS * tf.reduce_sum(tf.abs(acts), axis=(1, 2))
    alpha = tf.where(usable, numerator / tf.where(usable, denominator, 1.0), 0.0)
    return tf.einsum("nhwk,nk->nhw", acts, alpha)


COMBINE = {"hires_cam": _hires, "layer_cam": _layer, "xgrad_cam": _xgrad}


def finish_cam(cam: tf.Tensor, size, relu: bool, normalize: bool, do_upsample: bool) -> tf.Tensor:
    """ReLU, upsample, normalise `(N, h, w)` maps (the order `grad_cam` uses)."""
    if relu:
        cam = tf.nn.relu(cam)
    if do_upsample:
        cam = upsample(cam, size)
    if normalize:
        cam = scale_to_unit(cam)
    return cam


class GradientCamStep:
    """One compiled `(x, targets) -> maps` for a model, layer, method, output and options."""

    def __init__(self, model, path, score, method, output, relu, normalize, do_upsample, input=0):
        step = gradient_step(model, (path,), score=score, output=output, input=input)  # shares its rebuilt tap
        self.tap, self.key, self.score, self.feed = step.tap, step.keys[0], score, step.feed
        self.combine = COMBINE[method]
        self.options = (relu, normalize, do_upsample)
        self._run = compile_function(self._compute, **compile_options(model))  # XLA for channels first on CPU

    def _compute(self, x, targets, side):
        with tf.GradientTape() as tape:
            out = self.tap(self.feed.inputs(x, side), training=False)
            acts = out[self.key]
            scores, _ = target_scores(out["__output__"], targets, self.score)
        grads = tf.cast(tape.gradient(scores, acts), tf.float32)
        cam = self.combine(tf.cast(acts, tf.float32), grads)
        return finish_cam(cam, tf.shape(x)[1:3], *self.options)

    def __call__(self, x, targets, side=None):
        return self._run(x, tf.convert_to_tensor(targets, tf.int32), self.feed.values(side))


def _gradient_cam(
    method,
    model,
    images,
    target,
    layer,
    output,
    relu,
    normalize,
    do_upsample,
    batch_size,
    progress,
    input=None,
):
    batch_size = check_batch_size(batch_size)
    p = prepare(model, images, target, output, input)
    x, single, targets, out = p
    path = feature_map_layer(model, layer)
    score = targets if callable(targets) else None
    key = ("gradient_cam", method, path, score, out, bool(relu), bool(normalize), bool(do_upsample), p.input)
    step = cache.get(
        model, key, lambda: GradientCamStep(model, path, score, method, out, relu, normalize, do_upsample, p.input)
    )
    classes = np.full(len(x), -1, np.int32) if score is not None else targets
    chunks = list(batches(len(x), batch_size))
    parts = []
    with progress_bar(len(chunks), method, progress and len(chunks) > 1) as bar:
        for s in chunks:
            parts.append(step(x[s], classes[s], p.side[s]).numpy())
            bar.update(1)
    return finish(np.concatenate(parts), single)


def hires_cam(
    model: keras.Model,
    images,
    target: Target = None,
    *,
    layer: LayerSpec | None = None,
    output: OutputSpec = None,
    input: InputSpec = None,
    relu: bool = True,
    normalize: bool = True,
    upsample: bool = True,
    batch_size: int = 32,
    progress: bool = True,
) -> np.ndarray:
    """HiResCAM (Draelos & Carin 2020): `relu(sum_k dy/dA^k * A^k)`, element-wise.

    Unlike Grad-CAM it does not average the gradient over the map, so the
    (pre-ReLU) map sums to `y_c - b_c` when only a linear layer follows, and a
    region the head ignores gets exactly 0.
    Args:
        model: a Keras image model (never changed); nested models work.
        images: `(H, W, C)` or `(N, H, W, C)` in the model's input space.
        target: None (predicted class), an int, a list of ints (-1: predicted),
            or a callable `score(outputs) -> (N,)`.
        layer: the feature-map layer (name, "outer/inner" path, index);
            default the last 4-D layer larger than 1x1 (`default_cam_layer`).
        output: which output of a multi-output model (index or name).
        input: which input of a multi-input model is explained (index or name;
            default the image input); the others, given in `images`, are held fixed.
        relu: keep only positive evidence.
        normalize: divide each map by its maximum, giving [0, 1].
        upsample: resize bilinearly to the input size.
        batch_size: images per compiled call.
        progress: show a progress bar when there is more than one chunk.

    Returns:
        `(N, H, W)` float32 in [0, 1] with the defaults (`(N, h, w)` at the
        layer's size with `upsample=False`; `(H, W)` for one image).

    Raises:
        InvalidArgumentError, ArgumentTypeError: bad images, target, output or
            settings (before any model work).
        LayerNotFoundError: unknown layer.
    Example:
        >>> cam = kv.hires_cam(model, images, layer="block5_conv3")
    """
    return _gradient_cam(
        "hires_cam", model, images, target, layer, output, relu, normalize, upsample, batch_size, progress, input
    )


def xgrad_cam(
    model: keras.Model,
    images,
    target: Target = None,
    *,
    layer: LayerSpec | None = None,
    output: OutputSpec = None,
    input: InputSpec = None,
    relu: bool = True,
    normalize: bool = True,
    upsample: bool = True,
    batch_size: int = 32,
    progress: bool = True,
) -> np.ndarray:
    """XGradCAM (Fu et al. 2020): channel weights `sum(g * A) / sum(A)`, map `relu(sum_k a_k A^k)`.

    Before the ReLU its spatial sum equals HiResCAM's for every model. A
    channel whose activations sum to about zero (below 1e-6 of their absolute
    sum) gets weight 0 (pytorch-grad-cam adds 1e-7 to the denominator instead,
    which lets such weights explode).
    Args:
        model: a Keras image model (never changed); nested models work.
        images: `(H, W, C)` or `(N, H, W, C)` in the model's input space.
        target: None (predicted class), an int, a list of ints (-1: predicted),
            or a callable `score(outputs) -> (N,)`.
        layer: the feature-map layer (name, "outer/inner" path, index);
            default the last 4-D layer larger than 1x1 (`default_cam_layer`).
        output: which output of a multi-output model (index or name).
        input: which input of a multi-input model is explained (index or name;
            default the image input); the others, given in `images`, are held fixed.
        relu: keep only positive evidence.
        normalize: divide each map by its maximum, giving [0, 1].
        upsample: resize bilinearly to the input size.
        batch_size: images per compiled call.
        progress: show a progress bar when there is more than one chunk.

    Returns:
        `(N, H, W)` float32 in [0, 1] with the defaults (`(N, h, w)` at the
        layer's size with `upsample=False`; `(H, W)` for one image).

    Raises:
        InvalidArgumentError, ArgumentTypeError: bad images, target, output or
            settings (before any model work).
        LayerNotFoundError: unknown layer.
    Example:
        >>> cam = kv.xgrad_cam(model, images)
    """
    return _gradient_cam(
        "xgrad_cam", model, images, target, layer, output, relu, normalize, upsample, batch_size, progress, input
    )


def layer_cam(
    model: keras.Model,
    images,
    target: Target = None,
    *,
    layer: LayerSpec | None = None,
    output: OutputSpec = None,
    input: InputSpec = None,
    relu: bool = True,
    normalize: bool = True,
    upsample: bool = True,
    batch_size: int = 32,
    progress: bool = True,
) -> np.ndarray:
    """LayerCAM (Jiang et al. 2021): `relu(sum_k relu(dy/dA^k) * A^k)`, element-wise.

    Keeps only positive gradients, so it works on shallow layers too (where
    Grad-CAM's averaged weights blur). Equals HiResCAM where every gradient is
    non-negative. Multi-layer fusion is left to the caller (e.g. the
    element-wise maximum of maps from several layers).
    Args:
        model: a Keras image model (never changed); nested models work.
        images: `(H, W, C)` or `(N, H, W, C)` in the model's input space.
        target: None (predicted class), an int, a list of ints (-1: predicted),
            or a callable `score(outputs) -> (N,)`.
        layer: the feature-map layer (name, "outer/inner" path, index);
            default the last 4-D layer larger than 1x1 (`default_cam_layer`).
        output: which output of a multi-output model (index or name).
        input: which input of a multi-input model is explained (index or name;
            default the image input); the others, given in `images`, are held fixed.
        relu: keep only positive evidence.
        normalize: divide each map by its maximum, giving [0, 1].
        upsample: resize bilinearly to the input size.
        batch_size: images per compiled call.
        progress: show a progress bar when there is more than one chunk.

    Returns:
        `(N, H, W)` float32 in [0, 1] with the defaults (`(N, h, w)` at the
        layer's size with `upsample=False`; `(H, W)` for one image).

    Raises:
        InvalidArgumentError, ArgumentTypeError: bad images, target, output or
            settings (before any model work).
        LayerNotFoundError: unknown layer.
    Example:
        >>> cams = [kv.layer_cam(model, x, layer=l) for l in ("block3_conv3", "block5_conv3")]
    """
    return _gradient_cam(
        "layer_cam", model, images, target, layer, output, relu, normalize, upsample, batch_size, progress, input
    )


# ---------------------------------------------------------------- Eigen-CAM
