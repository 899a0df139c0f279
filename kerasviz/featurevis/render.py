"""The compiled optimisation loop, and `visualize_filters` / `visualize_classes`.

One `tf.function` step optimises a whole batch: each element has its own unit
(filter or class, passed as data in `ids`), its own seed and its own Adam
moments, so the batch is N independent optimisations sharing one forward and
backward pass. Inside the step: parameterization -> RGB in (0, 1) -> random
warp -> resize to the model's input size -> the model's preprocessing ->
tapped activations -> objective - penalties -> gradient -> Adam ascent.
Steps run in a graph while-loop, 16 per call, with the score history kept on
the device: the host wakes only to move the progress bar. For a filter
objective on a Conv2D only each image's own filter is computed (`unit_conv`).

Fused ReLUs (VGG's `Conv2D(activation="relu")`) hide a filter that starts
negative everywhere: its gradient is zero and it never moves. For the first
`warmup_steps` the objective reads the pre-activation (tapped with
`core.graph.tap_model(pre_activation=True)`), whose gradient is never blocked;
afterwards the real, post-activation value.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from typing import Callable, Optional, Sequence, Union

import keras
import numpy as np
import tensorflow as tf

from kerasviz._config import max_steps, progress_bar
from kerasviz.core.gradients import compile_function
from kerasviz.core.graph import cache, has_fused_activation, model_input, tap_model
from kerasviz.core.inputs import batches
from kerasviz.core.layers import LayerSpec, find_layer, is_model, iter_layers
from kerasviz.data import _CAFFE_MEAN_BGR, _TORCH_MEAN, _TORCH_STD, _mode, weights_label
from kerasviz.featurevis import objectives as obj
from kerasviz.featurevis.param import Parameterization, as_parameterization, element_seeds
from kerasviz.featurevis.regularizers import Regularizer
from kerasviz.featurevis.transforms import Transform, apply_transforms, standard_transforms
from kerasviz.featurevis.unit_conv import unit_conv_probe

Preprocess = Union[None, str, tuple, Callable]

# Per-architecture defaults, matched on the (nested) model names keras.applications uses.
ARCHITECTURE_DEFAULTS = {
    "vgg": dict(preprocess="caffe", size=128),
    "resnet50": dict(preprocess="caffe", size=128),
    "mobilenetv2": dict(preprocess="tf", size=128),
    "inception": dict(preprocess="tf", size=160),
    "xception": dict(preprocess="tf", size=160),
    "efficientnet": dict(preprocess=(0.0, 255.0), size=128),
}


def architecture_defaults(model: keras.Model) -> dict:
    """`{"preprocess": ..., "size": ...}` for a keras.applications family, else {}."""
    names = [model.name.lower()] + [l.name.lower() for _, l in iter_layers(model) if is_model(l)]
    for name in names:
        for family, defaults in ARCHITECTURE_DEFAULTS.items():
            if name.startswith(family) or f"/{family}" in name:
                return dict(defaults)
    return {}


def _rescaling_range(model) -> Optional[tuple]:
    """(0, 255) when the model starts with Rescaling(1/255): it expects raw pixel values."""
    for _, layer in iter_layers(model):
        if is_model(layer):
            continue
        if isinstance(layer, keras.layers.Rescaling) and np.isclose(float(np.mean(layer.scale)), 1 / 255.0):
            return (0.0, 255.0)
        return None
    return None


def input_mapping(model: keras.Model, preprocess: Preprocess = None) -> Callable[[tf.Tensor], tf.Tensor]:
    """A graph function: RGB in [0, 1] `(B, H, W, 3)` -> the model's input space.

    Args:
        model: the model (its channel count decides RGB or grey).
        preprocess: None (per-architecture default; else (0, 255) for models
            starting with `Rescaling(1/255)`, else [0, 1] as is), a family name
            as in `kv.preprocess` ("vgg16", "caffe", "tf", "torch", "none"), a
            range `(low, high)`, or a callable on tensors.
    """
    if preprocess is None:
        preprocess = architecture_defaults(model).get("preprocess") or _rescaling_range(model) or (0.0, 1.0)
    channels = int(model_input(model).shape[-1])
    if callable(preprocess):
        to_space = preprocess
    elif isinstance(preprocess, tuple):
        low, high = map(float, preprocess)
        to_space = lambda x: low + (high - low) * x
    else:
        to_space = _family_mapping(_mode(preprocess))
    if channels == 1:
        return lambda x: to_space(tf.reduce_mean(x, axis=-1, keepdims=True))
    if channels != 3:
        raise ValueError(f"Feature visualization draws RGB or grey images; model {model.name!r} takes {channels} channels.")
    return to_space


def _family_mapping(mode: str) -> Callable:
    if mode == "caffe":
        return lambda x: 255.0 * x[..., ::-1] - _CAFFE_MEAN_BGR
    if mode == "tf":
        return lambda x: 2.0 * x - 1.0
    if mode == "torch":
        return lambda x: (x - _TORCH_MEAN) / _TORCH_STD
    return lambda x: 255.0 * x


def fit_to_model(rgb: tf.Tensor, model_hw: tuple) -> tf.Tensor:
    """Resize images to a model's fixed input size (in the graph); models taking any size get them as is."""
    if None not in model_hw and tuple(rgb.shape[1:3]) != tuple(model_hw):
        return tf.image.resize(rgb, model_hw, method="bilinear")
    return rgb


