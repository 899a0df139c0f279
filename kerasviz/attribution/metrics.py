"""Is a map faithful, and does it depend on the model at all?

- `deletion_auc` / `insertion_auc` (Petsiuk et al., RISE 2018): remove (or
  insert) pixels in the map's order and follow the probability of the class
  predicted on the clean image; a faithful map makes deletion drop fast (low
  AUC) and insertion rise fast (high AUC). Compare against a random ordering:
  absolute values depend on the substrate and the number of classes.
- `randomization_check` (Adebayo et al. 2018, in `randomization.py`, re-exported
  here): re-initialise the layers of a COPY of the model from the top down and
  measure how similar the maps stay. A map that stays similar when the weights
  are random (guided backprop, deconvnet) does not explain the model.
"""

from __future__ import annotations

from typing import Literal, overload

import keras
import numpy as np
import tensorflow as tf

from kerasviz._config import max_steps
from kerasviz.attribution._common import (
    RowTargets,
    check_rows,
    finish,
    gaussian_blur,
    image_like,
    prepare,
    resolve_targets,
    row_scores,
)
from kerasviz.core.errors import ArgumentTypeError, InvalidArgumentError, UnsupportedModelError
from kerasviz.core.inputs import is_channels_first
from kerasviz.core.model_inputs import InputSpec
from kerasviz.core.outputs import OutputSpec
from kerasviz.core.targets import Target
from kerasviz.core.validate import check_bool, check_finite_array, check_int, check_positive, renamed_arguments

DEFAULT_STEPS = 64
SUBSTRATES = ("blur", "mean")


# ---------------------------------------------------------------- deletion / insertion


def to_nhw(maps, x: tf.Tensor, absolute: bool, model, name: str = "maps") -> np.ndarray:
    """Maps `(N, H, W)` or with channels in the images' layout (batch axis optional) as `(N, H, W)`;
    channels are summed (signed, or of |.| when `absolute`)."""
    n, h, w, c = x.shape
    maps = check_finite_array(maps, name)
    shapes = {(n, h, w): None, (n, h, w, c): -1}
    if is_channels_first(model):
        shapes[(n, c, h, w)] = 1
    if n == 1:
        shapes.update({shape[1:]: (None if axis is None else axis) for shape, axis in list(shapes.items())})
    if maps.shape not in shapes:
        raise InvalidArgumentError(
            f"`{name}` of shape {maps.shape} does not fit {n} image(s) of {h}x{w}: give (N, H, W) maps "
            "or maps with the images' shape."
        )
    axis = shapes[maps.shape]
    if axis is not None:
        maps = np.abs(maps).sum(axis) if absolute else maps.sum(axis)
    elif absolute:
        maps = np.abs(maps)
    return maps.reshape(n, h, w)


def _substrate(x: tf.Tensor, substrate, blur_sigma: float | None, model) -> tf.Tensor:
    if isinstance(substrate, str):
        if substrate == "blur":
            sigma = blur_sigma if blur_sigma is not None else max(1.0, 5.0 * max(x.shape[1:3]) / 224)
            return gaussian_blur(x, sigma)
        if substrate == "mean":
            return tf.broadcast_to(tf.reduce_mean(x, axis=(1, 2), keepdims=True), x.shape)
        raise InvalidArgumentError(f"`substrate` must be a number, 'blur', 'mean' or an array; got {substrate!r}.")
    return tf.constant(image_like(substrate, "substrate", model, x))


def auc(curve: np.ndarray) -> np.ndarray:
    """Trapezoid area under curves `(..., T)` on an x-axis from 0 to 1 (T >= 2)."""
    curve = np.asarray(curve, np.float64)
    if curve.shape[-1] < 2:
        raise InvalidArgumentError(f"A curve needs at least 2 points for an area; got {curve.shape[-1]}.")
    return (curve.sum(-1) - curve[..., 0] / 2 - curve[..., -1] / 2) / (curve.shape[-1] - 1)


