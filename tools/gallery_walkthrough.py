"""Regenerate the README's walkthrough gallery: VGG16 on the cat and a small CNN on real MNIST digits.

    KERASVIZ_MNIST=path/to/mnist.npz python tools/gallery_walkthrough.py [vgg16] [mnist]

Writes PNGs to docs/img/walkthrough/. VGG16 uses ImageNet weights when they can be had and is built
untrained otherwise; every title says which. The MNIST CNN is trained here, in seconds, on the real
digits, so its pictures show learned structure.
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import kerasviz as kv  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "img", "walkthrough")
DPI = 80
BLOCK_LAYERS = ["block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3", "block5_conv3"]


def save(fig, name):
    """Save as a 256-colour PNG: noisy maps and photos otherwise make the README heavy."""
    from PIL import Image

    path = os.path.join(OUT, name)
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    Image.open(path).convert("RGB").quantize(256).save(path, optimize=True)
    print(f"wrote docs/img/walkthrough/{name} ({os.path.getsize(path) // 1000} kB)")


def load_vgg():
    try:
        vgg = kv.load_vgg16()
    except kv.WeightsUnavailableError:
        vgg = kv.load_vgg16(weights=None)
    trained = kv.weights_label(vgg) == "ImageNet weights"
    base = kv.load_vgg16(weights=None, include_top=False)
    base.set_weights(vgg.get_weights()[: len(base.weights)])
    kv.set_weights_label(base, kv.weights_label(vgg))
    return vgg, base, "VGG16, ImageNet weights" if trained else "VGG16, untrained (offline)"


def activations_per_block(vgg, cat, how, maps_per_row=8):
    """The cat, then one row per block: its most active maps, and the share of blank maps."""
    acts = kv.activations(vgg, kv.preprocess(cat), BLOCK_LAYERS)
    fig, axes = plt.subplots(len(BLOCK_LAYERS), maps_per_row + 1, figsize=(1.3 * (maps_per_row + 1), 1.4 * len(BLOCK_LAYERS)))
    for row, layer in zip(axes, BLOCK_LAYERS):
        maps = acts[layer][0]
        blank = kv.blank_maps(maps).mean()
        row[0].imshow(cat)
        row[0].set_title(f"{layer}\n{maps.shape[0]}x{maps.shape[1]}x{maps.shape[2]}, {blank:.0%} blank", fontsize=7)
        for ax, c in zip(row[1:], np.argsort(-maps.mean(axis=(0, 1)))[:maps_per_row]):
            ax.imshow(maps[..., c], cmap="viridis")
            ax.set_title(f"ch {c}", fontsize=6)
        for ax in row:
            ax.axis("off")
    fig.suptitle(f"Activations per block on the cat, most active channels ({how})", fontsize=10)
    fig.tight_layout()
    return fig


def filter_maximization_rows(base, how, count=5):
    """One row per block: `count` filters' maximizing images (Fourier parameterization, 256 steps)."""
    fig, axes = plt.subplots(len(BLOCK_LAYERS), count, figsize=(1.5 * count, 1.6 * len(BLOCK_LAYERS)))
    for row, layer in zip(axes, BLOCK_LAYERS):
        result = kv.visualize_filters(base, layer, filters=range(count), steps=256, size=96, progress=False)
        for ax, image, f, score in zip(row, result.images, result.filters, result.scores):
            ax.imshow(image)
            ax.set_title(f"{layer} f{f}\nscore {score:.2g}", fontsize=6)
            ax.axis("off")
    fig.suptitle(f"Filter maximization per block, 256 steps ({how})", fontsize=10)
    fig.tight_layout()
    return fig


def train_mnist_cnn():
    (x, y), (xt, yt) = kv.load_mnist()
    x, xt = (x[..., None] / 255.0).astype("float32"), (xt[..., None] / 255.0).astype("float32")
    keras.utils.set_random_seed(0)
    cnn = keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(16, 3, activation="relu", padding="same", name="conv1"), keras.layers.MaxPooling2D(name="pool1"),
        keras.layers.Conv2D(32, 3, activation="relu", padding="same", name="conv2"), keras.layers.MaxPooling2D(name="pool2"),
        keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax", name="head"),
    ], name="mnist_cnn")
    cnn.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    cnn.fit(x, y, epochs=2, batch_size=64, verbose=0)
    accuracy = cnn.evaluate(xt, yt, verbose=0)[1]
    how = f"small CNN trained 2 epochs on {len(x):,} real MNIST digits, test accuracy {accuracy:.3f}"
    kv.set_weights_label(cnn, how)
    return cnn, xt, yt, how


def digit_attributions(cnn, digits, how):
    """Rows: digits; columns: the digit, saliency, SmoothGrad, integrated gradients (black baseline)."""
    maps = {
        "saliency": kv.saliency(cnn, digits),
        "SmoothGrad": kv.smoothgrad(cnn, digits, reduce="max_abs", samples=32, progress=False),
        "integrated gradients": kv.integrated_gradients(cnn, digits, steps=64, progress=False).attributions,
    }
    predicted = cnn.predict(digits, verbose=0).argmax(1)
    fig, axes = plt.subplots(len(digits), len(maps) + 1, figsize=(1.7 * (len(maps) + 1), 1.7 * len(digits)))
    for i, row in enumerate(axes):
        row[0].imshow(digits[i, ..., 0], cmap="gray")
        row[0].set_title(f"test digit, predicted {predicted[i]} (correct)", fontsize=7)
        row[0].axis("off")
        for ax, (name, m) in zip(row[1:], maps.items()):
            kv.overlay_heatmap(ax, digits[i, ..., 0], m[i], title=name if i == 0 else None)
            ax.title.set_fontsize(7)
    fig.suptitle(how, fontsize=9)
    fig.tight_layout()
    return fig


def main(parts):
    os.makedirs(OUT, exist_ok=True)
    if "vgg16" in parts:
        vgg16_gallery()
    if "mnist" in parts:
        mnist_gallery()


def vgg16_gallery():
    vgg, base, how = load_vgg()
    cat = kv.sample_image("cat", size=224)
    x = kv.preprocess(cat)
    save(activations_per_block(vgg, cat, how), "vgg16_activations_per_block.png")
    cat_maps = {
        "saliency": kv.saliency(vgg, x),
        "integrated gradients": kv.integrated_gradients(vgg, x, baseline=kv.preprocess(np.zeros_like(cat)), steps=32, progress=False).attributions,
        "Grad-CAM": kv.grad_cam(vgg, x),
    }
    save(kv.plot_attribution_grid(cat, cat_maps, title=f"{how}: the cat, predicted class"), "vgg16_attribution_cat.png")
    save(filter_maximization_rows(base, how), "vgg16_filter_maximization.png")


def mnist_gallery():
    cnn, xt, yt, how = train_mnist_cnn()
    right = cnn.predict(xt, verbose=0).argmax(1) == yt
    digits = np.concatenate([xt[(yt == d) & right][:1] for d in (0, 2, 7, 9)])   # correctly classified examples
    save(kv.plot_activations(kv.activations(cnn, digits[2:3]), "conv1", title=how), "mnist_cnn_activations_conv1.png")
    features = kv.visualize_filters(cnn, "conv2", steps=256, size=28, progress=False, sort=True)
    save(kv.plot_filter_grid(features, cols=8, title=f"conv2 filter maximization, 256 steps\n{how}"), "mnist_cnn_filter_maximization.png")
    save(digit_attributions(cnn, digits, how), "mnist_cnn_saliency_ig.png")


if __name__ == "__main__":
    main(sys.argv[1:] or ["vgg16", "mnist"])
