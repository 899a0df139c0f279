"""Rebuild a model's graph on a fresh input, tapping or substituting layers.

Every technique needs the model in a slightly different shape: several
intermediate outputs at once, a pre-activation instead of a fused ReLU's
output, logits instead of a softmax, a ReLU with another backward rule. We never
edit the user's model for that. Instead `rebuild` calls the model's own layers,
one by one, on a new `keras.Input`, flattening nested models on the way, and
lets the caller observe or replace each call. The new graph shares the user's
variables, so it costs no copy of the weights and always sees the current
weights.

Flattening is also what makes nested models work: in Keras,
`keras.Model(outer.inputs, inner.get_layer(n).output)` is "Graph disconnected",
because the inner layer's output lives in the inner model's graph.

Three things the flat graph takes care of:
- names: a nested base and the outer model may both have a `conv1` (each
  model's names are unique, the flat graph's would not be); a second layer with
  a name already used is called through a uniquely named `LayerCall`.
- precision: layers of a mixed-precision model (`mixed_float16`,
  `mixed_bfloat16`) are called in float32 on their float32 variables, so scores
  and gradients do not underflow or lose precision.
- layout: the graph's input is channels last, `(N, H, W, C)`, also for a
  channels-first model (transposed before its first layer), see `core.layout`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable

import keras

from kerasviz.core.cache import ModelCache, cache  # noqa: F401  (re-exported: core.graph.cache)
from kerasviz.core.errors import ArgumentTypeError, InvalidArgumentError, UnsupportedModelError
from kerasviz.core.layers import LayerSpec, child_layers, find_layer, is_model
from kerasviz.core.layout import is_channels_first
from kerasviz.core.model_inputs import explained_index, fed_model, fresh_inputs
from kerasviz.core.outputs import pick_output

# (layer, path) -> a callable used instead of `layer`, or None to keep the layer.
Substitute = Callable[[keras.layers.Layer, str], Callable | None]
# (layer, path, outputs) -> None, or a tensor that replaces `outputs` downstream; sees every call.
Observer = Callable[[keras.layers.Layer, str, object], object]

_uid = itertools.count()
_LOW_PRECISION = ("float16", "bfloat16")


def _is_functional(model) -> bool:
    from keras.src.models.functional import Functional

    return isinstance(model, Functional)


def is_subclassed(model) -> bool:
    """True for a subclassed `keras.Model` (its `call` is Python code, its graph cannot be read)."""
    return isinstance(model, keras.Model) and not isinstance(model, keras.Sequential) and not _is_functional(model)


def subclassed_message(model, technique: str = "This technique") -> str:
    return (
        f"Model {model.name!r} is a subclassed keras.Model ({type(model).__name__}): its call() is Python code "
        f"whose layers and connections Keras cannot inspect, so {technique} cannot reach its intermediate layers. "
        "Gradient, saliency, SmoothGrad, integrated gradients, occlusion, deletion/insertion and the "
        "randomization check work on it (they only call the model); for the others rebuild it as a functional "
        "or Sequential model (keras.Input -> layers -> keras.Model) with the same layers and weights."
    )


def check_model(model, name: str = "model") -> None:
    """Raise a clear error unless `model` is a Keras model."""
    if not isinstance(model, keras.Model):
        raise ArgumentTypeError(
            f"`{name}` must be a keras.Model (functional, Sequential or subclassed); got {type(model).__name__}."
        )


def model_input(model: keras.Model, input=None):
    """The model's symbolic input (`input` picks one of several, `model_inputs.explained_index`); clear errors."""
    check_model(model)
    if is_subclassed(model):
        raise UnsupportedModelError(subclassed_message(model, "kerasviz"))
    try:
        inputs = model.inputs
    except (AttributeError, ValueError) as err:
        inputs = None
        cause = err
    if not inputs:
        raise InvalidArgumentError(
            f"Model {model.name!r} has no defined input shape yet ({cause if inputs is None else 'no inputs'}). "
            "Start it with keras.Input((H, W, C)) or call model.build((None, H, W, C))."
        )
    return inputs[0] if len(inputs) == 1 and input in (None, 0, -1) else inputs[explained_index(model, input)]


