"""The timing half of `kerasviz doctor`: one VGG16 step measured, the notebooks' heavy cells derived from it.

A cell's time is `passes x step time x share`: the forward or
forward+backward passes it makes (images per step x steps, counted from the
cell's settings), the measured time of one such pass of VGG16 on one
224 x 224 image, and the share of VGG16's multiply-adds the cell runs (up to
its layer, scaled by its image area). Quick mode counts the same passes with
the quick-mode step caps (`kv.max_steps`).
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass

import numpy as np

FULL_SIDE = 224


@dataclass(frozen=True)
class StepTime:
    """Seconds for one 224 x 224 image through VGG16 (with its classifier)."""

    forward: float
    backward: float  # forward + backward to the input
    flops: dict  # layer name -> multiply-adds of that layer at 224 x 224 (classifier included)


def layer_flops(model) -> dict:
    """Multiply-adds per Conv2D / Dense layer of a built model, in layer order: `{name: count}`."""
    import keras

    counts = {}
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            h, w, cout = layer.output.shape[1:]
            kh, kw, cin, _ = layer.kernel.shape
            counts[layer.name] = int(h) * int(w) * int(kh) * int(kw) * int(cin) * int(cout)
        elif isinstance(layer, keras.layers.Dense):
            counts[layer.name] = int(layer.kernel.shape[0]) * int(layer.kernel.shape[1])
    return counts


def _median_time(fn, repeats: int = 3) -> float:
    fn()  # trace and warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def measure_vgg16(model=None, repeats: int = 3) -> StepTime:
    """Time one forward and one forward+backward pass of VGG16 (untrained unless `model` is given) at batch 1."""
    import tensorflow as tf

    from kerasviz.loaders import load_vgg16

    model = model if model is not None else load_vgg16(weights=None, seed=None)  # the weights do not change the time
    side = model.inputs[0].shape[1] or FULL_SIDE
    x = tf.random.stateless_uniform((1, side, side, int(model.inputs[0].shape[-1])), seed=(0, 0), maxval=255.0)

    @tf.function
    def forward(x):
        return model(x, training=False)

    @tf.function
    def backward(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            score = tf.reduce_max(model(x, training=False), axis=-1)
        return tape.gradient(score, x)

    return StepTime(
        _median_time(lambda: forward(x).numpy(), repeats),
        _median_time(lambda: backward(x).numpy(), repeats),
        layer_flops(model),
    )


def share(step: StepTime, layer: str | None, side: int) -> float:
    """The share of a full 224 x 224 VGG16 pass run up to `layer` (None: the whole model) on `side`-px images."""
    names = list(step.flops)
    total = sum(step.flops.values())
    upto = names if layer is None else names[: names.index(layer) + 1]
    conv = sum(step.flops[n] for n in upto if not n.startswith(("fc", "predictions")))
    dense = sum(step.flops[n] for n in upto if n.startswith(("fc", "predictions")))
    return (conv * (side / FULL_SIDE) ** 2 + dense) / total


@contextlib.contextmanager
def _quick_mode():
    """Quick mode in this process for the duration (to read the caps `kv.max_steps` applies)."""
    previous = os.environ.get("KERASVIZ_QUICK")
    os.environ["KERASVIZ_QUICK"] = "1"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("KERASVIZ_QUICK", None)
        else:
            os.environ["KERASVIZ_QUICK"] = previous


@dataclass(frozen=True)
class Workload:
    """One heavy notebook cell: `parts` of (layer, side, images per step, steps, quick cap, backward?).

    `quick_parts`, when given, are what the cell runs in quick mode (steps
    used as given); otherwise quick mode caps the steps of `parts`.
    """

    notebook: str
    cell: str
    parts: tuple
    quick_parts: tuple | None = None

    def _parts(self, quick: bool) -> list:
        if quick and self.quick_parts is not None:
            return [
                (layer, side, images, steps, steps, backward, False)
                for layer, side, images, steps, _, backward in self.quick_parts
            ]
        return [(*part, quick) for part in self.parts]

    def passes(self, quick: bool) -> int:
        return sum(images * self._steps(steps, cap, q) for _, _, images, steps, cap, _, q in self._parts(quick))

    @staticmethod
    def _steps(steps: int, cap: int | None, quick: bool) -> int:
        from kerasviz._config import max_steps

        if not quick:
            return steps
        with _quick_mode():
            return max_steps(steps, quick=cap)

    def seconds(self, step: StepTime, quick: bool) -> float:
        total = 0.0
        for layer, side, images, steps, cap, backward, q in self._parts(quick):
            per_pass = (step.backward if backward else step.forward) * share(step, layer, side)
            total += images * self._steps(steps, cap, q) * per_pass
        return total


def _octaves(side: int, steps: int, octaves: int, scale: float) -> list[tuple[int, int]]:
    """`[(side, steps)]` per octave, smallest first, as feature visualization splits them."""
    sides = [max(8, int(round(side / scale**k))) for k in reversed(range(octaves))]
    return [(s, steps // octaves + (1 if k < steps % octaves else 0)) for k, s in enumerate(sides)]


def workloads() -> list[Workload]:
    """The heavy VGG16 cells of the notebooks and `kerasviz inspect`, with the settings they run."""
    blocks = ["block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3", "block5_conv3"]
    report_layers = ["block1_conv2", "block3_conv3", "block5_conv3"]

    def report(photos, filters, steps, ig, grid, size, octaves):
        """Filter maximization (at the shown size, in octaves), IG, occlusion, saliency and Grad-CAM."""
        fv = tuple(
            (layer, s, filters, n, n, True) for layer in report_layers for s, n in _octaves(size, steps, octaves, 2.0)
        )
        return fv + (
            (None, FULL_SIDE, photos, ig, ig, True),
            (None, FULL_SIDE, photos * (grid * grid + 1), 1, 1, False),
            (None, FULL_SIDE, 2 * photos, 1, 1, True),
        )

    return [
        Workload(
            "00",
            "filter maximization, 5 blocks x 4 filters, 64 px",
            tuple((block, 64, 4, 256, None, True) for block in blocks),
        ),
        Workload("00", "class maximization, 1 class (visualize_classes)", ((None, FULL_SIDE, 1, 256, None, True),)),
        Workload("03", "integrated gradients, 1 image, 50 steps", ((None, FULL_SIDE, 1, 50, 16, True),)),
        Workload("03", "SmoothGrad, 1 image, 50 samples", ((None, FULL_SIDE, 1, 50, 8, True),)),
        Workload("03", "occlusion, 56 px patches (16 + 1 passes)", ((None, FULL_SIDE, 17, 1, 1, False),)),
        Workload(
            "04", "filter maximization, block3_conv1 x 12 filters, 96 px", (("block3_conv1", 96, 12, 256, None, True),)
        ),
        Workload(
            "04",
            "Deep Dream, 3 octaves x 10 steps, 160 px",
            tuple(("block4_conv3", s, 1, 10, None, True) for s, _ in _octaves(160, 30, 3, 1.4)),
        ),
        Workload("04", "inversion, 4 layers, 300 steps, 96 px", (("block4_conv3", 96, 1, 300, None, True),)),
        Workload(
            "04",
            "Explorer: feature vis. block5_conv3, 4 filters, 128 steps, 64 px",
            (("block5_conv3", 64, 4, 128, None, True),),
        ),
        Workload(
            "cli",
            "kerasviz inspect, 4 photos (--quick: 2)",
            report(4, 4, 32, 16, 7, 128, 2),
            quick_parts=report(2, 2, 8, 4, 3, 64, 1),
        ),
    ]


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min"


def expected_times_table(step: StepTime) -> str:
    """The table `kerasviz doctor` prints: each heavy cell's passes and expected time, full and quick."""
    rows = [("nb", "cell", "passes", "full", "quick")]
    for w in workloads():
        rows.append(
            (
                w.notebook,
                w.cell,
                f"{w.passes(False):,}",
                _duration(w.seconds(step, False)),
                _duration(w.seconds(step, True)),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = [
        "\nExpected time of the heavy cells on this machine (VGG16 passes x the step time above; "
        "a floor: optimisation overhead comes on top):"
    ]
    for row in rows:
        lines.append("  " + "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
    return "\n".join(lines)
