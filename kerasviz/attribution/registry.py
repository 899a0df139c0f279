"""The one registry of attribution methods: name -> function, label and properties.

Everything that lets a user pick a method by name (the randomization check,
the Attribution widget, the report) reads this table, so a method added here
is available everywhere under the same name and label.

    from kerasviz.attribution.registry import get_method, method_names

    method = get_method("grad_cam")
    maps = method(model, images, target, progress=False)   # always a float32 array
    method.label, method.signed, method.needs_layer

Another family registers its methods with `register(Method(...))`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from kerasviz.core.errors import ArgumentTypeError, InvalidArgumentError


@dataclass(frozen=True)
class Method:
    """An attribution method as the registry describes it.

    Attributes:
        name: the registry name (the public function's name), e.g. "grad_cam".
        label: a display name, e.g. "Grad-CAM".
        function: `function(model, images, target=None, **options)`.
        signed: its maps carry signs (False: non-negative, e.g. saliency, CAMs).
        needs_layer: it reads an internal layer (the CAMs): not for subclassed
            models, and `layer=` chooses the layer.
        gradient_only: it only calls `model(x)` (works on subclassed models).
        channels: its maps keep the channel axis unless `reduce=` is given.
        defaults: options the registry passes unless the caller gives them.
        result: turns the function's result into the map array (e.g. IG's
            result object -> `.attributions`); None: the result is the map.
    """

    name: str
    label: str
    function: Callable
    signed: bool
    needs_layer: bool = False
    gradient_only: bool = True
    channels: bool = False
    defaults: dict = field(default_factory=dict)
    result: Optional[Callable] = None

    def __call__(self, model, images, target=None, **options) -> np.ndarray:
        """The method's map as a float32 array (result objects unwrapped)."""
        out = self.function(model, images, target, **{**self.defaults, **options})
        return np.asarray(self.result(out) if self.result is not None else out, np.float32)


_REGISTRY: dict[str, Method] = {}


def register(method: Method) -> Method:
    """Add (or replace) a method under `method.name`; returns it."""
    if not isinstance(method, Method):
        raise ArgumentTypeError(f"register() takes a registry.Method; got {type(method).__name__}.")
    _REGISTRY[method.name] = method
    return method


def _builtins() -> None:
    from kerasviz.attribution.gradcam import grad_cam, grad_cam_plus_plus, guided_grad_cam
    from kerasviz.attribution.integrated_gradients import integrated_gradients
    from kerasviz.attribution.occlusion import occlusion
    from kerasviz.attribution.relu_backprop import deconvnet, guided_backprop
    from kerasviz.attribution.saliency import gradient, saliency
    from kerasviz.attribution.smoothgrad import smoothgrad

    for method in (
        Method("gradient", "gradient", gradient, signed=True, channels=True),
        Method("saliency", "saliency", saliency, signed=False),
        Method("smoothgrad", "SmoothGrad", smoothgrad, signed=True, channels=True),
        Method("guided_backprop", "guided backprop", guided_backprop, signed=True, gradient_only=False, channels=True),
        Method("deconvnet", "deconvnet", deconvnet, signed=True, gradient_only=False, channels=True),
        Method(
            "integrated_gradients",
            "integrated gradients",
            integrated_gradients,
            signed=True,
            channels=True,
            result=lambda r: r.attributions,
        ),
        Method("grad_cam", "Grad-CAM", grad_cam, signed=False, needs_layer=True, gradient_only=False),
        Method(
            "grad_cam_plus_plus", "Grad-CAM++", grad_cam_plus_plus, signed=False, needs_layer=True, gradient_only=False
        ),
        Method(
            "guided_grad_cam",
            "guided Grad-CAM",
            guided_grad_cam,
            signed=True,
            needs_layer=True,
            gradient_only=False,
            channels=True,
        ),
        Method("occlusion", "occlusion", occlusion, signed=True),
    ):
        _REGISTRY.setdefault(method.name, method)


def methods() -> dict[str, Method]:
    """Every registered method, `{name: Method}`, in registration order."""
    if not _REGISTRY or "gradient" not in _REGISTRY:
        _builtins()
    return dict(_REGISTRY)


def method_names() -> list[str]:
    """The registered names, e.g. for a dropdown."""
    return list(methods())


def get_method(name: str) -> Method:
    """The method registered under `name`.

    Raises:
        InvalidArgumentError: an unknown name (the message lists the names).
    """
    table = methods()
    if not isinstance(name, str) or name not in table:
        raise InvalidArgumentError(f"`method` must be one of {sorted(table)} or a callable; got {name!r}.")
    return table[name]


__all__ = ["Method", "register", "methods", "method_names", "get_method"]
