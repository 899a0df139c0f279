"""Helpers for the LRP tests: graph cuts, conservation checks, bias-free calibrated models."""

from __future__ import annotations

import keras
import numpy as np

from kerasviz.lrp.graph import trace


def cuts(model, output: int = 0) -> set:
    """Layer paths whose output every relevance-carrying path from the input to the output crosses.

    Relevance is conserved exactly across such a cut (bias-free layers, ε → 0). A
    gate operand carries no relevance, so the gate's edge does not count.
    """
    graph = trace(model)
    calls = graph.calls
    producer = {id(t): c for c in calls for t in c.outputs}
    consumers: dict = {}
    for c in calls:
        gate = graph.gates.get(c.path)
        for i, t in enumerate(c.inputs):
            if i != gate:
                consumers.setdefault(id(t), []).append(c)
    out = graph.outputs[output]
    start = [t for c in calls for t in c.inputs if id(t) not in producer]

    def reaches_output_without(skip) -> bool:
        seen, stack = set(), list(start)
        while stack:
            t = stack.pop()
            if t is out:
                return True
            if id(t) in seen or t is skip:
                continue
            seen.add(id(t))
            for c in consumers.get(id(t), []):
                stack.extend(c.outputs)
        return False

    return {
        c.path
        for c in calls
        if len(c.outputs) == 1 and c.outputs[0] is not out and not reaches_output_without(c.outputs[0])
    }


def assert_conserves(result, paths, rtol: float) -> int:
    """Relevance summed at the input and at every layer in `paths` equals the explained logit."""
    totals = result.totals()
    checked = [p for p in totals if p == "input" or p in paths]
    assert len(checked) > 1, "no cut layer among the reported layers"
    for path in checked:
        error = np.abs(totals[path] - result.scores) / np.abs(result.scores)
        assert error.max() < rtol, f"{path}: relative conservation error {error.max():.2e}"
    return len(checked)


def calibrate_and_remove_biases(model, images) -> None:
    """Give an untrained model unit-scale activations, then make every layer bias-free.

    BatchNorm moving variances are set to the batch variance of `images`
    (batch statistics, so a 1x1 feature map still has a variance), then every
    bias, BN shift and mean, LayerNorm β and Normalization mean is set to 0.
    """
    bns = [layer for layer in model._flatten_layers() if isinstance(layer, keras.layers.BatchNormalization)]
    momenta = [bn.momentum for bn in bns]
    for bn in bns:
        bn.momentum = 0.0
    model(images, training=True)
    for bn, momentum in zip(bns, momenta):
        bn.momentum = momentum
    for layer in model._flatten_layers():
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.moving_mean.assign(np.zeros(layer.moving_mean.shape))
            if layer.center:
                layer.beta.assign(np.zeros(layer.beta.shape))
        elif isinstance(layer, keras.layers.LayerNormalization):
            if layer.center:
                layer.beta.assign(np.zeros(layer.beta.shape))
        elif isinstance(layer, keras.layers.Normalization):
            if hasattr(layer, "adapt_mean"):
                layer.adapt_mean.assign(np.zeros(layer.adapt_mean.shape))
                layer.finalize_state()
            else:
                layer.mean = keras.ops.zeros_like(layer.mean)
        elif getattr(layer, "use_bias", False) and getattr(layer, "bias", None) is not None:
            layer.bias.assign(np.zeros(layer.bias.shape))
