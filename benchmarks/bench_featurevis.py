"""Feature visualization: 16 VGG16 block3_conv1 filters x 30 steps at 96 px.

Everything runs on the same truncated model (VGG16 up to block3_conv1, five
convolutions; untrained weights, timing does not depend on them), 16 images of
96x96, 30 steps:

- "bare loop": a compiled gradient-ascent step (pixels, no transforms, no
  regulariser) called from Python: the floor of one forward + backward per step.
- "kerasviz like-for-like": `visualize_filters` doing what tf-keras-vis's
  defaults do: pixel images, jitter 4 px + rotation within +-1 degree, a TV and
  an L1 penalty (tf-keras-vis: Jitter(4), Rotate2D(1), TotalVariation2D(1),
  Norm(0.3, p=1), RMSprop; ours: Adam, same cost).
- "kerasviz default": our default recipe, which does more per step (Fourier
  parameterization with decorrelated colour, Lucid's jitter/scale/rotate warp,
  pre-activation warm-up).
- each of those in float32 and in bfloat16 (`precision=`; "auto" picks
  bfloat16 on CPUs with native bfloat16 dot products and oneDNN).
- tf-keras-vis 0.8.7 `ActivationMaximization` with its defaults, given the same
  layer through its own `ExtractIntermediateLayer(block3_conv1)` (so it runs the
  same five convolutions), seed images uniform in [0, 255] as its docs do.
  Install it with `pip install -e ".[bench]"`.

Why tf-keras-vis costs more per step on the same model: its loop is eager, and
eager `tf.GradientTape` runs TensorFlow's Conv2D gradient function whole, which
computes the kernel gradient (`Conv2DBackpropFilter`, about one more forward
pass) next to the input gradient although only the input's is used; a compiled
graph prunes it. It also rotates on the host with scipy every step. In float32
about 2x is therefore what any compiled loop gains at this setting; beyond that
the arithmetic itself must get cheaper, which is what bfloat16 does.

Quality: bfloat16 and float32 on the same seeds, the mean objective reached
over the 16 filters (measured in float32 on the final images); bfloat16 must
reach it within 5 %. The cost model (`estimate_seconds`) is reported against
the measured time.

bfloat16 is only fast with TensorFlow's oneDNN kernels (on by default on x86
Linux); `run.py` switches oneDNN off for the other benchmarks' reproducibility,
so this benchmark runs itself in a child process with oneDNN on. The machine
is shared, so variants are timed interleaved (A B C ..., A B C ..., ...) and
each keeps its best run; wall-clock and process CPU time are both reported (CPU
time is far less sensitive to other processes), with the load average.
"""

from __future__ import annotations

import os
import time

import numpy as np
from _timing import row

LAYER, FILTERS, STEPS, SIZE = "block3_conv1", 16, 30, 96
REPEAT = int(os.environ.get("KERASVIZ_BENCH_REPEAT", "2"))


def _vgg():
    import kerasviz as kv

    return kv.load_vgg16(weights=None, include_top=False)


def _bare_loop(model):
    import keras
    import tensorflow as tf

    truncated = keras.Model(model.input, model.get_layer(LAYER).output)
    ids = tf.range(FILTERS)

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            score = tf.reduce_sum(tf.reduce_mean(tf.gather(truncated(x), ids, axis=-1, batch_dims=1), axis=(1, 2)))
        grad = tape.gradient(score, x)
        return x + 10.0 * tf.math.l2_normalize(grad, axis=(1, 2, 3))

    def run(steps=STEPS):
        x = tf.random.uniform((FILTERS, SIZE, SIZE, 3), -0.125, 0.125, seed=0)
        for _ in range(steps):
            x = step(x)
        return x.numpy()

    return run


def _ours(model, **options):
    import kerasviz as kv

    def run(steps=STEPS):
        return kv.visualize_filters(
            model, LAYER, filters=range(FILTERS), steps=steps, size=SIZE, progress=False, **options
        )

    return run


def _like_tf_keras_vis():
    from kerasviz.featurevis import regularizers, transforms

    return dict(
        param="pixels",
        transforms=[transforms.Jitter(4), transforms.Rotate(np.linspace(-1, 1, 21))],
        regularizers=[regularizers.TV(1.0), regularizers.Lp(0.3, p=1)],
    )


def _tf_keras_vis(model):
    try:
        from tf_keras_vis.activation_maximization import ActivationMaximization
        from tf_keras_vis.utils.model_modifiers import ExtractIntermediateLayer
        from tf_keras_vis.utils.scores import CategoricalScore
    except Exception:  # noqa: BLE001 - any import failure means "not available"
        return None
    import tensorflow as tf

    am = ActivationMaximization(model, model_modifier=ExtractIntermediateLayer(LAYER), clone=True)
    score = CategoricalScore(list(range(FILTERS)))
    seed_input = tf.random.uniform((FILTERS, SIZE, SIZE, 3), 0, 255, seed=0)

    def run(steps=STEPS):
        return am(score, seed_input=seed_input, steps=steps)

    return run


