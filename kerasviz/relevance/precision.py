"""Relevance in float32 for mixed-precision models.

Under a `mixed_float16` (or `mixed_bfloat16`) policy each layer casts its
inputs and weights to 16 bits. Relevance per unit activation spans many orders
of magnitude and divides by small pre-activations, so in 16 bits it underflows
or overflows. The LRP graph therefore runs every layer in float32: a
`Float32Call` calls the user's layer's own `call` on a *view* of the layer whose
compute dtype reads float32 (the variables are float32 already), without
changing the layer itself.
"""

from __future__ import annotations

import itertools

import keras
import tensorflow as tf

_LOW_PRECISION = ("float16", "bfloat16")
_views: dict = {}
_uid = itertools.count()


def is_low_precision(layer) -> bool:
    """True if `layer` computes in float16 / bfloat16."""
    return str(getattr(layer, "compute_dtype", "float32")) in _LOW_PRECISION


def lrp_dtype(layer):
    """The dtype policy for an LRP layer standing in for `layer`: float32 if `layer` computes in 16 bits."""
    return "float32" if is_low_precision(layer) else layer.dtype_policy


def _view(layer):
    """An object of a subclass of `type(layer)` sharing its state, whose compute dtype is float32."""
    cls = type(layer)
    sub = _views.get(cls)
    if sub is None:
        float32 = property(lambda self: "float32")
        sub = type(f"_Float32{cls.__name__}", (cls,), {"compute_dtype": float32, "input_dtype": float32})
        _views[cls] = sub
    view = object.__new__(sub)
    object.__setattr__(view, "__dict__", layer.__dict__)
    return view


def call_layer(layer, *args, **kwargs):
    """`layer`'s computation on tensors inside another layer's `call`, in float32 for 16-bit layers.

    Inference mode (no `training` argument), outputs cast to the inputs' float dtype.
    """
    if not is_low_precision(layer):
        return layer.call(*args, **kwargs)
    outputs = type(layer).call(_view(layer), *args, **kwargs)
    return keras.tree.map_structure(
        lambda t: tf.cast(t, tf.float32) if tf.is_tensor(t) and t.dtype in (tf.float16, tf.bfloat16) else t, outputs
    )


def read(variable, dtype=tf.float32):
    """A layer weight as a tensor of `dtype` (never a 16-bit copy)."""
    return tf.cast(tf.convert_to_tensor(variable), dtype)


class Float32Call(keras.layers.Layer):
    """Calls a 16-bit layer's computation in float32 (forward values as in float32, gradients too)."""

    def __init__(self, layer, **kwargs):
        super().__init__(name=f"{layer.name}_f32_{next(_uid)}", dtype="float32", **kwargs)
        object.__setattr__(self, "_source", layer)

    def call(self, *args, **kwargs):
        return call_layer(self._source, *args, **kwargs)

    def compute_output_spec(self, *args, **kwargs):
        spec = self._source.compute_output_spec(*args, **kwargs)
        return keras.tree.map_structure(lambda s: keras.KerasTensor(s.shape, "float32"), spec)
