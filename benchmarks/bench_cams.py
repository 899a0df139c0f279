"""Score-CAM, Ablation-CAM and RISE: ratios to the bare cost of the same forward passes.

- Score-CAM and Ablation-CAM on VGG16 (untrained, 224 px, one image,
  block5_conv3's 512 channels) against ONE compiled forward pass of the 512
  masked images, prebuilt, in the same chunks (target <= 1.3x). Ablation-CAM
  runs only the layers after block5_conv3 for each channel, so it is far
  below that floor; its ratio to the head-only floor is reported too.
- RISE with 4,000 masks against `model.predict` on the 4,000 masked images,
  prebuilt (target <= 1.3x), on VGG16 at `RISE_SIZE` px (96 by default,
  `KERASVIZ_BENCH_RISE_SIZE` to change it: at 224 px the timing takes about
  two hours on two shared cores). RISE runs as 4 calls of 1,000 masks, each
  call's clean forward pass and set-up counted.

Method and floor are timed in the order A B B A after a warm-up (a load that
drifts linearly costs both the same), and the load average is printed with
the figures: the machine is shared.

Precision: Score-CAM, occlusion (default 28 px patches, stride 14: 225
occluded copies) and Ablation-CAM on VGG16 at 224 px, and RISE (1,000 masks)
at `RISE_SIZE` px, each in float32 and in bfloat16 (`precision=`), timed
float32, bfloat16, bfloat16, float32, with the Spearman rank correlation of
the bfloat16 map to the float32 one (same seeds); and the same correlations
on a LeNet trained two epochs on `$KERASVIZ_MNIST` (an untrained VGG16's maps
are near-degenerate for Score-CAM and ill-conditioned for Ablation-CAM).
bfloat16 needs oneDNN, which `run.py` switches off, so this part runs in a
child process with it on.

    python benchmarks/run.py cams
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np
from _timing import row

SIZE, LAYER, CHUNK = 224, "block5_conv3", 16
RISE_SIZE, RISE_MASKS, RISE_CHUNK = int(os.environ.get("KERASVIZ_BENCH_RISE_SIZE", 96)), 4000, 32


def _load() -> str:
    with open("/proc/loadavg") as f:
        return "load " + " ".join(f.read().split()[:3])


def _abba(a, b) -> tuple[float, float]:
    """Total time of `a` and of `b` run in the order a, b, b, a: a load that drifts linearly
    during the run costs both the same."""
    times = []
    for fn in (a, b, b, a):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times[0] + times[3], times[1] + times[2]


def cam_ratios():
    import keras
    import tensorflow as tf

    import kerasviz as kv
    from kerasviz.core.gradients import forward_scorer
    from kerasviz.core.heads import layer_head

    keras.utils.set_random_seed(0)
    model = kv.load_vgg16(weights=None, input_shape=(SIZE, SIZE, 3))
    x = np.random.default_rng(0).uniform(-100, 100, (1, SIZE, SIZE, 3)).astype("float32")
    acts = kv.activations(model, x, LAYER)[LAYER]
    channels = acts.shape[-1]
    masked = tf.constant(np.repeat(x, CHUNK, 0))  # the floor's rows: what a masked chunk costs to score
    scorer = forward_scorer(model)
    classes = tf.fill((CHUNK,), 3)
    head = layer_head(model, LAYER)
    values = tf.constant(np.repeat(acts, CHUNK, 0))
    run_head = tf.function(lambda v: head(None, v))

    def floor():
        for _ in range(0, channels, CHUNK):
            scorer(masked, classes)[0].numpy()

    def head_floor():
        for _ in range(0, channels, CHUNK):
            run_head(values).numpy()

    score_cam = lambda: kv.score_cam(model, x, 3, layer=LAYER, mask_batch_size=CHUNK, progress=False)
    ablation = lambda: kv.ablation_cam(model, x, 3, layer=LAYER, mask_batch_size=CHUNK, progress=False)
    kv.score_cam(model, x, 3, layer=LAYER, mask_batch_size=CHUNK, max_channels=CHUNK, progress=False)  # warm-up
    ablation(), scorer(masked, classes), run_head(values)
    before = _load()
    ablation_time, head_time = _abba(ablation, head_floor)
    score_time, floor_time = _abba(score_cam, floor)
    ablation_vs_floor = (ablation_time / 2) / (floor_time / 2)
    note = f"{channels} channels, chunks of {CHUNK}, order A B B A; {before} -> {_load()}"
    return [
        row("Score-CAM / forward floor (VGG16 224 px)", score_time / floor_time, "x", "<= 1.3", note),
        row(
            "Ablation-CAM / forward floor (VGG16 224 px)",
            ablation_vs_floor,
            "x",
            "<= 1.3",
            "floor timed with Score-CAM",
        ),
        row("Ablation-CAM / head-only floor", ablation_time / head_time, "x", "", "the layers after block5_conv3 only"),
        row("forward floor: 512 VGG16 passes (mean of 2)", floor_time / 2, "s", "", ""),
        row("Score-CAM (mean of 2)", score_time / 2, "s", "", ""),
        row("Ablation-CAM (mean of 2)", ablation_time / 2, "s", "", ""),
    ]


def rise_ratio():
    import keras

    import kerasviz as kv
    from kerasviz.attribution.blackbox import rise_masks

    keras.utils.set_random_seed(0)
    model = kv.load_vgg16(weights=None, input_shape=(RISE_SIZE, RISE_SIZE, 3))
    x = np.random.default_rng(0).uniform(-100, 100, (1, RISE_SIZE, RISE_SIZE, 3)).astype("float32")
    blocks = 4  # 4 x 1000 masks, alternating with predict on the same 1000 masked images
    per_block = RISE_MASKS // blocks
    masks = rise_masks(per_block, (RISE_SIZE, RISE_SIZE), grid_size=7, seed=0)
    masked = (x * masks[..., None]).astype("float32")
    rise = lambda: kv.rise(model, x, 3, samples=per_block, mask_batch_size=RISE_CHUNK, progress=False)
    predict = lambda: model.predict(masked, batch_size=RISE_CHUNK, verbose=0)
    kv.rise(model, x, 3, samples=2 * RISE_CHUNK, mask_batch_size=RISE_CHUNK, progress=False)  # warm-up
    model.predict(masked[: 2 * RISE_CHUNK], batch_size=RISE_CHUNK, verbose=0)
    before = _load()
    rise_time = predict_time = 0.0
    for _ in range(blocks // 2):
        a, b = _abba(rise, predict)
        rise_time, predict_time = rise_time + a, predict_time + b
    note = f"{RISE_MASKS} masks in {blocks} calls, {RISE_SIZE} px, batches of {RISE_CHUNK}; {before} -> {_load()}"
    return [
        row(f"RISE / model.predict (VGG16 {RISE_SIZE} px)", rise_time / predict_time, "x", "<= 1.3", note),
        row("RISE, 4000 masks", rise_time, "s", "", ""),
        row("model.predict on the 4000 masked images", predict_time, "s", "", ""),
    ]


def _precision_pair(name, method, target):
    """Rows for `method(precision)` timed float32, bfloat16, bfloat16, float32, and the maps' Spearman correlation."""
    from kerasviz.testing import spearman

    wall, cpu, maps = {"float32": 0.0, "bfloat16": 0.0}, {"float32": 0.0, "bfloat16": 0.0}, {}
    before = _load()
    for p in ("float32", "bfloat16", "bfloat16", "float32"):
        w, c = time.perf_counter(), time.process_time()
        maps[p] = method(p)
        wall[p] += time.perf_counter() - w
        cpu[p] += time.process_time() - c
    note = f"order f32 b16 b16 f32; {before} -> {_load()}"
    return [
        row(f"{name}: float32 (mean of 2)", wall["float32"] / 2, "s", note=f"CPU {cpu['float32'] / 2:.3g} s; {note}"),
        row(f"{name}: bfloat16 (mean of 2)", wall["bfloat16"] / 2, "s", note=f"CPU {cpu['bfloat16'] / 2:.3g} s"),
        row(
            f"{name}: speed-up bfloat16 / float32",
            wall["float32"] / wall["bfloat16"],
            "x",
            target,
            note=f"CPU ratio {cpu['float32'] / cpu['bfloat16']:.3g}",
        ),
        row(f"{name}: Spearman bfloat16 map vs float32", spearman(maps["bfloat16"], maps["float32"]), "", ">= 0.98"),
    ]


