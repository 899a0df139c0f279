"""Compute precision: run a model in bfloat16 where small numeric error does not change the answer.

Methods that search or rank (feature visualization, occlusion, dataset scans)
can run their model in bfloat16, which halves the arithmetic cost on hardware
with native bfloat16 dot products (x86 CPUs with AVX512-BF16 or AMX, Arm CPUs
with BF16, NVIDIA GPUs from Ampere on). Everything the user sees stays float32:
inputs are cast on the way in, activations and scores are cast back before any
loss, sum or comparison.

The user's model and the global dtype policy are never changed. A *compute
variant* is a clone of the model's structure (same layer names, same nesting,
so layer paths and indices mean the same) whose layers are shallow copies of
the user's layers with another dtype policy: they read the user's own
variables (no copy of the weights, always the current values), cast on the
fly as Keras' mixed precision does.

    precision = check_precision(precision)           # "float32" | "bfloat16" | "auto"
    dtype = resolve_precision(precision)              # "auto" -> what this machine runs natively
    variant = compute_variant(model, dtype)           # the model itself when nothing changes
    acts = to_float32(variant(x))                     # cast back before any reduction

`compute_variant(model, "float32")` is also how a model built under a mixed
policy (`mixed_float16`) is run in float32 where exactness matters.
"""

from __future__ import annotations

import functools
import os
import platform
from typing import Literal

import keras
import tensorflow as tf

from kerasviz.core.errors import UnsupportedModelError
from kerasviz.core.graph import COMPUTE_VARIANT, cache, model_input, output_layer
from kerasviz.core.layers import LayerSpec, child_layers, find_layer, is_model, layer_path
from kerasviz.core.validate import check_choice

Precision = Literal["float32", "bfloat16", "auto"]
PRECISIONS = ("float32", "bfloat16", "auto")
# The dtype policy of a variant's layers: float32 variables stay float32 and are cast on use.
_POLICY = {"float32": "float32", "bfloat16": "mixed_bfloat16"}


def check_precision(value, name: str = "precision") -> str:
    """Validate a `precision=` argument: "float32", "bfloat16" or "auto"."""
    return check_choice(value, name, PRECISIONS)


