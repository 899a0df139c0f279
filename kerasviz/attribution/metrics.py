"""Is a map faithful, and does it depend on the model at all?

- `deletion_auc` / `insertion_auc` (Petsiuk et al., RISE 2018): remove (or
  insert) pixels in the map's order and follow the probability of the class
  predicted on the clean image; a faithful map makes deletion drop fast (low
  AUC) and insertion rise fast (high AUC). Compare against a random ordering:
  absolute values depend on the substrate and the number of classes.
- `randomization_check` (Adebayo et al. 2018): re-initialise the layers of a
  CLONE of the model from the top down and measure how similar the maps stay.
  A map that stays similar when the weights are random (guided backprop,
  deconvnet) does not explain the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Sequence, Union

import keras
import numpy as np
import tensorflow as tf

from kerasviz._config import max_steps, progress_bar
from kerasviz.attribution._common import finish, gaussian_blur, prepare, resolve_targets, row_scores
from kerasviz.core.layers import LayerSpec, find_layer, is_model, iter_layers
from kerasviz.core.targets import Target

DEFAULT_STEPS = 64


# ---------------------------------------------------------------- deletion / insertion

def _substrate(x: tf.Tensor, substrate, blur_sigma: Optional[float]) -> tf.Tensor:
    if isinstance(substrate, str):
        if substrate == "blur":
            sigma = blur_sigma if blur_sigma is not None else max(1.0, 5.0 * max(x.shape[1:3]) / 224)
            return gaussian_blur(x, sigma)
        if substrate == "mean":
            return tf.broadcast_to(tf.reduce_mean(x, axis=(1, 2), keepdims=True), x.shape)
        raise ValueError(f"substrate must be a number, 'blur', 'mean' or an array; got {substrate!r}.")
    return tf.broadcast_to(tf.constant(np.asarray(substrate, np.float32)), x.shape)


def auc(curve: np.ndarray) -> np.ndarray:
    """Trapezoid area under curves `(..., T)` on an x-axis from 0 to 1."""
    curve = np.asarray(curve, np.float64)
    return (curve.sum(-1) - curve[..., 0] / 2 - curve[..., -1] / 2) / (curve.shape[-1] - 1)


def perturbation_curve(
    model, images, attributions, target: Target = None, *, insert: bool, substrate=0.0,
    steps: Optional[int] = None, blur_sigma: Optional[float] = None, batch_size: int = 64, progress: bool = True,
) -> np.ndarray:
    """Class probability `(N, steps + 1)` (`(steps + 1,)` for one image) as pixels are
    deleted (or inserted) in the map's order.

    Args: as `deletion_auc`; `insert` switches to insertion.
    """
    x, single, targets = prepare(model, images, target)
    _, targets = resolve_targets(model, x, targets)
    n, h, w = x.shape[:3]
    maps = _to_nhw(attributions, n, h, w, absolute=False).reshape(n, -1)
    steps = max_steps(DEFAULT_STEPS, quick=16) if steps is None else int(steps)
    # rank 0 = most important pixel; a stable sort makes ties follow pixel order
    order = np.argsort(-maps, axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(h * w)[None].repeat(n, 0), axis=1)
    rank = tf.constant(rank.reshape(n, h, w, 1), tf.int32)
    counts = np.round(np.linspace(0, h * w, steps + 1)).astype(np.int32)
    base = _substrate(x, substrate, blur_sigma)
    start, end = (base, x) if insert else (x, base)
    image_ids = np.repeat(np.arange(n), steps + 1)
    count_ids = np.tile(counts, n)

    def make_rows(rows):
        ids = image_ids[rows]
        changed = tf.cast(tf.gather(rank, ids) < tf.constant(count_ids[rows])[:, None, None, None], tf.float32)
        return tf.gather(start, ids) * (1 - changed) + tf.gather(end, ids) * changed

    row_targets = targets if callable(targets) else targets[image_ids]
    probs, _ = row_scores(
        model, make_rows, len(image_ids), row_targets, probabilities=not callable(targets),
        batch_size=batch_size, progress=progress, desc="insertion" if insert else "deletion",
    )
    return finish(probs.reshape(n, steps + 1), single)


def deletion_auc(
    model: keras.Model,
    images,
    attributions,
    target: Target = None,
    *,
    substrate: Union[float, str, np.ndarray] = 0.0,
    steps: Optional[int] = None,
    blur_sigma: Optional[float] = None,
    return_curves: bool = False,
    batch_size: int = 64,
    progress: bool = True,
):
    """Deletion AUC (RISE): lower is better.

    Pixels are replaced by the substrate in decreasing order of the map, in
    `steps` equal steps, and the softmax probability of the class predicted on
    the clean image (or `target`) is recorded.

    Args:
        model: a Keras classifier (never changed).
        images: `(H, W, C)` or `(N, H, W, C)` in the model's input space.
        attributions: maps `(N, H, W)` or `(N, H, W, C)` (channels summed,
            signed; pass `np.abs(m)` to order by magnitude).
        target: None (class predicted on the clean image), int, ints, or a
            callable score (used as is, no softmax).
        substrate: what deleted pixels become, in the model's input space: a
            number (0 = the mean colour for caffe/centred inputs, RISE), "mean"
            (each image's mean colour), "blur", or an array.
        steps: perturbation steps (default 64; capped in quick mode when not
            given); RISE uses one step per image row (224).
        blur_sigma: Gaussian sigma for `substrate="blur"` (default RISE's 5
            px scaled to the image side).
        return_curves: also return the curves `(N, steps + 1)`.
        batch_size: perturbed images per compiled call.
        progress: show a progress bar.

    Returns:
        AUC per image `(N,)` (a float for one image), or `(auc, curves)`.

    Example:
        >>> kv.deletion_auc(model, x, kv.saliency(model, x)).mean()
    """
    options = dict(substrate=substrate, steps=steps, blur_sigma=blur_sigma, batch_size=batch_size, progress=progress)
    return _perturbation_auc(model, images, attributions, target, False, return_curves, options)


def insertion_auc(
    model: keras.Model,
    images,
    attributions,
    target: Target = None,
    *,
    substrate: Union[float, str, np.ndarray] = "blur",
    steps: Optional[int] = None,
    blur_sigma: Optional[float] = None,
    return_curves: bool = False,
    batch_size: int = 64,
    progress: bool = True,
):
    """Insertion AUC (RISE): higher is better.

    Starts from the substrate (a blurred image by default, as RISE) and puts
    the image's pixels back in decreasing order of the map. Arguments and
    returns as `deletion_auc`.

    Example:
        >>> kv.insertion_auc(model, x, kv.grad_cam(model, x)).mean()
    """
    options = dict(substrate=substrate, steps=steps, blur_sigma=blur_sigma, batch_size=batch_size, progress=progress)
    return _perturbation_auc(model, images, attributions, target, True, return_curves, options)


def _perturbation_auc(model, images, attributions, target, insert: bool, return_curves: bool, options: dict):
    """The shared body of `deletion_auc` and `insertion_auc`: curves, then their areas."""
    curves = perturbation_curve(model, images, attributions, target, insert=insert, **options)
    areas = auc(curves)
    areas = float(areas) if areas.ndim == 0 else areas.astype(np.float32)
    return (areas, curves) if return_curves else areas


# ---------------------------------------------------------------- randomization

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


def _methods() -> dict:
    from kerasviz.attribution.gradcam import grad_cam, grad_cam_plus_plus, guided_grad_cam
    from kerasviz.attribution.integrated_gradients import integrated_gradients
    from kerasviz.attribution.occlusion import occlusion
    from kerasviz.attribution.relu_backprop import deconvnet, guided_backprop
    from kerasviz.attribution.saliency import gradient, saliency
    from kerasviz.attribution.smoothgrad import smoothgrad

    return {
        "gradient": gradient, "saliency": saliency, "smoothgrad": smoothgrad,
        "guided_backprop": guided_backprop, "deconvnet": deconvnet,
        "integrated_gradients": lambda *a, **k: integrated_gradients(*a, **k).attributions,
        "grad_cam": grad_cam, "grad_cam_plus_plus": grad_cam_plus_plus,
        "guided_grad_cam": guided_grad_cam, "occlusion": occlusion,
    }


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


def _to_nhw(maps, n: int, h: int, w: int, absolute: bool) -> np.ndarray:
    """Maps `(N, H, W)` or `(N, H, W, C)` (batch axis optional) as `(N, H, W)`;
    channels are summed (signed, or of |.| when `absolute`)."""
    maps = np.asarray(maps, np.float32)
    if maps.shape[-2:] != (h, w):  # channels last: (.., H, W, C)
        maps = np.abs(maps).sum(-1) if absolute else maps.sum(-1)
    elif absolute:
        maps = np.abs(maps)
    if maps.size != n * h * w:
        raise ValueError(f"attributions of shape {maps.shape} do not match {n} image(s) of size {(h, w)}.")
    return maps.reshape(n, h, w)


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

    return float(structural_similarity(unit(a), unit(b), data_range=1.0, gaussian_weights=True))


def _clip99(m: np.ndarray) -> np.ndarray:
    return np.minimum(m, np.percentile(m, 99))


def randomization_check(
    model: keras.Model,
    images,
    method: Union[str, Callable] = "gradient",
    target: Target = None,
    *,
    layers: Optional[Sequence[LayerSpec]] = None,
    independent: bool = False,
    method_kwargs: Optional[dict] = None,
    seed: int = 0,
    progress: bool = True,
) -> RandomizationResult:
    """Adebayo et al.'s model-parameter randomization test, on a clone of the model.

    The model is cloned (`keras.models.clone_model` + `set_weights`; the
    user's weights are never touched), then its layers are re-initialised with
    their own initializers from the top down (cascading), or one at a time
    (`independent=True`). After each stage the map is recomputed (for the
    class the randomized model predicts when `target` is None, as the paper)
    and compared with the trained model's map.

    Expected: gradient, SmoothGrad, IG and Grad-CAM maps decorrelate (the
    test passes); guided backprop and deconvnet stay similar through the top
    layers (a known failure: they act as edge detectors).

    Args:
        model: a Keras image model (never changed).
        images: `(H, W, C)` or `(N, H, W, C)` in the model's input space.
        method: a name ("gradient", "saliency", "smoothgrad",
            "guided_backprop", "deconvnet", "integrated_gradients",
            "grad_cam", "grad_cam_plus_plus", "guided_grad_cam", "occlusion")
            or a callable `(model, images, target) -> maps`.
        target: None (each model's predicted class), int, ints, or callable.
        layers: layers to randomize, in order; default every layer with
            weights from the output down (`randomizable_layers`).
        independent: re-initialise one layer at a time (others trained).
        method_kwargs: extra keyword arguments for a named method.
        seed: seed of the re-initialisation.
        progress: show a progress bar over stages.

    Returns:
        `RandomizationResult` with `(stages, images)` similarity curves.

    Example:
        >>> r = kv.randomization_check(model, x[:8], "grad_cam")
        >>> r.mean()["spearman_abs"]
    """
    methods = _methods()
    if isinstance(method, str):
        if method not in methods:
            raise ValueError(f"Unknown method {method!r}; choose from {sorted(methods)} or pass a callable.")
        name, fn = method, methods[method]
    else:
        name, fn = getattr(method, "__name__", "custom"), method
    kwargs = dict(method_kwargs or {})
    if isinstance(method, str) and method in ("smoothgrad", "integrated_gradients", "occlusion"):
        kwargs.setdefault("progress", False)
    x, single, _ = prepare(model, images, target)
    n, h, w = x.shape[:3]
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    trained = clone.get_weights()
    stages = [find_layer(clone, spec) for spec in layers] if layers is not None else [find_layer(clone, p) for p in randomizable_layers(clone)]
    explain = lambda: fn(clone, x, target, **kwargs)
    reference = explain()
    ref_abs, ref_signed = _to_nhw(reference, n, h, w, True), _to_nhw(reference, n, h, w, False)
    sims = np.zeros((3, len(stages), n))
    all_maps = [ref_abs]
    with progress_bar(len(stages), f"randomizing ({name})", progress) as bar:
        for s, layer in enumerate(stages):
            if independent:
                clone.set_weights(trained)
            _reinitialize(layer, seed + s)
            maps = explain()
            now_abs, now_signed = _to_nhw(maps, n, h, w, True), _to_nhw(maps, n, h, w, False)
            all_maps.append(now_abs)
            for i in range(n):
                sims[0, s, i] = _spearman(_clip99(ref_abs[i]), _clip99(now_abs[i]))
                sims[1, s, i] = _spearman(ref_signed[i], now_signed[i])
                sims[2, s, i] = _ssim(ref_abs[i], now_abs[i])
            bar.update(1)
    nan_count = int(np.isnan(sims).sum())
    sims = np.nan_to_num(sims, nan=0.0)  # constant maps (dead random models) carry no rank information
    return RandomizationResult(
        stages=[l.name for l in stages], spearman_abs=sims[0], spearman=sims[1], ssim=sims[2],
        maps=np.stack(all_maps), method=name, nan_count=nan_count,
    )
