"""The one registry of attribution methods and of the metrics that score them.

Everything that lets a user pick a method or a metric by name (the
randomization check, `attribution_metrics` and max-sensitivity, the
Attribution widget and the Explorer, the report) reads these tables, so a
method added here is available everywhere under the same name, label,
settings and cost.

    from kerasviz.attribution.registry import get_method, method_names

    method = get_method("score_cam")
    maps = method(model, images, target, progress=False)    # always a float32 array
    method.label, method.signed, method.needs_layer, method.black_box
    method.work(model, (224, 224), {"max_channels": 64})    # core.cost.Work: passes per image
    [option.name for option in method.options]             # the settings a widget offers

Another family registers its methods with `register(Method(...))` and its
metrics with `register_metric(Metric(...))`. The built-in entries are in
`kerasviz.attribution.catalog`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kerasviz.core.cost import Work
from kerasviz.core.errors import ArgumentTypeError, InvalidArgumentError

FAMILIES = ("gradient", "cam", "perturbation", "lrp")


@dataclass(frozen=True)
class Option:
    """A method setting a widget offers as a control.

    `default`, `low` and `high` may be callables of the image side (pixels),
    e.g. an occlusion patch of `side // 8`.

    Attributes:
        name: the method's keyword argument.
        default: the value a widget starts with (not necessarily the function's own default).
        kind: "int", "float", "log" (a float on a log scale) or "choice".
        low, high, step: the range of "int" / "float" / "log" controls.
        choices: `(label, value)` pairs of a "choice" control.
        label: the control's description (default `name`).
    """

    name: str
    default: Any
    kind: str = "int"
    low: Any = None
    high: Any = None
    step: Any = None
    choices: tuple = ()
    label: str = ""

    def resolve(self, side: int) -> dict:
        """`{"default", "low", "high"}` for images of `side` pixels."""
        at = lambda v: v(side) if callable(v) else v
        return {"default": at(self.default), "low": at(self.low), "high": at(self.high)}


def _one_gradient(model, size, options) -> Work:
    return Work("gradient", 1.0, "one forward + backward pass")


@dataclass(frozen=True)
class Method:
    """An attribution method as the registry describes it.

    Attributes:
        name: the registry name (the public function's name), e.g. "grad_cam".
        label: a display name, e.g. "Grad-CAM".
        function: `function(model, images, target=None, **options)`.
        signed: its maps carry signs (False: non-negative, e.g. saliency, CAMs, RISE).
        needs_layer: it reads an internal feature map (the CAMs): not for
            subclassed models, and `layer=` chooses the layer.
        gradient_only: it only calls `model(x)` and its gradient (works on
            subclassed models); False for methods that rebuild the graph.
        channels: its maps keep the channel axis unless `reduce=` is given.
        defaults: options the registry passes unless the caller gives them.
        result: turns the function's result into the map array (e.g. IG's
            result object -> `.attributions`); None: `np.asarray(result)`.
        family: "gradient", "cam", "perturbation" or "lrp" (for grouping).
        black_box: it reads only the model's outputs (no gradient, no layer).
        seeded: it takes `seed=` (random masks, noise or samples).
        options: the settings a widget offers (`Option`s).
        cost: how the work grows, in words ("samples forward passes").
        passes: `passes(model, (height, width), options) -> core.cost.Work` for
            one image; None: one forward + backward pass.
    """

    name: str
    label: str
    function: Callable
    signed: bool
    needs_layer: bool = False
    gradient_only: bool = True
    channels: bool = False
    defaults: dict = field(default_factory=dict)
    result: Callable | None = None
    family: str = "gradient"
    black_box: bool = False
    seeded: bool = False
    options: tuple = ()
    cost: str = "1 forward + backward pass"
    passes: Callable | None = None

    def __call__(self, model, images, target=None, **options) -> np.ndarray:
        """The method's map as a float32 array (result objects unwrapped)."""
        out = self.function(model, images, target, **{**self.defaults, **options})
        return np.asarray(self.result(out) if self.result is not None else out, np.float32)

    def work(self, model, size: tuple, options: dict | None = None) -> Work:
        """The passes one image of `size` (H, W) costs with `options` (`core.cost.Work`)."""
        counted = self.passes or _one_gradient
        work = counted(model, tuple(size), {**self.option_defaults(min(size)), **(options or {})})
        return Work(work.kind, work.passes, work.what or self.label, work.unit, work.pixels)

    def option_defaults(self, side: int) -> dict:
        """`{option name: the widget's default}` for images of `side` pixels."""
        return {o.name: o.resolve(side)["default"] for o in self.options}


@dataclass(frozen=True)
class MetricInputs:
    """What a metric is evaluated on: one method's maps on a batch with fixed targets.

    Attributes:
        model, images: the model and the batch `(N, H, W, C)` in the model's input space.
        maps: the method's maps `(N, H, W[, C])`.
        method: the method as a callable `(model, images, target, **kw) -> maps`, or None for
            precomputed maps.
        target: the fixed targets (ints, or a callable).
        seed: the seed of the metric's randomness.
        routed: `{"output": ...}` when an output was chosen, else `{}`.
        ground_truth: masks or boxes for the pointing game (or None).
    """

    model: Any
    images: Any
    maps: np.ndarray
    method: Callable | None
    target: Any
    seed: int = 0
    routed: dict = field(default_factory=dict)
    ground_truth: Any = None


@dataclass(frozen=True)
class Metric:
    """A faithfulness or robustness metric as the registry describes it.

    Attributes:
        name: the registry name, e.g. "deletion".
        label: a display name, e.g. "Deletion AUC".
        function: the public function it reads (`kv.deletion_auc`, ...).
        higher_is_better: the direction of "better".
        needs: "maps" (any maps), "method" (a callable or named method, recomputed
            on perturbed inputs) or "ground_truth".
        evaluate: `evaluate(inputs: MetricInputs, **options) -> (N,)` per-image values.
    """

    name: str
    label: str
    function: Callable
    higher_is_better: bool
    needs: str
    evaluate: Callable

    def applies(self, inputs: MetricInputs) -> bool:
        """False when the metric cannot score these inputs (precomputed maps for a "method" metric)."""
        return not (self.needs == "method" and inputs.method is None)


_REGISTRY: dict[str, Method] = {}
_METRICS: dict[str, Metric] = {}


def register(method: Method) -> Method:
    """Add (or replace) a method under `method.name`; returns it."""
    if not isinstance(method, Method):
        raise ArgumentTypeError(f"register() takes a registry.Method; got {type(method).__name__}.")
    _load_methods()
    _REGISTRY[method.name] = method
    return method


def register_metric(metric: Metric) -> Metric:
    """Add (or replace) a metric under `metric.name`; returns it."""
    if not isinstance(metric, Metric):
        raise ArgumentTypeError(f"register_metric() takes a registry.Metric; got {type(metric).__name__}.")
    _load_metrics()
    _METRICS[metric.name] = metric
    return metric


_loaded: set = set()


def _load_methods() -> None:
    if "methods" not in _loaded:
        from kerasviz.attribution.catalog import builtin_methods

        for method in builtin_methods():
            _REGISTRY.setdefault(method.name, method)
        _loaded.add("methods")


def _load_metrics() -> None:
    if "metrics" not in _loaded:
        from kerasviz.attribution.catalog import builtin_metrics

        for metric in builtin_metrics():
            _METRICS.setdefault(metric.name, metric)
        _loaded.add("metrics")


def methods() -> dict[str, Method]:
    """Every registered method, `{name: Method}`, in registration order."""
    _load_methods()
    return dict(_REGISTRY)


def method_names() -> list[str]:
    """The registered names, e.g. for a dropdown."""
    return list(methods())


def get_method(name: str) -> Method:
    """The method registered under `name` (its registry name or its label).

    Raises:
        InvalidArgumentError: an unknown name (the message lists the names).
    """
    table = methods()
    if isinstance(name, str) and name not in table:
        by_label = {m.label: m for m in table.values()}
        if name in by_label:
            return by_label[name]
    if not isinstance(name, str) or name not in table:
        raise InvalidArgumentError(f"`method` must be one of {sorted(table)} or a callable; got {name!r}.")
    return table[name]


def metrics() -> dict[str, Metric]:
    """Every registered metric, `{name: Metric}`, in registration order."""
    _load_metrics()
    return dict(_METRICS)


def metric_names() -> list[str]:
    """The registered metric names."""
    return list(metrics())


def get_metric(name: str) -> Metric:
    """The metric registered under `name`.

    Raises:
        InvalidArgumentError: an unknown name (the message lists the names).
    """
    table = metrics()
    if not isinstance(name, str) or name not in table:
        raise InvalidArgumentError(f"`metrics` must name registered metrics {list(table)}; got {name!r}.")
    return table[name]


__all__ = [
    "Method",
    "Option",
    "Metric",
    "MetricInputs",
    "FAMILIES",
    "register",
    "methods",
    "method_names",
    "get_method",
    "register_metric",
    "metrics",
    "metric_names",
    "get_metric",
]
