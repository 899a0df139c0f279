"""`inspect_report`: one self-contained HTML page about a model and a few photos."""

from __future__ import annotations

import dataclasses
import datetime
import numbers
import os
import time
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from kerasviz._config import max_steps, progress_bar, quick_mode
from kerasviz.cli_checks import output_path_problem
from kerasviz.core.deprecation import renamed
from kerasviz.core.errors import ArgumentTypeError, InvalidArgumentError
from kerasviz.core.gradients import model_outputs
from kerasviz.core.graph import is_probability_head, output_layer
from kerasviz.core.inputs import expected_image_shape
from kerasviz.core.layer_calls import activation_name
from kerasviz.core.layers import conv_layers, find_layer, iter_layers
from kerasviz.core.outputs import resolve_output
from kerasviz.core.precision import check_precision
from kerasviz.core.validate import check_int
from kerasviz.featurevis.inputs import input_mapping
from kerasviz.photos import fit_photos, sample_photos
from kerasviz.provenance import weights_label
from kerasviz.report import sections as S
from kerasviz.report.page import Page, Section

DEFAULT_SIZE = 224  # for models that take any image size
SECTION_TITLES = {
    "model": "Model",
    "prediction": "Prediction",
    "activations": "Activations per block",
    "weights": "Filter weights (first conv layer)",
    "featurevis": "Filter maximization",
    "attribution": "Attribution maps",
}


def as_photo_list(images) -> list[np.ndarray]:
    """RGB photos (uint8, or floats in [0, 1] or 0-255) -> a list of uint8 `(H, W, 3)`; clear errors otherwise."""
    if isinstance(images, np.ndarray) and images.ndim in (2, 3):
        images = [images]
    if isinstance(images, (str, bytes)) or not hasattr(images, "__iter__"):
        raise ArgumentTypeError(
            f"`images` must be a photo array (H, W, 3), a batch (N, H, W, 3) or a list of photos; "
            f"got {type(images).__name__}."
        )
    photos = []
    for i, image in enumerate(images):
        image = np.asarray(image)
        where = f"`images` (photo {i})"
        if np.iscomplexobj(image):
            raise ArgumentTypeError(f"{where} holds complex numbers; photos must be real RGB values.")
        if image.dtype == object or not (np.issubdtype(image.dtype, np.number) or image.dtype == np.bool_):
            raise ArgumentTypeError(f"{where} must hold numbers; got dtype {image.dtype}.")
        image = image[..., None] if image.ndim == 2 else image
        if image.ndim != 3 or image.shape[-1] not in (1, 3) or min(image.shape[:2]) < 1:
            raise InvalidArgumentError(f"{where} must be (H, W), (H, W, 1) or (H, W, 3); got shape {image.shape}.")
        if image.dtype != np.uint8:
            values = image.astype(np.float64)
            if not np.isfinite(values).all():
                bad = int((~np.isfinite(values)).sum())
                raise InvalidArgumentError(f"{where} contains {bad} NaN or Inf value(s); photos must be finite RGB.")
            low, high = float(values.min()), float(values.max())
            if low < 0 or high > 255:
                raise InvalidArgumentError(
                    f"{where} has values in [{low:.3g}, {high:.3g}]; expected RGB photos in [0, 1] or [0, 255] "
                    "(pass the photos, not preprocessed model input: the report preprocesses them itself)."
                )
            image = np.clip(np.round(values * (255.0 if high <= 1.0 else 1.0)), 0, 255).astype(np.uint8)
        photos.append(np.repeat(image, 3, -1) if image.shape[-1] == 1 else image)
    if not photos:
        raise InvalidArgumentError("`images` is empty; give at least one photo (or None for the sample photos).")
    return photos


