"""Regenerate the README's concept relevance (CRP) figures on a small CNN trained on real MNIST digits.

    KERASVIZ_MNIST=path/to/mnist.npz python tools/gallery_crp.py

Writes PNGs to docs/img/concepts/: the conditional heatmaps of the four most relevant conv2 channels
for three test digits, and, for six conv2 channels, the reference patches ranked by activation beside
those ranked by relevance for the digits' own labels. The CNN is the walkthrough's
(`gallery_walkthrough.train_mnist_cnn`), trained here in seconds.
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import numpy as np  # noqa: E402

import kerasviz as kv  # noqa: E402
from gallery_concepts import save  # noqa: E402
from gallery_walkthrough import train_mnist_cnn  # noqa: E402


def main():
    cnn, x, y, how = train_mnist_cnn()
    digits = x[[np.flatnonzero(y == d)[0] for d in (0, 4, 7)]]
    r = kv.crp(cnn, digits, layer="conv2", top=4, rule="epsilon", progress=False)
    save(kv.plot_crp(r, digits, title=f"CRP at conv2: the 4 most relevant channels per digit ({how})"),
         "crp_mnist.png")
    relevant = kv.relevance_maximization(cnn, "conv2", (x, y), k=8, target="labels", progress=False)
    active = kv.top_activating(cnn, "conv2", x, k=8, progress=False)
    channels = np.argsort(-np.abs(r.relevance).sum(0))[:6]
    save(kv.plot_relevance_maximization(relevant, filters=channels, activating=active,
                                        title="conv2 channels: top patches by activation vs by relevance"),
         "relmax_mnist.png")


if __name__ == "__main__":
    main()
