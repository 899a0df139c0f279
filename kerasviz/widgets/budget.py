"""Estimate what a widget interaction will cost before running it: passes x a measured step time.

The cost model is deliberately small. Each model's speed is measured once, on
this machine, and cached with the model (`ModelTiming`: seconds per image for a
forward pass and for a forward + backward pass at the model's input size, and
the time to trace a compiled step). Each kind of work is then a count of those
passes:

- a gradient map (saliency, guided backprop, Grad-CAM): 1 forward + backward;
  SmoothGrad `samples`, integrated gradients `steps`; LRP about 2;
- occlusion: one forward pass per window position;
- feature visualization: per image and step, a fixed part (the Fourier
  image, the transforms, Adam) plus the model's multiply-adds up to the layer,
  both at the optimised size and in units of the measured forward + backward
  pass, plus a first-run tracing time learned per model. (On a busy CPU this
  is closer than `kv.estimate_seconds`, whose convolution timing is a best of
  four runs, and it counts the parameterization's per-pixel work, which
  dominates on the first layers.)

`Cost` carries the estimate in seconds and says what it counts; widgets show
it ("≈ 12 s") before computing and ask above their budget (`DEFAULT_BUDGET`).
The measurement runs the same cached compiled steps the attribution methods
use, so its tracing is not wasted. After a run, `record` compares the
estimate with the time it took and corrects later estimates of that kind of
work on that model (the machine's load changes; batched work runs faster per
image than the measurement).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

DEFAULT_BUDGET = 10.0  # seconds a single widget interaction may take without asking

# Feature visualization, per image and step, in forward + backward passes at the optimised size:
# FEATUREVIS_BASE (the parameterization, transforms and Adam) + FEATUREVIS_OVERHEAD x the layer's
# share of the model's multiply-adds (fitted on VGG16, block1 to block5 at 128 px).
FEATUREVIS_BASE = 0.06
FEATUREVIS_OVERHEAD = 2.2
FEATUREVIS_TRACE = 3.0  # tracing its step / tracing a plain gradient step (VGG16: about 5.5 s / 1.5 s)
LRP_PASSES = 2.0
FORWARD_SHARE = 0.45  # a forward pass / a forward + backward pass (VGG16 on a CPU: 0.43 to 0.48)


@dataclass(frozen=True)
class Cost:
    """An estimated cost: `seconds`, and `what` it counts ("4 filters x 64 steps on block3_conv1").

    `str(cost)` is "≈ 12 s" (or "< 1 s", "≈ 3 min").
    """

    seconds: float
    what: str = ""

    def __str__(self) -> str:
        s = self.seconds
        if s < 1:
            return "< 1 s"
        if s < 90:
            return f"≈ {s:.0f} s"
        if s < 5400:
            return f"≈ {s / 60:.0f} min"
        return f"≈ {s / 3600:.1f} h"

    def describe(self) -> str:
        return self.what or "this computation"

    def __add__(self, other: "Cost") -> "Cost":
        return Cost(self.seconds + other.seconds, " + ".join(w for w in (self.what, other.what) if w))


@dataclass
class ModelTiming:
    """One model's speed on this machine (from `model_timing`).

    Attributes:
        forward: seconds per image for a forward pass at the model's input size.
        gradient: seconds per image for a forward + backward pass.
        trace: seconds to trace and compile one step (paid once per compiled function).
        input_pixels: H * W of the model's input (the measured size).
        depth: `{layer path: fraction of the model's multiply-adds up to that layer}`.
        ratios: `{kind: measured / estimated}` from `record` ("forward", "gradient", "featurevis").
    """

    forward: float
    gradient: float
    trace: float
    input_pixels: int
    depth: dict = field(default_factory=dict)
    ratios: dict = field(default_factory=dict)

    def layer_fraction(self, layer: str) -> float:
        """The share of a full pass spent up to `layer` (1.0 if unknown)."""
        return self.depth.get(layer, 1.0)


def _spatial_size(layer) -> int:
    try:
        shape = tuple(layer.output.shape)
    except (AttributeError, ValueError):
        return 1
    dims = [d for d in shape[1:-1] if d is not None]
    return int(np.prod(dims)) if dims else 1


def multiply_adds(model) -> dict:
    """`{layer path: cumulative multiply-adds}` in graph order, from each layer's kernels and output size.

    A layer's count is its output's spatial size times the size of each of its
    weight matrices (convolution kernels, dense matrices, depthwise kernels);
    layers without kernels (pooling, activations) add nothing.
    """
    from kerasviz.core.layers import is_model, iter_layers

    total, counts = 0, {}
    for path, layer in iter_layers(model):
        if is_model(layer):
            continue
        kernels = [w for w in layer.weights if len(w.shape) >= 2]
        if kernels:
            total += _spatial_size(layer) * sum(int(np.prod(w.shape)) for w in kernels)
        counts[path] = total
    return counts


def _input_shape(model) -> tuple:
    from kerasviz.core.graph import model_input

    shape = tuple(model_input(model).shape[1:])
    return tuple(d if d is not None else 128 for d in shape)


def measure_timing(model, batch: int = 1) -> ModelTiming:
    """Measure `ModelTiming` now: the cached gradient step, traced, then run once more.

    Per-image times hardly depend on the batch size on a CPU (measured on
    VGG16 from 1 to 16 images), so one image is measured. A forward pass is
    taken as `FORWARD_SHARE` of a forward + backward pass until `record`
    corrects it with a measured run (this saves tracing a second step).
    """
    from kerasviz.core.gradients import gradient_step

    shape = _input_shape(model)
    x = np.zeros((batch,) + shape, np.float32)
    step = gradient_step(model)  # the step saliency, SmoothGrad and IG use: its tracing is not wasted
    runs = []
    for _ in range(2):  # the first call traces (or reuses) the compiled step
        start = time.perf_counter()
        np.asarray(step(x)[0])
        runs.append(time.perf_counter() - start)
    warm = runs[1] / batch
    counts = multiply_adds(model)
    total = max(counts.values(), default=0) or 1
    return ModelTiming(
        forward=FORWARD_SHARE * warm, gradient=warm, trace=max(runs[0] - runs[1], 0.0),
        input_pixels=int(shape[0] * shape[1]) if len(shape) == 3 else 1,
        depth={path: count / total for path, count in counts.items()},
    )


def model_timing(model) -> ModelTiming:
    """The model's `ModelTiming`, measured on first use and cached with the model."""
    from kerasviz.core.graph import cache

    return cache.get(model, ("widget_timing",), lambda: measure_timing(model))


