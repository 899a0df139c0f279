"""`inspect_report`: one self-contained HTML page about a model and a few photos."""

from __future__ import annotations

import datetime
import os
import time
from typing import Optional, Sequence

import keras
import numpy as np
import tensorflow as tf

from kerasviz._config import max_steps, progress_bar, quick_mode
from kerasviz.core.inputs import expected_image_shape
from kerasviz.core.layers import conv_layers, find_layer
from kerasviz.data import weights_label
from kerasviz.featurevis.render import input_mapping
from kerasviz.report import sections as S
from kerasviz.report.page import Page, Section, escape
from kerasviz.report.photos import fit_photos, sample_photos

DEFAULT_SIZE = 224  # for models that take any image size
SECTION_TITLES = {
    "model": "Model", "prediction": "Prediction", "activations": "Activations per block",
    "weights": "Filter weights (first conv layer)", "featurevis": "Filter maximization", "attribution": "Attribution maps",
}


def _as_photo_list(images) -> list[np.ndarray]:
    if isinstance(images, np.ndarray) and images.ndim in (2, 3):
        images = [images]
    photos = []
    for image in images:
        image = np.asarray(image)
        if image.dtype != np.uint8:  # floats in [0, 1] or 0-255
            image = np.clip(np.round(image * (255.0 if image.max() <= 1.0 else 1.0)), 0, 255).astype(np.uint8)
        image = image[..., None] if image.ndim == 2 else image
        if image.ndim != 3 or image.shape[-1] not in (1, 3):
            raise ValueError(f"Each photo must be (H, W), (H, W, 1) or (H, W, 3); got shape {image.shape}.")
        photos.append(np.repeat(image, 3, -1) if image.shape[-1] == 1 else image)
    if not photos:
        raise ValueError("No images to inspect.")
    return photos


def prepare_inputs(model: keras.Model, photos: Sequence[np.ndarray], preprocess=None):
    """Fit RGB photos to the model: `(inputs, pictures, mapping)`.

    `inputs` are in the model's input space (grey for one-channel models),
    `pictures` uint8 what the model sees, `mapping` the RGB [0, 1] -> input
    function (also given to filter maximization, so both agree).
    """
    h, w, c = expected_image_shape(model)
    size = (h or DEFAULT_SIZE, w or DEFAULT_SIZE)
    rgb = fit_photos(_as_photo_list(photos), size)
    mapping = input_mapping(model, preprocess)
    inputs = np.asarray(mapping(tf.constant(rgb, tf.float32) / 255.0), np.float32)
    pictures = rgb if c == 3 else np.round(rgb.mean(-1)).astype(np.uint8)
    return inputs, pictures, mapping


def _black_baseline(mapping, inputs: np.ndarray) -> np.ndarray:
    """A black image in the model's input space (integrated gradients' baseline)."""
    h, w = inputs.shape[1:3]
    return np.asarray(mapping(tf.zeros((1, h, w, 3))), np.float32)[0]


def _run_section(key: str, build) -> Section:
    section = Section(f"section-{key}", SECTION_TITLES[key])
    start = time.perf_counter()
    try:
        section.body = build()
    except Exception as err:  # the report is still written, with this section showing why it failed
        section.error = f"{type(err).__name__}: {err}"
    section.seconds = time.perf_counter() - start
    return section


