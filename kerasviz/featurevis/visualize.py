"""Public entry points: `visualize_filters` and `visualize_classes`, over `render_objective` (`featurevis.engine`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras
import numpy as np

from kerasviz.core.layers import LayerSpec
from kerasviz.core.outputs import OutputSpec, output_tensors, resolve_output
from kerasviz.core.validate import check_choice, check_indices
from kerasviz.featurevis import objectives as obj
from kerasviz.featurevis import settings as S
from kerasviz.featurevis.engine import DEFAULT_STEPS as DEFAULT_STEPS  # importable from here as before
from kerasviz.featurevis.engine import render_objective
from kerasviz.featurevis.inputs import Preprocessing
from kerasviz.featurevis.results import FeatureImages, Snapshot

_OBJECTIVES = {"channel": obj.channel, "mean": obj.channel, "l2": obj.feature_map_norm, "neuron": obj.neuron}


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
    S.check_model(model)
    preprocessing = S.take_deprecated(options, "preprocess", "preprocessing", preprocessing, "visualize_filters")
    if isinstance(objective, str):
        check_choice(objective, "objective", tuple(_OBJECTIVES))
    elif not callable(objective):
        raise S.ArgumentTypeError(f"`objective` must be a name or a function layer -> Objective; got {objective!r}.")
    units, found = S.layer_units(model, layer, filters, objective if isinstance(objective, str) else "")
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
    """Simonyan et al. (2013)'s class model: the image maximising each class's logit.

    A softmax head is read as logits (on a rebuilt graph; the model is
    unchanged). An `Lp()` or `TV()` regularizer often helps.

    Args:
        model: a Keras image model (never changed).
        classes: class indices (an int or a list; negative from the end).
        output: which output of a multi-output model (index or name).
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
    Returns:
        `FeatureImages` with `.images` `(n, H, W, 3)`, `.scores` (the logits
        reached), `.classes`.

    Example:
        >>> kv.visualize_classes(model, [0, 1, 2], steps=256).images.shape
        (3, 28, 28, 3)
    """
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