def _precision_measure():
    import keras

    import kerasviz as kv
    from kerasviz.core.precision import bfloat16_support

    native = bfloat16_support()
    rows = [row("bfloat16 native here", float(native[0]), "", note=native[1])]
    keras.utils.set_random_seed(0)
    model = kv.load_vgg16(weights=None, input_shape=(SIZE, SIZE, 3))
    x = np.random.default_rng(0).uniform(-100, 100, (1, SIZE, SIZE, 3)).astype("float32")
    for p in ("float32", "bfloat16"):  # warm-up: trace every step in both precisions
        kv.score_cam(model, x, 3, layer=LAYER, mask_batch_size=CHUNK, max_channels=CHUNK, precision=p, progress=False)
        kv.occlusion(model, x, 3, patch=112, stride=112, mask_batch_size=CHUNK, precision=p, progress=False)
        kv.ablation_cam(model, x, 3, layer=LAYER, precision=p, progress=False)
    rows += _precision_pair(
        f"Score-CAM VGG16 {SIZE} px ({LAYER}, 512 masked passes)",
        lambda p: kv.score_cam(model, x, 3, layer=LAYER, mask_batch_size=CHUNK, precision=p, progress=False),
        ">= 1.6",
    )
    rows += _precision_pair(
        f"occlusion VGG16 {SIZE} px (patch 28, stride 14: 225 passes)",
        lambda p: kv.occlusion(model, x, 3, mask_batch_size=CHUNK, precision=p, progress=False),
        ">= 1.6",
    )
    rows += _precision_pair(
        f"Ablation-CAM VGG16 {SIZE} px ({LAYER}; the head after it is Dense, kept float32)",
        lambda p: kv.ablation_cam(model, x, 3, layer=LAYER, precision=p, progress=False),
        "",
    )
    rows += _ablation_block4(model, x)
    keras.utils.set_random_seed(0)
    small = kv.load_vgg16(weights=None, input_shape=(RISE_SIZE, RISE_SIZE, 3))
    xs = np.random.default_rng(0).uniform(-100, 100, (1, RISE_SIZE, RISE_SIZE, 3)).astype("float32")
    for p in ("float32", "bfloat16"):
        kv.rise(small, xs, 3, samples=2 * RISE_CHUNK, mask_batch_size=RISE_CHUNK, precision=p, progress=False)
    rows += _precision_pair(
        f"RISE VGG16 {RISE_SIZE} px (1,000 masks)",
        lambda p: kv.rise(small, xs, 3, samples=1000, mask_batch_size=RISE_CHUNK, precision=p, progress=False),
        "",
    )
    return rows + _trained_lenet_quality()


