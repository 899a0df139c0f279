"""Former home of the feature-visualization loop, kept so older imports keep working.

The loop now lives in modules named for what they hold: `inputs` (input
space and photo reading), `optim` (Adam), `probe` (the tapped model), `loop`
(the compiled `Renderer`), `results` (`FeatureImages`), `engine` (`render_objective`) and `visualize`
(`visualize_filters`, `visualize_classes`). The function
`render` is the old name of `render_objective`.
"""

from __future__ import annotations

import warnings

from kerasviz.featurevis.inputs import (  # noqa: F401
    ARCHITECTURE_DEFAULTS,
    Preprocessing,
    architecture_defaults,
    display_images,
    fit_to_model,
    input_mapping,
)
from kerasviz.featurevis.loop import Renderer  # noqa: F401
from kerasviz.featurevis.optim import adam_update  # noqa: F401
from kerasviz.featurevis.probe import Probe  # noqa: F401
from kerasviz.featurevis.results import FeatureImages  # noqa: F401
from kerasviz.featurevis.visualize import render_objective, visualize_classes, visualize_filters  # noqa: F401

Preprocess = Preprocessing


def render(model, objective, units, **options):
    """Deprecated name of `render_objective` (same arguments), with a DeprecationWarning.

    Args:
        model: as in `render_objective`.
        objective: as in `render_objective`.
        units: as in `render_objective`.
        **options: as in `render_objective`.

    Returns:
        The `FeatureImages` of `render_objective`.

    Example:
        >>> kv.render_objective(model, kv.objectives.channel("conv2"), [0, 1])  # the current name
    """
    warnings.warn("kv.render() is now kv.render_objective().", DeprecationWarning, stacklevel=2)
    return render_objective(model, objective, units, **options)
