"""Layer outputs for the dataset views: one rebuilt graph per model and layer set, optionally in float32.

Each view reduces a layer's output on the device, batch by batch (running
maxima, channel statistics, moments, flattened codes). `taps` builds the
multi-output model those reductions read from. With `float32=True`, every
layer of a mixed-precision model (`mixed_float16`, `mixed_bfloat16`) is run in
float32 on the same variables: features that are small but meaningful (deep
codes of an untrained or heavily regularised net) underflow to zero in
float16, and a t-SNE of zeros is noise. With `dtype="bfloat16"` the scans that
only rank or count (top-k, summaries, correlations) run the model's bfloat16
variant (`kerasviz.core.precision`) and cast the taps back to float32. The
user's layers and global dtype policy are left as they are.
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Sequence

import keras

from kerasviz.core.graph import tap_model
from kerasviz.core.layers import find_layer, is_model, iter_layers
from kerasviz.core.precision import compute_variant, variant_layer

_uid = itertools.count()


class _Float32View:
    """A view of a layer whose compute dtype reads as float32; every other attribute falls through.

    Layers cast to `self.compute_dtype` inside `call` (BatchNormalization casts
    its output back, Rescaling its scale); through this view those casts keep float32.
    """

    compute_dtype = "float32"

    def __init__(self, layer):
        object.__setattr__(self, "_layer", layer)

    @property
    def dtype_policy(self):
        return keras.dtype_policies.get("float32")

    def __getattr__(self, name):
        return getattr(self._layer, name)


def _as_float32(tensor):
    dtype = getattr(tensor, "dtype", None)
    if dtype is not None and "float" in str(dtype) and "float32" not in str(dtype):
        return keras.ops.cast(tensor, "float32")
    return tensor


class Float32Call(keras.layers.Layer):
    """Calls a layer's own `call` in float32, on its (float32) variables, whatever its dtype policy."""

    def __init__(self, layer: keras.layers.Layer, **kwargs):
        super().__init__(name=f"{layer.name}_float32_{next(_uid)}", dtype="float32", **kwargs)
        # Not tracked as a sub-layer: its variables belong to the user's layer.
        object.__setattr__(self, "_source", layer)
        object.__setattr__(self, "_takes_training", "training" in inspect.signature(layer.call).parameters)

    def call(self, *args, **kwargs):
        kwargs.pop("training", None)
        if self._takes_training:
            kwargs["training"] = False
        outputs = type(self._source).call(_Float32View(self._source), *args, **kwargs)
        return keras.tree.map_structure(_as_float32, outputs)

    def compute_output_spec(self, *args, **kwargs):
        kwargs.pop("training", None)
        spec = self._source.compute_output_spec(*args, **kwargs)

        def as_float32(tensor):
            floating = "float" in str(getattr(tensor, "dtype", ""))
            return keras.KerasTensor(tensor.shape, dtype="float32") if floating else tensor

        return keras.tree.map_structure(as_float32, spec)


def is_mixed_precision(model: keras.Model) -> bool:
    """True if any layer of `model` computes in a dtype other than float32."""
    return any(getattr(layer, "compute_dtype", "float32") != "float32" for _, layer in iter_layers(model))


def _float32_substitute(layer, path):
    if is_model(layer) or getattr(layer, "compute_dtype", "float32") == "float32":
        return None
    return Float32Call(layer)


def taps(
    model: keras.Model, layers: Sequence, *, pre_activation: bool = False, float32: bool = False, dtype: str = "float32"
) -> keras.Model:
    """A model whose output is `{key: output of layer}` for every spec in `layers`.

    Args:
        model: the user's model (unchanged; the new graph shares its variables).
        layers: layer specs (keys: the spec string, or the layer name).
        pre_activation: tap layers with a fused activation before it.
        float32: compute every layer in float32 (only changes anything for a
            mixed-precision model).
        dtype: "float32" (the model as it is) or "bfloat16" (its bfloat16
            variant; the outputs are cast back to float32). Ignored with `float32`.
    """
    layers = list(layers)
    if dtype == "bfloat16" and not float32:
        variant = compute_variant(model, "bfloat16")
        if variant is not model:
            keys = [s if isinstance(s, str) else find_layer(model, s).name for s in layers]
            inner = [variant_layer(model, variant, s) for s in layers]
            tap, inner_keys = tap_model(
                variant, inner, pre_activation=pre_activation, logits=False, include_output=False
            )
            return keras.Model(tap.inputs, {k: _as_float32(tap.output[i]) for k, i in zip(keys, inner_keys)})
    substitute = _float32_substitute if float32 and is_mixed_precision(model) else None
    tap, _ = tap_model(
        model, layers, pre_activation=pre_activation, logits=False, include_output=False, substitute=substitute
    )
    return tap


def cache_key(layer) -> object:
    """A hashable key for a layer spec (specs may be Layer objects)."""
    return layer if isinstance(layer, (str, int)) else id(layer)