def inspect_report(
    model: keras.Model,
    images=None,
    path: str = "kerasviz-report.html",
    *,
    names: Optional[Sequence[str]] = None,
    preprocess=None,
    class_names: Optional[Sequence[str]] = None,
    layers: Optional[Sequence[str]] = None,
    filters: Optional[int] = None,
    steps: Optional[int] = None,
    top: Optional[int] = None,
    quick: Optional[bool] = None,
    title: Optional[str] = None,
    progress: bool = True,
) -> str:
    """Write one self-contained HTML report on `model` and a few photos.

    Sections (each an HTML `<section id="section-...">`): model summary,
    prediction (top classes per image), activations per block (the last conv
    layer of each block), the first conv layer's filter weights, filter
    maximization for a few filters per block, and saliency / integrated
    gradients / Grad-CAM / occlusion overlays per image. Figures are inline
    PNGs and the CSS is inline: the file opens anywhere, offline. A section that
    fails shows its error; the others are still written. The model is never
    changed.

    Args:
        model: a Keras image classifier (functional, Sequential or nested).
        images: RGB photos of any size, uint8 (or floats in [0, 1]): one
            `(H, W, 3)`, a batch `(N, H, W, 3)` or a list. They are centre-cropped
            and resized to the model's input, and turned grey for one-channel
            models. Default: the offline sample photos (2 in quick mode, 4 else).
        path: the HTML file to write.
        names: a name per image (default "image 0", ... or the sample names).
        preprocess: how RGB in [0, 1] becomes model input (as in
            `kv.visualize_filters`): None (VGG16-style caffe for keras.applications
            families, 0-255 for models starting with `Rescaling(1/255)`, else
            [0, 1]), a family name ("vgg16", "tf", "torch"), a range
            `(low, high)`, or a function on tensors `(B, H, W, C) -> (B, H, W, C)`.
        class_names: a name per output class (ImageNet names are used
            automatically for VGG16 with real ImageNet weights).
        layers: layers for the activation and filter-maximization sections
            (default: the last conv layer of each block).
        filters: filter-maximization images per layer (quick 2, else 4), on
            at most 3 of the layers (first, middle, last) unless `layers` is given.
        steps: filter-maximization steps (quick 8, else 32; capped further
            by `KERASVIZ_QUICK`).
        top: classes listed per image (5).
        quick: small settings for a fast look (default: `kv.quick_mode()`).
        title: the page title (default: the model's name).
        progress: a progress bar over the sections.

    Returns:
        The path written.

    Example:
        >>> vgg = kv.load_vgg16(weights=None)
        >>> kv.inspect_report(vgg, path="vgg16.html", quick=True)
        'vgg16.html'
    """
    quick = quick_mode() if quick is None else bool(quick)
    settings = S.Settings.for_mode(quick, layers=list(layers) if layers else None, filters=filters, steps=steps, top=top)
    if layers:
        settings.featurevis_layers = None  # the layers asked for, all of them
    settings.steps = max_steps(settings.steps)
    settings.ig_steps = max_steps(settings.ig_steps, quick=settings.ig_steps)
    if images is None:
        photos, default_names = sample_photos(2 if quick else 4)
    else:
        photos, default_names = _as_photo_list(images), None
    names = list(names) if names is not None else default_names or [f"image {i}" for i in range(len(photos))]
    if len(names) != len(photos):
        raise ValueError(f"{len(names)} names for {len(photos)} images.")
    inputs, pictures, mapping = prepare_inputs(model, photos, preprocess)
    if not conv_layers(model):
        raise ValueError(f"Model {model.name!r} has no 2-D convolution layer; the report is for CNNs.")
    for layer in settings.layers or []:
        find_layer(model, layer)  # unknown names fail now, with the closest names
    label = weights_label(model)
    ins = S.Inspection(model, inputs, pictures, names, mapping, label, settings, class_names,
                       layers=settings.layers or S.block_layers(model))
    black = _black_baseline(mapping, inputs)
    builders = {
        "model": lambda: S.model_section(ins),
        "prediction": lambda: S.prediction_section(ins),
        "activations": lambda: S.activations_section(ins),
        "weights": lambda: S.weights_section(ins),
        "featurevis": lambda: S.featurevis_section(ins),
        "attribution": lambda: S.attribution_section(ins, black),
    }
    start = time.perf_counter()
    page = Page(title or f"kerasviz report: {model.name}", label or "not recorded", "untrained" in label.lower())
    bar = progress_bar(len(builders), "kerasviz inspect", progress)
    for key, build in builders.items():
        bar.set_postfix_str(key)
        page.sections.append(_run_section(key, build))
        bar.update(1)
    bar.close()
    failed = [s.title for s in page.sections if s.error]
    page.notes = [
        f"written {datetime.datetime.now():%Y-%m-%d %H:%M} in {time.perf_counter() - start:.1f} s"
        f"{', quick mode' if quick else ''}; {len(names)} image(s) at {inputs.shape[1]}x{inputs.shape[2]}",
        f"filter maximization: {settings.filters} filter(s) per layer, {settings.steps} steps; "
        f"integrated gradients: {settings.ig_steps} steps (from a black image); occlusion: {settings.occlusion_grid}x{settings.occlusion_grid} patches",
    ] + ([f"failed sections: {', '.join(failed)}"] if failed else [])
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    with open(path, "w", encoding="utf-8") as file:
        file.write(page.html())
    return path
