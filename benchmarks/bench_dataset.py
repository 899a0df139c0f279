"""Dataset views: top-k scan throughput vs `predict` on the truncated model, and flat memory.

Throughput: `kv.top_activating` over an array vs `Model.predict` of the model
cut at the same layer (`kv.feature_extractor`), same data and batch size, both
timed in this run (best of N). The target is >= 0.9x predict's throughput: the
running top-k (max + argmax over positions, then a (filters, k + batch) top_k)
should cost little next to the convolutions.

Memory: the scan reads a generator of batches (so the data itself is never
held); each dataset size runs in a fresh process and reports its peak RSS. A
flat top-k keeps the two peaks within a few percent.

Neuron Features of a deep layer (MobileNetV2 `Conv_1`, untrained, 224 px: a
491 px receptive field, 1,280 filters) at k = 20: peak RSS growth of
`kv.neuron_feature` in a fresh process, next to what full-size features
(filters x field^2 x C floats) and all patches at once would take.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
from _timing import best_time, row


def _throughput(name, model, layer, x, batch_size=64, repeat=3):
    import kerasviz as kv

    fx = kv.feature_extractor(model, [layer])
    predict = lambda: fx.predict(x, batch_size=batch_size, verbose=0)
    scan = lambda: kv.top_activating(model, layer, x, k=9, batch_size=batch_size, progress=False)
    t_predict = best_time(predict, repeat=repeat)
    t_scan = best_time(scan, repeat=repeat)
    return [
        row(f"{name}: predict (truncated model)", len(x) / t_predict, "img/s"),
        row(f"{name}: top_activating k=9", len(x) / t_scan, "img/s"),
        row(f"{name}: throughput ratio scan / predict", t_predict / t_scan, "x", ">= 0.9"),
    ]


def bench_topk_throughput():
    import kerasviz as kv
    from kerasviz.testing import small_cnn

    rng = np.random.default_rng(0)
    rows = []
    rows += _throughput("LeNet conv2, 4000 MNIST-size", kv.lenet(), "conv2", rng.normal(size=(4000, 28, 28, 1)).astype("float32"))
    rows += _throughput("small_cnn conv2, 4000 16x16", small_cnn(), "conv2", rng.normal(size=(4000, 16, 16, 3)).astype("float32"))
    vgg = kv.load_vgg16(weights=None, include_top=False, input_shape=(112, 112, 3))
    rows += _throughput("VGG16 (untrained) block3_conv3, 128 at 112px", vgg, "block3_conv3",
                        rng.normal(size=(128, 112, 112, 3)).astype("float32"), batch_size=32, repeat=2)
    return rows


_MEMORY = textwrap.dedent(
    """
    import json, resource, sys, numpy as np
    import kerasviz as kv
    n = int(sys.argv[1])
    model = kv.lenet()
    rng = np.random.default_rng(0)
    def batches():
        for start in range(0, n, 250):
            yield rng.normal(size=(min(250, n - start), 28, 28, 1)).astype("float32")
    kv.top_activating(model, "conv2", batches(), k=9, progress=False)  # warm-up: trace, allocate
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    top = kv.top_activating(model, "conv2", batches(), k=9, progress=False)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"count": top.count, "peak_kib": after, "growth_kib": after - before, "kept": len(top._source)}))
    """
)


def bench_topk_memory():
    rows = []
    peaks = {}
    for n in (2000, 20000):
        done = subprocess.run([sys.executable, "-c", _MEMORY, str(n)], capture_output=True, text=True, timeout=900)
        if done.returncode:
            return [row("memory run failed", 0.0, note=done.stderr[-300:])]
        result = json.loads(done.stdout.strip().splitlines()[-1])
        peaks[n] = result["peak_kib"]
        rows.append(row(f"LeNet conv2 top-9 over a generator of {n} images: peak RSS", result["peak_kib"] / 1024, "MiB",
                        note=f"growth during the 2nd scan {result['growth_kib'] / 1024:.1f} MiB; {result['kept']} top images kept"))
    rows.append(row("peak RSS ratio 20000 / 2000 images", peaks[20000] / peaks[2000], "x", "<= 1.05 (flat)"))
    return rows


_NEURON_FEATURE = textwrap.dedent(
    """
    import json, resource, time, numpy as np, keras
    import kerasviz as kv
    model = keras.applications.MobileNetV2(weights=None, include_top=False, input_shape=(224, 224, 3))
    x = np.random.default_rng(0).uniform(-1, 1, (24, 224, 224, 3)).astype("float32")
    top = kv.top_activating(model, "Conv_1", x, k=20, progress=False)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    nf = kv.neuron_feature(top)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    f, k = top.indices.shape
    print(json.dumps({"growth_kib": after - before, "seconds": seconds, "result": nf.images.nbytes,
                      "field": top.receptive_field.size[0], "patch": top.patch_size[0], "filters": f, "k": k,
                      "side": nf.images.shape[1]}))
    """
)


def bench_neuron_feature_memory():
    done = subprocess.run([sys.executable, "-c", _NEURON_FEATURE], capture_output=True, text=True, timeout=1800)
    if done.returncode:
        return [row("neuron_feature memory run failed", 0.0, note=done.stderr[-300:])]
    r = json.loads(done.stdout.strip().splitlines()[-1])
    full = r["filters"] * r["field"] ** 2 * 3 * 4
    patches = full * r["k"]
    return [
        row("MobileNetV2 Conv_1 neuron_feature k=20 (1,280 filters, 224 px): peak RSS growth",
            r["growth_kib"] / 1024, "MiB", note=f"result {r['result'] / 2**20:.0f} MiB "
            f"({r['side']} px features from {r['patch']} px patches of a {r['field']} px field), {r['seconds']:.1f} s"),
        row("the same at full field size: features alone / all patches at once", full / 2**30, "GiB",
            note=f"all patches {patches / 2**30:.0f} GiB"),
    ]


BENCHMARKS = {"dataset_topk_throughput": bench_topk_throughput, "dataset_topk_memory": bench_topk_memory,
              "dataset_neuron_feature_memory": bench_neuron_feature_memory}
