"""Models with several inputs: one input is explained, the others are held fixed.

An (image, metadata) classifier, a model reading two images, a signal plus
side information: kerasviz explains one input at a time, the *explained
input*, and passes the others alongside, unchanged.

How a user gives them (the form `model.predict` takes):

- a list or tuple with one array per model input, in `model.inputs` order, or
  a dict keyed by input name (`{"image": x, "meta": m}`);
- or only the explained input's array: enough for everything computed from
  that input alone (activations of the image branch, filter maximization);
  anything that needs the other inputs says which are missing.

`input=` chooses the explained input (an index into `model.inputs` or an input
name); by default it is the model's image input, the first input of highest
rank. The other inputs come one row per image, or one row without the batch
axis that every image shares. Wherever a method multiplies an image (path
points, noisy copies, occluded or masked copies), each copy carries its
image's row: `SideInputs.take(image_ids)`.

Inside kerasviz a rebuilt graph (`graph.tap_model`) is fed only the inputs it
reads: `TapFeed` knows which, picks them from a `SideInputs` on the host and
puts them next to the explained batch in the compiled step.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Union

import numpy as np
import tensorflow as tf

from kerasviz.core.errors import ArgumentTypeError, InvalidArgumentError, UnsupportedModelError

InputSpec = Union[None, int, str]


def input_tensors(model) -> list:
    """The model's symbolic inputs, flat in `model.inputs` order (a dict's keys sorted, as Keras does)."""
    try:
        return list(model.inputs or [])
    except (AttributeError, ValueError):
        return []


def input_names(model) -> list[str]:
    """The name of each model input (its `keras.Input(name=...)`)."""
    names = []
    for tensor in input_tensors(model):
        history = getattr(tensor, "_keras_history", None)
        names.append(history.operation.name if history is not None else getattr(tensor, "name", "input"))
    return names


def _default_index(model) -> int:
    ranks = [len(t.shape) for t in input_tensors(model)]
    return int(np.argmax(ranks)) if ranks else 0


def explained_index(model, input: InputSpec = None, *, name: str = "input") -> int:
    """The position in `model.inputs` of the explained input.

    Args:
        model: a Keras model.
        input: None (the image input: the first input of highest rank), an
            index (negative from the end) or an input name.

    Raises:
        InvalidArgumentError: an unknown name or an index out of range (the
            message lists the inputs).
        ArgumentTypeError: neither None, an int nor a string.
    """
    tensors = input_tensors(model)
    count = max(len(tensors), 1)
    if input is None:
        return _default_index(model)
    names = input_names(model)
    listing = ", ".join(f"{i}: {n!r} {tuple(t.shape)}" for i, (n, t) in enumerate(zip(names, tensors)))
    if isinstance(input, (bool, np.bool_)) or not isinstance(input, (numbers.Integral, np.integer, str)):
        raise ArgumentTypeError(f"`{name}` must be an input index or an input name; got {input!r}. Inputs: {listing}.")
    if isinstance(input, str):
        if input not in names:
            raise InvalidArgumentError(
                f"`{name}` {input!r} is not an input of model {model.name!r}; its inputs: {listing}."
            )
        return names.index(input)
    index = int(input)
    if not -count <= index < count:
        raise InvalidArgumentError(
            f"`{name}` {index} is out of range: model {model.name!r} has {count} input(s) ({listing or 'one'})."
        )
    return index % count


@dataclass(frozen=True)
class SideInputs:
    """The inputs held fixed, row-aligned with the explained batch.

    Attributes:
        values: one entry per model input: a tensor `(N, ...)` in kerasviz's
            layout, or None (the explained input, or an input not given).
        names: the inputs' names, for messages.
        index: the explained input's position.
    """

    values: tuple = ()
    names: tuple = ()
    index: int = 0

    def __bool__(self) -> bool:
        return any(v is not None for v in self.values)

    def _map(self, fn) -> SideInputs:
        return SideInputs(tuple(None if v is None else fn(v) for v in self.values), self.names, self.index)

    def take(self, ids) -> SideInputs:
        """The rows of images `ids` (one per generated row: `image_of(rows)`)."""
        if not self:
            return self
        ids = tf.convert_to_tensor(np.asarray(ids) if not isinstance(ids, tf.Tensor) else ids)
        return self._map(lambda v: tf.gather(v, ids))

    def __getitem__(self, rows: slice) -> SideInputs:
        return self._map(lambda v: v[rows]) if self else self

    def concat(self, other: SideInputs) -> SideInputs:
        """These rows followed by `other`'s (same inputs)."""
        if not self:
            return other
        joined = tuple(None if a is None else tf.concat([a, b], 0) for a, b in zip(self.values, other.values))
        return SideInputs(joined, self.names, self.index)


