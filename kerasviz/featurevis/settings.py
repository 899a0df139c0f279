"""Argument checks shared by the feature-visualization functions.

Every setting is checked before any model work, so a bad one fails in
milliseconds with a `KerasvizError` naming it. Quick mode (`KERASVIZ_QUICK=1`)
caps only defaults: a `steps=None` resolves to the documented default, capped;
a value the user passes is always used.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Sequence

import keras
import numpy as np

from kerasviz._config import max_steps
from kerasviz.core.errors import ArgumentTypeError, InvalidArgumentError
from kerasviz.core.graph import model_input
from kerasviz.core.layers import LayerSpec, find_layer
from kerasviz.core.validate import check_indices, check_int, check_number, check_positive
from kerasviz.featurevis.inputs import architecture_defaults, model_hw
from kerasviz.featurevis.regularizers import Regularizer
from kerasviz.featurevis.transforms import Transform, standard_transforms

Transforms = str | Sequence[Transform] | None

MAX_STEPS = 100_000  # far beyond any useful optimisation; bounds the (steps, n) score history
MAX_SIZE = 1024  # pixels a side: one VGG16 image at 1024 px already needs about 2 GB for its gradients
MAX_OCTAVES = 12
PIXEL_BUDGET = 32 * 128 * 128  # pixels optimised together by default: 32 images at 128 px, 10 at 224 px


def check_model(model) -> keras.Model:
    """A functional or Sequential Keras model with one image input (clear errors otherwise)."""
    if not isinstance(model, keras.Model):
        raise ArgumentTypeError(f"`model` must be a keras.Model; got {type(model).__name__}.")
    model_input(model)  # subclassed and unbuilt models get their clear error here
    return model


def check_layer(model: keras.Model, layer: LayerSpec, name: str = "layer") -> keras.layers.Layer:
    """The layer `layer` names (a name, path, index or Layer); not the input layer."""
    if isinstance(layer, np.integer):
        layer = int(layer)
    if isinstance(layer, bool) or not isinstance(layer, (str, int, keras.layers.Layer)):
        raise ArgumentTypeError(f"`{name}` must be a layer name, an index or a Layer; got {layer!r}.")
    inputs = {l.name for l in model.layers if isinstance(l, keras.layers.InputLayer)}
    if isinstance(layer, str) and layer in inputs:
        layer = next(l for l in model.layers if l.name == layer)
    found = layer if isinstance(layer, keras.layers.InputLayer) else find_layer(model, layer)
    if isinstance(found, keras.layers.InputLayer):
        raise InvalidArgumentError(
            f"`{name}` {layer!r} is the model's input layer: there is nothing to visualise there; "
            "choose a layer after it."
        )
    return found


def check_steps(steps, default: int, name: str = "steps") -> int:
    """`steps` as given (1..MAX_STEPS), or `default` capped in quick mode when None."""
    if steps is None:
        return max_steps(default)
    return check_int(steps, name, minimum=1, maximum=MAX_STEPS)


def check_size(size, name: str = "size") -> tuple:
    """An image side or `(height, width)`, each an integer in 8..MAX_SIZE."""
    if isinstance(size, (numbers.Integral, np.integer)) and not isinstance(size, bool):
        size = (size, size)
    if not isinstance(size, (tuple, list)) or len(size) != 2:
        raise ArgumentTypeError(f"`{name}` must be an integer or (height, width); got {size!r}.")
    return tuple(check_int(s, name, minimum=8, maximum=MAX_SIZE) for s in size)


def default_size(model: keras.Model) -> tuple:
    """The default image size: per architecture, else the model's fixed input size, else 128 px."""
    fixed = model_hw(model)
    size = architecture_defaults(model).get("size") or (fixed if None not in fixed else 128)
    return check_size(size)


def check_octaves(octaves, octave_scale, size: tuple, minimum: int = 8) -> tuple[int, float]:
    """`(octaves, octave_scale)`: octaves in 1..MAX_OCTAVES, scale > 1, smallest octave >= `minimum` px."""
    octaves = check_int(octaves, "octaves", minimum=1, maximum=MAX_OCTAVES)
    octave_scale = check_number(octave_scale, "octave_scale", minimum=1.0, maximum=4.0, strict_minimum=True)
    smallest = int(min(size) / octave_scale ** (octaves - 1))
    if smallest < minimum:
        raise InvalidArgumentError(
            f"`octaves`={octaves} with octave_scale={octave_scale:g} shrinks the {min(size)} px image to "
            f"{smallest} px; the smallest octave must be at least {minimum} px (use fewer octaves)."
        )
    return octaves, octave_scale