def output_layer(model: keras.Model, output: int = 0) -> keras.layers.Layer:
    """The leaf layer that produces output `output` (an index, see `outputs.resolve_output`),
    through nested models."""
    if isinstance(model, keras.Sequential):
        last = child_layers(model)[-1]
    else:
        last = model.outputs[output]._keras_history.operation
    return output_layer(last) if is_model(last) else last


# Set on the layers of a compute variant (`core.precision`): they compute in bfloat16 on purpose.
COMPUTE_VARIANT = "kerasviz_compute_variant"


def is_low_precision(layer) -> bool:
    """True if the layer computes in float16 / bfloat16 (a mixed-precision policy) and is explained in float32.

    A layer of a compute variant (`core.precision.compute_variant`) is called in
    its own dtype: the variant exists to run in bfloat16.
    """
    if getattr(layer, COMPUTE_VARIANT, False):
        return False
    return str(getattr(layer, "compute_dtype", "float32")) in _LOW_PRECISION


def explain_dtype(layer):
    """The dtype policy kerasviz computes a layer in: float32 for mixed precision, else the layer's own."""
    return "float32" if is_low_precision(layer) else layer.dtype_policy


def layer_view(layer, *, activation: bool = True, float32: bool = False):
    """A shallow copy of `layer` sharing its variables, without its fused activation and/or in float32.

    Only for calling `type(layer).call(view, ...)`; the user's layer is not touched.
    """
    view = object.__new__(type(layer))
    state = dict(layer.__dict__)
    if not activation:
        state["activation"] = None
    if float32:
        state["_dtype_policy"] = keras.DTypePolicy("float32")
    view.__dict__.update(state)
    return view


class LayerCall(keras.layers.Layer):
    """Calls a user's layer under a unique name and, for mixed precision, in float32; shares its variables."""

    def __init__(self, layer: keras.layers.Layer, *, float32: bool | None = None, **kwargs):
        self.float32 = is_low_precision(layer) if float32 is None else float32
        super().__init__(
            name=f"{layer.name}_call_{next(_uid)}", dtype="float32" if self.float32 else layer.dtype_policy, **kwargs
        )
        object.__setattr__(self, "_source", layer)  # not tracked: its variables belong to the user's layer

    def call(self, *args, **kwargs):
        if self.float32:
            return type(self._source).call(layer_view(self._source, float32=True), *args, **kwargs)
        return self._source(*args, **kwargs)


class PreActivation(keras.layers.Layer):
    """Calls a layer with its fused activation removed, sharing its variables.

    Works for layers whose `call` ends in `if self.activation is not None:
    return self.activation(x)` (Dense, Conv*, DepthwiseConv2D, SeparableConv2D).
    Mixed-precision layers are computed in float32.
    """

    def __init__(self, layer: keras.layers.Layer, **kwargs):
        super().__init__(name=f"{layer.name}_preact_{next(_uid)}", dtype=explain_dtype(layer), **kwargs)
        object.__setattr__(self, "_source", layer)

    def call(self, *args, **kwargs):
        view = layer_view(self._source, activation=False, float32=is_low_precision(self._source))
        return type(self._source).call(view, *args, **kwargs)


# Layers that ARE an activation: their output has no separate pre-activation to tap.
_STANDALONE_ACTIVATIONS = (
    keras.layers.Activation,
    keras.layers.ReLU,
    keras.layers.Softmax,
    keras.layers.LeakyReLU,
    keras.layers.ELU,
    keras.layers.PReLU,
)


class FusedActivation(keras.layers.Layer):
    """Applies a layer's fused activation alone: `PreActivation(layer)` then this == `layer`."""

    def __init__(self, layer: keras.layers.Layer, **kwargs):
        super().__init__(name=f"{layer.name}_act_{next(_uid)}", dtype=explain_dtype(layer), **kwargs)
        object.__setattr__(self, "_source", layer)

    def call(self, x):
        return self._source.activation(x)


def has_fused_activation(layer) -> bool:
    """True if `layer` applies a non-linear `activation` after its own computation.

    False for standalone activation layers (`Activation`, `ReLU`, `Softmax`, ...):
    they have no pre-activation distinct from their input.
    """
    if isinstance(layer, _STANDALONE_ACTIVATIONS):
        return False
    act = getattr(layer, "activation", None)
    return act is not None and activation_name(act) not in ("linear", "identity")


