"""Forward-only scoring: target scores without gradients, through one compiled call per chunk.

`ForwardScorer` shares the rebuilt (logits) graph of the model's plain
`GradientStep` (`kerasviz.core.gradients`); perturbation methods (occlusion,
RISE, Score-CAM) and completeness checks read scores through `forward_scores`.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from kerasviz.core.gradients import compile_function, explained_input_index, gradient_step
from kerasviz.core.graph import cache
from kerasviz.core.inputs import as_model_batch, batches
from kerasviz.core.layout import compile_options
from kerasviz.core.model_inputs import NO_SIDE, SideInputs
from kerasviz.core.outputs import OutputSpec, resolve_output
from kerasviz.core.targets import Target, flat_outputs, target_errors, target_scores, target_vector


class ForwardScorer:
    """A compiled forward-only step `(x, targets, side) -> (scores, classes)`.

    Shares the rebuilt (logits) graph of the model's plain `GradientStep`.

    Args:
        model: the user's model (unchanged).
        score: a callable target `score(outputs) -> (N,)`, or None for class
            targets passed at call time (-1: the argmax).
        probabilities: read class scores on softmax (sigmoid for one output)
            of the logits.
        output: index of the explained model output.
        input: index of the explained input (other inputs fed as `side`).
    """

    def __init__(
        self,
        model,
        score: Callable | None = None,
        *,
        probabilities: bool = False,
        output: int = 0,
        input: int = 0,
    ):
        step = gradient_step(model, score=score, output=output, input=input)
        self.tap, self.num_outputs, self.num_outputs_for = step.tap, step.num_outputs, step.num_outputs_for
        self.feed = step.feed
        self._model_ref = weakref.ref(model)
        self.score, self.probabilities = score, probabilities
        self._run = compile_function(self._compute, **compile_options(model))

    def _compute(self, x, targets, side):
        outputs = self.tap(self.feed.inputs(x, side), training=False)["__output__"]
        return target_scores(outputs, targets, self.score, probabilities=self.probabilities)

    def _flat(self, x, side):
        return flat_outputs(self.tap(self.feed.inputs(x, side), training=False)["__output__"])

    def outputs(self, x, side: SideInputs | None = None):
        """The explained output `(n, K)` float32 for one chunk (logits for a probability head)."""
        if not hasattr(self, "_outputs"):
            self._outputs = compile_function(self._flat, **compile_options(self._model_ref()))
        return self._outputs(tf.convert_to_tensor(x, tf.float32), self.feed.values(side))

    def __call__(self, x, targets=None, side: SideInputs | None = None):
        """Run on one chunk: `x` float32 `(n, H, W, C)`, `targets` int32 `(n,)`, the other inputs' rows `side`."""
        values = self.feed.values(side)
        if targets is None:
            targets = tf.fill((tf.shape(x)[0],), -1)
        with target_errors():
            return self._run(tf.convert_to_tensor(x, tf.float32), tf.convert_to_tensor(targets, tf.int32), values)


def forward_scorer(
    model,
    score: Callable | None = None,
    *,
    probabilities: bool = False,
    output: int = 0,
    input: int = 0,
) -> ForwardScorer:
    """The cached `ForwardScorer` of a model (one trace per score kind, output and input index)."""
    return cache.get(
        model,
        ("forward_scorer", score, probabilities, output, input),
        lambda: ForwardScorer(model, score, probabilities=probabilities, output=output, input=input),
    )


def forward_scores(
    model,
    images,
    target: Target = None,
    *,
    probabilities: bool = False,
    batch_size: int = 64,
    output: OutputSpec = None,
    prepared: bool = False,
    input=None,
    side: SideInputs | None = None,
):
    """Target scores without gradients, in chunks through one compiled call.

    Args:
        model: a Keras model (never changed).
        images: `(N, H, W, C)` or `(H, W, C)` in the model's input space (for
            a multi-input model also a list / dict of every input, see
            `core.model_inputs`).
        target: None (predicted class), an int, ints (-1 entries: predicted
            class), or a callable `score(outputs) -> (N,)`.
        probabilities: softmax (sigmoid for one output) of the logits.
        batch_size: images per compiled call.
        output: which output of a multi-output model (index or name).
        prepared: `images` is a batch `inputs.as_model_batch` returned.
        input: the explained input of a multi-input model (index or name).
        side: with `prepared`, the other inputs' rows (`SideInputs`).

    Returns:
        `(scores, classes)`, numpy `(N,)` each (classes -1 for a callable).

    Example:
        >>> logits, predicted = forward_scores(model, images)
    """
    score = target if callable(target) else None
    batch = as_model_batch(images, model, prepared=prepared, input=input)
    index = explained_input_index(input, model) if prepared else batch.index
    side = (side if side is not None else NO_SIDE) if prepared else batch.side
    scorer = forward_scorer(
        model, score, probabilities=probabilities, output=resolve_output(model, output), input=index
    )
    x = batch.x
    targets = target_vector(None if score else target, len(x), scorer.num_outputs_for(x), allow_predicted=True)
    parts = [scorer(x[s], targets[s], side[s]) for s in batches(len(x), batch_size)]
    return tuple(np.concatenate([p[i].numpy() for p in parts]) for i in (0, 1))
