"""Probes: the model as an objective sees it, `read(x, warm, ids) -> (activations, ids)`.

A probe taps the layers an objective reads (and the logits, for class
objectives) on a rebuilt graph of the user's model, in the requested compute
precision (`kerasviz.core.precision`), and hands float32 activations to the
objective. With `warm` True, layers with a fused activation report their
pre-activation: a filter that starts negative everywhere behind a fused ReLU
has zero gradient and would never move.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import tensorflow as tf

from kerasviz.core.gradients import compile_function
from kerasviz.core.graph import has_fused_activation, tap_model
from kerasviz.core.layers import find_layer
from kerasviz.core.layout import compile_options
from kerasviz.core.precision import compute_variant, to_float32, variant_layer
from kerasviz.featurevis import objectives as obj
from kerasviz.featurevis.unit_conv import unit_conv_probe


class Probe:
    """The tapped model for an objective: `probe(x, warm) -> {spec: activation, OUTPUT: logits}` (float32).

    Args:
        model: the user's model (unchanged).
        layers: the layer specs the objective reads (`objectives.OUTPUT` for logits).
        dtype: compute precision of the model, "float32" or "bfloat16".
        output: index of the model output read as logits.
    """

    def __init__(self, model: keras.Model, layers: Sequence, dtype: str = "float32", output: int = 0):
        variant = compute_variant(model, dtype)
        specs = [s for s in layers if s != obj.OUTPUT]
        found = [find_layer(model, s) for s in specs]
        self.pre = bool(found) and all(has_fused_activation(l) for l in found)
        inner = [variant_layer(model, variant, s) for s in specs]
        self.tap, keys = tap_model(
            variant, inner, pre_activation=self.pre, include_output=obj.OUTPUT in layers, output=output
        )
        self.entries = [(s, k, l.activation if self.pre else None) for s, k, l in zip(specs, keys, found)]
        # A channels-first model on a CPU runs its layers through XLA (no NCHW kernels without oneDNN); only the
        # model call, as the image transforms around it have no XLA kernels.
        options = compile_options(model)
        self._tap = compile_function(self._call_tap, **options) if options else self._call_tap

    def _call_tap(self, x):
        return self.tap(x, training=False)

    def read(self, x, warm, ids):
        """`(acts, ids)`: the activations and the unit ids the objective should use with them."""
        return self(x, warm), ids

    def __call__(self, x, warm):
        out = to_float32(self._tap(x))
        acts = {obj.OUTPUT: out[obj.OUTPUT]} if obj.OUTPUT in out else {}
        for spec, key, activation in self.entries:
            value = out[key]
            acts[spec] = value if activation is None else tf.where(warm, value, activation(value))
        return acts


def make_probe(
    model: keras.Model, objective: obj.Objective, dtype: str = "float32", *, unit_slicing: bool = True, output: int = 0
):
    """The cheapest exact probe for `objective`: one filter per image when it allows it (`unit_conv`), else `Probe`."""
    if unit_slicing:
        sliced = unit_conv_probe(model, objective, dtype)
        if sliced is not None:
            return sliced
    return Probe(model, objective.layers, dtype, output=output)