NO_SIDE = SideInputs()


class TapFeed:
    """Which inputs a rebuilt graph reads, and how to feed them next to the explained batch.

    A tap built by `graph.tap_model` records the model inputs it reads
    (`kv_fed`, in order); a graph that reads only the explained input needs no
    side input at all.
    """

    def __init__(self, tap, index: int = 0):
        fed = tuple(getattr(tap, "kv_fed", (index,)))
        self.index = index if index in fed else fed[0]
        self.position = fed.index(self.index)
        self.side_ids = tuple(i for i in fed if i != self.index)

    def values(self, side: SideInputs | None, technique: str = "This technique") -> tuple:
        """The side tensors the graph reads, in its order (checked to be given)."""
        if not self.side_ids:
            return ()
        if side is None:
            raise UnsupportedModelError(
                f"{technique} does not hold a multi-input model's other inputs fixed yet, and what it reads depends "
                "on them. Methods that do: gradient, saliency, SmoothGrad, integrated gradients, occlusion, "
                "Grad-CAM (and its variants), RISE, activations."
            )
        missing = [i for i in self.side_ids if i >= len(side.values) or side.values[i] is None]
        if missing:
            names = [side.names[i] if i < len(side.names) else str(i) for i in missing] if side.names else missing
            raise InvalidArgumentError(
                f"`images`: {technique} needs the model's other input(s) {names} as well (the layers it reads "
                "depend on them). Pass `images` as a list with one array per model input (model.inputs order) or "
                "a dict keyed by input name; they are held fixed while the explained input is explained."
            )
        return tuple(side.values[i] for i in self.side_ids)

    def inputs(self, x, values: tuple):
        """The graph's input: `x` alone, or the list with `x` at its place (in-graph)."""
        if not self.side_ids:
            return x
        fed = list(values)
        fed.insert(self.position, x)
        return fed


def fresh_inputs(model, transpose_images: bool):
    """New `keras.Input`s like the model's, and what its first layers are called with.

    Returns:
        `(inputs, x)`: the inputs in `model.inputs` order, and `x` in the
        model's own input structure (one tensor, a list or a dict). With
        `transpose_images` (a channels-first model read channels last),
        every image input is `(None, H, W, C)` and transposed back for the
        model.
    """
    import keras

    inputs, fed = [], []
    for reference in model.inputs:
        shape = tuple(reference.shape[1:])
        transpose = transpose_images and len(shape) == 3
        if transpose:
            shape = (shape[1], shape[2], shape[0])
        tensor = keras.Input(batch_shape=(None,) + shape, dtype=reference.dtype)
        inputs.append(tensor)
        fed.append(keras.ops.transpose(tensor, (0, 3, 1, 2)) if transpose else tensor)
    if len(fed) == 1:
        return inputs, fed[0]
    structure = getattr(model, "_inputs_struct", None)
    return inputs, (keras.tree.pack_sequence_as(structure, fed) if structure is not None else fed)


def fed_model(model, inputs: list, outputs, *, name: str, input: InputSpec = None, side: bool = False):
    """`keras.Model` of a rebuilt multi-input graph that reads the explained input alone when it can.

    Args:
        model: the user's model (for its input names).
        inputs: the rebuilt graph's inputs, in `model.inputs` order.
        outputs: the tensors to return.
        input: the explained input (index or name).
        side: the caller can feed the other inputs (`TapFeed`); otherwise a
            graph that needs them is refused.

    Returns:
        The model, with `kv_fed`: the positions of the inputs it reads, in order.

    Raises:
        UnsupportedModelError: the outputs need the other inputs and `side` is False.
    """
    import keras

    index = explained_index(model, input)
    try:
        tap, fed = keras.Model(inputs[index], outputs, name=name), (index,)
    except ValueError:  # an output also depends on the other inputs
        if not side:
            others = [n for i, n in enumerate(input_names(model)) if i != index]
            raise UnsupportedModelError(
                f"What this technique reads of model {model.name!r} depends on its other input(s) {others}, which it "
                "cannot hold fixed; choose a layer computed from the explained input alone."
            ) from None
        tap, fed = keras.Model(inputs, outputs, name=name), tuple(range(len(inputs)))
    tap.kv_fed = fed
    return tap