def _cpu_flags() -> set:
    """CPU feature flags from /proc/cpuinfo (Linux); empty elsewhere."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key = line.split(":", 1)[0].strip().lower()
                if key in ("flags", "features"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def onednn_enabled() -> bool:
    """True when TensorFlow runs its CPU kernels through oneDNN (whose bfloat16 kernels are native)."""
    try:
        from tensorflow.python.util import _pywrap_util_port

        return bool(_pywrap_util_port.IsMklEnabled())
    except (ImportError, AttributeError):
        return os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1").strip() not in ("0", "false", "False")


@functools.cache
def bfloat16_support() -> tuple[bool, str]:
    """Whether this machine runs bfloat16 natively, and why (for messages and `kerasviz doctor`).

    A visible GPU decides: compute capability 8.0 or higher (Ampere and later).
    Otherwise the CPU: x86 with `avx512_bf16` or `amx_bf16`, or Arm with `bf16`,
    and TensorFlow's oneDNN kernels switched on (`TF_ENABLE_ONEDNN_OPTS` not 0);
    without oneDNN, TensorFlow emulates bfloat16 on the CPU and it is slower
    than float32.

    Returns:
        `(native, reason)`, e.g. `(True, "CPU avx512_bf16 with oneDNN")`.
    """
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        capability = tf.config.experimental.get_device_details(gpus[0]).get("compute_capability") or (0, 0)
        native = tuple(capability) >= (8, 0)
        return native, f"GPU compute capability {capability[0]}.{capability[1]}" + ("" if native else " (< 8.0)")
    flags = _cpu_flags()
    found = sorted(flags & {"avx512_bf16", "amx_bf16", "bf16"})
    if not found:
        return False, f"CPU ({platform.machine()}) without bfloat16 instructions"
    if not onednn_enabled():
        return False, f"CPU {'/'.join(found)} but oneDNN is off (TF_ENABLE_ONEDNN_OPTS=0)"
    return True, f"CPU {'/'.join(found)} with oneDNN"


def resolve_precision(precision: str, model: keras.Model | None = None, *, float32_head: bool = False) -> str:
    """ "float32" or "bfloat16": `auto` becomes bfloat16 only where `bfloat16_support()` says native.

    Given the model, `auto` also stays float32 for models with layers from
    outside Keras (their code may assume float32) or that cannot be cloned.
    `float32_head` is the option the caller will pass to `compute_variant`
    (the clone built to check is the one it will use).
    """
    precision = check_precision(precision)
    if precision != "auto":
        return precision
    if not bfloat16_support()[0]:
        return "float32"
    if model is not None:
        if any(not type(layer).__module__.startswith("keras.") for layer in _leaf_layers(model)):
            return "float32"
        try:
            compute_variant(model, "bfloat16", float32_head=float32_head)
        except UnsupportedModelError:
            return "float32"
    return "bfloat16"


def _leaf_layers(model: keras.Model):
    for layer in child_layers(model):
        if is_model(layer):
            yield from _leaf_layers(layer)
        else:
            yield layer


def _computes_in(layer, dtype: str) -> bool:
    compute = layer.compute_dtype
    return compute == dtype or not keras.backend.is_float_dtype(compute)


def _producer(layer):
    """The leaf layer whose output `layer` reads (None for an input, several inputs, or an unknown graph)."""
    try:
        inputs = layer.input
    except (AttributeError, ValueError):
        return None
    if isinstance(inputs, (list, tuple, dict)):
        return None
    found = getattr(getattr(inputs, "_keras_history", None), "operation", None)
    if found is None or isinstance(found, keras.layers.InputLayer):
        return None
    return output_layer(found) if is_model(found) else found


def _head_layers(model: keras.Model) -> set:
    """ids of the classifier head: every Dense layer, and the layers from each output back to the last weights.

    A probability head (`Dense(..., activation="softmax")`, or a weightless
    `Softmax` / `Activation` after the last layer with weights, e.g. a 1x1
    convolution and global pooling) is covered whole, so its logits are a
    float32 sum too.
    """
    dense = (keras.layers.Dense, keras.layers.EinsumDense)
    found = {id(layer) for layer in _leaf_layers(model) if isinstance(layer, dense)}
    count = 1 if isinstance(model, keras.Sequential) else len(model.outputs)
    for index in range(count):
        layer = output_layer(model, index)
        for _ in range(16):  # weightless layers between the last weights and the output (activations, pooling)
            found.add(id(layer))
            if layer.weights:
                break
            layer = _producer(layer)
            if layer is None:
                break
    return found


def _twin(layer: keras.layers.Layer, dtype: str) -> keras.layers.Layer:
    """A shallow copy of `layer` computing in `dtype`, reading the same variables.

    Layers that do not autocast their variables, or compute in a non-float
    dtype (e.g. integer preprocessing), are returned as they are: the variant
    then calls the user's layer, which casts its inputs to its own dtype.
    """
    if is_model(layer) or isinstance(layer, keras.layers.InputLayer):
        return layer
    if not layer.autocast or not keras.backend.is_float_dtype(layer.compute_dtype):
        return layer
    if any(not getattr(v, "_autocast", True) for v in layer.weights):
        return layer
    # copy.copy would pickle the layer (Keras defines __reduce__), copying the weights.
    twin = object.__new__(type(layer))
    twin.__dict__.update(layer.__dict__)
    twin.__dict__.update(_dtype_policy=keras.DTypePolicy(_POLICY[dtype]), _inbound_nodes=[], _outbound_nodes=[])
    twin.__dict__[COMPUTE_VARIANT] = True  # rebuilt graphs call it in its own dtype (`graph.is_low_precision`)
    return twin


def _build_variant(model: keras.Model, dtype: str, keep: set) -> keras.Model:
    def clone(layer):
        return _twin(layer, "float32" if id(layer) in keep else dtype)

    try:
        variant = keras.models.clone_model(model, clone_function=clone, recursive=True)
    except Exception as err:  # noqa: BLE001 - any failure to clone is reported as one clear error
        raise UnsupportedModelError(
            f"Model {model.name!r} cannot be run in {dtype}: Keras could not clone its structure "
            f"({type(err).__name__}: {' '.join(str(err).split())[:200]}). Use precision='float32'."
        ) from None
    # The clone's weights must be the user's variables: nothing copied, nothing re-initialised.
    if {id(v) for v in variant.weights} != {id(v) for v in model.weights}:
        raise UnsupportedModelError(
            f"Model {model.name!r} cannot be run in {dtype}: some of its layers own weights that a "
            "clone does not share. Use precision='float32'."
        )
    return variant


def compute_variant(model: keras.Model, dtype: str, *, float32_head: bool = False) -> keras.Model:
    """The model with every layer computing in `dtype`, sharing the user's weights.

    Args:
        model: a functional or Sequential model (nested models allowed). It is
            not changed; the variant is cached per model.
        dtype: "float32" or "bfloat16" (resolve "auto" first with
            `resolve_precision`).
        float32_head: keep the classifier head in float32: every Dense layer
            and the layers from each output back to the last layer with
            weights (VGG16: fc1, fc2 and predictions). Perturbation methods
            compare scores of perturbed copies that differ in the third
            digit; read from a float32 head they are float32 sums of the
            bfloat16 features instead of bfloat16 numbers. On CPUs this costs
            nothing: at the batch sizes these methods use, a Dense layer's
            product is bound by reading its weights, which a bfloat16 layer
            would cast from float32 on every call.

    Returns:
        `model` itself when all its layers already compute in `dtype`;
        otherwise a clone with the same layer names and nesting whose layers
        read the user's variables and compute in `dtype`. Its outputs are in
        `dtype`: cast them with `to_float32` before reducing.

    Raises:
        UnsupportedModelError: the model cannot be cloned (a subclassed model,
            layers that cannot be shared).

    Example:
        >>> fast = compute_variant(model, "bfloat16")
        >>> logits = to_float32(fast(x))
    """
    dtype = check_choice(dtype, "dtype", ("float32", "bfloat16"))
    if dtype == "float32" and all(_computes_in(layer, dtype) for layer in _leaf_layers(model)):
        return model  # also a subclassed model, which can only be run as it is
    try:
        model_input(model)
    except UnsupportedModelError as err:  # a subclassed or unbuilt model
        raise UnsupportedModelError(f"{err} It cannot be run in {dtype} either; use precision='float32'.") from None
    keep = _head_layers(model) if float32_head and dtype != "float32" else set()
    if all(_computes_in(layer, "float32" if id(layer) in keep else dtype) for layer in _leaf_layers(model)):
        return model
    key = ("compute_variant", dtype, bool(keep))
    return cache.get(model, key, lambda: _build_variant(model, dtype, keep))


def perturbation_variant(model: keras.Model, precision: str) -> tuple[str, keras.Model]:
    """`(dtype, variant)` for methods that score many perturbed copies (occlusion, Score-CAM, RISE ...).

    `precision` ("float32", "bfloat16" or "auto", checked) is resolved for
    `model`; the variant keeps the classifier head in float32 (see
    `compute_variant`'s `float32_head`), so the scores compared are float32
    sums. The user's model itself is returned for float32.
    """
    dtype = resolve_precision(precision, model, float32_head=True)
    return dtype, compute_variant(model, dtype, float32_head=True)


def variant_layer(model: keras.Model, variant: keras.Model, layer: LayerSpec) -> LayerSpec:
    """A layer spec of `model` as a spec of its `variant` (names, paths and indices carry over; layers become paths)."""
    if variant is model or not isinstance(layer, keras.layers.Layer):
        return layer
    return layer_path(model, find_layer(model, layer))


def to_float32(values):
    """Cast every floating tensor in a structure (tensor, list, dict) to float32; other values pass."""

    def cast(x):
        if isinstance(x, (tf.Tensor, tf.Variable)) and x.dtype.is_floating and x.dtype != tf.float32:
            return tf.cast(x, tf.float32)
        return x

    return tf.nest.map_structure(cast, values)


__all__ = [
    "PRECISIONS",
    "Precision",
    "bfloat16_support",
    "check_precision",
    "compute_variant",
    "onednn_enabled",
    "perturbation_variant",
    "resolve_precision",
    "to_float32",
    "variant_layer",
]
