"""The slowest single widget interaction on VGG16 (untrained), driven as the browser drives the Explorer.

    python benchmarks/bench_widgets.py            # every interaction, with the widget's estimate
    python benchmarks/bench_widgets.py --before   # also the work the widgets used to start unasked
    python benchmarks/run.py widgets              # the summary rows

Each interaction is timed from the control change to the widget's next state:
"done" (the figure is shown) or "waiting" (the estimate is above the budget and
the widget asks before computing). `--before` times, in the same run, what the
widgets started without asking before they had a budget: feature visualization
opened on block5_conv3 (4 filters x 64 steps), integrated gradients with 256
steps, and occlusion with a 1-pixel patch (extrapolated from a 16-pixel patch by
the number of forward passes).
"""

from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import numpy as np  # noqa: E402

import kerasviz as kv  # noqa: E402
from kerasviz.widgets import budget as B  # noqa: E402


def send(control, **state):
    control.comm.handle_msg({"content": {"data": {"method": "update", "state": state}}})


def main(before: bool) -> list:
    """Print every interaction; returns `(name, seconds, state, estimate)` rows."""
    if kv.quick_mode():
        sys.exit("unset KERASVIZ_QUICK: the benchmark measures full-mode interactions")
    vgg = kv.load_vgg16(weights=None)
    photos = np.stack([kv.sample_image(n, size=224) for n in ("cat", "coffee")])
    app = kv.widgets.Explorer(vgg, kv.preprocess(photos))
    rows = []

    def timed(name, action, widget=None):
        start = time.perf_counter()
        result = action()
        seconds = time.perf_counter() - start
        w = widget() if callable(widget) else widget
        state = getattr(getattr(w, "status", None), "state", "done") if w is not None else "done"
        cost = getattr(w, "last_cost", None) if state == "waiting" else None
        rows.append((name, seconds, state, str(cost) if cost else ""))
        print(f"{name:52s} {seconds:7.1f} s  {state}{'  ' + str(cost) if cost else ''}", flush=True)
        return result

    timed("Explorer shown (Activations tab)", lambda: app._repr_mimebundle_())
    acts = app.panels["Activations"].content
    timed("Activations: image slider", lambda: send(acts.image, value=1), acts)
    filters = timed("Filters tab (weights)", lambda: app.tabs.select("Filters"))
    first_picture, preview = [], kv.widgets.FeatureVisExplorer._preview

    def timed_preview(self, snapshot):  # when the first running images appear
        first_picture.append(time.perf_counter())
        preview(self, snapshot)

    kv.widgets.FeatureVisExplorer._preview = timed_preview
    opened = time.perf_counter()
    fv = timed(
        "Filters -> feature visualization (opens)",
        lambda: filters.select("feature visualization"),
        lambda: filters.panels["feature visualization"].content,
    )
    kv.widgets.FeatureVisExplorer._preview = preview
    print(
        f"    opened on {fv.layer.value}, {fv.steps.value} steps, filters {list(fv.filters())}"
        + (f"; first running images after {first_picture[0] - opened:.1f} s" if first_picture else "")
    )
    timed("FV: filter slider", lambda: send(fv.filter, value=4), fv)
    timed("FV: layer -> block5_conv3", lambda: send(fv.layer, index=list(fv.layer.options).index("block5_conv3")), fv)
    timed("FV: steps -> 512", lambda: send(fv.steps, value=512), fv)
    attr = timed("Attribution tab (Grad-CAM)", lambda: app.tabs.select("Attribution"))
    a = attr.panels["gradients and CAM"].content
    methods = list(kv.widgets.attribution.METHODS)
    for method in ("saliency", "SmoothGrad", "integrated gradients", "occlusion"):
        timed(f"Attribution: method -> {method}", lambda: send(a.method, index=methods.index(method)), a)
    timed(
        f"Attribution: occlusion patch -> {a.patch.min} (slider minimum)", lambda: send(a.patch, value=a.patch.min), a
    )
    send(a.method, index=methods.index("integrated gradients"))
    timed("Attribution: IG steps -> 256", lambda: send(a.steps, value=256), a)
    timed("Attribution -> LRP", lambda: attr.select("LRP"), lambda: attr.panels["LRP"].content)
    timed("Decoding tab", lambda: app.tabs.select("Decoding"))
    timed("Dataset tab", lambda: app.tabs.select("Dataset"))
    ran = [r for r in rows if r[2] == "done"]
    slowest = max(ran, key=lambda r: r[1])
    print(f"\nslowest interaction that computed: {slowest[0]}: {slowest[1]:.1f} s")
    print(f"interactions that asked first: {sum(r[2] == 'waiting' for r in rows)}")
    t = B.model_timing(vgg)
    print(
        f"measured VGG16 step: forward {t.forward:.2f} s, forward + backward {t.gradient:.2f} s per image; ratios {t.ratios}"
    )

    if before:
        print("\nwhat the widgets used to start without asking:")
        x = kv.preprocess(photos[:1])
        start = time.perf_counter()
        kv.visualize_filters(vgg, "block5_conv3", range(4), steps=64, size=128, progress=False)
        print(f"{'FV opened on block5_conv3, 4 filters x 64 steps':52s} {time.perf_counter() - start:7.1f} s")
        start = time.perf_counter()
        kv.integrated_gradients(vgg, x, steps=256, progress=False)
        print(f"{'IG, 256 steps':52s} {time.perf_counter() - start:7.1f} s")
        start = time.perf_counter()
        kv.occlusion(vgg, x, patch=16, stride=8, progress=False)
        per_pass = (time.perf_counter() - start) / B.window_count(224, 224, 16, 8)
        print(f"{'occlusion, 1-px patch (50,176 passes, extrapolated)':52s} {per_pass * 224 * 224:7.0f} s")
    return rows


def summary() -> list:
    from _timing import row

    rows = main(before=False)
    ran = [r for r in rows if r[2] == "done"]
    slowest = max(ran, key=lambda r: r[1])
    return [
        row(f"slowest computed interaction ({slowest[0]})", slowest[1], "s", "<= budget (10 s)"),
        row("interactions that asked first (estimate above the budget)", sum(r[2] == "waiting" for r in rows)),
    ]


BENCHMARKS = {"widgets: slowest Explorer interaction, VGG16 untrained": summary}


if __name__ == "__main__":
    main("--before" in sys.argv)
