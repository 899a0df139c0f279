"""RISE: randomized input sampling for explanation (Petsiuk, Das & Saenko 2018).

The saliency of pixel p is the expected score of the image seen through a
random mask, given that p is visible:

    S(p) = E_M[f(x * M + (1 - M) * b) M(p)] / E[M(p)],

estimated with `samples` smooth random masks. Only `model(x)` is used (no
gradient), so it works on any model. Each mask is a Bernoulli(p) grid of
`(grid_size + 1)^2` cells of `ceil(H / grid_size)` pixels, upsampled
bilinearly and shifted by a random offset inside one cell, one offset per
mask. Mask k comes from the stateless seed `(seed, k)`: every image of a batch
sees the same masks (a batch gives the same maps as one image at a time) and
the same seed gives the same map.

Conventions: the reference code (Petsiuk et al.) stretches a `grid_size^2`
grid to `(grid_size + 1) * cell` pixels, so its cells are `1 + 1/grid_size`
times larger; here cells are exactly `cell` pixels, so `grid_size` equal to
the image side gives independent pixel masks (where the expectation has a
closed form for a linear model: `f(b) + p sum w(x - b) + (1 - p) w(x - b)`).
Scores are logits by default (the paper explains softmax probabilities:
`probabilities=True`). The sum is divided by `samples * p` (the reference
code) or, with `normalization="observed"`, by each pixel's own mask count
(xplique).

With `precision="bfloat16"` (or "auto" on hardware that runs it natively) the
masked copies run through the model's bfloat16 variant
(`kerasviz.core.precision.perturbation_variant`), whose classifier head stays
float32; masks, scores and the weighted sum are float32 (the sum over chunks
float64).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from kerasviz._config import max_steps, progress_bar
from kerasviz.attribution.support import (
    check_batch_size,
    check_seed,
    clean_scores,
    fill_images,
    finish,
    prepare,
)
from kerasviz.core.errors import InvalidArgumentError
from kerasviz.core.gradients import compile_function, forward_scorer
from kerasviz.core.graph import cache
from kerasviz.core.inputs import batches
from kerasviz.core.model_inputs import InputSpec
from kerasviz.core.outputs import OutputSpec
from kerasviz.core.precision import check_precision, perturbation_variant, to_float32
from kerasviz.core.targets import Target, target_scores
from kerasviz.core.validate import check_choice, check_int, check_number

DEFAULT_SAMPLES = 4000


@tf.function(reduce_retracing=True)
def _masks(mask_ids, height, width, grid_size, keep_probability, seed):
    cell_h = (height + grid_size - 1) // grid_size
    cell_w = (width + grid_size - 1) // grid_size
    cells = grid_size + 1

    def draw(k):
        return tf.random.stateless_uniform((cells * cells + 2,), seed=tf.stack([seed, k]))

    uniform = tf.map_fn(draw, mask_ids, fn_output_signature=tf.float32)
    grids = tf.cast(uniform[:, : cells * cells] < keep_probability, tf.float32)
    grids = tf.reshape(grids, (-1, cells, cells, 1))
    up = tf.image.resize(grids, tf.stack([cells * cell_h, cells * cell_w]), method="bilinear")[..., 0]
    dy = tf.cast(tf.floor(uniform[:, -2] * tf.cast(cell_h, tf.float32)), tf.int32)
    dx = tf.cast(tf.floor(uniform[:, -1] * tf.cast(cell_w, tf.float32)), tf.int32)
    rows = dy[:, None] + tf.range(height)[None]
    cols = dx[:, None] + tf.range(width)[None]
    up = tf.gather(up, rows, axis=1, batch_dims=1)
    return tf.gather(up, cols, axis=2, batch_dims=1)


def rise_masks(
    count: int, size, *, grid_size: int = 7, keep_probability: float = 0.5, seed: int = 0, start: int = 0
) -> np.ndarray:
    """The masks `rise` uses: `(count, H, W)` float32 in [0, 1], masks `start..start+count-1`.

    Example:
        >>> m = rise_masks(8, (224, 224), grid_size=7)
    """
    h, w = size
    return _masks(
        tf.range(start, start + count), h, w, grid_size, tf.constant(keep_probability, tf.float32), seed
    ).numpy()


class RiseStep:
    """One compiled chunk: masks from their ids, masked rows, scores, and
    `sum_rows f * M` per image (`(N, H, W)`)."""

    def __init__(self, model, score, probabilities, output, input=0):
        scorer = forward_scorer(model, score, probabilities=probabilities, output=output, input=input)
        self.tap, self.feed = scorer.tap, scorer.feed
        self.score, self.probabilities = score, probabilities
        self._run = compile_function(self._compute)

    def _compute(self, x, fill, image_ids, mask_ids, classes, grid_size, keep_probability, seed, side=()):
        masks = _masks(mask_ids, tf.shape(x)[1], tf.shape(x)[2], grid_size, keep_probability, seed)
        m = masks[..., None]
        rows = tf.gather(x, image_ids) * m + tf.gather(fill, image_ids) * (1.0 - m)
        side = tuple(tf.gather(v, image_ids) for v in side)  # each masked copy keeps its image's other inputs
        outputs = to_float32(self.tap(self.feed.inputs(rows, side), training=False)["__output__"])
        scores, _ = target_scores(outputs, classes, self.score, probabilities=self.probabilities)
        weighted = scores[:, None, None] * masks
        return tf.math.unsorted_segment_sum(weighted, image_ids, tf.shape(x)[0]), tf.reduce_sum(masks, 0)

    def __call__(self, *args):
        return self._run(*args)


def rise(
    model: keras.Model,
    images,
    target: Target = None,
    *,
    output: OutputSpec = None,
    input: InputSpec = None,
    samples: int | None = None,
    grid_size: int = 7,
    keep_probability: float = 0.5,
    baseline: float | str | np.ndarray = 0.0,
    probabilities: bool = False,
    normalization: str = "expected",
    seed: int = 0,
    mask_batch_size: int = 32,
    precision: str = "auto",
    progress: bool = True,
) -> np.ndarray:
    """RISE saliency: the average score of randomly masked copies, weighted by each mask.

    Args:
        model: any Keras image model (only its outputs are read; never changed).
        images: `(H, W, C)` or `(N, H, W, C)` in the model's input space.
        target: None (class predicted on the clean image), an int, a list of
            ints (-1: predicted), or a callable `score(outputs) -> (N,)`.
        output: which output of a multi-output model (index or name).
        input: which input of a multi-input model is explained (index or name;
            default the image input); the others, given in `images`, are held fixed.
        samples: number of masks (default 4000 as xplique; capped in quick
            mode when not given).
        grid_size: cells per side of the random grid (7: cells of ~H/7 px).
        keep_probability: probability that a cell is visible (paper's p1).
        baseline: what hidden pixels become: a number (0: black for [0, 1]
            images, the mean colour for caffe-preprocessed ones), "mean",
            "blur", or an array.
        probabilities: explain softmax probabilities instead of logits.
        normalization: "expected" (divide by `samples * keep_probability`) or
            "observed" (by how often each pixel was visible).
        seed: mask seed; the same seed gives the same map.
        mask_batch_size: masked images per compiled call (bounds memory).
        precision: compute precision of the masked passes: "auto" (bfloat16
            where this machine runs it natively, see
            `kerasviz.core.precision.bfloat16_support`, else float32),
            "float32" or "bfloat16". The clean pass (which resolves the
            predicted class), the classifier head, masks and sums stay float32.
        progress: show a progress bar.

    Returns:
        `(N, H, W)` float32 (`(H, W)` for one image), in score units.

    Example:
        >>> sal = kv.rise(model, x, samples=4000, grid_size=7)
    """
    samples = max_steps(DEFAULT_SAMPLES, quick=64) if samples is None else check_int(samples, "samples", minimum=1)
    grid_size = check_int(grid_size, "grid_size", minimum=1)
    keep_probability = check_number(keep_probability, "keep_probability", minimum=0.0, maximum=1.0, strict_minimum=True)
    normalization = check_choice(normalization, "normalization", ("expected", "observed"))
    seed = check_seed(seed)
    mask_batch_size = check_batch_size(mask_batch_size, "mask_batch_size")
    precision = check_precision(precision)
    p = prepare(model, images, target, output, input)
    x, single, targets, out = p
    n, h, w = x.shape[:3]
    if grid_size > max(h, w):
        raise InvalidArgumentError(f"`grid_size` {grid_size} exceeds the image side ({h}x{w}); cells would be empty.")
    fill = fill_images(x, baseline)
    dtype, scoring = perturbation_variant(model, precision)
    callable_target = callable(targets)
    if not callable_target:
        _, targets = clean_scores(model, x, targets, out, probabilities=probabilities, side=p.side, input=p.input)
    score = targets if callable_target else None
    step = cache.get(
        model,
        ("rise_step", score, bool(probabilities), out, p.input, dtype),
        lambda: RiseStep(scoring, score, probabilities, out, p.input),
    )
    side = step.feed.values(p.side)
    image_ids = np.repeat(np.arange(n), samples).astype(np.int32)
    mask_ids = np.tile(np.arange(samples), n).astype(np.int32)
    classes = np.full(n, -1, np.int32) if callable_target else targets
    total = np.zeros((n, h, w), np.float64)
    visible = np.zeros((h, w), np.float64)
    params = (tf.constant(grid_size), tf.constant(keep_probability, tf.float32), tf.constant(seed))
    chunks = list(batches(len(image_ids), mask_batch_size))
    with progress_bar(len(chunks), "rise", progress and len(chunks) > 1) as bar:
        for s in chunks:
            ids = image_ids[s]
            part, mask_sum = step(
                x, fill, tf.constant(ids), tf.constant(mask_ids[s]), tf.constant(classes[ids]), *params, side
            )
            total += part.numpy()
            if normalization == "observed":  # every image sees each mask once: count image 0's
                visible += mask_sum.numpy() if n == 1 else _first_image_masks(ids, mask_ids[s], h, w, *params)
            bar.update(1)
    if normalization == "expected":
        total /= samples * keep_probability
    else:
        total /= np.maximum(visible, 1e-4)
    return finish(total, single)


def _first_image_masks(ids, mask_ids, h, w, grid_size, keep_probability, seed) -> np.ndarray:
    chosen = mask_ids[ids == 0]
    if len(chosen) == 0:
        return np.zeros((h, w))
    return _masks(tf.constant(chosen), h, w, grid_size, keep_probability, seed).numpy().sum(0)