def perturbation_curve(
    model,
    images,
    maps,
    target: Target = None,
    *,
    insert: bool,
    substrate=0.0,
    steps: int | None = None,
    blur_sigma: float | None = None,
    mask_batch_size: int = 64,
    progress: bool = True,
    output: OutputSpec = None,
    input: InputSpec = None,
) -> np.ndarray:
    """Class probability `(N, steps + 1)` (`(steps + 1,)` for one image) as pixels are
    deleted (or inserted) in the map's order.

    Args: as `deletion_auc`; `insert` switches to insertion.
    """
    steps = max_steps(DEFAULT_STEPS, quick=16) if steps is None else check_int(steps, "steps", minimum=1)
    blur_sigma = check_positive(blur_sigma, "blur_sigma", allow_none=True)
    progress = check_bool(progress, "progress")
    if isinstance(substrate, str) and substrate not in SUBSTRATES:
        raise InvalidArgumentError(f"`substrate` must be a number, 'blur', 'mean' or an array; got {substrate!r}.")
    p = prepare(model, images, target, output, input)
    x = p.x
    if len(x.shape) != 4:
        raise UnsupportedModelError(
            f"Deletion and insertion curves remove pixels of images (N, H, W, C); model {model.name!r} explains inputs "
            f"of shape {(None,) + tuple(x.shape[1:])}."
        )
    n, h, w = x.shape[:3]
    if steps > h * w:
        raise InvalidArgumentError(
            f"`steps`={steps} exceeds the {h * w} pixels of each image: each step must change at least one "
            f"pixel; use steps <= {h * w} (one step per pixel)."
        )
    order_maps = to_nhw(maps, x, absolute=False, model=model, name="maps").reshape(n, -1)
    base = _substrate(x, substrate, blur_sigma, model)
    points = steps + 1
    mask_batch_size = check_rows(model, x, mask_batch_size, n * points, "mask_batch_size")
    _, targets = resolve_targets(model, x, p.targets, p.output, side=p.side, input=p.input)
    # rank 0 = most important pixel; a stable sort makes ties follow pixel order
    order = np.argsort(-order_maps, axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(h * w)[None].repeat(n, 0), axis=1)
    rank = tf.constant(rank.reshape(n, h, w, 1), tf.int32)
    counts = np.round(np.linspace(0, h * w, points)).astype(np.int32)  # pixels changed at each step
    start, end = (base, x) if insert else (x, base)

    def make_rows(rows):  # row = (image rows // points, step rows % points)
        ids = rows // points
        changed = tf.cast(tf.gather(rank, ids) < tf.constant(counts[rows % points])[:, None, None, None], tf.float32)
        return tf.gather(start, ids) * (1 - changed) + tf.gather(end, ids) * changed

    row_targets = targets if callable(targets) else RowTargets(targets, lambda rows: rows // points)
    probs, _ = row_scores(
        model,
        make_rows,
        n * points,
        row_targets,
        probabilities=not callable(targets),
        batch_size=mask_batch_size,
        progress=progress,
        desc="insertion" if insert else "deletion",
        output=p.output,
        side=p.side,
        image_of=lambda rows: rows // points,
        input=p.input,
    )
    return finish(probs.reshape(n, points), p.single)


@overload
def deletion_auc(
    model, images, maps=..., target=..., *, return_curves: Literal[False] = ..., **options
) -> np.ndarray: ...
@overload
def deletion_auc(model, images, maps=..., target=..., *, return_curves: Literal[True], **options) -> tuple: ...


def deletion_auc(
    model: keras.Model,
    images,
    maps=None,
    target: Target = None,
    *,
    substrate: float | str | np.ndarray = 0.0,
    steps: int | None = None,
    blur_sigma: float | None = None,
    return_curves: bool = False,
    output: OutputSpec = None,
    input: InputSpec = None,
    mask_batch_size: int = 64,
    progress: bool = True,
    **renamed,
):
    """Deletion AUC (RISE): lower is better.

    Pixels are replaced by the substrate in decreasing order of the map, in
    `steps` equal steps, and the softmax probability of the class predicted on
    the clean image (or `target`) is recorded.

    Args:
        model: a Keras classifier (never changed); subclassed models work.
        images: `(H, W, C)` or `(N, H, W, C)` in the model's input space
            (channels first for a channels-first model).
        maps: maps `(N, H, W)`, or with channels in the images' layout
            (channels summed, signed; pass `np.abs(m)` to order by magnitude).
            Formerly `attributions`, still accepted with a warning.
        target: None (class predicted on the clean image), int, ints, or a
            callable score (used as is, no softmax).
        substrate: what deleted pixels become, in the model's input space: a
            number (0 = the mean colour for caffe/centred inputs, RISE), "mean"
            (each image's mean colour), "blur", per-channel values, or an image.
        steps: perturbation steps, 1 to one per pixel (default 64; capped in
            quick mode only when not given); RISE uses one step per image row (224).
        blur_sigma: Gaussian sigma for `substrate="blur"` (default RISE's 5
            px scaled to the image side), > 0.
        return_curves: also return the curves `(N, steps + 1)`.
        output: which output of a multi-output model (index, name or dict key).
        input: which input of a multi-input model is explained (index or name;
            default the image input); the others, given in `images`, are held fixed.
        mask_batch_size: perturbed copies per compiled call (bounds memory;
            formerly `batch_size`, still accepted with a warning).
        progress: show a progress bar (when there is more than one chunk).

    Returns:
        AUC per image `(N,)` (a float for one image), or `(auc, curves)`.

    Raises:
        KerasvizError: bad images, maps, target, output, substrate or settings (named).

    Example:
        >>> kv.deletion_auc(model, x, kv.saliency(model, x)).mean()
    """
    return _perturbation_auc(
        "deletion_auc",
        model,
        images,
        maps,
        target,
        False,
        return_curves,
        renamed,
        dict(
            substrate=substrate,
            steps=steps,
            blur_sigma=blur_sigma,
            mask_batch_size=mask_batch_size,
            progress=progress,
            output=output,
            input=input,
        ),
    )


@overload
def insertion_auc(
    model, images, maps=..., target=..., *, return_curves: Literal[False] = ..., **options
) -> np.ndarray: ...
@overload
def insertion_auc(model, images, maps=..., target=..., *, return_curves: Literal[True], **options) -> tuple: ...


def insertion_auc(
    model: keras.Model,
    images,
    maps=None,
    target: Target = None,
    *,
    substrate: float | str | np.ndarray = "blur",
    steps: int | None = None,
    blur_sigma: float | None = None,
    return_curves: bool = False,
    output: OutputSpec = None,
    input: InputSpec = None,
    mask_batch_size: int = 64,
    progress: bool = True,
    **renamed,
):
    """Insertion AUC (RISE): higher is better.

    Starts from the substrate (a blurred image by default, as RISE) and puts
    the image's pixels back in decreasing order of the map. Arguments, returns
    and errors as `deletion_auc`.

    Example:
        >>> kv.insertion_auc(model, x, kv.grad_cam(model, x)).mean()
    """
    return _perturbation_auc(
        "insertion_auc",
        model,
        images,
        maps,
        target,
        True,
        return_curves,
        renamed,
        dict(
            substrate=substrate,
            steps=steps,
            blur_sigma=blur_sigma,
            mask_batch_size=mask_batch_size,
            progress=progress,
            output=output,
            input=input,
        ),
    )


def _perturbation_auc(function, model, images, maps, target, insert: bool, return_curves, renamed: dict, options: dict):
    """The shared body of `deletion_auc` and `insertion_auc`: curves, then their areas."""
    names = renamed_arguments(
        function,
        renamed,
        {"batch_size": "mask_batch_size", "attributions": "maps"},
        {"mask_batch_size": options["mask_batch_size"], "maps": maps},
        {"mask_batch_size": 64, "maps": None},
    )
    options["mask_batch_size"] = names["mask_batch_size"]
    if names["maps"] is None:
        raise ArgumentTypeError(
            f"{function}() needs `maps`: the attribution maps to evaluate, (N, H, W) or with channels."
        )
    return_curves = check_bool(return_curves, "return_curves")
    curves = perturbation_curve(model, images, names["maps"], target, insert=insert, **options)
    areas = auc(curves)
    areas = float(areas) if areas.ndim == 0 else areas.astype(np.float32)
    return (areas, curves) if return_curves else areas


from kerasviz.attribution.randomization import (  # noqa: E402,F401  (public names of this module)
    RandomizationResult,
    randomizable_layers,
    randomization_check,
)
