"""The model-parameter randomization test (Adebayo et al. 2018, "Sanity checks for saliency maps").

Re-initialise the layers of a COPY of the model from the top down and measure
how similar the maps stay. A map that stays similar when the weights are random
(guided backprop, deconvnet) does not explain the model.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from kerasviz._config import progress_bar
from kerasviz.attribution._common import prepare
from kerasviz.attribution.metrics import to_nhw
from kerasviz.attribution.registry import get_method
from kerasviz.core.errors import ArgumentTypeError, InvalidArgumentError, UnsupportedModelError
from kerasviz.core.graph import is_subclassed
from kerasviz.core.inputs import to_model_layout
from kerasviz.core.layers import LayerSpec, find_layer, is_model, iter_layers
from kerasviz.core.outputs import OutputSpec
from kerasviz.core.targets import Target
from kerasviz.core.validate import check_bool, check_seed


@dataclass
class RandomizationResult:
    """Similarity of maps to the trained model's maps as layers are re-initialised.

    Attributes:
        stages: layer paths randomized at each stage (cumulative from the top
            for the cascading test, one at a time for the independent one).
        spearman_abs: `(S, N)` Spearman rank correlation of |map| (channel
            |.| summed, clipped at the 99th percentile).
        spearman: `(S, N)` Spearman rank correlation of the signed maps.
        ssim: `(S, N)` SSIM of min-max normalised |map|.
        maps: `(S + 1, N, H, W)` |maps|: trained first, then each stage.
        method: name of the method checked.
        nan_count: similarities that were undefined (a constant map, e.g. a
            dead randomized model, has no ranking) and are reported as 0.
    """

    stages: list
    spearman_abs: np.ndarray
    spearman: np.ndarray
    ssim: np.ndarray
    maps: np.ndarray
    method: str = ""
    nan_count: int = 0

    def mean(self) -> dict:
        """Mean over images of each similarity curve `{metric: (S,)}`."""
        return {k: getattr(self, k).mean(1) for k in ("spearman_abs", "spearman", "ssim")}


def randomizable_layers(model: keras.Model) -> list[str]:
    """Paths of leaf layers with weights, from the output down (cascade order)."""
    return [p for p, l in reversed(list(iter_layers(model))) if not is_model(l) and l.weights]


def _reinitialize(layer, seed: int) -> None:
    for k, var in enumerate(layer.weights):
        name = var.path.rsplit("/", 1)[-1]
        init = getattr(layer, f"{name}_initializer", None) or getattr(layer, f"{name.split('_')[0]}_initializer", None)
        if init is None:
            init = keras.initializers.GlorotUniform() if len(var.shape) > 1 else keras.initializers.Zeros()
        config = init.get_config()
        if "seed" in config:
            init = type(init).from_config({**config, "seed": seed * 1000 + k})
        var.assign(tf.cast(init(var.shape, dtype=var.dtype), var.dtype))


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    if a.std() == 0 or b.std() == 0:
        return float("nan")  # a constant map has no ranking; counted in `nan_count`
    return float(spearmanr(a.ravel(), b.ravel())[0])


def _ssim(a: np.ndarray, b: np.ndarray) -> float:
    from skimage.metrics import structural_similarity

    def unit(m):
        span = m.max() - m.min()
        return (m - m.min()) / span if span > 0 else np.zeros_like(m)

    side = min(a.shape)
    if side >= 11:  # the Gaussian-weighted 11x11 window of Wang et al. (2004)
        return float(structural_similarity(unit(a), unit(b), data_range=1.0, gaussian_weights=True))
    window = side if side % 2 else side - 1
    if window < 3:
        return float("nan")  # too small for a structural comparison; counted in `nan_count`
    return float(structural_similarity(unit(a), unit(b), data_range=1.0, win_size=window))


def _clip99(m: np.ndarray) -> np.ndarray:
    return np.minimum(m, np.percentile(m, 99))


@contextlib.contextmanager
def _global_random_state_kept():
    """Cloning and re-initialising draw from Python's and NumPy's global generators: put them back."""
    python_state, numpy_state = random.getstate(), np.random.get_state()
    try:
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)


def _clone_layer(layer):
    """A fresh copy of a layer with weights; weightless layers (Lambda, activations, pooling) are shared."""
    if not layer.weights:
        return layer
    try:
        return layer.__class__.from_config(layer.get_config())
    except Exception as err:  # noqa: BLE001 - a custom layer without a complete get_config
        raise UnsupportedModelError(
            f"randomization_check copies the model to randomize it, and layer {layer.name!r} "
            f"({type(layer).__name__}) cannot be copied from its config ({type(err).__name__}: "
            f"{str(err).splitlines()[0][:160] if str(err) else ''}). Give the layer a complete get_config()."
        ) from None


def clone_for_randomization(model: keras.Model, x_model_layout: np.ndarray) -> keras.Model:
    """A copy of `model` with its own variables holding the same weights (the user's are never touched)."""
    with _global_random_state_kept():
        if is_subclassed(model):
            try:
                clone = keras.models.clone_model(model)
                trace = tf.function(lambda x: clone(x, training=False))  # tracing builds its variables
                trace.get_concrete_function(tf.TensorSpec((None,) + x_model_layout.shape[1:], tf.float32))
            except Exception as err:  # noqa: BLE001
                raise UnsupportedModelError(
                    f"randomization_check copies the model to randomize it, and subclassed model {model.name!r} "
                    f"cannot be copied ({type(err).__name__}). Implement get_config() for it, or rebuild it as a "
                    "functional model."
                ) from None
        else:
            clone = keras.models.clone_model(model, clone_function=_clone_layer, recursive=True)
        clone.set_weights(model.get_weights())
    return clone


def _stage_layers(clone, layers) -> list:
    if layers is None:
        stages = [find_layer(clone, p) for p in randomizable_layers(clone)]
        if not stages:
            raise InvalidArgumentError(f"Model {clone.name!r} has no layer with weights to randomize.")
        return stages
    if isinstance(layers, (str, int, np.integer, keras.layers.Layer)):
        layers = [layers]
    if not isinstance(layers, (list, tuple)) or not layers:
        raise ArgumentTypeError(f"`layers` must be a non-empty list of layer names, paths or indices; got {layers!r}.")
    stages = [find_layer(clone, spec, name="layers") for spec in layers]
    for spec, layer in zip(layers, stages):
        if is_model(layer) or not layer.weights:
            raise InvalidArgumentError(
                f"`layers` entry {spec!r} ({type(layer).__name__}) has no weights: randomizing it changes nothing, "
                f"so its similarity would read 1.0. Layers with weights: {randomizable_layers(clone)[:8]}."
            )
    return stages


def randomization_check(
    model: keras.Model,
    images,
    method: str | Callable = "gradient",
    target: Target = None,
    *,
    layers: Sequence[LayerSpec] | None = None,
    independent: bool = False,
    method_kwargs: dict | None = None,
    seed: int = 0,
    output: OutputSpec = None,
    progress: bool = True,
) -> RandomizationResult:
    """Adebayo et al.'s model-parameter randomization test, on a copy of the model.

    The model is copied (`keras.models.clone_model` with fresh variables for
    layers with weights, weightless layers such as Lambda shared; the user's
    weights are never touched, and Python's and NumPy's global random state is
    left as found), then its layers are re-initialised with their own
    initializers from the top down (cascading), or one at a time
    (`independent=True`). After each stage the map is recomputed (for the
    class the randomized model predicts when `target` is None, as the paper)
    and compared with the trained model's map.

    Expected: gradient, SmoothGrad, IG and Grad-CAM maps decorrelate (the
    test passes); guided backprop and deconvnet stay similar through the top
    layers (a known failure: they act as edge detectors).

    Args:
        model: a Keras image model (never changed); subclassed models work
            with the gradient-only methods if they can be cloned.
        images: `(H, W, C)` or `(N, H, W, C)` in the model's input space.
        method: a registry name (`kerasviz.attribution.registry.method_names()`:
            "gradient", "saliency", "smoothgrad", "guided_backprop",
            "deconvnet", "integrated_gradients", "grad_cam",
            "grad_cam_plus_plus", "guided_grad_cam", "occlusion") or a callable
            `(model, images, target) -> maps`.
        target: None (each model's predicted class), int, ints, or callable.
        layers: layers to randomize, in order, each with weights; default
            every layer with weights from the output down (`randomizable_layers`).
        independent: re-initialise one layer at a time (others trained).
        method_kwargs: extra keyword arguments for a named method.
        seed: seed of the re-initialisation.
        output: which output of a multi-output model (passed to named methods).
        progress: show a progress bar over stages.

    Returns:
        `RandomizationResult` with `(stages, images)` similarity curves.

    Raises:
        KerasvizError: bad images, method, layers (e.g. without weights) or
            settings (named); a model that cannot be copied.

    Example:
        >>> r = kv.randomization_check(model, x[:8], "grad_cam")
        >>> r.mean()["spearman_abs"]
    """
    if isinstance(method, str):
        entry = get_method(method)
        name, fn = method, entry
        kwargs = {"progress": False, **({"output": output} if output is not None else {})}
    elif callable(method):
        name, fn, kwargs = getattr(method, "__name__", "custom"), method, {}
    else:
        raise ArgumentTypeError(
            f"`method` must be a method name or a callable (model, images, target) -> maps; got {method!r}."
        )
    if method_kwargs is not None and not isinstance(method_kwargs, dict):
        raise ArgumentTypeError(
            f"`method_kwargs` must be a dict of keyword arguments; got {type(method_kwargs).__name__}."
        )
    kwargs.update(method_kwargs or {})
    independent, progress = check_bool(independent, "independent"), check_bool(progress, "progress")
    seed = check_seed(seed)
    p = prepare(model, images, target, output)
    if len(p.x.shape) != 4 or p.side:
        raise UnsupportedModelError(
            f"The randomization check compares image maps of a single-input image model; model {model.name!r} "
            f"explains inputs of shape {(None,) + tuple(p.x.shape[1:])}"
            f"{' next to other inputs' if p.side else ''}."
        )
    x_model = np.asarray(to_model_layout(p.x.numpy(), model))
    clone = clone_for_randomization(model, x_model)
    stages = _stage_layers(clone, layers)
    trained = clone.get_weights()
    explain = lambda: fn(clone, x_model, target, **kwargs)
    reference = explain()
    n = len(p.x)
    ref_abs, ref_signed = to_nhw(reference, p.x, True, model), to_nhw(reference, p.x, False, model)
    sims = np.zeros((3, len(stages), n))
    all_maps = [ref_abs]
    with _global_random_state_kept(), progress_bar(len(stages), f"randomizing ({name})", progress) as bar:
        for s, layer in enumerate(stages):
            if independent:
                clone.set_weights(trained)
            _reinitialize(layer, seed + s)
            maps = explain()
            now_abs, now_signed = to_nhw(maps, p.x, True, model), to_nhw(maps, p.x, False, model)
            all_maps.append(now_abs)
            for i in range(n):
                sims[0, s, i] = _spearman(_clip99(ref_abs[i]), _clip99(now_abs[i]))
                sims[1, s, i] = _spearman(ref_signed[i], now_signed[i])
                sims[2, s, i] = _ssim(ref_abs[i], now_abs[i])
            bar.update(1)
    nan_count = int(np.isnan(sims).sum())
    sims = np.nan_to_num(sims, nan=0.0)  # constant maps (dead random models) carry no rank information
    return RandomizationResult(
        stages=[l.name for l in stages],
        spearman_abs=sims[0],
        spearman=sims[1],
        ssim=sims[2],
        maps=np.stack(all_maps),
        method=name,
        nan_count=nan_count,
    )
