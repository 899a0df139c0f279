"""Public entry points: `visualize_filters`, `visualize_classes` and the general `render_objective`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Union

import keras
import numpy as np

from kerasviz._config import progress_bar
from kerasviz.core.graph import cache, model_input
from kerasviz.core.inputs import batches
from kerasviz.core.layers import LayerSpec
from kerasviz.core.outputs import OutputSpec, output_tensors, resolve_output
from kerasviz.core.precision import check_precision, resolve_precision
from kerasviz.core.validate import check_choice, check_indices, check_int
from kerasviz.data import weights_label
from kerasviz.featurevis import objectives as obj
from kerasviz.featurevis import settings as S
from kerasviz.featurevis.inputs import Preprocessing, check_preprocessing
from kerasviz.featurevis.loop import Renderer
from kerasviz.featurevis.param import Parameterization, as_parameterization, element_seeds
from kerasviz.featurevis.regularizers import Regularizer
from kerasviz.featurevis.results import FeatureImages, Snapshot
from kerasviz.featurevis.transforms import Transform, standard_transforms

Transforms = Union[str, Sequence[Transform], None]
DEFAULT_STEPS = 256


def _resolve_transforms(transforms: Transforms, size) -> list:
    if isinstance(transforms, str) and transforms == "standard":
        return standard_transforms(min(size))
    if transforms is None or (isinstance(transforms, str) and transforms == "none"):
        return []
    if isinstance(transforms, (list, tuple)) and all(isinstance(t, Transform) for t in transforms):
        return list(transforms)
    raise S.ArgumentTypeError(
        f"`transforms` must be 'standard', None or a list of Transform objects; got {transforms!r}."
    )


def _resolve_regularizers(regularizers) -> list:
    if isinstance(regularizers, Regularizer):
        return [regularizers]
    if isinstance(regularizers, (list, tuple)) and all(isinstance(r, Regularizer) for r in regularizers):
        return list(regularizers)
    raise S.ArgumentTypeError(
        f"`regularizers` must be a list of Regularizer objects (e.g. [kv.regularizers.TV()]); got {regularizers!r}."
    )


def _unique_ids(units: np.ndarray) -> np.ndarray:
    """Seed ids: the unit, made unique when a unit repeats (diversity batches)."""
    ids, seen = [], {}
    for u in units.tolist():
        ids.append(u + 1_000_003 * seen.get(u, 0))
        seen[u] = seen.get(u, 0) + 1
    return np.array(ids)


def render_objective(
    model: keras.Model,
    objective: obj.Objective,
    units: Sequence[int],
    *,
    steps: int | None = None,
    size=None,
    param: str | Parameterization = "fourier",
    transforms: Transforms = "standard",
    regularizers: Sequence[Regularizer] = (),
    lr: float = 0.05,
    octaves: int = 1,
    octave_scale: float = 1.4,
    preprocessing: Preprocessing = None,
    warmup_steps: int = 16,
    filter_batch_size: int | None = None,
    seed: int = 0,
    progress: bool = True,
    precision: str = "auto",
    callback: Callable[[Snapshot], None] | None = None,
    callback_every: int = 16,
    layer_name: str = "",
    unit_slicing: bool = True,
    output: int = 0,
    **deprecated,
) -> FeatureImages:
    """Optimise one image per unit for any objective (the engine of `visualize_filters`).

    Args:
        model: a Keras image model (never changed).
        objective: an `objectives.Objective`; `units` are its `ids`.
        units: one unit (filter, class, direction row) per image.
        steps: optimisation steps in total (default 256, capped in quick mode;
            a value you pass is always used).
        size: image side or (H, W), 8..1024 px; default per architecture, else
            the model's input size, else 128.
        param: "fourier" (1/f spectrum, decorrelated colour), "pixels", or a
            `Parameterization`.
        transforms: "standard" (Lucid's jitter/scale/rotate), None, or a list
            of `transforms.Transform`.
        regularizers: penalties such as `regularizers.TV()`, `Lp()`, `Blur()`.
        lr: Adam learning rate (Lucid: 0.05).
        octaves: optimise at `octaves` sizes growing by `octave_scale`,
            upscaling the image between them.
        octave_scale: size ratio between octaves (> 1).
        preprocessing: how RGB in [0, 1] becomes model input (see
            `inputs.input_mapping`; `preprocess=` is its old name).
        warmup_steps: steps that read pre-activations of fused-ReLU layers.
        filter_batch_size: images optimised together in one compiled step
            (bounds memory; default: 32 at 128 px, fewer for larger images).
        seed: global seed; each image's randomness depends on (seed, unit).
        progress: show a progress bar.
        precision: "auto" (bfloat16 where this machine runs it natively,
            else float32), "float32" or "bfloat16": the model's compute
            precision during the optimisation. Scores, images and the
            optimiser state are float32 either way.
        callback: called with a `Snapshot` (current images, units, scores)
            every `callback_every` steps, e.g. to show progress in a widget.
        callback_every: steps between callbacks.
        layer_name: recorded in the result.
        unit_slicing: for a channel / L2 / neuron objective on a plain Conv2D,
            compute only each image's own filter (same result, less work).
        output: index of the model output read by class objectives.

    Returns:
        `FeatureImages`.
    """
    S.check_model(model)
    preprocessing = check_preprocessing(
        S.take_deprecated(deprecated, "preprocess", "preprocessing", preprocessing, "render_objective")
    )
    filter_batch_size = S.take_deprecated(
        deprecated, "batch_size", "filter_batch_size", filter_batch_size, "render_objective"
    )
    S.reject_unknown(deprecated, "render_objective")
    if not isinstance(objective, obj.Objective):
        raise S.ArgumentTypeError(f"`objective` must be an objectives.Objective; got {type(objective).__name__}.")
    if not isinstance(objective, obj.Objective):
        raise S.ArgumentTypeError(
            f"`objective` must be a kv.objectives objective (e.g. kv.objectives.channel(layer)); got {objective!r}."
        )
    units, output = S.objective_units(model, objective, units, 0 if output is None else output)
    steps = S.check_steps(steps, DEFAULT_STEPS)
    size = S.default_size(model) if size is None else S.check_size(size)
    octaves, octave_scale = S.check_octaves(octaves, octave_scale, size)
    lr = S.check_learning_rate(lr)
    warmup_steps = check_int(warmup_steps, "warmup_steps", minimum=0)
    seed = check_int(seed, "seed")
    filter_batch_size = check_int(filter_batch_size, "filter_batch_size", minimum=1, allow_none=True)
    callback, callback_every = S.check_callback(callback, callback_every)
    progress, unit_slicing = S.check_flag(progress, "progress"), S.check_flag(unit_slicing, "unit_slicing")
    dtype = resolve_precision(check_precision(precision), model)
    param = as_parameterization(param)
    transforms = _resolve_transforms(transforms, size)
    regularizers = _resolve_regularizers(regularizers)
    model_hw = tuple(model_input(model).shape[1:3])
    batch = filter_batch_size or S.default_batch(size, model_hw)

    def build():
        return Renderer(
            model,
            objective,
            param,
            transforms,
            regularizers,
            preprocessing,
            lr,
            warmup_steps,
            unit_slicing,
            dtype,
            output,
        )

    if callable(preprocessing):  # a user function: not cached, so no compiled step outlives it
        renderer = build()
    else:
        key = (
            "render",
            objective.key,
            param.key,
            tuple(t.key for t in transforms),
            tuple(r.key for r in regularizers),
            preprocessing,
            lr,
            warmup_steps,
            unit_slicing,
            dtype,
            output,
        )
        renderer = cache.get(model, key, build)
    objective.bind(renderer.objective)  # a cached step reads the variables it was traced with: load this data
    seeds = element_seeds(seed, _unique_ids(units))
    chunks = list(batches(len(units), batch))
    grey = int(model_input(model).shape[-1]) == 1
    parts = []
    steps_per_call = min(16, callback_every) if callback is not None else 16
    with progress_bar(
        steps * len(chunks), f"optimising {len(units)} image(s)", progress and len(chunks) * steps > 16
    ) as bar:
        for s in chunks:
            hook = None
            if callback is not None:

                def hook(images, scores, step, s=s):
                    if step % callback_every == 0 or step == steps:
                        images = np.repeat(images.mean(-1, keepdims=True), 3, -1) if grey else images
                        callback(
                            Snapshot(
                                images.astype(np.float32),
                                units[s],
                                scores.astype(np.float32),
                                step,
                                steps,
                                s.start,
                                len(units),
                            )
                        )

            parts.append(
                renderer.run(
                    units[s],
                    seeds[s],
                    size,
                    steps,
                    octaves,
                    octave_scale,
                    bar,
                    steps_per_call=steps_per_call,
                    on_steps=hook,
                )
            )
    images, scores, initial = (np.concatenate([p[i] for p in parts]).astype(np.float32) for i in range(3))
    history = np.concatenate([p[3] for p in parts], axis=1).astype(np.float32)
    if grey:
        images = np.repeat(images.mean(axis=-1, keepdims=True), 3, axis=-1)
    return FeatureImages(
        images, scores, units, initial, history, layer_name, objective.name, weights_label(model), dtype
    )


def _layer_units(model, layer, filters, objective: str) -> tuple:
    found = S.check_layer(model, layer)
    try:
        shape = tuple(found.output.shape)
    except (AttributeError, ValueError):
        raise S.InvalidArgumentError(f"`layer` {found.name!r} has no single output shape to visualise.") from None
    spatial = len(shape) == 4
    if not spatial and len(shape) != 2:
        raise S.InvalidArgumentError(
            f"`layer` {found.name!r} outputs shape {shape}; feature visualization needs (N, h, w, C) or (N, C)."
        )
    if objective == "neuron" and not spatial:
        raise S.InvalidArgumentError(
            f"`objective`='neuron' needs a spatial layer (N, h, w, C); `layer` {found.name!r} outputs {shape}."
        )
    units = np.asarray(check_indices(filters, "filters", size=S.unit_count(found, shape)), np.int64)
    return units, found


_OBJECTIVES = {"channel": obj.channel, "mean": obj.channel, "l2": obj.feature_map_norm, "neuron": obj.neuron}

_SHARED_DOC = """
        steps: optimisation steps (default 256, capped by `KERASVIZ_QUICK`;
            a value you pass is always used).
        size: image side or (H, W), 8..1024 px (default per architecture: 128
            for VGG16, ResNet50, MobileNetV2; else the model's input size).
        seed: same seed -> same images; an image does not depend on the
            others in the batch.
        progress: show a progress bar.
        precision: "auto" (default: bfloat16 where the CPU or GPU runs it
            natively, else float32), "float32" or "bfloat16". Only the model's
            arithmetic changes; images, scores and the optimiser stay float32.
        preprocessing: RGB [0, 1] -> model input (default per architecture;
            see `inputs.input_mapping`). `preprocess=` is the old name.
        callback: a function called with a `Snapshot` (the current images)
            every `callback_every` steps, for widgets that show progress.
        **options: passed to `render_objective`: `param`, `transforms`,
            `regularizers`, `lr`, `octaves`, `octave_scale`, `warmup_steps`,
            `filter_batch_size`, `unit_slicing`, `callback_every`.
"""


def visualize_filters(
    model: keras.Model,
    layer: LayerSpec,
    filters: Sequence[int] | None = None,
    *,
    objective: str | Callable = "channel",
    steps: int | None = None,
    size=None,
    seed: int = 0,
    progress: bool = True,
    sort: bool = False,
    precision: str = "auto",
    preprocessing: Preprocessing = None,
    callback: Callable[[Snapshot], None] | None = None,
    **options,
) -> FeatureImages:
    (
        """The image that maximally activates each filter of a layer (activation maximization).

    Every requested filter is optimised at once, one batch element per filter,
    by one compiled step (filters are data: no retracing per filter). Defaults
    follow Lucid / Distill (Olah et al., 2017): Fourier parameterization with
    decorrelated colour, Adam(0.05), jitter/scale/rotate robustness, the
    model's preprocessing in the graph, pre-activation warm-up for fused ReLUs.

    Args:
        model: a Keras image model (never changed).
        layer: name, "outer/inner" path, index or Layer; any layer after the
            input with output `(N, h, w, C)` (or `(N, C)`).
        filters: filter indices (an int, a list, negative from the end;
            default: all of the layer's channels).
        objective: "channel" (mean activation; default), "l2" (the feature
            map's L2 norm), "neuron" (the centre unit), or a function
            `layer -> objectives.Objective` (e.g. `lambda l: channel(l) +
            0.5 * diversity(l)`).
        sort: order the result by score, strongest filter first.
    """
        + _SHARED_DOC
        + """
    Returns:
        `FeatureImages` (behaves as its `.images` array `(n, H, W, 3)`, float32
        RGB in [0, 1]), with `.scores` `(n,)` achieved activation, `.filters`,
        `.history`, `.sorted()`.

    Raises:
        LayerNotFoundError: unknown layer.
        InvalidArgumentError / ArgumentTypeError: a bad setting (named).
        UnsupportedModelError: a subclassed model.

    Example:
        >>> vgg = kv.load_vgg16(weights=None)
        >>> result = kv.visualize_filters(vgg, "block3_conv1", filters=range(16))
        >>> kv.plot_filter_grid(result.sorted())
    """
    )
    S.check_model(model)
    preprocessing = S.take_deprecated(options, "preprocess", "preprocessing", preprocessing, "visualize_filters")
    if isinstance(objective, str):
        check_choice(objective, "objective", tuple(_OBJECTIVES))
    elif not callable(objective):
        raise S.ArgumentTypeError(f"`objective` must be a name or a function layer -> Objective; got {objective!r}.")
    units, found = _layer_units(model, layer, filters, objective if isinstance(objective, str) else "")
    sort = S.check_flag(sort, "sort")
    make = _OBJECTIVES[objective] if isinstance(objective, str) else objective
    made = make(int(layer) if isinstance(layer, np.integer) else layer)
    if not isinstance(made, obj.Objective):
        raise S.ArgumentTypeError(
            f"`objective` function must return an objectives.Objective; got {type(made).__name__}."
        )
    name = layer if isinstance(layer, str) else found.name
    result = render_objective(
        model,
        made,
        units,
        steps=steps,
        size=size,
        seed=seed,
        progress=progress,
        precision=precision,
        preprocessing=preprocessing,
        callback=callback,
        layer_name=name,
        **options,
    )
    return result.sorted() if sort else result


def visualize_classes(
    model: keras.Model,
    classes: Sequence[int],
    *,
    output: OutputSpec = None,
    steps: int | None = None,
    size=None,
    seed: int = 0,
    progress: bool = True,
    precision: str = "auto",
    preprocessing: Preprocessing = None,
    callback: Callable[[Snapshot], None] | None = None,
    **options,
) -> FeatureImages:
    (
        """Simonyan et al. (2013)'s class model: the image maximising each class's logit.

    A softmax head is read as logits (on a rebuilt graph; the model is
    unchanged). An `Lp()` or `TV()` regularizer often helps.

    Args:
        model: a Keras image model (never changed).
        classes: class indices (an int or a list; negative from the end).
        output: which output of a multi-output model (index or name).
    """
        + _SHARED_DOC
        + """
    Returns:
        `FeatureImages` with `.images` `(n, H, W, 3)`, `.scores` (the logits
        reached), `.classes`.

    Example:
        >>> kv.visualize_classes(model, [0, 1, 2], steps=256).images.shape
        (3, 28, 28, 3)
    """
    )
    S.check_model(model)
    preprocessing = S.take_deprecated(options, "preprocess", "preprocessing", preprocessing, "visualize_classes")
    index = resolve_output(model, output)
    count = int(np.prod(output_tensors(model)[index].shape[1:]))
    units = np.asarray(check_indices(classes, "classes", size=count, allow_none=False), np.int64)
    return render_objective(
        model,
        obj.class_logit(),
        units,
        steps=steps,
        size=size,
        seed=seed,
        progress=progress,
        precision=precision,
        preprocessing=preprocessing,
        callback=callback,
        output=index,
        **options,
    )
