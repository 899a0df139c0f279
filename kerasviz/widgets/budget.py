"""What a widget interaction will cost before it runs, and the budget above which a widget asks first.

The estimates come from the one cost model, `kerasviz.core.cost` (counted
passes x this machine's measured step time per model, corrected after each
run): a gradient map is one forward + backward pass, SmoothGrad `samples` of
them, integrated gradients `steps + 1`, occlusion one forward pass per window,
the perturbation and surrogate methods their masked or sampled passes
(`kerasviz.attribution.registry`: each method counts its own), feature
visualization `kerasviz.featurevis.cost.featurevis_cost`. Widgets show the
estimate ("≈ 12 s") before computing, ask above their budget
(`DEFAULT_BUDGET`), and `record` each run so later estimates of that kind of
work on that model follow the machine's load.

This module keeps the names the widgets (and notebooks) have used; each one
is the core mechanism under a widget-friendly name.
"""

from __future__ import annotations

import math

from kerasviz.core import cost as C
from kerasviz.core.cost import Cost, ModelTiming, measure_timing, model_timing, multiply_adds  # noqa: F401
from kerasviz.featurevis.cost import FEATUREVIS_BASE, FEATUREVIS_OVERHEAD  # noqa: F401
from kerasviz.featurevis.cost import featurevis_cost as _featurevis_cost

DEFAULT_BUDGET = 10.0  # seconds a single widget interaction may take without asking
FEATUREVIS_TRACE = C.TRACE_FACTORS["featurevis"]
LRP_PASSES = 2.0
FORWARD_SHARE = C.FORWARD_SHARE


def record(model, kind: str, cost: Cost, seconds: float, traced: bool = True) -> None:
    """Correct later `kind` estimates on `model` (see `kerasviz.core.cost.record`)."""
    C.record(model, kind, cost, seconds, traced=traced)


def gradient_cost(model, passes: float, what: str, traced: bool = True) -> Cost:
    """`passes` forward + backward passes of one image each (plus tracing if not `traced`)."""
    return C.estimate(model, "gradient", passes, what, traced=traced)


def forward_cost(model, passes: float, what: str, traced: bool = True) -> Cost:
    """`passes` forward passes of one image each."""
    return C.estimate(model, "forward", passes, what, traced=traced)


def window_count(height: int, width: int, patch: int, stride: int) -> int:
    """How many occlusion windows cover an `height x width` image (one forward pass each)."""
    rows = math.ceil(max(height - patch, 0) / stride) + 1
    cols = math.ceil(max(width - patch, 0) / stride) + 1
    return rows * cols


def occlusion_cost(model, images: int, height: int, width: int, patch: int, stride: int) -> Cost:
    windows = window_count(height, width, patch, stride)
    return forward_cost(model, images * windows, f"occlusion: {windows:,} windows of {patch} px")


def featurevis_cost(model, layer: str, filters, steps: int, size: tuple, traced: bool = True) -> Cost:
    """Optimising `filters` (indices) on `layer`: images of `size` for `steps` steps."""
    return _featurevis_cost(model, layer, filters, steps, size, traced=traced)


def record_featurevis(model, warm: Cost, seconds: float, traced: bool) -> None:
    """Correct later feature-visualization estimates: work estimated at `warm` (no tracing) took `seconds`."""
    C.record(model, "featurevis", warm, seconds, traced=traced)


def deepest_within(costs: dict, budget: float) -> str | None:
    """The last key of `costs` (ordered cheap to deep) whose cost fits `budget`, or None."""
    fitting = [k for k, cost in costs.items() if cost.seconds <= budget]
    return fitting[-1] if fitting else None