def _interleaved(runs: dict, repeat: int) -> tuple[dict, dict]:
    """Best (wall, cpu) seconds of each run, timed in turns after a short warm-up of each; and the last results."""
    for fn in runs.values():
        fn(steps=2)  # traces / builds everything a full run uses
    best = {name: (float("inf"), float("inf")) for name in runs}
    results = {}
    for _ in range(repeat):
        for name, fn in runs.items():
            wall, cpu = time.perf_counter(), time.process_time()
            results[name] = fn()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
    return best, results


def _measure() -> list:
    import kerasviz as kv
    from kerasviz.core.precision import bfloat16_support

    model = _vgg()
    runs = {"bare": _bare_loop(model)}
    for p in ("float32", "bfloat16"):
        runs[f"like {p}"] = _ours(model, precision=p, **_like_tf_keras_vis())
        runs[f"default {p}"] = _ours(model, precision=p)
    anchor = _tf_keras_vis(model)
    if anchor is not None:
        runs["tf-keras-vis"] = anchor
    load_before = os.getloadavg()[0]
    t, results = _interleaved(runs, REPEAT)
    load = f"load average {load_before:.1f} -> {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    native = bfloat16_support()
    note = f"{FILTERS} filters x {STEPS} steps, {SIZE}px, best of {REPEAT}; wall s / CPU s; {load}"
    rows = [
        row("bfloat16 native here", float(native[0]), "", note=native[1]),
        row("bare compiled loop (pixels, no transforms)", t["bare"][0], "s", note=f"CPU {t['bare'][1]:.3g} s; {note}"),
    ]
    for kind, label in (
        ("like", "like-for-like (pixels, jitter+rotate, TV+L1)"),
        ("default", "default (fourier, Lucid)"),
    ):
        for p in ("float32", "bfloat16"):
            name = f"{kind} {p}"
            rows.append(row(f"kerasviz {label}, {p}", t[name][0], "s", note=f"CPU {t[name][1]:.3g} s"))
        f32, b16 = results[f"{kind} float32"].scores, results[f"{kind} bfloat16"].scores
        rows.append(
            row(
                f"{kind}: bfloat16 objective / float32 objective",
                float(b16.mean() / f32.mean()),
                "x",
                target="0.95 .. 1.05",
                note=f"mean over {FILTERS} filters, same seeds",
            )
        )
        rows.append(
            row(
                f"{kind}: speed-up bfloat16 vs float32",
                t[f"{kind} float32"][0] / t[f"{kind} bfloat16"][0],
                "x",
                note=f"CPU ratio {t[f'{kind} float32'][1] / t[f'{kind} bfloat16'][1]:.3g}",
            )
        )
    rows.append(
        row(
            "ratio like-for-like float32 / bare loop",
            t["like float32"][0] / t["bare"][0],
            "x",
            target="<= 1.2",
            note=f"CPU ratio {t['like float32'][1] / t['bare'][1]:.3g}",
        )
    )
    for p in ("float32", "bfloat16"):
        estimate = kv.estimate_seconds(model, LAYER, range(FILTERS), steps=STEPS, size=SIZE, precision=p)
        rows.append(
            row(
                f"estimate_seconds / measured wall, default {p}",
                estimate / t[f"default {p}"][0],
                "x",
                note=f"estimate {estimate:.3g} s (timed on this machine as loaded now)",
            )
        )
    if anchor is None:
        rows.append(
            row(
                "tf-keras-vis ActivationMaximization",
                float("nan"),
                "",
                note="not installed (pip install -e '.[bench]')",
            )
        )
        return rows
    tk = t["tf-keras-vis"]
    rows.append(row("tf-keras-vis ActivationMaximization (defaults)", tk[0], "s", note=f"CPU {tk[1]:.3g} s"))
    for kind in ("like", "default"):
        for p in ("float32", "bfloat16"):
            name = f"{kind} {p}"
            rows.append(
                row(
                    f"speed-up {kind} {p} vs tf-keras-vis",
                    tk[0] / t[name][0],
                    "x",
                    target=">= 3.5" if p == "bfloat16" else ">= 2",
                    note=f"CPU ratio {tk[1] / t[name][1]:.3g}",
                )
            )
    return rows


def featurevis():
    os.environ.pop("KERASVIZ_QUICK", None)  # the benchmark needs the real step count
    from kerasviz.core.precision import onednn_enabled

    if onednn_enabled():
        return _measure()
    # bfloat16 needs oneDNN, which run.py switches off: measure in a child process with it on.
    import json
    import subprocess
    import sys

    env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS="1", TF_CPP_MIN_LOG_LEVEL="3")
    child = subprocess.run([sys.executable, __file__], env=env, capture_output=True, text=True, check=False)
    if child.returncode != 0:
        raise RuntimeError(f"featurevis benchmark child failed:\n{child.stderr[-2000:]}")
    return json.loads(child.stdout.strip().splitlines()[-1])


BENCHMARKS = {"featurevis": featurevis}

if __name__ == "__main__":  # the child process of featurevis(): rows as JSON on the last line
    import json

    print(json.dumps(_measure()))
