"""The one gradient routine: score gradients w.r.t. the input and tapped layers.

`GradientStep` compiles a single `tf.function` per (model variant, taps,
target kind); targets, batch contents and batch size are data, so a notebook
that changes the class or the image never retraces. `score_gradients` runs it
over a batch in chunks so memory stays bounded. The forward-only counterpart
(`ForwardScorer`, `forward_scores`: perturbation methods, completeness checks)
is in `kerasviz.core.forward` and re-exported here.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

from kerasviz._config import progress_bar
from kerasviz.core.errors import UnsupportedModelError
from kerasviz.core.graph import Substitute, cache, is_subclassed, subclassed_message, tap_model
from kerasviz.core.inputs import as_model_batch, batches, chunk_count
from kerasviz.core.layers import LayerSpec
from kerasviz.core.layout import compile_options, is_channels_first
from kerasviz.core.model_inputs import NO_SIDE, SideInputs, TapFeed, explained_index
from kerasviz.core.outputs import OutputSpec, pick_output_spec, resolve_output
from kerasviz.core.targets import Target, flat_outputs, target_errors, target_scores, target_vector


@dataclass
class Gradients:
    """Result of `score_gradients` (numpy arrays on the host).

    Attributes:
        input: `(N, H, W, C)` d score / d input.
        scores: `(N,)` the explained scores (logits for class targets).
        targets: `(N,)` classes used (-1 for callable targets).
        activations: `{layer: (N, ...)}` tapped layer outputs.
        layer_gradients: `{layer: (N, ...)}` d score / d layer output.
    """

    input: np.ndarray
    scores: np.ndarray
    targets: np.ndarray
    activations: dict = field(default_factory=dict)
    layer_gradients: dict = field(default_factory=dict)


def compile_function(fn: Callable, **options):
    """`tf.function(fn, **options)` whose traces are counted on their own.

    TF counts traces per code object, so the one or two expected traces of
    each of many compiled functions (one per model variant, layer, score or
    image size, all made by the same code) add up to its "excessive retracing"
    warning in notebooks. A `functools.partial` has no code object, so each
    compiled function is counted on its own and the warning keeps its meaning.

    Args:
        fn: a bound method, closure or function `(tensors...) -> tensors`.
        **options: `tf.function` options; `reduce_retracing=True` by default
            (unless an `input_signature` is given).

    Returns:
        The compiled function.
    """
    if "input_signature" not in options:
        options.setdefault("reduce_retracing", True)
    return tf.function(functools.partial(fn), **options)


class SubclassedTap:
    """The tap of a subclassed model: `model(x)` only, as `{"__output__": output}`.

    A subclassed model's layers cannot be reached, so only the gradient-only
    methods use it; its outputs are explained as `call()` returns them (a
    softmax inside `call()` cannot be removed: return logits to explain logits).
    Holds the model weakly, so the per-model cache can still drop it.
    """

    def __init__(self, model, output):
        if not model.built:
            raise UnsupportedModelError(
                f"Model {model.name!r} (subclassed) has never been called, so it has no weights yet: there is "
                "nothing trained to explain. Call it once on a batch (model(x)) or load its weights, then explain it."
            )
        self._model = weakref.ref(model)
        self.output = output
        self.channels_first = is_channels_first(model)
        self._counts: dict = {}

    def __call__(self, x, training=False):
        model = self._model()
        if self.channels_first:
            x = tf.transpose(x, (0, 3, 1, 2))
        return {"__output__": pick_output_spec(model(x, training=False), self.output, model)}

    def num_outputs(self, x) -> int:
        """Number of scores per image, from one eager forward pass on one image of `x`'s shape."""
        shape = tuple(x.shape[1:])
        if shape not in self._counts:  # compiled: some layers have no eager CPU kernel (NCHW convolutions)
            with target_errors():
                run = compile_function(self.__call__, **compile_options(self._model()))
                out = run(tf.convert_to_tensor(x[:1], tf.float32))["__output__"]
            self._counts[shape] = int(np.prod(out.shape[1:]))
        return self._counts[shape]


def require_graph(model, technique: str) -> None:
    """Refuse a subclassed model for a technique that needs its layers (the one message)."""
    if is_subclassed(model):
        raise UnsupportedModelError(subclassed_message(model, technique))