def activation_name(fn) -> str:
    """A function's name ("relu", "softmax", ...), for activation functions and layers."""
    return getattr(fn, "__name__", type(fn).__name__).lower()


def is_probability_head(layer) -> bool:
    """True if the layer ends in softmax / sigmoid (fused or as a standalone layer)."""
    if isinstance(layer, keras.layers.Softmax):
        return True
    act = getattr(layer, "activation", None)
    return act is not None and activation_name(act) in ("softmax", "sigmoid", "log_softmax")


def logits_substitute(model: keras.Model, output: int = 0) -> Substitute:
    """A substitute that replaces the softmax / sigmoid head of output `output` by its logits."""
    head = output_layer(model, output)
    if not is_probability_head(head):
        return lambda layer, path: None

    def substitute(layer, path):
        if layer is not head:
            return None
        if isinstance(layer, (keras.layers.Softmax, keras.layers.Activation)):
            return lambda x, *args, **kwargs: x
        return PreActivation(layer)

    return substitute


def chain_substitutes(*subs: Substitute | None) -> Substitute:
    """The first substitute that returns a replacement wins."""
    subs = [s for s in subs if s is not None]

    def substitute(layer, path):
        for sub in subs:
            replacement = sub(layer, path)
            if replacement is not None:
                return replacement
        return None

    return substitute


class _Replay:
    """Calls a model's layers on new symbolic tensors, flattening nested models."""

    def __init__(self, substitute: Substitute | None, observe: Observer | None):
        self.substitute = substitute or (lambda layer, path: None)
        self.observe = observe or (lambda layer, path, outputs: None)
        self.names: dict = {}  # layer name -> id of the first layer called under it

    def run(self, model, inputs, prefix=""):
        if isinstance(model, keras.Sequential):
            x = inputs
            for layer in child_layers(model):
                x = self.call(layer, prefix, (x,), {})
            return x
        if _is_functional(model):
            return model._run_through_graph(inputs, operation_fn=lambda op: lambda *a, **k: self.call(op, prefix, a, k))
        model_input(model)  # raises the subclassed-model error

    def call(self, layer, prefix, args, kwargs):
        path = prefix + layer.name
        replacement = self.substitute(layer, path)
        if replacement is None and is_model(layer):
            outputs = self.run(layer, args[0] if len(args) == 1 else list(args), prefix=path + "/")
        else:
            if replacement is None:
                taken = self.names.setdefault(layer.name, id(layer)) != id(layer)
                replacement = LayerCall(layer) if taken or is_low_precision(layer) else None
            outputs = (replacement or layer)(*args, **kwargs)
        changed = self.observe(layer, path, outputs)
        return outputs if changed is None else changed


def rebuild(
    model: keras.Model,
    *,
    substitute: Substitute | None = None,
    observe: Observer | None = None,
    channels_last: bool = True,
):
    """Re-run the model's graph on a fresh `keras.Input`.

    Args:
        model: functional or Sequential model, nested models allowed.
        substitute: `(layer, path) -> callable | None`; a callable returned is
            called instead of the layer (with the same arguments).
        observe: `(layer, path, outputs) -> None | tensor`, called after every
            call; a tensor returned replaces the outputs downstream.
        channels_last: the new input is `(None, H, W, C)` also for a
            channels-first model (transposed before its first layer); False
            keeps the model's own input layout.

    Returns:
        `(inputs, outputs)`: the new input tensor (a list in `model.inputs`
        order for a multi-input model) and the model's outputs on it, ready for
        `keras.Model(inputs, ...)`. Only layers on the path to the tensors you
        keep are computed by that model.
    """
    model_input(model)  # an unbuilt or subclassed model: its clear error
    inputs, x = fresh_inputs(model, channels_last and is_channels_first(model))
    outputs = _Replay(substitute, observe).run(model, x)
    return (inputs if len(inputs) > 1 else inputs[0]), outputs


