"""Eigen-CAM (Muhammad & Yeasin 2020): the first principal component of a layer's feature map.

Class-agnostic; the map follows `grad_cam`'s conventions (ReLU, bilinear
upsampling, division by the maximum: `(N, H, W)` in [0, 1] with the defaults),
computed in one compiled function per model and layer.
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
)
from kerasviz.core.gradients import compile_function
from kerasviz.core.graph import cache, tap_model
from kerasviz.core.inputs import batches
from kerasviz.core.layers import LayerSpec
from kerasviz.core.layout import compile_options
from kerasviz.core.model_inputs import InputSpec
from kerasviz.core.outputs import OutputSpec
from kerasviz.core.targets import Target


def first_component(acts: tf.Tensor) -> tf.Tensor:
    """Eigen-CAM's map `(N, h, w)` before ReLU: the channel-centred activations
    projected on their first right singular vector, sign fixed so the map
    correlates positively with the channel sum `sum_k A^k` (ties: its largest
    |value| is positive)."""
    n, h, w, k = (tf.shape(acts)[i] for i in range(4))
    flat = tf.reshape(tf.cast(acts, tf.float32), (n, h * w, k))
    centred = flat - tf.reduce_mean(flat, axis=1, keepdims=True)
    _, _, v = tf.linalg.svd(centred, full_matrices=False)
    projection = tf.einsum("nzk,nk->nz", centred, v[:, :, 0])
    agreement = tf.reduce_sum(projection * tf.reduce_sum(flat, axis=-1), axis=1)
    peak = tf.gather(projection, tf.argmax(tf.abs(projection), axis=1), axis=1, batch_dims=1)
    sign = tf.where(agreement != 0, tf.sign(agreement), tf.where(peak < 0, -1.0, 1.0))
    return tf.reshape(projection * sign[:, None], (n, h, w))


class EigenCamStep:
    """One compiled `x -> maps`: forward to the layer, first principal component, finishing."""

    def __init__(self, model, path, relu, normalize, do_upsample, input=0):
        self.tap, (self.key,) = tap_model(model, [path], include_output=False, input=input)
        self.options = (relu, normalize, do_upsample)
        self._run = compile_function(self._compute, **compile_options(model))  # XLA for channels first on CPU

    def _compute(self, x):
        return finish_cam(first_component(self.tap(x, training=False)[self.key]), tf.shape(x)[1:3], *self.options)

    def __call__(self, x):
        return self._run(x)


def eigen_cam(
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
    """Eigen-CAM (Muhammad & Yeasin 2020): the first principal component of the layer's activations.

    Each channel is centred over positions, the `(h*w, K)` matrix is
    decomposed (SVD), and the map is its projection on the first right
    singular vector: the dominant spatial pattern of the layer, whatever the
    class. `target` and `output` are validated but do not change the map
    (Eigen-CAM is class-agnostic; it may show an object that is not the
    target).

    The sign of a singular vector is arbitrary (it changes across BLAS builds;
    left unfixed, the ReLU can keep the background instead of the object).
    Here the sign is chosen so that the map correlates positively with the
    channel sum `sum_k A^k` (ties: its largest |value| is positive), which is
    deterministic and keeps the strongly activated region.
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
        >>> cam = kv.eigen_cam(model, images, layer="block5_conv3")
    """
    batch_size = check_batch_size(batch_size)
    p = prepare(model, images, target, output, input)
    x, single = p[0], p[1]
    path = feature_map_layer(model, layer)
    key = ("eigen_cam", path, bool(relu), bool(normalize), bool(upsample), p.input)
    step = cache.get(model, key, lambda: EigenCamStep(model, path, relu, normalize, upsample, p.input))
    chunks = list(batches(len(x), batch_size))
    parts = []
    with progress_bar(len(chunks), "eigen_cam", progress and len(chunks) > 1) as bar:
        for s in chunks:
            parts.append(step(x[s]).numpy())
            bar.update(1)
    return finish(np.concatenate(parts), single)
