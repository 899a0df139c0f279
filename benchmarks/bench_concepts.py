"""Concept methods: cost next to their floors, and flat memory when streaming.

- TCAV: `kv.tcav` with R random runs vs its floor measured in the same run
  (one gradient pass over the class images plus the activations of the concept
  and random sets): the R + R CAV fits and the dot products should add little.
- NMF concepts: the projection pass of `kv.nmf_concepts` (forward, NNLS on the
  fixed concepts, running top images) vs `kv.top_activating` on the same layer
  and data; with importance (gradient x coefficient) the pass also runs a backward.
- CRP: one conditional heatmap of `kv.crp` (batched over (image, channel)
  rows, `filter_batch_size` rows per call) vs one `kv.lrp` pass per image
  with the same rows per call; target <= 1.5x.
- Relevance maximization: `kv.relevance_maximization` throughput vs
  `kv.top_activating` on the same layer and data; target >= 0.8x. Its floor
  is a full forward pass plus the backward pass down to the layer, where
  `top_activating` runs the forward pass up to the layer only.
- Memory: `kv.nmf_concepts` over a generator of 2000 and of 20000 images, each
  in a fresh process: the fit sample is capped and the scan keeps O(k x top)
  state, so the peak RSS should stay flat.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
from _timing import best_time, row


def bench_tcav():
    import kerasviz as kv
    from kerasviz.core.gradients import score_gradients

    model = kv.lenet()
    rng = np.random.default_rng(0)
    concept, pool, images = (rng.normal(size=(n, 28, 28, 1)).astype("float32") for n in (50, 550, 200))
    runs = 10
    floor = lambda: (
        score_gradients(model, images, 3, layers=["relu3"], batch_size=32),
        kv.activations(model, concept, "relu3"),
        kv.activations(model, pool, "relu3"),
    )
    full = lambda: kv.tcav(model, "relu3", concept, images, 3, random_images=pool, random_sets=runs, progress=False)
    t_floor, t_full = best_time(floor, repeat=3), best_time(full, repeat=3)
    return [
        row("LeNet relu3: gradients + set activations (floor)", t_floor, "s"),
        row(f"LeNet relu3: kv.tcav, {runs} runs, 200 images", t_full, "s"),
        row("tcav / floor", t_full / t_floor, "x", note=f"{2 * runs} CAV fits (SGD) included"),
    ]


def bench_nmf_throughput():
    import kerasviz as kv

    rng = np.random.default_rng(0)
    rows = []
    for name, model, layer, x in (
        ("LeNet relu3, 2000 MNIST-size", kv.lenet(), "relu3", rng.uniform(0, 1, (2000, 28, 28, 1)).astype("float32")),
        (
            "VGG16 (untrained) block3_conv3, 256 at 112px",
            kv.load_vgg16(weights=None, include_top=False, input_shape=(112, 112, 3)),
            "block3_conv3",
            rng.uniform(0, 255, (256, 112, 112, 3)).astype("float32"),
        ),
    ):
        top = lambda: kv.top_activating(model, layer, x, k=9, batch_size=64, progress=False)
        # a small fit sample (32 images), so the figures are the projection pass's
        forward = lambda: kv.nmf_concepts(
            model, layer, x, 8, importance=False, fit_images=32, max_vectors=5000, batch_size=64, progress=False
        )
        backward = lambda: kv.nmf_concepts(
            model, layer, x, 8, fit_images=32, max_vectors=5000, batch_size=64, progress=False
        )
        t_top, t_fwd, t_bwd = (best_time(f, repeat=2) for f in (top, forward, backward))
        rows += [
            row(f"{name}: top_activating k=9", len(x) / t_top, "img/s"),
            row(f"{name}: nmf_concepts k=8, no importance", len(x) / t_fwd, "img/s"),
            row(f"{name}: nmf_concepts k=8, with importance", len(x) / t_bwd, "img/s"),
            row(f"{name}: nmf (no importance) / top_activating", t_top / t_fwd, "x", note="throughput ratio"),
        ]
    return rows


_MEMORY = textwrap.dedent(
    """
    import json, resource, sys, numpy as np
    import kerasviz as kv
    n = int(sys.argv[1])
    model = kv.lenet()
    def batches():
        rng = np.random.default_rng(0)
        for start in range(0, n, 250):
            yield rng.uniform(0, 1, (min(250, n - start), 28, 28, 1)).astype("float32")
    kv.nmf_concepts(model, "relu3", batches(), 8, fit_images=500, max_vectors=20000, progress=False)  # warm-up
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = kv.nmf_concepts(model, "relu3", batches(), 8, fit_images=500, max_vectors=20000, progress=False)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"count": result.count, "peak_kib": after, "growth_kib": after - before}))
    """
)


def bench_nmf_memory():
    rows, peaks = [], {}
    for n in (2000, 20000):
        done = subprocess.run([sys.executable, "-c", _MEMORY, str(n)], capture_output=True, text=True, timeout=1800)
        if done.returncode:
            return [row("memory run failed", 0.0, note=done.stderr[-300:])]
        result = json.loads(done.stdout.strip().splitlines()[-1])
        peaks[n] = result["peak_kib"]
        rows.append(
            row(
                f"LeNet relu3 nmf_concepts over a generator of {n} images: peak RSS",
                result["peak_kib"] / 1024,
                "MiB",
                note=f"growth during the 2nd run {result['growth_kib'] / 1024:.1f} MiB",
            )
        )
    rows.append(row("peak RSS ratio 20000 / 2000 images", peaks[20000] / peaks[2000], "x", "<= 1.05 (flat)"))
    return rows


def _interleaved(calls: dict, rounds: int) -> dict:
    """Best time of each call over `rounds` interleaved rounds (load drifts alike for all), after one warm-up."""
    best = {name: float("inf") for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            best[name] = min(best[name], best_time(call, repeat=1, warmup=0 if best[name] < float("inf") else 1))
    return best


def _vgg16(size: int):
    import kerasviz as kv

    return kv.load_vgg16(weights=None, include_top=False, input_shape=(size, size, 3))


def bench_crp():
    import kerasviz as kv

    rng = np.random.default_rng(0)
    rows_per_call, images, channels = 16, 2, 8
    rows = []
    for name, model, layer, rules, x in (
        ("LeNet conv2", kv.lenet(), "conv2", ("epsilon",), rng.uniform(0, 1, (rows_per_call, 28, 28, 1))),
        (
            "VGG16 (untrained) 128px block4_conv3",
            _vgg16(128),
            "block4_conv3",
            ("epsilon", "vgg"),
            rng.uniform(-120, 140, (rows_per_call, 128, 128, 3)),
        ),
    ):
        x = x.astype("float32")
        for rule in rules:
            calls = {
                "lrp": lambda: kv.lrp(model, x, 0, rule=rule, batch_size=rows_per_call, progress=False),
                "crp": lambda: kv.crp(
                    model,
                    x[:images],
                    0,
                    layer=layer,
                    filters=range(channels),
                    rule=rule,
                    filter_batch_size=rows_per_call,
                    progress=False,
                ),
                "crp_top": lambda: kv.crp(
                    model,
                    x[:images],
                    0,
                    layer=layer,
                    top=channels,
                    rule=rule,
                    filter_batch_size=rows_per_call,
                    progress=False,
                ),
            }
            best = _interleaved(calls, rounds=5)
            per_lrp = best["lrp"] / rows_per_call
            per_map, per_top = best["crp"] / (images * channels), best["crp_top"] / (images * channels)
            rows += [
                row(f"{name} rule={rule!r}: lrp per image", per_lrp * 1e3, "ms", note=f"{rows_per_call} per call"),
                row(
                    f"{name} rule={rule!r}: crp heatmap / lrp pass",
                    per_map / per_lrp,
                    "x",
                    target="<= 1.5",
                    note=f"{images} images x {channels} channels, {per_map * 1e3:.1f} ms each",
                ),
                row(
                    f"{name} rule={rule!r}: crp top={channels} heatmap / lrp pass",
                    per_top / per_lrp,
                    "x",
                    target="<= 1.5",
                    note="with the ranking pass to the layer",
                ),
            ]
    return rows


def _gradient_floor(model, layer, x, target, batch_size: int = 64):
    """A bare compiled forward pass + plain gradient down to the layer, per-channel sums: no LRP, no top-k."""
    import tensorflow as tf

    from kerasviz.core.gradients import compile_function
    from kerasviz.core.graph import tap_model
    from kerasviz.core.targets import flat_outputs

    tap, keys = tap_model(model, [layer])

    def run(images):
        with tf.GradientTape() as tape:
            out = tap(images, training=False)
            scores = flat_outputs(out["__output__"])[:, target or 0]
        acts = out[keys[0]]
        relevance = acts * tape.gradient(scores, acts)
        return tf.reduce_sum(tf.reshape(relevance, (tf.shape(acts)[0], -1, acts.shape[-1])), axis=1)

    step = compile_function(run)
    return lambda: [step(tf.constant(x[s : s + batch_size])).numpy() for s in range(0, len(x), batch_size)]


def bench_relevance_maximization():
    import kerasviz as kv

    rng = np.random.default_rng(0)
    lenet = kv.lenet()
    mnist = rng.uniform(0, 1, (2000, 28, 28, 1)).astype("float32")
    vgg = _vgg16(112)
    photos = rng.uniform(-120, 140, (128, 112, 112, 3)).astype("float32")
    rows = []
    for name, model, layer, x, target in (
        ("LeNet conv1, 2000 images", lenet, "conv1", mnist, None),
        ("LeNet conv2, 2000 images", lenet, "conv2", mnist, None),
        ("LeNet relu3, 2000 images", lenet, "relu3", mnist, None),
        ("VGG16 112px block3_conv3, 128 images", vgg, "block3_conv3", photos, 0),
        ("VGG16 112px block5_conv3, 128 images", vgg, "block5_conv3", photos, 0),
    ):
        calls = {
            "top": lambda: kv.top_activating(model, layer, x, k=9, batch_size=64, progress=False),
            "rel": lambda: kv.relevance_maximization(
                model, layer, x, k=9, target=target, batch_size=64, progress=False
            ),
            "floor": _gradient_floor(model, layer, x, target),
        }
        best = _interleaved(calls, rounds=3)
        rows += [
            row(f"{name}: top_activating", len(x) / best["top"], "img/s"),
            row(f"{name}: relevance_maximization", len(x) / best["rel"], "img/s"),
            row(f"{name}: relevance / activation throughput", best["top"] / best["rel"], "x", target=">= 0.8"),
            row(
                f"{name}: relevance / its floor throughput",
                best["floor"] / best["rel"],
                "x",
                note="floor: compiled forward + plain gradient to the layer",
            ),
        ]
    return rows


BENCHMARKS = {
    "concepts_tcav": bench_tcav,
    "concepts_nmf_throughput": bench_nmf_throughput,
    "concepts_nmf_memory": bench_nmf_memory,
    "concepts_crp": bench_crp,
    "concepts_relevance_maximization": bench_relevance_maximization,
}