def prepare_inputs(model: keras.Model, photos: Sequence[np.ndarray], preprocess=None):
    """Fit RGB photos to the model: `(inputs, pictures, mapping)`.

    `inputs` are in the model's input space (grey for one-channel models),
    `pictures` uint8 what the model sees, `mapping` the RGB [0, 1] -> input
    function (also given to filter maximization, so both agree).
    """
    h, w, c = expected_image_shape(model)
    size = (h or DEFAULT_SIZE, w or DEFAULT_SIZE)
    rgb = fit_photos(as_photo_list(photos), size)
    mapping = input_mapping(model, preprocess)
    inputs = np.asarray(mapping(tf.constant(rgb, tf.float32) / 255.0), np.float32)
    pictures = rgb if c == 3 else np.round(rgb.mean(-1)).astype(np.uint8)
    return inputs, pictures, mapping


def _black_baseline(mapping, inputs: np.ndarray) -> np.ndarray:
    """A black image in the model's input space (integrated gradients' baseline)."""
    h, w = inputs.shape[1:3]
    return np.asarray(mapping(tf.zeros((1, h, w, 3))), np.float32)[0]


def _layer_path(model: keras.Model, layer) -> str:
    for path, candidate in iter_layers(model):
        if candidate is layer:
            return path
    return layer.name


def resolve_layers(model: keras.Model, layers) -> tuple | None:
    """`layers` (names, paths, indices or Layer objects; one or a list) -> layer paths with spatial outputs."""
    if layers is None:
        return None
    if isinstance(layers, (str, numbers.Integral, keras.layers.Layer)):
        layers = [layers]
    if not isinstance(layers, (list, tuple)) or not layers:
        raise ArgumentTypeError(
            f"`layers` must be a layer name, index or Layer, or a non-empty list of them; got {layers!r}."
        )
    paths = []
    for spec in layers:
        if isinstance(spec, bool) or not isinstance(spec, (str, numbers.Integral, keras.layers.Layer)):
            raise ArgumentTypeError(
                f"`layers` entries must be layer names, indices or Layer objects; got {spec!r} ({type(spec).__name__})."
            )
        found = find_layer(model, int(spec) if isinstance(spec, numbers.Integral) else spec)
        path = spec if isinstance(spec, str) else _layer_path(model, found)
        try:
            shape = tuple(found.output.shape)
        except (AttributeError, ValueError):
            shape = ()
        if len(shape) != 4:
            raise InvalidArgumentError(
                f"`layers`: layer {path!r} ({type(found).__name__}) outputs shape {shape or 'none'}; the report needs "
                "layers with feature maps (N, height, width, channels), such as Conv2D or pooling layers."
            )
        paths.append(path)
    return tuple(paths)


def _predictions(model: keras.Model, inputs: np.ndarray, output) -> tuple[np.ndarray, bool, np.ndarray]:
    """`(shown outputs, are they probabilities, predicted classes)` from one forward pass on logits."""
    logits = model_outputs(model, inputs, logits=True, output=output).astype(np.float64)
    head = output_layer(model, resolve_output(model, output))
    predicted = logits.argmax(1).astype(np.int32)
    if not is_probability_head(head):
        return logits, False, predicted
    kind = "softmax" if isinstance(head, keras.layers.Softmax) else activation_name(head.activation)
    if kind == "sigmoid":
        return 1.0 / (1.0 + np.exp(-logits)), True, predicted
    shifted = np.exp(logits - logits.max(1, keepdims=True))
    return shifted / shifted.sum(1, keepdims=True), True, predicted


SECTIONS = tuple(SECTION_TITLES)  # each runs `sections.<key>_section`, looked up when it runs


def run_sections(ins: S.Inspection, progress: bool = True) -> tuple[list[Section], list[str], dict]:
    """Every section on `ins`: `(sections, facts of what ran, {section key: Part.data})`.

    A section that raises is kept with its error, unless `ins.strict`.
    """
    sections, facts, data = [], [], {}
    with progress_bar(len(SECTIONS), "kerasviz inspect", progress) as bar:
        for key in SECTIONS:
            bar.set_postfix_str(key)
            section = Section(f"section-{key}", SECTION_TITLES[key])
            start = time.perf_counter()
            try:
                part = getattr(S, f"{key}_section")(ins)
                section.body, data[key] = part.html, part.data
                facts += part.facts
            except Exception as err:  # the report is still written, with this section showing why it failed
                if ins.strict:
                    raise
                section.error = f"{type(err).__name__}: {err}"
            section.seconds = time.perf_counter() - start
            sections.append(section)
            bar.update(1)
    return sections, facts, data


