"""The compiled optimisation loop shared by `visualize_filters`, `visualize_classes` and `render_objective`.

One `tf.function` step optimises a whole batch: each element has its own unit
(filter or class, passed as data in `ids`), its own seed and its own Adam
moments, so the batch is N independent optimisations sharing one forward and
backward pass. Inside the step: parameterization -> RGB in (0, 1) -> random
warp -> resize to the model's input size -> the model's preprocessing ->
probe (tapped activations, in the compute precision, returned as float32) ->
objective - penalties -> gradient -> Adam ascent. Steps run in a graph
while-loop, `steps_per_call` per call, with the score history kept on the
device: the host wakes only to move the progress bar or hand a snapshot to a
callback.

For the first `warmup_steps` the objective reads pre-activations of fused
ReLUs (whose gradient is never blocked), afterwards the real values. Scores
reported to the user are measured in float32 on the final image, whatever the
compute precision.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from kerasviz.core.gradients import compile_function
from kerasviz.featurevis import objectives as obj
from kerasviz.featurevis.inputs import Preprocessing, fit_to_model, input_mapping, model_hw
from kerasviz.featurevis.optim import adam_update
from kerasviz.featurevis.param import Parameterization
from kerasviz.featurevis.probe import make_probe
from kerasviz.featurevis.transforms import apply_transforms

# (images (b, H, W, 3) float32, last scores (b,), steps done) -> None
StepHook = Callable[[np.ndarray, np.ndarray, int], None]


def octave_plan(size: tuple, steps: int, octaves: int, octave_scale: float) -> list:
    """`[((height, width), steps), ...]` from the smallest octave to `size`; steps split as evenly as possible."""
    sizes = [tuple(max(8, int(round(s / octave_scale**k))) for s in size) for k in reversed(range(octaves))]
    counts = [steps // octaves + (1 if k < steps % octaves else 0) for k in range(octaves)]
    return list(zip(sizes, counts))


class Renderer:
    """Compiled steps for one (model, objective, parameterization, transforms, penalties, precision) setup.

    Sizes and batch sizes are arguments, so one renderer serves every call
    on the same setup (cached per model).

    Args:
        model: the user's model (unchanged).
        objective: what to maximise.
        param: the image parameterization.
        transforms, regularizers: lists of `Transform` and `Regularizer`.
        preprocessing: RGB [0, 1] -> model input (see `inputs.input_mapping`).
        lr: Adam learning rate.
        warmup_steps: steps that read pre-activations of fused ReLUs.
        unit_slicing: compute only each image's own filter where exact (`unit_conv`).
        dtype: compute precision of the model, "float32" or "bfloat16".
        output: index of the model output read as logits.
    """

    def __init__(
        self,
        model,
        objective: obj.Objective,
        param: Parameterization,
        transforms,
        regularizers,
        preprocessing: Preprocessing,
        lr: float,
        warmup_steps: int,
        unit_slicing: bool = True,
        dtype: str = "float32",
        output: int = 0,
    ):
        self.objective, self.param, self.transforms = objective, param, list(transforms)
        self.regularizers, self.lr, self.warmup = list(regularizers), float(lr), int(warmup_steps)
        self.dtype = dtype
        self.probe = make_probe(model, objective, dtype, unit_slicing=unit_slicing, output=output)
        # Scores returned to the user are measured in float32, on the same kind of probe.
        self.exact = (
            self.probe
            if dtype == "float32"
            else make_probe(model, objective, "float32", unit_slicing=unit_slicing, output=output)
        )
        self.to_space = input_mapping(model, preprocessing)
        self.model_hw = model_hw(model)
        self._compiled: dict = {}

    def _compiled_for(self, name: str, height: int, width: int, args):
        """One trace per (function, size): sizes are static for the FFT; the batch axis is left open."""
        key = (name, height, width)
        if key not in self._compiled:
            fn = getattr(self, "_" + name)
            signature = [tf.TensorSpec((None,) + tuple(a.shape[1:]) if a.shape.rank else (), a.dtype) for a in args]
            self._compiled[key] = compile_function(
                functools.partial(fn, height=height, width=width), input_signature=signature
            )
        return self._compiled[key]

    def steps(self, raw, m, v, t, step, count, ids, seeds, height, width):
        """`count` optimisation steps in one compiled call; returns new (raw, m, v) and the scores `(count, B)`."""
        args = (raw, m, v, t, step, count, ids, seeds)
        return self._compiled_for("steps", height, width, args)(*args)

    def evaluate(self, raw, ids, height, width):
        """`(rgb, scores)`: the images and their float32 objective, without transforms."""
        return self._compiled_for("evaluate", height, width, (raw, ids))(raw, ids)

    def model_input(self, rgb):
        return self.to_space(fit_to_model(rgb, self.model_hw))

    def _score(self, probe, rgb, ids, warm):
        return self.objective(*probe.read(self.model_input(rgb), warm, ids))

    def _step(self, raw, m, v, t, step, ids, seeds, height, width):
        with tf.GradientTape() as tape:
            tape.watch(raw)
            rgb = self.param.rgb(raw, height, width)
            warped = apply_transforms(rgb, self.transforms, seeds, step)
            score = self._score(self.probe, warped, ids, step < self.warmup)
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
        return rgb, self._score(self.exact, rgb, ids, tf.constant(False))

    def run(
        self,
        ids,
        seeds,
        size,
        steps,
        octaves=1,
        octave_scale=1.4,
        bar=None,
        steps_per_call=16,
        on_steps: StepHook | None = None,
    ):
        """Optimise one batch; returns (rgb (n, H, W, 3), final scores, initial scores, history (steps, n)).

        Steps run `steps_per_call` at a time inside one compiled loop; between
        calls the host moves `bar` and calls `on_steps(images, scores, step)`.
        """
        ids, seeds = tf.constant(ids, tf.int32), tf.constant(seeds, tf.int32)
        raw, history, step, previous = None, [], 0, None
        for (height, width), count in octave_plan(size, steps, octaves, octave_scale):
            if raw is None:
                raw = self.param.init(seeds.numpy(), height, width)
                initial = self.evaluate(raw, ids, height, width)[1].numpy()
            else:  # next octave: upscale the image and continue from its encoding
                rgb = self.param.rgb(raw, *previous)
                raw = self.param.encode(tf.clip_by_value(tf.image.resize(rgb, (height, width), method="bicubic"), 0, 1))
            m, v = tf.zeros_like(raw), tf.zeros_like(raw)
            for start in range(0, count, steps_per_call):
                n = min(steps_per_call, count - start)
                raw, m, v, scores = self.steps(
                    raw, m, v, tf.constant(start + 1.0), tf.constant(step), tf.constant(n), ids, seeds, height, width
                )
                history.append(scores)
                step += n
                if bar is not None:
                    bar.update(n)
                if on_steps is not None:
                    on_steps(self.param.rgb(raw, height, width).numpy(), scores[-1].numpy(), step)
            previous = (height, width)
        rgb, final = self.evaluate(raw, ids, *previous)
        history = np.concatenate([h.numpy() for h in history]) if history else np.zeros((0, len(ids)), np.float32)
        return rgb.numpy(), final.numpy(), initial, history
