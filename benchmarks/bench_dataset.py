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

Precision: `kv.top_activating(..., precision="bfloat16")` against the float32
scan over 2,000 images (VGG16 block3_conv3, untrained, at `PRECISION_SIZE` px;
LeNet conv2 on MNIST-size images and the test suite's small CNN for
reference), timed in the order float32, bfloat16, bfloat16, float32 (a load
that drifts linearly costs both the same), with the load average. Quality:
the fraction of filters whose top-9 set equals the float32 ranking, exactly
and up to near-ties (`kerasviz.testing.top_k_agreement`: images whose float32
maxima are within two bfloat16 steps, 2^-6 of the filter's largest). bfloat16
needs oneDNN, which `run.py` switches off, so this part runs in a child
process with it on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

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
    rows += _throughput(
        "LeNet conv2, 4000 MNIST-size", kv.lenet(), "conv2", rng.normal(size=(4000, 28, 28, 1)).astype("float32")
    )
    rows += _throughput(
        "small_cnn conv2, 4000 16x16", small_cnn(), "conv2", rng.normal(size=(4000, 16, 16, 3)).astype("float32")
    )
    vgg = kv.load_vgg16(weights=None, include_top=False, input_shape=(112, 112, 3))
    rows += _throughput(
        "VGG16 (untrained) block3_conv3, 128 at 112px",
        vgg,
        "block3_conv3",
        rng.normal(size=(128, 112, 112, 3)).astype("float32"),
        batch_size=32,
        repeat=2,
    )
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
        rows.append(
            row(
                f"LeNet conv2 top-9 over a generator of {n} images: peak RSS",
                result["peak_kib"] / 1024,
                "MiB",
                note=f"growth during the 2nd scan {result['growth_kib'] / 1024:.1f} MiB; {result['kept']} top images kept",
            )
        )
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
        row(
            "MobileNetV2 Conv_1 neuron_feature k=20 (1,280 filters, 224 px): peak RSS growth",
            r["growth_kib"] / 1024,
            "MiB",
            note=f"result {r['result'] / 2**20:.0f} MiB "
            f"({r['side']} px features from {r['patch']} px patches of a {r['field']} px field), {r['seconds']:.1f} s",
        ),
        row(
            "the same at full field size: features alone / all patches at once",
            full / 2**30,
            "GiB",
            note=f"all patches {patches / 2**30:.0f} GiB",
        ),
    ]


PRECISION_IMAGES = int(os.environ.get("KERASVIZ_BENCH_TOPK_IMAGES", 2000))
PRECISION_SIZE, PRECISION_K = int(os.environ.get("KERASVIZ_BENCH_TOPK_SIZE", 64)), 9


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f}/{five:.1f}/{fifteen:.1f}"


def _precision_case(name, model, layer, x):
    import kerasviz as kv
    from kerasviz.testing import top_k_agreement

    scan = {
        p: (lambda p=p: kv.top_activating(model, layer, x, k=PRECISION_K, precision=p, progress=False))
        for p in ("float32", "bfloat16")
    }
    for p in scan:  # trace both, and build the bfloat16 variant, before timing
        kv.top_activating(model, layer, x[:128], k=PRECISION_K, precision=p, progress=False)
    before = _load()
    wall, cpu, result = {"float32": 0.0, "bfloat16": 0.0}, {"float32": 0.0, "bfloat16": 0.0}, {}
    for p in ("float32", "bfloat16", "bfloat16", "float32"):
        w, c = time.perf_counter(), time.process_time()
        result[p] = scan[p]()
        wall[p] += time.perf_counter() - w
        cpu[p] += time.process_time() - c
    after = _load()
    every = kv.top_activating(model, layer, x, k=len(x), precision="float32", progress=False)  # every image, ranked
    reference = np.zeros((len(x), every.indices.shape[0]), np.float64)
    for f in range(every.indices.shape[0]):
        reference[every.indices[f], f] = every.values[f]
    assert top_k_agreement(reference, result["float32"].indices) == (1.0, 1.0)
    identical, up_to_ties = top_k_agreement(reference, result["bfloat16"].indices)
    note = f"{len(x)} images, k={PRECISION_K}, order f32 b16 b16 f32; load {before} -> {after}"
    return [
        row(f"{name}: top-k float32 (2 runs)", wall["float32"], "s", note=f"CPU {cpu['float32']:.3g} s; {note}"),
        row(f"{name}: top-k bfloat16 (2 runs)", wall["bfloat16"], "s", note=f"CPU {cpu['bfloat16']:.3g} s"),
        row(
            f"{name}: speed-up bfloat16 / float32",
            wall["float32"] / wall["bfloat16"],
            "x",
            ">= 1.6" if "VGG" in name else "",
            note=f"CPU ratio {cpu['float32'] / cpu['bfloat16']:.3g}",
        ),
        row(
            f"{name}: top-{PRECISION_K} sets identical to float32", identical, "", note=f"{reference.shape[1]} filters"
        ),
        row(
            f"{name}: identical up to near-ties",
            up_to_ties,
            "",
            ">= 0.95",
            note="ties: within 2^-6 of the filter's max",
        ),
    ]


def _precision_measure():
    import kerasviz as kv
    from kerasviz.core.precision import bfloat16_support
    from kerasviz.testing import small_cnn

    rng = np.random.default_rng(0)
    native = bfloat16_support()
    rows = [row("bfloat16 native here", float(native[0]), "", note=native[1])]
    size = PRECISION_SIZE
    vgg = kv.load_vgg16(weights=None, include_top=False, input_shape=(size, size, 3))
    x = rng.uniform(-100, 100, (PRECISION_IMAGES, size, size, 3)).astype("float32")
    rows += _precision_case(f"VGG16 (untrained) block3_conv3, {size} px", vgg, "block3_conv3", x)
    if os.environ.get("KERASVIZ_MNIST"):
        digits = kv.load_mnist()[1][0][:PRECISION_IMAGES]
        mnist, label = (digits[..., None] / 255.0).astype("float32"), "MNIST test digits"
    else:
        mnist, label = rng.uniform(0, 1, (PRECISION_IMAGES, 28, 28, 1)).astype("float32"), "uniform noise"
    rows += _precision_case(f"LeNet (untrained) conv2, {label}", kv.lenet(), "conv2", mnist)
    rows += _precision_case(
        "small_cnn conv2, 16 px",
        small_cnn(),
        "conv2",
        rng.uniform(0, 1, (PRECISION_IMAGES, 16, 16, 3)).astype("float32"),
    )
    return rows


def bench_topk_precision():
    os.environ.pop("KERASVIZ_QUICK", None)
    from kerasviz.core.precision import onednn_enabled

    if onednn_enabled():
        return _precision_measure()
    env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS="1", TF_CPP_MIN_LOG_LEVEL="3")
    child = subprocess.run(
        [sys.executable, __file__, "precision"], env=env, capture_output=True, text=True, check=False
    )
    if child.returncode != 0:
        raise RuntimeError(f"top-k precision benchmark child failed:\n{child.stderr[-2000:]}")
    return json.loads(child.stdout.strip().splitlines()[-1])


BENCHMARKS = {
    "dataset_topk_throughput": bench_topk_throughput,
    "dataset_topk_memory": bench_topk_memory,
    "dataset_neuron_feature_memory": bench_neuron_feature_memory,
    "dataset_topk_precision": bench_topk_precision,
}

if __name__ == "__main__" and sys.argv[1:] == ["precision"]:  # the child of bench_topk_precision(): JSON rows
    print(json.dumps(_precision_measure()))
