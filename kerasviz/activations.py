"""Intermediate activations from one forward pass, and per-map statistics.

Seed 004 reads VGG16's activations block by block (edges early, abstraction
later, many blank maps in block5_conv3); seed 002 warns about dead filters that
are zero for every input. `activations` computes any set of layers from ONE
forward pass; `activation_summary` streams a dataset and counts, per channel,
how often it is zero (APoZ) and whether it ever fires.
"""

from __future__ import annotations

from typing import Iterable, Optional, Sequence

import keras
import numpy as np

from kerasviz.core.gradients import compile_function
from kerasviz.core.graph import cache, tap_model
from kerasviz.core.inputs import as_image_batch, batches
from kerasviz.core.layers import LayerSpec, is_model, iter_layers


def image_layers(model: keras.Model) -> list[str]:
    """Paths of every leaf layer whose output is a 4-D feature map (N, h, w, c)."""
    paths = []
    for path, layer in iter_layers(model):
        if is_model(layer) or isinstance(layer, keras.layers.InputLayer):
            continue
        try:
            rank = len(layer.output.shape)
        except (AttributeError, ValueError):
            continue
        if rank == 4:
            paths.append(path)
    return paths


def _layer_specs(model, layers) -> list:
    if layers is None:
        return image_layers(model)
    if isinstance(layers, (str, int, keras.layers.Layer)):
        return [layers]
    return list(layers)


def feature_extractor(model: keras.Model, layers: Iterable[LayerSpec], *, pre_activation: bool = False) -> keras.Model:
    """One multi-output Keras model yielding every requested layer from one forward pass.

    The graph is rebuilt on a fresh input (nested models flattened), so it works
    for functional, Sequential and nested models alike, and shares the user's
    weights (no copy). Only the layers needed for the requested outputs run.

    Args:
        model: a Keras image model; never changed.
        layers: names, "outer/inner" paths, indices or layer objects.
        pre_activation: for layers with a fused activation (e.g. VGG16's convs,
            whose output is post-ReLU), return the value before the activation.

    Returns:
        A `keras.Model` whose output is a dict `{key: (N, h, w, c)}`, keyed by
        the given name/path (or the layer's name for indices and objects).

    Example:
        >>> fx = kv.feature_extractor(model, ["block1_conv1", "block5_conv3"])
        >>> fx(images)["block5_conv3"].shape
        TensorShape([1, 14, 14, 512])
    """
    taps, _ = tap_model(model, _layer_specs(model, layers), pre_activation=pre_activation, logits=False, include_output=False)
    return taps


def _compiled_extractor(model, specs: tuple, pre_activation: bool):
    def build():
        fx = feature_extractor(model, specs, pre_activation=pre_activation)
        return fx, compile_function(lambda x: fx(x, training=False))

    return cache.get(model, ("activations", specs, pre_activation), build)


def activations(
    model: keras.Model,
    images,
    layers: Optional[Sequence[LayerSpec] | LayerSpec] = None,
    *,
    pre_activation: bool = False,
    batch_size: int = 32,
) -> dict[str, np.ndarray]:
    """Activations of several layers, all from one forward pass per batch.

    Args:
        model: a Keras image model; never changed.
        images: one image `(H, W, C)` or a batch `(N, H, W, C)`, in the model's
            input space (e.g. after `kv.preprocess` for VGG16).
        layers: a layer spec or a list of them; None means every layer with a
            4-D output (convs, pools, activations), nested models included.
        pre_activation: values before fused activations (see `feature_extractor`).
        batch_size: images per forward pass (bounds memory).

    Returns:
        `{key: array (N, h, w, c)}` as float32 numpy arrays (batch axis kept,
        also for a single image).

    Example:
        >>> acts = kv.activations(vgg, kv.preprocess(kv.sample_image(size=224)), "block1_conv1")
        >>> acts["block1_conv1"].shape
        (1, 224, 224, 64)
    """
    specs = tuple(_layer_specs(model, layers))
    x, _ = as_image_batch(images, model)
    fx, run = _compiled_extractor(model, specs, pre_activation)
    parts = [run(x[s]) for s in batches(len(x), batch_size)]
    return {k: np.concatenate([np.asarray(p[k], np.float32) for p in parts]) for k in fx.output}


def blank_maps(maps: np.ndarray, tol: float = 0.0) -> np.ndarray:
    """Boolean mask `(..., c)` of channels whose map is all zero (|a| <= tol) for one image.

    Args:
        maps: `(h, w, c)` or `(N, h, w, c)` activations.
    """
    maps = np.asarray(maps)
    return np.all(np.abs(maps) <= tol, axis=(-3, -2))


# The dataset statistics live with the other dataset views; re-exported here for older imports.
from kerasviz.dataset.summary import ActivationSummary, activation_summary  # noqa: E402,F401
