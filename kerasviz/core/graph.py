"""Rebuild a model's graph on a fresh input, tapping or substituting layers.

Every technique needs the model in a slightly different shape: several
intermediate outputs at once, a pre-activation instead of a fused ReLU's
output, logits instead of a softmax, a ReLU with another backward rule. We never
edit the user's model for that (tf-keras-vis's habit). Instead `rebuild` calls
the model's own layers, one by one, on a new `keras.Input`, flattening nested
models on the way, and lets the caller observe or replace each call. The new
graph shares the user's variables, so it costs no copy of the weights and always
sees the current weights.

Flattening is also what makes nested models work: in Keras,
`keras.Model(outer.inputs, inner.get_layer(n).output)` is "Graph disconnected",
because the inner layer's output lives in the inner model's graph.
"""

from __future__ import annotations

import itertools
import weakref
from typing import Callable, Iterable, Optional

import keras

from kerasviz.core.errors import UnsupportedModelError
from kerasviz.core.layers import LayerSpec, child_layers, find_layer, is_model
from kerasviz.core.outputs import pick_output

# (layer, path) -> a callable used instead of `layer`, or None to keep the layer.
Substitute = Callable[[keras.layers.Layer, str], Optional[Callable]]
# (layer, path, outputs) -> None; sees every call, after substitution.
Observer = Callable[[keras.layers.Layer, str, object], None]

_uid = itertools.count()


def model_input(model: keras.Model):
    """The model's (single) symbolic input tensor, with a clear error if none exists."""
    if not isinstance(model, keras.Model):
        raise TypeError(f"Expected a keras.Model, got {type(model).__name__}.")
    if not isinstance(model, keras.Sequential) and not _is_functional(model):
        raise UnsupportedModelError(
            f"Model {model.name!r} is a subclassed keras.Model ({type(model).__name__}): its "
            "call() is Python code whose layers and connections Keras cannot inspect, so "
            "kerasviz cannot reach its intermediate layers. Rebuild it as a functional or "
            "Sequential model (keras.Input -> layers -> keras.Model) with the same layers "
            "and weights."
        )
    try:
        inputs = model.inputs
    except (AttributeError, ValueError) as err:
        inputs = None
        cause = err
    if not inputs:
        raise ValueError(
            f"Model {model.name!r} has no defined input shape yet ({cause if inputs is None else 'no inputs'}). "
            "Start it with keras.Input((H, W, C)) or call model.build((None, H, W, C))."
        )
    if len(inputs) != 1:
        raise ValueError(f"kerasviz needs a model with one image input; {model.name!r} has {len(inputs)}.")
    return inputs[0]


def _is_functional(model) -> bool:
    from keras.src.models.functional import Functional

    return isinstance(model, Functional)


def output_layer(model: keras.Model, output: int = 0) -> keras.layers.Layer:
    """The leaf layer that produces output `output` (an index, see `outputs.resolve_output`),
    through nested models."""
    if isinstance(model, keras.Sequential):
        last = child_layers(model)[-1]
    else:
        last = model.outputs[output]._keras_history.operation
    return output_layer(last) if is_model(last) else last


class _WithoutActivation:
    """A view of a layer whose fused activation reads as None; attributes fall through."""

    activation = None

    def __init__(self, layer):
        self._layer = layer

    def __getattr__(self, name):
        return getattr(self._layer, name)


class PreActivation(keras.layers.Layer):
    """Calls a layer with its fused activation removed, sharing its variables.

    Works for layers whose `call` ends in `if self.activation is not None:
    return self.activation(x)` (Dense, Conv*, DepthwiseConv2D, SeparableConv2D).
    """

    def __init__(self, layer: keras.layers.Layer, **kwargs):
        super().__init__(name=f"{layer.name}_preact_{next(_uid)}", dtype=layer.dtype_policy, **kwargs)
        # Not tracked as a sub-layer: its variables belong to the user's layer.
        object.__setattr__(self, "_source", layer)

    def call(self, *args, **kwargs):
        return type(self._source).call(_WithoutActivation(self._source), *args, **kwargs)


# Layers that ARE an activation: their output has no separate pre-activation to tap.
_STANDALONE_ACTIVATIONS = (
    keras.layers.Activation, keras.layers.ReLU, keras.layers.Softmax,
    keras.layers.LeakyReLU, keras.layers.ELU, keras.layers.PReLU,
)


class FusedActivation(keras.layers.Layer):
    """Applies a layer's fused activation alone: `PreActivation(layer)` then this == `layer`."""

    def __init__(self, layer: keras.layers.Layer, **kwargs):
        super().__init__(name=f"{layer.name}_act_{next(_uid)}", dtype=layer.dtype_policy, **kwargs)
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


