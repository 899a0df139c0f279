"""Filter decoding with substitution (Rafegas & Vanrell 2015, arXiv:1511.05084).

A neuron k of conv layer l is decoded into image space by going down the
network: start from its kernel `W_l[..., k]`; at each conv below, paste the
lower kernel at every position, scaled by the value there, summing overlaps and
upper channels ("substitution"); at each pool, upsample the stack by the pool
factor with MATLAB `imresize` (bicubic, nearest or bilinear). Biases and ReLUs
are ignored.

Substitution is exactly the transposed convolution with the layer's own,
UNFLIPPED kernel (Keras convs are cross-correlations; the adjoint of a
correlation pastes the kernel as it is). So the whole layer is decoded at once:
the K filters are a batch, each conv is one `conv2d_transpose`, each pool one
interpolation-matrix product. BatchNorm below the layer is a per-channel scale
(folded in); its shift is ignored like a bias.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf

from kerasviz._config import progress_bar
from kerasviz.core.deprecation import keyword_only, renamed
from kerasviz.core.errors import InvalidArgumentError, UnsupportedLayerError
from kerasviz.core.graph import cache, rebuild
from kerasviz.core.layers import LayerSpec, conv_layers, is_conv, is_model
from kerasviz.core.validate import check_choice, check_indices, check_int
from kerasviz.dataset.arguments import check_model, resolve_layer
from kerasviz.decoding.unpool import check_method, unpool

# Layers that act pixel-wise (or not at all) at inference: decoding passes through.
_PASS_THROUGH = (
    keras.layers.ReLU,
    keras.layers.Activation,
    keras.layers.LeakyReLU,
    keras.layers.ELU,
    keras.layers.PReLU,
    keras.layers.Dropout,
    keras.layers.SpatialDropout2D,
    keras.layers.GaussianNoise,
    keras.layers.GaussianDropout,
    keras.layers.ActivityRegularization,
    keras.layers.Identity,
    keras.layers.InputLayer,
)
_POOLS = (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)
KERNEL_OPS = ("substitution", "rot180", "matrix_transpose")


@dataclass
class _Step:
    """One layer below the decoded one, as seen going down."""

    kind: str  # "conv" | "unpool" | "scale"
    layer: keras.layers.Layer
    strides: tuple = (1, 1)
    kernel_size: tuple = (1, 1)
    same: bool = False


@dataclass
class DecodingPlan:
    """How to decode a conv layer: its kernel and the steps below it, top to bottom."""

    layer: keras.layers.Layer
    steps: list = field(default_factory=list)
    output_shape: tuple = ()  # the layer's (h, w, K), None where unknown

    @property
    def num_filters(self) -> int:
        return int(self.layer.kernel.shape[-1])


def _chain(model: keras.Model, target: keras.layers.Layer) -> tuple[list, tuple]:
    """The layer calls from `target`'s input down to the model input (top first), and its output shape."""
    calls = []

    def record(layer, path):
        if is_model(layer):
            return None

        def call(*args, **kwargs):
            outputs = layer(*args, **kwargs)
            calls.append((layer, args, outputs))
            return outputs

        return call

    inputs, _ = rebuild(model, substitute=record)
    producer = {id(out): (layer, args) for layer, args, out in calls}
    found = [(layer, args, out) for layer, args, out in calls if layer is target]
    if not found:
        raise InvalidArgumentError(f"`layer` {target.name!r} is not on the path from the model's input to its outputs.")
    layer, args, out = found[0]
    input_ids = {id(t) for t in keras.tree.flatten(inputs)}
    chain = []
    while True:
        tensors = [a for a in keras.tree.flatten(args) if isinstance(a, keras.KerasTensor)]
        if len(tensors) != 1:
            raise UnsupportedLayerError(
                f"Layer {layer.name!r} ({type(layer).__name__}) takes {len(tensors)} inputs; filter decoding "
                "follows one chain of conv / pool layers (no Add, Concatenate or other merges)."
            )
        if id(tensors[0]) in input_ids:  # one of the model's inputs (a multi-input model has several)
            return chain, tuple(out.shape[1:])
        if id(tensors[0]) not in producer:
            raise UnsupportedLayerError(
                f"Layer {layer.name!r} reads a tensor no layer of the model produces; filter decoding follows "
                "one chain of conv / pool layers from an input."
            )
        layer, args = producer[id(tensors[0])]
        chain.append(layer)


