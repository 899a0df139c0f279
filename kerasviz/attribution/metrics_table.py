"""Score several attribution methods on one batch with several metrics: `attribution_metrics`.

Every method is evaluated on the same images, targets (fixed to the class
predicted on the clean image) and metric randomness, so the rows of the table
compare. Methods and metrics named by a string come from the registry
(`kerasviz.attribution.registry`). `kv.plot_metrics_table` draws the table.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import keras
import numpy as np

from kerasviz._config import progress_bar
from kerasviz.attribution.faithfulness import accepts_output, resolve_method
from kerasviz.attribution.registry import MetricInputs, get_metric
from kerasviz.attribution.registry import metrics as registered_metrics
from kerasviz.attribution.support import clean_scores, prepare
from kerasviz.core.errors import ArgumentTypeError, InvalidArgumentError
from kerasviz.core.outputs import OutputSpec
from kerasviz.core.targets import Target

# metric -> higher is better (the registry's built-in metrics, read once; `registry.metrics()` is live)
METRICS = {name: metric.higher_is_better for name, metric in registered_metrics().items()}


@dataclass
class MetricsTable:
    """Metrics of several methods on one batch.

    Attributes:
        methods: method names (rows).
        metrics: metric names (columns).
        values: `(methods, metrics)` mean over images (NaN where a metric does
            not apply, e.g. max-sensitivity of precomputed maps).
        per_image: `{metric: (methods, N)}` per-image values.
        higher_is_better: `{metric: bool}`.
    """

    methods: list
    metrics: list
    values: np.ndarray
    per_image: dict = field(default_factory=dict)
    higher_is_better: dict = field(default_factory=dict)

    def value(self, method: str, metric: str) -> float:
        """The mean of `metric` for `method`."""
        return float(self.values[self.methods.index(method), self.metrics.index(metric)])

    def best(self) -> dict:
        """`{metric: the best method}` (NaN entries ignored)."""
        out = {}
        for j, metric in enumerate(self.metrics):
            column = self.values[:, j]
            if np.isnan(column).all():
                continue
            pick = np.nanargmax if self.higher_is_better[metric] else np.nanargmin
            out[metric] = self.methods[int(pick(column))]
        return out

    def to_dict(self) -> dict:
        """`{method: {metric: mean}}`."""
        return {
            m: {k: float(self.values[i, j]) for j, k in enumerate(self.metrics)} for i, m in enumerate(self.methods)
        }

    def __repr__(self) -> str:
        heads = [f"{k} ({'^' if self.higher_is_better[k] else 'v'})" for k in self.metrics]
        width = max(len(m) for m in self.methods) + 2
        lines = [" " * width + "  ".join(f"{h:>18}" for h in heads)]
        for i, m in enumerate(self.methods):
            lines.append(f"{m:<{width}}" + "  ".join(f"{v:>18.4g}" for v in self.values[i]))
        return "MetricsTable (mean over images; ^ higher is better, v lower is better)\n" + "\n".join(lines)

    def _repr_html_(self) -> str:
        best = self.best()
        head = "".join(f"<th>{k} {'&uarr;' if self.higher_is_better[k] else '&darr;'}</th>" for k in self.metrics)
        rows = []
        for i, m in enumerate(self.methods):
            cells = "".join(
                f"<td>{'<b>' if best.get(k) == m else ''}{self.values[i, j]:.4g}{'</b>' if best.get(k) == m else ''}</td>"
                for j, k in enumerate(self.metrics)
            )
            rows.append(f"<tr><th>{m}</th>{cells}</tr>")
        return f"<table><tr><th></th>{head}</tr>{''.join(rows)}</table>"


def attribution_metrics(
    model: keras.Model,
    images,
    methods: dict,
    target: Target = None,
    *,
    output: OutputSpec = None,
    metrics: list | None = None,
    ground_truth=None,
    options: dict | None = None,
    seed: int = 0,
    progress: bool = True,
) -> MetricsTable:
    """Score several attribution methods on one batch: one row per method, one column per metric.

    Args:
        model: a Keras image model (never changed).
        images: `(N, H, W, C)` (or one image) in the model's input space.
        methods: `{name: maps}` where maps are precomputed `(N, H, W[, C])`
            arrays at the input size, callables `(model, images, target) ->
            maps`, or registry names or labels ("saliency", "grad_cam", "RISE",
            ...; `kerasviz.attribution.registry.method_names()`).
        target: None (class predicted on the clean image), an int, ints, or
            a callable; fixed once, so every method explains the same scores.
        output: which output of a multi-output model (index or name).
        metrics: names among "deletion", "insertion", "mu_fidelity",
            "average_drop", "average_increase", "infidelity",
            "max_sensitivity" (callables and names only), "pointing_game"
            (needs `ground_truth`); default: all that apply.
        ground_truth: masks or boxes for the pointing game (`kv.pointing_game`).
        options: `{metric: {keyword: value}}` passed to that metric (e.g.
            `{"insertion": {"substrate": 0.0}}`, `{"infidelity":
            {"multiply_by_inputs": True}}`). Metrics are the registry's
            (`kerasviz.attribution.registry.metric_names()`).
        seed: seed of every metric's randomness.
        progress: show a progress bar over methods.

    Returns:
        `MetricsTable` (`.values`, `.per_image`, `.best()`, an HTML view in notebooks).

    Example:
        >>> t = kv.attribution_metrics(model, x, {"Grad-CAM": "grad_cam", "saliency": kv.saliency(model, x)})
        >>> kv.plot_metrics_table(t)
    """
    if not isinstance(methods, dict) or not methods:
        raise ArgumentTypeError("`methods` must be a non-empty dict {name: maps, callable or kerasviz method name}.")
    options = dict(options or {})
    table = registered_metrics()
    unknown = [k for k in list(options) + list(metrics or []) if k not in table]
    if unknown:
        raise InvalidArgumentError(
            f"`metrics` / `options` name unknown metric(s) {unknown}; choose from {list(table)}."
        )
    if metrics is None:
        metrics = [m for m in table if table[m].needs != "ground_truth" or ground_truth is not None]
    metrics = list(metrics)
    if ground_truth is None and any(table[m].needs == "ground_truth" for m in metrics):
        raise InvalidArgumentError("`ground_truth` is needed for the 'pointing_game' metric.")
    x, single, targets, out = prepare(model, images, target, output)
    _, targets = clean_scores(model, x, targets, out)
    fixed = targets if callable(targets) else targets.tolist()
    routed = {"output": output} if output is not None else {}
    n = len(x)
    per_image = {m: np.full((len(methods), n), np.nan) for m in metrics}
    with progress_bar(len(methods), "metrics", progress and len(methods) > 1) as bar:
        for row, (name, spec) in enumerate(methods.items()):
            fn = resolve_method(spec) if callable(spec) or isinstance(spec, str) else None
            if fn is None:
                maps = np.asarray(spec, np.float32)
            else:
                maps = np.asarray(fn(model, x, fixed, **(routed if accepts_output(fn) else {})), np.float32)
            maps = maps.reshape((n,) + maps.shape[1:]) if maps.shape[0] == n else maps[None]
            inputs = MetricInputs(model, x, maps, fn, fixed, seed=seed, routed=routed, ground_truth=ground_truth)
            for metric in metrics:
                entry = get_metric(metric)
                if not entry.applies(inputs):
                    continue  # e.g. precomputed maps cannot be recomputed on perturbed inputs
                values = entry.evaluate(inputs, **options.get(metric, {}))
                per_image[metric][row] = np.asarray(values, np.float64).reshape(n)
            bar.update(1)
    with warnings.catch_warnings():  # a metric that does not apply to a method is NaN for all images
        warnings.simplefilter("ignore", RuntimeWarning)
        values = (
            np.stack([np.nanmean(per_image[m], axis=1) for m in metrics], axis=1)
            if metrics
            else np.zeros((len(methods), 0))
        )
    return MetricsTable(list(methods), metrics, values, per_image, {m: table[m].higher_is_better for m in metrics})