def _ablation_block4(model, x):
    """Ablation-CAM at block4_conv3, where three convolutions follow the cut (explicit bfloat16)."""
    import kerasviz as kv

    run = lambda p: kv.ablation_cam(model, x, 3, layer="block4_conv3", precision=p, progress=False)
    run("float32"), run("bfloat16")  # warm-up
    return _precision_pair(f"Ablation-CAM VGG16 {SIZE} px (block4_conv3: convolutions after the cut)", run, "")


def _trained_lenet_quality():
    """Spearman of bfloat16 vs float32 maps on a LeNet trained 2 epochs on $KERASVIZ_MNIST (8 test digits)."""
    import keras

    import kerasviz as kv
    from kerasviz.testing import spearman

    if not os.environ.get("KERASVIZ_MNIST"):
        return [row("trained LeNet quality", float("nan"), "", note="set KERASVIZ_MNIST to an MNIST .npz")]
    (xt, yt), (xs, ys) = kv.load_mnist()
    xt, xs = (xt[..., None] / 255.0).astype("float32"), (xs[..., None] / 255.0).astype("float32")
    keras.utils.set_random_seed(0)
    net = kv.lenet()
    net.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    net.fit(xt, yt, epochs=2, batch_size=128, verbose=0)
    accuracy = net.evaluate(xs, ys, verbose=0)[1]
    x = xs[:8]
    methods = {
        "Score-CAM": lambda p: kv.score_cam(net, x, layer="conv2", precision=p, progress=False),
        "Ablation-CAM": lambda p: kv.ablation_cam(net, x, layer="conv2", precision=p, progress=False),
        "RISE (1,000 masks)": lambda p: kv.rise(net, x, samples=1000, precision=p, progress=False),
        "occlusion (6 px, stride 2)": lambda p: kv.occlusion(net, x, patch=6, stride=2, precision=p, progress=False),
    }
    rows = []
    for name, method in methods.items():
        exact, fast = method("float32"), method("bfloat16")
        worst = min(spearman(a, b) for a, b in zip(exact, fast))
        rows.append(
            row(
                f"trained LeNet, {name}: lowest Spearman over 8 digits",
                worst,
                "",
                ">= 0.98",
                note=f"test accuracy {accuracy:.3f} after 2 epochs",
            )
        )
    return rows


def precision_ratios():
    os.environ.pop("KERASVIZ_QUICK", None)
    from kerasviz.core.precision import onednn_enabled

    if onednn_enabled():
        return _precision_measure()
    env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS="1", TF_CPP_MIN_LOG_LEVEL="3")
    child = subprocess.run(
        [sys.executable, __file__, "precision"], env=env, capture_output=True, text=True, check=False
    )
    if child.returncode != 0:
        raise RuntimeError(f"cams precision benchmark child failed:\n{child.stderr[-2000:]}")
    return json.loads(child.stdout.strip().splitlines()[-1])


BENCHMARKS = {
    "cams: Score-CAM and Ablation-CAM vs forward floor": cam_ratios,
    "cams: RISE vs model.predict": rise_ratio,
    "cams: precision (bfloat16 vs float32)": precision_ratios,
}

if __name__ == "__main__" and sys.argv[1:] == ["precision"]:  # the child of precision_ratios(): JSON rows
    print(json.dumps(_precision_measure()))