def _step(layer) -> _Step | None:
    from keras.src.layers.convolutional.base_conv import BaseConv

    name = f"{layer.name!r} ({type(layer).__name__})"
    if isinstance(layer, BaseConv) and type(layer).__name__ == "Conv2D":
        if tuple(layer.dilation_rate) != (1, 1) or layer.groups != 1 or layer.data_format != "channels_last":
            raise UnsupportedLayerError(f"Layer {name}: decoding needs dilation 1, groups 1 and channels_last.")
        return _Step("conv", layer, tuple(layer.strides), tuple(layer.kernel_size), layer.padding == "same")
    if isinstance(layer, _POOLS):
        if tuple(layer.pool_size) != tuple(layer.strides) or layer.padding != "valid":
            raise UnsupportedLayerError(
                f"Layer {name}: unpooling undoes non-overlapping pools only (pool_size == strides, padding 'valid'); "
                f"got pool_size {layer.pool_size}, strides {layer.strides}, padding {layer.padding!r}."
            )
        return _Step("unpool", layer, tuple(layer.pool_size))
    if isinstance(layer, (keras.layers.BatchNormalization, keras.layers.Rescaling)):
        return _Step("scale", layer)
    if isinstance(layer, _PASS_THROUGH):
        return None
    raise UnsupportedLayerError(
        f"Layer {name} has no filter-decoding rule. Supported below the decoded layer: Conv2D, "
        "MaxPooling2D / AveragePooling2D (pool_size == strides), BatchNormalization, Rescaling, and "
        "pixel-wise layers (ReLU, Activation, Dropout, ...), which decoding ignores."
    )


def decoding_plan(model: keras.Model, layer: LayerSpec) -> DecodingPlan:
    """Resolve `layer` and the steps that decode it (cached per model and layer).

    Raises:
        LayerNotFoundError: unknown layer (closest names listed).
        UnsupportedLayerError: not a 2-D convolution, or a layer below has no
            decoding rule (named).
    """
    check_model(model)
    _, target = resolve_layer(model, layer)
    if not is_conv(target):
        raise UnsupportedLayerError(
            f"`layer` {target.name!r} is a {type(target).__name__}, not a 2-D convolution. "
            f"Convolution layers of {model.name!r}: {conv_layers(model)[:12]}."
        )
    _step(target)  # the decoded layer itself must be a plain Conv2D

    def build():
        chain, shape = _chain(model, target)
        return DecodingPlan(target, [s for s in map(_step, chain) if s is not None], shape)

    return cache.get(model, ("decoding_plan", id(target)), build)


def _scale_vector(layer, dtype):
    if isinstance(layer, keras.layers.Rescaling):
        return tf.cast(tf.convert_to_tensor(layer.scale), dtype)
    if layer.axis not in (-1, 3, [-1], [3]):
        raise UnsupportedLayerError(f"BatchNormalization {layer.name!r} must normalise the channel axis (-1).")
    gamma = layer.gamma if layer.scale else 1.0
    return tf.cast(gamma / tf.sqrt(layer.moving_variance + layer.epsilon), dtype)


def _kernel(layer, dtype, kernel_op: str):
    kernel = tf.cast(tf.convert_to_tensor(layer.kernel), dtype)  # (kh, kw, C_in, C_out), as the forward uses it
    if kernel_op == "rot180":
        return kernel[::-1, ::-1]
    if kernel_op == "matrix_transpose":
        return tf.transpose(kernel, (1, 0, 2, 3))
    return kernel


def _apply(step: _Step, stack, method: str, kernel_op: str):
    if step.kind == "unpool":
        return unpool(stack, step.strides, method)
    if step.kind == "scale":
        return stack * _scale_vector(step.layer, stack.dtype)
    kernel = _kernel(step.layer, stack.dtype, kernel_op)
    k, h, w, _ = stack.shape
    (sh, sw), (kh, kw) = step.strides, kernel.shape[:2]
    shape = (k, (h - 1) * sh + kh, (w - 1) * sw + kw, kernel.shape[2])
    return tf.nn.conv2d_transpose(stack, kernel, shape, (1, sh, sw, 1), padding="VALID")


