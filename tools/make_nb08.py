"""Writes notebooks/08_concepts.ipynb (source of truth for its cells).

    python tools/make_nb08.py
    KERASVIZ_MNIST=path/to/mnist.npz jupyter nbconvert --to notebook --execute --inplace notebooks/08_concepts.ipynb
    python tools/clean_notebook.py notebooks/08_concepts.ipynb
"""
import nbformat as nbf

cells = []
md = lambda s: cells.append(nbf.v4.new_markdown_cell(s.strip()))
code = lambda s: cells.append(nbf.v4.new_code_cell(s.strip()))

md("""
# 08 · Concepts: what has a layer learned, in human terms?

The earlier notebooks look at one filter at a time. Concept methods ask about *ideas* a person can name
("a ring", "a horizontal bar") or let the data propose them:

1. **CAV and TCAV** (Kim et al. 2018, *Interpretability Beyond Feature Attribution: Testing with Concept
   Activation Vectors*): a direction in a layer's activations that separates a concept's images from random ones,
   and how often a class's logit rises along it;
2. **NMF concepts** (Collins et al. 2018, *Deep Feature Factorization for Concept Discovery*; Fel et al. 2023,
   *CRAFT*): the layer's activations factorised into a few non-negative parts, each with a heatmap and patches;
3. **CRP** (Achtibat et al. 2023, *From attribution maps to human-understandable explanations through Concept
   Relevance Propagation*): the LRP heatmap split by channel, and **relevance maximization**, the reference
   patches of a channel ranked by the relevance it carries instead of its activation;
4. **the activation atlas** (Carter et al. 2019, *Activation Atlas*) and **caricatures**: feature visualization of
   the typical activation directions of a layer, and of one image's own activation pattern.

Every invariant these methods promise is printed by a cell, so you can see it hold. First on a small CNN
trained here on real MNIST digits, then briefly on VGG16.
""")
code("""
import numpy as np
import matplotlib.pyplot as plt
import kerasviz as kv   # before keras: it quiets TensorFlow's start-up logs
import keras
from IPython.display import display
""")
md("""
## 1 · A small CNN trained on MNIST

Two convolutions and a linear head, trained for two epochs (seconds on a CPU). The concept methods read its
`conv2` layer.
""")
code("""
(x_train, y_train), (x_test, y_test) = kv.load_mnist()
x_train = (x_train[..., None] / 255.0).astype("float32")
x_test = (x_test[..., None] / 255.0).astype("float32")
keras.utils.set_random_seed(0)
cnn = keras.Sequential([
    keras.Input((28, 28, 1)),
    keras.layers.Conv2D(16, 3, activation="relu", padding="same", name="conv1"), keras.layers.MaxPooling2D(name="pool1"),
    keras.layers.Conv2D(32, 3, activation="relu", padding="same", name="conv2"), keras.layers.MaxPooling2D(name="pool2"),
    keras.layers.Flatten(), keras.layers.Dense(10, name="logits"),
], name="mnist_cnn")
cnn.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
cnn.fit(x_train, y_train, epochs=kv.max_steps(2, quick=1), batch_size=64, verbose=0)
accuracy = cnn.evaluate(x_test, y_test, verbose=0)[1]
how = f"small CNN trained on MNIST, test accuracy {accuracy:.3f}"
kv.set_weights_label(cnn, how)
print(how)
""")
md("""
## 2 · TCAV: does the class use a concept?

A concept is a set of images. Here we draw three: horizontal bars, vertical bars and rings, white on black like the
digits. `kv.cav` trains a linear classifier on `conv2`'s activations to separate the concept from random test
digits; its unit normal is the **concept activation vector**. `kv.tcav` then counts, for images of one class,
the fraction whose logit *rises* when the activations move along the CAV (the TCAV score), repeats this against
several disjoint random sets, and t-tests the scores against random-vs-random runs: a concept is significant only
when it beats chance.
""")
code("""
def strokes(kind, n, rng):
    out = np.zeros((n, 28, 28, 1), "float32")
    rows, cols = np.mgrid[:28, :28]
    for i in range(n):
        width = rng.integers(2, 4)
        if kind == "horizontal bar":
            r, c0, c1 = rng.integers(4, 24), rng.integers(2, 8), rng.integers(18, 26)
            out[i, r:r + width, c0:c1] = 1
        elif kind == "vertical bar":
            c, r0, r1 = rng.integers(4, 24), rng.integers(2, 8), rng.integers(18, 26)
            out[i, r0:r1, c:c + width] = 1
        else:
            cy, cx, radius = rng.uniform(11, 17), rng.uniform(11, 17), rng.uniform(5, 9)
            out[i, ..., 0] = np.abs(np.hypot(rows - cy, cols - cx) - radius) < width / 2 + 0.5
    return out

rng = np.random.default_rng(0)
concepts = {kind: strokes(kind, 40, rng) for kind in ("horizontal bar", "vertical bar", "ring")}
pool = x_test[rng.permutation(len(x_test))[:600]]          # random images: test digits of every class
ring_cav = kv.cav(cnn, "conv2", concepts["ring"], pool[:40], progress=False)
print(f"ring CAV: held-out accuracy {ring_cav.accuracy:.2f} (0.5 is chance)")
""")
code("""
fig, axes = plt.subplots(1, 3, figsize=(11, 3.4), sharey=True)
results = {}
for ax, digit in zip(axes, (0, 1, 7)):
    results[digit] = kv.tcav(cnn, "conv2", concepts, x_test[y_test == digit][:100], digit, random_images=pool,
                             random_sets=kv.max_steps(10, quick=4), progress=False)
    kv.plot_tcav(results[digit], ax=ax, title=f"digit {digit}")
fig.suptitle(f"TCAV at conv2 ({how})", fontsize=9)
plt.show()
for digit, r in results.items():
    print(f"digit {digit}: " + "; ".join(f"{c} {s:.2f} (p={p:.3f}{', significant' if ok else ''})"
                                         for c, s, p, ok in zip(r.concepts, r.score, r.p_value, r.significant))
          + f"; random-vs-random mean {r.random_scores.mean():.2f}")
""")
md("""
*Look for:* a ring should matter for 0 and not for 1; a vertical bar for 1. *Pitfall:* a TCAV score is only
meaningful with its test: a middling score from a CAV that is no better than chance is noise. The hatched "n.s."
bars are the ones the t-test rejected.

## 3 · NMF concepts: let the data propose the concepts

`kv.nmf_concepts` factorises the post-ReLU `conv2` activations of the sevens into k non-negative parts. Each concept
has a direction over the channels, a heatmap per image, its top patches, and its importance for the class
(gradient × coefficient). The heatmaps are non-negative, and more concepts reconstruct the activations better:
""")
code("""
sevens = x_test[y_test == 7]
errors = {k: kv.nmf_concepts(cnn, "conv2", sevens, k, importance=False, progress=False).reconstruction_error
          for k in (2, 4, 8)}
print("relative reconstruction error by number of concepts: "
      + ", ".join(f"k={k}: {e:.3f}" for k, e in errors.items()))
print(f"falls as k grows: {all(a > b for a, b in zip(list(errors.values()), list(errors.values())[1:]))}")
""")
code("""
nmf = kv.nmf_concepts(cnn, "conv2", sevens, 6, target=7, progress=False)
heat = nmf.maps(sevens[:4])
print(f"heatmaps {heat.shape}: smallest value {heat.min():.3g} (non-negative); "
      f"importance for class 7 per concept: {[round(float(v), 2) for v in nmf.importance]}")
kv.plot_nmf_concepts(nmf, images=sevens[:4], title=f"NMF concepts of conv2 on the sevens ({how})")
plt.show()
kv.plot_nmf_concepts(nmf, top=8, title="each concept's top patches")
plt.show()
""")
md("""
## 4 · CRP: how much of the decision flows through each channel?

LRP (notebook 06) divides a logit among the pixels. CRP stops at a layer, keeps the relevance of chosen channels
only, and carries on down: one **conditional heatmap** per channel. Two invariants: the conditional heatmaps of
all channels of the layer add up to the plain LRP heatmap, and each one sums to its channel's relevance.
""")
code("""
three = x_test[[np.flatnonzero(y_test == d)[0] for d in (0, 4, 7)]]
every = kv.crp(cnn, three, layer="conv2", filters=np.arange(32), rule="epsilon", progress=False)
plain = kv.lrp(cnn, three, rule="epsilon", progress=False)
summed = every.heatmaps.sum(axis=1)
print(f"sum of the 32 conditional heatmaps vs kv.lrp: largest difference "
      f"{np.abs(summed - plain).max():.1e} (the heatmap's largest value {np.abs(plain).max():.1e})")
per_channel = every.heatmaps.reshape(len(three), 32, -1).sum(-1)
print(f"each heatmap sums to its channel's relevance: largest difference "
      f"{np.abs(per_channel - every.filter_relevance).max():.1e}")
""")
code("""
top = kv.crp(cnn, three, layer="conv2", top=4, rule="epsilon", progress=False)
kv.plot_crp(top, three, title=f"CRP at conv2: the 4 most relevant channels per digit ({how})")
plt.show()
""")
md("""
**Relevance maximization** ranks a channel's reference patches by the relevance it carries for the image's own
label, where `kv.top_activating` ranks them by activation: what the channel is *used for* rather than what
excites it. Left: by activation; right: by relevance.
""")
code("""
data = (x_test[:1000], y_test[:1000])
relevant = kv.relevance_maximization(cnn, "conv2", data, k=8, target="labels", progress=False)
active = kv.top_activating(cnn, "conv2", x_test[:1000], k=8, progress=False)
channels = np.argsort(-np.abs(top.relevance).sum(0))[:4]
kv.plot_relevance_maximization(relevant, filters=channels, activating=active,
                               title="conv2 channels: top patches by activation vs by relevance")
plt.show()
same = [len(set(relevant.indices[c]) & set(active.indices[c])) for c in channels]
print(f"images shared by the two top-8 lists, per channel {channels.tolist()}: {same}")
""")
md("""
## 5 · Activation atlas and caricatures

The atlas samples `conv2` activation vectors over many digits, lays them out in 2-D, averages each grid cell and
renders that average direction by feature visualization. A caricature maximises one image's own activation pattern
at the layer: it exaggerates what the layer sees in it. Each figure is drawn only if every icon's objective rose
above its starting value.
""")
code("""
atlas = kv.activation_atlas(cnn, "conv2", x_test[:1000], grid=6, progress=False)
rose = int((atlas.scores > atlas.initial_scores).sum())
print(f"{len(atlas.icons)} icons; objective above its start for {rose} of {len(atlas.icons)}")
if rose == len(atlas.icons):
    display(kv.plot_activation_atlas(atlas))
""")
code("""
faces = x_test[[np.flatnonzero(y_test == d)[0] for d in (0, 2, 3, 5, 7, 9)]]
drawn = kv.caricature(cnn, "conv2", faces, progress=False)
rose = int((drawn.scores > drawn.initial_scores).sum())
print(f"caricature objective above its start for {rose} of {len(faces)} images; "
      f"cosine with the photo's activations {[round(float(v), 2) for v in drawn.similarity]}")
if rose == len(faces):
    display(kv.plot_caricature(drawn, faces))
""")
md("""
## 6 · VGG16 (untrained here)

The same calls work on VGG16. Offline, its ImageNet weights cannot be downloaded, so this part uses an
**untrained** VGG16 (seeded, the same on every machine) and every title says so: the numbers show the invariants
hold on a deep network, not what VGG16 learned.
""")
code("""
try:
    vgg = kv.load_vgg16()
except kv.WeightsUnavailableError:
    vgg = kv.load_vgg16(weights=None)
label = kv.weights_label(vgg)
cat = kv.sample_image("cat", size=224)
x_cat = kv.preprocess(cat)
vgg_crp = kv.crp(vgg, x_cat[None], layer="block5_conv3", top=4, rule="epsilon", progress=False)
print(f"VGG16 ({label}): the four most relevant block5_conv3 channels {vgg_crp.filters[0].tolist()} carry "
      f"{vgg_crp.share[0][vgg_crp.filters[0]].sum():.0%} of the layer's |relevance|")
kv.plot_crp(vgg_crp, x_cat[None], display=kv.deprocess, title=f"CRP at block5_conv3, VGG16 ({label})")
plt.show()
""")
code("""
base = kv.load_vgg16(weights=None, include_top=False, input_shape=(128, 128, 3))
base.set_weights(vgg.get_weights()[: len(base.weights)])
kv.set_weights_label(base, label)
photos, names = kv.load_image_folder(None, size=128)
vgg_nmf = kv.nmf_concepts(base, "block4_conv3", kv.preprocess(photos), 4, importance=False, progress=False)
print(f"VGG16 ({label}) block4_conv3, 4 concepts over {len(photos)} photos: "
      f"relative reconstruction error {vgg_nmf.reconstruction_error:.3f}")
kv.plot_nmf_concepts(vgg_nmf, images=kv.preprocess(photos[:3]), display=kv.deprocess,
                     title=f"NMF concepts of block4_conv3, VGG16 ({label})")
plt.show()
""")
md("""
## Where next

- The Explorer's **Concepts** tab (notebook 07) has all of these behind a few controls.
- On your own model (notebook 09): any layer with a spatial output works; TCAV and CRP need a class logit.
""")
nb = nbf.v4.new_notebook(cells=cells, metadata={
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python"}})
nbf.write(nb, "notebooks/08_concepts.ipynb")