def chain_substitutes(*subs: Optional[Substitute]) -> Substitute:
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

    def __init__(self, substitute: Optional[Substitute], observe: Optional[Observer]):
        self.substitute = substitute or (lambda layer, path: None)
        self.observe = observe or (lambda layer, path, outputs: None)

    def run(self, model, inputs, prefix=""):
        if isinstance(model, keras.Sequential):
            x = inputs
            for layer in child_layers(model):
                x = self.call(layer, prefix, (x,), {})
            return x
        if _is_functional(model):
            return model._run_through_graph(
                inputs, operation_fn=lambda op: (lambda *a, **k: self.call(op, prefix, a, k))
            )
        model_input(model)  # raises the subclassed-model error

    def call(self, layer, prefix, args, kwargs):
        path = prefix + layer.name
        replacement = self.substitute(layer, path)
        if replacement is None and is_model(layer):
            outputs = self.run(layer, args[0] if len(args) == 1 else list(args), prefix=path + "/")
        else:
            outputs = (replacement or layer)(*args, **kwargs)
        self.observe(layer, path, outputs)
        return outputs


def rebuild(
    model: keras.Model,
    *,
    substitute: Optional[Substitute] = None,
    observe: Optional[Observer] = None,
):
    """Re-run the model's graph on a fresh `keras.Input`.

    Args:
        model: functional or Sequential model, nested models allowed.
        substitute: `(layer, path) -> callable | None`; a callable returned is
            called instead of the layer (with the same arguments).
        observe: `(layer, path, outputs) -> None`, called after every call.

    Returns:
        `(inputs, outputs)`: the new input tensor and the model's outputs on it,
        ready for `keras.Model(inputs, ...)`. Only layers on the path to the
        tensors you keep are computed by that model.
    """
    reference = model_input(model)
    inputs = keras.Input(batch_shape=(None,) + tuple(reference.shape[1:]), dtype=reference.dtype)
    outputs = _Replay(substitute, observe).run(model, inputs)
    return inputs, outputs


def tap_model(
    model: keras.Model,
    layers: Iterable[LayerSpec] = (),
    *,
    pre_activation: bool = False,
    logits: bool = True,
    include_output: bool = True,
    substitute: Optional[Substitute] = None,
    output: int = 0,
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

    Returns:
        `(tap, keys)`: the multi-output model and the output keys of `layers`,
        in order (a name key for each spec: the spec string, or the layer name).
    """
    specs = list(layers)
    targets = [find_layer(model, spec) for spec in specs]
    keys = [spec if isinstance(spec, str) else target.name for spec, target in zip(specs, targets)]
    wanted = {id(t): [k for k, t2 in zip(keys, targets) if t2 is t] for t in targets}
    captured: dict[str, object] = {}
    subs = chain_substitutes(substitute, logits_substitute(model, output) if logits else None)

    def capture(layer, value):
        for key in wanted.get(id(layer), ()):
            captured.setdefault(key, value)  # a shared layer keeps its first call, like `layer.output`

    def observe(layer, path, outputs):
        if not (pre_activation and has_fused_activation(layer)):
            capture(layer, outputs)

    def tapping_substitute(layer, path):
        replacement = subs(layer, path)
        if id(layer) not in wanted or not pre_activation or not has_fused_activation(layer):
            return replacement

        def call(*args, **kwargs):  # tap the pre-activation; the forward pass goes on unchanged
            pre = PreActivation(layer)(*args, **kwargs)
            capture(layer, pre)
            if replacement is not None:  # a substituted call cannot be split; run it as given
                return replacement(*args, **kwargs)
            return FusedActivation(layer)(pre)  # the layer's own output, without computing it twice

        return call

    inputs, outputs = rebuild(model, substitute=tapping_substitute, observe=observe)
    missing = [k for k in keys if k not in captured]
    if missing:
        raise ValueError(f"Layers {missing} are not on the path from the model's input to its outputs.")
    result = {k: captured[k] for k in keys}
    if include_output:
        result["__output__"] = pick_output(outputs, output)
    return keras.Model(inputs, result, name=f"{model.name}_taps_{next(_uid)}"), keys


class ModelCache:
    """Per-model cache of derived models and compiled functions (weakly keyed).

    Rebuilding a graph and tracing a `tf.function` cost far more than running
    them; a notebook calls the same technique on the same model many times.
    """

    def __init__(self):
        self._store: "weakref.WeakKeyDictionary[keras.Model, dict]" = weakref.WeakKeyDictionary()

    def get(self, model, key, build: Callable[[], object]):
        entries = self._store.setdefault(model, {})
        if key not in entries:
            entries[key] = build()
        return entries[key]


cache = ModelCache()