def split_images(images, model, index: int, name: str = "images"):
    """`(explained, {position: side array})` from what the user passed.

    A list / tuple with one entry per model input, or a dict keyed by input
    name, is split; anything else is the explained input alone.
    """
    tensors = input_tensors(model)
    if len(tensors) < 2:
        return images, {}
    names = input_names(model)
    if isinstance(images, dict):
        unknown = [k for k in images if k not in names]
        if unknown:
            raise InvalidArgumentError(
                f"`{name}` has key(s) {unknown} that are not inputs of model {model.name!r}; its inputs are {names}."
            )
        if names[index] not in images:
            raise InvalidArgumentError(
                f"`{name}` has no entry for the explained input {names[index]!r} (keys: {sorted(images)})."
            )
        return images[names[index]], {names.index(k): v for k, v in images.items() if k != names[index]}
    if isinstance(images, (list, tuple)) and len(images) == len(tensors) and _per_input(images, tensors):
        return images[index], {i: v for i, v in enumerate(images) if i != index}
    return images, {}


def _per_input(items, tensors) -> bool:
    """True if `items` reads as one array per model input (ranks match, with or without the batch axis)."""
    for item, tensor in zip(items, tensors):
        if item is None or isinstance(item, (str, bytes)):
            return False
        rank = np.ndim(item) if not isinstance(item, (tf.Tensor, tf.Variable)) else item.shape.rank
        if rank not in (len(tensor.shape), len(tensor.shape) - 1):
            return False
    return True


def side_inputs(model, others: dict, index: int, n: int, *, name: str = "images") -> SideInputs:
    """Check the held-fixed inputs and align them with `n` explained rows.

    Each is cast to its input's dtype; one row without the batch axis (or a
    batch of one) is repeated for every image; a rank-4 input of a
    channels-first model is taken in the model's layout and moved channels
    last.

    Raises:
        InvalidArgumentError: wrong rank, row count or shape for an input.
    """
    from kerasviz.core.inputs import as_numeric_array, from_model_layout

    tensors, names = input_tensors(model), input_names(model)
    values: list = [None] * len(tensors)
    for position, raw in others.items():
        label = f"{name}[{names[position]!r}]"
        tensor = tensors[position]
        want = tuple(tensor.shape[1:])
        array = as_numeric_array(raw, label)
        array = array.numpy() if isinstance(array, (tf.Tensor, tf.Variable)) else np.asarray(array)
        if array.ndim == len(want):
            array = array[None]
        if array.ndim != len(want) + 1:
            raise InvalidArgumentError(
                f"`{label}` has shape {array.shape}; input {names[position]!r} takes {(None,) + want} "
                f"(or one row {want} shared by every image)."
            )
        if any(w is not None and w != s for w, s in zip(want, array.shape[1:])):
            raise InvalidArgumentError(
                f"`{label}` has shape {array.shape}; input {names[position]!r} takes rows of shape {want}."
            )
        rows = array.shape[0]
        if rows not in (1, n):
            raise InvalidArgumentError(
                f"`{label}` has {rows} rows for {n} explained image(s); give one row per image or one shared row."
            )
        if rows == 1 and n > 1:
            array = np.repeat(array, n, axis=0)
        if array.ndim == 4:
            array = from_model_layout(array, model)
        values[position] = tf.convert_to_tensor(array.astype(tf.as_dtype(tensor.dtype).as_numpy_dtype))
    return SideInputs(tuple(values), tuple(names), index)


def single_input_only(model, side: SideInputs, technique: str) -> None:
    """Refuse side inputs for a technique that reads one input only (the one message)."""
    if side:
        raise UnsupportedModelError(
            f"{technique} reads model {model.name!r}'s explained input only and cannot hold its other inputs "
            "fixed yet; pass the explained input alone (layers that depend only on it work)."
        )


__all__ = [
    "InputSpec",
    "SideInputs",
    "NO_SIDE",
    "TapFeed",
    "input_tensors",
    "input_names",
    "explained_index",
    "split_images",
    "side_inputs",
    "single_input_only",
    "fed_model",
    "fresh_inputs",
]
