"""Caricatures (lucid's recipe, Carter et al. 2019): what a layer sees in an image, exaggerated.

Feature visualization whose objective is an image's own activation pattern at
a layer: maximise

    score(x^) = <a(x^), a(x)> / <a(x), a(x)> * max(0.1, cos(a(x^), a(x)))^p

over the whole feature map (every position and channel), from a random start,
with the usual robustness transforms. The default p = 1 also rewards matching
the pattern's direction; with p = 0 (lucid's default) the dot product alone is
maximised, which exaggerates whatever the layer responds to but on small
networks mostly inflates the activation into a blob (cosine 0.62-0.82 against
0.78-0.86 with p = 1 on a trained MNIST CNN's conv2). The score is 1 for an
image whose activation equals the photo's.

The photo's activations are data, not constants baked into the compiled step:
they live in one `tf.Variable` per (model, layer), so a caricature of another
image reuses the traced step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import keras
import numpy as np
import tensorflow as tf

from kerasviz.activations import activations
from kerasviz.concepts._common import check_images, check_layer, check_model, check_seed, optional_int
from kerasviz.concepts.atlas import check_render_options
from kerasviz.core.errors import InvalidArgumentError
from kerasviz.core.graph import cache, model_input
from kerasviz.core.results import ArrayResult
from kerasviz.core.validate import check_int, check_number
from kerasviz.featurevis.objectives import Objective
from kerasviz.featurevis.render import fit_to_model, input_mapping, render


@dataclass
class Caricature(ArrayResult):
    """Caricatures of images at a layer; behaves as `images`.

    Attributes:
        images: `(N, H, W, 3)` (or `(H, W, 3)` for one image) RGB in [0, 1].
        similarity: `(N,)` (or a float) cosine between the caricature's and the
            photo's activations at the layer.
        scores / initial_scores: `(N,)` the objective on the final and on the
            starting images (1 = the photo's own activation).
        history: `(steps, N)` the objective during optimisation.
        layer: the layer key; `label`: how the model's weights were obtained.
    """

    array_field: ClassVar[str] = "images"
    images: np.ndarray
    similarity: float | np.ndarray
    scores: np.ndarray
    initial_scores: np.ndarray
    history: np.ndarray
    layer: str
    label: str = ""


def _targets_variable(model, key: str, shape: tuple) -> tf.Variable:
    """The per-(model, layer) store of target activations, any number of rows."""
    return cache.get(
        model,
        ("caricature_targets", key, shape),
        lambda: tf.Variable(
            tf.zeros((1,) + shape),
            shape=tf.TensorShape([None] + list(shape)),
            trainable=False,
            name="caricature_targets",
        ),
    )


def caricature_objective(spec, key: str, store: tf.Variable, power: float) -> Objective:
    """`<a, t> / <t, t> * max(0.1, cos(a, t))^power` with t = `store[ids]`, over the whole map."""

    def fn(acts, ids):
        t = tf.gather(store, ids)
        n = tf.shape(ids)[0]
        a = tf.reshape(tf.cast(acts[spec], tf.float32), (n, -1))
        t = tf.reshape(t, (n, -1))
        dot = tf.reduce_sum(a * t, axis=1)
        score = dot / (tf.reduce_sum(t * t, axis=1) + 1e-12)
        if power:
            cos = dot / (tf.norm(a, axis=1) * tf.norm(t, axis=1) + 1e-12)
            score = score * tf.pow(tf.maximum(cos, 0.1), power)
        return score

    return Objective(
        fn, (spec,), ("caricature", key, tuple(store.shape.as_list()[1:]), float(power)), f"caricature at {key}"
    )


def caricature(
    model: keras.Model,
    layer,
    images,
    *,
    steps=None,
    size=None,
    cosine_power: float = 1.0,
    seed: int = 0,
    image_batch_size: int = 8,
    progress: bool = True,
    **render_options,
) -> Caricature:
    """Caricatures: images optimised to maximise an image's own activation pattern at a layer.

    Args:
        model: a Keras image model (never changed).
        layer: the layer whose activation pattern is exaggerated.
        images: one image `(H, W, C)` or a batch, in the model's input space.
        steps: optimisation steps (default 256; lucid uses 512; capped in quick mode).
        size: rendered size (default as `kv.visualize_filters`); models that
            take any input size render at the images' size.
        cosine_power: p in `dot * max(0.1, cos)^p` (default 1; lucid: 0).
        seed: seeds the random start and the transforms.
        image_batch_size: caricatures optimised together per compiled step.
        progress: show a progress bar.
        **render_options: passed to `kv.render`: `param`, `transforms`,
            `regularizers`, `lr`, `octaves`, `octave_scale`, `preprocess`
            (RGB [0, 1] -> model input; default per architecture, as in
            `kv.visualize_filters`), `warmup_steps`.

    Returns:
        `Caricature` with `.images` and `.similarity` (cosine of the
        activations); one image in gives one caricature out.

    Example:
        >>> c = kv.caricature(vgg, "block4_conv1", kv.preprocess(kv.sample_image("cat", 224)))
        >>> plt.imshow(c.images)
    """
    check_model(model)
    spec, key, shape = check_layer(model, layer)
    steps = optional_int(steps, "steps", 1, 256)
    power = check_number(cosine_power, "cosine_power", minimum=0.0)
    seed = check_seed(seed)
    image_batch_size = check_int(image_batch_size, "image_batch_size", minimum=1)
    check_render_options(render_options)
    x, single = check_images(model, images, "images", single=True)
    fixed = tuple(model_input(model).shape[1:3])
    if None in fixed:
        if size is not None and tuple(np.broadcast_to(size, (2,))) != tuple(x.shape[1:3]):
            raise InvalidArgumentError(
                f"`size` {size!r} differs from the images' {tuple(x.shape[1:3])}: model "
                f"{model.name!r} takes any size, so its activations would not match the photo's."
            )
        size = tuple(int(s) for s in x.shape[1:3])
    targets = next(iter(activations(model, x, [spec]).values()))
    if not np.any(targets):
        raise InvalidArgumentError(
            f"`images`: the activations at {key!r} are all zero; there is no pattern to exaggerate."
        )
    store = _targets_variable(model, key, tuple(int(s) for s in shape))
    store.assign(targets)
    result = render(
        model,
        caricature_objective(spec, key, store, power),
        np.arange(len(targets)),
        steps=steps,
        size=size,
        seed=seed,
        progress=progress,
        layer_name=key,
        batch_size=image_batch_size,
        **render_options,
    )
    to_model = input_mapping(model, render_options.get("preprocess"))
    rgb = tf.constant(result.images)  # grey models: the mapping averages the repeated channels back
    final = next(iter(activations(model, to_model(fit_to_model(rgb, fixed)), [spec]).values()))
    a, t = final.reshape(len(final), -1).astype(np.float64), targets.reshape(len(targets), -1).astype(np.float64)
    similarity = np.sum(a * t, 1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(t, axis=1), 1e-12)
    return Caricature(
        images=result.images[0] if single else result.images,
        similarity=float(similarity[0]) if single else similarity.astype(np.float32),
        scores=result.scores,
        initial_scores=result.initial_scores,
        history=result.history,
        layer=key,
        label=result.label,
    )
