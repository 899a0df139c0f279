"""Which output of a model a technique explains (`output=`).

A model may return one tensor, a list of tensors or a dict of tensors. Every
function that takes a `target` also takes `output=`: an index into the model's
outputs (in `keras.tree.flatten` order, the order of `model.outputs`), an output
layer's name, or, for dict outputs, a key. A model with one output needs no
`output=`; a model with several refuses to guess.
"""

from __future__ import annotations

import numbers

import keras
import numpy as np

from kerasviz.core.errors import ArgumentTypeError, InvalidArgumentError

OutputSpec = int | str | None


def _structure(model: keras.Model):
    return getattr(model, "_outputs_struct", None)


def output_tensors(model: keras.Model) -> list:
    """The model's symbolic outputs, flattened (`model.outputs` order)."""
    if isinstance(model, keras.Sequential):
        return [model.outputs[0]] if model.outputs else []
    return list(model.outputs)


def output_names(model: keras.Model) -> list[list[str]]:
    """For each flattened output, the names it answers to: dict key (if any) and layer name."""
    tensors = output_tensors(model)
    layer_names = [t._keras_history.operation.name for t in tensors]
    struct = _structure(model)
    if isinstance(struct, dict):
        keys = sorted(struct)  # keras.tree.flatten orders dict outputs by key
        return [[k, n] if k != n else [k] for k, n in zip(keys, layer_names)]
    return [[n] for n in layer_names]


def describe_outputs(model: keras.Model) -> str:
    """`0: 'cls' (None, 10), 1: 'box' (None, 4)`, for messages."""
    parts = []
    for i, (names, t) in enumerate(zip(output_names(model), output_tensors(model))):
        parts.append(f"{i}: {' / '.join(repr(n) for n in names)} {tuple(t.shape)}")
    return ", ".join(parts)


def resolve_output(model: keras.Model, output: OutputSpec = None) -> int:
    """The index of the explained output in the flattened outputs.

    Args:
        model: a functional or Sequential Keras model.
        output: None (only for single-output models), an index (negative
            counts from the end), an output layer name or a dict key.

    Returns:
        An index into `model.outputs`.

    Raises:
        InvalidArgumentError: several outputs and `output=None`, an index out of
            range, or an unknown name (the message lists the outputs).
        ArgumentTypeError: `output` is not None, an int or a str.
    """
    from kerasviz.core.graph import check_model, is_subclassed

    check_model(model)
    if isinstance(output, (bool, np.bool_)) or not isinstance(output, (type(None), numbers.Integral, np.integer, str)):
        raise ArgumentTypeError(
            f"`output` must be None, an index or an output name; got {output!r} ({type(output).__name__})."
        )
    if is_subclassed(model):
        return output if not isinstance(output, np.integer) else int(output)  # resolved on the outputs of call()
    count = len(output_tensors(model)) if not isinstance(model, keras.Sequential) else 1
    if output is None:
        if count > 1:
            raise InvalidArgumentError(
                f"Model {model.name!r} has {count} outputs ({describe_outputs(model)}); choose the one to "
                "explain with output= (its index or name)."
            )
        return 0
    if isinstance(output, (bool, np.bool_)):
        raise ArgumentTypeError(f"`output` must be an index or an output name; got {output!r}.")
    if isinstance(output, (numbers.Integral, np.integer)):
        index = int(output)
        if not -count <= index < count:
            raise InvalidArgumentError(
                f"`output` index {index} is out of range: model {model.name!r} has {count} output(s) "
                f"({describe_outputs(model)})."
            )
        return index % count
    if isinstance(output, str):
        for index, names in enumerate(output_names(model)):
            if output in names:
                return index
        raise InvalidArgumentError(
            f"`output` {output!r} is not an output of model {model.name!r}; its outputs are {describe_outputs(model)}."
        )
    raise ArgumentTypeError(f"`output` must be None, an index or an output name; got {type(output).__name__}.")


def pick_output(outputs, index: int):
    """The `index`-th tensor of a model call's outputs (a tensor, list, tuple or dict)."""
    if isinstance(outputs, dict):
        return [outputs[k] for k in sorted(outputs)][index]
    if isinstance(outputs, (list, tuple)):
        return outputs[index]
    if index != 0:
        raise InvalidArgumentError(f"`output` {index} requested but the model returned a single tensor.")
    return outputs


def pick_output_spec(outputs, spec, model):
    """The output `spec` (None / index / dict key) of a call's outputs, for models without declared outputs."""
    if isinstance(outputs, dict):
        keys = sorted(outputs)
        if spec is None and len(keys) == 1:
            return outputs[keys[0]]
        if isinstance(spec, str) and spec in outputs:
            return outputs[spec]
        if isinstance(spec, int) and -len(keys) <= spec < len(keys):
            return outputs[keys[spec]]
        raise InvalidArgumentError(
            f"Model {model.name!r} returns a dict with keys {keys}; choose the one to explain with output= "
            f"(a key or an index); got {spec!r}."
        )
    if isinstance(outputs, (list, tuple)):
        if spec is None and len(outputs) == 1:
            return outputs[0]
        if isinstance(spec, int) and -len(outputs) <= spec < len(outputs):
            return outputs[spec]
        raise InvalidArgumentError(
            f"Model {model.name!r} returns {len(outputs)} outputs; choose the one to explain with output= "
            f"(an index 0..{len(outputs) - 1}); got {spec!r}."
        )
    if spec not in (None, 0, -1):
        raise InvalidArgumentError(f"`output` {spec!r} requested but model {model.name!r} returns a single tensor.")
    return outputs


def output_layer_at(model: keras.Model, index: int = 0) -> keras.layers.Layer | None:
    """The layer producing output `index` (None for Sequential models: see `graph.output_layer`)."""
    if isinstance(model, keras.Sequential):
        return None
    return output_tensors(model)[index]._keras_history.operation
