"""Reproduce Rafegas & Vanrell (arXiv:1511.05084) on MNIST LeNet: Table 1, Figures 1, 3, 4, baselines.

    KERASVIZ_MNIST=/path/to/mnist.npz python benchmarks/reproduce_decoding.py [--epochs 20] [--retrain]

Trains (or loads from the cache) the MatConvNet LeNet with the MatConvNet recipe,
then follows the paper's Table-1 protocol: CNN
response = conv output (pre-pool, pre-ReLU, with bias) on the mean-subtracted
input; decoded response = valid correlation of the same input with the decoded
filters at the layer's stride; per image, one min-max normalisation of the whole
response tensor (CNN and decoded separately); MSE; mean ± std over test images.
Writes docs/decoding_results.md and PNGs under docs/img/decoding/. Not run in CI.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402

import kerasviz as kv  # noqa: E402
from kerasviz.decoding.characters import CHARACTERS  # noqa: E402
from kerasviz.decoding.substitution import decoding_plan, input_geometry  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
IMG = ROOT / "docs" / "img" / "decoding"
PAPER = {"conv2": (0.002, 0.001), "conv3": (0.012, 0.005), "conv4": (0.078, 0.056)}
L = {"conv1": "L1", "conv2": "L3", "conv3": "L5", "conv4": "L7"}
METHODS = ("bicubic", "nearest", "bilinear")


def save(fig, name):
    fig.savefig(IMG / name, dpi=110, bbox_inches="tight")
    matplotlib.pyplot.close(fig)
    return f"img/decoding/{name}"  # relative to docs/decoding_results.md


def table1(model, x):
    cnn = kv.activations(model, x, layers=list(PAPER))
    rows, errs = [], {}
    for name in PAPER:
        cells = {}
        for method in METHODS:
            e = kv.decoding_error(cnn[name], kv.decoded_response(model, name, x, unpool=method))
            cells[method] = (e.mean(), e.std())
        for reading in ("rot180", "matrix_transpose"):
            df = kv.decode_filters_transposed(model, name, reading, "bicubic")
            e = kv.decoding_error(cnn[name], kv.decoded_response(model, name, x, decoded=df))
            cells[reading] = (e.mean(), e.std())
        errs[name] = cells
        fmt = lambda m: f"{cells[m][0]:.4f} ± {cells[m][1]:.4f}"
        ratio = cells["bicubic"][0] / PAPER[name][0]
        rows.append(
            f"| {L[name]} ({name}) | {fmt('bicubic')} | {fmt('nearest')} | {fmt('bilinear')} | "
            f"{cells['rot180'][0]:.4f} | {cells['matrix_transpose'][0]:.4f} | "
            f"{PAPER[name][0]:.3f} ± {PAPER[name][1]:.3f} | {ratio:.2f} |"
        )
    header = (
        "| layer | bicubic | nearest | bilinear | rot180 paste (bicubic) | matrix transpose (bicubic) | paper | ours/paper (bicubic) |\n"
        "|---|---|---|---|---|---|---|---|"
    )
    return header + "\n" + "\n".join(rows), errs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--retrain", action="store_true")
    args = parser.parse_args(argv)
    IMG.mkdir(parents=True, exist_ok=True)
    (xt, yt), (xs, ys) = kv.load_mnist()
    start = time.time()
    net = kv.load_trained_lenet(epochs=args.epochs, seed=args.seed, retrain=args.retrain, verbose=0)
    model, x = net.model, net.prepare(xs)
    out = [
        "# Filter decoding reproduction (Rafegas & Vanrell 2015) on MNIST LeNet\n",
        f"Data: real MNIST digits, {len(xt)} train / {len(xs)} test (stratified; `kv.load_mnist` on the shared "
        f"10k file). Network: {net.label} (MatConvNet recipe: 0-255 minus mean image, SGD lr 0.001, momentum 0.9, "
        f"weight decay 0.0005, batch 100). Seed {args.seed}.\n",
    ]

    table, errs = table1(model, x)
    out += [
        "## Table 1: MSE between CNN and decoded responses (mean ± std over the test images)\n",
        "Protocol: per image, one min-max normalisation of the whole (h, w, K) response tensor, separately "
        "for CNN and decoded; MSE over elements. Transposed-filter readings decode with the kernel rotated "
        "by 180° or matrix-transposed at every conv.\n",
        table,
        "",
    ]

    # Figure 1: decoded L7 class filters.
    df7 = kv.decode_filters(model, "conv4")
    scores = kv.decoded_response(model, "conv4", x, decoded=df7).reshape(len(x), -1)
    matrix, argmax, hit = kv.class_max_matrix(scores, ys)
    logits = kv.activations(model, x, layers=["conv4"])["conv4"].reshape(len(x), -1)
    _, _, hit_cnn = kv.class_max_matrix(logits, ys)
    clf = float((scores.argmax(1) == ys).mean())
    agree = float((scores.argmax(1) == logits.argmax(1)).mean())
    fig1 = save(
        kv.plot_class_matrix(matrix, xs[argmax], df7, hit_rate=hit, title="Decoded L7 filters (bicubic)"),
        "figure1_class_matrix.png",
    )
    out += [
        "## Figure 1: decoded L7 (class) filters over the test images\n",
        f"- diagonal hit rate (decoded filters): **{hit:.2f}**; same score for the CNN's own logits: {hit_cnn:.2f}",
        f"- decoded-filter classifier (argmax_k I ⋆ df_k): accuracy {clf:.3f}, agreement with the CNN {agree:.3f} "
        f"(CNN accuracy {net.test_accuracy:.3f})",
        f"- ![Figure 1]({fig1})",
        "",
    ]

    # Figure 3: responses for one image.
    i = int(np.flatnonzero(ys == 5)[0])
    cnn = kv.activations(model, x[i : i + 1], layers=["conv1", "conv2", "conv3"])
    dec = {n: kv.decoded_response(model, n, x[i]) for n in cnn}
    fig3 = save(
        kv.plot_response_comparison(xs[i], {n: v[0] for n, v in cnn.items()}, dec, title="CNN vs decoded responses"),
        "figure3_responses.png",
    )
    out += ["## Figure 3: CNN vs decoded responses (one test image)\n", f"![Figure 3]({fig3})", ""]

    # Figure 4: galleries, thresholded views, top images, Z&F deconvnet.
    figs = []
    for name, filters in [("conv1", None), ("conv2", None), ("conv4", None)]:
        df = kv.decode_filters(model, name)
        figs.append(
            save(
                kv.plot_decoded_filters(df, labels=range(len(df)), cols=10, title=f"{L[name]} decoded filters"),
                f"figure4_{name}.png",
            )
        )
    resp5 = kv.activations(model, x, layers=["conv3"])["conv3"][:, 0, 0]
    fives = np.argsort(-resp5[ys == 5].mean(0))[:7]  # L5 filters that respond most to fives
    df5 = kv.decode_filters(model, "conv3", filters=fives)
    figs.append(
        save(
            kv.plot_decoded_filters(df5, labels=fives, title="L5 decoded filters: 7 of 500 sharing class 5"),
            "figure4_conv3_fives.png",
        )
    )
    figs.append(
        save(
            kv.plot_decoded_filters(df5, labels=fives, threshold=0.3, title="L5, thresholded (a)"),
            "figure4_conv3_thresholded.png",
        )
    )
    figs.append(
        save(
            kv.plot_decoded_filters(df7, labels=range(10), threshold=0.3, title="L7, thresholded (e)"),
            "figure4_conv4_thresholded.png",
        )
    )
    plan = decoding_plan(model, "conv2")
    (stride, offset, _), _ = input_geometry(plan, 28, 28)
    cnn2 = kv.activations(model, x, layers=["conv2"])["conv2"]
    dec2 = kv.decoded_response(model, "conv2", x)
    for k in (0, 1):
        ci, _, cp = kv.top_locations(cnn2, k, 4)
        di, _, dp = kv.top_locations(dec2, k, 4)
        figs.append(
            save(
                kv.plot_top_images(
                    kv.decode_filters(model, "conv2", filters=[k])[0],
                    xs[ci],
                    cp,
                    xs[di],
                    dp,
                    stride=stride,
                    offset=offset,
                    title=f"L3 filter {k}: top-4 images",
                ),
                f"figure4_top_conv2_{k}.png",
            )
        )
        proj, _ = kv.deconvnet_projection(model, "conv2", x[ci], k)
        figs.append(
            save(
                kv.plot_deconvnet_comparison(
                    kv.decode_filters(model, "conv2", filters=[k])[0],
                    xs[ci],
                    proj,
                    title=f"L3 filter {k}: decoded vs Zeiler & Fergus",
                ),
                f"deconvnet_conv2_{k}.png",
            )
        )
    for k in fives[:2]:
        ci, _, _ = kv.top_locations(resp5[:, None, None], int(k), 4)
        proj, _ = kv.deconvnet_projection(model, "conv3", x[ci], int(k))
        figs.append(
            save(
                kv.plot_deconvnet_comparison(
                    kv.decode_filters(model, "conv3", filters=[int(k)])[0],
                    xs[ci],
                    proj,
                    title=f"L5 filter {k}: decoded vs Zeiler & Fergus",
                ),
                f"deconvnet_conv3_{k}.png",
            )
        )
    out += ["## Figure 4 and the Zeiler & Fergus comparison\n"] + [f"- ![{p}]({p})" for p in figs] + [""]

    # Supplement: the hand-built character net.
    chars = kv.character_net()
    lines = []
    for method in METHODS:
        dfc = kv.decode_filters(chars, "conv4", unpool=method)
        fed = chars.predict(dfc / np.abs(dfc).max((1, 2, 3), keepdims=True) * 255, verbose=0).reshape(len(dfc), -1)
        own = fed.argmax(1) == np.arange(len(dfc))
        lines.append(
            f"- {method}: decoded character fed back -> its own unit is the top unit for "
            f"{own.sum()}/{len(own)} ({', '.join(c + ('✓' if o else '→' + list(CHARACTERS)[j]) for c, o, j in zip(CHARACTERS, own, fed.argmax(1)))})"
        )
    sup = save(
        kv.plot_decoded_filters(
            kv.decode_filters(chars, "conv4"), labels=list(CHARACTERS), title="character net: decoded conv4"
        ),
        "supplement_characters.png",
    )
    out += ["## Supplement: hand-built character net\n"] + lines + [f"- ![characters]({sup})", ""]
    out.append(f"Total time {time.time() - start:.0f} s.\n")
    text = "\n".join(out)
    (ROOT / "docs" / "decoding_results.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
