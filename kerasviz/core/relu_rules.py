"""ReLUs with another backward rule, as call substitutes for `graph.rebuild`.

Guided backpropagation (Springenberg et al. 2014) passes a gradient through a
ReLU only where the forward input was positive AND the incoming gradient is
positive; the deconvnet (Zeiler & Fergus 2014) rectifies the backward signal
and ignores the forward input. Both change only the backward pass, on a rebuilt
graph, so the user's model and its forward outputs stay as they are.

Covered: `keras.layers.ReLU` (plain), `Activation("relu")`, and layers with a
fused `activation="relu"` (VGG16's convs), which are split into their
pre-activation and a rule ReLU.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from kerasviz.core.errors import InvalidArgumentError
from kerasviz.core.graph import Substitute
from kerasviz.core.layer_calls import PreActivation, activation_name, explain_dtype


@tf.custom_gradient
def _guided_relu(x):
    def grad(dy):
        return dy * tf.cast(x > 0, dy.dtype) * tf.cast(dy > 0, dy.dtype)

    return tf.nn.relu(x), grad


@tf.custom_gradient
def _deconvnet_relu(x):
    def grad(dy):
        return tf.nn.relu(dy)

    return tf.nn.relu(x), grad


RULES = {"guided": _guided_relu, "deconvnet": _deconvnet_relu}


class RuleReLU(keras.layers.Layer):
    """A ReLU whose backward pass follows `rule` ("guided" or "deconvnet")."""

    def __init__(self, rule: str, **kwargs):
        super().__init__(**kwargs)
        if rule not in RULES:
            raise InvalidArgumentError(f"Unknown ReLU rule {rule!r}; choose from {sorted(RULES)}.")
        self.rule = rule

    def call(self, x):
        return RULES[self.rule](x)


def _is_plain_relu_layer(layer) -> bool:
    if isinstance(layer, keras.layers.ReLU):
        cfg = layer.get_config()
        return cfg.get("max_value") is None and not cfg.get("negative_slope") and not cfg.get("threshold")
    return isinstance(layer, keras.layers.Activation) and activation_name(layer.activation) == "relu"


def relu_rule_substitute(rule: str) -> Substitute:
    """A `rebuild` substitute giving every ReLU the backward `rule`.

    Example:
        >>> step = gradient_step(model, substitute=relu_rule_substitute("guided"), key="guided")
    """
    if rule not in RULES:
        raise InvalidArgumentError(f"Unknown ReLU rule {rule!r}; choose from {sorted(RULES)}.")

    def substitute(layer, path):
        if _is_plain_relu_layer(layer):
            return RuleReLU(rule, dtype=explain_dtype(layer))  # float32 also under a mixed policy
        if activation_name(getattr(layer, "activation", None) or (lambda: 0)) == "relu" and not isinstance(
            layer, (keras.layers.Activation, keras.layers.ReLU)
        ):
            pre, relu = PreActivation(layer), RuleReLU(rule, dtype=explain_dtype(layer))
            return lambda *args, **kwargs: relu(pre(*args, **kwargs))
        return None

    return substitute