def record(model, kind: str, cost: "Cost", seconds: float) -> None:
    """Correct later `kind` estimates on `model`: the work estimated at `cost` (tracing excluded) took `seconds`."""
    t = model_timing(model)
    old = t.ratios.get(kind, 1.0)
    if cost.seconds > 0.05 and seconds > 0:
        raw = cost.seconds / old  # the uncorrected estimate
        t.ratios[kind] = float(np.clip(seconds / raw, 0.1, 10.0))


# ---- costs of the widgets' kinds of work ------------------------------------------------
def gradient_cost(model, passes: float, what: str, traced: bool = True) -> Cost:
    """`passes` forward + backward passes of one image each (plus tracing if not `traced`)."""
    t = model_timing(model)
    return Cost(passes * t.gradient * t.ratios.get("gradient", 1.0) + (0.0 if traced else t.trace), what)


def forward_cost(model, passes: float, what: str, traced: bool = True) -> Cost:
    """`passes` forward passes of one image each."""
    t = model_timing(model)
    return Cost(passes * t.forward * t.ratios.get("forward", 1.0) + (0.0 if traced else t.trace), what)


def window_count(height: int, width: int, patch: int, stride: int) -> int:
    """How many occlusion windows cover an `height x width` image (one forward pass each)."""
    rows = math.ceil(max(height - patch, 0) / stride) + 1
    cols = math.ceil(max(width - patch, 0) / stride) + 1
    return rows * cols


def occlusion_cost(model, images: int, height: int, width: int, patch: int, stride: int) -> Cost:
    windows = window_count(height, width, patch, stride)
    return forward_cost(model, images * windows, f"occlusion: {windows:,} windows of {patch} px")


def _featurevis_learned(model) -> dict:
    """Per model: `ratio` (measured / estimated, warm runs) and `trace` (seconds of a first run's tracing)."""
    from kerasviz.core.graph import cache

    return cache.get(model, ("widget_featurevis",), lambda: {"ratio": 1.0, "trace": None})


def featurevis_cost(model, layer: str, filters, steps: int, size: tuple, traced: bool = True) -> Cost:
    """Optimising `filters` (indices) on `layer`: images of `size` for `steps` steps."""
    filters = list(filters)
    t, learned = model_timing(model), _featurevis_learned(model)
    scale = (size[0] * size[1]) / max(t.input_pixels, 1)
    passes = FEATUREVIS_BASE + FEATUREVIS_OVERHEAD * t.layer_fraction(layer)
    warm = steps * len(filters) * t.gradient * scale * passes * learned["ratio"]
    trace = 0.0 if traced else (learned["trace"] if learned["trace"] is not None else FEATUREVIS_TRACE * t.trace)
    return Cost(warm + trace, f"{len(filters)} filter(s) x {steps} steps on {layer} at {size[0]} px")


def record_featurevis(model, warm: Cost, seconds: float, traced: bool) -> None:
    """Correct later feature-visualization estimates: work estimated at `warm` (no tracing) took `seconds`.

    A warm run corrects the ratio; a first run (`traced=False`) teaches the tracing time (at most
    twice the prior guess, so an underestimated computation is not all taken for tracing).
    """
    learned = _featurevis_learned(model)
    if traced:
        if warm.seconds > 0.05 and seconds > 0:
            learned["ratio"] = float(np.clip(seconds / (warm.seconds / learned["ratio"]), 0.1, 10.0))
    else:
        prior = FEATUREVIS_TRACE * model_timing(model).trace
        learned["trace"] = float(np.clip(seconds - warm.seconds, 0.0, 2 * prior))


def deepest_within(costs: dict, budget: float) -> Optional[str]:
    """The last key of `costs` (ordered cheap to deep) whose cost fits `budget`, or None."""
    fitting = [k for k, cost in costs.items() if cost.seconds <= budget]
    return fitting[-1] if fitting else None
