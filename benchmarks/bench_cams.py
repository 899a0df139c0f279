"""Score-CAM, Ablation-CAM and RISE: ratios to the bare cost of the same forward passes.

- Score-CAM and Ablation-CAM on VGG16 (untrained, 224 px, one image,
  block5_conv3's 512 channels) against ONE compiled forward pass of the 512
  masked images, prebuilt, in the same chunks (target <= 1.3x). Ablation-CAM
  runs only the layers after block5_conv3 for each channel, so it is far
  below that floor; its ratio to the head-only floor is reported too.
- RISE with 4,000 masks against `model.predict` on the 4,000 masked images,
  prebuilt (target <= 1.3x), on VGG16 at `RISE_SIZE` px (128 by default:
  at 224 px the pair takes about an hour on two shared cores).

Method and floor are timed alternately in one run (a warm-up first), and
`uptime`'s load average is printed with the figures: the machine is shared.

    python benchmarks/run.py cams
"""
from __future__ import annotations

import os
import time

import numpy as np

from _timing import row

SIZE, LAYER, CHUNK = 224, "block5_conv3", 16
RISE_SIZE, RISE_MASKS, RISE_CHUNK = int(os.environ.get("KERASVIZ_BENCH_RISE_SIZE", 128)), 4000, 32


def _load() -> str:
    with open("/proc/loadavg") as f:
        return "load " + " ".join(f.read().split()[:3])


def _alternate(fns: dict, repeat: int) -> dict:
    best = {name: float("inf") for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def cam_ratios(repeat: int = 1):
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
    best = _alternate({"score_cam": score_cam, "floor": floor, "ablation_cam": ablation, "head": head_floor}, repeat)
    note = f"{channels} channels, chunks of {CHUNK}; {before} -> {_load()}"
    return [
        row("Score-CAM / forward floor (VGG16 224 px)", best["score_cam"] / best["floor"], "x", "<= 1.3", note),
        row("Ablation-CAM / forward floor (VGG16 224 px)", best["ablation_cam"] / best["floor"], "x", "<= 1.3", note),
        row("Ablation-CAM / head-only floor", best["ablation_cam"] / best["head"], "x", "", "the layers after block5_conv3 only"),
        row("forward floor: 512 VGG16 passes", best["floor"], "s", "", ""),
        row("Score-CAM", best["score_cam"], "s", "", ""),
        row("Ablation-CAM", best["ablation_cam"], "s", "", ""),
    ]


def rise_ratio(repeat: int = 1):
    import keras
    import tensorflow as tf

    import kerasviz as kv
    from kerasviz.attribution.blackbox import rise_masks

    keras.utils.set_random_seed(0)
    model = kv.load_vgg16(weights=None, input_shape=(RISE_SIZE, RISE_SIZE, 3))
    x = np.random.default_rng(0).uniform(-100, 100, (1, RISE_SIZE, RISE_SIZE, 3)).astype("float32")
    masks = rise_masks(RISE_MASKS, (RISE_SIZE, RISE_SIZE), grid_size=7, seed=0)
    masked = (x * masks[..., None]).astype("float32")
    rise = lambda: kv.rise(model, x, 3, samples=RISE_MASKS, mask_batch_size=RISE_CHUNK, progress=False)
    predict = lambda: model.predict(masked, batch_size=RISE_CHUNK, verbose=0)
    kv.rise(model, x, 3, samples=2 * RISE_CHUNK, mask_batch_size=RISE_CHUNK, progress=False)  # warm-up
    model.predict(masked[: 2 * RISE_CHUNK], batch_size=RISE_CHUNK, verbose=0)
    before = _load()
    best = _alternate({"rise": rise, "predict": predict}, repeat)
    note = f"{RISE_MASKS} masks, {RISE_SIZE} px, batches of {RISE_CHUNK}; {before} -> {_load()}"
    return [
        row(f"RISE / model.predict (VGG16 {RISE_SIZE} px)", best["rise"] / best["predict"], "x", "<= 1.3", note),
        row("RISE", best["rise"], "s", "", ""),
        row("model.predict on the masked images", best["predict"], "s", "", ""),
    ]


BENCHMARKS = {"cams: Score-CAM and Ablation-CAM vs forward floor": cam_ratios, "cams: RISE vs model.predict": rise_ratio}
