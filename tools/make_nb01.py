"""Writes notebooks/01_activations_and_filters.ipynb (source of truth for its cells)."""
import nbformat as nbf

cells = []
md = lambda s: cells.append(nbf.v4.new_markdown_cell(s.strip()))
def code(s, hidden=False):
    cell = nbf.v4.new_code_cell(s.strip())
    if hidden:  # a folded solution: source and output collapsed until the reader opens them
        cell.metadata["jupyter"] = {"source_hidden": True, "outputs_hidden": True}
    cells.append(cell)

md("""
# 01 · Activations and filter weights

What does a convolutional network compute on the way from pixels to a class? This notebook looks
inside **VGG16** and inside a **small CNN trained on real MNIST digits**:

1. the activation maps of every layer for one image (edges early, abstraction later, blank maps deep down);
2. statistics over a dataset: filters that never fire (*dead*) and the average percentage of zeros (APoZ);
3. the filters' weights, with a roughness score: smooth filters are a sign of a well-trained network.

Everything runs offline. Without ImageNet weights (no network), VGG16 is built untrained and every
figure says so.
""")
code("""
import numpy as np
import matplotlib.pyplot as plt
import kerasviz as kv   # before keras: it quiets TensorFlow's start-up logs
import keras\n\nkv.style("notebook");   # kerasviz figure defaults: "slides" for a projector, "paper" for print
""")
md("""
## VGG16 and a photo

`kv.load_vgg16()` downloads the ImageNet weights once (to `~/.keras/models`). Offline it raises an
error that says how to provide the file; here we then continue with an untrained network *on purpose*.
""")
code("""
try:
    vgg = kv.load_vgg16()
except kv.WeightsUnavailableError as err:
    print(str(err).splitlines()[0][:120], "...")
    vgg = kv.load_vgg16(weights=None)
label = kv.weights_label(vgg)
print("VGG16:", label)
""")
code("""
photos = np.stack([kv.sample_image(name, size=224) for name in ("cat", "coffee", "astronaut")])
x = kv.preprocess(photos)            # caffe: RGB -> BGR, minus the ImageNet mean
fig, axes = plt.subplots(1, 3, figsize=(9, 3))
for ax, photo in zip(axes, photos):
    ax.imshow(photo); ax.axis("off")
plt.show()
""")
code("""
probs = vgg.predict(x, verbose=0)
if label == "ImageNet weights":
    for name, p in zip(("cat", "coffee", "astronaut"), keras.applications.vgg16.decode_predictions(probs, top=3)):
        print(name, [(c, round(float(s), 3)) for _, c, s in p])
else:
    print("untrained: the classes are meaningless; top class per image:", probs.argmax(1))
""")
md("""
## All activations from one forward pass

`kv.activations` builds one multi-output model for every requested layer (here the 13 convolutions),
so one pass through the network yields all of them.
""")
code("""
# NBVAL_CHECK_OUTPUT
convs = kv.conv_layers(vgg)
acts = kv.activations(vgg, x, convs)
for name in convs:
    print(f"{name:14s} {acts[name].shape}")
""")
md("""
The 64 maps of `block1_conv1` for the cat: each one is a filter's response over the whole image (the title gives the
layer's own map size, and says when the tiles are drawn block-averaged to fit). In a
trained VGG16 they are edge and colour detectors, and the cat is still easy to recognise in most of them.
""")
code("""
fig = kv.plot_activations(acts, "block1_conv1", image=0, title=f"VGG16, {label}")
plt.show()
""")
md("""
Deep down, `block5_conv3` has 512 maps of 14×14. With ImageNet weights many of them are **blank**
(all zero) for a given image: the filter looks for something that is not in this picture. Blank maps are
outlined in red and counted in the title.
""")
code("""
fig = kv.plot_activations(acts, "block5_conv3", image=0, title=f"VGG16, {label}")
plt.show()
print("blank maps per image in block5_conv3:", kv.blank_maps(acts["block5_conv3"]).sum(axis=1))
""")
md("""
### Explore

Pick a layer, an image and a channel. The explorer runs one forward pass per image and caches it, so
moving the sliders only redraws. (Widgets need a live kernel; the static figures above show the same.)
""")
code("""
kv.widgets.ActivationExplorer(vgg, x, display=photos, layers=convs)
""")
md("""
## Filter weights

The first layer's filters act on colour pixels, so they can be drawn as small colour patches (VGG16's
inputs are BGR; `plot_filters` flips them back). Under each patch: its **roughness**, the mean squared
difference between neighbouring weights relative to their energy; white noise scores 1, smooth filters
much less.
""")
code("""
fig = kv.plot_filters(vgg, "block1_conv1")
plt.show()
""")
md("""
Deeper filters have hundreds of input channels. The summary shows which inputs each filter uses (norm
of each 3×3 slice) and the distribution of roughness.
""")
code("""
fig = kv.plot_filters(vgg, "block3_conv1", mode="summary")
plt.show()
""")
code("""
kv.widgets.FilterExplorer(vgg)
""")
md("""
## A small CNN trained on real MNIST digits

`kv.load_mnist()` loads MNIST through Keras (or from the file named by `$KERASVIZ_MNIST`). We train a
small CNN for a few epochs and look at the same views on a network whose weights *are* trained.
""")
code("""
(x_train, y_train), (x_test, y_test) = kv.load_mnist()
x_train, x_test = x_train[..., None] / 255.0, x_test[..., None] / 255.0

keras.utils.set_random_seed(0)
cnn = keras.Sequential([
    keras.Input((28, 28, 1)),
    keras.layers.Conv2D(16, 5, activation="relu", name="conv1"),
    keras.layers.MaxPooling2D(name="pool1"),
    keras.layers.Conv2D(32, 3, activation="relu", name="conv2"),
    keras.layers.MaxPooling2D(name="pool2"),
    keras.layers.Flatten(),
    keras.layers.Dense(10, activation="softmax", name="head"),
], name="mnist_cnn")
roughness_at_init = np.median(kv.filter_roughness(kv.filter_weights(cnn, "conv1")))
cnn.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
epochs = kv.max_steps(4, quick=1)   # fewer epochs in quick mode (KERASVIZ_QUICK=1)
cnn.fit(x_train, y_train, epochs=epochs, batch_size=128, verbose=0)
accuracy = cnn.evaluate(x_test, y_test, verbose=0)[1]
print(f"trained {epochs} epoch(s) on {len(x_train)} digits: test accuracy {accuracy:.3f}")
""")
code("""
digit_acts = kv.activations(cnn, x_test[:1])
fig, axes = plt.subplots(1, 1, figsize=(2, 2)); axes.imshow(x_test[0, ..., 0], cmap="gray"); axes.axis("off"); plt.show()
fig = kv.plot_activations(digit_acts, "conv1", title="MNIST CNN, trained")
plt.show()
""")
md("""
### Dead filters over a dataset

`kv.activation_summary` streams the test set through the network and keeps, per channel, the fraction
of zeros (APoZ) and whether the channel ever fired. Filters that never fire on any image are dead
weight (orange outline).
""")
code("""
summary = kv.activation_summary(cnn, "conv2", x_test)
print(f"{summary.count} images; never-active filters: {summary.never_active.tolist()}; "
      f"median APoZ {np.median(summary.apoz):.2f}")
fig = kv.plot_activations(digit_acts, "conv2", summary=summary, title="MNIST CNN, trained")
plt.show()
""")
md("""
### Smooth filters after training

Trained first-layer filters are smooth; noisy ones hint at too little training (Karpathy, Johnson et al.,
*CS231n: Convolutional Neural Networks for Visual Recognition*, "Visualizing what ConvNets learn").
""")
code("""
roughness = kv.filter_roughness(kv.filter_weights(cnn, "conv1"))
print(f"median roughness of conv1: {roughness_at_init:.2f} at initialisation -> {np.median(roughness):.2f} trained")
fig = kv.plot_filters(cnn, "conv1", title="MNIST CNN conv1, trained")
plt.show()
""")
md("""
### Exercise: find a dead filter

Which filters of VGG16's `block5_conv3` never fire (output ≤ 0 everywhere) on the three photos? Draw the map of
one of them next to the cat. Is such a filter dead? What would convince you? The solution is folded in the cell
below (click the bar on its left in JupyterLab to open it).
""")
code("""
# Solution
silent = kv.activation_summary(vgg, "block5_conv3", x, progress=False).never_active
print(f"{len(silent)} of {acts['block5_conv3'].shape[-1]} block5_conv3 filters never fire on these "
      f"{len(x)} photos; the first few: {silent[:8].tolist()}")
if len(silent):
    kv.plot_channel(photos[0], acts["block5_conv3"][0], int(silent[0]), layer="block5_conv3")
    plt.show()
# Silent on three photos is only a candidate. A filter is dead when it is silent on *every* input it will see:
# stream a large, varied dataset through kv.activation_summary (or kv.dead_filters) before pruning it.
""", hidden=True)
nb = nbf.v4.new_notebook(cells=cells, metadata={"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}, "language_info": {"name": "python"}})
nbf.write(nb, "notebooks/01_activations_and_filters.ipynb")
