"""Composites: which rule each weighted layer uses.

Montavon et al. (2019) recommend LRP-0 / small ε for the upper (dense)
layers, ε for the middle layers, γ for the lower layers and z^B at the pixels
(zennit's `EpsilonGammaBox`). A `Composite` states that split; named presets
cover the keras.applications families, and a single rule name ("epsilon",
"gamma", ...) is the composite that uses that rule everywhere.

Every family preset is that recipe: z^B at the layer reading the pixels,
generalised γ = 0.25 on the lower half of the convolutions (depthwise,
pointwise and separable ones included, and Dense layers applied to feature
maps as in ConvNeXt), ε = 0.25·RMS(z) on the upper half, ε = 1e-6 on the
dense head. What differs is the pixel range for z^B, which must be the range
of what the model is fed:

| preset | models | z^B bounds |
|---|---|---|
| "vgg", "resnet" | VGG16/19, ResNet50 (caffe preprocessing) | 0 and 255 minus the ImageNet mean, BGR |
| "mobilenet", "xception", "inception", "resnet_v2" | MobileNet(V2), Xception, InceptionV3, ResNet50V2 ("tf": x / 127.5 − 1) | −1, 1 |
| "densenet" | DenseNet ("torch" preprocessing) | (0 − mean) / std, (1 − mean) / std per channel |
| "mobilenet_v3", "efficientnet", "convnext" | `Rescaling` / `Normalization` inside, raw pixels | 0, 255 (folded into the first conv) |
| "small", "lenet" | small CNNs | each image's own min and max |

In the families' blocks: non-ReLU activations (ReLU6, swish, hard swish,
GELU) pass relevance through; squeeze-excite gates are held constant (all
relevance to the gated signal); LayerNormalization uses the LN-rule; a
BatchNormalization after a convolution is folded into it. Generalised γ
handles the signed inputs and negative outputs of convolutions that feed a
residual Add. Pass `bounds=` to override a preset's range, e.g. for a
MobileNetV3 built with `include_preprocessing=False` (fed −1 … 1).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence

import keras
import numpy as np

from kerasviz.core.errors import ArgumentTypeError, InvalidArgumentError
from kerasviz.relevance.rules import RULES, AlphaBeta, Epsilon, Gamma, Rule, ZBox

BoundsSpec = str | Sequence | None


@dataclasses.dataclass(frozen=True)
class Composite:
    """Rules per part of the network.

    Args:
        upper: rule for Dense layers on flat vectors and for the layer producing the output.
        middle: rule for the upper part of the convolutional stack (convolutions of
            any kind and Dense layers applied to feature maps).
        lower: rule for the lower part of the convolutional stack.
        input: rule for the layer(s) reading the pixels (None: `lower`).
        lower_fraction: share of the convolutions (after the input layer)
            that count as "lower".
        overrides: `{layer name or path: Rule}` for individual layers.
        name: shown in plots.

    Example:
        >>> c = kv.Composite(upper=kv.lrp_rules.Epsilon(1e-6), middle=kv.lrp_rules.Epsilon(0.25, relative=True),
        ...                  lower=kv.lrp_rules.Gamma(0.25), input=kv.lrp_rules.ZBox(-1, 1))
        >>> r = kv.lrp(model, x, rule=c)
    """

    upper: Rule = dataclasses.field(default_factory=lambda: Epsilon(1e-6))
    middle: Rule = dataclasses.field(default_factory=lambda: Epsilon(0.25, relative=True))
    lower: Rule = dataclasses.field(default_factory=lambda: Gamma(0.25))
    input: Rule | None = dataclasses.field(default_factory=ZBox)
    lower_fraction: float = 0.5
    overrides: Mapping[str, Rule] = dataclasses.field(default_factory=dict)
    name: str = "custom"

    def __post_init__(self):
        for part in ("upper", "middle", "lower", "input"):
            value = getattr(self, part)
            if not isinstance(value, Rule) and not (part == "input" and value is None):
                raise ArgumentTypeError(f"Composite `{part}` must be a kv.lrp_rules.Rule; got {type(value).__name__}.")
        for part in ("upper", "middle", "lower"):
            if getattr(self, part).input_only:
                raise InvalidArgumentError(
                    f"{getattr(self, part)!r} is an input rule; use it as `input=`, not `{part}=`."
                )
        from kerasviz.core.validate import check_fraction

        check_fraction(self.lower_fraction, "lower_fraction")

    def key(self) -> str:
        """A hashable description (rules and parameters) for caching compiled steps."""
        return repr(
            (self.upper, self.middle, self.lower, self.input, self.lower_fraction, sorted(self.overrides.items()))
        )

    def assign(
        self, weighted: Sequence[tuple[str, object]], input_paths: set, head_path: str, spatial: set | None = None
    ) -> dict:
        """`{path: Rule}` for the weighted layers `[(path, layer), ...]` in graph order.

        `spatial`: paths of the layers that act on feature maps (default: the
        convolutions); the others, and the head, get the `upper` rule.
        """
        if spatial is None:
            spatial = {
                p
                for p, l in weighted
                if isinstance(l, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D))
            }
        convs = [p for p, _ in weighted if p in spatial and p not in input_paths and p != head_path]
        n_lower = math.ceil(self.lower_fraction * len(convs))
        rules = {}
        for path, _layer in weighted:
            if path in input_paths:
                rule = self.input or self.lower
            elif path == head_path or path not in spatial:
                rule = self.upper
            else:
                rule = self.lower if convs.index(path) < n_lower else self.middle
            name = path.rsplit("/", 1)[-1]
            rule = self.overrides.get(path, self.overrides.get(name, rule))
            if rule.input_only and path not in input_paths:
                raise InvalidArgumentError(
                    f"`rule`: {rule!r} is an input rule; layer {path!r} does not read the pixels."
                )
            rules[path] = rule
        return rules

    def with_params(self, *, epsilon=None, gamma=None, alpha=None, beta=None, bounds: BoundsSpec = None) -> Composite:
        """A copy with the given parameters set on every rule of the matching kind."""

        def update(rule):
            if rule is None:
                return None
            if isinstance(rule, Epsilon) and epsilon is not None:
                return Epsilon(epsilon, rule.relative)
            if isinstance(rule, Gamma) and gamma is not None:
                return Gamma(gamma)
            if isinstance(rule, AlphaBeta) and (alpha is not None or beta is not None):
                a = alpha if alpha is not None else (beta + 1 if beta is not None else rule.alpha)
                return AlphaBeta(a, beta if beta is not None else a - 1)
            if isinstance(rule, ZBox) and bounds is not None:
                return ZBox(*bounds_values(bounds))
            return rule

        return dataclasses.replace(
            self,
            upper=update(self.upper),
            middle=update(self.middle),
            lower=update(self.lower),
            input=update(self.input),
            overrides={k: update(v) for k, v in self.overrides.items()},
        )


def bounds_values(bounds: BoundsSpec):
    """`(low, high)` per channel from `(low, high)` or a preprocessing family name.

    A family name ("vgg16", "caffe", "tf", "torch", "none", ...) gives the
    images `kv.preprocess` makes of pixel values 0 and 255.
    """
    if isinstance(bounds, str):
        from kerasviz.preprocessing import preprocess

        try:
            low = preprocess(np.zeros((1, 1, 3), np.float32), bounds).reshape(-1)
            high = preprocess(np.full((1, 1, 3), 255.0, np.float32), bounds).reshape(-1)
        except ValueError as err:
            raise InvalidArgumentError(f"`bounds` {bounds!r} is not a preprocessing family: {err}") from None
        return np.minimum(low, high), np.maximum(low, high)
    try:
        low, high = bounds  # type: ignore
    except (TypeError, ValueError):
        raise InvalidArgumentError(
            f"`bounds` must be (low, high) or a preprocessing family name like 'vgg16'; got {bounds!r}."
        ) from None
    return low, high


def _preset(name, **parts):
    return Composite(name=name, **parts)


PRESETS = {
    # VGG / ResNet (caffe preprocessing): z^B at the pixels, γ in the lower half of the convs,
    # relative ε above, near-LRP-0 on the dense head (Montavon et al. 2019; zennit EpsilonGammaBox).
    "vgg": lambda: _preset("vgg", input=ZBox(*bounds_values("vgg16"))),
    "resnet": lambda: _preset("resnet", input=ZBox(*bounds_values("caffe"))),
    # Small CNNs (LeNet-style): z^B within each image's own range unless `bounds` is given.
    "small": lambda: _preset("small", input=ZBox()),
    "lenet": lambda: _preset("lenet", input=ZBox()),
    # Montavon's tutorial-style composite without z^B (any input range).
    "epsilon_gamma": lambda: _preset("epsilon_gamma", input=Gamma(0.25)),
    "epsilon_gamma_box": lambda: _preset("epsilon_gamma_box", middle=Gamma(0.25), input=ZBox()),
    # keras.applications families (see the table in the module docstring).
    "mobilenet": lambda: _preset("mobilenet", input=ZBox(-1.0, 1.0)),
    "xception": lambda: _preset("xception", input=ZBox(-1.0, 1.0)),
    "inception": lambda: _preset("inception", input=ZBox(-1.0, 1.0)),
    "resnet_v2": lambda: _preset("resnet_v2", input=ZBox(-1.0, 1.0)),
    "densenet": lambda: _preset("densenet", input=ZBox(*bounds_values("torch"))),
    "mobilenet_v3": lambda: _preset("mobilenet_v3", input=ZBox(0.0, 255.0)),
    "efficientnet": lambda: _preset("efficientnet", input=ZBox(0.0, 255.0)),
    "convnext": lambda: _preset("convnext", input=ZBox(0.0, 255.0)),
}

_SINGLE = {"zero", "lrp0", "z", "epsilon", "gamma", "alpha_beta", "alphabeta", "zplus", "z_plus"}
_INPUT = {"zb", "zbox", "w_square", "wsquare", "flat"}


def composite_names() -> list[str]:
    """Every string `kv.lrp(rule=...)` accepts.

    Returns:
        The rule and composite names, sorted.

    Example:
        >>> "epsilon" in kv.composite_names()
        True
    """
    return sorted(set(PRESETS) | _SINGLE | _INPUT)


def resolve(rule, *, epsilon=None, gamma=None, alpha=None, beta=None, bounds: BoundsSpec = None) -> Composite:
    """A `Composite` from a rule name, preset name, `Rule` or `Composite`, with parameters set.

    Single rules apply to every layer; input rules ("zb", "w_square", "flat")
    apply to the pixel layer with ε everywhere else.
    """
    if isinstance(rule, Composite):
        base = rule
    elif isinstance(rule, Rule):
        base = _uniform(rule, str(rule))
    elif isinstance(rule, str) and rule.lower() in PRESETS:
        base = PRESETS[rule.lower()]()
    elif isinstance(rule, str) and rule.lower() in _SINGLE:
        base = _uniform(RULES[rule.lower()](), rule.lower())  # type: ignore[operator]
    elif isinstance(rule, str) and rule.lower() in _INPUT:
        eps = Epsilon()
        base = Composite(upper=eps, middle=eps, lower=eps, input=RULES[rule.lower()](), name=rule.lower())  # type: ignore[operator]
    else:
        raise InvalidArgumentError(
            f"`rule` {rule!r} is not an LRP rule; choose one of {composite_names()}, a kv.lrp_rules.Rule or a kv.Composite."
        )
    return base.with_params(epsilon=epsilon, gamma=gamma, alpha=alpha, beta=beta, bounds=bounds)


def _uniform(rule: Rule, name: str) -> Composite:
    if rule.input_only:
        eps = Epsilon()
        return Composite(upper=eps, middle=eps, lower=eps, input=rule, name=name)
    return Composite(upper=rule, middle=rule, lower=rule, input=rule, name=name)
