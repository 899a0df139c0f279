"""The part of a model after a layer: `head(layer value) -> model output`.

Methods that change a feature map and read the score again (Ablation-CAM,
channel or concept ablations) need not run the whole network for each
change: the layers before the cut give the same value every time. `layer_head`
rebuilds the model's graph (`graph.rebuild`, so nested models work and the
user's model is untouched) with the layer's call replaced by a new input.

If everything after the layer depends on the input only through that layer
(VGG, LeNet, any chain), the head has one input, the layer's value. If a skip
connection crosses the cut (ResNet blocks, U-Nets), the head also takes the
image, and recomputes the pre-cut branches the skip needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras

from kerasviz.core.errors import UnsupportedLayerError
from kerasviz.core.graph import cache, chain_substitutes, logits_substitute, rebuild
from kerasviz.core.layers import LayerSpec, find_layer
from kerasviz.core.outputs import pick_output


@dataclass
class LayerHead:
    """The model after a layer.

    Attributes:
        model: a Keras model `value -> output` (`needs_input=False`) or
            `[image, value] -> output` (`needs_input=True`); its output is the
            chosen model output (logits when built with `logits=True`).
        needs_input: a skip connection crosses the cut, so the head also
            takes the image.
        layer: the layer whose output is replaced.
    """

    model: keras.Model
    needs_input: bool
    layer: str

    def __call__(self, x, value):
        """The model output for images `x` `(n, H, W, C)` whose layer value is `value`."""
        if self.needs_input:
            return self.model([x, value], training=False)
        return self.model(value, training=False)


def _build_head(model, layer: LayerSpec, output: int, logits: bool) -> LayerHead:
    target = find_layer(model, layer)
    shape = tuple(target.output.shape[1:])
    value = keras.Input(batch_shape=(None,) + shape, dtype=target.output.dtype, name="layer_value")
    calls = []

    def cut(found, path):
        if found is not target:
            return None

        def replaced(*args, **kwargs):
            calls.append(path)
            return value

        return replaced

    subs = chain_substitutes(cut, logits_substitute(model, output) if logits else None)
    image, outputs = rebuild(model, substitute=subs)
    if len(calls) != 1:
        raise UnsupportedLayerError(
            f"Layer {target.name!r} ({type(target).__name__}) is called {len(calls)} times in model "
            f"{model.name!r}; the part of the model after it is not defined for a shared layer."
        )
    out = pick_output(outputs, output)
    try:
        return LayerHead(keras.Model(value, out), False, str(layer))
    except ValueError:  # "Graph disconnected": something after the layer also reads the image
        return LayerHead(keras.Model([image, value], out), True, str(layer))


def layer_head(model: keras.Model, layer: LayerSpec, *, output: int = 0, logits: bool = True) -> LayerHead:
    """The cached head of `model` after `layer` (see the module docstring).

    Args:
        model: a functional or Sequential Keras model (never changed; the head
            shares its variables).
        layer: the cut layer (name, "outer/inner" path, index or Layer).
        output: index of the model output the head returns.
        logits: replace a softmax / sigmoid head by its logits.

    Returns:
        A `LayerHead`.

    Raises:
        LayerNotFoundError: unknown layer.
        UnsupportedLayerError: the layer is called more than once (shared).

    Example:
        >>> head = layer_head(vgg, "block5_conv3")
        >>> logits = head(x, acts)   # acts: block5_conv3's output, changed at will
    """
    key = ("layer_head", layer if isinstance(layer, (str, int)) else id(layer), output, logits)
    return cache.get(model, key, lambda: _build_head(model, layer, output, logits))