def display_images(images, name: str = "image") -> tuple[np.ndarray, bool]:
    """RGB photos -> float32 `(N, H, W, 3)` in [0, 1] (uint8 or values above 1 are read as 0-255)."""
    x = np.asarray(images)
    if x.ndim not in (3, 4) or x.shape[-1] not in (1, 3):
        raise ValueError(f"`{name}` must be an RGB image (H, W, 3) or a batch (N, H, W, 3); got shape {x.shape}.")
    if x.dtype.kind not in "uif":
        raise TypeError(f"`{name}` must hold numbers; got dtype {x.dtype}.")
    single = x.ndim == 3
    x = x[None] if single else x
    x = x.astype(np.float32)
    if not np.isfinite(x).all():
        raise ValueError(f"`{name}` contains NaN or Inf.")
    if np.asarray(images).dtype.kind in "ui" or x.max() > 1.0:
        x = x / 255.0
    if x.shape[-1] == 1:
        x = np.repeat(x, 3, axis=-1)
    return np.clip(x, 0.0, 1.0), single


def adam_update(raw, grad, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """One Adam *ascent* step, element-wise (so batch elements stay independent); t counts from 1."""
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * tf.square(grad)
    m_hat = m / (1 - tf.pow(beta1, t))
    v_hat = v / (1 - tf.pow(beta2, t))
    return raw + lr * m_hat / (tf.sqrt(v_hat) + eps), m, v


class Probe:
    """The tapped model for an objective: `probe(x, warm) -> {spec: activation, OUTPUT: logits}`.

    With `warm` True, layers with a fused activation report their pre-activation.
    """

    def __init__(self, model, layers: Sequence):
        specs = [s for s in layers if s != obj.OUTPUT]
        found = [find_layer(model, s) for s in specs]
        self.pre = bool(found) and all(has_fused_activation(l) for l in found)
        self.tap, keys = tap_model(model, specs, pre_activation=self.pre, include_output=obj.OUTPUT in layers)
        self.entries = [(s, k, l.activation if self.pre else None) for s, k, l in zip(specs, keys, found)]

    def read(self, x, warm, ids):
        """`(acts, ids)`: the activations and the unit ids the objective should use with them."""
        return self(x, warm), ids

    def __call__(self, x, warm):
        out = self.tap(x, training=False)
        acts = {obj.OUTPUT: out[obj.OUTPUT]} if obj.OUTPUT in out else {}
        for spec, key, activation in self.entries:
            value = out[key]
            acts[spec] = value if activation is None else tf.where(warm, value, activation(value))
        return acts


class Renderer:
    """Compiled steps for one (model, objective, parameterization, transforms, penalties) setup.

    Sizes and batch sizes are arguments, so one renderer serves every call
    on the same setup (cached per model).
    """

    def __init__(self, model, objective: obj.Objective, param: Parameterization, transforms, regularizers,
                 preprocess: Preprocess, lr: float, warmup_steps: int, unit_slicing: bool = True):
        self.objective, self.param, self.transforms = objective, param, list(transforms)
        self.regularizers, self.lr, self.warmup = list(regularizers), float(lr), int(warmup_steps)
        # One filter per image: compute that filter alone when the layer allows it (see unit_conv).
        self.probe = (unit_slicing and unit_conv_probe(model, objective)) or Probe(model, objective.layers)
        self.to_space = input_mapping(model, preprocess)
        self.model_hw = tuple(model_input(model).shape[1:3])
        self._compiled: dict = {}

    def _compiled_for(self, name: str, height: int, width: int, args):
        """One trace per (steps|evaluate, size): sizes are static for the FFT; the batch axis is left open."""
        key = (name, height, width)
        if key not in self._compiled:
            fn = getattr(self, "_" + name)
            signature = [tf.TensorSpec((None,) + tuple(a.shape[1:]) if a.shape.rank else (), a.dtype) for a in args]
            self._compiled[key] = compile_function(functools.partial(fn, height=height, width=width), input_signature=signature)
        return self._compiled[key]

    def steps(self, raw, m, v, t, step, count, ids, seeds, height, width):
        """`count` optimisation steps in one compiled call (no host round trip between steps).

        Returns the new (raw, m, v) and the history `(count, B)` of scores.
        """
        args = (raw, m, v, t, step, count, ids, seeds)
        return self._compiled_for("steps", height, width, args)(*args)

    def evaluate(self, raw, ids, height, width):
        return self._compiled_for("evaluate", height, width, (raw, ids))(raw, ids)

    def model_input(self, rgb):
        return self.to_space(fit_to_model(rgb, self.model_hw))

    def _score(self, rgb, ids, warm):
        return self.objective(*self.probe.read(self.model_input(rgb), warm, ids))

    def _step(self, raw, m, v, t, step, ids, seeds, height, width):
        with tf.GradientTape() as tape:
            tape.watch(raw)
            rgb = self.param.rgb(raw, height, width)
            score = self._score(apply_transforms(rgb, self.transforms, seeds, step), ids, step < self.warmup)
            penalty = tf.add_n([r(rgb, step) for r in self.regularizers]) if self.regularizers else 0.0
            total = tf.reduce_sum(score - penalty)
        raw, m, v = adam_update(raw, tape.gradient(total, raw), m, v, t, self.lr)
        return raw, m, v, score

    def _steps(self, raw, m, v, t, step, count, ids, seeds, height, width):
        history = tf.TensorArray(tf.float32, size=count)
        for i in tf.range(count):  # a graph while-loop: the history stays on the device
            raw, m, v, score = self._step(raw, m, v, t + tf.cast(i, tf.float32), step + i, ids, seeds, height, width)
            history = history.write(i, score)
        return raw, m, v, history.stack()

    def _evaluate(self, raw, ids, height, width):
        rgb = self.param.rgb(raw, height, width)
        return rgb, self._score(rgb, ids, tf.constant(False))

    def run(self, ids, seeds, size, steps, octaves=1, octave_scale=1.4, bar=None, steps_per_call=16):
        """Optimise one batch; returns (rgb (n, H, W, 3), final scores, initial scores, history).

        Steps run `steps_per_call` at a time inside one compiled loop; the
        host only wakes up between calls (to update the progress bar).
        """
        ids, seeds = tf.constant(ids, tf.int32), tf.constant(seeds, tf.int32)
        sizes = [tuple(max(8, int(round(s / octave_scale ** k))) for s in size) for k in reversed(range(octaves))]
        per_octave = [steps // octaves + (1 if k < steps % octaves else 0) for k in range(octaves)]
        raw, history, step = None, [], 0
        for (height, width), count in zip(sizes, per_octave):
            if raw is None:
                raw = self.param.init(seeds.numpy(), height, width)
                initial = self.evaluate(raw, ids, height, width)[1].numpy()
            else:  # next octave: upscale the image and continue from its encoding
                rgb = self.evaluate(raw, ids, *previous)[0]
                raw = self.param.encode(tf.clip_by_value(tf.image.resize(rgb, (height, width), method="bicubic"), 0, 1))
            m, v = tf.zeros_like(raw), tf.zeros_like(raw)
            for start in range(0, count, steps_per_call):
                n = min(steps_per_call, count - start)
                raw, m, v, scores = self.steps(raw, m, v, tf.constant(start + 1.0), tf.constant(step), tf.constant(n),
                                               ids, seeds, height, width)
                history.append(scores)
                step += n
                if bar is not None:
                    bar.update(n)
            previous = (height, width)
        rgb, final = self.evaluate(raw, ids, *previous)
        history = np.concatenate([h.numpy() for h in history]) if history else np.zeros((0, len(ids)), np.float32)
        return rgb.numpy(), final.numpy(), initial, history


@dataclass
class FeatureImages:
    """Optimised images, one per unit (filter or class).

    Attributes:
        images: `(n, H, W, 3)` float32 RGB in [0, 1], ready for `plt.imshow`
            (grey models: the grey image repeated in 3 channels).
        scores: `(n,)` the objective each image achieves (e.g. the filter's mean
            post-activation), measured on the final image without transforms.
        units: `(n,)` filter or class indices, in the order of `images`.
        initial_scores: `(n,)` the objective on the starting images.
        history: `(steps, n)` the objective at every step (on warped images;
            pre-activation during warm-up).
        layer: the layer visualised ("" for classes).
        objective: what was maximised.
        label: how the model's weights were obtained (for titles).
    """

    images: np.ndarray
    scores: np.ndarray
    units: np.ndarray
    initial_scores: np.ndarray
    history: np.ndarray
    layer: str = ""
    objective: str = ""
    label: str = ""

    @property
    def filters(self) -> np.ndarray:
        """Alias of `units` for filter visualizations."""
        return self.units

    def __len__(self) -> int:
        return len(self.units)

    def sorted(self, descending: bool = True) -> "FeatureImages":
        """The same result ordered by score (strongest first by default), like seed 004's grids."""
        order = np.argsort(-self.scores if descending else self.scores, kind="stable")
        return replace(self, images=self.images[order], scores=self.scores[order], units=self.units[order],
                       initial_scores=self.initial_scores[order], history=self.history[:, order])


Transforms = Union[str, Sequence[Transform], None]


def _resolve_transforms(transforms: Transforms, size) -> list:
    if transforms == "standard":
        return standard_transforms(min(size))
    if transforms in (None, "none", ()):
        return []
    if isinstance(transforms, str):
        raise ValueError(f"transforms must be 'standard', None or a list of Transform objects; got {transforms!r}.")
    return list(transforms)


def _as_size(size, model) -> tuple:
    if size is None:
        fixed = tuple(model_input(model).shape[1:3])
        size = architecture_defaults(model).get("size") or (fixed if None not in fixed else 128)
    size = (size, size) if isinstance(size, (int, np.integer)) else tuple(size)
    if len(size) != 2 or min(size) < 8:
        raise ValueError(f"size must be an int or (height, width) of at least 8 pixels; got {size!r}.")
    return tuple(int(s) for s in size)


def _unique_ids(units: np.ndarray) -> np.ndarray:
    """Seed ids: the unit, made unique when a unit repeats (diversity batches)."""
    ids, seen = [], {}
    for u in units.tolist():
        ids.append(u + 1_000_003 * seen.get(u, 0))
        seen[u] = seen.get(u, 0) + 1
    return np.array(ids)


def render(
    model: keras.Model,
    objective: obj.Objective,
    units: Sequence[int],
    *,
    steps: int = 256,
    size=None,
    param: Union[str, Parameterization] = "fourier",
    transforms: Transforms = "standard",
    regularizers: Sequence[Regularizer] = (),
    lr: float = 0.05,
    octaves: int = 1,
    octave_scale: float = 1.4,
    preprocess: Preprocess = None,
    warmup_steps: int = 16,
    batch_size: int = 32,
    seed: int = 0,
    progress: bool = True,
    layer_name: str = "",
    unit_slicing: bool = True,
) -> FeatureImages:
    """Optimise one image per unit for any objective (the engine of `visualize_filters`).

    Args:
        model: a Keras image model (never changed).
        objective: an `objectives.Objective`; `units` are its `ids`.
        units: one unit (filter, class, direction row) per image.
        steps: optimisation steps in total (capped in quick mode).
        size: image side or (H, W); default per architecture, else the
            model's input size, else 128.
        param: "fourier" (1/f spectrum, decorrelated colour), "pixels", or a
            `Parameterization`.
        transforms: "standard" (Lucid's jitter/scale/rotate), None, or a list
            of `transforms.Transform`.
        regularizers: penalties such as `regularizers.TV()`, `Lp()`, `Blur()`.
        lr: Adam learning rate (Lucid: 0.05).
        octaves: optimise at `octaves` sizes growing by `octave_scale`,
            upscaling the image between them.
        octave_scale: size ratio between octaves.
        preprocess: how RGB in [0, 1] becomes model input (see `input_mapping`).
        warmup_steps: steps that read pre-activations of fused-ReLU layers.
        batch_size: images per compiled step (bounds memory).
        seed: global seed; each image's randomness depends on (seed, unit).
        progress: show a progress bar.
        layer_name: recorded in the result.
        unit_slicing: for a channel / L2 / neuron objective on a plain Conv2D,
            compute only each image's own filter (same result, less work; see
            `unit_conv`). False runs the whole layer.

    Returns:
        `FeatureImages`.
    """
    size = _as_size(size, model)
    param = as_parameterization(param)
    transforms = _resolve_transforms(transforms, size)
    units = np.asarray(units, np.int64).reshape(-1)
    if units.size == 0:
        raise ValueError("No units (filters or classes) to visualise.")
    steps = max_steps(steps)
    key = ("render", objective.key, param.key, tuple(t.key for t in transforms), tuple(r.key for r in regularizers),
           preprocess if preprocess is None or isinstance(preprocess, (str, tuple)) else id(preprocess), lr, warmup_steps,
           unit_slicing)
    renderer = cache.get(model, key, lambda: Renderer(model, objective, param, transforms, regularizers, preprocess, lr,
                                                      warmup_steps, unit_slicing))
    seeds = element_seeds(seed, _unique_ids(units))
    chunks = list(batches(len(units), batch_size))
    parts = []
    with progress_bar(steps * len(chunks), f"optimising {len(units)} image(s)", progress) as bar:
        for s in chunks:
            parts.append(renderer.run(units[s], seeds[s], size, steps, octaves, octave_scale, bar))
    images, scores, initial = (np.concatenate([p[i] for p in parts]) for i in range(3))
    history = np.concatenate([p[3] for p in parts], axis=1)
    if int(model_input(model).shape[-1]) == 1:
        images = np.repeat(images.mean(axis=-1, keepdims=True), 3, axis=-1)
    return FeatureImages(images.astype(np.float32), scores, units, initial, history, layer_name, objective.name, weights_label(model))


def _units_of(model, layer, filters, what="filters") -> tuple:
    found = find_layer(model, layer)
    try:
        shape = tuple(found.output.shape)
    except (AttributeError, ValueError):
        raise ValueError(f"Layer {found.name!r} has no single output shape to visualise.") from None
    if len(shape) not in (2, 4):
        raise ValueError(f"Layer {found.name!r} outputs shape {shape}; feature visualization needs (N, h, w, C) or (N, C).")
    count = int(shape[-1])
    units = np.arange(count) if filters is None else np.atleast_1d(np.asarray(filters))
    if units.dtype.kind not in "iu":
        raise TypeError(f"{what} must be integers; got {filters!r}.")
    bad = units[(units < 0) | (units >= count)]
    if bad.size:
        raise ValueError(f"{what} {bad.tolist()} out of range: layer {found.name!r} has {count} (0..{count - 1}).")
    return units, found


_OBJECTIVES = {"channel": obj.channel, "mean": obj.channel, "l2": obj.feature_map_norm, "neuron": obj.neuron}


def visualize_filters(
    model: keras.Model,
    layer: LayerSpec,
    filters: Optional[Sequence[int]] = None,
    *,
    objective: Union[str, Callable] = "channel",
    steps: int = 256,
    size=None,
    seed: int = 0,
    progress: bool = True,
    sort: bool = False,
    **options,
) -> FeatureImages:
    """The image that maximally activates each filter of a layer (activation maximization).

    Every requested filter is optimised at once, one batch element per filter,
    by one compiled step (filters are data: no retracing per filter). Defaults
    follow Lucid / Distill: Fourier parameterization with decorrelated colour,
    Adam(0.05), jitter/scale/rotate robustness, the model's preprocessing in
    the graph, pre-activation warm-up for fused ReLUs.

    Args:
        model: a Keras image model (never changed).
        layer: name, "outer/inner" path, index or Layer; any layer with output
            `(N, h, w, C)` (or `(N, C)`).
        filters: filter indices (default: all of the layer's channels).
        objective: "channel" (mean activation; default), "l2" (the feature
            map's L2 norm, seed 001), "neuron" (the centre unit), or a function
            `layer -> objectives.Objective` (e.g. `lambda l: channel(l) +
            0.5 * diversity(l)`).
        steps: optimisation steps (default 256; capped by `KERASVIZ_QUICK`).
        size: image side or (H, W) (default per architecture: 128 for VGG16,
            ResNet50, MobileNetV2; else the model's input size).
        seed: same seed -> same images; a filter's image does not depend on
            the other filters in the batch.
        progress: show a progress bar.
        sort: order the result by score, strongest filter first.
        **options: passed to `render`: `param`, `transforms`, `regularizers`,
            `lr`, `octaves`, `octave_scale`, `preprocess`, `warmup_steps`,
            `batch_size`, `unit_slicing`.

    Returns:
        `FeatureImages`: `.images` (n, H, W, 3) float RGB in [0, 1], `.scores`
        (n,) achieved activation, `.filters` (n,), `.sorted()`.

    Example:
        >>> vgg = kv.load_vgg16(weights=None)
        >>> result = kv.visualize_filters(vgg, "block3_conv1", filters=range(16), steps=256)
        >>> kv.plot_filter_grid(result.sorted())
    """
    units, found = _units_of(model, layer, filters)
    make = _OBJECTIVES.get(objective) if isinstance(objective, str) else objective
    if make is None:
        raise ValueError(f"Unknown objective {objective!r}; use one of {sorted(_OBJECTIVES)} or a function layer -> Objective.")
    name = layer if isinstance(layer, str) else found.name
    result = render(model, make(layer), units, steps=steps, size=size, seed=seed, progress=progress, layer_name=name, **options)
    return result.sorted() if sort else result


def visualize_classes(
    model: keras.Model,
    classes: Sequence[int],
    *,
    steps: int = 256,
    size=None,
    seed: int = 0,
    progress: bool = True,
    **options,
) -> FeatureImages:
    """Simonyan et al.'s class model: the image maximising each class's logit.

    A softmax head is read as logits (on a rebuilt graph; the model is
    unchanged). Options as in `visualize_filters`; an `Lp()` or `TV()`
    regularizer often helps.

    Example:
        >>> kv.visualize_classes(model, [0, 1, 2], steps=256).images.shape
        (3, 28, 28, 3)
    """
    from kerasviz.core.targets import target_vector

    outputs = int(np.prod(model.outputs[0].shape[1:]))
    units = target_vector(np.atleast_1d(np.asarray(classes)), len(np.atleast_1d(classes)), outputs)
    return render(model, obj.class_logit(), units, steps=steps, size=size, seed=seed, progress=progress, **options)
