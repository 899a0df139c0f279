"""Regenerate the README's concept figures on a small CNN trained on real MNIST digits.

    KERASVIZ_MNIST=path/to/mnist.npz python tools/gallery_concepts.py

Writes PNGs to docs/img/concepts/: TCAV of drawn stroke concepts for three digits, the NMF concepts of
conv2 for the digit 7, an activation atlas of conv2 and caricatures. The CNN is the walkthrough's
(`gallery_walkthrough.train_mnist_cnn`), trained here in seconds.
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import kerasviz as kv  # noqa: E402
from gallery_walkthrough import DPI, train_mnist_cnn  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "img", "concepts")


def save(fig, name):
    from PIL import Image

    path = os.path.join(OUT, name)
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    Image.open(path).convert("RGB").quantize(256).save(path, optimize=True)
    print(f"wrote docs/img/concepts/{name} ({os.path.getsize(path) // 1000} kB)")


def strokes(kind, n, rng):
    """Drawn concept images: horizontal bars, vertical bars or rings, white on black like the digits."""
    out = np.zeros((n, 28, 28, 1), "float32")
    rows, cols = np.mgrid[:28, :28]
    for i in range(n):
        width = rng.integers(2, 4)
        if kind == "horizontal bar":
            r, c0, c1 = rng.integers(4, 24), rng.integers(2, 8), rng.integers(18, 26)
            out[i, r : r + width, c0:c1] = 1
        elif kind == "vertical bar":
            c, r0, r1 = rng.integers(4, 24), rng.integers(2, 8), rng.integers(18, 26)
            out[i, r0:r1, c : c + width] = 1
        else:
            cy, cx, radius = rng.uniform(11, 17), rng.uniform(11, 17), rng.uniform(5, 9)
            out[i, ..., 0] = np.abs(np.hypot(rows - cy, cols - cx) - radius) < width / 2 + 0.5
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    cnn, x, y, how = train_mnist_cnn()
    rng = np.random.default_rng(0)
    concepts = {k: strokes(k, 40, rng) for k in ("horizontal bar", "vertical bar", "ring")}
    pool = x[rng.permutation(len(x))[:600]]
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.4), sharey=True)
    for ax, digit in zip(axes, (0, 1, 7)):
        result = kv.tcav(cnn, "conv2", concepts, x[y == digit][:100], digit, random_images=pool, random_sets=10,
                         progress=False)
        kv.plot_tcav(result, ax=ax, title=f"digit {digit}")
    fig.suptitle(f"TCAV at conv2 ({how})", fontsize=9)
    save(fig, "tcav_mnist.png")

    sevens = x[y == 7]
    concepts = kv.nmf_concepts(cnn, "conv2", sevens, 6, target=7, progress=False)
    save(kv.plot_nmf_concepts(concepts, top=8, title="NMF concepts of conv2 on the 7s: top patches"), "nmf_patches.png")
    save(kv.plot_nmf_concepts(concepts, images=sevens[:4], title="NMF concepts of conv2: heatmaps"), "nmf_maps.png")

    atlas = kv.activation_atlas(cnn, "conv2", x, grid=6, steps=256, progress=False)
    save(kv.plot_activation_atlas(atlas), "atlas_mnist.png")
    digits = x[[np.flatnonzero(y == d)[0] for d in (0, 2, 3, 5, 7, 9)]]
    drawn = kv.caricature(cnn, "conv2", digits, steps=256, progress=False)
    save(kv.plot_caricature(drawn, digits), "caricature_mnist.png")


if __name__ == "__main__":
    main()