@renamed(preprocess="preprocessing")
def inspect_report(
    model: keras.Model,
    images=None,
    path: str = "kerasviz-report.html",
    *,
    names: Sequence[str] | None = None,
    preprocessing=None,
    class_names: Sequence[str] | None = None,
    layers=None,
    filters: int | None = None,
    steps: int | None = None,
    top: int | None = None,
    quick: bool | None = None,
    title: str | None = None,
    progress: bool = True,
    strict: bool = False,
    notes: Sequence[str] = (),
    output=None,
    precision: str = "auto",
) -> str:
    """Write one self-contained HTML report on `model` and a few photos.

    Sections (each an HTML `<section id="section-...">`): model summary,
    prediction (top classes per image), activations per block (the last conv
    layer of each block), the first conv layer's filter weights, filter
    maximization for a few filters per block, and saliency / integrated
    gradients / Grad-CAM / occlusion overlays per image. Figures are inline
    PNGs and the CSS is inline: the file opens anywhere, offline. The header
    lists what ran (steps, sizes, octaves). The model is never changed.

    Args:
        model: a Keras image classifier (functional, Sequential or nested).
        images: RGB photos of any size, uint8 (or floats in [0, 1] or 0-255):
            one `(H, W, 3)`, a batch `(N, H, W, 3)` or a list. They are
            centre-cropped and resized to the model's input, and turned grey
            for one-channel models. Default: the offline sample photos (2 in
            quick mode, 4 else).
        path: the HTML file to write (its folder is created if needed).
        names: a name per image (default "image 0", ... or the sample names).
        preprocessing: how RGB in [0, 1] becomes model input (as in
            `kv.visualize_filters`): None (VGG16-style caffe for keras.applications
            families, 0-255 for models starting with `Rescaling(1/255)`, else
            [0, 1]), a family name ("vgg16", "caffe", "tf", "torch"), a range
            `(low, high)`, or a function on tensors `(B, H, W, C) -> (B, H, W, C)`.
        class_names: a name per output class (ImageNet names are used
            automatically for VGG16 with real ImageNet weights).
        layers: layers for the activation and filter-maximization sections:
            names, "outer/inner" paths, indices or Layer objects, each with a
            4-D output (default: the last conv layer of each block).
        filters: filter-maximization images per layer (default 4; quick 2), on
            at most 3 of the layers (first, middle, last) unless `layers` is given.
        steps: filter-maximization steps (default 32; quick 8; defaults are
            capped further by `KERASVIZ_QUICK`, a value given is used as is).
        top: classes listed per image (5).
        quick: small default settings for a fast look (default: `kv.quick_mode()`).
        title: the page title (default: the model's name).
        progress: a progress bar over the sections.
        strict: raise the first error of any section (nothing is written)
            instead of showing it in the report.
        notes: extra lines for the page header.
        output: which output of a multi-output model (index or name).
        precision: compute precision of filter maximization (and of the
            other perturbation sections that take one): "auto" (bfloat16
            where this machine runs it natively, else float32), "float32" or
            "bfloat16". Predictions and gradient maps are float32; the header
            says what ran.

    Returns:
        The path written.

    Raises:
        InvalidArgumentError, ArgumentTypeError: a bad argument (NaN photos,
            a layer without feature maps, class names of the wrong length, an
            unwritable path), before any model work.
        LayerNotFoundError: an unknown layer (the message lists close names).

    Example:
        >>> vgg = kv.load_vgg16(weights=None)
        >>> kv.inspect_report(vgg, path="vgg16.html", quick=True)
        'vgg16.html'
    """
    problem = output_path_problem(path)
    if problem:
        raise InvalidArgumentError(f"`path`: {problem}")
    ins = prepare_inspection(
        model,
        images,
        names=names,
        preprocess=preprocessing,
        class_names=class_names,
        layers=layers,
        filters=filters,
        steps=steps,
        top=top,
        quick=quick,
        strict=strict,
        output=output,
        precision=precision,
    )
    return write_report(ins, path, title=title, progress=progress, notes=notes)