def check_callback(callback, every, name: str = "callback") -> tuple:
    """`(callback, every)`: a callable or None, and a step interval >= 1."""
    if callback is not None and not callable(callback):
        raise ArgumentTypeError(f"`{name}` must be a function taking a Snapshot, or None; got {callback!r}.")
    return callback, check_int(every, f"{name}_every", minimum=1, maximum=MAX_STEPS)


def check_flag(value, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ArgumentTypeError(f"`{name}` must be True or False; got {value!r}.")
    return bool(value)


def take_deprecated(options: dict, old: str, new: str, value, function: str):
    """Accept an old keyword (with a DeprecationWarning) unless the new one was given too."""
    if old not in options:
        return value
    old_value = options.pop(old)
    if value is not None:
        raise ArgumentTypeError(f"{function}() got both `{new}` and its old name `{old}`; pass only `{new}`.")
    warnings.warn(f"{function}(): `{old}=` is now called `{new}=`.", DeprecationWarning, stacklevel=3)
    return old_value


def reject_unknown(options: dict, function: str) -> None:
    if options:
        raise ArgumentTypeError(f"{function}() got unexpected keyword argument(s) {sorted(options)}.")


def check_learning_rate(lr, name: str = "lr") -> float:
    return check_positive(lr, name)


def default_batch(size: tuple, model_hw: tuple) -> int:
    """Images optimised together by default: as many as fit PIXEL_BUDGET at the larger of size and model size."""
    pixels = max(size[0] * size[1], (model_hw[0] or 0) * (model_hw[1] or 0))
    return int(min(32, max(1, PIXEL_BUDGET // pixels)))


def resolve_transforms(transforms: Transforms, size) -> list:
    """The transforms to apply: "standard" (for the image side `size`), None / "none", or a list of Transforms."""
    if isinstance(transforms, str) and transforms == "standard":
        return standard_transforms(min(size))
    if transforms is None or (isinstance(transforms, str) and transforms == "none"):
        return []
    if isinstance(transforms, (list, tuple)) and all(isinstance(t, Transform) for t in transforms):
        return list(transforms)
    raise ArgumentTypeError(
        f"`transforms` must be 'standard', None or a list of Transform objects; got {transforms!r}."
    )


def resolve_regularizers(regularizers) -> list:
    """A list of `Regularizer` objects from one or a list of them."""
    if isinstance(regularizers, Regularizer):
        return [regularizers]
    if isinstance(regularizers, (list, tuple)) and all(isinstance(r, Regularizer) for r in regularizers):
        return list(regularizers)
    raise ArgumentTypeError(
        f"`regularizers` must be a list of Regularizer objects (e.g. [kv.regularizers.TV()]); got {regularizers!r}."
    )


def layer_units(model, layer, filters, objective: str) -> tuple:
    """`(units, layer)`: the checked filter indices (int64) of a layer whose output feature visualization can read."""
    found = check_layer(model, layer)
    try:
        shape = tuple(found.output.shape)
    except (AttributeError, ValueError):
        raise InvalidArgumentError(f"`layer` {found.name!r} has no single output shape to visualise.") from None
    spatial = len(shape) == 4
    if not spatial and len(shape) != 2:
        raise InvalidArgumentError(
            f"`layer` {found.name!r} outputs shape {shape}; feature visualization needs (N, h, w, C) or (N, C)."
        )
    if objective == "neuron" and not spatial:
        raise InvalidArgumentError(
            f"`objective`='neuron' needs a spatial layer (N, h, w, C); `layer` {found.name!r} outputs {shape}."
        )
    units = np.asarray(check_indices(filters, "filters", size=unit_count(found, shape)), np.int64)
    return units, found


def unit_count(found, shape: tuple) -> int:
    """Channels of a layer's output (axis 1 of a channels-first feature map, else the last axis)."""
    channels_first = len(shape) > 2 and getattr(found, "data_format", None) == "channels_first"
    return int(shape[1] if channels_first else shape[-1])


def objective_units(model, objective, units, output):
    """`units` checked against what `objective` reads: a layer's channels, or the classes of an output."""
    from kerasviz.core.outputs import output_tensors, resolve_output
    from kerasviz.core.validate import check_indices
    from kerasviz.featurevis.objectives import OUTPUT

    size = 2**31 - 1
    if output != 0 or OUTPUT in objective.layers:
        output = resolve_output(model, output)
    if objective.unit_layer is not None:
        found = find_layer(model, objective.unit_layer, name="objective")
        try:
            size = unit_count(found, tuple(found.output.shape))
        except (AttributeError, ValueError):
            pass
    elif OUTPUT in objective.layers:
        size = int(output_tensors(model)[output].shape[-1])
    return np.asarray(check_indices(units, "units", size=size, allow_none=False), np.int64), output
