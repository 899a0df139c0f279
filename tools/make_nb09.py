"""Writes notebooks/09_your_own_model.ipynb (source of truth for its cells).

    python tools/make_nb09.py
    KERASVIZ_MNIST=path/to/mnist.npz jupyter nbconvert --to notebook --execute --inplace notebooks/09_your_own_model.ipynb
    python tools/clean_notebook.py notebooks/09_your_own_model.ipynb
"""
import nbformat as nbf

cells = []
md = lambda s: cells.append(nbf.v4.new_markdown_cell(s.strip()))
code = lambda s: cells.append(nbf.v4.new_code_cell(s.strip()))

md("""
# 09 · Your own model

The other notebooks use VGG16 and LeNet. Your model is probably neither. This notebook runs the same five views
(activations, saliency and integrated gradients, Grad-CAM, occlusion, LRP) on three kinds of model people bring:

1. a classifier **saved by Keras 2 as `.h5`** and loaded with `keras.models.load_model`;
2. a **multi-input** model: an image plus a vector of metadata;
3. a **1-D signal** classifier (`Conv1D` over time).

Each model is trained here for a few seconds so the maps mean something. The calls are the same as for VGG16; what
changes is said at each step. The README's "Compatibility" section lists what works on each kind of model.
""")
code("""
import logging
import os
import tempfile

import numpy as np
import matplotlib.pyplot as plt
import kerasviz as kv   # before keras: it quiets TensorFlow's start-up logs
import keras

(x_train, y_train), (x_test, y_test) = kv.load_mnist()
x_train = (x_train[..., None] / 255.0).astype("float32")
x_test = (x_test[..., None] / 255.0).astype("float32")
epochs = kv.max_steps(2, quick=1)
""")
md("""
## 1 · A Keras 2 `.h5` classifier

Older projects (an emotion classifier from a tutorial, a model from a paper's repository) ship a `.h5` file written
by Keras 2. Keras 3 still loads it. Here we write one ourselves in the same format (a small CNN with batch
normalization, a separable convolution and dropout, as such models often have), then load it back as you would load
yours: `keras.models.load_model(path, compile=False)`.
""")
code("""
keras.utils.set_random_seed(0)
original = keras.Sequential([
    keras.Input((28, 28, 1)),
    keras.layers.Conv2D(16, 3, activation="relu", name="conv1"),
    keras.layers.BatchNormalization(name="bn1"),
    keras.layers.SeparableConv2D(32, 3, activation="relu", name="sep2"),
    keras.layers.MaxPooling2D(name="pool2"),
    keras.layers.Dropout(0.25),
    keras.layers.Flatten(),
    keras.layers.Dense(10, activation="softmax", name="head"),
], name="legacy_cnn")
original.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
original.fit(x_train, y_train, epochs=epochs, batch_size=64, verbose=0)

folder = tempfile.mkdtemp()
path = os.path.join(folder, "digits.h5")
absl = logging.getLogger("absl")
level = absl.level
absl.setLevel(logging.ERROR)     # Keras 3 warns that .h5 is a legacy format: writing one is the point here
try:
    original.save(path)          # the HDF5 format of Keras 2
finally:
    absl.setLevel(level)
model = keras.models.load_model(path, compile=False)  # how you load yours
kv.set_weights_label(model, "loaded from a Keras 2 .h5 file")
print(f"loaded {model.name}: {len(model.layers)} layers, test accuracy "
      f"{(model.predict(x_test, verbose=0).argmax(1) == y_test).mean():.3f}")
""")
md("""
The five views. The model ends in a softmax; kerasviz reads class scores on the logits (on a copy, never on your
model), so the maps explain the logit of the predicted class.
""")
code("""
digit = x_test[0]
layers = kv.conv_layers(model)
acts = kv.activations(model, digit[None], layers)
kv.plot_activations(acts, "sep2", title=f"sep2 ({kv.weights_label(model)})")
plt.show()
maps = {
    "saliency": kv.saliency(model, digit),
    "integrated gradients": kv.integrated_gradients(model, digit, progress=False).attributions,
    "Grad-CAM (sep2)": kv.grad_cam(model, digit, layer="sep2"),
    "occlusion": kv.occlusion(model, digit, patch=6, stride=2, progress=False),
    "LRP-ε": kv.lrp(model, digit, rule="epsilon", progress=False),
}
kv.plot_attribution_grid(digit, maps, title=f"digit {y_test[0]}, {kv.weights_label(model)}", cols=3)
""")
md("""
## 2 · An image plus metadata

Many real models take side information with the image (a patient's age, a sensor's setting). Pass what
`model.predict` takes: a list with one array per input (or a dict by input name). kerasviz explains the image input
(the first input of highest rank, or the one you name with `input=`) and holds the other inputs fixed, one row per
image. Here the metadata is the digit's ink (its mean brightness) and a random number the model should learn to
ignore.
""")
code("""
def metadata(images, seed):
    ink = images.mean(axis=(1, 2, 3))
    noise = np.random.default_rng(seed).normal(size=len(images))
    return np.stack([ink * 10, noise], axis=1).astype("float32")

keras.utils.set_random_seed(0)
image_in, meta_in = keras.Input((28, 28, 1), name="image"), keras.Input((2,), name="meta")
h = keras.layers.Conv2D(16, 3, activation="relu", name="conv1")(image_in)
h = keras.layers.MaxPooling2D(name="pool1")(h)
h = keras.layers.Conv2D(32, 3, activation="relu", name="conv2")(h)
h = keras.layers.Flatten(name="flat")(h)
h = keras.layers.Concatenate(name="merge")([h, keras.layers.Dense(8, activation="relu", name="meta_dense")(meta_in)])
two_inputs = keras.Model([image_in, meta_in], keras.layers.Dense(10, name="logits")(h), name="image_and_meta")
two_inputs.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
two_inputs.fit([x_train, metadata(x_train, 1)], y_train, epochs=epochs, batch_size=64, verbose=0)
kv.set_weights_label(two_inputs, "trained on MNIST + metadata")
pair = [x_test[:4], metadata(x_test[:4], 2)]
print(f"test accuracy {two_inputs.evaluate([x_test, metadata(x_test, 2)], y_test, verbose=0)[1]:.3f}")
""")
code("""
acts = kv.activations(two_inputs, pair, ["conv2"])          # layers of the image branch need only the image
maps = {
    "saliency": kv.saliency(two_inputs, pair),
    "integrated gradients": kv.integrated_gradients(two_inputs, pair, input="image", progress=False).attributions,
    "Grad-CAM": kv.grad_cam(two_inputs, pair, layer="conv2"),
    "occlusion": kv.occlusion(two_inputs, pair, patch=6, stride=2, progress=False),
    "LRP-ε": kv.lrp(two_inputs, pair, rule="epsilon", progress=False),
}
print(f"conv2 activations {acts['conv2'].shape}; every map is over the image: "
      + ", ".join(f"{name} {np.shape(m)}" for name, m in maps.items()))
kv.plot_attribution_grid(x_test[0], {name: m[0] for name, m in maps.items()}, cols=3,
                         title=f"image input of a two-input model ({kv.weights_label(two_inputs)})")
""")
md("""
## 3 · A 1-D signal classifier

Signals are `(T, C)` (time steps × channels) and a batch is `(N, T, C)`. The maps follow the time axis: one value per
time step (and channel). We make three kinds of noisy signal (a sine, a square wave, a burst in the middle) and train
a small `Conv1D` network to tell them apart.
""")
code("""
def signals(n, seed, length=128):
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, length)
    labels = rng.integers(0, 3, n)
    freq = rng.uniform(3, 6, n)[:, None]
    waves = np.stack([np.sin(2 * np.pi * freq * t), np.sign(np.sin(2 * np.pi * freq * t)),
                      np.exp(-((t - 0.5) / 0.05) ** 2) * np.sin(2 * np.pi * 20 * t) * np.ones_like(freq)], 1)
    x = waves[np.arange(n), labels] + rng.normal(0, 0.3, (n, length))
    return x[..., None].astype("float32"), labels

s_train, l_train = signals(3000, 0)
s_test, l_test = signals(300, 1)
keras.utils.set_random_seed(0)
signal_model = keras.Sequential([
    keras.Input((128, 1)),
    keras.layers.Conv1D(8, 7, activation="relu", padding="same", name="conv1"), keras.layers.MaxPooling1D(2),
    keras.layers.Conv1D(16, 5, activation="relu", padding="same", name="conv2"), keras.layers.GlobalMaxPooling1D(),
    keras.layers.Dense(3, name="logits"),
], name="signals")
signal_model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
signal_model.fit(s_train, l_train, epochs=kv.max_steps(5, quick=1), batch_size=64, verbose=0)
kv.set_weights_label(signal_model, "trained on synthetic signals")
print(f"test accuracy {signal_model.evaluate(s_test, l_test, verbose=0)[1]:.3f}")
""")
code("""
burst = s_test[np.flatnonzero(l_test == 2)[0]]          # a burst in the middle of noise
acts = kv.activations(signal_model, burst[None], ["conv2"])["conv2"][0]
kv.plot_signal_activations(acts, signal=burst, title="conv2 over time, a burst signal")
plt.show()
maps = {
    "saliency": kv.saliency(signal_model, burst),
    "integrated gradients": kv.integrated_gradients(signal_model, burst, progress=False).attributions,
    "Grad-CAM": kv.grad_cam(signal_model, burst, layer="conv2"),
    "occlusion": kv.occlusion(signal_model, burst, patch=16, stride=4, progress=False),
    "LRP-ε": kv.lrp(signal_model, burst, rule="epsilon", progress=False),
}
kv.plot_signal_attribution(burst, maps, title=f"why 'burst'? ({kv.weights_label(signal_model)})")
plt.show()
middle = slice(48, 80)
share = {name: float(np.abs(m)[middle].sum() / np.abs(m).sum()) for name, m in maps.items()}
print("share of each map in the middle quarter of the signal, where the burst is: "
      + ", ".join(f"{name} {value:.0%}" for name, value in share.items()))
""")
md("""
## What does not work (yet), and says so

- Feature visualization and top-k need an image-like input: on a signal model they raise a clear error.
- Subclassed models (`class MyModel(keras.Model)` with a `call` method) have no graph to look inside: gradient,
  saliency, SmoothGrad, integrated gradients, occlusion and the deletion curves work; the rest asks for a functional
  rebuild.
- A multi-output model needs `output=` (index or name) in every call that takes a target.
""")
code("""
try:
    kv.visualize_filters(signal_model, "conv2", filters=[0], progress=False)
except kv.KerasvizError as err:
    print(type(err).__name__ + ":", str(err).splitlines()[0])
""")
nb = nbf.v4.new_notebook(cells=cells, metadata={
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python"}})
nbf.write(nb, "notebooks/09_your_own_model.ipynb")