def _decode_plan(plan, filters, method, dtype, kernel_op, batch_size, progress):
    kernel = _kernel(plan.layer, dtype, kernel_op)
    top = tf.transpose(kernel, (3, 0, 1, 2))  # (K, kh, kw, C_in): subst of a one-hot pixel per filter
    top = tf.gather(top, filters)
    if batch_size is None:  # bound memory: ~64 MB of float32 per chunk at the widest stack
        widest = _widest_stack(plan, top.shape[1:])
        batch_size = max(1, int(16e6 // max(widest, 1)))
    parts = []
    chunks = range(0, len(filters), batch_size)
    with progress_bar(len(chunks), f"decoding {plan.layer.name}", progress and len(chunks) > 1) as bar:
        for start in chunks:
            stack = top[start : start + batch_size]
            for step in plan.steps:
                stack = _apply(step, stack, method, kernel_op)
            parts.append(stack.numpy())
            bar.update(1)
    return np.concatenate(parts)


def _widest_stack(plan, shape) -> int:
    h, w, c = shape
    widest = h * w * c
    for step in plan.steps:
        if step.kind == "unpool":
            h, w = h * step.strides[0], w * step.strides[1]
        elif step.kind == "conv":
            h = (h - 1) * step.strides[0] + step.kernel_size[0]
            w = (w - 1) * step.strides[1] + step.kernel_size[1]
            c = int(step.layer.kernel.shape[2])
        widest = max(widest, h * w * c)
    return widest


def filter_indices(filters, plan: DecodingPlan) -> np.ndarray:
    """`filters` (None, an int or a list; negative from the end) as indices into the layer's filters."""
    return np.asarray(check_indices(filters, "filters", size=plan.num_filters), np.int64)


def _check_dtype(dtype) -> tf.DType:
    return tf.as_dtype(
        check_choice(tf.as_dtype(dtype).name if isinstance(dtype, tf.DType) else dtype, "dtype", ("float32", "float64"))
    )


@renamed(batch_size="filter_batch_size")
@keyword_only("unpool", positional=2)
def decode_filters(
    model: keras.Model,
    layer: LayerSpec,
    *,
    unpool: str = "bicubic",
    filters: Sequence[int] | None = None,
    dtype: str = "float32",
    filter_batch_size: int | None = None,
    progress: bool = True,
) -> np.ndarray:
    """Decode the filters of a conv layer into image space (Rafegas & Vanrell).

    Each filter is brought down layer by layer: substitution (transposed
    convolution with the unflipped kernel) at every conv, MATLAB-`imresize`
    upsampling at every pool; biases and ReLUs are ignored, BatchNorm scales
    are folded in. The result is a linear filter on the model's input: its
    correlation with an image estimates the layer's response (see
    `decoded_response`).

    Args:
        model: a Keras model (functional, Sequential or nested; never changed)
            made of Conv2D, non-overlapping pooling, BatchNorm and pixel-wise
            layers below `layer`.
        layer: a Conv2D layer (name, "outer/inner" path, index or Layer).
        unpool: "bicubic" (the paper's default), "nearest" or "bilinear".
        filters: filter indices to decode (an int or a list; negative ones
            count from the end; default: all K).
        dtype: "float32" or "float64" (for exact comparisons).
        filter_batch_size: filters per chunk (default: bounded by memory, ~64 MB of
            float32 at the widest stack).
        progress: show a progress bar over chunks (only with more than one chunk).

    Returns:
        `(K, RF_h, RF_w, C)` numpy array: one decoded filter per output channel,
        RF the receptive field of the layer (LeNet: 5, 14, 28, 28 for conv1..4),
        C the model's input channels.

    Raises:
        UnsupportedLayerError: `layer` is not a Conv2D, or a layer below has no
            decoding rule (the message names it), e.g. an Add or Concatenate of
            a residual network.
        KerasvizError: a bad `unpool`, `filters`, `dtype` or `filter_batch_size`.

    Example:
        >>> df = kv.decode_filters(net, "conv3", unpool="nearest")
        >>> df.shape
        (500, 28, 28, 1)
    """
    method = check_method(unpool)
    dtype = _check_dtype(dtype)
    filter_batch_size = check_int(filter_batch_size, "filter_batch_size", minimum=1, allow_none=True)
    plan = decoding_plan(model, layer)
    indices = filter_indices(filters, plan)
    return _decode_plan(plan, indices, method, dtype, "substitution", filter_batch_size, progress)


def decode_with_kernel_op(model, layer, unpool="bicubic", *, kernel_op="substitution", filters=None, dtype="float32"):
    """`decode_filters` with every kernel transformed by `kernel_op` (for the baselines).

    `kernel_op`: "substitution" (the kernel as is), "rot180" (flipped in both
    axes) or "matrix_transpose" (rows and columns swapped).
    """
    kernel_op = check_choice(kernel_op, "kernel_op", KERNEL_OPS)
    method, dtype = check_method(unpool), _check_dtype(dtype)
    plan = decoding_plan(model, layer)
    indices = filter_indices(filters, plan)
    return _decode_plan(plan, indices, method, dtype, kernel_op, None, False)


def input_geometry(plan: DecodingPlan, height: int, width: int) -> tuple:
    """`(stride, offset, out_size)` per axis: output position i of the layer sees input rows
    `stride*i - offset ... stride*i - offset + RF - 1` (offset = accumulated 'same' padding)."""
    geometry = []
    for axis, n in ((0, height), (1, width)):
        stride, offset = 1, 0
        steps = list(reversed(plan.steps)) + [
            _Step(
                "conv",
                plan.layer,
                tuple(plan.layer.strides),
                tuple(plan.layer.kernel_size),
                plan.layer.padding == "same",
            )
        ]
        for step in steps:
            s = step.strides[axis]
            if step.kind == "unpool":
                n = (n - s) // s + 1
            elif step.kind == "conv":
                k = step.kernel_size[axis]
                out = math.ceil(n / s) if step.same else (n - k) // s + 1
                offset += (max((out - 1) * s + k - n, 0) // 2 if step.same else 0) * stride
                n = out
            else:
                continue
            stride *= s
        geometry.append((stride, offset, n))
    return tuple(geometry)
