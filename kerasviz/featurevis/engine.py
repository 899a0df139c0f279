"""`render_objective`: feature visualization of any objective, one compiled step for every unit at once.

`visualize_filters` and `visualize_classes` (`featurevis.visualize`) are built on it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras
import numpy as np

from kerasviz._config import progress_bar
from kerasviz.core.graph import cache, model_input
from kerasviz.core.inputs import batches
from kerasviz.core.precision import check_precision, resolve_precision
from kerasviz.core.validate import check_int
from kerasviz.featurevis import objectives as obj
from kerasviz.featurevis import settings as S
from kerasviz.featurevis.inputs import Preprocessing, check_preprocessing
from kerasviz.featurevis.loop import Renderer
from kerasviz.featurevis.param import Parameterization, as_parameterization, element_seeds
from kerasviz.featurevis.regularizers import Regularizer
from kerasviz.featurevis.results import FeatureImages, Snapshot
from kerasviz.featurevis.settings import Transforms
from kerasviz.provenance import weights_label

DEFAULT_STEPS = 256


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
        `FeatureImages`: the images `(n, H, W, 3)` in [0, 1] and their `.scores`.

    Example:
        >>> from kerasviz import objectives as O
        >>> mixed = kv.render_objective(vgg, O.channel("block4_conv1") + 0.5 * O.channel("block4_conv2"), [7])
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
    transforms = S.resolve_transforms(transforms, size)
    regularizers = S.resolve_regularizers(regularizers)
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