def _unique_keys(model, specs, targets) -> list[str]:
    from kerasviz.core.layers import layer_path

    keys = [spec if isinstance(spec, str) else target.name for spec, target in zip(specs, targets)]
    for i, (key, target) in enumerate(zip(keys, targets)):
        if any(k == key and t is not target for k, t in zip(keys, targets)):
            keys[i] = layer_path(model, target)
    return keys


def tap_model(
    model: keras.Model,
    layers: Iterable[LayerSpec] = (),
    *,
    pre_activation: bool = False,
    logits: bool = True,
    include_output: bool = True,
    substitute: Substitute | None = None,
    output: int = 0,
    channels_last: bool = True,
    input=None,
    side: bool = False,
) -> tuple[keras.Model, list[str]]:
    """A model with outputs `{key: layer output, ..., "__output__": model output}`.

    Args:
        model: the user's model (left unchanged).
        layers: layer specs to tap; their first call's output is returned.
        pre_activation: tap the pre-activation of layers with a fused
            activation (the forward pass itself is unchanged).
        logits: replace a softmax / sigmoid head by its logits.
        include_output: add the model output under "__output__".
        substitute: extra call substitutions (e.g. ReLUs with another gradient).
        output: index of the model output returned as "__output__" (see
            `outputs.resolve_output`); its probability head becomes logits.
        channels_last: input and 4-D tapped maps channels last, `(N, H, W, C)`,
            also for a channels-first model (the taps stay on the forward path,
            so gradients w.r.t. them are exact). False keeps the model's layout.
        input, side: the explained input of a multi-input model, and whether
            the caller can feed the others (see `model_inputs.fed_model`).

    Returns:
        `(tap, keys)`: the multi-output model and the output keys of `layers`,
        in order (the spec string, else the layer name; the layer's path where
        two different layers would share a key).
    """
    specs = list(layers)
    targets = [find_layer(model, spec) for spec in specs]
    keys = _unique_keys(model, specs, targets)
    wanted = {id(t): [k for k, t2 in zip(keys, targets) if t2 is t] for t in targets}
    captured: dict[str, object] = {}
    subs = chain_substitutes(substitute, logits_substitute(model, output) if logits else None)
    transpose = channels_last and is_channels_first(model)

    def capture(layer, value):
        """Record `value` for `layer`'s keys; returns the tensor the forward pass goes on with (or None)."""
        keys_here = [k for k in wanted.get(id(layer), ()) if k not in captured]
        if not keys_here:
            return None  # a shared layer keeps its first call, like `layer.output`
        if transpose and len(value.shape) == 4:
            tapped = keras.ops.transpose(value, (0, 2, 3, 1))
            for key in keys_here:
                captured[key] = tapped
            return keras.ops.transpose(tapped, (0, 3, 1, 2))  # downstream reads the tap: gradients reach it
        for key in keys_here:
            captured[key] = value
        return None

    def observe(layer, path, outputs):
        if not (pre_activation and has_fused_activation(layer)):
            return capture(layer, outputs)
        return None

    def tapping_substitute(layer, path):
        replacement = subs(layer, path)
        if id(layer) not in wanted or not pre_activation or not has_fused_activation(layer):
            return replacement

        def call(*args, **kwargs):  # tap the pre-activation; the forward pass goes on unchanged
            pre = PreActivation(layer)(*args, **kwargs)
            on_path = capture(layer, pre)
            pre = pre if on_path is None else on_path
            if replacement is not None:  # a substituted call cannot be split; run it as given
                return replacement(*args, **kwargs)
            return FusedActivation(layer)(pre)  # the layer's own output, without computing it twice

        return call

    inputs, outputs = rebuild(model, substitute=tapping_substitute, observe=observe, channels_last=channels_last)
    missing = [k for k in keys if k not in captured]
    if missing:
        raise InvalidArgumentError(f"Layers {missing} are not on the path from the model's input to its outputs.")
    result = {k: captured[k] for k in keys}
    if include_output:
        result["__output__"] = pick_output(outputs, output)
    name = f"{model.name}_taps_{next(_uid)}"
    if isinstance(inputs, list):  # a multi-input model: only the inputs the taps read
        return fed_model(model, inputs, result, name=name, input=input, side=side), keys
    return keras.Model(inputs, result, name=name), keys
