"""Intermediate activations from one forward pass, and per-map statistics.

Reading VGG16's activations block by block shows edges early, abstraction
later, and many blank maps in block5_conv3; dead filters are zero for every
input. `activations` computes any set of layers from ONE forward pass;
`activation_summary` (in `kerasviz.dataset.summary`, re-exported here) streams
a dataset and counts, per channel, how often it is zero (APoZ) and whether it
ever fires.

Feature maps come out channels last, `(N, h, w, c)`, whatever the model's
`data_format`, and in float32 also for a mixed-precision model.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import keras
import numpy as np
import tensorflow as tf

from kerasviz._config import progress_bar
from kerasviz.core.errors import ArgumentTypeError, InvalidArgumentError
from kerasviz.core.feature_maps import Reshape, check_map_layer, check_reshape, map_layers, reshaped
from kerasviz.core.gradients import compile_function, require_graph
from kerasviz.core.graph import cache, check_model, model_input, tap_model
from kerasviz.core.inputs import as_model_batch, batches, chunk_count
from kerasviz.core.layers import LayerSpec, find_layer, spatial_layers
from kerasviz.core.layout import compile_options
from kerasviz.core.memory import check_rows_per_call
from kerasviz.core.model_inputs import InputSpec, TapFeed
from kerasviz.core.validate import check_bool, check_int, check_number


def image_layers(model: keras.Model) -> list[str]:
    """Paths of every leaf layer whose output is a 4-D feature map `(N, h, w, c)` (`core.layers.spatial_layers`).

    Args:
        model: a Keras model (functional, Sequential or nested).

    Returns:
        Layer paths in graph order: the layers `kv.activations` can show as maps.

    Example:
        >>> acts = kv.activations(model, x, kv.image_layers(model))
    """
    check_model(model)
    return spatial_layers(model)


def _layer_specs(model, layers, name: str = "layers", input=None) -> list:
    """The layer specs to read, checked: None -> every feature-map layer; one spec; or a non-empty list."""
    check_model(model)
    require_graph(model, "activations")
    model_input(model, input)  # an unbuilt model: says how to give it an input
    if layers is None:
        rank = len(model_input(model, input).shape) - 2
        specs = map_layers(model, rank) if rank != 2 else image_layers(model)
        if not specs:
            raise InvalidArgumentError(
                f"Model {model.name!r} has no layer with a feature map like its input's; pass `{name}`."
            )
        return specs
    if isinstance(layers, (str, int, np.integer, keras.layers.Layer)) and not isinstance(layers, bool):
        specs = [layers]
    elif isinstance(layers, (list, tuple)):
        specs = list(layers)
        if not specs:
            raise InvalidArgumentError(f"`{name}` is an empty list; give at least one layer name, path or index.")
    else:
        raise ArgumentTypeError(
            f"`{name}` must be a layer name, path, index, Layer, or a list of them; got {layers!r} "
            f"({type(layers).__name__})."
        )
    for spec in specs:
        find_layer(model, spec, name=name)
    return specs


def feature_extractor(
    model: keras.Model,
    layers: Iterable[LayerSpec] = None,
    *,
    pre_activation: bool = False,
    channels_last: bool = False,
) -> keras.Model:
    """One multi-output Keras model yielding every requested layer from one forward pass.

    The graph is rebuilt on a fresh input (nested models flattened), so it works
    for functional, Sequential and nested models alike, and shares the user's
    weights (no copy). Only the layers needed for the requested outputs run.

    Args:
        model: a Keras image model; never changed.
        layers: names, "outer/inner" paths, indices or layer objects.
        pre_activation: for layers with a fused activation (e.g. VGG16's convs,
            whose output is post-ReLU), return the value before the activation.
        channels_last: take `(N, H, W, C)` images and return `(N, h, w, c)`
            maps also for a channels-first model (the layout of
            `inputs.as_image_batch`, which `kv.activations` uses); False keeps
            the model's own layout for both.

    Returns:
        A `keras.Model` whose output is a dict `{key: (N, h, w, c)}`, keyed by
        the given name/path (or the layer's name for indices and objects).

    Example:
        >>> fx = kv.feature_extractor(model, ["block1_conv1", "block5_conv3"])
        >>> fx(images)["block5_conv3"].shape
        TensorShape([1, 14, 14, 512])
    """
    taps, _ = tap_model(
        model,
        _layer_specs(model, layers),
        pre_activation=pre_activation,
        logits=False,
        include_output=False,
        channels_last=channels_last,
    )
    return taps


def _compiled_extractor(model, specs: tuple, pre_activation: bool, reshape: Reshape = None, input: int = 0):
    """The cached channels-last extractor of `specs`, its input feed and its compiled call
    `(x, side) -> {key: map}` (inputs from `as_model_batch`; token layers laid out by `reshape`)."""

    def build():
        fx, _ = tap_model(
            model,
            specs,
            pre_activation=pre_activation,
            logits=False,
            include_output=False,
            input=input,
            side=True,
        )
        feed = TapFeed(fx, input)
        run = lambda x, side: {k: reshaped(v, reshape) for k, v in fx(feed.inputs(x, side), training=False).items()}
        return fx, feed, compile_function(run, **compile_options(model))

    return cache.get(model, ("activations", specs, pre_activation, reshape, input), build)


def activations(
    model: keras.Model,
    images,
    layers: Sequence[LayerSpec] | LayerSpec | None = None,
    *,
    pre_activation: bool = False,
    input: InputSpec = None,
    reshape: Reshape = None,
    batch_size: int = 32,
    progress: bool = True,
) -> dict[str, np.ndarray]:
    """Activations of several layers, all from one forward pass per batch.

    Args:
        model: a Keras image model; never changed. Functional, Sequential,
            nested, channels-first and mixed-precision models work; subclassed
            ones cannot (their layers are unreachable).
        images: one image `(H, W, C)` or a batch `(N, H, W, C)`, in the model's
            input space and layout (e.g. after `kv.preprocess` for VGG16);
            signals `(T, C)` / `(N, T, C)` for a 1-D model. For a multi-input
            model, a list (one array per model input) or a dict by input name;
            the explained input alone is enough for layers computed from it.
        layers: a layer spec or a list of them; None means every layer with a
            4-D output (convs, pools, activations), nested models included
            (every `(N, t, c)` layer of a 1-D model).
        pre_activation: values before fused activations (see `feature_extractor`).
        input: the explained input of a multi-input model (index or name;
            default the image input).
        reshape: for token layers `(N, tokens, c)` (a vision transformer),
            `(h, w)` lays the last `h * w` tokens out as a grid `(N, h, w, c)`
            (dropping a class token in front), or a callable
            `tokens -> (N, h, w, c)` (`core.feature_maps`); applies to every
            layer in `layers`.
        batch_size: images per forward pass (bounds memory).
        progress: show a progress bar (when there is more than one batch).

    Returns:
        `{key: float32 array}`: `(N, h, w, c)` for a batch, `(h, w, c)` for a
        single image (batch axis dropped, as every per-image function does);
        feature maps channels last whatever the model's layout (`(N, t, c)`
        over time for a 1-D model). Keys are the given names/paths (layer names
        for indices and objects).

    Raises:
        KerasvizError: bad images, layers or settings (named).

    Example:
        >>> acts = kv.activations(vgg, kv.preprocess(kv.sample_image(size=224)), "block1_conv1")
        >>> acts["block1_conv1"].shape
        (224, 224, 64)
    """
    pre_activation, progress = check_bool(pre_activation, "pre_activation"), check_bool(progress, "progress")
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    specs = tuple(_layer_specs(model, layers, input=input))
    reshape = check_reshape(reshape)
    if reshape is not None:
        for spec in specs:
            check_map_layer(model, spec, reshape=reshape, name="layers", purpose="activations")
    batch = as_model_batch(images, model, input=input)
    x, single = batch.x, batch.single
    check_rows_per_call(model, min(batch_size, len(x)), "batch_size", tuple(x.shape[1:]))
    fx, feed, run = _compiled_extractor(model, specs, pre_activation, reshape, batch.index)
    parts = []
    with progress_bar(chunk_count(len(x), batch_size), "activations", progress) as bar:
        for s in batches(len(x), batch_size):
            parts.append(run(x[s], feed.values(batch.side[s], "Reading these layers")))
            bar.update(1)
    out = {k: np.concatenate([np.asarray(p[k], np.float32) for p in parts]) for k in fx.output}
    return {k: v[0] for k, v in out.items()} if single else out


def token_grid(tokens, reshape) -> np.ndarray:
    """Token values `(N, tokens, c)` (or `(tokens, c)`) laid out as a grid, on the host.

    The same layout as `reshape=` in `kv.grad_cam` and `kv.activations`, for
    arrays computed elsewhere, e.g. LRP relevance at a token layer
    (`kv.lrp(..., return_layers=True).layers[name]`).

    Args:
        tokens: float array `(N, tokens, c)` or `(tokens, c)`.
        reshape: `(h, w)` (the last `h * w` tokens, class tokens in front
            dropped) or a callable `tokens -> (N, h, w, c)`.

    Returns:
        float32 `(N, h, w, c)` (`(h, w, c)` for `(tokens, c)`).

    Example:
        >>> r = kv.lrp(vit, x, return_layers=True)
        >>> grid = kv.token_grid(r.layers["block1_norm"], (14, 14)).sum(-1)
    """
    from kerasviz.core.validate import check_finite_array

    reshape = check_reshape(reshape)
    if reshape is None:
        raise InvalidArgumentError("`reshape` must be (h, w) or a callable tokens -> (N, h, w, c); got None.")
    array = check_finite_array(tokens, "tokens").astype(np.float32)
    if array.ndim not in (2, 3):
        raise InvalidArgumentError(f"`tokens` must be (N, tokens, c) or (tokens, c); got shape {array.shape}.")
    single = array.ndim == 2
    batch = array[None] if single else array
    if not callable(reshape) and reshape[0] * reshape[1] > batch.shape[1]:
        raise InvalidArgumentError(f"`reshape`={reshape} needs {reshape[0] * reshape[1]} tokens; got {batch.shape[1]}.")
    grid = np.asarray(reshaped(tf.constant(batch), reshape), np.float32)
    return grid[0] if single else grid


def blank_maps(maps: np.ndarray, tol: float = 0.0) -> np.ndarray:
    """Boolean mask `(..., c)` of channels whose map is all zero (|a| <= tol) for one image.

    Args:
        maps: `(h, w, c)` or `(N, h, w, c)` activations.

    Returns:
        Boolean array `(c,)` (or `(N, c)` for a batch): True where the channel's map is blank.

    Example:
        >>> acts = kv.activations(model, x[0], "conv1")
        >>> kv.blank_maps(acts["conv1"]).sum()
    """
    from kerasviz.core.arguments import check_array

    maps = check_array(maps, "maps", min_ndim=3, max_ndim=4)
    tol = check_number(tol, "tol", minimum=0.0)
    return np.all(np.abs(maps) <= tol, axis=(-3, -2))


# The dataset statistics live with the other dataset views; re-exported here for older imports.
from kerasviz.dataset.summary import ActivationSummary, activation_summary  # noqa: E402,F401