class GradientStep:
    """A compiled step `(x, targets, side) -> (scores, classes, d/dx, acts, d/dacts)`.

    Args:
        model: the user's model (unchanged; its graph is rebuilt).
        layers: layers whose outputs and gradients are also returned.
        score: a callable target `score(outputs) -> (N,)`, or None for class
            targets passed at call time.
        score_layer: read scores on this layer's output instead of the model's
            (the graph is cut there): an int target is then a unit index into
            the flattened layer output, a callable gets `(N, h, w, c)`.
        logits: read scores on logits (softmax / sigmoid head removed).
        pre_activation: tap pre-activations of layers with fused activations.
        substitute: extra call substitutions (e.g. guided ReLUs).
        output: index of the explained model output (`outputs.resolve_output`).
        input: index of the explained input of a multi-input model; the
            other inputs are fed at call time (`side`).
    """

    def __init__(
        self,
        model,
        layers: Iterable[LayerSpec] = (),
        *,
        score: Callable | None = None,
        score_layer: LayerSpec | None = None,
        logits: bool = True,
        pre_activation: bool = False,
        substitute: Substitute | None = None,
        output: int = 0,
        input: int = 0,
    ):
        layers = list(layers)
        self.score = score
        if is_subclassed(model):
            if layers or score_layer is not None or substitute is not None or pre_activation:
                raise UnsupportedModelError(subclassed_message(model, "this technique"))
            self.tap, self.keys, self.output_key = SubclassedTap(model, output), [], "__output__"
            self.num_outputs = None
        else:
            self.tap, keys = tap_model(
                model,
                layers + ([score_layer] if score_layer is not None else []),
                pre_activation=pre_activation,
                logits=logits,
                substitute=substitute,
                include_output=score_layer is None,
                output=output,
                input=input,
                side=True,
            )
            self.keys = keys[: len(layers)]
            self.output_key = keys[-1] if score_layer is not None else "__output__"
            scores = self.tap.output[self.output_key].shape[1:]  # None dims: an open-size feature map
            self.num_outputs = int(np.prod(scores)) if all(d is not None for d in scores) else None
        self.feed = TapFeed(self.tap, input)
        self._step = compile_function(self._compute, **compile_options(model))

    def num_outputs_for(self, x) -> int | None:
        """Scores per image for inputs like `x` (the class count, for target checks)."""
        if self.num_outputs is not None or not isinstance(self.tap, SubclassedTap):
            return self.num_outputs  # None for an open-size score output: known only per input size
        return self.tap.num_outputs(x)

    def _compute(self, x, targets, side):
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = self.tap(self.feed.inputs(x, side), training=False)
            acts = [out[k] for k in self.keys]
            scores, classes = target_scores(out[self.output_key], targets, self.score)
        # A tapped layer that does not reach the score (another output's branch) has a zero gradient.
        grads = tape.gradient(scores, [x] + acts, unconnected_gradients=tf.UnconnectedGradients.ZERO)
        return scores, classes, grads[0], acts, grads[1:]

    def __call__(self, x, targets=None, side: SideInputs | None = None):
        """Run on one chunk: `x` float32 `(n, H, W, C)`, `targets` int32 `(n,)`, the other
        inputs' rows `side` (a multi-input model; `SideInputs.take(image_of(rows))`)."""
        values = self.feed.values(side)
        if targets is None:
            targets = tf.fill((tf.shape(x)[0],), -1)
        with target_errors():
            return self._step(tf.convert_to_tensor(x, tf.float32), tf.convert_to_tensor(targets, tf.int32), values)


def gradient_step(
    model,
    layers=(),
    *,
    score=None,
    score_layer=None,
    logits=True,
    pre_activation=False,
    substitute=None,
    key=None,
    output: int = 0,
    input: int = 0,
):
    """A cached `GradientStep` (one trace per model variant; `key` names the variant).

    Steps with a `substitute` are cached only when a `key` identifies it.
    `output` is an index (resolve user specs with `outputs.resolve_output`; for
    a subclassed model the user's spec itself, resolved on its outputs).
    """
    build = lambda: GradientStep(
        model,
        layers,
        score=score,
        score_layer=score_layer,
        logits=logits,
        pre_activation=pre_activation,
        substitute=substitute,
        output=output,
        input=input,
    )
    if substitute is not None and key is None:
        return build()
    cache_key = ("gradient_step", tuple(layers), score, score_layer, logits, pre_activation, key, output, input)
    return cache.get(model, cache_key, build)