def prepare_inspection(
    model: keras.Model,
    images=None,
    *,
    names=None,
    preprocess=None,
    class_names=None,
    layers=None,
    filters=None,
    steps=None,
    top=None,
    quick=None,
    strict=False,
    output=None,
    precision: str = "auto",
) -> S.Inspection:
    """Check the arguments, fit the photos and find the predicted classes: the `Inspection` every section reads.

    Arguments as in `inspect_report`. Raises before any section runs.
    """
    from kerasviz.core.gradients import require_graph
    from kerasviz.core.graph import check_model

    check_model(model)
    require_graph(model, "inspect_report")  # its sections read intermediate layers
    quick = quick_mode() if quick is None else bool(quick)
    filters, steps, top = (
        check_int(v, n, minimum=1, allow_none=True) for v, n in ((filters, "filters"), (steps, "steps"), (top, "top"))
    )
    precision = check_precision(precision)
    output = resolve_output(model, output)
    chosen = resolve_layers(model, layers)
    defaults = S.Settings.resolve(quick)
    settings = S.Settings.resolve(
        quick,
        layers=chosen,
        filters=filters,
        top=top,
        precision=precision,
        steps=steps if steps is not None else max_steps(defaults.steps),  # only defaults are capped in quick mode
        ig_steps=max_steps(defaults.ig_steps, quick=defaults.ig_steps),
    )
    if chosen:
        settings = dataclasses.replace(settings, featurevis_layers=None)  # every layer asked for
    if images is None:
        photos, default_names = sample_photos(2 if quick else 4)
    else:
        photos, default_names = as_photo_list(images), None
    names = list(names) if names is not None else default_names or [f"image {i}" for i in range(len(photos))]
    if len(names) != len(photos):
        raise InvalidArgumentError(f"`names` has {len(names)} names for {len(photos)} images.")
    if not conv_layers(model):
        raise InvalidArgumentError(f"`model` {model.name!r} has no 2-D convolution layer; the report is for CNNs.")
    classes = int(np.prod(model.outputs[output].shape[1:]))
    if class_names is not None and len(class_names) != classes:
        raise InvalidArgumentError(f"`class_names` has {len(class_names)} names; the model has {classes} outputs.")
    inputs, pictures, mapping = prepare_inputs(model, photos, preprocess)
    label = weights_label(model)
    shown, probabilities, predicted = _predictions(model, inputs, output)
    return S.Inspection(
        model,
        inputs,
        pictures,
        tuple(names),
        mapping,
        label,
        settings,
        layers=settings.layers or tuple(S.block_layers(model)),
        outputs=shown,
        probabilities=probabilities,
        predicted=predicted,
        baseline=_black_baseline(mapping, inputs),
        class_names=tuple(class_names) if class_names is not None else None,
        strict=bool(strict),
        quick=quick,
    )


def write_report(
    ins: S.Inspection, path: str, *, title: str | None = None, progress: bool = True, notes: Sequence[str] = ()
) -> str:
    """Run every section on `ins` and write the page to `path`; returns `path`."""
    problem = output_path_problem(path)
    if problem:
        raise InvalidArgumentError(f"`path`: {problem}")
    model, label = ins.model, ins.label
    start = time.perf_counter()
    page = Page(title or f"kerasviz report: {model.name}", label or "not recorded", "untrained" in label.lower())
    page.sections, facts, _ = run_sections(ins, progress)
    failed = [s.title for s in page.sections if s.error]
    page.notes = [
        f"written {datetime.datetime.now():%Y-%m-%d %H:%M} in {time.perf_counter() - start:.1f} s"
        f"{', quick mode' if ins.quick else ''}; {len(ins.names)} image(s) at {ins.inputs.shape[1]}x{ins.inputs.shape[2]}",
        *facts,
        *notes,
    ] + ([f"failed sections: {', '.join(failed)}"] if failed else [])
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    with open(path, "w", encoding="utf-8") as file:
        file.write(page.html())
    return path
