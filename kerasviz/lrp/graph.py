"""What LRP needs to know about a model's graph, read once per model (`trace`).

`trace` replays the model symbolically (`core.graph.rebuild`) and records
every layer call with its input and output tensors, through nested models.
From that list: each call's treatment (`layers.classify`, a clear error for
unsupported layers), the BatchNorms folded into the layer before them, the
layers reading the pixels with the affine and padding layers in front of
them, which operand of each `Multiply` is the gate, and the layer producing
each output's logits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import keras
import numpy as np

from kerasviz.core.errors import UnsupportedLayerError
from kerasviz.core.graph import output_layer, rebuild
from kerasviz.core.layers import is_model
from kerasviz.core.model_inputs import explained_index
from kerasviz.lrp.layers import AFFINE, SPATIAL_WEIGHTED, STRUCTURAL, classify, is_gate_producer
from kerasviz.lrp.linear import PixelPrefix, can_fold
from kerasviz.lrp.precision import is_low_precision


@dataclass
class Call:
    """One layer (or graph operation) call in the replayed graph."""

    layer: object
    path: str
    inputs: list
    outputs: list
    first_is_tensor: bool = True


@dataclass
class Graph:
    """The analysed graph of a model (see the module docstring)."""

    calls: list
    kinds: dict  # path -> "weighted" | "gradient" | "pass" | "gate" | "layer_norm"
    folds: dict  # weighted path -> the BatchNorm layer folded into it
    folded: set  # paths of folded BatchNorms
    prefixes: dict  # pixel layer path -> PixelPrefix (affine / padding layers before it), or None
    folded_into_pixels: set  # paths of the affine and padding layers folded into the pixel layers after them
    gates: dict  # Multiply path -> index of the gate operand
    heads: list  # per model output: path of the last weighted layer before it
    spatial: set  # weighted paths that act on feature maps (convolutions, Dense on (N, H, W, C))
    outputs: list  # the replayed graph's output tensors
    low_precision: bool = False
    input_paths: set = field(init=False)

    def __post_init__(self):
        self.input_paths = set(self.prefixes)

    @property
    def weighted(self) -> list:
        return [(c.path, c.layer) for c in self.calls if self.kinds[c.path] == "weighted"]

    def relevance_paths(self, output: int = 0) -> list:
        """Layer paths (graph order, no duplicates) whose output relevance is reported.

        Those on the way to `output` that receive relevance: not folded, and not
        in a gate's branch (which gets none).
        """
        producer = {id(t): c for c in self.calls for t in c.outputs}
        live, stack = set(), [self.outputs[output]]
        while stack:
            c = producer.get(id(stack.pop()))
            if c is None or id(c) in live:
                continue
            live.add(id(c))
            gate = self.gates.get(c.path)
            stack.extend(t for i, t in enumerate(c.inputs) if i != gate)
        skip = self.folded | self.folded_into_pixels
        seen = []
        for c in self.calls:
            reported = isinstance(c.layer, keras.layers.Layer) and not isinstance(c.layer, keras.layers.InputLayer)
            if id(c) in live and reported and c.path not in skip and c.path not in seen:
                seen.append(c.path)
        return seen


def _tensors(structure) -> list:
    return [t for t in keras.tree.flatten(structure) if isinstance(t, keras.KerasTensor)]


def trace(model: keras.Model) -> Graph:
    """Replay `model` symbolically, recording every layer call; checks support.

    Raises:
        UnsupportedLayerError: a layer or operation without an LRP rule (named), or a model
            without any Conv / Dense layer.
        UnsupportedModelError: a channels-first model.
    """
    from kerasviz.core.layout import require_channels_last

    require_channels_last(model, "kv.lrp")  # also kv.crp and kv.relevance_maximization, which trace here
    calls: list[Call] = []

    def recorder(layer, path):
        if is_model(layer):
            return None

        def call(*args, **kwargs):
            outputs = layer(*args, **kwargs)
            first = bool(args) and isinstance(args[0], keras.KerasTensor)
            calls.append(Call(layer, path, _tensors((args, kwargs)), _tensors(outputs), first))
            return outputs

        return call

    inputs, outputs = rebuild(model, substitute=recorder)
    heads_layers = (
        {id(output_layer(model, i)) for i in range(len(_tensors(outputs)))}
        if not isinstance(model, keras.Sequential)
        else {id(output_layer(model))}
    )
    kinds = {c.path: classify(c, is_head=id(c.layer) in heads_layers) for c in calls}
    weighted = [c for c in calls if kinds[c.path] == "weighted"]
    if not weighted:
        raise UnsupportedLayerError(
            f"Model {model.name!r} has no Conv2D or Dense layer; LRP has nothing to propagate through."
        )
    producer, uses = _producers_and_uses(calls)
    folds, folded = _batch_norm_folds(calls, producer, uses)
    explained = inputs[explained_index(model)] if isinstance(inputs, list) else inputs  # a multi-input model
    prefixes, folded_into_pixels = _pixel_layers(calls, explained, kinds, folded)
    gates = {c.path: _gate_index(c, producer) for c in calls if kinds[c.path] == "gate"}
    heads = [_head(t, producer, kinds, calls) for t in _tensors(outputs)]
    spatial = {c.path for c in weighted if isinstance(c.layer, SPATIAL_WEIGHTED) or len(c.inputs[0].shape) > 2}
    low = any(is_low_precision(c.layer) for c in calls)
    return Graph(
        calls, kinds, folds, folded, prefixes, folded_into_pixels, gates, heads, spatial, _tensors(outputs), low
    )


def _producers_and_uses(calls):
    producer = {id(t): c for c in calls for t in c.outputs}
    uses: dict[int, int] = {}
    for c in calls:
        for t in c.inputs:
            uses[id(t)] = uses.get(id(t), 0) + 1
    return producer, uses


def _batch_norm_folds(calls, producer, uses):
    folds, folded = {}, set()
    for c in calls:
        if isinstance(c.layer, keras.layers.BatchNormalization) and len(c.inputs) == 1:
            source = producer.get(id(c.inputs[0]))
            if source is not None and uses[id(c.inputs[0])] == 1 and can_fold(c.layer, source.layer):
                folds[source.path] = c.layer
                folded.add(c.path)
    return folds, folded


def _pixel_layers(calls, model_input, kinds, folded):
    """Weighted layers fed by the input through affine / structural layers only, with those layers.

    The chain in front of a pixel layer is folded into it, so the pixels and
    every tensor of the chain may reach nothing but pixel layers and the
    chain; otherwise the weighted layers behind it do not count as reading the
    pixels (the chain's layers then stay z-rule layers).
    """
    chains = {id(model_input): []}
    prefixes, leaks = {}, set()
    for c in calls:  # calls are in graph order: a chain is extended before it is read
        if len(c.inputs) != 1 or id(c.inputs[0]) not in chains:
            leaks.update(id(t) for t in c.inputs if id(t) in chains)
            continue
        chain = chains[id(c.inputs[0])]
        if kinds[c.path] == "weighted":
            prefixes[c.path] = chain
        elif isinstance(c.layer, STRUCTURAL + AFFINE) and c.path not in folded:
            for t in c.outputs:
                chains[id(t)] = chain + [c]
        else:
            leaks.add(id(c.inputs[0]))
    result, hidden = {}, set()
    for path, chain in prefixes.items():
        if id(model_input) in leaks or any(id(t) in leaks for c in chain for t in c.outputs):
            continue
        result[path] = PixelPrefix([c.layer for c in chain]) if chain else None
        hidden.update(c.path for c in chain)  # folded into the pixel layer: its relevance is the pixels'
    return result, hidden


def _static_size(tensor) -> float:
    return float(np.prod([d if d is not None else np.inf for d in tensor.shape[1:]]))


def _gate_index(call, producer) -> int:
    """Which operand of a two-tensor product is the gate (see `layers.py`)."""
    if len(call.inputs) != 2:
        raise UnsupportedLayerError(
            f"Layer {call.path!r} (Multiply) multiplies {len(call.inputs)} tensors; kv.lrp handles a product of "
            "a signal and one gate."
        )
    sizes = [_static_size(t) for t in call.inputs]
    if sizes[0] != sizes[1]:
        return int(np.argmin(sizes))
    branches = [_branch(t, producer) for t in call.inputs]
    tests = (
        lambda branch: any(_pooled(layer) for layer in branch),  # a squeeze-excite branch
        lambda branch: is_gate_producer(next((l for l in branch if isinstance(l, keras.layers.Layer)), None)),
    )
    for test in tests:
        found = [test(branch) for branch in branches]
        if sum(found) == 1:
            return found.index(True)
    raise UnsupportedLayerError(
        f"Layer {call.path!r} (Multiply) multiplies two tensors of shape {tuple(call.inputs[0].shape)}; kv.lrp "
        "cannot tell the gate from the signal. It handles a product whose gate is broadcast over the signal, "
        "comes from a global pooling (squeeze-excite) or out of a sigmoid."
    )


def _branch(tensor, producer) -> list:
    """The layers behind `tensor`, nearest first, back to the nearest merge (included) or the input."""
    layers, call = [], producer.get(id(tensor))
    while call is not None:
        layers.append(call.layer)
        if len(call.inputs) != 1:
            break
        call = producer.get(id(call.inputs[0]))
    return layers


def _pooled(layer) -> bool:
    return (
        isinstance(layer, (keras.layers.GlobalAveragePooling2D, keras.layers.GlobalMaxPooling2D))
        or type(layer).__name__ == "Mean"
    )


def _head(tensor, producer, kinds, calls) -> str:
    """The last weighted layer (graph order) on the way to `tensor`."""
    order = {id(c): i for i, c in enumerate(calls)}
    best, stack, seen = None, [tensor], set()
    while stack:
        t = stack.pop()
        c = producer.get(id(t))
        if c is None or id(c) in seen:
            continue
        seen.add(id(c))
        if kinds[c.path] == "weighted" and (best is None or order[id(c)] > order[id(best)]):
            best = c
        stack.extend(c.inputs)
    if best is None:
        raise UnsupportedLayerError(
            "This output has no Conv2D or Dense layer before it; LRP has nothing to propagate through."
        )
    return best.path
