"""Regenerate the README's activation/filter pictures (real MNIST digits, untrained VGG16 offline).

    KERASVIZ_MNIST=path/to/mnist.npz python tools/gallery_activations.py
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras  # noqa: E402
import numpy as np  # noqa: E402

import kerasviz as kv  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "docs", "img")


def save(fig, name):
    fig.savefig(os.path.join(OUT, name), dpi=80, bbox_inches="tight")
    print("wrote docs/img/" + name)


try:
    vgg = kv.load_vgg16()
except kv.WeightsUnavailableError:
    vgg = kv.load_vgg16(weights=None)
cat = kv.preprocess(kv.sample_image("cat", size=224))
acts = kv.activations(vgg, cat, ["block1_conv1", "block5_conv3"])
tag = "untrained" if "untrained" in kv.weights_label(vgg) else "imagenet"
save(kv.plot_activations(acts, "block1_conv1", max_maps=32, title=f"VGG16, {kv.weights_label(vgg)}"), f"vgg16_{tag}_block1_conv1_cat.png")

(x, y), (xt, yt) = kv.load_mnist()
x, xt = x[..., None] / 255.0, xt[..., None] / 255.0
keras.utils.set_random_seed(0)
cnn = keras.Sequential([
    keras.Input((28, 28, 1)),
    keras.layers.Conv2D(16, 5, activation="relu", name="conv1"), keras.layers.MaxPooling2D(name="pool1"),
    keras.layers.Conv2D(32, 3, activation="relu", name="conv2"), keras.layers.MaxPooling2D(name="pool2"),
    keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax"),
], name="mnist_cnn")
cnn.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
cnn.fit(x, y, epochs=4, batch_size=128, verbose=0)
acc = cnn.evaluate(xt, yt, verbose=0)[1]
summary = kv.activation_summary(cnn, "conv2", xt, progress=False)
label = f"small CNN, 4 epochs on 8,000 real MNIST digits, test acc {acc:.3f}"
save(kv.plot_activations(kv.activations(cnn, xt[:1]), "conv2", summary=summary, title=label), "mnist_cnn_conv2_summary.png")
save(kv.plot_filters(cnn, "conv1", title=label), "mnist_cnn_conv1_filters.png")
print(f"test accuracy {acc:.4f}; median APoZ conv2 {np.median(summary.apoz):.3f}; never active {summary.never_active.tolist()}")
