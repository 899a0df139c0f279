"""Concept methods: cost next to their floors, and flat memory when streaming.

- TCAV: `kv.tcav` with R random runs vs its floor measured in the same run
  (one gradient pass over the class images plus the activations of the concept
  and random sets): the R + R CAV fits and the dot products should add little.
- NMF concepts: the projection pass of `kv.nmf_concepts` (forward, NNLS on the
  fixed concepts, running top images) vs `kv.top_activating` on the same layer
  and data; with importance (gradient x coefficient) the pass also runs a backward.
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
    floor = lambda: (score_gradients(model, images, 3, layers=["relu3"], batch_size=32),
                     kv.activations(model, concept, "relu3"), kv.activations(model, pool, "relu3"))
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
        ("VGG16 (untrained) block3_conv3, 256 at 112px", kv.load_vgg16(weights=None, include_top=False,
                                                                     input_shape=(112, 112, 3)), "block3_conv3",
         rng.uniform(0, 255, (256, 112, 112, 3)).astype("float32")),
    ):
        top = lambda: kv.top_activating(model, layer, x, k=9, batch_size=64, progress=False)
        # a small fit sample (32 images), so the figures are the projection pass's
        forward = lambda: kv.nmf_concepts(model, layer, x, 8, importance=False, fit_images=32, max_vectors=5000,
                                          batch_size=64, progress=False)
        backward = lambda: kv.nmf_concepts(model, layer, x, 8, fit_images=32, max_vectors=5000, batch_size=64,
                                           progress=False)
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
        rows.append(row(f"LeNet relu3 nmf_concepts over a generator of {n} images: peak RSS", result["peak_kib"] / 1024,
                        "MiB", note=f"growth during the 2nd run {result['growth_kib'] / 1024:.1f} MiB"))
    rows.append(row("peak RSS ratio 20000 / 2000 images", peaks[20000] / peaks[2000], "x", "<= 1.05 (flat)"))
    return rows


BENCHMARKS = {"concepts_tcav": bench_tcav, "concepts_nmf_throughput": bench_nmf_throughput,
              "concepts_nmf_memory": bench_nmf_memory}
