"""Compute only the visualised filter of a Conv2D: its one output channel per image.

A channel / L2 / neuron objective on a Conv2D layer reads one channel per batch
element (element b's filter `ids[b]`). The full layer computes all C_out
channels forward and backward and then discards all but one, which on VGG16's
block3_conv1 (256 filters) is a sixth of a step's arithmetic. Instead we tap the
layer's *input* and convolve each element with its own filter only: C_out times
less work for that layer, same values and same gradients (tested against the
full layer).

The per-element convolution is one convolution with the batch's distinct
filters only (16 filters of 256 in the benchmark), followed by each element
picking its own channel.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from kerasviz.core.errors import UnsupportedModelError
from kerasviz.core.graph import activation_name, has_fused_activation, rebuild
from kerasviz.core.layers import find_layer
from kerasviz.core.model_inputs import explained_index
from kerasviz.core.precision import compute_variant, variant_layer

# Activations applied element by element: computing one channel and then the
# activation equals the activation's output on that channel.
_ELEMENTWISE = {
    "relu",
    "relu6",
    "linear",
    "identity",
    "sigmoid",
    "tanh",
    "elu",
    "selu",
    "gelu",
    "silu",
    "swish",
    "softplus",
    "leaky_relu",
    "hard_sigmoid",
    "hard_silu",
    "hard_swish",
    "exponential",
}


def _supported(layer) -> bool:
    if type(layer) is not keras.layers.Conv2D:  # subclasses may change call()
        return False
    if layer.groups != 1 or layer.data_format != "channels_last" or layer.compute_dtype not in ("float32", "bfloat16"):
        return False
    act = layer.activation
    return act is None or activation_name(act) in _ELEMENTWISE


def unit_conv_probe(model: keras.Model, objective, dtype: str = "float32") -> UnitConvProbe | None:
    """A `UnitConvProbe` when `objective` reads one unit per element of a plain Conv2D, else None.

    `dtype` is the compute precision ("float32" or "bfloat16", see
    `kerasviz.core.precision`); the probe returns float32 either way.
    """
    spec = getattr(objective, "unit_layer", None)
    if spec is None:
        return None
    variant = compute_variant(model, dtype)
    layer = find_layer(variant, variant_layer(model, variant, spec))
    return UnitConvProbe(variant, spec, layer) if _supported(layer) else None


def unit_conv2d(x: tf.Tensor, kernel: tf.Tensor, ids: tf.Tensor, strides, dilation, padding: str) -> tf.Tensor:
    """Element b of `x` `(B, H, W, C)` convolved with filter `ids[b]` of `kernel` `(kh, kw, C, F)`: `(B, h, w)`.

    One ordinary convolution with only the batch's distinct filters (U <= B of
    the F), then each element keeps its own: U/F of the layer's arithmetic,
    with TensorFlow's optimised convolution and its gradient.
    """
    distinct, which = tf.unique(ids)
    # tf.nn.convolution, as Keras uses: it handles dilation on CPU (via space_to_batch).
    maps = tf.nn.convolution(
        x,
        tf.gather(kernel, distinct, axis=3),
        strides=tuple(strides),
        padding=padding.upper(),
        dilations=tuple(dilation),
    )
    return tf.gather(maps, which, axis=-1, batch_dims=1)


class UnitConvProbe:
    """Reads one Conv2D layer's unit per element: `read(x, warm, ids) -> ({spec: (B, h, w, 1)}, zeros)`.

    `model` is the model (or its compute variant) whose Conv2D `layer` is read;
    the convolution runs in that layer's compute dtype, the result is float32.

    The returned ids are all 0: the one channel computed IS each element's unit.
    With `warm` True a fused activation is left out (pre-activation warm-up).
    """

    def __init__(self, model: keras.Model, spec, layer: keras.layers.Conv2D):
        self.spec, self.layer, self.fused = spec, layer, has_fused_activation(layer)
        inputs_of_layer = {}

        def substitute(candidate, path):
            if candidate is not layer:
                return None

            def call(x, *args, **kwargs):
                inputs_of_layer.setdefault("x", x)  # a shared layer: its first call, like tap_model
                return layer(x, *args, **kwargs)

            return call

        inputs, _ = rebuild(model, substitute=substitute)
        if isinstance(inputs, list):  # a multi-input model: only its image input is optimised
            inputs = inputs[explained_index(model)]
        try:
            self.tap = keras.Model(inputs, inputs_of_layer["x"], name=f"{model.name}_input_of_{layer.name}")
        except ValueError:  # the layer also reads the model's other inputs
            raise UnsupportedModelError(
                f"Layer {layer.name!r} of model {model.name!r} also depends on the model's other inputs; feature "
                "visualization optimises the image input alone: choose a layer of the image branch."
            ) from None

    def read(self, x: tf.Tensor, warm, ids: tf.Tensor):
        layer = self.layer
        inputs = self.tap(x, training=False)
        kernel = tf.cast(tf.convert_to_tensor(layer.kernel), inputs.dtype)
        pre = unit_conv2d(inputs, kernel, ids, layer.strides, layer.dilation_rate, layer.padding)
        pre = tf.cast(pre, tf.float32)  # the objective, its sums and the activation run in float32
        if layer.use_bias:
            pre += tf.gather(tf.cast(tf.convert_to_tensor(layer.bias), tf.float32), ids)[:, None, None]
        pre = pre[..., None]
        value = tf.where(warm, pre, layer.activation(pre)) if self.fused else pre
        return {self.spec: value}, tf.zeros_like(ids)