def model_outputs(
    model,
    images,
    *,
    logits=True,
    batch_size=64,
    output: OutputSpec = None,
    prepared: bool = False,
    input=None,
    side: SideInputs | None = None,
) -> np.ndarray:
    """The model's outputs `(N, K)` (logits by default) for a batch (the other inputs of a
    multi-input model in `images`, or in `side` for a prepared batch)."""
    batch = as_model_batch(images, model, prepared=prepared, input=input)
    x, side, index = (
        batch.x,
        side if prepared else batch.side,
        batch.index if not prepared else explained_input_index(input, model),
    )
    side = side if side is not None else NO_SIDE
    if logits:
        from kerasviz.core.forward import forward_scorer  # forward builds on this module

        scorer = forward_scorer(model, output=resolve_output(model, output), input=index)
        return np.concatenate([scorer.outputs(x[s], side[s]).numpy() for s in batches(len(x), batch_size)])
    step = gradient_step(model, logits=False, output=resolve_output(model, output), input=index)
    run = cache.get(
        model,
        ("model_outputs", resolve_output(model, output), index),
        lambda: compile_function(
            lambda t, v: flat_outputs(step.tap(step.feed.inputs(t, v), training=False)["__output__"]),
            **compile_options(model),
        ),
    )
    return np.concatenate([run(x[s], step.feed.values(side[s])).numpy() for s in batches(len(x), batch_size)])


def explained_input_index(input, model) -> int:
    """The explained input's index for a prepared batch (`input` given as an index or name)."""
    return 0 if is_subclassed(model) else explained_index(model, input)


def score_gradients(
    model,
    images,
    target: Target = None,
    *,
    layers: Iterable[LayerSpec] = (),
    score_layer: LayerSpec | None = None,
    logits: bool = True,
    pre_activation: bool = False,
    substitute: Substitute | None = None,
    substitute_key=None,
    batch_size: int = 32,
    progress: bool = False,
    output: OutputSpec = None,
    prepared: bool = False,
    input=None,
    side: SideInputs | None = None,
) -> Gradients:
    """Gradients of one score per image w.r.t. the input and tapped layers.

    Args:
        model: a Keras model (never changed).
        images: `(N, H, W, C)` or `(H, W, C)` in the model's input space (for
            a multi-input model also a list / dict of every input).
        target: None (predicted class), int, list of ints, or a callable
            `score(outputs) -> (N,)`.
        layers: layers whose activations and gradients to return as well.
        score_layer: score a unit of this layer instead of the model output
            (int target = index into the flattened layer output; a callable
            gets the layer's `(N, h, w, c)` output).
        logits: explain logits rather than softmax probabilities.
        pre_activation: tap pre-activations of fused-activation layers.
        substitute: call substitutions for a model variant (see `graph.rebuild`).
        substitute_key: a hashable name of that variant, for caching.
        batch_size: images per compiled call (bounds memory).
        progress: show a progress bar over chunks.
        output: which output of a multi-output model (index or name).
        prepared: `images` is a batch `inputs.as_model_batch` returned.
        input: the explained input of a multi-input model (index or name).
        side: with `prepared`, the other inputs' rows (`SideInputs`).

    Returns:
        `Gradients` with numpy arrays (channels last, see `core.layout`);
        `input` is the gradient w.r.t. the explained input.

    Example:
        >>> g = score_gradients(model, images, target=3)
        >>> g.input.shape == images.shape
    """
    score = target if callable(target) else None
    batch = as_model_batch(images, model, prepared=prepared, input=input)
    index = explained_input_index(input, model) if prepared else batch.index
    side = (side if side is not None else NO_SIDE) if prepared else batch.side
    step = gradient_step(
        model,
        tuple(layers),
        score=score,
        score_layer=score_layer,
        logits=logits,
        pre_activation=pre_activation,
        substitute=substitute,
        key=substitute_key,
        output=resolve_output(model, output) if score_layer is None else 0,
        input=index,
    )
    x = batch.x
    targets = target_vector(None if score else target, len(x), step.num_outputs_for(x), allow_predicted=True)
    parts = []
    with progress_bar(chunk_count(len(x), batch_size), "gradients", progress) as bar:
        for s in batches(len(x), batch_size):
            parts.append(
                [t.numpy() if hasattr(t, "numpy") else [a.numpy() for a in t] for t in step(x[s], targets[s], side[s])]
            )
            bar.update(1)
    joined = lambda i: np.concatenate([p[i] for p in parts])
    acts = {k: np.concatenate([p[3][j] for p in parts]) for j, k in enumerate(step.keys)}
    grads = {k: np.concatenate([p[4][j] for p in parts]) for j, k in enumerate(step.keys)}
    return Gradients(input=joined(2), scores=joined(0), targets=joined(1), activations=acts, layer_gradients=grads)


_FORWARD = ("ForwardScorer", "forward_scorer", "forward_scores")


def __getattr__(name: str):
    """The forward-only names, importable from here as before (they live in `kerasviz.core.forward`)."""
    if name in _FORWARD:
        from kerasviz.core import forward

        return getattr(forward, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
