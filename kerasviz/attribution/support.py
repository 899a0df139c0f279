"""Shared plumbing of the CAM variants, black-box methods and faithfulness metrics.

- `prepare`: validate images, target and `output=` once, before any model
  work, with `KerasvizError`s that name the argument.
- `clean_scores`: one forward pass on the clean images; returns the scores and
  the targets with -1 replaced by the class predicted there (perturbation
  methods explain the class predicted on x, not on each perturbed copy).
- `stream_scores`: forward-only scores of many generated rows (masked,
  ablated or noisy copies) through ONE compiled scorer, chunk by chunk, so
  memory is bounded by the chunk size whatever the number of rows.
- `feature_map_layer`, `upsample`, `scale_to_unit`, `to_nhw`, `finish`: small
  shared steps.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf

from kerasviz._config import progress_bar
from kerasviz.core.errors import (
    ArgumentTypeError,
    InvalidArgumentError,
    KerasvizError,
    LayerNotFoundError,
    UnsupportedModelError,
)
from kerasviz.core.gradients import forward_scorer
from kerasviz.core.inputs import as_model_batch, batches
from kerasviz.core.layers import LayerSpec, find_layer, layer_path
from kerasviz.core.model_inputs import NO_SIDE, SideInputs
from kerasviz.core.outputs import resolve_output
from kerasviz.core.targets import target_vector
from kerasviz.core.validate import check_int


def _as_kerasviz_error(err: Exception, name: str) -> KerasvizError:
    """A KerasvizError with the message of a core ValueError / TypeError (argument named)."""
    if isinstance(err, KerasvizError):
        return err
    message = str(err)
    if f"`{name}`" not in message and name not in message:
        message = f"`{name}`: {message}"
    return (ArgumentTypeError if isinstance(err, TypeError) else InvalidArgumentError)(message)


def image_batch(images, model, name: str = "images", input=None):
    """`core.inputs.as_model_batch` with its errors as KerasvizErrors naming `name`."""
    try:
        return as_model_batch(images, model, name=name, input=input)
    except (ValueError, TypeError) as err:
        raise _as_kerasviz_error(err, name) from None


def check_target(target, n: int, num_outputs: int):
    """The callable itself, or int32 classes `(n,)` with -1 for "predicted"."""
    if callable(target):
        return target
    if isinstance(target, (bool, np.bool_)):
        raise ArgumentTypeError(
            f"`target` must be None, a class index, a list of indices or a callable; got {target!r}."
        )
    try:
        return target_vector(target, n, num_outputs, allow_predicted=True)
    except (ValueError, TypeError) as err:
        raise _as_kerasviz_error(err, "target") from None


def check_batch_size(value, name: str = "batch_size") -> int:
    return check_int(value, name, minimum=1)


class Prepared(tuple):
    """`(x, single, targets, output_index)` from `prepare`, with the multi-input fields as attributes.

    Attributes:
        side: the other inputs of a multi-input model (`core.model_inputs.SideInputs`),
            row-aligned with `x`; `side.take(image_ids)` for generated rows.
        input: the explained input's index.
    """

    def __new__(cls, x, single, targets, output, side: SideInputs = NO_SIDE, input: int = 0):
        self = super().__new__(cls, (x, single, targets, output))
        self.side, self.input = side, input
        return self


def prepare(model, images, target, output=None, input=None, *, images_only: bool = True) -> Prepared:
    """Validate `images`, `target`, `output` and `input`; return `(x, single, targets, output_index)`.

    `targets` is the callable itself, or int32 classes `(N,)` where -1 means
    the predicted class. The result also carries `.side` and `.input` (a
    multi-input model's other inputs and the explained input's index).
    `images_only` refuses signals and volumes (methods built on 2-D masks,
    superpixels or feature maps).
    """
    output_index = resolve_output(model, output)
    batch = image_batch(images, model, input=input)
    if images_only and len(batch.x.shape) != 4:
        raise UnsupportedModelError(
            f"This method works on images (N, H, W, C); model {model.name!r} explains inputs of shape "
            f"{(None,) + tuple(batch.x.shape[1:])}. For signals use gradient, saliency, SmoothGrad, integrated "
            "gradients, gradient x input, occlusion (windows along time), Grad-CAM or LRP."
        )
    num_outputs = forward_scorer(model, output=output_index, input=batch.index).num_outputs
    targets = check_target(target, len(batch.x), num_outputs)
    return Prepared(batch.x, batch.single, targets, output_index, batch.side, batch.index)


def clean_scores(
    model,
    x: tf.Tensor,
    targets,
    output: int,
    *,
    probabilities: bool = False,
    batch_size: int = 64,
    side: SideInputs | None = None,
    input: int = 0,
):
    """Scores on the clean images `(N,)` and the targets with -1 resolved (callables pass through)."""
    scorer = forward_scorer(
        model,
        targets if callable(targets) else None,
        probabilities=probabilities,
        output=output,
        input=input,
    )
    fixed = np.full(len(x), -1, np.int32) if callable(targets) else targets
    scores, classes = [], []
    for s in batches(len(x), batch_size):
        value, chosen = scorer(x[s], fixed[s], None if side is None else side[s])
        scores.append(value.numpy())
        classes.append(chosen.numpy())
    return np.concatenate(scores), (targets if callable(targets) else np.concatenate(classes).astype(np.int32))


def stream_scores(
    model,
    make_rows: Callable[[np.ndarray], tf.Tensor],
    image_ids: np.ndarray,
    targets,
    output: int,
    *,
    probabilities: bool = False,
    batch_size: int = 32,
    progress: bool = False,
    desc: str = "scores",
    consume: Callable[[np.ndarray, tf.Tensor], None] | None = None,
    side: SideInputs | None = None,
    input: int = 0,
) -> np.ndarray:
    """Forward-only target scores of generated rows, chunk by chunk through one compiled call.

    Args:
        make_rows: row indices `(n,)` -> input rows `(n, H, W, C)` (built in-graph).
        image_ids: `(R,)` the image each row comes from (selects its class).
        targets: int32 classes per image (no -1 left), or a callable target.
        consume: optional `(rows, scores)` callback per chunk (to accumulate
            without keeping the rows).
        side: the other inputs of a multi-input model per image (each row
            gets its image's, held fixed).

    Returns:
        `(R,)` float32 scores.
    """
    callable_target = callable(targets)
    scorer = forward_scorer(
        model,
        targets if callable_target else None,
        probabilities=probabilities,
        output=output,
        input=input,
    )
    out = np.empty(len(image_ids), np.float32)
    chunks = list(batches(len(image_ids), batch_size))
    with progress_bar(len(chunks), desc, progress and len(chunks) > 1) as bar:
        for s in chunks:
            rows = np.arange(s.start, s.stop)
            classes = np.full(len(rows), -1, np.int32) if callable_target else targets[image_ids[rows]]
            value, _ = scorer(make_rows(rows), classes, None if side is None else side.take(image_ids[rows]))
            out[rows] = value.numpy()
            if consume is not None:
                consume(rows, value)
            bar.update(1)
    return out


def feature_map_layer(model, layer: LayerSpec | None) -> str:
    """The path of a 4-D feature-map layer (default: `default_cam_layer`), with clear errors."""
    from kerasviz.activations import image_layers
    from kerasviz.attribution.gradcam import default_cam_layer

    if layer is None:
        try:
            return default_cam_layer(model)
        except (ValueError, TypeError) as err:
            raise _as_kerasviz_error(err, "layer") from None
    if (
        isinstance(layer, (bool, np.bool_))
        or not isinstance(layer, (str, int, np.integer))
        and not hasattr(layer, "output")
    ):
        raise ArgumentTypeError(f"`layer` must be a layer name, path, index or Layer; got {layer!r}.")
    try:
        found = find_layer(model, int(layer) if isinstance(layer, np.integer) else layer)
    except LayerNotFoundError:
        raise
    except (ValueError, TypeError) as err:
        raise _as_kerasviz_error(err, "layer") from None
    try:
        shape = tuple(found.output.shape)
    except (AttributeError, ValueError):
        shape = ()
    if len(shape) != 4:
        raise InvalidArgumentError(
            f"`layer` {found.name!r} outputs shape {shape}, not a feature map (N, h, w, c). "
            f"Layers with 4-D outputs: {image_layers(model)[-8:]}."
        )
    return layer if isinstance(layer, str) else layer_path(model, found)


def upsample(maps: tf.Tensor, size) -> tf.Tensor:
    """Bilinear (half-pixel centres, `tf.image.resize`) resize of `(N, h, w)` maps to `size`."""
    return tf.image.resize(maps[..., None], size, method="bilinear")[..., 0]


def scale_to_unit(maps: tf.Tensor) -> tf.Tensor:
    """Divide each `(N, h, w)` map by its largest |value| (an all-zero map stays zero)."""
    peak = tf.reduce_max(tf.abs(maps), axis=(1, 2), keepdims=True)
    return tf.math.divide_no_nan(maps, peak)


def to_nhw(maps, n: int, h: int, w: int, *, name: str = "maps", absolute: bool = False) -> np.ndarray:
    """Maps `(N, H, W)` or `(N, H, W, C)` (batch axis optional for one image) as float64
    `(N, H, W)`; channels are summed (of |.| with `absolute`)."""
    try:
        array = np.asarray(maps)
    except Exception:  # noqa: BLE001 - ragged lists and the like
        raise ArgumentTypeError(f"`{name}` must be an array of maps (N, H, W) or (N, H, W, C).") from None
    if array.dtype == object or not np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_:
        raise ArgumentTypeError(f"`{name}` must be a numeric array of maps; got dtype {array.dtype}.")
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise InvalidArgumentError(f"`{name}` contains NaN or Inf values; maps must be finite.")
    if array.ndim >= 3 and array.shape[-3:-1] == (h, w) and array.shape[-2:] != (h, w):
        array = np.abs(array).sum(-1) if absolute else array.sum(-1)
    elif absolute:
        array = np.abs(array)
    if array.shape not in ((n, h, w),) + (((h, w),) if n == 1 else ()):
        raise InvalidArgumentError(
            f"`{name}` has shape {np.shape(maps)}; expected one map per image at the input size, "
            f"({n}, {h}, {w}) or ({n}, {h}, {w}, C) (upsample layer-size CAMs first)."
        )
    return array.reshape(n, h, w)


def finish(array, single: bool) -> np.ndarray:
    """float32 numpy, batch axis dropped for a single input image."""
    array = np.asarray(array, np.float32)
    return array[0] if single else array


def check_seed(seed) -> int:
    return check_int(seed, "seed", minimum=0, maximum=2**31 - 1)


def fill_images(x: tf.Tensor, baseline, *, name: str = "baseline", extra: tuple = ()) -> tf.Tensor:
    """What removed pixels become, `(N, H, W, C)` float32, in the model's input space.

    `baseline`: a number, "mean" (each image's mean colour), "blur" (a
    Gaussian blur of the image, sigma 5 px at 224 px scaled to the image side),
    or an array broadcastable to the images. `extra` names further strings
    the caller handles itself (they are returned unchanged).
    """
    from kerasviz.core.validate import check_finite_array, check_number

    if isinstance(baseline, str):
        choices = ("mean", "blur") + tuple(extra)
        if baseline not in choices:
            raise InvalidArgumentError(
                f"`{name}` must be a number, an array or one of {', '.join(repr(c) for c in choices)}; got {baseline!r}."
            )
        if baseline in extra:
            return baseline
        if baseline == "mean":
            return tf.broadcast_to(tf.reduce_mean(x, axis=(1, 2), keepdims=True), tf.shape(x))
        from scipy.ndimage import gaussian_filter

        sigma = max(1.0, 5.0 * max(x.shape[1:3]) / 224)
        return tf.constant(gaussian_filter(x.numpy(), sigma=(0, sigma, sigma, 0), mode="reflect"), tf.float32)
    if isinstance(baseline, (bool, np.bool_)):
        raise ArgumentTypeError(f"`{name}` must be a number, an array or a string; got {baseline!r}.")
    if np.isscalar(baseline):
        value = check_number(baseline, name)
        return tf.fill(tf.shape(x), tf.constant(value, tf.float32))
    array = check_finite_array(baseline, name)
    try:
        return tf.constant(np.broadcast_to(array, tuple(x.shape)).copy(), tf.float32)
    except ValueError:
        raise InvalidArgumentError(
            f"`{name}` of shape {array.shape} does not broadcast to the images' shape {tuple(x.shape)}."
        ) from None
